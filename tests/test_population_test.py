"""The data test that says the mart holds exactly SPEC 1's population
(`assert_every_in_scope_customer_is_scored`) finds each way the mart can be wrong: a customer in scope
and missing, a row for someone not in scope, a row dated another day.  Its rows are compared with what
was done to the mart, not with a previous run of the test."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from credit_score.build import as_of_env
from credit_score.dbt import run_dbt
from credit_score.engines.duckdb import DuckDBEngine
from tests.helpers import EXAMPLES, load_and_build

OCTOBER = dt.date(2026, 10, 31)
TEST = "assert_every_in_scope_customer_is_scored"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    database = tmp_path_factory.mktemp("population-test") / "warehouse.duckdb"
    assert load_and_build(EXAMPLES, database, OCTOBER).ok
    return DuckDBEngine(database)


def run_test(engine: DuckDBEngine) -> tuple[str, list[tuple[str, str]]]:
    outcome = run_dbt(
        ["test", "--select", TEST, "--store-failures"],
        target="duckdb",
        env={**engine.dbt_env(), **as_of_env(OCTOBER)},
    )
    (result,) = [r for r in outcome.results if r.name == TEST]
    con = duckdb.connect(str(engine.work), read_only=True)
    try:
        (schema,) = con.execute(
            "select table_schema from information_schema.tables where table_name = ?", [TEST]
        ).fetchone()
        rows = con.execute(f'select customer_id, problem from "{schema}"."{TEST}" order by 1').fetchall()
    finally:
        con.close()
    return str(result.status), rows


def test_the_population_test_finds_a_missing_an_extra_and_a_misdated_customer(engine):
    status, rows = run_test(engine)
    assert (status, rows) == ("pass", [])

    con = duckdb.connect(str(engine.work))
    try:
        mart = "marts.customer_credit_score"
        gone, misdated = (r[0] for r in con.execute(f"select customer_id from {mart} order by 1 limit 2").fetchall())
        con.execute(f"update {mart} set as_of_date = date '2026-09-30' where customer_id = ?", [misdated])
        con.execute(
            f"insert into {mart} select * replace ('NOBODY' as customer_id) from {mart} where customer_id = ?", [gone]
        )
        con.execute(f"delete from {mart} where customer_id = ?", [gone])
        # a customer the subscriptions know but who had left by October: scored, yet not in scope
        (left,) = con.execute(
            "select customer_id from intermediate.int_subscriptions_validated "
            "where rejection_reason is null and termination_date <= date '2026-10-31' order by 1 limit 1"
        ).fetchone()
        con.execute(
            f"insert into {mart} select * replace (? as customer_id) from {mart} where customer_id = ?",
            [left, misdated],
        )
    finally:
        con.close()

    status, rows = run_test(engine)
    assert status == "fail"
    assert sorted(rows) == sorted(
        [
            (gone, "in scope but not scored"),
            ("NOBODY", "scored but not in scope on 2026-10-31"),
            (left, "scored but not in scope on 2026-09-30"),
            (misdated, "scored but not in scope on 2026-09-30"),
        ]
    )
