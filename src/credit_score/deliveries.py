"""A delivery (SPEC 6): a folder holding any of the three raw files, with an id and a delivery date.

This module finds and checks a delivery's files and says, for every engine alike, how each file is
read: as text exactly as delivered, each row with its delivery id, its delivery date and its line in
the file.  The engines (credit_score.engines) only decide where the rows go.

Files load as they come: `<table>.csv`, `<table>.csv.gz` or `<table>.parquet`; CSV in UTF-8 (with or
without a byte-order mark) or, on request, GB18030; LF or CRLF line ends.  A refusal names the file,
the line and what to do, and nothing is loaded.
"""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from credit_score import memory, privacy
from credit_score.settings import (
    RAW_COLUMNS,
    RAW_TABLES,
    duckdb_memory_limit,
    last_complete_month_start,
    month_end,
)

# The raw contract, read from the dbt sources (settings._raw_contract).
EXPECTED_COLUMNS = RAW_COLUMNS
SUFFIXES = (".csv", ".csv.gz", ".parquet")
DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
AGAIN = "correct the file and run the same load again (loading a delivery id again replaces it)"


class LoadError(Exception):
    """A delivery that cannot be loaded; the message says which file, which line and what to do.
    partial: the load is committed but not finished (only Spark, whose journal the next load or build
    finishes: engines/spark.py); otherwise raw is exactly as it was."""

    def __init__(self, message: str, *, partial: bool = False):
        super().__init__(message)
        self.partial = partial


def load_time(latest: dt.datetime | None) -> dt.datetime:
    """When a load happens (UTC, naive), and always after the latest earlier load: incremental builds
    take the rows stamped after the loads they have absorbed (macros/incremental.sql), so load times
    must rise even if the clock steps back."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if latest is not None and now <= latest:
        return latest + dt.timedelta(microseconds=1)
    return now


@dataclass(frozen=True)
class Delivery:
    """A checked delivery folder: its files (a subset of the three tables) and how to read them."""

    delivery_id: str
    delivered_on: dt.date
    directory: Path
    files: dict[str, Path]
    encoding: str = "utf-8"

    def registry_row(self, loaded_at: dt.datetime) -> list:
        """The values of raw.deliveries' row for this delivery, in REGISTRY_COLUMNS order."""
        return [
            self.delivered_on,
            loaded_at,
            str(self.directory),
            *(self.files[t].name if t in self.files else None for t in RAW_TABLES),
            self.delivery_id,
        ]


@dataclass(frozen=True)
class DeliveryRecord:
    """A row of raw.deliveries, as the engines read it back."""

    delivery_id: str
    delivered_on: dt.date
    has_billing: bool


@dataclass(frozen=True)
class LoadedDelivery:
    """A delivery as `credit-score deliveries` lists it: its register row and the raw rows it holds."""

    delivery_id: str
    delivered_on: dt.date
    loaded_at: dt.datetime
    source_folder: str
    rows: dict[str, int]


def loaded_deliveries_sql(raw: str = "raw") -> str:
    """SQL (DuckDB and PostgreSQL alike) of every loaded delivery, oldest load first: its register row
    and the rows it holds in each raw table."""
    counted = " ".join(
        f"left join (select delivery_id, count(*) as n from {raw}.{t} group by delivery_id) as {t} "
        f"on {t}.delivery_id = d.delivery_id"
        for t in RAW_TABLES
    )
    rows = ", ".join(f"coalesce({t}.n, 0) as {t}_rows" for t in RAW_TABLES)
    return (
        f"select d.delivery_id, d.delivered_on, d.loaded_at, d.source_folder, {rows} "
        f"from {raw}.deliveries as d {counted} order by d.loaded_at, d.delivery_id"
    )


def loaded_from_rows(rows: list[tuple]) -> list[LoadedDelivery]:
    return [
        LoadedDelivery(i, d, at, folder, dict(zip(RAW_TABLES, map(int, n), strict=True)))
        for i, d, at, folder, *n in rows
    ]


ENCODINGS = ("utf-8", "gb18030")  # what the upstream systems write (SPEC 2)


def open_delivery(
    directory: Path,
    *,
    delivered_on: dt.date,
    delivery_id: str | None = None,
    encoding: str = "utf-8",
    allow_empty: bool = False,
) -> Delivery:
    """Find and check the files of a delivery folder; raise LoadError saying what to do if they are
    wrong.  Every file in the folder must be one load takes (a stray `billings.csv` or `billing.xlsx`
    is refused by name, not skipped: its rows would be missing without a word), and a folder with
    none of them is a delivery only when allow_empty says so."""
    given = encoding
    try:
        encoding = codecs.lookup(encoding).name
    except LookupError:
        encoding = "not an encoding Python knows"
    if encoding not in ENCODINGS:  # latin-1 reads any byte: a GB18030 file would load garbled
        named = given if encoding == given else f"{given} ({encoding})"
        raise LoadError(f"--encoding {named}: a delivery is {' or '.join(ENCODINGS)} (utf-8 is the default)")
    if not directory.is_dir():
        raise LoadError(
            f"{directory}: no such folder; a delivery is a folder holding any of "
            f"{', '.join(f'{t}.csv' for t in RAW_TABLES)} (or .csv.gz, .parquet)"
        )
    delivery_id = directory.resolve().name if delivery_id is None else delivery_id
    if not DELIVERY_ID.fullmatch(delivery_id):
        raise LoadError(
            f"{delivery_id!r} cannot be a delivery id: use letters, digits, '.', '_' or '-' (up to 100, "
            "starting with a letter or digit), e.g. --delivery 2026-10"
        )
    files: dict[str, Path] = {}
    for table in RAW_TABLES:
        found = [directory / f"{table}{suffix}" for suffix in SUFFIXES if (directory / f"{table}{suffix}").is_file()]
        if len(found) > 1:
            raise LoadError(f"{directory}: {' and '.join(p.name for p in found)} are both there; keep one")
        if found:
            files[table] = found[0]
    taken = {f"{table}{suffix}" for table in RAW_TABLES for suffix in SUFFIXES}
    stray = sorted(entry.name for entry in directory.iterdir() if entry.name not in taken)
    if stray:
        raise LoadError(
            f"{directory}: {', '.join(stray)} {'is' if len(stray) == 1 else 'are'} not a file load takes; a delivery "
            f"folder holds only {', '.join(f'{t}.csv' for t in RAW_TABLES)} (or .csv.gz, .parquet), names in lower "
            "case: rename or move the others, then load again"
        )
    if not files and not allow_empty:
        raise LoadError(
            f"{directory}: the folder holds none of {', '.join(f'{t}.csv' for t in RAW_TABLES)} (or .csv.gz, "
            ".parquet); to record a delivery that brought nothing, load it with --allow-empty"
        )
    delivery = Delivery(delivery_id, delivered_on, directory.resolve(), files, encoding)
    for table, path in files.items():
        _check_columns(path, table, encoding)
    return delivery


def describe(delivery: Delivery) -> str:
    held = ", ".join(p.name for p in delivery.files.values()) or "no files (an empty delivery)"
    return f"delivery {delivery.delivery_id} of {delivery.delivered_on}: {held}"


def _table_of(path: Path) -> str:
    return path.name.split(".")[0]


def _open_bytes(path: Path):
    """The file's bytes, gzip undone."""
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


def _first_line(path: Path) -> bytes:
    with _open_bytes(path) as f:
        return f.readline()


def _check_columns(path: Path, table: str, encoding: str) -> None:
    """The file names the contract's columns: a CSV's header in the contract's order, a Parquet
    file's columns in any order."""
    expected = EXPECTED_COLUMNS[table]
    if path.suffix == ".parquet":
        try:
            names = [r[0] for r in query(f"describe select * from read_parquet({_literal(path)})")]
        except duckdb.Error as e:
            raise LoadError(f"{path}: not a readable Parquet file ({str(e).splitlines()[0]}); {AGAIN}") from None
        if sorted(names) != sorted(expected):
            raise LoadError(f"{path}: columns are {names}; expected {expected}; {AGAIN}")
        return
    try:
        header = _first_line(path).decode(encoding).lstrip("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError:
        raise LoadError(f"{path}, line 1: the header is not {encoding}. {_encoding_hint(encoding)}") from None
    except (OSError, EOFError) as e:  # a truncated or corrupt gzip file
        raise LoadError(f"{path}: cannot be read ({e}); {AGAIN}") from None
    if not header:
        raise LoadError(f"{path}, line 1: the file is empty; expected the header {','.join(expected)}; {AGAIN}")
    names = [c.strip().strip('"') for c in header.split(",")]
    if names != expected:
        raise LoadError(f"{path}, line 1: header is {','.join(names)}; expected {','.join(expected)}; {AGAIN}")


def query(sql: str) -> list[tuple]:
    """Rows of one statement on a connection of its own: never DuckDB's module-wide default connection,
    which whatever else runs in the process (a test, an orchestrator) shares, and which refuses a new
    statement while another's result is unfinished."""
    con = duckdb.connect(config={"memory_limit": duckdb_memory_limit()})
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def rows_sql(delivery: Delivery, table: str, readable: Path) -> str:
    """SELECT of every row of the table's file as text, in file order, with the delivery's columns.

    `readable` is the file itself, or its UTF-8 copy (see readable_copy).  The line is the row's line
    in the file (the header is line 1; a value spanning lines counts once), or its row number in a
    Parquet file; row_number() over () follows the reader's order (a streaming window)."""
    columns = EXPECTED_COLUMNS[table]
    delivery_values = (
        f"cast({_literal(delivery.delivered_on.isoformat())} as date) as delivered_on, "
        f"{_literal(delivery.delivery_id)} as delivery_id"
    )
    if readable.suffix == ".parquet":
        values = ", ".join(f'cast("{c}" as varchar) as "{c}"' for c in columns)
        return (
            f"select {values}, cast(file_row_number + 1 as bigint) as file_line, {delivery_values} "
            f"from read_parquet({_literal(readable)}, file_row_number = true)"
        )
    struct = ", ".join(f"'{c}': 'VARCHAR'" for c in columns)
    reader = (
        f"read_csv({_literal(readable)}, header = true, delim = ',', quote = '\"', escape = '\"', "
        f"all_varchar = true, auto_detect = false, columns = {{{struct}}}, null_padding = false, "
        "strict_mode = true)"
    )
    return (
        f"select {', '.join(columns)}, cast(row_number() over () + 1 as bigint) as file_line, {delivery_values} "
        f"from {reader}"
    )


@contextmanager
def readable_copy(path: Path, encoding: str, scratch: Path) -> Iterator[Path]:
    """The file itself when DuckDB reads it as it is (UTF-8 CSV, gzipped or not, or Parquet), else a
    temporary UTF-8 copy decoded strictly, naming the line of the first byte that does not decode."""
    if path.suffix == ".parquet" or encoding == "utf-8":
        yield path
        return
    handle, name = tempfile.mkstemp(prefix=f".{_table_of(path)}.", suffix=".csv", dir=scratch)
    copy = Path(name)
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        lines_before, first = 0, True
        with _open_bytes(path) as source, open(handle, "w", encoding="utf-8", newline="") as target:
            while chunk := source.read(16 * 1024 * 1024):
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError as e:
                    line = lines_before + chunk[: max(e.start, 0)].count(b"\n") + 1
                    raise LoadError(f"{path}, line {line}: bytes that are not valid {encoding}; {AGAIN}") from None
                if first and text:
                    text, first = text.lstrip("\ufeff"), False
                target.write(text)
                lines_before += chunk.count(b"\n")
            target.write(decoder.decode(b"", final=True))
        yield copy
    finally:
        copy.unlink(missing_ok=True)


def _encoding_hint(encoding: str) -> str:
    if encoding == "utf-8":
        return "Chinese exports are often GB18030: try `credit-score load DIR --encoding gb18030`."
    return "Check the file's encoding."


def _reason(message: str) -> str | None:
    """The reader's own reason in a DuckDB CSV error (the line after the line's text), without its
    suggestions and settings."""
    for text in message.splitlines()[1:]:
        if not text.strip() or text.startswith(("Original Line:", "Possible", "*", "  ")):
            continue
        return text.strip()
    return None


def explain(path: Path, message: str, encoding: str) -> str:
    """DuckDB's reading error as one line a person can act on: file, line, the reader's reason, what
    to do.  A delivered line is shown at most 200 characters long and with its phone numbers masked."""
    return privacy.mask_numbers(_explain(path, message, encoding))


def _explain(path: Path, message: str, encoding: str) -> str:
    line = re.search(r"CSV Error on Line: (\d+)", message)
    if not line:
        return f"{path}: cannot be read: {message.splitlines()[0]}; {AGAIN}"
    where = f"{path}, line {line.group(1)}"
    original = re.search(r"Original Line: (.*)", message)
    shown = ""
    if original:
        text = original.group(1)
        shown = f": {text[:200]!r}" + (" (its first 200 characters)" if len(text) > 200 else "")
    columns = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message)
    if columns:
        expected = ",".join(EXPECTED_COLUMNS[_table_of(path)])
        return f"{where}: expected {columns.group(1)} fields ({expected}), found {columns.group(2)}{shown}; {AGAIN}"
    if "Invalid unicode" in message:
        return f"{where}: bytes that are not valid {encoding}. {_encoding_hint(encoding)}"
    if "unterminated quote" in message:
        return f"{where}: a quoted value is never closed{shown}; {AGAIN}"
    reason = (_reason(message) or message.splitlines()[0]).rstrip(".")
    return f"{where}: {reason}{shown}; {AGAIN}"


def read_each_file(delivery: Delivery, scratch: Path, write: Callable[[str, str], int]) -> dict[str, int]:
    """For each file of the delivery, write(table, SELECT of its rows) -> rows written; returns the rows
    per table.  A file DuckDB cannot read is refused with its line and what to do (LoadError).
    scratch holds the UTF-8 copy of a file in another encoding while it is read."""
    counts: dict[str, int] = {}
    for table, path in delivery.files.items():
        with readable_copy(path, delivery.encoding, scratch) as readable:
            try:
                counts[table] = write(table, rows_sql(delivery, table, readable))
            except duckdb.OutOfMemoryException:
                raise LoadError(memory.advice(f"loading {path}")) from None
            except duckdb.Error as e:
                raise LoadError(explain(path, str(e), delivery.encoding)) from None
    return counts


def export_checked(delivery: Delivery, scratch: Path, file_format: str) -> dict[str, tuple[Path, int]]:
    """Read each file of the delivery exactly as the DuckDB engine loads it (same checks, same
    messages) and write its rows, with the delivery's columns, to scratch as CSV or Parquet, for the
    engines that load from files (PostgreSQL, Spark)."""
    options = "format csv, header true" if file_format == "csv" else "format parquet"

    def write(table: str, rows: str) -> int:
        written = query(f"copy ({rows}) to {_literal(scratch / f'{table}.{file_format}')} ({options})")
        return int(written[0][0])

    counts = read_each_file(delivery, scratch, write)
    return {table: (scratch / f"{table}.{file_format}", rows) for table, rows in counts.items()}


@dataclass(frozen=True)
class MonthArrived:
    """What arrived of one bill month: the customers with a delivered bill in it, and the deliveries
    that hold its bills."""

    customers: int
    deliveries: tuple[str, ...]


def window_months(as_of: dt.date, months: int) -> list[dt.date]:
    """The first days of the spend window's months, oldest first, and of the month before them."""
    last = last_complete_month_start(as_of)
    found = [last]
    for _ in range(months):
        found.insert(0, (found[0] - dt.timedelta(days=1)).replace(day=1))
    return found


def bill_months_sql(billing: str, months: list[dt.date], deliveries: list[str] | None = None) -> str:
    """SQL (DuckDB and PostgreSQL alike) of what arrived of each month: (YYYY-MM, customers with a
    delivered bill in it, its deliveries comma-separated) from the raw bills `billing` (of the given
    deliveries only, when given), whatever their outcome: the check runs before dbt validates them.
    A month is read in the three forms staging accepts (YYYY-MM-DD, YYYY-MM, YYYYMM)."""
    cases = " ".join(f"when b in ('{m:%Y-%m}', '{m:%Y%m}') or b like '{m:%Y-%m}-__' then '{m:%Y-%m}'" for m in months)
    among = "" if deliveries is None else f" where delivery_id in ({', '.join(_text(d) for d in deliveries)})"
    bills = (
        f"select case {cases} end as month, trim(customer_id) as customer_id, delivery_id "
        f"from (select trim(bill_month) as b, customer_id, delivery_id from {billing}{among}) as delivered"
    )
    kept = "where month is not null and customer_id is not null and customer_id <> ''"
    # distinct pairs by a plain group by, then counted: DuckDB's hash aggregate spills to disk, a
    # count(distinct) per group keeps every group's set in memory (at 30M customers, more than 4 GB)
    return (
        "select customers.month, customers.customers, deliveries.deliveries from "
        f"(select month, count(*) as customers from (select month, customer_id from ({bills}) as bills {kept} "
        "group by month, customer_id) as pairs group by month) as customers "
        f"inner join (select month, string_agg(delivery_id, ',') as deliveries from (select month, delivery_id "
        f"from ({bills}) as bills {kept} group by month, delivery_id) as pairs group by month) as deliveries "
        "on customers.month = deliveries.month"
    )


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def delivery_bill_months_sql(billing: str, delivery_id: str, part: tuple[int, int] = (0, 1)) -> str:
    """SQL (DuckDB) of what one delivery holds of each month, for bill_months_sql's check to read at
    build time instead of every raw bill: (delivery_id, YYYY-MM, customers with a bill of it in the
    delivery), plus one row (delivery_id, null, 0) saying the delivery was counted.  The month is
    read as bill_months_sql reads it: a YYYY-MM-DD or YYYY-MM text names its first seven characters,
    six characters name YYYYMM; anything else names no month that can be in a window.  part (k, n):
    only the customers whose id hashes to k of n, whose counts add up to the delivery's (each customer
    is in one part): one aggregate over all of a large delivery's pairs does not fit in memory."""
    month = (
        "case when length(b) = 10 and b like '____-__-__' then left(b, 7) "
        "when length(b) = 7 and b like '____-__' then b "
        "when length(b) = 6 then left(b, 4) || '-' || right(b, 2) end"
    )
    # distinct (month, customer) pairs by a plain group by, then counted: a hash aggregate spills to
    # disk, a count(distinct) per month does not (30M customers in one delivery ran out of 4 GB)
    return (
        f"select {_text(delivery_id)} as delivery_id, null as bill_month, 0 as customers union all "
        f"select {_text(delivery_id)}, month, count(*) from (select month, customer_id "
        f"from (select {month} as month, trim(customer_id) as customer_id "
        f"from (select trim(bill_month) as b, customer_id from {billing} "
        f"where delivery_id = {_text(delivery_id)}) as delivered) as bills "
        "where month is not null and customer_id is not null and customer_id <> '' "
        + (f"and hash(customer_id) % {part[1]} = {part[0]} " if part[1] > 1 else "")
        + "group by month, customer_id) as pairs group by month"
    )


def arrived_from_counts(
    months: list[dt.date], counted: list[tuple], delivered: list[str], scan
) -> dict[str, MonthArrived]:
    """What arrived of each month, from the deliveries' counts (delivery_bill_months_sql's rows,
    `counted`) where they answer alone: a month held by one counted delivery, when every delivery
    (`delivered`) was counted.  A customer's bills of one month can come in two deliveries (a
    correction), so the customers of a month held by several are counted again over those
    deliveries' raw bills: scan(months, deliveries) runs bill_months_sql and returns its rows."""
    counted_ids = {delivery for delivery, month, _ in counted if month is None}
    uncounted = sorted(set(delivered) - counted_ids)
    wanted = {f"{m:%Y-%m}" for m in months}
    holding: dict[str, dict[str, int]] = {}
    for delivery, month, customers in counted:
        if month in wanted and customers:
            holding.setdefault(month, {})[delivery] = int(customers)
    arrived = {}
    rescan: list[dt.date] = []
    among: set[str] = set(uncounted)
    for m in months:
        held = holding.get(f"{m:%Y-%m}", {})
        if uncounted or len(held) > 1:
            rescan.append(m)
            among |= set(held)
        elif held:
            arrived[f"{m:%Y-%m}"] = MonthArrived(*next((n, (d,)) for d, n in held.items()))
    if rescan and among:
        arrived.update(arrived_from_rows(scan(rescan, sorted(among))))
    return arrived


def arrived_from_rows(rows: list[tuple]) -> dict[str, MonthArrived]:
    return {
        str(month): MonthArrived(int(customers), tuple(sorted((deliveries or "").split(",")) if deliveries else ()))
        for month, customers, deliveries in rows
    }


def short_month(
    as_of: dt.date, arrived: dict[str, MonthArrived], *, months: int, share: float, on: str = ""
) -> str | None:
    """SPEC 6: why a build as of as_of must not publish because a month of its spend window arrived
    short (fewer customers with a bill than (1 - share) times the month before it), or None.  on: what
    the commands it prints add to name the engine (engines.target_flag)."""
    days = window_months(as_of, months)
    for before, month in zip(days, days[1:], strict=False):
        previous = arrived.get(f"{before:%Y-%m}", MonthArrived(0, ()))
        this = arrived.get(f"{month:%Y-%m}", MonthArrived(0, ()))
        if previous.customers == 0 or this.customers >= previous.customers * (1 - share):
            continue
        held = ", ".join(this.deliveries) if this.deliveries else "none"
        drop = 1 - this.customers / previous.customers
        return "\n".join(
            [
                f"as of {as_of} the spend window holds {month:%Y-%m}, which arrived short: {this.customers:,} "
                f"customers have a bill in it against {previous.customers:,} in {before:%Y-%m} ({drop:.0%} fewer, "
                f"more than max_population_drop_share {share:g} allows); scoring now would count its missing "
                "bills as no spend.",
                f"  deliveries holding {month:%Y-%m}'s bills: {held}",
                f"  load the month's bills:  credit-score load DIR --delivery ID --delivered-on YYYY-MM-DD{on}",
                f"  or, if the fall is real:  credit-score build --as-of {as_of}{on} --max-population-drop-share "
                f"{min(1.0, round(drop + 0.05, 2)):g}",
                f"  or, knowingly:  credit-score build --as-of {as_of}{on} --allow-incomplete",
            ]
        )
    return None


def incomplete_window(as_of: dt.date, records: list[DeliveryRecord]) -> str | None:
    """SPEC 6: why a build as of as_of must not publish (its spend window's last month has no delivery
    of bills dated after it), or None when the window's bills have arrived."""
    last_month = last_complete_month_start(as_of)
    needed_after = month_end(last_month)
    with_bills = [r for r in records if r.has_billing]
    if any(r.delivered_on > needed_after for r in with_bills):
        return None
    latest = max(with_bills, key=lambda r: (r.delivered_on, r.delivery_id), default=None)
    lines = [
        f"as of {as_of} the spend window ends with {last_month:%Y-%m}, but no delivery of bills is dated after "
        f"{needed_after}: {last_month:%Y-%m}'s bills have not arrived, and scoring without them would count "
        "that month as no spend.",
        f"  latest delivery of bills: {latest.delivery_id} of {latest.delivered_on}"
        if latest
        else "  no delivery so far holds a billing file.",
        f"  load them:  credit-score load DIR --delivery {last_month:%Y-%m} "
        f"--delivered-on YYYY-MM-DD (after {needed_after})",
    ]
    if latest:
        complete = latest.delivered_on.replace(day=1) - dt.timedelta(days=1)
        lines.append(f"  or build a date whose bills have arrived:  credit-score build --as-of {complete}")
    lines.append(f"  or, knowingly:  credit-score build --as-of {as_of} --allow-incomplete")
    return "\n".join(lines)
