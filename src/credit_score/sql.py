"""`credit-score sql [QUERY]`: an analyst's SQL against what BI reads, read-only, printed as a table.

DuckDB: the served file, opened read-only (a build publishing meanwhile is not disturbed, and a
statement that writes is refused by DuckDB). PostgreSQL: the configured server in a read-only
session. Statements that would write files or reach beyond what BI reads (COPY, EXPORT, ATTACH,
INSTALL/LOAD) are refused before they run: `credit-score export` writes a table or a query's rows to
a file. With no QUERY and a terminal: a prompt (statements end with `;`, `\\d` lists the tables,
`\\d TABLE` describes one, `\\q` or Ctrl-D leaves); with no QUERY and piped input: every statement
read from it, in turn; one that fails is reported with its number and the rest still run, and the
exit status is 1 when any failed.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from credit_score import console

PROMPT, CONTINUATION = "credit-score> ", "          ...> "
DESCRIBE = "\\d "  # a statement standing for `\\d TABLE` (sql.describe_sql makes its query)
LIST_TABLES = (
    "select table_schema as schema, table_name as name, table_type as type from information_schema.tables "
    "where table_schema in ('marts', 'audit') order by 1, 2"
)


class QueryFailed(Exception):
    """The database refused the statement; the message is its own."""


# what `sql` refuses before running: a file written, another database attached, code loaded
REFUSED = {"COPY": "writes a file", "EXPORT": "writes files", "ATTACH": "attaches another database",
           "DETACH": "detaches a database", "LOAD": "installs or loads an extension"}  # fmt: skip
WRITES_ELSEWHERE = (
    "; `credit-score sql` only reads what BI reads: `credit-score export TABLE|QUERY --out FILE.csv|.parquet` "
    "writes rows to a file"
)


def describe_sql(name: str) -> str:
    """`\\d TABLE`: the columns of a published table or view (schema optional: marts, then audit)."""
    if not IDENTIFIER.fullmatch(name):
        raise QueryFailed(f"\\d {name}: give a table's name, e.g. \\d marts.customer_credit_score")
    schema, _, table = name.rpartition(".")
    where = f"table_schema = '{schema}'" if schema else "table_schema in ('marts', 'audit')"
    return (
        "select column_name as column, data_type as type, is_nullable as nullable "
        f"from information_schema.columns where {where} and table_name = '{table}' "
        "order by case table_schema when 'marts' then 0 else 1 end, ordinal_position"
    )


def describe(run: Callable[[str], Result], name: str) -> Result:
    result = run(describe_sql(name))
    if not result.rows:
        raise QueryFailed(f"\\d {name}: no such table in marts or audit (\\d lists them)")
    return result


IDENTIFIER = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Result:
    columns: list[str]
    rows: list[tuple]


class Reader:
    """A read-only session on one engine (credit_score.engines: Engine.reader): reader(statement) runs
    one statement, export(query, path, kind) writes a query's rows to a csv or parquet file."""

    def __call__(self, statement: str) -> Result:
        raise NotImplementedError

    def export(self, query: str, path, kind: str) -> int:
        """Write query's rows to path (csv: header, comma; parquet: the columns' own types); the rows."""
        raise NotImplementedError


def refuse(kind: str) -> None:
    """QueryFailed for a statement of a kind `sql` refuses (REFUSED), before it runs."""
    if kind in REFUSED:
        raise QueryFailed(f"{kind} {REFUSED[kind]}{WRITES_ELSEWHERE}")


def quoted(path) -> str:
    """A path inside a SQL string literal."""
    return str(path).replace("'", "''")


@contextmanager
def reader(target: str | None, *, work: bool = False, database=None) -> Iterator[Reader]:
    """run(statement) -> Result against what BI reads on target, read-only (Engine.reader); with work,
    where the last build computed (DuckDB's work file, read under the warehouse's lock)."""
    from credit_score import engines

    with engines.get(target, database=database).reader(work=work) as run:
        yield run


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
    Between statements, `\\d` lists the tables, `\\d TABLE` describes one and `\\q` ends."""
    pending: list[str] = []
    for line in lines:
        if not pending and line.strip() in ("\\q", "exit", "quit"):
            return
        if not pending and line.strip().rstrip(";") == "\\d":
            yield LIST_TABLES
            continue
        if not pending and line.strip().startswith("\\d "):
            yield DESCRIBE + line.strip()[3:].strip().rstrip(";").strip()
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


def main(query: str | None, *, target: str | None, as_csv: bool, max_rows: int, work: bool = False) -> int:
    try:
        with reader(target, work=work) as run:
            if query is not None:
                show(run(query), as_csv=as_csv, max_rows=max_rows)
                return 0
            interactive = sys.stdin.isatty()
            source = prompt_lines() if interactive else (line.rstrip("\n") for line in sys.stdin)
            failures = 0
            for number, statement in enumerate(statements(source), 1):
                try:
                    if statement.startswith(DESCRIBE):
                        show(describe(run, statement[len(DESCRIBE) :]), as_csv=as_csv, max_rows=max_rows)
                        continue
                    show(run(statement), as_csv=as_csv, max_rows=max_rows)
                except QueryFailed as e:
                    failures += 1
                    where = "" if interactive else f" in statement {number}"
                    console.err.print(f"error{where}: {e}", markup=False)
            if failures and not interactive:
                console.err.print(f"{failures} of {number} statements failed; the others ran", markup=False)
            return 0 if not failures or interactive else 1
    except QueryFailed as e:
        console.err.print(f"credit-score sql: {e}", markup=False)
        return 1


def export(what: str, out: str, *, target: str | None) -> int:
    """`credit-score export TABLE|QUERY --out FILE`: a published table (marts.x, audit.x, or a bare
    name found in marts then audit) or one SELECT's rows written to FILE, as CSV (header, comma) or
    Parquet (the columns' own types: money stays DECIMAL), by FILE's extension; read as `sql` reads."""
    from pathlib import Path

    path = Path(out)
    kind = {".csv": "csv", ".parquet": "parquet"}.get(path.suffix.lower())
    if kind is None:
        console.err.print(f"credit-score export: --out {out}: name a .csv or a .parquet file", markup=False)
        return 2
    name = what.strip()
    try:
        with reader(target) as run:
            if not IDENTIFIER.fullmatch(name):
                query = name.rstrip(";")
            elif "." in name:
                query = f"select * from {name}"
            else:
                query = f"select * from {_schema_of(run, name)}.{name}"
            rows = _write(run, query, path, kind)
    except QueryFailed as e:
        console.err.print(f"credit-score export: {e}", markup=False)
        return 1
    console.done(f"wrote {rows:,} rows to {path} ({kind})")
    return 0


def _schema_of(run: Callable[[str], Result], table: str) -> str:
    """The schema of a bare table name: marts, else audit; QueryFailed when neither has it."""
    found = run(
        "select table_schema from information_schema.tables where table_schema in ('marts', 'audit') "
        f"and table_name = '{table}' order by case table_schema when 'marts' then 0 else 1 end"
    ).rows
    if not found:
        raise QueryFailed(f"no table {table} in marts or audit (`credit-score sql` then \\d lists them)")
    return found[0][0]


def _write(run: Reader, query: str, path, kind: str) -> int:
    """Write query's rows to path through a partial file renamed at the end (Reader.export)."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        rows = run.export(query, partial, kind)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return rows
