"""PostgreSQL: load with COPY, publish the audited marts in one transaction.

Connection settings come from the environment (SPEC 5): CREDIT_SCORE_PG_HOST, _PORT, _USER,
_PASSWORD, _DATABASE.  dbt writes marts and audit into `marts_unpublished` / `audit_unpublished`
(see macros/generate_schema_name.sql); once every error-level test has passed, `publish` moves each
table into `marts` / `audit` inside one transaction.  PostgreSQL's DDL is transactional: a BI query
sees the previous tables or the new ones, never a mix, and a failed build leaves them untouched.
"""

from __future__ import annotations

import getpass
import os
import time
from pathlib import Path
from typing import Any

from credit_score.load import EXPECTED_COLUMNS, export_checked, find_raw_files
from credit_score.settings import RAW_TABLES

PUBLISHED = {"marts": "marts_unpublished", "audit": "audit_unpublished"}


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


def load(directory: Path, *, encoding: str = "utf-8", progress: bool = True) -> dict[str, int]:
    """Replace raw.<table> with the files' rows, as text, in one transaction (COPY).

    Each file is first read by DuckDB exactly as `credit-score load` reads it for DuckDB, so a bad
    file is refused with the same message (file, line, what was expected) before PostgreSQL is touched.
    """
    import codecs
    import tempfile

    encoding = codecs.lookup(encoding).name
    files = find_raw_files(directory)
    started = time.perf_counter()
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="credit-score-load-") as scratch:
        checked = {table: path for table, (path, _) in export_checked(files, encoding, Path(scratch), "csv").items()}
        con = connect()
        try:
            with con, con.cursor() as cur:  # one transaction: all three tables or none
                cur.execute("create schema if not exists raw")
                for table in RAW_TABLES:
                    columns = ", ".join(f"{c} text" for c in EXPECTED_COLUMNS[table])
                    cur.execute(f"drop table if exists raw.{table} cascade")
                    cur.execute(f"create table raw.{table} ({columns})")
                    with checked[table].open(encoding="utf-8") as f:
                        cur.copy_expert(f"copy raw.{table} from stdin with (format csv, header true)", f)
                    cur.execute(f"select count(*) from raw.{table}")
                    counts[table] = cur.fetchone()[0]
                    if progress:
                        elapsed = time.perf_counter() - started
                        print(f"[load {elapsed:5.1f}s] raw.{table}: {counts[table]:,} rows (PostgreSQL)", flush=True)
        finally:
            con.close()
    return counts


def history_step(step) -> None:
    """Run one HistoryTables step (see history.py) in its own transaction."""
    from credit_score.history import postgres_history

    con = connect()
    try:
        with con:
            with con.cursor() as cur:  # a first build: dbt has not created it yet
                cur.execute(f"create schema if not exists {PUBLISHED['marts']}")
            step(postgres_history(con))
    finally:
        con.close()


def publish(as_of) -> None:
    """Atomically (one transaction): move every table of marts_unpublished / audit_unpublished into
    marts / audit, and copy the built month of the history into marts' history (which stays)."""
    from credit_score.history import HISTORY, postgres_history

    con = connect()
    try:
        with con, con.cursor() as cur:
            for published, unpublished in PUBLISHED.items():
                cur.execute(
                    "select table_name from information_schema.tables where table_schema = %s "
                    "and table_type = 'BASE TABLE' and table_name not in (%s, 'history_pending') "
                    "order by table_name",
                    [unpublished, HISTORY],
                )
                for (table,) in cur.fetchall():
                    cur.execute(f'drop table if exists {published}."{table}"')
                    cur.execute(f'alter table {unpublished}."{table}" set schema {published}')
            history = postgres_history(con)
            cur.execute(f"create table if not exists {history.published} (like {history.built} including all)")
            cur.execute(  # the grants dbt gave the built table (the BI reader role's SELECT)
                "select grantee, privilege_type from information_schema.role_table_grants "
                "where table_schema = 'marts_unpublished' and table_name = %s and grantee <> current_user",
                [HISTORY],
            )
            for grantee, privilege in cur.fetchall():
                cur.execute(f'grant {privilege} on {history.published} to "{grantee}"')
            cur.execute(f"delete from {history.published} where as_of_date = %s", [as_of])
            cur.execute(f"insert into {history.published} select * from {history.built} where as_of_date = %s", [as_of])
    finally:
        con.close()


def star_distribution() -> tuple[int, list[tuple[int, str, int]]]:
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
