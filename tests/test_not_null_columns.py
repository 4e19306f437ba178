"""The generic test not_null_columns (a model's not_null tests in one read of it) names each column
that holds nulls and how many rows hold one, and passes on a model without any: nulls put into a
built model by hand, the test's stored failures compared with what was put in."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from credit_score.build import as_of_env
from credit_score.dbt import run_dbt
from credit_score.engines.duckdb import DuckDBEngine
from tests.helpers import EXAMPLES, load_and_build

OCTOBER = dt.date(2026, 10, 31)
MODEL = "int_customers_spend_averaged"  # not_null_columns: spend_months, window_spend, avg_monthly_spend


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    database = tmp_path_factory.mktemp("not-null-columns") / "warehouse.duckdb"
    assert load_and_build(EXAMPLES, database, OCTOBER).ok
    return DuckDBEngine(database)


def run_test(engine: DuckDBEngine) -> tuple[str, list[tuple[str, int]]]:
    """The model's not_null_columns test, run by dbt: (status, [(column, rows holding a null)])."""
    outcome = run_dbt(
        ["test", "--select", f"{MODEL},test_name:not_null_columns", "--store-failures"],
        target="duckdb",
        env={**engine.dbt_env(), **as_of_env(OCTOBER)},
    )
    (result,) = [r for r in outcome.results if r.resource_type == "test"]
    con = duckdb.connect(str(engine.work), read_only=True)
    try:
        # the table of its failing rows: dbt names it after the test, hashed past 63 characters
        (table,) = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema = 'dbt_test__audit' and table_name like 'not_null_columns_%'"
        ).fetchone()
        rows = con.execute(f"select column_name, null_rows from {table} order by 1").fetchall()
    finally:
        con.close()
    return str(result.status), [(column, int(count)) for column, count in rows]


def test_each_column_holding_nulls_is_named_with_its_count(engine):
    assert run_test(engine) == ("pass", [])
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
    assert run_test(engine) == ("fail", [("avg_monthly_spend", 1), ("window_spend", 2)])
