"""Land the three raw files of a folder in the warehouse schema `raw`, all or nothing.

Values are landed as text, exactly as delivered (Parquet values in their text form): types are
judged in staging, so a malformed value is kept and reported there instead of being lost here.
"""

from __future__ import annotations

import codecs
import csv
import re
import tempfile
import time
from pathlib import Path

import duckdb

from credit_score.publish import warehouse_lock
from credit_score.settings import RAW_TABLES, work_path

EXPECTED_COLUMNS: dict[str, list[str]] = {
    "subscriptions": ["customer_id", "msisdn", "brand_code", "activation_date", "termination_date", "updated_at"],
    "billing": ["bill_id", "customer_id", "bill_month", "amount"],
    "suspensions": ["suspension_id", "customer_id", "suspended_at", "resumed_at", "reason_code"],
}


class LoadError(Exception):
    """A file that cannot be landed; the message says which file and what was expected."""


def find_raw_files(directory: Path) -> dict[str, Path]:
    """The file of each raw table in directory: <table>.csv or <table>.parquet, exactly one each."""
    if not directory.is_dir():
        raise LoadError(f"{directory}: no such folder; expected a folder holding {', '.join(RAW_TABLES)} files")
    found: dict[str, Path] = {}
    for table in RAW_TABLES:
        candidates = [p for p in (directory / f"{table}.csv", directory / f"{table}.parquet") if p.is_file()]
        if not candidates:
            raise LoadError(f"{directory / table}.csv: missing; expected {table}.csv or {table}.parquet")
        if len(candidates) > 1:
            raise LoadError(f"{directory}: both {table}.csv and {table}.parquet are there; keep one")
        found[table] = candidates[0]
    return found


def _read_sql(path: Path, table: str) -> str:
    quoted = str(path).replace("'", "''")
    if path.suffix == ".parquet":
        # raw is text whatever the format, so staging judges every file the same way
        columns = ", ".join(f'cast("{c}" as varchar) as "{c}"' for c in EXPECTED_COLUMNS[table])
        return f"(select {columns} from read_parquet('{quoted}'))"
    return (
        f"read_csv('{quoted}', header = true, delim = ',', quote = '\"', all_varchar = true, "
        f"auto_detect = false, columns = {{{_columns_struct(table)}}}, "
        "null_padding = false, strict_mode = true)"
    )


def _columns_struct(table: str) -> str:
    return ", ".join(f"'{c}': 'VARCHAR'" for c in EXPECTED_COLUMNS[table])


def _check_header(path: Path, encoding: str) -> None:
    """The CSV's header names the contract's columns in the contract's order."""
    expected = EXPECTED_COLUMNS[path.stem]
    if path.suffix == ".parquet":
        names = [r[0] for r in duckdb.sql(f"describe select * from read_parquet('{path}')").fetchall()]
        if names != expected:
            raise LoadError(f"{path}: columns are {names}; expected {expected}")
        return
    try:
        with path.open("rb") as f:
            header = f.readline().decode("utf-8-sig" if encoding == "utf-8" else encoding).rstrip("\r\n")
    except UnicodeDecodeError:
        raise LoadError(f"{path}, line 1: the header is not {encoding}. {_encoding_hint(encoding)}") from None
    names = [c.strip().strip('"') for c in header.split(",")]
    if names != expected:
        raise LoadError(f"{path}, line 1: header is {','.join(names)}; expected {','.join(expected)}")


def load(directory: Path, database: Path, *, encoding: str = "utf-8", progress: bool = True) -> dict[str, int]:
    """Replace raw.<table> for every table with the rows of directory's files; return rows per table.

    database is the served file; the raw tables live in its work file beside it (see publish.py), so
    loading never disturbs BI.  One transaction: if any file cannot be read, the raw tables keep what
    they had.
    """
    with warehouse_lock(database):
        return _load(directory, work_path(database), encoding=encoding, progress=progress)


def _load(directory: Path, database: Path, *, encoding: str, progress: bool) -> dict[str, int]:
    try:
        encoding = codecs.lookup(encoding).name
    except LookupError:
        raise LoadError(f"unknown encoding {encoding!r}: use utf-8 (the default) or gb18030") from None
    files = find_raw_files(directory)
    for path in files.values():
        _check_header(path, encoding)
    database.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    counts: dict[str, int] = {}
    con = duckdb.connect(str(database))
    try:
        con.execute("begin transaction")
        con.execute("create schema if not exists raw")
        for table, path in files.items():
            with _as_utf8(path, encoding, database.parent) as readable:
                try:
                    con.execute(f"create or replace table raw.{table} as select * from {_read_sql(readable, table)}")
                except duckdb.Error as e:
                    raise LoadError(_explain(path, str(e), encoding)) from None
            counts[table] = con.execute(f"select count(*) from raw.{table}").fetchone()[0]  # type: ignore[index]
            if progress:
                print(
                    f"[load {time.perf_counter() - started:5.1f}s] raw.{table}: {counts[table]:,} rows from {path}",
                    flush=True,
                )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.close()
    return counts


def _encoding_hint(encoding: str) -> str:
    if encoding == "utf-8":
        return "Chinese exports are often GB18030: try `credit-score load DIR --encoding gb18030`."
    return "Check the file's encoding."


def _explain(path: Path, message: str, encoding: str) -> str:
    """DuckDB's CSV error as one line a person can act on: file, line, what was expected."""
    line = re.search(r"CSV Error on Line: (\d+)", message)
    if not line:
        return f"{path}: cannot be read: {message.splitlines()[0]}"
    where = f"{path}, line {line.group(1)}"
    original = re.search(r"Original Line: (.*)", message)
    shown = f": {original.group(1)[:200]!r}" if original else ""
    columns = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message)
    if columns:
        expected = ",".join(EXPECTED_COLUMNS[path.stem])
        return f"{where}: expected {columns.group(1)} fields ({expected}), found {columns.group(2)}{shown}"
    if "Invalid unicode" in message:
        return f"{where}: bytes that are not valid {encoding}. {_encoding_hint(encoding)}"
    if "unterminated quote" in message:
        return f"{where}: a quoted value is never closed{shown}"
    return f"{where}: {message.splitlines()[0]}{shown}"


class _as_utf8:
    """The file itself when it is UTF-8 (or Parquet), else a temporary UTF-8 copy, decoded strictly."""

    CHUNK = 16 * 1024 * 1024

    def __init__(self, path: Path, encoding: str, scratch: Path):
        self.path, self.encoding, self.scratch = path, encoding, scratch
        self.copy: Path | None = None

    def __enter__(self) -> Path:
        if self.path.suffix == ".parquet" or self.encoding == "utf-8":
            return self.path
        handle, name = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".csv", dir=self.scratch)
        self.copy = Path(name)
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="strict")
        lines_before = 0
        with self.path.open("rb") as source, open(handle, "w", encoding="utf-8", newline="") as target:
            while chunk := source.read(self.CHUNK):
                try:
                    target.write(decoder.decode(chunk))
                except UnicodeDecodeError as e:
                    line = lines_before + chunk[: max(e.start, 0)].count(b"\n") + 1
                    raise LoadError(f"{self.path}, line {line}: bytes that are not valid {self.encoding}") from None
                lines_before += chunk.count(b"\n")
            target.write(decoder.decode(b"", final=True))
        return self.copy

    def __exit__(self, *exc: object) -> None:
        if self.copy is not None:
            self.copy.unlink(missing_ok=True)


def export_checked(
    files: dict[str, Path], encoding: str, scratch: Path, file_format: str
) -> dict[str, tuple[Path, int]]:
    """Read each raw file exactly as the DuckDB load does (same checks, same messages) and write it to
    scratch as all-text CSV or Parquet, for engines that load from files (PostgreSQL, Spark)."""
    exported: dict[str, tuple[Path, int]] = {}
    for table, path in files.items():
        target = scratch / f"{table}.{file_format}"
        with _as_utf8(path, encoding, scratch) as readable:
            try:
                written = duckdb.execute(
                    f"copy (select * from {_read_sql(readable, table)}) to '{target}' "
                    f"(format {file_format}{', header true' if file_format == 'csv' else ''})"
                ).fetchone()
            except duckdb.Error as e:
                raise LoadError(_explain(path, str(e), encoding)) from None
        exported[table] = (target, int(written[0]) if written else 0)
    return exported


def read_csv_tables(directory: Path) -> dict[str, list[dict[str, str]]]:
    """The three CSV files of directory as lists of rows of text (small data: demos and tests)."""
    tables = {}
    for table in RAW_TABLES:
        with (directory / f"{table}.csv").open(newline="", encoding="utf-8") as f:
            tables[table] = list(csv.DictReader(f))
    return tables


def write_csv_tables(directory: Path, tables: dict[str, list[dict[str, str]]]) -> Path:
    """Write rows of text as <table>.csv files in the raw contract's column order."""
    directory.mkdir(parents=True, exist_ok=True)
    for table, rows in tables.items():
        with (directory / f"{table}.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=EXPECTED_COLUMNS[table])
            writer.writeheader()
            writer.writerows(rows)
    return directory
