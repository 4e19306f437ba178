"""Monthly deliveries (SPEC 6) on DuckDB: the rules apply to the union of all deliveries whatever their
order and split, and `generate --deliveries monthly` scores exactly like one folder.

The cross-delivery cases are in tests/deliveries_scenario.py; PostgreSQL and Spark load the same
deliveries (test_postgres.py, test_spark.py) and must publish what DuckDB publishes here.
Expected scores come from the independent reference implementation, never from the warehouse.
"""

from __future__ import annotations

import datetime as dt
import filecmp
import os
import subprocess
import sys
from collections import Counter

import duckdb
import pytest

from credit_score.build import build
from credit_score.deliveries import EXPECTED_COLUMNS
from credit_score.generate import generate
from credit_score.load import load_listed, read_csv_tables, read_listing
from credit_score.settings import PROJECT_DIR
from tests import reference
from tests.deliveries_scenario import CASE_REJECTS, CASE_WAITING, MID_MONTH, OCTOBER, SEPTEMBER, TABLES
from tests.helpers import differences, load_and_build, load_steps, read_mart, read_published

MONTHS = ("before-2026-08", "2026-08", "2026-09", "2026-10")


@pytest.fixture(scope="module")
def monthly(tmp_path_factory):
    """2,500 customers generated as one folder and as monthly deliveries (3 months), same seed."""
    root = tmp_path_factory.mktemp("monthly")
    generate(2500, root / "single", seed=17, as_of=OCTOBER, progress=False)
    generate(2500, root / "monthly", seed=17, as_of=OCTOBER, deliveries="monthly", months=3, progress=False)
    return root / "single", root / "monthly"


def deliveries_of(folder):
    lines = (folder / "deliveries.csv").read_text().splitlines()[1:]
    return [(folder / d, d, dt.date.fromisoformat(on)) for d, on in (line.split(",") for line in lines)]


def test_monthly_deliveries_hold_the_single_folder_data(monthly):
    single, root = monthly
    steps = deliveries_of(root)
    assert [(d, on) for _, d, on in steps] == [
        ("before-2026-08", dt.date(2026, 8, 5)),
        ("2026-08", dt.date(2026, 9, 5)),
        ("2026-09", dt.date(2026, 10, 5)),
        ("2026-10", dt.date(2026, 11, 5)),
    ]
    one = read_csv_tables(single)
    many = {t: [(d, row) for folder, d, _ in steps for row in read_csv_tables(folder)[t]] for t in TABLES}
    # the same bills and suspensions, each in the delivery of its month
    for table, month_of in (("billing", lambda r: reference.parse_bill_month(r["bill_month"])), ("suspensions",
                            lambda r: dt.date.fromisoformat(r["suspended_at"][:10]))):  # fmt: skip
        assert Counter(tuple(r.values()) for _, r in many[table]) == Counter(tuple(r.values()) for r in one[table])
        for delivery, row in many[table]:
            month = f"{month_of(row):%Y-%m}"
            assert delivery == month or (delivery == "before-2026-08" and month < "2026-08"), (delivery, row)
    # each customer's latest version is its single-folder row; an older one has no termination yet
    versions: dict[str, list[tuple[str, dict]]] = {}
    for delivery, row in many["subscriptions"]:
        versions.setdefault(row["customer_id"], []).append((delivery, row))
    assert {c: max(v, key=lambda dv: dv[1]["updated_at"])[1] for c, v in versions.items()} == {
        r["customer_id"]: r for r in one["subscriptions"]
    }
    older = [v for v in versions.values() if len(v) > 1]
    assert len(older) > 10, "some customers are terminated during the delivered months"
    for (first_delivery, first), (last_delivery, last) in older:
        assert first["termination_date"] == "" and last["termination_date"] != ""
        assert first["updated_at"] < last["updated_at"]
        assert first_delivery.startswith("before") or first_delivery < last_delivery
        assert last_delivery == min(last["termination_date"][:7], "2026-10")
    for delivery, row in many["subscriptions"]:
        if len(versions[row["customer_id"]]) == 1 and row["termination_date"] == "":
            month = min(row["activation_date"][:7], "2026-10")
            assert delivery == month or (delivery == "before-2026-08" and month < "2026-08"), (delivery, row)


def test_monthly_generation_is_the_same_whatever_the_chunk_size(tmp_path):
    for name, chunk in (("whole", 10**6), ("chunked", 700)):
        generate(2000, tmp_path / name, seed=8, as_of=OCTOBER, deliveries="monthly", progress=False,
                 chunk_customers=chunk)  # fmt: skip
    for delivery in MONTHS[:1] + ("2026-09", "2026-10"):
        for table in TABLES:
            whole, chunked = (tmp_path / n / delivery / f"{table}.csv" for n in ("whole", "chunked"))
            assert filecmp.cmp(whole, chunked, shallow=False), (delivery, table)


def test_chunked_monthly_parquet_holds_the_contracts_columns_and_loads(tmp_path):
    """Parquet parts of several chunks are joined per delivery (30M customers: 60 chunks): the joined
    file has the raw contract's columns only (not the parts' folder name as a column) and loads."""
    generate(2000, tmp_path / "data", seed=8, as_of=OCTOBER, deliveries="monthly", progress=False,
             chunk_customers=700, file_format="parquet")  # fmt: skip
    for delivery in MONTHS[:1] + ("2026-09", "2026-10"):
        for table in TABLES:
            path = tmp_path / "data" / delivery / f"{table}.parquet"
            columns = [r[0] for r in duckdb.execute(f"describe select * from read_parquet('{path}')").fetchall()]
            assert columns == EXPECTED_COLUMNS[table], (delivery, table, columns)
    steps = read_listing(tmp_path / "data" / "deliveries.csv")
    load_listed(steps, tmp_path / "warehouse.duckdb", replace=True, progress=False)


def test_monthly_deliveries_score_like_one_folder(monthly, tmp_path):
    single, root = monthly
    one = tmp_path / "one.duckdb"
    assert load_and_build(single, one, OCTOBER).ok
    many = tmp_path / "many.duckdb"
    # the way an operator loads a generated series: `credit-score load --list deliveries.csv`
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(many)}
    loaded = subprocess.run(
        [sys.executable, "-m", "credit_score.cli", "load", "--list", str(root / "deliveries.csv")],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    announced = [line.split(" ")[3] for line in loaded.stdout.splitlines() if line.startswith("✓ loaded delivery ")]
    assert announced == list(MONTHS), loaded.stdout
    report = build(OCTOBER, database=many)
    assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]
    expected = reference.score_folder(single, OCTOBER)
    assert len(expected) > 2000
    assert differences(read_mart(many), expected) == []
    assert read_mart(many) == read_mart(one)
    published = read_published(database=many)
    deliveries = {row[0]: row for row in published["audit.deliveries"][1:]}
    assert set(deliveries) == set(MONTHS)
    rejected = Counter(row[4] for row in published["audit.rejected_records"][1:])
    assert set(rejected) == {"superseded"}, "the only rejects are the older versions of terminated customers"


def rejects(published):
    return {(r[0], r[1], r[4], r[3]) for r in published["audit.rejected_records"][1:]}


def waiting(published):
    """(table, record id, delivery of the first copy, first month it is rejected) of the waiting rows."""
    columns, *rows = published["audit.waiting_records"]
    if not columns:
        return set()
    at = {c: columns.index(c) for c in ("source_table", "record_id", "delivery_id", "rejected_from_month")}
    return {(r[at["source_table"]], r[at["record_id"]], r[at["delivery_id"]], r[at["rejected_from_month"]])
            for r in rows}  # fmt: skip


def test_before_the_customer_arrives_its_rows_wait(scenario_duckdb):
    """SPEC 8: rows delivered before their customer wait (not rejects) for max_wait_months (2) after the
    month of their delivery: X-LATE's bills of 2026-09-05 and 2026-10-05 until the builds of November
    and December; X-NEVER's too."""
    september = scenario_duckdb[1][SEPTEMBER]
    assert september.report.ok, [f"{r.name}: {r.message}" for r in september.report.failed]
    assert not any(record.startswith(("X-LATE", "X-NEVER")) for _, record, _, _ in rejects(september.published))
    late = {row for row in waiting(september.published) if row[1].startswith("X-LATE")}
    assert late == {("billing", f"X-LATE-{m:02d}", "before-2026-09", "2026-11-01") for m in range(5, 9)} | {
        ("billing", "X-LATE-09", "2026-09", "2026-12-01"),
        ("suspensions", "X-LATE-S1", "2026-09", "2026-12-01"),
    }
    assert {row for row in waiting(september.published) if row[1].startswith("X-NEVER")} == {
        ("billing", "X-NEVER-08", "before-2026-09", "2026-11-01"),
        ("suspensions", "X-NEVER-S1", "before-2026-09", "2026-11-01"),
    }
    columns, *rows = september.published["audit.reconciliation"]
    counted = {r[0]: int(r[columns.index("waiting_rows")]) for r in rows}
    assert counted == {"subscriptions": 0, "billing": 6, "suspensions": 2}
    mart = september.mart
    assert "X-LATE" not in mart
    assert mart["X-VERSION"]["brand_name"] == "神州行", "the only version so far"
    assert mart["X-TERM"]["as_of_date"] == str(SEPTEMBER), "not terminated yet"
    assert not any(record == "X-CONFLICT" for _, record, _, _ in rejects(september.published)), "one version so far"


@pytest.mark.parametrize("as_of", [OCTOBER, MID_MONTH], ids=str)
def test_after_every_delivery_the_mart_is_the_truth(scenario, scenario_duckdb, as_of):
    built = scenario_duckdb[1][as_of]
    assert built.report.ok, [f"{r.name}: {r.message}" for r in built.report.failed]
    expected = scenario.expected_mart(as_of)
    assert len(expected) > 1400
    assert differences(built.mart, expected) == []


def test_a_monthly_build_runs_the_audit_not_the_unit_tests(scenario_duckdb):
    """The unit tests test the rules' SQL (make test runs them); each month's build runs the data tests."""
    report = scenario_duckdb[1][OCTOBER].report
    assert {r.resource_type for r in report.tests} == {"test"}
    # every singular test of the audit, the validation and the marts (the seeds' run when they are
    # rebuilt), and the generic ones beside them: 80 in a month's build
    folder = PROJECT_DIR / "data-tests"
    singular = {p.stem for p in folder.rglob("*.sql") if not {"generic", "seeds"} & set(p.relative_to(folder).parts)}
    assert len(singular) > 10 and singular <= {r.name for r in report.tests}, sorted(
        singular - {r.name for r in report.tests}
    )
    assert len(report.tests) >= 80


def test_each_case_scores_as_spec_6_says(scenario_duckdb):
    mart = scenario_duckdb[1][OCTOBER].mart
    assert mart["X-LATE"]["spend_months"] == "6" and mart["X-LATE"]["avg_monthly_spend"] == "100.00"
    assert mart["X-LATE"]["suspension_count"] == "1", "its suspension, delivered before it, counts"
    assert mart["X-VERSION"]["brand_name"] == "全球通", "the newer version wins across deliveries"
    assert "X-TERM" not in mart, "terminated by its newer version"
    # X-AGAIN once (30.00) and the corrected adjustment (-9.00), not the wrong one; X-CONFLICT not at all
    assert mart["X-VERSION"]["avg_monthly_spend"] == "3.50"  # (30.00 - 9.00) / 6


def test_the_audit_traces_every_case_to_its_delivery(scenario, scenario_duckdb):
    published = scenario_duckdb[1][OCTOBER].published
    case_rejects = {r for r in rejects(published) if r[1].startswith("X-")}
    assert case_rejects == CASE_REJECTS
    assert waiting(published) == CASE_WAITING, "X-LATE arrived; X-NEVER still waits"
    # the generated customers' only rejects are their older versions (the boundary customers, A..., have
    # rejects of their own: terminations before activation and their rows)
    generated = [r for r in rejects(published) if not r[1].startswith(("X-", "A"))]
    assert len(generated) == scenario.generated_versions and {r[2] for r in generated} == {"superseded"}

    columns, *rows = published["audit.deliveries"]
    deliveries = {row[0]: dict(zip(columns, row, strict=True)) for row in rows}
    assert set(deliveries) == {"before-2026-09", "2026-09", "2026-10", "adjustments", "nothing"}
    assert all(v == "0" for k, v in deliveries["nothing"].items() if k.endswith(("_rows", "_accepted")))
    assert deliveries["nothing"]["has_billing_file"] == "False"
    adjustments = deliveries["adjustments"]
    assert (adjustments["billing_rows"], adjustments["billing_accepted"], adjustments["subscriptions_rows"]) == (
        "1",
        "1",
        "0",
    ), "the correction replaced the wrong delivery"
    october = deliveries["2026-10"]
    assert october["billing_duplicates"] == "1", "X-AGAIN again; loading 2026-10 twice added nothing"
    for name, row in deliveries.items():  # the two audit tables agree on every delivery's rejects
        for table in TABLES:
            rejected = sum(1 for r in rejects(published) if r[0] == table and r[3] == name)
            assert int(row[f"{table}_rejected"]) == rejected, (name, table)
    for name, row in deliveries.items():
        for table in TABLES:
            parts = [int(row[f"{table}_{part}"]) for part in ("accepted", "rejected", "duplicates")]
            waits = sum(1 for r in CASE_WAITING if r[0] == table and r[2] == name)
            assert int(row.get(f"{table}_waiting", 0)) == waits, (name, table)
            assert int(row[f"{table}_rows"]) == sum(parts) + waits, (name, table)
    # the deliveries add up to the reconciliation
    columns, *rows = published["audit.reconciliation"]
    for row in rows:
        totals = dict(zip(columns, row, strict=True))
        table = totals["source_table"]
        for column, part in (("raw_rows", "rows"), ("accepted_rows", "accepted"), ("rejected_rows", "rejected"),
                             ("exact_duplicate_rows", "duplicates"), ("waiting_rows", "waiting")):  # fmt: skip
            summed = sum(int(d.get(f"{table}_{part}", 0)) for d in deliveries.values())
            assert int(totals[column]) == summed, (table, column)


def test_the_order_of_the_deliveries_does_not_matter(scenario, scenario_duckdb, tmp_path):
    shuffled = tmp_path / "shuffled.duckdb"
    load_steps(scenario.out_of_order(), shuffled)
    assert build(OCTOBER, database=shuffled).ok
    assert read_published(database=shuffled) == scenario_duckdb[1][OCTOBER].published
