"""Property-based tests around the band edges: Hypothesis draws customers on and next to every
boundary of SPEC, and the mart's SQL (compiled by dbt for the as-of date) must give exactly what the
independent implementation gives.

The project is built once per as-of date; each example then replaces the raw rows and runs the
mart's compiled SQL over the staging views and the intermediate tables, so hundreds of examples take seconds.
"""

import datetime as dt

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credit_score.settings import work_path
from tests import reference
from tests.helpers import DELIVERED, EXAMPLES, SPARSE, as_text, differences, load_and_build

AS_OF_DATES = [dt.date(2026, 10, 31), dt.date(2024, 2, 29), dt.date(2026, 3, 15)]
SPEND_EDGES = [0, 20, 50, 80, 120, 200, 400]


# every intermediate table between raw and the mart (the views in between read them), in dependency order
VALIDATION_MODELS = [
    "int_subscriptions_validated",
    "int_customer_ids_resolved",
    "int_billing_validated",
    "int_suspensions_validated",
    "int_deliveries_counted",  # not read by the mart; refreshed so that the list is every table
    "int_customer_months_summed",
    # the per-customer tables, in dependency order
    "int_customers_tenure_computed",
    "int_customers_spend_averaged",
    "int_customers_suspensions_counted",
]


@pytest.fixture(scope="module", params=AS_OF_DATES, ids=str)
def compiled_mart(request, tmp_path_factory):
    """(as_of, connection, SQL that re-runs the chain from raw): the intermediate tables are rebuilt
    from their compiled SQL in dependency order, then the mart's compiled SQL reads them."""
    as_of = request.param
    database = tmp_path_factory.mktemp("properties") / "warehouse.duckdb"
    report = load_and_build(EXAMPLES, database, as_of, **SPARSE)
    assert report.ok
    compiled = {r.name: r.compiled_code for r in report.outcome.results if r.resource_type == "model"}
    work = work_path(database)
    refresh = [f"create or replace table intermediate.{name} as {compiled[name]}" for name in VALIDATION_MODELS]
    con = duckdb.connect()  # the compiled SQL names the work file's catalog as the profile attaches it
    con.execute(f"attach '{work}' as cs_work")
    con.execute("use cs_work")
    tables = con.execute(
        "select table_name from duckdb_tables() where database_name = 'cs_work' and schema_name = 'intermediate' "
        "order by 1"
    ).fetchall()
    assert sorted(VALIDATION_MODELS) == [t[0] for t in tables], "a new intermediate table must be refreshed here"
    yield as_of, con, (refresh, compiled["customer_credit_score"])
    con.close()


@st.composite
def customers(draw, as_of: dt.date):
    """One customer on or next to the rule edges of as_of, as raw rows of text."""
    n = draw(st.integers(0, 10**6))
    customer = f"H{n}"
    years = draw(st.integers(0, 8))
    activation = reference.add_months(as_of, -12 * years) + dt.timedelta(days=draw(st.integers(-2, 2)))
    if draw(st.booleans()) and draw(st.booleans()):
        activation = dt.date(draw(st.sampled_from([2016, 2020, 2024])), 2, 29)
    termination = draw(st.sampled_from(["", "", "", (as_of).isoformat(), (as_of + dt.timedelta(days=1)).isoformat()]))
    subscription = {
        "customer_id": customer,
        "msisdn": draw(st.sampled_from(["13812341234", "1381234123", "", "+8613812341234"])),
        "brand_code": draw(st.sampled_from(list(reference.BRANDS))),
        "activation_date": activation.isoformat(),
        "termination_date": termination,
        "updated_at": "2026-11-01 02:00:00",
    }

    window_end = reference.last_complete_month(as_of)
    months = [reference.add_months(window_end, -k) for k in range(6)]
    in_window = [m for m in months if m >= activation.replace(day=1)] or months[:1]
    divisor = len(in_window)
    edge = draw(st.sampled_from(SPEND_EDGES)) * 100
    # an average a fen or two either side of the edge, or exactly on a half fen
    total = edge * divisor + draw(st.integers(-2 * divisor, 2 * divisor))
    bills = []
    remaining = total
    for k, month in enumerate(in_window):
        part = remaining if k == len(in_window) - 1 else draw(st.integers(-5000, max(remaining, 0) + 5000))
        remaining -= part
        if part == 0 and draw(st.booleans()):
            continue
        text_month = draw(st.sampled_from([month.isoformat(), month.strftime("%Y-%m"), month.strftime("%Y%m")]))
        sign = "-" if part < 0 else ""
        bills.append(
            {
                "bill_id": f"{customer}-{k}",
                "customer_id": customer,
                "bill_month": text_month,
                "amount": f"{sign}{abs(part) // 100}.{abs(part) % 100:02d}",
            }
        )

    lookback_start = reference.add_months(as_of, -12)
    suspensions = []
    for k in range(draw(st.integers(0, 4))):
        day = draw(
            st.sampled_from(
                [
                    lookback_start,
                    lookback_start + dt.timedelta(days=1),
                    as_of,
                    as_of + dt.timedelta(days=1),
                    lookback_start - dt.timedelta(days=1),
                ]
            )
        )
        at = draw(st.sampled_from(["00:00:00", "12:00:00", "23:59:59"]))
        suspensions.append(
            {
                "suspension_id": f"{customer}-S{k}",
                "customer_id": customer,
                "suspended_at": f"{day.isoformat()} {at}",
                "resumed_at": "",
                "reason_code": draw(st.sampled_from(["ARREARS", "HIGH_USAGE", "LOST", "XYZ"])),
            }
        )
    return subscription, bills, suspensions


def run_mart(con, sql, subscriptions, bills, suspensions) -> dict[str, dict[str, str]]:
    for table, rows, width in (
        ("subscriptions", subscriptions, 6),
        ("billing", bills, 4),
        ("suspensions", suspensions, 5),
    ):
        con.execute(f"delete from raw.{table}")
        if rows:  # one delivery, on the day the examples are delivered
            con.executemany(
                f"insert into raw.{table} values ({', '.join(['?'] * (width + 3))})",
                [[*(v or None for v in r.values()), line, DELIVERED, "examples"] for line, r in enumerate(rows, 2)],
            )
    refresh, mart_sql = sql
    for statement in refresh:
        con.execute(statement)
    cursor = con.execute(mart_sql)
    columns = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(columns, map(as_text, row), strict=True)) for row in cursor.fetchall()}


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mart_sql_equals_reference_on_band_edges(compiled_mart, data):
    as_of, con, sql = compiled_mart
    drawn = data.draw(st.lists(customers(as_of), min_size=1, max_size=12, unique_by=lambda c: c[0]["customer_id"]))
    subscriptions = [c[0] for c in drawn]
    bills = [b for c in drawn for b in c[1]]
    suspensions = [s for c in drawn for s in c[2]]
    expected = reference.score(subscriptions, bills, suspensions, as_of)
    assert differences(run_mart(con, sql, subscriptions, bills, suspensions), expected) == []
