"""Apache Spark in session mode: deliveries to parquet tables partitioned by delivery, the mart read back.

Each file is read by DuckDB exactly as the DuckDB engine reads it (same checks, same messages) and
written as Parquet with the delivery's columns; then a local SparkSession - in a child process that
dies with its parent, because the embedded Derby metastore admits one JVM at a time - replaces the
delivery's partition (`delivery_id=<id>`) of each raw table and its row of raw.deliveries.  Several
deliveries loaded together (`credit-score load --list`) are all checked first, then saved in order by
one Spark application.  A file
that cannot be read is refused before Spark is touched.  Unlike DuckDB and PostgreSQL, Spark's
parquet tables have no transaction across tables: a load killed while Spark writes may leave the
delivery partly replaced, and loading the same delivery again repairs it.

The session's settings match the `spark` target of profiles/profiles.yml.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import multiprocessing
import os
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
from credit_score.history import published_populations_sql
from credit_score.ledger import full_refresh_reason
from credit_score.settings import (
    RAW_TABLES,
    spark_executor_memory,
    spark_master,
    spark_shuffle_partitions,
    spark_warehouse,
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
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={warehouse}/metastore_db;create=true",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": spark_shuffle_partitions(),
        "spark.ui.enabled": "false",
        "spark.driver.memory": "4g",
        "spark.driver.extraJavaOptions": f"-Dderby.stream.error.file={warehouse}/derby.log",
        # the tables hold raw numbers: files 0600, folders 0700 (privacy.py)
        "spark.hadoop.fs.permissions.umask-mode": "077",
    }


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
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--conf spark.ui.enabled=false pyspark-shell")
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport().appName("credit-score-load")
    for key, value in session_settings(Path(warehouse)).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _save_deliveries(warehouse: str, replace: bool, saves: list, parent_pid: int) -> None:
    """In one Spark application: for each (incoming folder, delivery id, tables present, register
    row) in order, replace the delivery's partition of each raw table and its row of raw.deliveries."""
    spark = _spark_session(warehouse, parent_pid)
    try:
        spark.sql("create database if not exists raw")
        for number, (incoming, delivery_id, present, registry) in enumerate(saves):
            _save_delivery(spark, incoming, delivery_id, present, registry, replace=replace and number == 0)
    finally:
        spark.stop()


def _drop_delivery(warehouse: str, delivery_id: str, parent_pid: int) -> None:
    """In one Spark application: the delivery's partition of each raw table, then its register row
    (so that an interrupted removal still lists the delivery, and running it again finishes it)."""
    spark = _spark_session(warehouse, parent_pid)
    try:
        for table in (*RAW_TABLES, "deliveries"):
            spark.sql(f"alter table raw.{table} drop if exists partition (delivery_id = {_sql_literal(delivery_id)})")
    finally:
        spark.stop()


def _save_delivery(spark, incoming: str, delivery_id: str, present: list, registry: list, *, replace: bool) -> None:
    for table in (*RAW_TABLES, "deliveries"):
        if replace:
            spark.sql(f"drop table if exists raw.{table}")
        columns = raw_columns(table)
        spark.sql(
            f"create table if not exists raw.{table} "
            f"({', '.join(f'{c} {SPARK_TYPES[t]}' for c, t in columns)}) using parquet partitioned by (delivery_id)"
        )
        if spark.table(f"raw.{table}").columns != [c for c, _ in columns]:
            raise SystemExit(
                f"raw.{table} was loaded by an earlier version, before deliveries were kept: reload everything "
                "once with `credit-score load DIR --replace --target spark`"
            )
        spark.sql(f"alter table raw.{table} drop if exists partition (delivery_id = '{delivery_id}')")
    for table in present:
        values = ", ".join(c for c, _ in raw_columns(table) if c != "delivery_id")
        spark.sql(
            f"insert into raw.{table} partition (delivery_id = '{delivery_id}') "
            f"select {values} from parquet.`{incoming}/{table}.parquet`"
        )
    spark.sql(
        f"insert into raw.deliveries partition (delivery_id = '{delivery_id}') "
        f"values ({', '.join(_sql_literal(v) for v in registry[:-1])})"
    )


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
            # a Spark application that just ended (the previous build's dbt) lets go within seconds
            waited = time.monotonic() + float(os.environ.get("CREDIT_SCORE_SPARK_METASTORE_WAIT", "30"))
            while (holder := metastore_holder(self.warehouse)) is not None and time.monotonic() < waited:
                time.sleep(0.5)
            if holder is not None:
                program = Path(f"/proc/{holder}/comm")
                name = program.read_text().strip() if program.exists() else "a process"
                raise WarehouseBusy(
                    f"{self.warehouse / 'metastore_db'} is held by another process ({name}, PID {holder}): the "
                    "embedded Derby metastore admits one Spark application at a time; close that session (readers "
                    "go through a Thrift server: docs/engines.md) and run the same command again"
                )
            yield

    def provenance(self) -> Provenance:
        """explain's reader on Spark's own files (session mode: every table is parquet under the
        warehouse folder), read with DuckDB: no Spark application.  Partition columns typed (_typed_parquet)."""
        history = self.table_path("marts", "customer_credit_score_history")
        if not history.is_dir() or not any(history.glob("**/*.parquet")):
            raise QueryFailed(
                f"{history} holds nothing: nothing is published yet (run `credit-score build --target spark`)"
            )
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
            published=lambda table: self._typed_parquet(self.table_path("marts", table)),
            work=lambda schema, table: self._typed_parquet(self.table_path(schema, table)),
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
            context = multiprocessing.get_context("spawn")
            child = context.Process(target=_save_deliveries, args=(str(self.warehouse), replace, saves, os.getpid()))
            child.start()
            child.join()
            if child.exitcode != 0:
                raise LoadError(
                    f"Spark failed while saving the deliveries (exit status {child.exitcode}; see the log above): "
                    "raw may hold part of them (Spark's parquet tables have no transaction); run the same load "
                    "again, which replaces each delivery whole",
                    partial=True,
                )
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
        return self.warehouse / "tables" / f"{schema}.db" / table

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
        history = self.table_path("marts", "customer_credit_score_history")
        if not history.is_dir() or not any(history.glob("**/*.parquet")):
            return []
        return query(published_populations_sql(self._parquet(history)))

    def built_population(self) -> int:
        mart = self.table_path("marts", "customer_credit_score")
        return int(query(f"select count(*) from read_parquet('{mart}/*.parquet')")[0][0])

    def bill_months_arrived(self, months: list[dt.date]) -> dict[str, MonthArrived]:
        billing = self.table_path("raw", "billing")
        if not billing.is_dir() or not any(billing.glob("delivery_id=*/*.parquet")):
            return {}
        return arrived_from_rows(query(bill_months_sql(self._parquet(billing), months)))

    def dbt_env(self) -> dict[str, str]:
        return {**super().dbt_env(), "CREDIT_SCORE_SPARK_WAREHOUSE": str(self.warehouse)}

    def loaded_deliveries(self) -> list[LoadedDelivery]:
        """Read from the raw tables' parquet files with DuckDB (no Spark application needed)."""
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
        """Spark's parquet tables have no transaction: the raw tables' partitions go first, the register
        row last; a removal stopped midway leaves the delivery listed, and removing it again finishes."""
        child = multiprocessing.get_context("spawn").Process(
            target=_drop_delivery, args=(str(self.warehouse), delivery_id, os.getpid())
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            raise LoadError(
                f"Spark failed while removing delivery {delivery_id} (exit status {child.exitcode}; see the log "
                "above): raw may still hold part of it; run the same command again to finish",
                partial=True,
            )

    def _parquet(self, path: Path) -> str:
        """SQL (DuckDB): the rows of a Spark parquet table, its partition columns as text."""
        return (
            f"read_parquet('{path}/**/*.parquet', hive_partitioning = true, hive_types_autocast = false, "
            "union_by_name = true)"
        )

    # the partition columns that are not text (explain compares them with dates and numbers)
    PARTITION_TYPES = {"bill_month": "date", "as_of_date": "date", "key_bucket": "integer"}

    def _typed_parquet(self, path: Path) -> str:
        """SQL (DuckDB): the rows of a Spark parquet table, its partition columns typed (dates, buckets)."""
        first = next(path.glob("**/*.parquet"), None)
        keys = [part.split("=", 1)[0] for part in (first.relative_to(path).parts[:-1] if first else ()) if "=" in part]
        types = ", ".join(f"'{k}': {self.PARTITION_TYPES.get(k, 'varchar')}" for k in keys)
        return (
            f"read_parquet('{path}/**/*.parquet', hive_partitioning = true, hive_types_autocast = false, "
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

    def publish(self, as_of: dt.date, tests_passed: int) -> str:
        # dbt's own table replacement has already published (no write-audit-publish swap on Spark yet)
        return str(self.table_path("marts", "customer_credit_score"))

    def star_distribution(self) -> tuple[int, list[tuple[int, str, int]]]:
        mart = self.table_path("marts", "customer_credit_score")
        rows = query(
            f"select star_level, star_label, count(*) from read_parquet('{mart}/*.parquet') "
            "group by star_level, star_label order by star_level desc"
        )
        return sum(r[2] for r in rows), [(int(a), str(b), int(c)) for a, b, c in rows]
