"""The same project on Apache Spark (local session, parquet tables): every dbt test runs and the mart
is identical, row by row and column by column, to DuckDB's for the same data set."""

import os
import shutil
import subprocess

import duckdb
import pytest

from credit_score import spark
from credit_score.build import build
from pytests.conftest import MID_MONTH, MONTH_END
from pytests.helpers import as_text, differences


def ensure_java() -> None:
    """Spark needs a JVM (17); install Debian's when a fresh machine lacks one (CI runs as root)."""
    if shutil.which("java") or os.geteuid() != 0:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "openjdk-17-jre-headless"], check=True, env=env, capture_output=True
    )


@pytest.fixture(scope="module")
def spark_loaded(tmp_path_factory, parity_data):
    ensure_java()
    warehouse = tmp_path_factory.mktemp("spark")
    saved = os.environ.get("CREDIT_SCORE_SPARK_WAREHOUSE")
    os.environ["CREDIT_SCORE_SPARK_WAREHOUSE"] = str(warehouse)
    counts = spark.load(parity_data, progress=False)
    yield warehouse, counts
    if saved is None:
        os.environ.pop("CREDIT_SCORE_SPARK_WAREHOUSE", None)
    else:
        os.environ["CREDIT_SCORE_SPARK_WAREHOUSE"] = saved


def read_spark_mart(warehouse) -> dict[str, dict[str, str]]:
    cursor = duckdb.execute(f"select * from read_parquet('{spark.mart_path(warehouse)}/*.parquet')")
    columns = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(columns, map(as_text, row), strict=True)) for row in cursor.fetchall()}


@pytest.mark.parametrize("as_of", [MONTH_END, MID_MONTH], ids=str)
def test_spark_mart_is_identical_to_duckdb(spark_loaded, duckdb_parity_marts, as_of):
    warehouse, counts = spark_loaded
    duck, duckdb_mart = duckdb_parity_marts[as_of]
    assert counts["subscriptions"] >= 6000
    report = build(as_of, target="spark")
    assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]
    assert len(report.tests) == len(duck.tests), "every dbt test runs on Spark too"
    assert report.rows_scored == len(duckdb_mart) > 4000
    assert differences(read_spark_mart(warehouse), duckdb_mart) == []
    # the history's partition of this date holds the same rows (the other date's stays beside it)
    history = spark.mart_path(warehouse).with_name("customer_credit_score_history")
    cursor = duckdb.execute(
        f"select * from read_parquet('{history}/*/*.parquet', hive_partitioning = true) where as_of_date = ?",
        [as_of],
    )
    columns = [d[0] for d in cursor.description]
    month = {row[0]: dict(zip(columns, map(as_text, row), strict=True)) for row in cursor.fetchall()}
    assert differences(month, duckdb_mart) == []
