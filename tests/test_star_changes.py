"""The star movements (customer_star_changes, star_migration_matrix) built one month at a time equal
a full refresh's and the independent reference's, after any order of builds (SPEC 6's invariant).

Hypothesis draws a history - a few as-of dates, month-ends and a mid-month one, each with random
customers, stars and points - and an order in which its dates are built: late months, months built
again with different rows (new deliveries), the first date built last.  Each step does what a build
does to the history (its date's rows replaced) and runs the two models incrementally for that date;
at the end every row of both equals what the reference computes from the final history, and what a
`--full-refresh` of the two gives.  (The history itself is proven elsewhere: test_history.py.)
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from credit_score.build import as_of_env
from credit_score.dbt import run_dbt
from tests import reference
from tests.conftest import copy_warehouse
from tests.helpers import as_text

DATES = [dt.date(2026, 6, 30), dt.date(2026, 7, 31), dt.date(2026, 8, 15), dt.date(2026, 8, 31), dt.date(2026, 9, 30)]
CUSTOMERS = [f"C{n:02d}" for n in range(8)]
MODELS = ["customer_star_changes", "star_migration_matrix"]
PARTS = reference.STAR_CHANGE_PARTS


@pytest.fixture(scope="module")
def warehouse(examples_month_end, tmp_path_factory):
    """A built warehouse (the examples): the work file holds the history and the two models."""
    from credit_score.engines.duckdb import DuckDBEngine

    return DuckDBEngine(copy_warehouse(examples_month_end, tmp_path_factory.mktemp("star-changes")))


def scores(draw) -> dict[str, dict[str, int]]:
    """One date's rows of the history: a random subset of the customers, each with random points."""
    rows = {}
    for customer in draw(st.sets(st.sampled_from(CUSTOMERS), min_size=1)):
        parts = {
            "brand_points": draw(st.sampled_from([20, 30, 50])),
            "tenure_points": draw(st.sampled_from([0, 50, 150, 300])),
            "spend_points": draw(st.sampled_from([0, 20, 100, 250])),
            "suspension_points": draw(st.sampled_from([0, -100, -400])),
        }
        score = sum(parts.values())
        rows[customer] = {**parts, "credit_score": score, "star_level": reference.star_level(score)}
    return rows


@st.composite
def build_sequences(draw) -> list[tuple[dt.date, dict[str, dict[str, int]]]]:
    """Builds in order: (as-of date, the history's rows for it); every drawn date at least once."""
    dates = draw(st.lists(st.sampled_from(DATES), min_size=2, max_size=3, unique=True))
    again = draw(st.lists(st.sampled_from(dates), max_size=1))
    order = draw(st.permutations(dates + again))
    return [(day, scores(draw)) for day in order]


def write_month(engine, as_of: dt.date, rows: dict[str, dict[str, int]]) -> None:
    """What a build does to the history: the date's rows replaced (the other columns from a mart row)."""
    history = "marts.customer_credit_score_history"
    con = duckdb.connect(str(engine.work))
    try:
        columns = [c for (c,) in con.execute(f"select column_name from (describe {history})").fetchall()]
        mart = "marts.customer_credit_score"
        con.execute(f"create temp table template as select {', '.join(columns)} from {mart} limit 1")
        con.execute(f"delete from {history} where as_of_date = ?", [as_of])
        for customer, row in rows.items():
            con.execute(
                f"insert into {history} select * replace (? as customer_id, ? as as_of_date, ? as brand_points, "
                "? as tenure_points, ? as spend_points, ? as suspension_points, ? as credit_score, ? as star_level) "
                "from template",
                [customer, as_of, *(row[k] for k in PARTS), row["credit_score"], row["star_level"]],
            )
    finally:
        con.close()


def run_models(engine, as_of: dt.date, *, full_refresh: bool = False) -> None:
    outcome = run_dbt(
        ["run", "--select", *MODELS, *(["--full-refresh"] if full_refresh else [])],
        target="duckdb",
        env={**engine.dbt_env(), **as_of_env(as_of)},
    )
    assert outcome.success, outcome.error or [f"{r.name}: {r.message}" for r in outcome.results]


def read(engine) -> dict[str, list[tuple[str, ...]]]:
    con = duckdb.connect(str(engine.work), read_only=True)
    try:
        tables = {m: con.execute(f"select * from marts.{m}").fetchall() for m in MODELS}
        return {m: sorted(tuple(map(as_text, row)) for row in rows) for m, rows in tables.items()}
    finally:
        con.close()


def expected(history: dict[dt.date, dict[str, dict[str, int]]]) -> dict[str, list[tuple[str, ...]]]:
    """The reference's two tables from the final history, in the models' column order."""
    changes, matrix = [], []
    dates = sorted(history)
    # every month written from a mart row scored under the rules as shipped (write_month)
    text = {
        d: {c: {**{k: str(v) for k, v in row.items()}, "rule_version": "1900-01-01"} for c, row in history[d].items()}
        for d in dates
    }
    for previous, current in zip(dates, dates[1:], strict=False):
        rows = reference.star_changes(text[previous], text[current], previous, current)
        changes += [
            (
                row["customer_id"],
                row["previous_as_of_date"],
                row["previous_star_level"],
                row["star_level"],
                row["change_type"],
                row["score_change"],
                *(row[f"{part}_change"] for part in reference.STAR_CHANGE_PARTS),
                row["previous_rule_version"],
                row["rule_version"],
                row["as_of_date"],
            )
            for row in rows.values()
        ]
        matrix += [(a, b, str(n), current.isoformat()) for (a, b), n in reference.migration_matrix(rows).items()]
    return {"customer_star_changes": sorted(changes), "star_migration_matrix": sorted(matrix)}


def _row(spend_points: int, suspension_points: int = 0) -> dict[str, int]:
    parts = dict(brand_points=50, tenure_points=150, spend_points=spend_points, suspension_points=suspension_points)
    score = sum(parts.values())
    return {**parts, "credit_score": score, "star_level": reference.star_level(score)}


# Chosen, beside the drawn ones: September first, then July and August late (each rewrites the next
# date's changes, the first date built last), then September again with other rows (C02 gone, C03 new).
LATE_MONTHS_AND_A_REBUILD = [
    (dt.date(2026, 9, 30), {"C00": _row(250), "C01": _row(100), "C02": _row(20)}),
    (dt.date(2026, 7, 31), {"C00": _row(20), "C01": _row(250), "C04": _row(100)}),
    (dt.date(2026, 8, 31), {"C00": _row(100), "C01": _row(100, -400), "C02": _row(0)}),
    (dt.date(2026, 9, 30), {"C00": _row(250), "C01": _row(20), "C03": _row(100)}),
]


@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(builds=build_sequences())
@example(builds=LATE_MONTHS_AND_A_REBUILD)
def test_star_movements_built_month_by_month_equal_a_full_refresh_and_the_reference(warehouse, builds):
    con = duckdb.connect(str(warehouse.work))
    try:
        con.execute("delete from marts.customer_credit_score_history")
        for model in MODELS:  # the first run builds them from nothing, as on a new warehouse
            con.execute(f"drop table if exists marts.{model}")
    finally:
        con.close()
    history: dict[dt.date, dict[str, dict[str, int]]] = {}
    for as_of, rows in builds:
        write_month(warehouse, as_of, rows)
        history[as_of] = rows
        run_models(warehouse, as_of)
    incremental = read(warehouse)
    assert incremental == expected(history)
    run_models(warehouse, builds[-1][0], full_refresh=True)
    assert read(warehouse) == incremental
