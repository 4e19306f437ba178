"""The data test that says the mart holds exactly SPEC 1's population
(`assert_every_in_scope_customer_is_scored`) finds each way the mart can be wrong: a customer in scope
and missing, a row for someone not in scope, a row dated another day.  Its rows are compared with what
was done to the mart, not with a previous run of the test.

The generic test not_null_columns (a model's not_null tests in one read of it) on the same warehouse
names each column that holds nulls, with how many rows hold one, and passes on a model without any;
the generic test primary_key (a key's unique and not_null in one query) names a repeated key and the
rows without one."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from credit_score.engines.duckdb import DuckDBEngine
from tests.conftest import copy_warehouse
from tests.helpers import stored_test_failures

OCTOBER = dt.date(2026, 10, 31)
TEST = "assert_every_in_scope_customer_is_scored"


@pytest.fixture(scope="module")
def engine(examples_month_end, tmp_path_factory):
    return DuckDBEngine(copy_warehouse(examples_month_end, tmp_path_factory.mktemp("population-test")))


def run_test(engine: DuckDBEngine) -> tuple[str, list[tuple[str, str]]]:
    return stored_test_failures(engine, OCTOBER, TEST, "customer_id, problem")


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


MODEL = "int_customers_spend_averaged"  # not_null_columns: spend_months, window_spend, avg_monthly_spend


def run_not_null_columns(engine: DuckDBEngine) -> tuple[str, list[tuple[str, int]]]:
    """The model's not_null_columns test, run by dbt: (status, [(column, rows holding a null)])."""
    status, rows = stored_test_failures(
        engine, OCTOBER, f"{MODEL},test_name:not_null_columns", "column_name, null_rows"
    )
    return status, [(column, int(count)) for column, count in rows]


def test_each_column_holding_nulls_is_named_with_its_count(engine):
    assert run_not_null_columns(engine) == ("pass", [])
    con = duckdb.connect(str(engine.work))
    try:
        customers = [
            r[0] for r in con.execute(f"select customer_id from intermediate.{MODEL} order by 1 limit 3").fetchall()
        ]
        assert len(customers) == 3
        con.execute(f"update intermediate.{MODEL} set window_spend = null where customer_id in (?, ?)", customers[:2])
        con.execute(f"update intermediate.{MODEL} set avg_monthly_spend = null where customer_id = ?", customers[2:])
    finally:
        con.close()
    assert run_not_null_columns(engine) == ("fail", [("avg_monthly_spend", 1), ("window_spend", 2)])


KEYED = "int_customers_tenure_computed"  # primary_key on customer_id


def run_primary_key(engine: DuckDBEngine) -> tuple[str, list[tuple[str | None, int]]]:
    """The model's primary_key test, run by dbt: (status, [(key value, rows holding it)])."""
    status, rows = stored_test_failures(engine, OCTOBER, f"{KEYED},test_name:primary_key", "key_value, occurrences")
    return status, [(value, int(count)) for value, count in rows]


def test_a_repeated_key_and_missing_keys_are_each_named_with_their_count(engine):
    """One query proves what dbt's unique and not_null prove: a key on two rows comes back with 2,
    rows without a key come back as one row (key null) with how many there are."""
    assert run_primary_key(engine) == ("pass", [])
    con = duckdb.connect(str(engine.work))
    try:
        table = f"intermediate.{KEYED}"
        twice, *nulled = [r[0] for r in con.execute(f"select customer_id from {table} order by 1 limit 4").fetchall()]
        assert len(nulled) == 3
        con.execute(f"insert into {table} select * from {table} where customer_id = ?", [twice])
        con.execute(f"update {table} set customer_id = null where customer_id in (?, ?, ?)", nulled)
    finally:
        con.close()
    assert run_primary_key(engine) == ("fail", [(twice, 2), (None, 3)])
