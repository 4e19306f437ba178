"""PostgreSQL: deliveries loaded with COPY in one transaction, the audited marts published in another.

Connection settings come from the environment (SPEC 5): CREDIT_SCORE_PG_HOST, _PORT, _USER,
_PASSWORD, _DATABASE.  dbt writes marts and audit into `marts_unpublished` / `audit_unpublished`
(see macros/generate_schema_name.sql); once every error-level test has passed, `publish` moves each
table into `marts` / `audit` inside one transaction.  PostgreSQL's DDL is transactional: a BI query
sees the previous tables or the new ones, never a mix, and a failed build leaves them untouched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from credit_score import console
from credit_score.deliveries import (
    EXPECTED_COLUMNS,
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
)
from credit_score.engines import Engine, Provenance
from credit_score.engines.duckdb import raw_columns
from credit_score.history import MONTHLY, HistoryTables, published_populations_sql
from credit_score.ledger import full_refresh_reason
from credit_score.settings import (
    AUDIT_SCHEMA,
    DELIVERY_COLUMNS,
    MARTS_SCHEMA,
    PUBLISHED_SCHEMAS,
    RAW_TABLES,
    unpublished,
)
from credit_score.sql import QueryFailed, Reader, Result, quoted, refuse

PUBLISHED = {schema: unpublished(schema) for schema in PUBLISHED_SCHEMAS}
PG_TYPES = {"varchar": "text", "bigint": "bigint", "date": "date", "timestamp": "timestamp"}


def connection_settings() -> dict[str, Any]:
    return {
        "host": os.environ.get("CREDIT_SCORE_PG_HOST", "127.0.0.1"),
        "port": int(os.environ.get("CREDIT_SCORE_PG_PORT", "5432")),
        "user": os.environ.get("CREDIT_SCORE_PG_USER") or os.environ.get("USER") or getpass.getuser(),
        "password": os.environ.get("CREDIT_SCORE_PG_PASSWORD", ""),
        "dbname": os.environ.get("CREDIT_SCORE_PG_DATABASE", "credit_score"),
    }


def connect(**overrides: Any):
    import psycopg2

    return psycopg2.connect(**{**connection_settings(), **overrides})


def postgres_history(con) -> HistoryTables:
    """HistoryTables for PostgreSQL: built in marts_unpublished, published in marts (one connection)."""

    def execute(sql: str, params) -> list[tuple]:
        with con.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), list(params))
            return cur.fetchall() if cur.description else []

    def exists(name: str) -> bool:
        return bool(execute("select to_regclass(?) is not null", [name])[0][0])

    return HistoryTables(
        execute,
        exists,
        built_schema=PUBLISHED[MARTS_SCHEMA],
        published_schema=MARTS_SCHEMA,
        pending=f"{PUBLISHED[MARTS_SCHEMA]}.history_pending",
    )


# psycopg2's type codes as DuckDB types, for an export to Parquet (numeric(p, s): DECIMAL(p, s))
EXPORT_TYPES = {16: "boolean", 20: "bigint", 21: "smallint", 23: "integer", 25: "varchar", 1043: "varchar",
                1082: "date", 1114: "timestamp", 1184: "timestamptz", 700: "real", 701: "double"}  # fmt: skip


class PostgresReader(Reader):
    """A read-only session; statements `sql` refuses are refused by their first word."""

    def __init__(self, con):
        self.con = con

    def __call__(self, statement: str) -> Result:
        import psycopg2

        first = re.sub(r"^(\s|--[^\n]*\n|/\*.*?\*/)*", "", statement, flags=re.S).split(None, 1)
        if first:
            refuse(first[0].upper().rstrip(";"))
        try:
            with self.con.cursor() as cur:
                cur.execute(statement)
                if cur.description is None:
                    return Result([], [])
                return Result([d.name for d in cur.description], cur.fetchall())
        except psycopg2.Error as e:
            raise QueryFailed(str(e).strip()) from None

    def export(self, query: str, path: Path, kind: str) -> int:
        """PostgreSQL's COPY to CSV, read back by DuckDB with each column's type for Parquet."""
        import duckdb
        import psycopg2

        text = path.with_suffix(".csv.partial") if kind == "parquet" else path
        try:
            with self.con.cursor() as cur:
                cur.execute(f"select * from ({query}) as exported limit 0")
                types = {
                    d.name: f"decimal({d.precision}, {d.scale})" if d.type_code == 1700 and d.precision else
                    EXPORT_TYPES.get(d.type_code, "double" if d.type_code == 1700 else "varchar")
                    for d in cur.description
                }  # fmt: skip
                with text.open("w", encoding="utf-8", newline="") as f:
                    cur.copy_expert(f"copy ({query}) to stdout with (format csv, header true)", f)
        except psycopg2.Error as e:
            raise QueryFailed(str(e).strip()) from None
        reading = duckdb.connect()
        try:
            columns = "{" + ", ".join(f"'{c}': '{t}'" for c, t in types.items()) + "}"
            source = f"read_csv('{quoted(text)}', header = true, columns = {columns})"
            if kind == "parquet":
                (rows,) = reading.execute(
                    f"copy (select * from {source}) to '{quoted(path)}' (format parquet)"
                ).fetchone()
            else:
                (rows,) = reading.execute(f"select count(*) from {source}").fetchone()
        finally:
            reading.close()
            if text != path:
                text.unlink(missing_ok=True)
        return rows


class PostgresEngine(Engine):
    name = "postgres"

    def load(self, delivery: Delivery, *, replace: bool, progress: bool) -> dict[str, int]:
        return self.load_many([delivery], replace=replace, progress=progress)[0]

    def load_many(self, deliveries: list[Delivery], *, replace: bool, progress: bool) -> list[dict[str, int]]:
        """One transaction for every delivery (and for emptying raw first, with replace): each
        delivery's earlier rows deleted, its files COPYed in, the register updated.  Every file is
        first read by DuckDB exactly as the DuckDB engine reads it, so a bad file is refused with the
        same message (file, line, what to do) before PostgreSQL is touched; if anything fails after,
        the transaction leaves raw exactly as it was."""
        started = time.perf_counter()
        with contextlib.ExitStack() as stack:
            checked_all = []
            for delivery in deliveries:
                scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="credit-score-load-"))
                checked_all.append(export_checked(delivery, Path(scratch), "csv"))
            con = connect()
            try:
                with con, con.cursor() as cur:  # one transaction: every delivery or nothing
                    self._ensure_raw_tables(cur, replace=replace)
                    counts = [
                        self._copy_delivery(cur, delivery, checked, started, progress)
                        for delivery, checked in zip(deliveries, checked_all, strict=True)
                    ]
                    # the planner's statistics, in the same transaction: without them PostgreSQL
                    # assumes a few rows and plans nested loops (macros/planner_statistics.sql)
                    for table in (*RAW_TABLES, "deliveries"):
                        cur.execute(f"analyze raw.{table}")
            finally:
                con.close()
        return counts

    @staticmethod
    def _ensure_raw_tables(cur, *, replace: bool) -> None:
        cur.execute("create schema if not exists raw")
        for table in (*RAW_TABLES, "deliveries"):
            if replace:
                cur.execute(f"drop table if exists raw.{table} cascade")
            columns = ", ".join(f"{c} {PG_TYPES[t]}" for c, t in raw_columns(table))
            cur.execute(f"create table if not exists raw.{table} ({columns})")
            cur.execute(
                "select column_name from information_schema.columns where table_schema = 'raw' "
                "and table_name = %s order by ordinal_position",
                [table],
            )
            found = [r[0] for r in cur.fetchall()]
            if found != [c for c, _ in raw_columns(table)]:
                raise LoadError(
                    f"raw.{table} was loaded by an earlier version, before deliveries were kept: "
                    "reload everything once with `credit-score load DIR --replace --target postgres`"
                )

    @staticmethod
    def _copy_delivery(cur, delivery: Delivery, checked: dict, started: float, progress: bool) -> dict[str, int]:
        counts: dict[str, int] = {}
        for table in (*RAW_TABLES, "deliveries"):
            cur.execute(f"delete from raw.{table} where delivery_id = %s", [delivery.delivery_id])
        for table, (path, rows) in checked.items():
            columns = ", ".join([*EXPECTED_COLUMNS[table], *DELIVERY_COLUMNS])
            copy = f"copy raw.{table} ({columns}) from stdin with (format csv, header true)"
            with path.open(encoding="utf-8") as f:
                cur.copy_expert(copy, f)
            counts[table] = rows
            if progress:
                elapsed = time.perf_counter() - started
                console.detail(f"[load {elapsed:5.1f}s] raw.{table}: {rows:,} rows (PostgreSQL)")
        cur.execute("select max(loaded_at) from raw.deliveries")
        loaded_at = load_time(cur.fetchone()[0])
        columns = [c for c, _ in raw_columns("deliveries")]
        placeholders = ", ".join(["%s"] * len(columns))
        cur.execute(
            f"insert into raw.deliveries ({', '.join(columns)}) values ({placeholders})",
            delivery.registry_row(loaded_at),
        )
        return counts

    def loaded_deliveries(self) -> list[LoadedDelivery]:
        con = connect()
        try:
            with con.cursor() as cur:
                cur.execute("select to_regclass('raw.deliveries') is not null")
                if not cur.fetchone()[0]:
                    return []
                cur.execute(loaded_deliveries_sql())
                return loaded_from_rows(cur.fetchall())
        finally:
            con.close()

    def _delete_delivery(self, delivery_id: str) -> None:
        con = connect()
        try:
            with con, con.cursor() as cur:  # one transaction
                for table in (*RAW_TABLES, "deliveries"):
                    cur.execute(f"delete from raw.{table} where delivery_id = %s", [delivery_id])
                    cur.execute(f"analyze raw.{table}")
        finally:
            con.close()

    def deliveries(self) -> list[DeliveryRecord] | None:
        con = connect()
        try:
            with con.cursor() as cur:
                cur.execute("select to_regclass('raw.deliveries') is not null")
                if not cur.fetchone()[0]:
                    return None
                cur.execute("select delivery_id, delivered_on, billing_file is not null from raw.deliveries")
                return [DeliveryRecord(*row) for row in cur.fetchall()]
        finally:
            con.close()

    def published_populations(self) -> list[tuple[dt.date, int]]:
        history = f"{MARTS_SCHEMA}.customer_credit_score_history"
        con = connect()
        try:
            with con.cursor() as cur:
                cur.execute("select to_regclass(%s) is not null", [history])
                if not cur.fetchone()[0]:
                    return []
                cur.execute(published_populations_sql(history))
                return cur.fetchall()
        finally:
            con.close()

    def built_population(self) -> int:
        con = connect()
        try:
            with con.cursor() as cur:
                cur.execute(f"select count(*) from {PUBLISHED[MARTS_SCHEMA]}.customer_credit_score")
                return int(cur.fetchone()[0])
        finally:
            con.close()

    def bill_months_arrived(self, months: list[dt.date]) -> dict[str, MonthArrived]:
        con = connect()
        try:
            with con.cursor() as cur:
                cur.execute("select to_regclass('raw.billing') is not null")
                if not cur.fetchone()[0]:
                    return {}
                cur.execute(bill_months_sql("raw.billing", months))
                return arrived_from_rows(cur.fetchall())
        finally:
            con.close()

    STATIC = "public.static_parts_built"

    def static_fingerprint(self) -> str | None:
        con = connect()
        try:
            if not postgres_history(con).exists(self.STATIC):
                return None
            with con.cursor() as cur:
                cur.execute(f"select fingerprint from {self.STATIC}")
                row = cur.fetchone()
            return row[0] if row else None
        finally:
            con.close()

    def record_static_fingerprint(self, fingerprint: str | None) -> None:
        """A table beside the ledger: the seeds and the time spine as the last successful build left them."""
        con = connect()
        try:
            with con, con.cursor() as cur:  # one transaction
                cur.execute(f"create table if not exists {self.STATIC} (fingerprint text not null)")
                cur.execute(f"delete from {self.STATIC}")
                if fingerprint is not None:
                    cur.execute(f"insert into {self.STATIC} values (%s)", [fingerprint])
        finally:
            con.close()

    def full_refresh_reason(self) -> str | None:
        con = connect()
        try:
            history = postgres_history(con)
            return full_refresh_reason(
                history.execute,
                ledger="public.incremental_ledger",
                deliveries="raw.deliveries",
                ledger_exists=history.exists("public.incremental_ledger"),
                models_exist=history.exists("intermediate.int_subscriptions_validated"),
            )
        finally:
            con.close()

    def _history_step(self, step) -> None:
        """Run one HistoryTables step (see history.py) in its own transaction."""
        con = connect()
        try:
            with con:
                with con.cursor() as cur:  # a first build: dbt has not created it yet
                    cur.execute(f"create schema if not exists {PUBLISHED[MARTS_SCHEMA]}")
                step(postgres_history(con))
        finally:
            con.close()

    def before_dbt(self, as_of: dt.date, *, adding: bool = False) -> None:
        self._history_step(lambda h: h.prepare(as_of, adding=adding))

    def after_dbt(self, as_of: dt.date, *, published: bool) -> None:
        self._history_step(lambda h: h.settle(published=published))

    def publish(self, as_of: dt.date, tests_passed: int) -> str:
        """Atomically (one transaction): move every table of marts_unpublished / audit_unpublished into
        marts / audit, but the marts that keep months (history.MONTHLY), which stay where dbt builds
        them: the months the build changed are copied into their published tables (all months into a
        table published for the first time)."""
        con = connect()
        try:
            with con, con.cursor() as cur:
                for published, unpublished in PUBLISHED.items():
                    cur.execute(
                        "select table_name from information_schema.tables where table_schema = %s "
                        "and table_type = 'BASE TABLE' and table_name <> all(%s) and table_name <> 'history_pending' "
                        "order by table_name",
                        [unpublished, list(MONTHLY)],
                    )
                    for (table,) in cur.fetchall():
                        cur.execute(f'drop table if exists {published}."{table}"')
                        cur.execute(f'alter table {unpublished}."{table}" set schema {published}')
                history = postgres_history(con)
                months = history.pending_months()
                for table in MONTHLY:
                    self._publish_months(cur, history, table, months)
        finally:
            con.close()
        return "postgres: marts, audit"

    @staticmethod
    def _publish_months(cur, history: HistoryTables, table: str, months: list[dt.date]) -> None:
        built, published = history.built(table), history.published(table)
        is_new = not history.exists(published)
        cur.execute(f"create table if not exists {published} (like {built} including all)")
        cur.execute(  # the grants dbt gave the built table (the BI reader role's SELECT)
            "select grantee, privilege_type from information_schema.role_table_grants "
            "where table_schema = %s and table_name = %s and grantee <> current_user",
            [PUBLISHED[MARTS_SCHEMA], table],
        )
        for grantee, privilege in cur.fetchall():
            cur.execute(f'grant {privilege} on {published} to "{grantee}"')
        if is_new:
            cur.execute(f"insert into {published} select * from {built}")
        else:
            cur.execute(f"delete from {published} where as_of_date = any(%s)", [months])
            cur.execute(f"insert into {published} select * from {built} where as_of_date = any(%s)", [months])
        cur.execute(f"analyze {published}")  # as every model does (macros/planner_statistics.sql)

    def star_distribution(self) -> tuple[int, list[tuple[int, str, int]]]:
        con = connect()
        try:
            with con.cursor() as cur:
                cur.execute(
                    "select star_level, star_label, count(*) from marts.customer_credit_score "
                    "group by star_level, star_label order by star_level desc"
                )
                rows = [(int(level), str(label), int(count)) for level, label, count in cur.fetchall()]
        finally:
            con.close()
        return sum(r[2] for r in rows), rows

    # -- readers ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def reader(self, *, work: bool = False) -> Iterator[Reader]:
        """A read-only session on the server (as the configured user; BI uses credit_score_reader)."""
        if work:
            raise QueryFailed(
                f"--work reads DuckDB's work file; on PostgreSQL the last build's audit is the schema "
                f"{unpublished(AUDIT_SCHEMA)}"
            )
        con = connect()
        con.set_session(readonly=True, autocommit=True)
        try:
            yield PostgresReader(con)
        finally:
            con.close()

    def provenance(self) -> Provenance:
        con = connect()
        con.set_session(readonly=True, autocommit=True)

        def query(sql: str) -> list[tuple]:
            with con.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()

        return Provenance(
            query=query,
            published=lambda table: f"{MARTS_SCHEMA}.{table}",
            work=lambda schema, table: f"{schema}.{table}",
            close=con.close,
        )

    def work_rejects_command(self, query: str) -> str:
        return f'credit-score sql --target postgres "{query.format(audit=unpublished(AUDIT_SCHEMA))}"'
