"""The same project on Apache Spark, on a real standalone cluster (a master and two workers on loopback,
started by the test with pyspark's spark-class; parquet tables): the deliveries of the cross-delivery
scenario (with 1,000 customers on SPEC's boundaries), loaded in another order than on DuckDB, publish
the same mart and audit tables as DuckDB, row for row, at a month-end (a whole build: every dbt test
and unit test) and a mid-month date (the models), the last two deliveries built incrementally
(partition overwrite), every table then equal to a full refresh's; the history keeps each date's
partition; both workers ran executors."""

import os
import shutil
import subprocess

import duckdb
import pytest

from credit_score.build import BuildRefused, build
from credit_score.engines import spark
from credit_score.engines.spark_cluster import standalone_cluster
from tests.conftest import MID_MONTH, MONTH_END
from tests.helpers import as_history, as_text, differences, load_steps, project_unit_tests, read_published
from tests.warehouses import SparkWarehouse, assert_equal_to_full_refresh


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
def spark_cluster(tmp_path_factory):
    """A standalone master and two one-core workers on loopback, for the whole module."""
    ensure_java()
    with standalone_cluster(tmp_path_factory.mktemp("spark-cluster"), workers=2, cores=1, memory="2g") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def spark_scenario(tmp_path_factory, scenario, spark_cluster):
    """The scenario's deliveries loaded into a new Spark warehouse on the cluster, built as of both
    dates: (warehouse, {as_of: (report, what was published)})."""
    warehouse = tmp_path_factory.mktemp("spark")
    settings = {
        "CREDIT_SCORE_SPARK_WAREHOUSE": str(warehouse),
        "CREDIT_SCORE_SPARK_MASTER": spark_cluster.master_url,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        # three deliveries first, their models built; then the other two, built incrementally
        # (the late subscriptions turn the earlier unknown_customer bills into accepted ones)
        steps = scenario.out_of_order()
        load_steps(steps[:3], target="spark")
        assert SparkWarehouse().run(MONTH_END) is None
        load_steps(steps[3:], target="spark", replace_first=False)
        # the month-end: a whole build, with the audit and the rules' unit tests (the SQL dialect)
        report = build(MONTH_END, target="spark", unit_tests=True)
        assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]
        assert report.full_refresh is None, "new deliveries only: the build adds to what it kept"
        built = {MONTH_END: (report, read_published("spark"))}
        # mid-month: the models alone (on Spark dbt's tables are what BI reads); the audit's SQL is
        # the same at any date and ran above, and each data test costs a Spark job of ~2 s
        assert SparkWarehouse().run(MID_MONTH) is None, "the same deliveries: the run adds to what it kept"
        built[MID_MONTH] = None, read_published("spark")
        yield warehouse, built
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_the_work_ran_on_both_workers_of_the_cluster(spark_scenario, spark_cluster):
    """Each load and build is a Spark application on the cluster: both workers launched executors
    for it (a local session would launch none)."""
    launched = spark_cluster.executors_launched()
    assert len(launched) == 2 and all(n >= 8 for n in launched), launched  # 5 loads + 3 builds


@pytest.mark.parametrize("as_of", [MONTH_END, MID_MONTH], ids=str)
def test_spark_publishes_what_duckdb_publishes(spark_scenario, scenario_duckdb, as_of):
    _, built = spark_scenario
    report, published = built[as_of]
    duckdb_built = scenario_duckdb[1][as_of]
    if report is not None:  # the month-end build: every data test and the rules' unit tests ran
        assert data_tests(report) == data_tests(duckdb_built.report), "every data test runs on Spark too"
        unit_tests = [t for t in report.tests if t.resource_type == "unit_test"]
        assert {t.name for t in unit_tests} == project_unit_tests() and all(t.status == "pass" for t in unit_tests)
        assert report.rows_scored == len(duckdb_built.mart)
    assert len(duckdb_built.mart) > 1500
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
        assert differences(month, as_history(scenario_duckdb[1][as_of].mart)) == []


def test_spark_refuses_a_month_whose_bills_have_not_arrived(spark_scenario):
    """The completeness guard reads Spark's register of deliveries: refused before dbt runs."""
    import datetime as dt

    with pytest.raises(BuildRefused, match="no delivery of bills is dated after 2027-06-30"):
        build(dt.date(2027, 6, 30), target="spark")


def data_tests(report) -> list[str]:
    return sorted(t.name for t in report.tests if t.resource_type == "test")


def test_spark_built_incrementally_equals_a_full_refresh(spark_scenario):
    """SPEC 6's invariant on Spark's partition overwrite: after the incremental builds, every table of
    marts, audit and intermediate equals a --full-refresh's.  Last in the file: it rebuilds everything."""
    assert_equal_to_full_refresh(SparkWarehouse(), MID_MONTH)
