"""The same project on Apache Spark (local session, parquet tables): the deliveries of the cross-delivery
scenario (with 1,000 customers on SPEC's boundaries), loaded in another order than on DuckDB, publish
the same mart and audit tables as DuckDB, row for row, at a month-end and a mid-month date, with every
dbt test run; the history keeps each date's partition."""

import os
import shutil
import subprocess

import duckdb
import pytest

from credit_score.build import BuildRefused, build
from credit_score.engines import spark
from pytests.conftest import MID_MONTH, MONTH_END
from pytests.helpers import as_text, differences, load_steps, read_published


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
def spark_scenario(tmp_path_factory, scenario):
    """The scenario's deliveries loaded into a new Spark warehouse, built as of both dates:
    (warehouse, {as_of: (report, what was published)})."""
    ensure_java()
    warehouse = tmp_path_factory.mktemp("spark")
    saved = os.environ.get("CREDIT_SCORE_SPARK_WAREHOUSE")
    os.environ["CREDIT_SCORE_SPARK_WAREHOUSE"] = str(warehouse)
    load_steps(scenario.out_of_order(), target="spark")
    built = {}
    for as_of in (MONTH_END, MID_MONTH):
        # the rules' unit tests once on this engine (its SQL dialect), the audit at both dates
        report = build(as_of, target="spark", unit_tests=as_of == MONTH_END)
        assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]
        built[as_of] = report, read_published("spark")
    yield warehouse, built
    if saved is None:
        os.environ.pop("CREDIT_SCORE_SPARK_WAREHOUSE", None)
    else:
        os.environ["CREDIT_SCORE_SPARK_WAREHOUSE"] = saved


@pytest.mark.parametrize("as_of", [MONTH_END, MID_MONTH], ids=str)
def test_spark_publishes_what_duckdb_publishes(spark_scenario, scenario_duckdb, as_of):
    _, built = spark_scenario
    report, published = built[as_of]
    duckdb_built = scenario_duckdb[1][as_of]
    assert data_tests(report) == data_tests(duckdb_built.report), "every data test runs on Spark too"
    if as_of == MONTH_END:  # and the rules' unit tests, once (a monthly build skips them)
        assert sum(1 for t in report.tests if t.resource_type == "unit_test") >= 23
    assert report.rows_scored == len(duckdb_built.mart) > 1500
    assert published == duckdb_built.published


def test_spark_history_keeps_each_date_in_its_partition(spark_scenario, scenario_duckdb):
    warehouse, _ = spark_scenario
    history = spark.SparkEngine(warehouse).table_path("marts", "customer_credit_score_history")
    for as_of in (MONTH_END, MID_MONTH):
        cursor = duckdb.execute(
            f"select * from read_parquet('{history}/*/*.parquet', hive_partitioning = true) where as_of_date = ?",
            [as_of],
        )
        columns = [d[0] for d in cursor.description]
        month = {row[0]: dict(zip(columns, map(as_text, row), strict=True)) for row in cursor.fetchall()}
        assert differences(month, scenario_duckdb[1][as_of].mart) == []


def test_spark_refuses_a_month_whose_bills_have_not_arrived(spark_scenario):
    """The completeness guard reads Spark's register of deliveries: refused before dbt runs."""
    import datetime as dt

    with pytest.raises(BuildRefused, match="no delivery of bills is dated after 2027-06-30"):
        build(dt.date(2027, 6, 30), target="spark")


def data_tests(report) -> list[str]:
    return sorted(t.name for t in report.tests if t.resource_type == "test")
