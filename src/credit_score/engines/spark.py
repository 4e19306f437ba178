"""Apache Spark in session mode: deliveries to parquet tables partitioned by delivery, the mart read back.

Each file is read by DuckDB exactly as the DuckDB engine reads it (same checks, same messages) and
written as Parquet with the delivery's columns; then a local SparkSession - in a child process that
dies with its parent, because the embedded Derby metastore admits one JVM at a time - replaces the
delivery's partition (`delivery_id=<id>`) of each raw table and its row of raw.deliveries.  Several
deliveries loaded together (`credit-score load --list`) are all checked first, then saved in order by
one Spark application.  A file that cannot be read is refused before Spark is touched.

Spark's parquet tables have no transaction across tables, so a load (and a removal) is all or nothing
by a journal: every delivery is first written to staging/ beside the tables, then load-journal.json
is written whole (the commit point), then the staged folders are renamed into their partitions'
places and the partitions registered.  Killed before the journal, raw is untouched and the next
command removes the staged files; killed after, the next command that takes the warehouse's lock
(load, build) finishes the journal first.  Either way the next reader finds raw before the load or
after it, never between.

The session's settings match the `spark` target of profiles/profiles.yml.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import multiprocessing
import os
import re
import shutil
import signal
import struct
import tempfile
import time
from pathlib import Path

import duckdb

from credit_score import console, privacy
from credit_score.deliveries import (
    Delivery,
    DeliveryRecord,
    LoadedDelivery,
    LoadError,
    MonthArrived,
    arrived_from_rows,
    bill_months_sql,
    export_checked,
    load_time,
    loaded_deliveries_sql,
    loaded_from_rows,
    query,
)
from credit_score.engines import Engine, Provenance, WarehouseBusy
from credit_score.engines.duckdb import raw_columns
from credit_score.faults import StepFailed
from credit_score.history import MONTHLY, published_populations_sql
from credit_score.ledger import full_refresh_reason
from credit_score.settings import (
    MARTS_SCHEMA,
    PUBLISHED_SCHEMAS,
    RAW_TABLES,
    spark_executor_memory,
    spark_master,
    spark_metastore_jar,
    spark_metastore_password,
    spark_metastore_url,
    spark_metastore_user,
    spark_remote,
    spark_shuffle_partitions,
    spark_warehouse,
    unpublished,
)
from credit_score.sql import QueryFailed

# Where dbt keeps the ledger of incremental builds: the profile's own schema (profiles/profiles.yml).
LEDGER_SCHEMA = "credit_score"
SPARK_TYPES = {"varchar": "string", "bigint": "bigint", "date": "date", "timestamp": "timestamp"}


def session_settings(warehouse: Path) -> dict[str, str]:
    """The same settings as the profile's `spark` target (session method)."""
    return {
        "spark.master": spark_master(),
        "spark.executor.memory": spark_executor_memory(),
        "spark.sql.warehouse.dir": f"{warehouse}/tables",
        **metastore_settings(warehouse),
        **runtime_settings(),
        "spark.ui.enabled": "false",
        "spark.driver.memory": "4g",
        "spark.driver.extraJavaOptions": f"-Dderby.stream.error.file={warehouse}/derby.log",
        # the tables hold raw numbers: files 0600, folders 0700 (privacy.py)
        "spark.hadoop.fs.permissions.umask-mode": "077",
    }


POSTGRES_DRIVER, DERBY_DRIVER = "org.postgresql.Driver", "org.apache.derby.jdbc.EmbeddedDriver"


def metastore_settings(warehouse: Path) -> dict[str, str]:
    """Where Spark's catalog lives: the embedded Derby metastore under the warehouse folder (one Spark
    application at a time), the PostgreSQL database of CREDIT_SCORE_SPARK_METASTORE_URL
    (jdbc:postgresql://...), or the Hive metastore service it names (thrift://...), which a build,
    readers and other applications share at once (prepare_metastore checks it first)."""
    url = spark_metastore_url()
    database = url if url and url.startswith("jdbc:") else None
    service = url if url and url.startswith("thrift://") else ""
    return {
        "spark.hadoop.javax.jdo.option.ConnectionURL": database
        or f"jdbc:derby:;databaseName={warehouse}/metastore_db;create=true",
        "spark.hadoop.javax.jdo.option.ConnectionDriverName": POSTGRES_DRIVER if database else DERBY_DRIVER,
        "spark.hadoop.javax.jdo.option.ConnectionUserName": spark_metastore_user(),
        "spark.hadoop.javax.jdo.option.ConnectionPassword": spark_metastore_password(),
        "spark.hadoop.hive.metastore.uris": service,  # empty: the client opens the database itself
        # the tables prepare_metastore created are the schema; Hive 2.3 would otherwise want its own
        # version row, written by Hive's schematool (which pyspark does not ship)
        "spark.hadoop.hive.metastore.schema.verification": "false",
        "spark.driver.extraClassPath": str(spark_metastore_jar()),
        # Hive 2.3 cannot filter partitions by a date key in PostgreSQL: its SQL casts every table's
        # partition values (a delivery id too) to date, and its other way refuses keys that are not
        # strings.  Spark then lists the table's partitions and prunes them itself (a few dozen).
        "spark.sql.hive.metastorePartitionPruning": "false" if database else "true",
        "spark.sql.hive.metastorePartitionPruningFallbackOnException": "true",
    }


def prepare_metastore() -> None:
    """With CREDIT_SCORE_SPARK_METASTORE_URL: check that the service or the database answers, and that
    the database holds Hive's metastore tables, creating them the first time (DataNucleus's SchemaTool
    over the metastore's own mapping, from the jars pyspark ships, under an advisory lock so that two
    first commands create them once).  Spark cannot create them itself on PostgreSQL: DataNucleus
    adds them one at a time, as they are first used, and its DDL waits on the lock of its own open
    transaction for ever.  A service or database that does not answer: WarehouseBusy (exit 75),
    naming it."""
    url = spark_metastore_url()
    if url is None:
        return
    from urllib.parse import urlsplit

    where = urlsplit(url.removeprefix("jdbc:"))
    if where.scheme == "thrift":  # a Hive metastore service: it owns its database
        if not answers(url, default_port=9083):
            raise WarehouseBusy(f"no Hive metastore service answers at {url} (CREDIT_SCORE_SPARK_METASTORE_URL)")
        return
    if where.scheme != "postgresql" or not where.path.strip("/"):
        raise SystemExit(
            f"CREDIT_SCORE_SPARK_METASTORE_URL={url}: a PostgreSQL database's JDBC URL is expected, "
            "jdbc:postgresql://HOST:PORT/DATABASE, or a Hive metastore service's, thrift://HOST:PORT (docs/engines.md)"
        )
    jar = spark_metastore_jar()
    if not jar.is_file():
        raise SystemExit(
            f"{jar}: PostgreSQL's JDBC driver is not there, and Spark needs it for the metastore at {url}: "
            "install Debian's libpostgresql-jdbc-java, or set CREDIT_SCORE_SPARK_METASTORE_JAR to the driver's jar"
        )
    import psycopg2

    try:
        con = psycopg2.connect(
            host=where.hostname or "localhost", port=where.port or 5432, dbname=where.path.strip("/"),
            user=spark_metastore_user(), password=spark_metastore_password(), connect_timeout=10,
        )  # fmt: skip
    except psycopg2.OperationalError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WarehouseBusy(f"the Spark metastore's database at {url} does not answer ({first})") from None
    try:
        con.autocommit = True
        cursor = con.cursor()
        cursor.execute("select pg_advisory_lock(hashtext('credit_score spark metastore'))")
        cursor.execute("""select to_regclass('"DBS"') is not null and to_regclass('"TBLS"') is not null""")
        if not cursor.fetchone()[0]:
            console.note(f"creating the Hive metastore's tables in {url} (the first time)")
            _create_metastore_tables(url)
    finally:
        con.close()  # lets go of the advisory lock


def _create_metastore_tables(url: str) -> None:
    """DataNucleus's SchemaTool: Hive 2.3's metastore tables (the mapping in hive-metastore's jar, with
    the identifier naming Hive reads them with) created in the database of url."""
    import subprocess
    import zipfile

    from credit_score.engines.spark_cluster import java, spark_home

    jars = spark_home() / "jars"
    metastore_jar = next(jars.glob("hive-metastore-*.jar"))
    with tempfile.TemporaryDirectory(prefix="credit-score-metastore-") as scratch:
        folder = Path(scratch)
        (folder / "package.jdo").write_bytes(zipfile.ZipFile(metastore_jar).read("package.jdo"))
        properties = folder / "datanucleus.properties"
        properties.touch(mode=0o600)
        properties.write_text(
            "\n".join(
                f"{key}={value}"
                for key, value in {
                    "javax.jdo.option.ConnectionURL": url,
                    "javax.jdo.option.ConnectionDriverName": POSTGRES_DRIVER,
                    "javax.jdo.option.ConnectionUserName": spark_metastore_user(),
                    "javax.jdo.option.ConnectionPassword": spark_metastore_password(),
                    "datanucleus.schema.autoCreateAll": "true",
                    "datanucleus.identifierFactory": "datanucleus1",
                    "datanucleus.rdbms.useLegacyNativeValueStrategy": "true",
                }.items()
            ),
            encoding="utf-8",
        )
        done = subprocess.run(
            [java(), "-cp", f"{jars}/*:{spark_metastore_jar()}", "org.datanucleus.store.schema.SchemaTool",
             "-create", "-api", "JDO", "-props", str(properties), str(folder / "package.jdo")],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if done.returncode != 0 or "completed successfully" not in done.stdout + done.stderr:
            tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
            raise SystemExit(f"could not create the Hive metastore's tables in {url}: " + " / ".join(tail))


def runtime_settings() -> dict[str, str]:
    """The settings a session of a running application can take (a Spark Connect server's session):
    the rest of session_settings is the server's own (its master, warehouse folder and metastore)."""
    return {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": spark_shuffle_partitions(),
    }


def answers(url: str, seconds: float = 10.0, *, default_port: int = 15002) -> bool:
    """Whether anything accepts a connection at the URL's host and port (a Spark Connect server's
    15002, or default_port, when the URL names none), within seconds."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(url.split(";", 1)[0])
    try:
        with socket.create_connection((where.hostname or "localhost", where.port or default_port), timeout=seconds):
            return True
    except OSError:
        return False


def remote_session(url: str, warehouse: Path, app_name: str):
    """A session of the Spark Connect server at url, after checking that it answers (pyspark's own
    client would retry for many minutes: WarehouseBusy, exit 75, at once) and that its tables are the
    warehouse's: the harness reads them as files (SystemExit naming both folders otherwise)."""
    if not answers(url):
        raise WarehouseBusy(
            f"no Spark Connect server answers at {url} (CREDIT_SCORE_SPARK_REMOTE): start it "
            "(docs/engines.md) or correct the address, and run the same command again"
        )
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.remote(url).appName(app_name)
    for key, value in runtime_settings().items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    served = spark.conf.get("spark.sql.warehouse.dir")
    if Path(served.removeprefix("file:")).resolve() != (warehouse / "tables").resolve():
        spark.stop()
        raise SystemExit(
            f"the Spark Connect server at {url} keeps its tables in {served}, not in {warehouse / 'tables'}: start "
            "it with --conf spark.sql.warehouse.dir=$CREDIT_SCORE_SPARK_WAREHOUSE/tables (docs/engines.md), or set "
            "CREDIT_SCORE_SPARK_WAREHOUSE to the folder that holds its tables/"
        )
    return spark


def check_server(url: str, warehouse: Path) -> None:
    """remote_session's check, in this process, without leaving it marked as a Spark Connect client:
    pyspark sets SPARK_CONNECT_MODE_ENABLED in os.environ for good, after which a local session
    here, or in any process started from here (dbt's, a load's), refuses to start."""
    marked = os.environ.get("SPARK_CONNECT_MODE_ENABLED")
    try:
        remote_session(url, warehouse, "credit-score").stop()
    finally:
        if marked is None:
            os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)


def _sql_literal(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, dt.datetime):
        return f"timestamp '{value:%Y-%m-%d %H:%M:%S}'"
    if isinstance(value, dt.date):
        return f"date '{value.isoformat()}'"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _spark_session(warehouse: str, parent_pid: int):
    """A Spark application for the load's child process (it dies with the harness)."""
    from credit_score.processes import die_with_parent

    die_with_parent(parent_pid)
    if url := spark_remote():
        return remote_session(url, Path(warehouse), "credit-score-load")
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--conf spark.ui.enabled=false pyspark-shell")
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport().appName("credit-score-load")
    for key, value in session_settings(Path(warehouse)).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


JOURNAL = "load-journal.json"
STAGING = "staging"


def _kill_here(point: str, parent_pid: int) -> None:
    """The tests' kill -9 of the command at a named point of a Spark load (docs/development.md):
    $CREDIT_SCORE_SPARK_LOAD_KILL_AT names it.  The harness goes first; its Spark child follows it."""
    if os.environ.get("CREDIT_SCORE_SPARK_LOAD_KILL_AT") == point:
        os.kill(parent_pid, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)


def _save_deliveries(warehouse: str, replace: bool, saves: list, parent_pid: int) -> None:
    """In one Spark application: stage every delivery (incoming folder, delivery id, tables present,
    register row) as its partitions' files under staging/, write the journal (the commit point), then
    apply it (_apply_journal).  Killed before the journal is written, raw is untouched and the next
    command removes the staged files; killed after, the next command finishes the journal."""
    spark = _spark_session(warehouse, parent_pid)
    root = Path(warehouse)
    try:
        staged = []
        for number, (incoming, delivery_id, present, registry) in enumerate(saves):
            folder = root / STAGING / str(number)
            for table in present:
                values = ", ".join(
                    f"cast({c} as {SPARK_TYPES[t]}) as {c}" for c, t in raw_columns(table) if c != "delivery_id"
                )
                spark.sql(f"select {values} from parquet.`{incoming}/{table}.parquet`").write.parquet(
                    str(folder / table)
                )
            row = ", ".join(
                f"cast({_sql_literal(v)} as {SPARK_TYPES[t]}) as {c}"
                for v, (c, t) in zip(registry[:-1], raw_columns("deliveries")[:-1], strict=True)
            )
            spark.sql(f"select {row}").coalesce(1).write.parquet(str(folder / "deliveries"))
            staged.append({"delivery_id": delivery_id, "staged": str(folder), "present": [*present, "deliveries"]})
        _kill_here("staged", parent_pid)
        _write_journal(root, {"replace": replace, "saves": staged, "removes": []})
        _apply_journal(spark, root, parent_pid)
    finally:
        spark.stop()


def _write_journal(root: Path, journal: dict) -> None:
    """Written whole or not at all (a file renamed into place): the load's commit point."""
    _write_whole(root / JOURNAL, journal)


def _finish_journal(warehouse: str, parent_pid: int) -> None:
    """In one Spark application: apply the journal a load or removal left behind."""
    spark = _spark_session(warehouse, parent_pid)
    try:
        _apply_journal(spark, Path(warehouse), parent_pid)
    finally:
        spark.stop()


def _apply_journal(spark, root: Path, parent_pid: int) -> None:
    """Make raw what the journal says, whatever part of it an earlier run already did: with replace,
    only the journal's deliveries; each removed delivery's partitions dropped; each saved delivery's
    staged folder renamed to its partition's place and the partition added (the register's last).  A
    staged folder that is gone has been moved; one that is still there has not, and the partition it
    replaces is dropped first.  Then the journal goes, and the staging folder with it."""
    journal = json.loads((root / JOURNAL).read_text(encoding="utf-8"))
    spark.sql("create database if not exists raw")
    for table in (*RAW_TABLES, "deliveries"):
        columns = raw_columns(table)
        expected = [c for c, _ in columns]
        replaced = journal["replace"] and spark.catalog.tableExists(f"raw.{table}")
        if replaced and spark.table(f"raw.{table}").columns != expected:  # an earlier version's shape
            spark.sql(f"drop table raw.{table}")
        spark.sql(
            f"create table if not exists raw.{table} "
            f"({', '.join(f'{c} {SPARK_TYPES[t]}' for c, t in columns)}) using parquet partitioned by (delivery_id)"
        )
        if spark.table(f"raw.{table}").columns != expected:
            raise SystemExit(
                f"raw.{table} was loaded by an earlier version, before deliveries were kept: reload everything "
                "once with `credit-score load DIR --replace --target spark`"
            )
    kept = {save["delivery_id"] for save in journal["saves"]}
    for table in (*RAW_TABLES, "deliveries"):
        partitions = [row[0].split("=", 1)[1] for row in spark.sql(f"show partitions raw.{table}").collect()]
        for delivery_id in partitions:
            if delivery_id in journal["removes"] or (journal["replace"] and delivery_id not in kept):
                spark.sql(
                    f"alter table raw.{table} drop if exists partition (delivery_id = {_sql_literal(delivery_id)})"
                )
    for save in journal["saves"]:
        delivery_id = _sql_literal(save["delivery_id"])
        for table in (*RAW_TABLES, "deliveries"):  # the register's row last
            target = _table_folder(root, "raw", table) / f"delivery_id={save['delivery_id']}"
            staged = Path(save["staged"]) / table
            present, moving = table in save["present"], staged.exists()
            if moving or not present:  # what it replaces goes first; a table the delivery lacks, for good
                spark.sql(f"alter table raw.{table} drop if exists partition (delivery_id = {delivery_id})")
            if not present:
                continue
            if moving:
                shutil.rmtree(target, ignore_errors=True)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staged, target)
                _kill_here("moving", parent_pid)
            spark.sql(
                f"alter table raw.{table} add if not exists partition (delivery_id = {delivery_id}) location '{target}'"
            )
    (root / JOURNAL).unlink()
    shutil.rmtree(root / STAGING, ignore_errors=True)


def _table_folder(root: Path, schema: str, table: str) -> Path:
    return root / "tables" / f"{schema}.db" / table


# -- write-audit-publish -------------------------------------------------------------------------
# dbt builds marts and audit into marts_unpublished / audit_unpublished (published_schema_build_name).
# Publishing makes each published name (marts.customer_credit_score, ...) a view of a snapshot of the
# built table: a table dbt rebuilds whole is renamed to <table>__p<N> (a metastore update and a folder
# rename); a month-keyed mart (history.MONTHLY), which dbt keeps and adds to, gets a new partitioned
# table whose changed months are copied under published/<table>/p<N>/ and whose other months are the
# previous snapshot's folders, registered again (files are never rewritten once published).  Then each
# view is replaced in one metastore update, so a reader resolves the previous snapshot or the new one,
# never a table half written or not yet audited.  PUBLISHED_FILE records what each name reads (the
# harness's own readers read the parquet files with DuckDB); the snapshots of the previous publish are
# kept for queries in flight, older ones dropped.
PUBLISHED_FILE = "published.json"
PENDING_FILE = "history-pending.json"
SNAPSHOT = re.compile(r"__p(\d+)$")


def read_published(root: Path) -> dict | None:
    """What the last publish recorded: {"version", "tables": {"schema.table": entry}, "previous"},
    None when nothing was published."""
    path = root / PUBLISHED_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _write_whole(path: Path, value: object) -> None:
    """A JSON file written whole or not at all (renamed into place)."""
    written = path.with_name(f"{path.name}.writing")
    written.write_text(json.dumps(value, indent=1), encoding="utf-8")
    os.replace(written, path)


def _date_list(months: list[str]) -> str:
    return ", ".join(f"date '{dt.date.fromisoformat(m).isoformat()}'" for m in months)


def _location(spark, table: str) -> str:
    rows = spark.sql(f"describe table extended {table}").collect()
    location = next(str(row[1]) for row in rows if str(row[0]).strip() == "Location")
    return location.removeprefix("file:")


def _monthly_snapshot(spark, root: Path, built: str, snapshot: str, version: int, months: list[str], before):
    """A new snapshot of a month-keyed mart: the build's months copied from the built table (every
    month the first time), the rest the previous snapshot's partitions."""
    table = built.split(".", 1)[1]
    folder = root / "published" / table / f"p{version}"
    shutil.rmtree(folder, ignore_errors=True)
    spark.sql(f"create table {snapshot} like {built} using parquet location '{folder}'")
    copied = None if before is None else months
    if copied is None:
        spark.sql(f"insert into {snapshot} select * from {built}")
    elif copied:
        spark.sql(f"insert into {snapshot} select * from {built} where as_of_date in ({_date_list(copied)})")
    written = {
        part.name.split("=", 1)[1]: str(part) for part in folder.glob("as_of_date=*") if any(part.glob("*.parquet"))
    }
    carried = {} if before is None else {m: f for m, f in before["partitions"].items() if m not in copied}
    if carried:
        spark.sql(
            f"alter table {snapshot} add if not exists "
            + " ".join(f"partition (as_of_date = date '{m}') location '{f}'" for m, f in sorted(carried.items()))
        )
    return {"snapshot": snapshot, "partitions": dict(sorted({**carried, **written}.items()))}


def _view(spark, name: str, snapshot: str) -> None:
    """name: a view of every column of the snapshot, with the table's and its columns' descriptions
    (persist_docs gave them to the built table; BI reads them on the view)."""
    columns = ", ".join(
        f"`{f.name}`" + (f" comment {_sql_literal(f.metadata['comment'])}" if f.metadata.get("comment") else "")
        for f in spark.table(snapshot).schema.fields
    )
    rows = spark.sql(f"describe table extended {snapshot}").collect()
    comment = next((str(row[1]) for row in rows if str(row[0]).strip() == "Comment"), None)
    described = f" comment {_sql_literal(comment)}" if comment else ""
    spark.sql(f"create or replace view {name} ({columns}){described} as select * from {snapshot}")


def _publish(warehouse: str, months: list[str], parent_pid: int) -> None:
    """In one Spark application: snapshot every table dbt built into marts_unpublished and
    audit_unpublished, point the published names at them, record it, drop what no publish needs."""
    spark = _spark_session(warehouse, parent_pid)
    root = Path(warehouse)
    try:
        previous = read_published(root)
        built_in = {schema: unpublished(schema) for schema in PUBLISHED_SCHEMAS}
        listed = {
            schema: {t.name: t.tableType for t in spark.catalog.listTables(schema)}
            for schema in (*PUBLISHED_SCHEMAS, *built_in.values())
            if spark.catalog.databaseExists(schema)
        }
        taken = [int(m.group(1)) for schema in built_in.values() for name in listed.get(schema, {})
                 if (m := SNAPSHOT.search(name))]  # fmt: skip
        version = max([previous["version"] if previous else 0, *taken]) + 1
        before = previous["tables"] if previous else {}
        tables = dict(before)  # a table this build did not rebuild (the time spine) stays as published
        for schema, built_schema in built_in.items():
            for table in sorted(listed.get(built_schema, {})):
                if listed[built_schema][table] == "VIEW" or SNAPSHOT.search(table):
                    continue
                built, snapshot = f"{built_schema}.{table}", f"{built_schema}.{table}__p{version}"
                if table in MONTHLY:
                    entry = _monthly_snapshot(
                        spark, root, built, snapshot, version, months, before.get(f"{schema}.{table}")
                    )
                else:
                    spark.sql(f"alter table {built} rename to {snapshot}")
                    entry = {"snapshot": snapshot, "folder": _location(spark, snapshot)}
                tables[f"{schema}.{table}"] = entry
        _kill_here("snapshots", parent_pid)
        for name, entry in tables.items():  # every view, also of a table kept as it was (a publish
            schema, table = name.split(".")  # killed midway may have pointed it elsewhere)
            spark.sql(f"create database if not exists {schema}")
            if listed.get(schema, {}).get(table, "VIEW") != "VIEW":  # built in place by an earlier version
                spark.sql(f"drop table {name}")
            _view(spark, name, entry["snapshot"])
        kept = {"version": previous["version"], "tables": before} if previous else None
        _write_whole(root / PUBLISHED_FILE, {"version": version, "tables": tables, "previous": kept})
        _drop_unpublished_snapshots(spark, root, [tables, before], listed, built_in)
    finally:
        spark.stop()


def _drop_unpublished_snapshots(spark, root: Path, keep: list[dict], listed: dict, built_in: dict) -> None:
    """Drop the snapshots neither this publish nor the previous one reads, and the month folders no
    kept snapshot registers (a snapshot of a month-keyed mart is an external table: its files stay)."""
    snapshots = {entry["snapshot"] for tables in keep for entry in tables.values()}
    for schema in built_in.values():
        for name in listed.get(schema, {}):
            if SNAPSHOT.search(name) and f"{schema}.{name}" not in snapshots:
                spark.sql(f"drop table if exists {schema}.{name}")
    folders = {Path(f) for tables in keep for entry in tables.values() for f in entry.get("partitions", {}).values()}
    for month in (root / "published").glob("*/p*/as_of_date=*"):
        if month not in folders:
            shutil.rmtree(month, ignore_errors=True)
    for version in (root / "published").glob("*/p*"):
        if not any(version.glob("as_of_date=*")):
            shutil.rmtree(version, ignore_errors=True)


def _settle_history(warehouse: str, months: list[str], parent_pid: int) -> None:
    """In one Spark application, history.py's settling on Spark: each built month-keyed mart made to
    agree with what is published for the months (a build that failed, or was killed, may have written
    them), created from the published one when it has no built side, dropped when nothing is published."""
    spark = _spark_session(warehouse, parent_pid)
    try:
        for table in MONTHLY:
            built, published = f"{unpublished(MARTS_SCHEMA)}.{table}", f"{MARTS_SCHEMA}.{table}"
            has_built, has_published = spark.catalog.tableExists(built), spark.catalog.tableExists(published)
            if has_built and not has_published:  # nothing published yet: nothing to carry forward
                spark.sql(f"drop table {built}")
            elif has_published and not has_built:
                spark.sql(f"create database if not exists {unpublished(MARTS_SCHEMA)}")
                spark.sql(
                    f"create table {built} using parquet partitioned by (as_of_date) as select * from {published}"
                )
            elif has_built and months:
                spark.sql(
                    f"alter table {built} drop if exists "
                    + ", ".join(f"partition (as_of_date = date '{m}')" for m in months)
                )
                spark.sql(f"insert into {built} select * from {published} where as_of_date in ({_date_list(months)})")
    finally:
        spark.stop()


def metastore_holder(warehouse: Path) -> int | None:
    """The PID of another process that has booted the warehouse's embedded Derby metastore, which
    admits one JVM at a time, or None.  Derby holds an exclusive lock on metastore_db/dbex.lck while
    it runs (a POSIX record lock, which F_GETLK reports with its owner)."""
    lock = warehouse / "metastore_db" / "dbex.lck"
    try:
        handle = lock.open("rb")
    except FileNotFoundError:
        return None
    with handle:
        query = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        l_type, _, _, _, pid = struct.unpack("hhqqi", fcntl.fcntl(handle, fcntl.F_GETLK, query))
    return pid if l_type != fcntl.F_UNLCK and pid != os.getpid() else None


class SparkEngine(Engine):
    name = "spark"

    @contextlib.contextmanager
    def lock(self):
        """One load or build at a time per warehouse, and none while another Spark application holds
        its embedded metastore (a BI session, a spark-sql shell): WarehouseBusy, exit 75, after waiting
        $CREDIT_SCORE_SPARK_METASTORE_WAIT seconds (30) for it to let go, instead of Derby's failure
        deep in dbt's run."""
        from credit_score.engines.duckdb import warehouse_lock

        self.warehouse.mkdir(parents=True, exist_ok=True)
        with warehouse_lock(self.warehouse / "warehouse"):
            remote, shared = spark_remote(), spark_metastore_url() is not None
            if shared and not remote:
                prepare_metastore()
            if (holder := self._metastore_holder_after_waiting()) is not None:
                program = Path(f"/proc/{holder}/comm")
                name = program.read_text().strip() if program.exists() else "a process"
                raise WarehouseBusy(
                    f"{self.warehouse / 'metastore_db'} is held by another process ({name}, PID {holder}): the "
                    "embedded Derby metastore admits one Spark application at a time; close that session (readers "
                    "go through a Thrift server: docs/engines.md) and run the same command again"
                )
            if remote:  # before anything is read or written: the server's tables are ours
                check_server(remote, self.warehouse)
            self.finish_interrupted_load()
            yield

    def _metastore_holder_after_waiting(self) -> int | None:
        """Another process that still holds the embedded Derby metastore after
        $CREDIT_SCORE_SPARK_METASTORE_WAIT seconds (30), or None.  A Spark application that just ended
        (the previous build's dbt) lets go within seconds; a Spark Connect server holds the metastore
        for good and every session shares it; a metastore database (CREDIT_SCORE_SPARK_METASTORE_URL)
        admits every application at once."""
        if spark_remote() or spark_metastore_url() is not None:
            return None
        waited = time.monotonic() + float(os.environ.get("CREDIT_SCORE_SPARK_METASTORE_WAIT", "30"))
        while (holder := metastore_holder(self.warehouse)) is not None and time.monotonic() < waited:
            time.sleep(0.5)
        return holder

    def provenance(self) -> Provenance:
        """explain's reader on Spark's own files (session mode: every table is parquet under the
        warehouse folder), read with DuckDB: no Spark application.  Partition columns typed (_typed_parquet)."""
        if not self.published_files("marts", "customer_credit_score_history"):
            raise QueryFailed(f"nothing is published yet in {self.warehouse} (run `credit-score build --target spark`)")
        for schema, table in (("intermediate", "int_billing_validated"), ("seeds", "star_levels")):
            if not self.table_path(schema, table).is_dir():
                raise QueryFailed(
                    f"{self.table_path(schema, table)} is not there: explain reads Spark's tables as files in "
                    "session mode (a Thrift server's warehouse: query intermediate.int_billing_validated and "
                    "intermediate.int_suspensions_validated with spark-sql)"
                )
        con = duckdb.connect()
        return Provenance(
            query=lambda sql: con.execute(sql).fetchall(),
            published=lambda table: self._typed_parquet(self.published_files("marts", table)),
            work=lambda schema, table: self._typed_parquet([f"{self.table_path(schema, table)}/**/*.parquet"]),
            close=con.close,
        )

    def __init__(self, warehouse: Path | None = None):
        self.warehouse = warehouse or spark_warehouse()
        self.dbt_dir = self.warehouse / "dbt"

    def load(self, delivery: Delivery, *, replace: bool, progress: bool) -> dict[str, int]:
        return self.load_many([delivery], replace=replace, progress=progress)[0]

    def load_many(self, deliveries: list[Delivery], *, replace: bool, progress: bool) -> list[dict[str, int]]:
        """Every file is checked (and written as Parquet) before Spark starts; then one Spark
        application saves the deliveries in order (a Spark application takes ~15 s to start)."""
        self.warehouse.mkdir(parents=True, exist_ok=True)
        privacy.make_private(self.warehouse)  # raw numbers beneath: the owner's alone
        started = time.perf_counter()
        latest = None if replace else self._latest_load()
        with contextlib.ExitStack() as stack:
            saves, counts = [], []
            for delivery in deliveries:
                incoming = stack.enter_context(tempfile.TemporaryDirectory(prefix="incoming-", dir=self.warehouse))
                checked = export_checked(delivery, Path(incoming), "parquet")
                counts.append({table: rows for table, (_, rows) in checked.items()})
                # whole seconds (the register's literal), rising from load to load as on the other engines
                loaded_at = load_time(latest).replace(microsecond=0)
                if latest is not None and loaded_at <= latest:
                    loaded_at = latest + dt.timedelta(seconds=1)
                latest = loaded_at
                saves.append((incoming, delivery.delivery_id, list(checked), delivery.registry_row(loaded_at)))
            # a listing that names a delivery twice: the last copy replaces it whole, as on the other engines
            saves = list({save[1]: save for save in saves}.values())
            status = self._run_child(_save_deliveries, replace, saves)
            self._raise_if_unfinished("Spark failed while moving the staged deliveries into raw", "The load")
            if status != 0:
                raise LoadError(f"Spark failed while staging the deliveries (exit status {status}; see the log above)")
        if progress:
            for delivery, rows in zip(deliveries, counts, strict=True):
                for table, count in rows.items():
                    console.detail(
                        f"[load {time.perf_counter() - started:5.1f}s] raw.{table}: {count:,} rows "
                        f"(Spark, delivery {delivery.delivery_id})"
                    )
        return counts

    def _latest_load(self) -> dt.datetime | None:
        register = self.table_path("raw", "deliveries")
        if not register.is_dir() or not any(register.glob("delivery_id=*/*.parquet")):
            return None
        ((latest,),) = query(f"select max(loaded_at) from {self._parquet(register)}")
        return latest

    def table_path(self, schema: str, table: str) -> Path:
        """Where a table's parquet files are (session mode): read them with any parquet reader."""
        return _table_folder(self.warehouse, schema, table)

    def deliveries(self) -> list[DeliveryRecord] | None:
        register = self.table_path("raw", "deliveries")
        if not register.is_dir():
            return None
        files = list(register.glob("delivery_id=*/*.parquet"))
        if not files:
            return []
        rows = query(
            "select delivery_id, delivered_on, billing_file is not null "
            f"from read_parquet({[str(f) for f in files]!r}, hive_partitioning = true, hive_types_autocast = false)"
        )
        return [DeliveryRecord(str(i), d, bool(b)) for i, d, b in rows]

    def published_populations(self) -> list[tuple[dt.date, int]]:
        files = self.published_files("marts", "customer_credit_score_history")
        if not files:
            return []
        return query(published_populations_sql(self._typed_parquet(files)))

    def built_population(self) -> int:
        mart = self.table_path(unpublished(MARTS_SCHEMA), "customer_credit_score")
        return int(query(f"select count(*) from read_parquet('{mart}/*.parquet')")[0][0])

    def published_files(self, schema: str, table: str) -> list[str]:
        """The parquet files (globs) of what `schema.table` reads as last published, for DuckDB's
        read_parquet (partition folders named key=value); [] when nothing holds a row.  A warehouse
        built before publishing existed (its marts built in place) is read in place."""
        published = read_published(self.warehouse)
        entry = published["tables"].get(f"{schema}.{table}") if published else None
        if published is None:
            folders = [self.table_path(schema, table)]
        elif entry is None:
            return []
        elif "folder" in entry:
            folders = [Path(entry["folder"])]
        else:  # a month-keyed mart: one folder a month (as_of_date=...), wherever its snapshot left it
            folders = [Path(folder) for folder in entry["partitions"].values()]
        return [f"{folder}/**/*.parquet" for folder in folders if folder.is_dir() and any(folder.glob("**/*.parquet"))]

    def published_tables(self) -> list[str]:
        """Every published name (schema.table) the last publish recorded."""
        published = read_published(self.warehouse)
        return sorted(published["tables"]) if published else []

    def bill_months_arrived(self, months: list[dt.date]) -> dict[str, MonthArrived]:
        billing = self.table_path("raw", "billing")
        if not billing.is_dir() or not any(billing.glob("delivery_id=*/*.parquet")):
            return {}
        return arrived_from_rows(query(bill_months_sql(self._parquet(billing), months)))

    @property
    def dbt_target(self) -> str:
        """Through a Spark Connect server, dbt's session is one of the server's: the profile's
        `spark_connect` target, without the master, warehouse and metastore the server owns."""
        return "spark_connect" if spark_remote() else "spark"

    def dbt_env(self) -> dict[str, str]:
        environment = {**super().dbt_env(), "CREDIT_SCORE_SPARK_WAREHOUSE": str(self.warehouse)}
        if url := spark_remote():  # what pyspark's builder in dbt-spark's session method connects to
            environment["SPARK_REMOTE"] = url
        return environment

    def loaded_deliveries(self) -> list[LoadedDelivery]:
        """Read from the raw tables' parquet files with DuckDB (no Spark application needed)."""
        if self._journal.exists():
            raise LoadError(
                f"a load or removal was stopped midway and is committed in {self._journal}: raw is between "
                "two states until the next `credit-score load` or `build` on this warehouse finishes it"
            )
        if self.deliveries() in (None, []):
            return []
        con = duckdb.connect()
        try:
            con.execute("create schema raw")
            for table in (*RAW_TABLES, "deliveries"):
                path = self.table_path("raw", table)
                if path.is_dir() and any(path.glob("delivery_id=*/*.parquet")):
                    con.execute(f"create view raw.{table} as select * from {self._parquet(path)}")
                else:
                    con.execute(f"create view raw.{table} as select null::varchar as delivery_id where false")
            return loaded_from_rows(con.execute(loaded_deliveries_sql()).fetchall())
        finally:
            con.close()

    def static_fingerprint(self) -> str | None:
        """The recorded fingerprint; None before the first publish of snapshots (a warehouse whose marts
        an earlier version built in place rebuilds the time spine once, so that it is published too)."""
        if read_published(self.warehouse) is None:
            return None
        recorded = self.dbt_dir / "static-fingerprint"
        return recorded.read_text(encoding="utf-8").strip() or None if recorded.is_file() else None

    def record_static_fingerprint(self, fingerprint: str | None) -> None:
        """A file beside the build's dbt folder: the seeds and the time spine as the last successful
        build left them (Spark keeps their tables between builds, as the other engines do)."""
        recorded = self.dbt_dir / "static-fingerprint"
        if fingerprint is None:
            recorded.unlink(missing_ok=True)
        else:
            recorded.parent.mkdir(parents=True, exist_ok=True)
            recorded.write_text(fingerprint, encoding="utf-8")

    def _delete_delivery(self, delivery_id: str) -> None:
        """A journal that removes the delivery (the commit point), applied by a Spark application: a
        removal stopped midway is finished by the next command, as a load is."""
        _write_journal(self.warehouse, {"replace": False, "saves": [], "removes": [delivery_id]})
        self._run_child(_finish_journal)
        self._raise_if_unfinished(f"Spark failed while removing delivery {delivery_id}", "The removal")

    @property
    def _journal(self) -> Path:
        return self.warehouse / JOURNAL

    def _raise_if_unfinished(self, failed: str, what: str) -> None:
        """After a Spark child: a journal still there was committed but not applied (LoadError, partial)."""
        if self._journal.exists():
            raise LoadError(
                f"{failed} (see the log above). {what} is committed in {self._journal}: the next load or build "
                "on this warehouse finishes it first",
                partial=True,
            )

    def _run_child(self, target, *args) -> int:
        """target(warehouse, *args, parent_pid) in a Spark application of its own, a child process (the
        embedded metastore admits one JVM, and the child dies with the harness); its exit status."""
        child = multiprocessing.get_context("spawn").Process(
            target=target, args=(str(self.warehouse), *args, os.getpid())
        )
        child.start()
        child.join()
        return child.exitcode

    def finish_interrupted_load(self) -> None:
        """Under the warehouse's lock, before anything reads raw: a journal that a killed load or removal
        left is applied (it was committed); staged or incoming files without a journal (a load killed
        before its commit point) are removed, and raw is as it was before that load."""
        if self._journal.exists():
            console.note(f"finishing the load that {self._journal} records (a load or removal was stopped midway)")
            self._run_child(_finish_journal)
            self._raise_if_unfinished(f"Spark failed while finishing what {self._journal.name} records", "It")
        shutil.rmtree(self.warehouse / STAGING, ignore_errors=True)
        for leftover in self.warehouse.glob("incoming-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def _parquet(self, path: Path) -> str:
        """SQL (DuckDB): the rows of a Spark parquet table, its partition columns as text."""
        return (
            f"read_parquet('{path}/**/*.parquet', hive_partitioning = true, hive_types_autocast = false, "
            "union_by_name = true)"
        )

    # the partition columns that are not text (explain compares them with dates and numbers)
    PARTITION_TYPES = {"bill_month": "date", "as_of_date": "date", "key_bucket": "integer"}

    def _typed_parquet(self, files: list[str]) -> str:
        """SQL (DuckDB): the rows of a Spark parquet table's files (globs), its partition columns typed
        (dates, buckets)."""
        import glob

        first = next((Path(f) for pattern in files for f in glob.iglob(pattern, recursive=True)), None)
        keys = [part.split("=", 1)[0] for part in (first.parts[:-1] if first else ()) if "=" in part]
        types = ", ".join(f"'{k}': {self.PARTITION_TYPES.get(k, 'varchar')}" for k in dict.fromkeys(keys))
        return (
            f"read_parquet({files!r}, hive_partitioning = true, hive_types_autocast = false, "
            f"union_by_name = true{f', hive_types = {{{types}}}' if keys else ''})"
        )

    def full_refresh_reason(self) -> str | None:
        """As on the other engines (ledger.py), read from the parquet files with DuckDB.  And one more:
        Spark writes a model's partitions and then its ledger partition with no transaction around
        both, so a build killed between the two leaves rows stamped (loaded_through) after the newest
        load the ledger records for that model; those rows cannot be told apart, so everything is
        recomputed."""
        ledger = self.table_path(LEDGER_SCHEMA, "incremental_ledger")
        models = self.table_path("intermediate", "int_subscriptions_validated")
        has_files = lambda path: path.is_dir() and any(path.glob("**/*.parquet"))  # noqa: E731
        if not has_files(models):
            return None
        con = duckdb.connect()
        try:
            if has_files(ledger):
                con.execute(f"create view ledger as select * from {self._parquet(ledger)}")
            con.execute(
                f"create view deliveries as select * from {self._parquet(self.table_path('raw', 'deliveries'))}"
            )
            reason = full_refresh_reason(
                lambda sql, params: con.execute(sql, list(params)).fetchall(),
                ledger="ledger",
                deliveries="deliveries",
                ledger_exists=has_files(ledger),
                models_exist=True,
            )
            if reason:
                return reason
            for model, absorbed in con.execute("select model_name, max(loaded_at) from ledger group by 1").fetchall():
                table = self.table_path("intermediate", model)
                if not has_files(table):
                    continue
                (written,) = con.execute(f"select max(loaded_through) from {self._parquet(table)}").fetchone()
                if written is not None and written > absorbed:
                    return (
                        f"{model} holds rows written after its ledger was (a build was stopped between the two "
                        "writes, which Spark's parquet tables cannot make one transaction)"
                    )
            return None
        finally:
            con.close()

    # -- the history's months and the publish (write-audit-publish, above) ---------------------------
    @property
    def _pending(self) -> Path:
        return self.dbt_dir / PENDING_FILE

    def _pending_months(self) -> list[str] | None:
        """The months marked pending (a build's, or a failed or killed build's), None when none are."""
        return json.loads(self._pending.read_text(encoding="utf-8")) if self._pending.is_file() else None

    def _run_step(self, target, *args, what: str) -> None:
        """target in a Spark application of its own (_run_child), after the embedded metastore is free;
        StepFailed naming what failed."""
        if (holder := self._metastore_holder_after_waiting()) is not None:
            raise StepFailed(f"{what}: the embedded Derby metastore is held by another process (PID {holder})")
        status = self._run_child(target, *args)
        if status != 0:
            raise StepFailed(f"Spark failed while {what} (exit status {status}; see the log above)")

    def _built_months(self) -> list[str]:
        history = self.table_path(unpublished(MARTS_SCHEMA), "customer_credit_score_history")
        return sorted(p.name.split("=", 1)[1] for p in history.glob("as_of_date=*") if any(p.glob("*.parquet")))

    def before_dbt(self, as_of: dt.date, *, adding: bool = False) -> None:
        """history.py on Spark: a failed or killed build's months are put back first, a month-keyed mart
        with no built side starts from the published one; then the build's months (as_of and the built
        history's next date after it) are marked pending, in a file beside dbt's folder."""
        pending = self._pending_months()
        if not adding:
            published = read_published(self.warehouse)
            unaligned = any(
                self.table_path(unpublished(MARTS_SCHEMA), table).is_dir()
                != (f"{MARTS_SCHEMA}.{table}" in published["tables"] if published
                    else self.table_path(MARTS_SCHEMA, table).is_dir())  # built in place by an earlier version
                for table in MONTHLY
            )  # fmt: skip
            if pending or unaligned:
                self._run_step(_settle_history, pending or [], what="putting the history's months back")
            pending = []
        following = [m for m in self._built_months() if m > as_of.isoformat()][:1]
        self.dbt_dir.mkdir(parents=True, exist_ok=True)
        _write_whole(self._pending, sorted({*(pending or []), as_of.isoformat(), *following}))

    def after_dbt(self, as_of: dt.date, *, published: bool) -> None:
        """The months kept when published, else put back from what is published."""
        pending = self._pending_months()
        if pending and not published:
            self._run_step(_settle_history, pending, what="putting the history's months back")
        self._pending.unlink(missing_ok=True)

    def publish(self, as_of: dt.date, tests_passed: int) -> str:
        """Every table of marts_unpublished and audit_unpublished made what marts and audit read (views
        of snapshots, one metastore update a table), the month-keyed marts by the pending months."""
        self._run_step(_publish, self._pending_months() or [], what="publishing the build")
        return f"spark: {', '.join(PUBLISHED_SCHEMAS)} (snapshot {read_published(self.warehouse)['version']})"

    def star_distribution(self) -> tuple[int, list[tuple[int, str, int]]]:
        files = self.published_files("marts", "customer_credit_score")
        if not files:
            return 0, []
        rows = query(
            f"select star_level, star_label, count(*) from read_parquet({files!r}) "
            "group by star_level, star_label order by star_level desc"
        )
        return sum(r[2] for r in rows), [(int(a), str(b), int(c)) for a, b, c in rows]
