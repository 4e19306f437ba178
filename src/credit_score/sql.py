"""`credit-score sql [QUERY]`: an analyst's SQL against what BI reads, read-only, printed as a table.

DuckDB: the served file, opened read-only (a build publishing meanwhile is not disturbed, and a
statement that writes is refused by DuckDB). PostgreSQL: the configured server in a read-only
session. With no QUERY and a terminal: a prompt (statements end with `;`, `\\d` lists the tables,
`\\q` or Ctrl-D leaves); with no QUERY and piped input: the statements read from it.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from credit_score import console, settings

PROMPT, CONTINUATION = "credit-score> ", "          ...> "
LIST_TABLES = (
    "select table_schema as schema, table_name as name, table_type as type from information_schema.tables "
    "where table_schema in ('marts', 'audit') order by 1, 2"
)


class QueryFailed(Exception):
    """The database refused the statement; the message is its own."""


@dataclass
class Result:
    columns: list[str]
    rows: list[tuple]


@contextmanager
def reader(target: str | None, *, work: bool = False) -> Iterator[Callable[[str], Result]]:
    """run(statement) -> Result against what BI reads on target, read-only; with work (DuckDB), the
    work file instead: what the last build computed, published or not (its audit of a refused build),
    read under the warehouse's lock, so that no load or build starts while it is open."""
    name = settings.target_name(target)
    if name == "duckdb":
        import duckdb

        served = settings.duckdb_path()
        if work:
            from credit_score.engines.duckdb import warehouse_lock

            path = settings.work_path(served)
            if not path.exists():
                raise QueryFailed(f"{path} does not exist: nothing is loaded yet")
            with warehouse_lock(served):
                con = duckdb.connect(str(path), read_only=True)
                try:
                    yield _duckdb_runner(con)
                finally:
                    con.close()
            return
        if not served.exists():
            raise QueryFailed(f"{served} does not exist: nothing is published yet (run `credit-score build`)")
        con = duckdb.connect(str(served), read_only=True)
        run = _duckdb_runner(con)

    elif name == "postgres":
        import psycopg2

        from credit_score.engines.postgres import connect

        con = connect()
        con.set_session(readonly=True, autocommit=True)

        def run(statement: str) -> Result:
            try:
                with con.cursor() as cur:
                    cur.execute(statement)
                    if cur.description is None:
                        return Result([], [])
                    return Result([d.name for d in cur.description], cur.fetchall())
            except psycopg2.Error as e:
                raise QueryFailed(str(e).strip()) from None

    else:
        raise QueryFailed("sql reads DuckDB's served file or PostgreSQL; on Spark use spark-sql or beeline")
    if work and name != "duckdb":
        con.close()
        raise QueryFailed(
            f"--work reads DuckDB's work file; on PostgreSQL the last build's audit is the schema "
            f"{settings.unpublished(settings.AUDIT_SCHEMA)}"
        )
    try:
        yield run
    finally:
        con.close()


def show(result: Result, *, as_csv: bool = False, max_rows: int = 100) -> None:
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(["" if v is None else v for v in row] for row in result.rows)
        return
    if not result.columns:
        console.note("done")
        return
    numeric = tuple(
        i
        for i in range(len(result.columns))
        if any(
            isinstance(row[i], int | float | decimal.Decimal) and not isinstance(row[i], bool) for row in result.rows
        )
    )
    console.table(None, result.columns, [_plain(row) for row in result.rows[:max_rows]], right=numeric)
    more = len(result.rows) - max_rows
    counted = f"{len(result.rows):,} row{'' if len(result.rows) == 1 else 's'}"
    console.note(counted + (f" ({more:,} not shown: --max-rows)" if more > 0 else ""))


def _plain(row: tuple) -> tuple:
    return tuple(v.isoformat() if isinstance(v, dt.date) else v for v in row)


def statements(lines: Iterable[str]) -> Iterator[str]:
    """Whole statements from lines: each ends with ';' at the end of a line (a last one may not).
    Between statements, `\\d` lists the tables and `\\q` ends."""
    pending: list[str] = []
    for line in lines:
        if not pending and line.strip() in ("\\q", "exit", "quit"):
            return
        if not pending and line.strip() == "\\d":
            yield LIST_TABLES
            continue
        pending.append(line)
        if line.rstrip().endswith(";"):
            yield "\n".join(pending).strip()
            pending = []
    if "".join(pending).strip():
        yield "\n".join(pending).strip()


def prompt_lines() -> Iterator[str]:
    import readline  # noqa: F401  (line editing and history at the prompt)

    console.note("what BI reads, read-only. End a statement with ;  \\d lists the tables, \\q leaves.")
    pending = False
    while True:
        try:
            line = input(CONTINUATION if pending else PROMPT)
        except EOFError:
            print()
            return
        if pending or line.strip():
            pending = not line.rstrip().endswith(";") and not (not pending and line.strip().startswith("\\"))
        yield line


def _duckdb_runner(con) -> Callable[[str], Result]:
    import duckdb

    def run(statement: str) -> Result:
        try:
            relation = con.execute(statement)
            return Result([d[0] for d in relation.description or []], relation.fetchall())
        except duckdb.Error as e:
            raise QueryFailed(str(e)) from None

    return run


def main(query: str | None, *, target: str | None, as_csv: bool, max_rows: int, work: bool = False) -> int:
    try:
        with reader(target, work=work) as run:
            if query is not None:
                show(run(query), as_csv=as_csv, max_rows=max_rows)
                return 0
            interactive = sys.stdin.isatty()
            source = prompt_lines() if interactive else (line.rstrip("\n") for line in sys.stdin)
            failures = 0
            for statement in statements(source):
                try:
                    show(run(statement), as_csv=as_csv, max_rows=max_rows)
                except QueryFailed as e:
                    failures += 1
                    console.err.print(f"error: {e}", markup=False)
                    if not interactive:
                        return 1
            return 0 if not failures or interactive else 1
    except QueryFailed as e:
        console.err.print(f"credit-score sql: {e}", markup=False)
        return 1
