"""Write, audit, publish on DuckDB.

BI reads the *served* file (warehouse/credit_score.duckdb) read-only.  Loads and dbt builds write a
separate *work* file beside it (credit_score.work.duckdb).  Only after every error-level test has
passed are the marts and the audit tables copied into a new file, which is then renamed over the
served one: a rename is atomic, so a reader opens either the previous complete mart or the new
audited one, and a reader that already has the old file open keeps reading it.  No process ever
opens the served file for writing, so readers never block a build and a build never blocks readers.
A build killed at any point leaves the served file as it was; the next one cleans up and goes on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb

PUBLISHED_SCHEMAS = ("marts", "audit")
HISTORY = "customer_credit_score_history"


class WarehouseBusy(Exception):
    """Another load or build holds the warehouse."""


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


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def publish(work: Path, served: Path, *, as_of: dt.date, tests_passed: int) -> Path:
    """Copy the work file's marts and audit into a new file and swap it in for the served file.

    The new file starts as a byte copy of the served one (the kernel copies it, at disk speed), so
    the history's earlier months are carried over without being read or rewritten row by row: only
    the built month's rows are replaced in it, and the other marts and audit tables are replaced
    whole (they hold one as-of date)."""
    for stale in served.parent.glob(f".{served.name}.publishing-*"):
        stale.unlink()  # left by a build killed while publishing; we hold the lock
    staging = served.with_name(f".{served.name}.publishing-{os.getpid()}")
    try:
        if served.exists():
            _copy_file(served, staging)
        _write_published_copy(work, staging, as_of=as_of, tests_passed=tests_passed)
        _fsync(staging)
        os.replace(staging, served)
    finally:
        staging.unlink(missing_ok=True)
    _fsync(served.parent)
    return served


def _copy_file(source: Path, target: Path) -> None:
    with source.open("rb") as reading, target.open("wb") as writing:
        size, offset = os.fstat(reading.fileno()).st_size, 0
        try:
            while offset < size:
                copied = os.copy_file_range(reading.fileno(), writing.fileno(), size - offset, offset)
                if copied == 0:
                    break
                offset += copied
        except OSError:  # a filesystem without copy_file_range
            reading.seek(offset)
            shutil.copyfileobj(reading, writing, 16 * 1024 * 1024)


def _write_published_copy(work: Path, staging: Path, *, as_of: dt.date, tests_passed: int) -> None:
    con = duckdb.connect(str(staging))
    try:
        escaped = str(work).replace("'", "''")
        con.execute(f"attach '{escaped}' as work (read_only)")
        tables = con.execute(
            "select schema_name, table_name, sql, comment from duckdb_tables() "
            "where database_name = 'work' and schema_name in ('marts', 'audit') order by schema_name, table_name"
        ).fetchall()
        for schema in PUBLISHED_SCHEMAS:
            con.execute(f"create schema if not exists {schema}")
        existing = {
            (schema, table)
            for schema, table in con.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
            ).fetchall()
        }
        built = {(schema, table) for schema, table, _, _ in tables}
        for schema, table in sorted(existing - built):
            if schema in PUBLISHED_SCHEMAS:  # a model that no longer exists, and the old publication row
                con.execute(f"drop table {schema}.{_quote(table)}")
        for schema, table, ddl, comment in tables:
            name = f"{schema}.{_quote(table)}"
            if table == HISTORY and (schema, table) in existing:
                # the months already published stay as they are; the built month is replaced
                con.execute(f"delete from {name} where as_of_date = ?", [as_of])
                con.execute(f"insert into {name} select * from work.{name} where as_of_date = ?", [as_of])
                continue
            con.execute(f"drop table if exists {name}")
            con.execute(ddl)  # keeps the contract's types and constraints
            con.execute(f"insert into {name} select * from work.{name}")
            if comment:
                con.execute(f"comment on table {schema}.{_quote(table)} is {_literal(comment)}")
            columns = con.execute(
                "select column_name, comment from duckdb_columns() where database_name = 'work' "
                "and schema_name = ? and table_name = ? and comment is not null",
                [schema, table],
            ).fetchall()
            for column, column_comment in columns:
                con.execute(
                    f"comment on column {schema}.{_quote(table)}.{_quote(column)} is {_literal(column_comment)}"
                )
        con.execute(
            "create table audit.publication as select ? as as_of_date, ? as published_at, "
            "(select count(*) from marts.customer_credit_score) as customers_scored, ? as tests_passed",
            [as_of, dt.datetime.now(dt.UTC).replace(tzinfo=None), tests_passed],
        )
        con.execute(
            "comment on table audit.publication is 'The build this file holds: its as-of date, when it "
            "was published (UTC), how many customers it scored and how many tests it passed.'"
        )
        con.execute("detach work")
        con.execute("checkpoint")
    finally:
        con.close()
