"""The same project on Apache Spark, on a real standalone cluster (a master and two workers on loopback,
started by the test with pyspark's spark-class; parquet tables): the deliveries of the cross-delivery
scenario (with 1,000 customers on SPEC's boundaries), loaded in another order than on DuckDB: three of
them first, built at the month-end with every dbt test; then the correction and the
empty delivery, built by a build of the earlier mid-month date, which rebuilds the month-end after it
incrementally (partition overwrite; SPEC 8): the same mart and audit tables as DuckDB, row for row;
every table then equal to a full refresh's; the history keeps each date's partition, the mid-month
one equal to DuckDB's mart of that date, and the star movements between the two dates are the
reference's; both workers ran executors.  The loads and
builds are sessions of one Spark Connect server on the cluster (CREDIT_SCORE_SPARK_REMOTE), whose
warm JVMs make a build after the first about 40 % cheaper than in an application of its own; the full
refresh runs in the default mode, a local session.  (dbt's unit tests test the models' logic on
DuckDB and PostgreSQL; on Spark the same logic is proven on the scenario's data at both dates, which
leaves out 32 unit tests of about 4 s each, a third of the first build.  Each Spark run of the
models costs 1-3 minutes of the suite's two cores.)"""

import contextlib
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from unittest import mock

import duckdb
import jinja2
import pytest
import yaml

from credit_score.build import BuildRefused, build
from credit_score.engines import spark
from credit_score.engines.spark_cluster import connect_server, free_port, hive_metastore_service, standalone_cluster
from credit_score.settings import PROFILES_DIR, RAW_TABLES, spark_metastore_jar
from tests import reference
from tests.conftest import MID_MONTH, MONTH_END
from tests.helpers import (
    EXAMPLES,
    as_history,
    as_text,
    differences,
    load_steps,
    read_published,
)
from tests.test_completeness import check_bad_days, make_data
from tests.warehouses import SparkWarehouse, assert_equal_to_full_refresh, check_explain_equals_duckdbs


def ensure_java() -> None:
    """Spark needs a JVM (17); install Debian's when a fresh machine lacks one (CI runs as root)."""
    if shutil.which("java") or os.geteuid() != 0:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "openjdk-17-jre-headless"], check=True, env=env, capture_output=True
    )


def spark_cli(env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess:
    """`credit-score ARGS --target spark` in a process of its own, as a scheduler runs it."""
    return subprocess.run(
        [sys.executable, "-m", "credit_score.cli", *args, "--target", "spark"],
        env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory):
    """A standalone master and two one-core workers on loopback, for the whole module."""
    ensure_java()
    with standalone_cluster(tmp_path_factory.mktemp("spark-cluster"), workers=2, cores=1, memory="2g") as cluster:
        yield cluster


def ensure_jdbc_driver() -> None:
    """PostgreSQL's JDBC driver for Spark's metastore client: Debian's, installed when missing (as root)."""
    if spark_metastore_jar().is_file() or os.geteuid() != 0:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "libpostgresql-jdbc-java"], check=True, env=env, capture_output=True
    )


@pytest.fixture(scope="module")
def spark_metastore():
    """A Hive metastore database on a PostgreSQL server of the module's (issue 28): the environment
    that points the project at it (CREDIT_SCORE_SPARK_METASTORE_*).  Its tables are created by the
    first command that uses it (the scenario's Connect server)."""
    import psycopg2

    from tests.pg_server import PostgresServer

    ensure_jdbc_driver()
    server = PostgresServer().start()
    try:
        con = psycopg2.connect(host="127.0.0.1", port=server.port, user=server.user, dbname="postgres")
        con.autocommit = True
        con.cursor().execute("create database spark_metastore")
        con.close()
        yield {
            "CREDIT_SCORE_SPARK_METASTORE_URL": f"jdbc:postgresql://127.0.0.1:{server.port}/spark_metastore",
            "CREDIT_SCORE_SPARK_METASTORE_USER": server.user,
            "CREDIT_SCORE_SPARK_METASTORE_PASSWORD": "",
        }
    finally:
        server.stop()


@pytest.fixture(scope="module")
def spark_server(tmp_path_factory, spark_cluster, spark_metastore):
    """A Spark Connect server on the cluster for a new warehouse, its catalog in the PostgreSQL
    metastore: one long-running Spark application (its executors on both workers) whose sessions are
    every load and build of the scenario."""
    warehouse = tmp_path_factory.mktemp("spark")
    with mock.patch.dict(os.environ, spark_metastore):  # the server's settings are read as it starts
        server = connect_server(spark_cluster.logs, warehouse, master=spark_cluster.master_url)
        started = server.__enter__()
    try:
        yield warehouse, started
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(scope="module")
def spark_scenario(scenario, spark_server, spark_metastore):
    """The scenario's deliveries loaded into the server's warehouse, built as of both dates, each
    load and build a session of the Connect server: (warehouse, {as_of: (report, what was published),
    "reader": what a reader of the published mart saw during the second build (MartReads)})."""
    warehouse, server = spark_server
    settings = {
        "CREDIT_SCORE_SPARK_WAREHOUSE": str(warehouse),
        "CREDIT_SCORE_SPARK_REMOTE": server.url,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        # the bills up to October first, built at the month-end with every data test; then
        # the correction of September's bills (and an empty delivery), taken by a build of the earlier
        # mid-month date, which builds the month-end again after it, incrementally (SPEC 8), while
        # another application reads the published mart
        delivered = {step[1]: step for step in scenario.out_of_order()}
        load_steps([delivered[i] for i in ("before-2026-09", "2026-09", "2026-10")], target="spark")
        report = build(MONTH_END, target="spark")
        assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]
        load_steps([delivered[i] for i in ("adjustments", "nothing")], target="spark", replace_first=False)
        engine = spark.SparkEngine(warehouse)
        with reading_the_mart(warehouse, spark_metastore) as reads:
            reads.before = mart_summary(engine)
            earlier = build(MID_MONTH, target="spark")
            reads.after = mart_summary(engine)
            reads.wait_for_one_more()  # a read that may have begun before the build ended
            reads.wait_for_one_more()  # one that began after
        assert earlier.ok, [f"{r.name}: {r.message}" for r in earlier.failed]
        built = {MONTH_END: (report, read_published("spark")), MID_MONTH: (earlier, None), "reader": reads}
        yield warehouse, built
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


READ_THE_MART = """
import sys, time
from pathlib import Path
from pyspark.sql import SparkSession
from credit_score.engines.spark import session_settings
builder = SparkSession.builder.enableHiveSupport().appName("a reader")
for key, value in {**session_settings(Path(sys.argv[1])), "spark.master": "local[1]"}.items():
    builder = builder.config(key, value)
spark = builder.getOrCreate()
while not Path(sys.argv[2]).exists():
    deliveries = spark.sql("select count(*) from raw.deliveries").collect()[0][0]
    mart = spark.sql(
        "select count(*), min(as_of_date), max(as_of_date), sum(credit_score), sum(avg_monthly_spend) "
        "from marts.customer_credit_score"
    ).collect()[0]
    print(deliveries, *mart, flush=True)
    time.sleep(3)  # a few dozen reads during a build, without taking a core from it
"""


def mart_summary(engine) -> str:
    """The published mart's rows, first and last as-of date, sums of scores and of the spend averages
    (as the reader prints them)."""
    files = engine.published_files("marts", "customer_credit_score")
    summary = duckdb.execute(
        "select count(*), min(as_of_date), max(as_of_date), sum(credit_score), sum(avg_monthly_spend) "
        f"from read_parquet({files!r})"
    ).fetchone()
    return " ".join(map(str, summary))


class MartReads:
    """What the reader printed, a line a read: the register's deliveries, then the mart's summary."""

    def __init__(self, process, log):
        self.lines: list[str] = []
        self.process, self.log = process, log
        self.before = self.after = ""
        self.first = 0  # the reads made before the build
        self.drained = threading.Thread(target=lambda: self.lines.extend(process.stdout), daemon=True)
        self.drained.start()

    def wait_for_one_more(self) -> None:
        """Until the reader has read once more (after whatever just happened), or has ended."""
        seen = len(self.lines)
        while len(self.lines) == seen and self.process.poll() is None:
            threading.Event().wait(0.5)

    def mart(self) -> list[str]:
        return [line.split(" ", 1)[1].strip() for line in self.lines]


@contextlib.contextmanager
def reading_the_mart(warehouse, metastore: dict[str, str]):
    """Another Spark application, a reader with a session of its own (as BI's would be), reading the
    register and the published mart every three seconds, through a Hive metastore service over the same
    PostgreSQL database (as an operator's readers would); started and reading before the block,
    stopped after it."""
    stop = warehouse.parent / f"{warehouse.name}.reader-stop"
    log = warehouse.parent / f"{warehouse.name}.reader.log"  # Spark's log: a file, never a full pipe
    with (
        mock.patch.dict(os.environ, metastore),
        hive_metastore_service(warehouse.parent / "hive-metastore") as service,
        log.open("w") as errors,
    ):
        process = subprocess.Popen(
            [sys.executable, "-c", READ_THE_MART, str(warehouse), str(stop)],
            env={**os.environ, "CREDIT_SCORE_SPARK_METASTORE_URL": service},
            stdout=subprocess.PIPE, stderr=errors, text=True,
        )  # fmt: skip
        reads = MartReads(process, log)
        try:
            reads.wait_for_one_more()  # the reader's session is open and has read
            assert reads.lines, log.read_text()[-3000:]
            reads.first = len(reads.lines)
            yield reads
        finally:
            stop.touch()
            process.wait(timeout=120)
            reads.drained.join(timeout=10)
    assert process.returncode == 0, log.read_text()[-3000:]


def test_a_reader_of_the_published_mart_sees_the_previous_build_or_the_next_never_a_mix(spark_scenario):
    """Write-audit-publish on Spark: while a build of the mid-month date ran (its mart is built, then
    the month-end's again with the correction, then tested, then published), another application read
    marts.customer_credit_score every three seconds.  Every read was the mart published before the build
    (the month-end without the correction) or the one after it (with it): never a missing table, never
    the unpublished mid-month mart, never rows of both.  And the catalog was shared all along: every
    read of the register saw the five deliveries."""
    _, built = spark_scenario
    reads = built["reader"]
    assert reads.before != reads.after, "the correction changed the published mart's spend"
    assert MID_MONTH.isoformat() not in reads.before + reads.after
    during = reads.mart()[reads.first :]
    assert len(during) > 10, "the reader read while the build ran"
    assert set(reads.mart()) == {reads.before, reads.after}, sorted(set(reads.mart()))
    assert reads.mart()[-1] == reads.after
    assert {line.split()[0] for line in reads.lines} == {"5"}, reads.lines[:5]


def test_the_work_ran_on_both_workers_of_the_cluster(spark_scenario, spark_cluster):
    """Every load and build was a session of the one Connect server's application on the cluster:
    each worker launched one executor, for it (a local session would launch none; an application per
    load and build, one each), and both executors ran tasks of the loads and builds."""
    assert spark_cluster.executors_launched() == [1, 1]
    tasks = [spark_cluster.tasks_finished(n) for n in (1, 2)]
    assert all(n > 100 for n in tasks), tasks


def test_spark_publishes_what_duckdb_publishes(spark_scenario, scenario_duckdb):
    _, built = spark_scenario
    report, published = built[MONTH_END]
    duckdb_built = scenario_duckdb[1][MONTH_END]
    assert data_tests(report) == duckdb_data_tests(scenario_duckdb), "every data test runs on Spark too"
    assert report.rows_scored == len(duckdb_built.mart)
    assert len(duckdb_built.mart) > 1500
    assert published == duckdb_built.published


def test_spark_history_keeps_each_date_in_its_partition(spark_scenario, scenario_duckdb, scenario):
    """The month-end's partition is DuckDB's mart of that date, the mid-month one (built after the
    correction) DuckDB's mart of the mid-month date from the same five deliveries; the star movements
    from the mid-month date to the month-end are the reference's from the two."""
    warehouse, _ = spark_scenario
    engine = spark.SparkEngine(warehouse)
    scores = {as_of: read_partition(engine, "customer_credit_score_history", as_of) for as_of in (MONTH_END, MID_MONTH)}
    assert differences(scores[MONTH_END], as_history(scenario_duckdb[1][MONTH_END].mart)) == []
    assert differences(scores[MID_MONTH], as_history(scenario_duckdb[1][MID_MONTH].mart)) == []
    assert len(scores[MID_MONTH]) > 500, "the five deliveries' customers, not an empty date on both engines"
    changes = reference.star_changes(scores[MID_MONTH], scores[MONTH_END], MID_MONTH, MONTH_END)
    assert differences(read_partition(engine, "customer_star_changes", MONTH_END), changes) == []
    assert {c["change_type"] for c in changes.values()} >= {"new", "left", "up", "down", "same"}
    wanted = scenario.expected_watchlist(scores[MID_MONTH], scores[MONTH_END], MONTH_END)
    assert differences(read_table(engine, "retention_watchlist"), wanted) == [] and len(wanted) > 0
    matrix = engine.published_files("marts", "star_migration_matrix")
    cells = duckdb.execute(
        f"select as_of_date, from_star_level, to_star_level, customers from read_parquet({matrix!r}, "
        "hive_partitioning = true)"
    ).fetchall()
    counted = {(as_text(source), as_text(target)): n for day, source, target, n in cells if day == MONTH_END}
    assert counted == reference.migration_matrix(changes)
    assert {d for d, *_ in cells} == {MONTH_END}, "the history's first date has no previous"


def read_table(engine, table: str) -> dict[str, dict[str, str]]:
    """A published mart's parquet files (what its view reads), keyed by customer_id."""
    cursor = duckdb.execute(f"select * from read_parquet({engine.published_files('marts', table)!r})")
    columns = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(columns, map(as_text, row), strict=True)) for row in cursor.fetchall()}


def read_partition(engine, table: str, as_of) -> dict[str, dict[str, str]]:
    """One as-of date of a published month-keyed mart's parquet files, keyed by customer_id."""
    cursor = duckdb.execute(
        f"select * from read_parquet({engine.published_files('marts', table)!r}, hive_partitioning = true) "
        "where as_of_date = ?",
        [as_of],
    )
    columns = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(columns, map(as_text, row), strict=True)) for row in cursor.fetchall()}


def test_spark_refuses_a_month_whose_bills_have_not_arrived(spark_scenario):
    """The completeness guard reads Spark's register of deliveries: refused before dbt runs."""
    import datetime as dt

    with pytest.raises(BuildRefused, match="no delivery of bills is dated after 2027-06-30"):
        build(dt.date(2027, 6, 30), target="spark")


def test_spark_lists_its_deliveries(spark_scenario, scenario):
    """`credit-score deliveries` reads Spark's raw parquet."""
    from credit_score.engines.spark import SparkEngine

    listed = {d.delivery_id: d for d in SparkEngine().loaded_deliveries()}
    assert {i: d.delivered_on for i, d in listed.items()} == scenario.deliveries
    assert sum(d.rows["billing"] for d in listed.values()) > 1000 and listed["nothing"].rows["billing"] == 0


def spark_raw(engine) -> dict[str, list[tuple]]:
    """Every row of Spark's raw tables and register, as the next reader of the files finds them."""
    found = {}
    for table in (*RAW_TABLES, "deliveries"):
        path = engine.table_path("raw", table)
        files = path.is_dir() and any(path.glob("delivery_id=*/*.parquet"))
        found[table] = (
            sorted(map(tuple, duckdb.sql(f"select * from {engine._parquet(path)}").fetchall())) if files else []
        )  # noqa: SLF001
    return found


@pytest.fixture(scope="module")
def local_server(tmp_path_factory):
    """A Spark Connect server on a local master for a warehouse apart from the scenario's, whose tests
    load it afresh: (warehouse, server).  A JVM started once for the tests that load small deliveries of
    their own, each command a session of it, as a scheduler's commands would be."""
    folder = tmp_path_factory.mktemp("local-server")
    warehouse = folder / "spark"
    with connect_server(folder / "server", warehouse, master="local[1]") as server:
        yield warehouse, server


def test_a_spark_load_killed_at_any_point_is_all_or_nothing(tmp_path, local_server):
    """Issue 25 on Spark, whose parquet tables have no transaction: `load --list FILE --replace` killed
    with kill -9 while it stages the deliveries leaves raw exactly as it was; killed while it moves them
    into raw (after its journal, the commit point), raw is refused to readers until the next command
    finishes the load: raw then holds the listed deliveries (and that command's own), never a mix of
    before and after.  Then `deliveries remove` (the same journal) takes exactly one delivery out of
    every raw table and the register.  (In its own warehouse, each command a session of a Connect
    server on a local master: a command killed with kill -9 is a client gone, the server stays.)"""
    from credit_score.engines.spark import JOURNAL, STAGING, SparkEngine
    from tests.test_load import GOOD, HEADER, _listing

    warehouse, server = local_server
    env = {
        **os.environ,
        "CREDIT_SCORE_SPARK_WAREHOUSE": str(warehouse),
        "CREDIT_SCORE_SPARK_REMOTE": server.url,  # six commands, sessions of one application
        "SPARK_LOCAL_IP": "127.0.0.1",
    }

    def cli(*args, kill_at=None):
        killing = {"CREDIT_SCORE_SPARK_LOAD_KILL_AT": kill_at} if kill_at else {}
        return spark_cli({**env, **killing}, *args, timeout=300)

    first = cli("load", str(EXAMPLES), "--delivery", "first", "--delivered-on", "2026-11-05", "--replace")
    assert first.returncode == 0, first.stderr  # raw emptied first: the server's warehouse is shared
    engine = SparkEngine(warehouse)
    before = spark_raw(engine)
    assert {row[-1] for row in before["deliveries"]} == {"first"}
    listing = _listing(tmp_path, {"a": None, "b": HEADER + GOOD, "c": HEADER + GOOD.replace(b"B1", b"C1")})

    staging = cli("load", "--list", str(listing), "--replace", kill_at="staged")
    assert staging.returncode == -signal.SIGKILL, staging.stderr
    assert (warehouse / STAGING).is_dir() and not (warehouse / JOURNAL).exists()
    assert spark_raw(engine) == before, "killed before its commit point, the load changed nothing"

    moving = cli("load", "--list", str(listing), "--replace", kill_at="moving")
    assert moving.returncode == -signal.SIGKILL, moving.stderr
    assert (warehouse / JOURNAL).exists(), "killed after its commit point, the journal stays"
    listed = cli("deliveries")
    assert listed.returncode == 1 and "stopped midway" in listed.stderr, listed.stdout + listed.stderr

    # the next command finishes the journal first, then does its own work
    after = cli("load", str(EXAMPLES), "--delivery", "d", "--delivered-on", "2026-12-06")
    assert after.returncode == 0, after.stderr
    assert "finishing the load" in after.stdout + after.stderr
    assert not (warehouse / JOURNAL).exists() and not (warehouse / STAGING).exists()
    assert not list(warehouse.glob("incoming-*"))
    once = {t: len(reference.read_csv(EXAMPLES / f"{t}.csv")) for t in RAW_TABLES}
    assert {d.delivery_id: d.rows for d in engine.loaded_deliveries()} == {
        "a": once,
        "b": {"subscriptions": 0, "billing": 1, "suspensions": 0},
        "c": {"subscriptions": 0, "billing": 1, "suspensions": 0},
        "d": once,
    }
    bills = {row[0] for row in spark_raw(engine)["billing"]}
    assert {"B1", "C1"} <= bills

    # `deliveries remove` goes through the same journal: exactly that delivery leaves every raw table
    removed = cli("deliveries", "remove", "b")
    assert removed.returncode == 0, removed.stderr
    assert [d.delivery_id for d in engine.loaded_deliveries()] == ["a", "c", "d"]
    remaining = spark_raw(engine)
    assert "B1" not in {row[0] for row in remaining["billing"]} and "C1" in {row[0] for row in remaining["billing"]}
    assert {row[-1] for table in RAW_TABLES for row in remaining[table]} == {"a", "c", "d"}
    assert not (warehouse / JOURNAL).exists()

    # a server whose tables are not the warehouse's: refused before anything is read or written
    env["CREDIT_SCORE_SPARK_WAREHOUSE"] = str(tmp_path / "elsewhere")
    for command in (["build", "--as-of", "2026-10-31"], ["load", str(EXAMPLES), "--delivered-on", "2026-11-05"]):
        refused = cli(*command)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert f"keeps its tables in file:{warehouse}/tables, not in {tmp_path}/elsewhere/tables" in refused.stderr
    assert not (tmp_path / "elsewhere" / "tables").exists()


def test_a_spark_connect_server_that_does_not_answer_is_named_at_once(tmp_path):
    """A Connect server that is down (or a wrong port): `build` and `load` exit 75 (a scheduler may
    retry) within seconds, in one line naming the address, instead of pyspark's client retrying for
    many minutes (it did: five minutes and still waiting); nothing is written."""
    url = f"sc://127.0.0.1:{free_port()}"  # a port nobody listens on
    env = {**os.environ, "CREDIT_SCORE_SPARK_WAREHOUSE": str(tmp_path / "spark"), "CREDIT_SCORE_SPARK_REMOTE": url}
    for command in (["build", "--as-of", "2026-10-31"], ["load", str(EXAMPLES), "--delivered-on", "2026-11-05"]):
        done = spark_cli(env, *command, timeout=60)
        assert done.returncode == 75, done.stdout + done.stderr
        assert f"no Spark Connect server answers at {url}" in done.stderr.splitlines()[0], done.stderr
        assert len(done.stderr.splitlines()) <= 2, done.stderr
    assert not (tmp_path / "spark" / "tables").exists(), "nothing was read or written"


def test_the_cluster_command_stopped_by_sigterm_stops_its_jvms(tmp_path):
    """`python -m credit_score.engines.spark_cluster` stopped as a service manager or `timeout` stops
    it (SIGTERM, not Ctrl-C) stops its master and worker first: no JVM of it is left running."""
    ensure_java()
    logs = tmp_path / "cluster"
    command = [sys.executable, "-m", "credit_score.engines.spark_cluster", "--workers", "1", "--logs", str(logs)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    printed = []
    for line in process.stdout:
        printed.append(line)
        if "stops it" in line:
            break
    master = next(line.split()[3] for line in printed if line.startswith("Spark standalone cluster:"))
    assert spark.answers(master, default_port=7077) and running(str(logs)), printed
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 0, printed + process.stdout.readlines()
    assert not running(str(logs)), "the worker's JVM (its work folder is under the logs)"
    assert not spark.answers(master, 2, default_port=7077), "the master's JVM"


def running(text: str) -> list[int]:
    """The processes whose command line mentions text."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if text in cmdline.read_bytes().decode(errors="replace"):
                found.append(int(cmdline.parent.name))
    return found


def test_explain_on_spark_says_what_it_says_on_duckdb(spark_scenario, scenario_duckdb):
    """SPEC 8's explain reads Spark's own tables (parquet, session mode): each customer's explanation,
    parts, bills (ids, amounts, deliveries, file lines) and suspensions equal DuckDB's."""
    check_explain_equals_duckdbs("spark", scenario_duckdb)


HOLD_THE_METASTORE = """
import sys, time
from pathlib import Path
from pyspark.sql import SparkSession
from credit_score.engines.spark import session_settings
builder = SparkSession.builder.enableHiveSupport().appName("a reader")
for key, value in {**session_settings(Path(sys.argv[1])), "spark.master": "local[1]"}.items():
    builder = builder.config(key, value)
builder.getOrCreate().sql("show databases").collect()
print("holding", flush=True)
time.sleep(600)
"""


def test_another_spark_application_holding_the_metastore_makes_load_and_build_wait(spark_cluster, tmp_path):
    """Issue 25 on Spark: a session holding the warehouse's embedded Derby metastore (a reader's
    spark-sql, a notebook) makes `load` and `build` exit 75 at once, naming the metastore and the
    process, instead of failing deep in dbt's run with Derby's traceback."""
    warehouse = tmp_path / "spark"
    env = {
        **{k: v for k, v in os.environ.items() if k != "CREDIT_SCORE_SPARK_REMOTE"},
        "CREDIT_SCORE_SPARK_WAREHOUSE": str(warehouse),
        "CREDIT_SCORE_SPARK_METASTORE_WAIT": "2",
    }
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_METASTORE, str(warehouse)], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "holding"
        for command in (["build", "--as-of", "2026-10-31"], ["load", str(EXAMPLES), "--delivered-on", "2026-11-05"]):
            done = spark_cli(env, *command, timeout=120)
            assert done.returncode == 75, done.stdout + done.stderr
            assert f"{warehouse / 'metastore_db'} is held by another process (java, PID " in done.stderr
            assert len(done.stderr.splitlines()) <= 3, done.stderr
        assert not (warehouse / "tables" / "raw.db").exists(), "nothing was loaded"
    finally:
        holder.kill()
        holder.wait()


def test_spark_refuses_the_bad_days_of_missing_bills(spark_scenario, local_server, tmp_path, monkeypatch):
    """Completeness from content (SPEC 6), read from Spark's raw parquet before dbt runs: October never
    loaded, the history loaded without its date, a 3-bill correction for a missing November.  (In the
    local server's warehouse, each case's deliveries loaded afresh, raw replaced: three loads, each a
    session of a JVM already warm; the scenario's warehouse is left as it was.)"""
    warehouse, server = local_server
    monkeypatch.setenv("CREDIT_SCORE_SPARK_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("CREDIT_SCORE_SPARK_REMOTE", server.url)
    monkeypatch.delenv("CREDIT_SCORE_SPARK_MASTER", raising=False)
    check_bad_days(make_data(tmp_path / "data"), tmp_path, target="spark")


def data_tests(report) -> list[str]:
    return sorted(t.name for t in report.tests if t.resource_type == "test")


def duckdb_data_tests(scenario_duckdb) -> list[str]:
    """Every data test DuckDB ran over the scenario: its first build runs them all, a later one leaves
    out the tests of the seeds and the time spine it did not rebuild (build.static_fingerprint); the
    other engines rebuild those each time."""
    return sorted(set().union(*(data_tests(built.report) for built in scenario_duckdb[1].values())))


def _run_sql(warehouse: str, statements: list[str], parent_pid: int) -> None:
    """In a Spark application of its own (a session of the scenario's Connect server): the statements."""
    session = spark._spark_session(warehouse, parent_pid)
    try:
        for statement in statements:
            session.sql(statement).collect()
    finally:
        session.stop()


def test_spark_puts_back_the_months_of_a_build_that_failed_or_was_killed(spark_scenario):
    """history.py on Spark, without a build (what dbt would have written is written here): a build of
    2026-11-30 marks its month and writes it into the built history, then dies; the next build (of the
    month-end) puts November back as published (none: it is dropped) before it marks its own month,
    then writes the month-end wrong and fails: its month is put back from the published one.  The
    built history then holds the months it held, the month-end's rows those published, no mark left,
    and nothing published changed."""
    warehouse, _ = spark_scenario
    engine = spark.SparkEngine(warehouse)
    built, published = "marts_unpublished.customer_credit_score_history", "marts.customer_credit_score_history"
    before, snapshot = read_published("spark"), spark.read_published(warehouse)["version"]
    months = engine._built_months()
    assert months == [MID_MONTH.isoformat(), MONTH_END.isoformat()]
    history = engine.table_path("marts_unpublished", "customer_credit_score_history")
    files = engine.published_files("marts", "customer_credit_score_history")

    def month_end(built_side: bool) -> list[tuple]:
        """The month-end's rows of the built history, or of the published one (its partition column left out)."""
        if built_side:
            return duckdb.execute(
                f"select * from read_parquet('{history}/as_of_date={MONTH_END}/*.parquet', hive_partitioning = false) "
                "order by customer_id"
            ).fetchall()
        return duckdb.execute(
            f"select * exclude (as_of_date) from read_parquet({files!r}, hive_partitioning = true) "
            "where cast(as_of_date as date) = ? order by customer_id",
            [MONTH_END],
        ).fetchall()

    columns = [d[0] for d in duckdb.execute(f"select * from read_parquet({files!r}) limit 0").description]
    kept = [c for c in columns if c != "as_of_date"]
    november = dt.date(2026, 11, 30)
    engine.before_dbt(november)
    assert engine._pending_months() == [november.isoformat()]
    statement = (
        f"insert into {built} select {', '.join(kept)}, date '{november}' from {built} "
        f"where as_of_date = date '{MONTH_END}'"
    )
    engine._run_step(_run_sql, [statement], what="writing November")
    assert engine._built_months() == [*months, november.isoformat()]
    # killed here; the next build:
    engine.before_dbt(MONTH_END)
    assert engine._built_months() == months and engine._pending_months() == [MONTH_END.isoformat()]
    wrong = ", ".join("credit_score + 1 as credit_score" if c == "credit_score" else c for c in kept)
    engine._run_step(_run_sql, [
        f"create or replace temporary view wrong as select {wrong}, as_of_date from {published} "
        f"where as_of_date = date '{MONTH_END}'",
        f"alter table {built} drop partition (as_of_date = date '{MONTH_END}')",
        f"insert into {built} select * from wrong",
    ], what="writing the month-end wrong")  # fmt: skip
    assert month_end(built_side=True) != month_end(built_side=False)
    engine.after_dbt(MONTH_END, published=False)
    assert engine._built_months() == months and engine._pending_months() is None
    assert month_end(built_side=True) == month_end(built_side=False) and len(month_end(built_side=False)) > 1500
    assert read_published("spark") == before and spark.read_published(warehouse)["version"] == snapshot


def test_spark_built_incrementally_equals_a_full_refresh(
    spark_scenario, scenario, spark_server, spark_metastore, monkeypatch
):
    """SPEC 6's invariant on Spark's partition overwrite: after the incremental builds (sessions of the
    Connect server), every table of marts, audit and intermediate equals a --full-refresh's, built in
    the default mode (dbt's own local Spark session, the profile's `spark` target, on the same
    PostgreSQL metastore) once the server has stopped.  Before it, October's delivery arrives once more
    under another id and the models (not the data tests: the fixture's builds ran those) run once more
    incrementally, so that every validation model judges kept rows again, with their keys staged in a
    table (var kept_keys_literal_limit at 0: a month of a million customers' subscriptions updates more
    than 10,000).  Late in the file: it rebuilds everything, and the server is gone after it."""
    warehouse, server = spark_server
    load_steps(
        [(scenario.folder("2026-10"), "2026-10-again", dt.date(2026, 11, 6))], target="spark", replace_first=False
    )
    again = SparkWarehouse()
    again.variables = {"kept_keys_literal_limit": 0}
    assert again.run(MONTH_END) is None, "a new delivery only: the models add to what they kept"
    staged = {r.name for r in again.outcomes[0].results if r.compiled_code and "__staged_keys" in r.compiled_code}
    assert {"int_billing_validated", "int_subscriptions_validated", "int_suspensions_validated"} <= staged, staged
    server.stop()
    monkeypatch.delenv("CREDIT_SCORE_SPARK_REMOTE")
    monkeypatch.delenv("CREDIT_SCORE_SPARK_MASTER", raising=False)  # local[*], the default
    for name, value in spark_metastore.items():
        monkeypatch.setenv(name, value)
    assert not (warehouse / "metastore_db").exists(), "no Derby metastore: the catalog is PostgreSQL's"
    published = SparkWarehouse().engine.published_tables()
    assert sorted(f"marts.{t}" for t in metastore_tables(spark_metastore, "marts")) == [
        name for name in published if name.startswith("marts.")
    ], "the published marts are the views the last publish recorded, and nothing else"
    assert not any((warehouse / "tables" / "marts.db").glob("*")), "no table of marts is written in place"
    assert_equal_to_full_refresh(SparkWarehouse(), MONTH_END)
    # the full refresh read each validation model's repeated keys from the table it wrote first, and
    # dropped the table once the model was built, as the last incremental build did its kept keys
    # (docs/performance.md)
    compiled = SparkWarehouse().engine.dbt_dir / "target" / "compiled" / "credit_score" / "models" / "intermediate"
    for model in ("int_billing_validated", "int_subscriptions_validated", "int_suspensions_validated"):
        sql = (compiled / "validation" / f"{model}.sql").read_text(encoding="utf-8")
        assert f"from intermediate.{model}__staged_keys" in sql, model
    assert not [t for t in metastore_tables(spark_metastore, "intermediate") if t.endswith("__staged_keys")]
    # the incremental builds wrote their computed rows into a table first (get_insert_overwrite_sql)
    # and dropped it after; the equality above is what proves the kept rows were written back
    assert not [t for t in metastore_tables(spark_metastore, "intermediate") if t.endswith("__staged_rows")]


def metastore_tables(environment: dict[str, str], database: str) -> list[str]:
    """The tables of a database (a Spark schema) that the PostgreSQL metastore records."""
    import psycopg2

    port = environment["CREDIT_SCORE_SPARK_METASTORE_URL"].rsplit(":", 1)[1].split("/")[0]
    con = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="spark_metastore")
    try:
        cursor = con.cursor()
        cursor.execute(
            'select t."TBL_NAME" from "TBLS" t join "DBS" d on d."DB_ID" = t."DB_ID" where d."NAME" = %s', [database]
        )
        return [name for (name,) in cursor.fetchall()]
    finally:
        con.close()


def test_the_profile_sets_what_the_harness_sets(tmp_path, monkeypatch):
    """dbt's own Spark session (the profile's `spark` target) and the harness's loads and Connect
    server open the same catalog with the same settings: Derby under the warehouse by default, the
    PostgreSQL metastore when CREDIT_SCORE_SPARK_METASTORE_URL names one.  A session of a Connect
    server (the `spark_connect` target) takes the runtime settings the harness's own sessions take."""
    outputs = yaml.safe_load((PROFILES_DIR / "profiles.yml").read_text())["credit_score"]["outputs"]
    missing = object()

    def env_var(name, default=missing):
        if name in os.environ:
            return os.environ[name]
        assert default is not missing, name
        return default

    def rendered(target: str = "spark") -> dict[str, str]:
        render = lambda v: jinja2.Template(str(v)).render(env_var=env_var)  # noqa: E731
        return {key: render(value) for key, value in outputs[target]["server_side_parameters"].items()}

    monkeypatch.setenv("CREDIT_SCORE_SPARK_WAREHOUSE", str(tmp_path))
    for name in ("URL", "USER", "PASSWORD", "JAR"):
        monkeypatch.delenv(f"CREDIT_SCORE_SPARK_METASTORE_{name}", raising=False)
    assert rendered() == spark.session_settings(tmp_path)
    assert rendered()["spark.hadoop.javax.jdo.option.ConnectionURL"].startswith(f"jdbc:derby:;databaseName={tmp_path}/")
    monkeypatch.setenv("CREDIT_SCORE_SPARK_METASTORE_URL", "jdbc:postgresql://db.example:5433/hive")
    monkeypatch.setenv("CREDIT_SCORE_SPARK_METASTORE_USER", "hive")
    monkeypatch.setenv("CREDIT_SCORE_SPARK_METASTORE_PASSWORD", "secret")
    assert rendered() == spark.session_settings(tmp_path)
    assert rendered()["spark.hadoop.javax.jdo.option.ConnectionDriverName"] == "org.postgresql.Driver"
    assert rendered()["spark.hadoop.javax.jdo.option.ConnectionUserName"] == "hive"
    monkeypatch.setenv("CREDIT_SCORE_SPARK_METASTORE_URL", "thrift://hive-metastore.example:9083")
    assert rendered() == spark.session_settings(tmp_path)
    assert rendered()["spark.hadoop.hive.metastore.uris"] == "thrift://hive-metastore.example:9083"
    assert rendered("spark_connect") == spark.runtime_settings()


def test_a_metastore_that_does_not_answer_is_named_at_once(tmp_path):
    """A metastore database or service that is down: `load` and `build` exit 75 in one line naming its
    URL; a URL that is neither PostgreSQL's nor a service's: exit 1 saying what is expected.  Nothing
    is written."""
    url = f"jdbc:postgresql://127.0.0.1:{free_port()}/metastore"  # nobody listens there
    env = {
        **{k: v for k, v in os.environ.items() if k != "CREDIT_SCORE_SPARK_REMOTE"},
        "CREDIT_SCORE_SPARK_WAREHOUSE": str(tmp_path / "spark"),
        "CREDIT_SCORE_SPARK_METASTORE_URL": url,
    }
    for command in (["build", "--as-of", "2026-10-31"], ["load", str(EXAMPLES), "--delivered-on", "2026-11-05"]):
        done = spark_cli(env, *command, timeout=60)
        assert done.returncode == 75, done.stdout + done.stderr
        assert f"the Spark metastore's database at {url} does not answer" in done.stderr, done.stderr
        assert len(done.stderr.splitlines()) <= 2, done.stderr
    as_of = ["--as-of", "2026-10-31"]
    service = f"thrift://127.0.0.1:{free_port()}"  # a Hive metastore service that is down
    done = spark_cli({**env, "CREDIT_SCORE_SPARK_METASTORE_URL": service}, "build", *as_of, timeout=60)
    assert done.returncode == 75 and f"no Hive metastore service answers at {service}" in done.stderr, done.stderr
    done = spark_cli(
        {**env, "CREDIT_SCORE_SPARK_METASTORE_URL": "jdbc:mysql://127.0.0.1/hive"}, "build", *as_of, timeout=60
    )
    assert done.returncode == 1 and "a PostgreSQL database's JDBC URL is expected" in done.stderr, done.stderr
    assert not (tmp_path / "spark" / "tables").exists(), "nothing was read or written"


def test_spark_keeps_the_raw_numbers_the_owners_alone(spark_scenario):
    """The raw tables and the models written by the cluster's executors hold raw numbers (privacy.py):
    every file of the warehouse is the owner's alone, though the workers run with the usual umask."""
    import stat

    warehouse, _ = spark_scenario
    files = [p for folder in ("tables", "published") for p in (warehouse / folder).rglob("*") if p.is_file()]
    assert any("raw.db" in p.parts for p in files) and any(p.suffix == ".parquet" for p in files)
    assert any("published" in p.parts for p in files), "the month-keyed marts' published snapshots"
    opened = [f"{p.relative_to(warehouse)}: {oct(stat.S_IMODE(p.stat().st_mode))}" for p in files
              if stat.S_IMODE(p.stat().st_mode) & 0o077]  # fmt: skip
    assert opened == [], opened[:10]


def test_spark_builds_the_time_spine_of_the_semantic_layer(spark_scenario):
    """marts.dim_dates (dbt's date_spine) on Spark: every day from 2000-01-01 to 2040-12-31, once."""
    warehouse, _ = spark_scenario
    engine = spark.SparkEngine(warehouse)
    days = duckdb.execute(
        f"select count(*), count(distinct date_day), min(date_day), max(date_day) "
        f"from read_parquet({engine.published_files('marts', 'dim_dates')!r})"
    ).fetchone()
    total = (dt.date(2041, 1, 1) - dt.date(2000, 1, 1)).days
    assert days == (total, total, dt.date(2000, 1, 1), dt.date(2040, 12, 31))


def test_a_build_of_an_earlier_date_keeps_the_newest_in_front_on_spark(spark_scenario, scenario_duckdb):
    """SPEC 8 on Spark: the mid-month date built after the month-end (with a correction delivered in
    between) rewrites its month of the history, and the month-end, built again last and incrementally,
    stays what BI reads: every published table is DuckDB's month-end (test_spark_publishes_what_duckdb_
    publishes), and the mart holds the month-end only."""
    warehouse, built = spark_scenario
    report, _ = built[MID_MONTH]
    assert report.built == [MID_MONTH, MONTH_END] and report.newest_again == MONTH_END
    assert report.full_refresh is None, "new deliveries only: the build adds to what it kept"
    assert report.rows_scored == len(scenario_duckdb[1][MONTH_END].mart)
    mart = read_table(spark.SparkEngine(warehouse), "customer_credit_score")
    assert {row["as_of_date"] for row in mart.values()} == {MONTH_END.isoformat()}
