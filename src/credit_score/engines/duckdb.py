"""DuckDB, the embedded default: a work file that loads and dbt write, and a served file BI reads.

BI reads the *served* file (warehouse/credit_score.duckdb) read-only.  Loads and dbt builds write a
separate *work* file beside it (credit_score.work.duckdb).  Only after every error-level test has
passed are the marts and the audit tables copied into a new file, which is then renamed over the
served one: a rename is atomic, so a reader opens either the previous complete mart or the new
audited one, and a reader that already has the old file open keeps reading it.  No process ever
opens the served file for writing, so readers never block a build and a build never blocks readers.
A build killed at any point leaves the served file as it was; the next one cleans up and goes on.

The served file is written in an old storage format (STORAGE_VERSION, default v1.0.0) that every
DuckDB from 0.10 through 1.x reads, as do the engines bundled in BI drivers; DuckDB 2 reads it too.

This code never relies on the name DuckDB gives a file's catalog (the first dot-separated part of
its name, which may be `work`, `raw` or `marts`): it opens an in-memory database and attaches every
file under an alias of its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from credit_score import console, privacy
from credit_score.deliveries import (
    EXPECTED_COLUMNS,
    Delivery,
    DeliveryRecord,
    LoadedDelivery,
    LoadError,
    MonthArrived,
    arrived_from_counts,
    bill_months_sql,
    delivery_bill_months_sql,
    load_time,
    loaded_deliveries_sql,
    loaded_from_rows,
    read_each_file,
)
from credit_score.engines import Engine, Provenance, WarehouseBusy
from credit_score.history import HISTORY, MONTHLY, HistoryTables, published_populations_sql
from credit_score.ledger import full_refresh_reason
from credit_score.memory import limit_bytes
from credit_score.settings import (
    AUDIT_SCHEMA,
    DELIVERY_COLUMNS,
    MARTS_SCHEMA,
    PUBLISHED_SCHEMAS,
    RAW_TABLES,
    REGISTRY_COLUMNS,
    duckdb_memory_limit,
    spill_path,
    work_path,
)
from credit_score.sql import QueryFailed, Reader, Result, quoted, refuse

STORAGE_VERSION = os.environ.get("CREDIT_SCORE_DUCKDB_STORAGE_VERSION", "v1.0.0")
# The aliases this code attaches files under (never a file's own catalog name).
WORK, SERVED, NEW = "cs_work", "cs_served", "cs_new"


_HELD = re.compile(
    r'Could not set lock on file "(?P<file>[^"]+)": Conflicting lock is held in (?P<program>\S+)'
    r"(?: \(PID (?P<pid>\d+)\))?"
)


def held_by_another(message: str | None) -> WarehouseBusy | None:
    """DuckDB's "Could not set lock on file" as what it means to the operator: which file, which process
    holds it, what to do; None for any other message."""
    found = _HELD.search(message or "")
    if not found:
        return None
    path = Path(found["file"])
    holder = found["program"] + (f", PID {found['pid']}" if found["pid"] else "")
    if path.name.endswith(".work.duckdb"):
        advice = (
            "nothing may hold the work file while a load or build runs (readers open what BI reads, "
            f"{path.with_name(path.name.replace('.work.duckdb', '.duckdb'))}, read-only)"
        )
    else:
        advice = "readers open it read-only (a DuckDB file has one writer or many readers)"
    return WarehouseBusy(
        f"{path} is held by another process ({holder}): {advice}; close that connection and run the same command again"
    )


def literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def attached(
    *files: tuple[Path, str, bool], storage_version: str | None = None, spill: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with each (path, alias, read_only) attached under its alias.  A connection
    that moves many rows (a load, a publish) names `spill`, the folder DuckDB spills to beyond the memory
    limit (the work file's, settings.spill_path): an in-memory database would spill into ./.tmp of
    whatever folder the command runs in."""
    config = {"memory_limit": duckdb_memory_limit()}
    if spill is not None:
        config["temp_directory"] = str(spill)
    con = duckdb.connect(config=config)
    try:
        for path, alias, read_only in files:
            options = ["read_only"] if read_only else []
            if storage_version and not read_only:
                options.append(f"storage_version {literal(storage_version)}")
            suffix = f" ({', '.join(options)})" if options else ""
            con.execute(f"attach {literal(path)} as {alias}{suffix}")
    except BaseException as e:
        con.close()
        busy = held_by_another(str(e)) if isinstance(e, duckdb.IOException) else None
        if busy is not None:
            raise busy from None
        raise
    return con


@contextlib.contextmanager
def warehouse_lock(served: Path) -> Iterator[None]:
    """One load or build at a time per warehouse; released by the kernel if the process dies."""
    served.parent.mkdir(parents=True, exist_ok=True)
    lock_path = served.with_name(f".{served.name}.lock")
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise WarehouseBusy(
                f"{served}: a load or build is already running ({holder}); try again when it ends"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _table_exists(con, alias: str, schema: str, table: str, *, or_view: bool = False) -> bool:
    """Whether the attached file `alias` holds schema.table (with or_view, a view of that name too)."""
    catalogs = [("duckdb_tables", "table_name")] + ([("duckdb_views", "view_name")] if or_view else [])
    for function, column in catalogs:
        found = con.execute(
            f"select count(*) from {function}() where database_name = ? and schema_name = ? and {column} = ?",
            [alias, schema, table],
        ).fetchone()
        if found and found[0]:
            return True
    return False


def raw_columns(table: str) -> list[tuple[str, str]]:
    """(column, DuckDB type) of raw.<table>: the delivered values as text, then the delivery's columns."""
    if table == "deliveries":
        types = {"delivered_on": "date", "loaded_at": "timestamp"}
        return [(c, types.get(c, "varchar")) for c in REGISTRY_COLUMNS]
    types = {"file_line": "bigint", "delivered_on": "date"}
    return [(c, "varchar") for c in EXPECTED_COLUMNS[table]] + [(c, types.get(c, "varchar")) for c in DELIVERY_COLUMNS]


def ensure_raw_tables(con, alias: str, *, replace: bool) -> None:
    """Create raw's tables where missing (dropped first with replace); refuse tables of another shape."""
    con.execute(f"create schema if not exists {alias}.raw")
    for table in (*RAW_TABLES, "deliveries"):
        name = f"{alias}.raw.{table}"
        if replace:
            con.execute(f"drop table if exists {name}")
        wanted = raw_columns(table)
        if _table_exists(con, alias, "raw", table):
            found = [
                r[0]
                for r in con.execute(
                    "select column_name from duckdb_columns() where database_name = ? and schema_name = 'raw' "
                    "and table_name = ? order by column_index",
                    [alias, table],
                ).fetchall()
            ]
            if found != [c for c, _ in wanted]:
                raise LoadError(
                    f"raw.{table} was loaded by an earlier version, before deliveries were kept (its columns: "
                    f"{', '.join(found)}): reload everything once with `credit-score load DIR --replace`"
                )
            continue
        con.execute(f"create table {name} ({', '.join(f'{c} {t}' for c, t in wanted)})")
    if replace:
        con.execute(f"drop table if exists {alias}.raw.{BILL_MONTHS}")
    con.execute(
        f"create table if not exists {alias}.raw.{BILL_MONTHS} "
        "(delivery_id varchar, bill_month varchar, customers bigint)"
    )


def bills_per_count(limit: str) -> int:
    """How many bills one aggregate of a delivery's (month, customer) pairs may count at DuckDB's
    memory_limit: 32 bytes of the limit a bill (456M bills in 4 GB ran out, about 9 bytes a bill; 125M
    at 4GB is a margin of 3.6)."""
    return max(1_000_000, (limit_bytes(limit) or 4_000_000_000) // 32)


# What each delivery holds of each bill month (deliveries.delivery_bill_months_sql), written as it is
# loaded: the build's completeness check reads it instead of every raw bill
BILL_MONTHS = "billing_months"


class DuckDBReader(Reader):
    """A read-only DuckDB connection: statements `sql` refuses are refused as DuckDB parses them."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def __call__(self, statement: str) -> Result:
        try:
            for parsed in self.con.extract_statements(statement):
                refuse(parsed.type.name)
            relation = self.con.execute(statement)
            return Result([d[0] for d in relation.description or []], relation.fetchall())
        except duckdb.Error as e:
            raise QueryFailed(str(e)) from None

    def export(self, query: str, path: Path, kind: str) -> int:
        options = "format csv, header true" if kind == "csv" else "format parquet"
        try:  # COPY answers with the rows it wrote: the query runs once
            (rows,) = self.con.execute(f"copy ({query}) to '{quoted(path)}' ({options})").fetchone()
        except duckdb.Error as e:
            raise QueryFailed(str(e)) from None
        return rows


class DuckDBEngine(Engine):
    name = "duckdb"

    def __init__(self, served: Path):
        self.served = served
        self.work = work_path(served)
        self.dbt_dir = served.with_name(f"{served.stem}.dbt")

    def lock(self):
        return warehouse_lock(self.served)

    def held_by_another(self, message: str | None) -> WarehouseBusy | None:
        return held_by_another(message)

    # -- readers ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def reader(self, *, work: bool = False) -> Iterator[Reader]:
        """The served file read-only; with work, the work file, under the warehouse's lock so that no
        load or build starts while it is open."""
        path = self.work if work else self.served
        if not path.exists():
            raise QueryFailed(
                f"{path} does not exist: "
                + ("nothing is loaded yet" if work else "nothing is published yet (run `credit-score build`)")
            )
        with warehouse_lock(self.served) if work else contextlib.nullcontext():
            con = duckdb.connect(str(path), read_only=True)
            try:
                yield DuckDBReader(con)
            finally:
                con.close()

    def provenance(self) -> Provenance:
        if not self.served.exists():
            raise QueryFailed(f"{self.served} does not exist: nothing is published yet (run `credit-score build`)")
        if not self.work.exists():
            raise QueryFailed(f"{self.work} does not exist: the bills behind the scores are kept there")
        con = attached((self.served, SERVED, True), (self.work, WORK, True))
        return Provenance(
            query=lambda sql: con.execute(sql).fetchall(),
            published=lambda table: f"{SERVED}.marts.{table}",
            work=lambda schema, table: f"{WORK}.{schema}.{table}",
            close=con.close,
        )

    def work_rejects_command(self, query: str) -> str:
        return f'credit-score sql --work "{query.format(audit=AUDIT_SCHEMA)}"'

    def published_as_of(self) -> dt.date | None:
        """The as-of date of what BI reads, None when nothing is published."""
        return published_as_of(self.served)

    # -- load ------------------------------------------------------------------------------------
    def load(self, delivery: Delivery, *, replace: bool, progress: bool) -> dict[str, int]:
        return self.load_many([delivery], replace=replace, progress=progress)[0]

    def load_many(self, deliveries: list[Delivery], *, replace: bool, progress: bool) -> list[dict[str, int]]:
        """One transaction for every delivery (and for emptying raw first, with replace): if any file
        cannot be read, or the process is killed, raw keeps exactly what it had."""
        self.work.parent.mkdir(parents=True, exist_ok=True)
        self.keep_private()
        started = time.perf_counter()
        con = attached((self.work, WORK, False), spill=spill_path(self.work))
        try:
            con.execute("begin transaction")
            ensure_raw_tables(con, WORK, replace=replace)
            counts = [self._load_one(con, delivery, started, progress) for delivery in deliveries]
            con.execute("commit")
            for delivery, loaded in zip(deliveries, counts, strict=True):
                self._count_bill_months(con, delivery.delivery_id, loaded.get("billing", 0))
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # a failed commit has ended the transaction already
                con.execute("rollback")
            raise
        finally:
            con.close()
        return counts

    def _load_one(self, con, delivery: Delivery, started: float, progress: bool) -> dict[str, int]:
        """Inside load_many's transaction: the delivery's earlier rows replaced, its register row written."""
        for table in RAW_TABLES:
            con.execute(f"delete from {WORK}.raw.{table} where delivery_id = ?", [delivery.delivery_id])

        def insert(table: str, rows: str) -> int:
            inserted = int(con.execute(f"insert into {WORK}.raw.{table} {rows}").fetchone()[0])  # type: ignore[index]
            if progress:
                elapsed = time.perf_counter() - started
                console.detail(f"[load {elapsed:5.1f}s] raw.{table}: {inserted:,} rows")
            return inserted

        counts = read_each_file(delivery, self.work.parent, insert)
        # an earlier load's counts of the delivery go with its rows; the new ones are counted once committed
        con.execute(f"delete from {WORK}.raw.{BILL_MONTHS} where delivery_id = ?", [delivery.delivery_id])
        latest = con.execute(f"select max(loaded_at) from {WORK}.raw.deliveries").fetchone()[0]  # type: ignore[index]
        con.execute(f"delete from {WORK}.raw.deliveries where delivery_id = ?", [delivery.delivery_id])
        loaded_at = load_time(latest)
        con.execute(
            f"insert into {WORK}.raw.deliveries ({', '.join(REGISTRY_COLUMNS)}) "
            f"values ({', '.join('?' for _ in REGISTRY_COLUMNS)})",
            delivery.registry_row(loaded_at),
        )
        return counts

    def _count_bill_months(self, con, delivery_id: str, bills: int) -> None:
        """What a loaded delivery holds of each month (deliveries.delivery_bill_months_sql), counted once
        its rows are committed, in as many parts (customers by the hash of their id) as the memory limit
        needs: one aggregate over the 456M bills of 30M customers in one delivery ran out of 4 GB.  A
        delivery left uncounted (killed here) is counted from its raw bills when a build checks
        completeness, as before the counts existed."""
        parts = max(1, -(-bills // bills_per_count(duckdb_memory_limit())))
        con.execute("begin transaction")
        con.execute("create temp table counted (delivery_id varchar, bill_month varchar, customers bigint)")
        for k in range(parts):
            sql = delivery_bill_months_sql(f"{WORK}.raw.billing", delivery_id, part=(k, parts))
            con.execute(f"insert into counted {sql}")
        con.execute(
            f"insert into {WORK}.raw.{BILL_MONTHS} select delivery_id, bill_month, sum(customers) from counted "
            "group by delivery_id, bill_month"
        )
        con.execute("drop table counted")
        con.execute("commit")

    def loaded_deliveries(self) -> list[LoadedDelivery]:
        return loaded_from_rows(self._read_work("raw", "deliveries", loaded_deliveries_sql(f"{WORK}.raw")) or [])

    def _delete_delivery(self, delivery_id: str) -> None:
        con = attached((self.work, WORK, False), spill=spill_path(self.work))
        try:
            con.execute("begin transaction")
            for table in (*RAW_TABLES, BILL_MONTHS, "deliveries"):
                con.execute(f"delete from {WORK}.raw.{table} where delivery_id = ?", [delivery_id])
            con.execute("commit")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("rollback")
            raise
        finally:
            con.close()

    def _read_work(self, schema: str, table: str, sql: str) -> list[tuple] | None:
        """The rows of sql, read from the work file opened read-only; None when the file or
        schema.table (what sql reads) is not there yet."""
        if not self.work.exists():
            return None
        con = attached((self.work, WORK, True))
        try:
            if not _table_exists(con, WORK, schema, table):
                return None
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def deliveries(self) -> list[DeliveryRecord] | None:
        sql = f"select delivery_id, delivered_on, billing_file is not null from {WORK}.raw.deliveries"
        rows = self._read_work("raw", "deliveries", sql)
        return None if rows is None else [DeliveryRecord(*row) for row in rows]

    def published_populations(self) -> list[tuple[dt.date, int]]:
        if not self.served.exists():
            return []
        con = attached((self.served, SERVED, True))
        try:
            if not _table_exists(con, SERVED, "marts", HISTORY, or_view=True):
                return []
            return con.execute(published_populations_sql(f"{SERVED}.marts.{HISTORY}")).fetchall()
        finally:
            con.close()

    def built_population(self) -> int:
        (customers,) = self._read_work(
            "marts", "customer_credit_score", f"select count(*) from {WORK}.marts.customer_credit_score"
        )[0]
        return int(customers)

    def bill_months_arrived(self, months: list[dt.date]) -> dict[str, MonthArrived]:
        """From what each delivery was counted holding when it was loaded; the raw bills are read
        only for a month several deliveries hold, or for deliveries loaded before the counts were kept."""
        if not self.work.exists():
            return {}
        con = attached((self.work, WORK, True))
        try:
            if not _table_exists(con, WORK, "raw", "billing"):
                return {}
            delivered = [r[0] for r in con.execute(f"select delivery_id from {WORK}.raw.deliveries").fetchall()]
            counted = (
                con.execute(f"select delivery_id, bill_month, customers from {WORK}.raw.{BILL_MONTHS}").fetchall()
                if _table_exists(con, WORK, "raw", BILL_MONTHS)
                else []
            )
            return arrived_from_counts(
                months,
                counted,
                delivered,
                lambda rescan, among: con.execute(bill_months_sql(f"{WORK}.raw.billing", rescan, among)).fetchall(),
            )
        finally:
            con.close()

    # -- build -----------------------------------------------------------------------------------
    def dbt_env(self) -> dict[str, str]:
        return {**super().dbt_env(), "CREDIT_SCORE_DUCKDB_WORK": str(self.work)}

    def _history_step(self, step) -> None:
        """Run one HistoryTables step on the work file in a transaction, closed before dbt opens it."""
        files = [(self.work, WORK, False)]
        if self.served.exists():
            files.append((self.served, SERVED, True))
        con = attached(*files, spill=spill_path(self.work))
        try:
            con.execute("begin transaction")
            step(duckdb_history(con))
            con.execute("commit")
        finally:
            con.close()

    def before_dbt(self, as_of: dt.date, *, adding: bool = False) -> None:
        self.work.parent.mkdir(parents=True, exist_ok=True)
        self.keep_private()
        self._history_step(lambda h: h.prepare(as_of, adding=adding))

    def keep_private(self) -> None:
        """The work file holds raw numbers: the owner's alone, also when an earlier version (or another
        umask) made it readable (privacy.py); dbt's folder (compiled SQL, logs) too."""
        for path in (self.work, self.work.with_name(f"{self.work.name}.wal"), self.dbt_dir, spill_path(self.work)):
            privacy.make_private(path)

    def after_dbt(self, as_of: dt.date, *, published: bool) -> None:
        self._history_step(lambda h: h.settle(published=published))

    def full_refresh_reason(self) -> str | None:
        if not self.work.exists():
            return None
        con = attached((self.work, WORK, True))
        try:
            tables = duckdb_history(con)  # its execute and exists, as PostgreSQL's full_refresh_reason uses
            return full_refresh_reason(
                tables.execute,
                ledger=f"{WORK}.main.incremental_ledger",
                deliveries=f"{WORK}.raw.deliveries",
                ledger_exists=tables.exists(f"{WORK}.main.incremental_ledger"),
                models_exist=tables.exists(f"{WORK}.intermediate.int_subscriptions_validated"),
            )
        finally:
            con.close()

    def publish(self, as_of: dt.date, tests_passed: int) -> str:
        return str(publish(self.work, self.served, as_of=as_of, tests_passed=tests_passed))

    # kept in the work file itself: a new or replaced work file has none, and builds everything
    STATIC = f"{WORK}.main.static_parts_built"

    def static_fingerprint(self) -> str | None:
        rows = self._read_work("main", "static_parts_built", f"select fingerprint from {self.STATIC}")
        return rows[0][0] if rows else None

    def record_static_fingerprint(self, fingerprint: str | None) -> None:
        if fingerprint is None and not self.work.exists():
            return
        con = attached((self.work, WORK, False))
        try:
            con.execute("begin transaction")
            con.execute(f"create or replace table {self.STATIC} (fingerprint varchar not null)")
            if fingerprint is not None:
                con.execute(f"insert into {self.STATIC} values (?)", [fingerprint])
            con.execute("commit")
        finally:
            con.close()

    def star_distribution(self) -> tuple[int, list[tuple[int, str, int]]]:
        con = attached((self.served, SERVED, True))
        try:
            rows = con.execute(
                f"select star_level, star_label, count(*) from {SERVED}.{MARTS_SCHEMA}.customer_credit_score "
                "group by star_level, star_label order by star_level desc"
            ).fetchall()
        finally:
            con.close()
        return sum(r[2] for r in rows), [(int(r[0]), str(r[1]), int(r[2])) for r in rows]


def duckdb_history(con) -> HistoryTables:
    """HistoryTables for DuckDB: the work file (WORK), with the served file attached (SERVED) if any."""

    def execute(sql: str, params) -> list[tuple]:
        return con.execute(sql, list(params)).fetchall()

    def exists(name: str) -> bool:  # a published month-keyed mart is a view over its monthly files
        return _table_exists(con, *name.split("."), or_view=True)

    return HistoryTables(
        execute,
        exists,
        built_schema=f"{WORK}.{MARTS_SCHEMA}",
        published_schema=f"{SERVED}.{MARTS_SCHEMA}",
        pending=f"{WORK}.main.history_pending",
    )


# -- publishing ----------------------------------------------------------------------------------
def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def published_as_of(served: Path) -> dt.date | None:
    """The as-of date of what BI reads (audit.publication), None when nothing is published."""
    if not served.exists():
        return None
    con = attached((served, SERVED, True))
    try:
        if not _table_exists(con, SERVED, AUDIT_SCHEMA, "publication"):
            return None
        found = con.execute(f"select as_of_date from {SERVED}.{AUDIT_SCHEMA}.publication").fetchone()
    finally:
        con.close()
    return found[0] if found else None


def storage_version(path: Path) -> str:
    """The storage version DuckDB reports for a database file (e.g. 'v1.0.0+')."""
    con = attached((path, SERVED, True))
    try:
        found = con.execute(
            "select tags['storage_version'] from duckdb_databases() where database_name = ?", [SERVED]
        ).fetchone()
    finally:
        con.close()
    return str(found[0]) if found and found[0] else ""


# Where each month-keyed mart's monthly files live, beside the served file (credit_score.history/...).
MONTH_DIRECTORIES = {
    HISTORY: "history",
    "customer_star_changes": "star_changes",
    "star_migration_matrix": "star_migration",
}


def month_dir(served: Path, table: str = HISTORY) -> Path:
    """Where a month-keyed mart's published months live: one Parquet file per month beside the served
    file (warehouse/credit_score.history/as_of_date=2026-10-31/<publication>.parquet)."""
    return served.with_name(f"{served.stem}.{MONTH_DIRECTORIES[table]}")


def _month_files(con, alias: str, served: Path) -> dict[tuple[str, dt.date], Path]:
    """{(table, month): file} that a served file publishes (audit.month_files), keeping only files that
    are this warehouse's own and still there (a file copied from elsewhere points at another's)."""
    if not _table_exists(con, alias, AUDIT_SCHEMA, "month_files"):
        return {}
    found = {}
    listed = con.execute(f"select table_name, as_of_date, file_path from {alias}.{AUDIT_SCHEMA}.month_files").fetchall()
    for table, month, path in listed:
        file = Path(path)
        if table in MONTHLY and file.parent.parent == month_dir(served, table) and file.exists():
            found[table, month] = file
    return found


def publish(work: Path, served: Path, *, as_of: dt.date, tests_passed: int) -> Path:
    """Publish the work file's audited marts and audit: write the months the build changed of each
    month-keyed mart (the history, the star changes, the migration matrix) as new Parquet files, then a
    new small served file (the other marts, the audit tables and a view of each month-keyed mart over
    its monthly files), fsync it and rename it over the served one.

    Publishing costs the build's months whatever the history's length: the months already published are
    immutable files, listed again by the new served file but neither read nor copied.  A reader sees
    the old served file or the new one (a rename is atomic), each naming only complete files.  Files
    no longer listed are removed one publication later, so a reader still holding the previous served
    file can finish its query.  A served file without a listing of its month files (an earlier layout,
    or another storage version) is not carried: every month is written from the work file, which holds
    the same published months (history.py keeps them in step)."""
    for stale in served.parent.glob(f".{served.name}.publishing-*"):
        stale.unlink()  # left by a build killed while publishing; we hold the lock
    previous: dict[tuple[str, dt.date], Path] = {}
    if served.exists():
        con = attached((served, SERVED, True))
        try:
            previous = _month_files(con, SERVED, served)
        finally:
            con.close()
    staging = served.with_name(f".{served.name}.publishing-{os.getpid()}")
    try:
        files = _write_months(work, served, as_of, keep=previous)
        _write_published_copy(work, staging, as_of=as_of, tests_passed=tests_passed, files=files)
        _fsync(staging)
        os.replace(staging, served)
    finally:
        staging.unlink(missing_ok=True)
    _fsync(served.parent)
    for table in MONTHLY:
        _remove_unlisted(month_dir(served, table), keep={*files.values(), *previous.values()})
    _share_published(served, files.values())
    return served


def _share_published(served: Path, files) -> None:
    """What BI reads - the served file, its monthly Parquet files and the folders on the way - opened to
    the reader group (privacy.py); the work file beside it stays the owner's."""
    folders = {month_dir(served, table) for table in MONTHLY} | {file.parent for file in files}
    privacy.open_to_readers(served.parent)
    privacy.share_with_readers(*sorted(folders), served, *files)


def _write_months(
    work: Path, served: Path, as_of: dt.date, *, keep: dict[tuple[str, dt.date], Path]
) -> dict[tuple[str, dt.date], Path]:
    """Write the months the build changed (history.build_months: as_of and the next date after it), and
    any month not kept, of each month-keyed mart as new Parquet files; return {(table, month): file} of
    everything to publish."""
    stamp = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{os.getpid()}"
    con = attached((work, WORK, True), spill=spill_path(work))
    try:
        changed = duckdb_history(con).pending_months()
        files = {}
        for table in MONTHLY:
            name = f"{WORK}.{MARTS_SCHEMA}.{table}"
            directory = month_dir(served, table)
            built = [r[0] for r in con.execute(f"select distinct as_of_date from {name} order by 1").fetchall()]
            for month in built:
                if (table, month) in keep and month not in changed:
                    files[table, month] = keep[table, month]
                    continue
                folder = directory / f"as_of_date={month.isoformat()}"
                folder.mkdir(parents=True, exist_ok=True)
                file = folder / f"{stamp}.parquet"
                partial = folder / f".{stamp}.parquet.partial"
                con.execute(
                    f"copy (select * from {name} where as_of_date = ?) to {literal(partial)} (format parquet)",
                    [month],
                )
                _fsync(partial)
                os.replace(partial, file)
                _fsync(folder)
                files[table, month] = file
            if directory.exists():
                _fsync(directory)
    finally:
        con.close()
    return files


def _remove_unlisted(directory: Path, *, keep: set[Path]) -> None:
    """Remove the month files neither the new nor the previous served file lists (and partial files
    of killed publications); empty month folders go too."""
    if not directory.exists():
        return
    for file in directory.glob("as_of_date=*/*"):
        if file not in keep:
            file.unlink(missing_ok=True)
    for folder in directory.glob("as_of_date=*"):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _write_published_copy(
    work: Path, staging: Path, *, as_of: dt.date, tests_passed: int, files: dict[tuple[str, dt.date], Path]
) -> None:
    con = attached((staging, NEW, False), (work, WORK, True), storage_version=STORAGE_VERSION, spill=spill_path(work))
    try:
        con.execute(f"use {NEW}")  # the work file's DDL names schema.table: create them here
        tables = con.execute(
            "select schema_name, table_name, sql, comment from duckdb_tables() "
            "where database_name = ? and list_contains(?, schema_name) and not list_contains(?, table_name) "
            "order by schema_name, table_name",
            [WORK, list(PUBLISHED_SCHEMAS), list(MONTHLY)],
        ).fetchall()
        for schema in PUBLISHED_SCHEMAS:
            con.execute(f"create schema if not exists {NEW}.{schema}")
        for schema, table, ddl, comment in tables:
            name = f"{schema}.{quote(table)}"
            con.execute(ddl)  # keeps the contract's types and constraints
            con.execute(f"insert into {NEW}.{name} select * from {WORK}.{name}")
            _copy_comments(con, schema, table, comment)
        for table in MONTHLY:
            _publish_month_view(con, table, [file for (name, _), file in sorted(files.items()) if name == table])
        con.execute(
            f"create table {NEW}.{AUDIT_SCHEMA}.month_files (table_name varchar, as_of_date date, file_path varchar)"
        )
        con.executemany(
            f"insert into {NEW}.{AUDIT_SCHEMA}.month_files values (?, ?, ?)",
            [[table, month, str(file)] for (table, month), file in sorted(files.items())],
        )
        con.execute(
            f"comment on table {NEW}.{AUDIT_SCHEMA}.month_files is 'The file holding each month of the marts "
            "that keep months (one Parquet file per month and mart, written once, beside this file).'"
        )
        con.execute(
            f"create table {NEW}.{AUDIT_SCHEMA}.publication as select ? as as_of_date, ? as published_at, "
            f"(select count(*) from {NEW}.{MARTS_SCHEMA}.customer_credit_score) as customers_scored, ? as tests_passed",
            [as_of, dt.datetime.now(dt.UTC).replace(tzinfo=None), tests_passed],
        )
        con.execute(
            f"comment on table {NEW}.{AUDIT_SCHEMA}.publication is 'The build this file holds: its as-of date, when it "
            "was published (UTC), how many customers it scored and how many tests it passed.'"
        )
        con.execute("use memory")
        con.execute(f"detach {WORK}")
        con.execute(f"checkpoint {NEW}")
    finally:
        con.close()


def _publish_month_view(con, table: str, files: list[Path]) -> None:
    """The served view of a month-keyed mart: its monthly files (an empty table of its columns when
    it has no month yet: the star changes start with the history's second date)."""
    ddl, comment = con.execute(
        "select sql, comment from duckdb_tables() where database_name = ? and schema_name = ? and table_name = ?",
        [WORK, MARTS_SCHEMA, table],
    ).fetchone()
    if files:
        listed = ", ".join(literal(file) for file in files)
        con.execute(f"create view {NEW}.{MARTS_SCHEMA}.{table} as select * from read_parquet([{listed}])")
        _copy_comments(con, MARTS_SCHEMA, table, comment, kind="view")
    else:
        con.execute(ddl)  # no month yet: an empty table with the contract's columns
        _copy_comments(con, MARTS_SCHEMA, table, comment)


def _copy_comments(con, schema: str, table: str, comment: str | None, *, kind: str = "table") -> None:
    """The work file's descriptions of a table (or the view standing for it) and its columns."""
    name = f"{NEW}.{schema}.{quote(table)}"
    if comment:
        con.execute(f"comment on {kind} {name} is {literal(comment)}")
    columns = con.execute(
        "select column_name, comment from duckdb_columns() where database_name = ? "
        "and schema_name = ? and table_name = ? and comment is not null",
        [WORK, schema, table],
    ).fetchall()
    for column, column_comment in columns:
        con.execute(f"comment on column {name}.{quote(column)} is {literal(column_comment)}")
