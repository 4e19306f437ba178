"""The key tests of an incremental build look only at what the build wrote (`written_last_only`,
narrowed to the deliveries, or tables and deliveries, it wrote; `unique_among_accepted`), so that a
month's tests cost a month.  Here they are shown to still catch what they exist for: a kept bill
written back beside its old version (the merge's delete missed it) is named by the bills' key test,
by the key test of the outcomes' union, and by the test that no bill id is accepted twice.  After a
full build the same tests read every row; on DuckDB the accepted ids' test then counts the stored key
hashes and compares only the ids of the hashes carried twice: a repeated bill is still named, and a
shared hash alone is not.

The warehouse: the worked examples built as of 2026-10-31, then a second delivery of three new
bills for W01 loaded and the same date built again, incrementally: the bills it writes are its own.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from credit_score.build import build
from credit_score.engines.duckdb import DuckDBEngine
from tests.helpers import DELIVERED, EXAMPLES, load_steps, stored_test_failures, write_folder

OCTOBER = dt.date(2026, 10, 31)
BILLS = "intermediate.int_billing_validated"
TESTS = {
    # test selector: the failing rows' columns, as stored_test_failures reads them
    "int_billing_validated,test_name:unique_combination_of_columns": "delivery_id, file_line, occurrences",
    "int_delivered_rows_unioned,test_name:unique_combination_of_columns": (
        "source_table, delivery_id, file_line, occurrences"
    ),
    "int_billing_validated,test_name:unique_among_accepted": "id, occurrences",
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("key-tests")
    database = examples_built(root / "warehouse.duckdb")
    bills = [
        {"bill_id": f"W01-LATE-{k}", "customer_id": "W01", "bill_month": "2026-10-01", "amount": "1.00"}
        for k in (1, 2, 3)
    ]
    later = write_folder(root / "later", {"subscriptions": [], "billing": bills, "suspensions": []})
    load_steps([(later, "later", DELIVERED + dt.timedelta(days=1))], database, replace_first=False)
    report = build(OCTOBER, database=database)
    assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]
    return DuckDBEngine(database)


def examples_built(database):
    """The worked examples loaded and built as of OCTOBER, from scratch, into `database`."""
    load_steps([(EXAMPLES, "examples", DELIVERED)], database)
    assert build(OCTOBER, database=database).ok
    return database


def every_key_test_failing(delivery_id: str, file_line: int, bill_id: str) -> dict[str, tuple[str, list[tuple]]]:
    """What the three key tests name when the accepted bill `bill_id` (delivery_id, file_line) is kept twice."""
    return {
        "int_billing_validated,test_name:unique_combination_of_columns": ("fail", [(delivery_id, file_line, 2)]),
        "int_delivered_rows_unioned,test_name:unique_combination_of_columns": (
            "fail",
            [("billing", delivery_id, file_line, 2)],
        ),
        "int_billing_validated,test_name:unique_among_accepted": ("fail", [(bill_id, 2)]),
    }


def run_key_tests(engine: DuckDBEngine) -> dict[str, tuple[str, list[tuple]]]:
    return {selector: stored_test_failures(engine, OCTOBER, selector, columns) for selector, columns in TESTS.items()}


def compiled_union_test(engine: DuckDBEngine) -> str:
    folder = engine.dbt_dir / "target" / "compiled" / "credit_score" / "models" / "intermediate" / "validation"
    (text,) = [
        text
        for path in folder.rglob("unique_combination_of_columns_*.sql")
        if "int_delivered_rows_unioned" in (text := path.read_text())
    ]
    return text


def test_a_kept_bill_written_back_beside_its_old_version_is_named_by_every_key_test(engine):
    con = duckdb.connect(str(engine.work))
    try:
        stamps = con.execute(f"select distinct loaded_through from {BILLS} order by 1").fetchall()
        # two builds, two stamps: the second build's tests take the incremental way
        assert len(stamps) == 2
        newest = stamps[-1][0]
        # the bills the last build wrote: the later delivery's, none of the first
        written = con.execute(
            f"select delivery_id, count(*) from {BILLS} where loaded_through = ? group by 1", [newest]
        ).fetchall()
        assert written == [("later", 3)]
    finally:
        con.close()

    assert run_key_tests(engine) == {selector: ("pass", []) for selector in TESTS}
    # narrowed to the table and delivery the build wrote: the bills of the first delivery are not read
    union_test = compiled_union_test(engine)
    assert "model_rows.source_table = 'billing' and model_rows.delivery_id = 'later'" in union_test
    assert "model_rows.delivery_id = 'examples'" not in union_test

    con = duckdb.connect(str(engine.work))
    try:
        # an accepted bill of the first delivery, kept since the first build, written again by the last
        bill_id, file_line = con.execute(
            f"select bill_id, file_line from {BILLS} where delivery_id = 'examples' and rejection_reason is null "
            "order by bill_id limit 1",
        ).fetchone()
        con.execute(
            f"insert into {BILLS} select * replace (cast(? as timestamp) as loaded_through) from {BILLS} "
            "where bill_id = ?",
            [newest, bill_id],
        )
    finally:
        con.close()

    assert run_key_tests(engine) == every_key_test_failing("examples", file_line, bill_id)


@pytest.fixture(scope="module")
def full_build(tmp_path_factory):
    """The worked examples built once, from scratch: every row is the latest build's, so the key tests
    take their full-build way (one aggregate over every row)."""
    return DuckDBEngine(examples_built(tmp_path_factory.mktemp("key-tests-full") / "warehouse.duckdb"))


def test_after_a_full_build_a_repeated_accepted_bill_is_named_and_a_shared_hash_alone_is_not(full_build):
    """On DuckDB unique_among_accepted counts the stored key hashes after a full build and compares only
    the ids of hashes carried twice: a repeated id must still be named, and two ids that merely share a hash
    (a collision, made here by hand) must not be."""
    assert run_key_tests(full_build) == {selector: ("pass", []) for selector in TESTS}
    con = duckdb.connect(str(full_build.work))
    try:
        (stamps,) = con.execute(f"select count(distinct loaded_through) from {BILLS}").fetchone()
        assert stamps == 1  # one build: every row written last
        first, second = con.execute(
            f"select bill_id from {BILLS} where rejection_reason is null order by bill_id limit 2"
        ).fetchall()
        con.execute(
            f"update {BILLS} set key_hash = (select key_hash from {BILLS} where bill_id = ?) where bill_id = ?",
            [first[0], second[0]],
        )
    finally:
        con.close()
    assert run_key_tests(full_build)["int_billing_validated,test_name:unique_among_accepted"] == ("pass", [])

    con = duckdb.connect(str(full_build.work))
    try:
        file_line = con.execute(f"select file_line from {BILLS} where bill_id = ?", [first[0]]).fetchone()[0]
        con.execute(f"insert into {BILLS} select * from {BILLS} where bill_id = ?", [first[0]])
    finally:
        con.close()
    assert run_key_tests(full_build) == every_key_test_failing("examples", file_line, first[0])
