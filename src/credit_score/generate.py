"""Realistic synthetic raw files (SPEC section 2), generated in DuckDB.

Every random draw is a hash of (seed, row, purpose), so the same seed gives the same files whatever
the number of threads, and the work is vectorised and parallel: a million customers take seconds.

What the data looks like, per customer:
- brand: 神州行 55 % (G002/GS01), 动感地带 30 % (G010/GS03), 全球通 15 % (G001);
- tenure: exponential with a mean of 4 years, capped at 25 (long tail); 1 % activate after the
  as-of date; 6 % have a termination date, some before and some after the as-of date;
- msisdn: China Mobile prefixes; 0.2 % are malformed (10 digits, or +86 in front);
- spend: log-normal, median 45 yuan (全球通 twice that), varying +-25 % month to month; one bill a
  month from activation to the as-of month (the last 18 months), 4 % of months with no bill, 3 % with
  a second bill, 2 % with a negative adjustment; bill_month as YYYY-MM-01 (most), YYYY-MM, YYYYMM
  or another day of the month;
- suspensions over the last two years: 1 customer in 20 is arrears-prone; reasons mostly ARREARS
  and CUSTOMER_REQUEST, some HIGH_USAGE, LOST, ADMIN and 2 % unknown codes; most are resumed.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from credit_score import console
from credit_score.settings import RAW_COLUMNS, append_file

BILL_HISTORY_MONTHS = 18
SUSPENSION_HISTORY_DAYS = 730
SUSPENSION_SLOTS = 6

MSISDN_PREFIXES = [
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "147",
    "150",
    "151",
    "152",
    "157",
    "158",
    "159",
    "178",
    "182",
    "183",
    "184",
    "187",
    "188",
    "198",
]


def _uniform(seed: int, key: str, purpose: str) -> str:
    """SQL for a uniform draw in [0, 1) from (seed, key, purpose): 53 bits of a 64-bit hash.

    The combined hash is hashed again: DuckDB combines the hashes of several arguments so that draws
    differing only in `purpose` are strongly correlated (0.97 measured); a second hash mixes them apart.
    """
    return f"((hash(hash({seed}, {key}, '{purpose}')) >> 11)::double / 9007199254740992.0)"


def _pick(u: str, choices: list[tuple[str, float]]) -> str:
    """SQL choosing among string choices with cumulative weights by the uniform draw u."""
    branches, cumulative = [], 0.0
    for value, weight in choices[:-1]:
        cumulative += weight
        branches.append(f"when {u} < {cumulative:.6f} then '{value}'")
    return f"case {' '.join(branches)} else '{choices[-1][0]}' end"


def _customers_sql(start: int, stop: int, seed: int, as_of: dt.date) -> str:
    u = lambda purpose: _uniform(seed, "i", purpose)  # noqa: E731
    prefixes = "[" + ",".join(f"'{p}'" for p in MSISDN_PREFIXES) + "]"
    brand = _pick(u("brand"), [("G002", 0.35), ("GS01", 0.20), ("G010", 0.20), ("GS03", 0.10), ("G001", 0.15)])
    return f"""
    with base as (
        select
            i,
            {brand} as brand_code,
            -- exponential tenure, mean 4 years, capped at 25; 1 % activate after the as-of date
            case
                when {u("future")} < 0.01 then -1 - cast(floor({u("future_days")} * 45) as integer)
                else cast(least(floor(-ln(1 - {u("tenure")}) * 1461), 9131) as integer)
            end as tenure_days,
            {prefixes}[1 + cast(floor({u("prefix")} * {len(MSISDN_PREFIXES)}) as integer)]
                || lpad(cast(cast(floor({u("number")} * 100000000) as bigint) as varchar), 8, '0') as number,
            {u("malformed")} as u_malformed,
            {u("terminated")} as u_terminated,
            {u("termination_day")} as u_termination_day,
            {u("updated")} as u_updated,
            -- log-normal spend level in fen, median 45 yuan (Box-Muller)
            exp(ln(4500) + 0.9 * sqrt(-2 * ln(1 - {u("spend_a")})) * cos(2 * pi() * {u("spend_b")}))
                as spend_level_fen,
            {u("arrears_prone")} < 0.05 as is_arrears_prone
        from range({start}, {stop}) as t(i)
    )
    select
        i,
        'C' || lpad(cast(i as varchar), 9, '0') as customer_id,
        case
            when u_malformed < 0.001 then substr(number, 1, 10)
            when u_malformed < 0.002 then '+86' || number
            else number
        end as msisdn,
        brand_code,
        date '{as_of.isoformat()}' - tenure_days as activation_date,
        case
            when u_terminated < 0.06 then
                date '{as_of.isoformat()}' - tenure_days
                + 1 + cast(floor(u_termination_day * (greatest(tenure_days, 0) + 90)) as integer)
        end as termination_date,
        case
            when u_updated < 0.9 then date '{as_of.isoformat()}' + 1 + interval 2 hour
            -- a change some time between activation and the as-of date
            else date '{as_of.isoformat()}' - cast(floor(u_updated * 10 * greatest(tenure_days, 0)) as integer)
                + interval 1 second * cast(floor(u_updated * 864000) % 86400 as integer)
        end as updated_at,
        case when brand_code = 'G001' then spend_level_fen * 2 else spend_level_fen end as spend_level_fen,
        is_arrears_prone
    from base
    """


def _bills_sql(seed: int, as_of: dt.date, bill_months: int = BILL_HISTORY_MONTHS) -> str:
    """Bills in file order (customer, then month from the latest back, then the month's bills by id)
    without a sort: every step is a projection, a filter or an unnest, which DuckDB keeps in the order
    of its input (preserve_insertion_order), and the customers come in order.  Sorting 145 million
    bills at 10 million customers cost a third of `generate`.

    Long: one SQL statement, whose steps read in order."""
    u = lambda purpose: _uniform(seed, "i, k", purpose)  # noqa: E731
    fmt = _pick(u("format"), [("day1", 0.85), ("ym", 0.07), ("yyyymm", 0.05), ("anyday", 0.03)])
    as_of_month = f"date_trunc('month', date '{as_of.isoformat()}')"
    return f"""
    with customer_months as (
        select
            i, customer_id, activation_date, termination_date, spend_level_fen,
            unnest(range({bill_months})) as k
        from customers
    ),
    months as (
        select
            i,
            customer_id,
            k,
            cast({as_of_month} - interval 1 month * k as date) as bill_month,
            spend_level_fen * (0.75 + 0.5 * {u("noise")}) as amount_fen,
            {u("skip")} as u_skip,
            {u("second")} as u_second,
            {u("adjust")} as u_adjust,
            {u("day")} as u_day,
            {fmt} as month_format
        from customer_months
        where cast({as_of_month} - interval 1 month * k as date) >= date_trunc('month', activation_date)
          and (termination_date is null
               or cast({as_of_month} - interval 1 month * k as date) <= termination_date)
    ),
    -- a month's bills in id order: the bill (kind 0), a second bill (1), a negative adjustment (2)
    kinds as (
        select *, unnest([0, 1, 2]) as kind
        from months
    ),
    bills as (
        select
            i, k, customer_id, bill_month,
            case when kind = 0 then month_format else 'day1' end as month_format,
            case when kind = 0 then u_day else 0 end as u_day,
            'B' || customer_id || '-' || strftime(bill_month, '%Y%m')
                || case kind when 1 then '-2' when 2 then '-A' else '' end as bill_id,
            case kind
                when 0 then cast(round(amount_fen) as bigint)
                when 1 then cast(round(amount_fen * 0.3 * u_second / 0.03) as bigint)
                else -cast(round(amount_fen * 0.3 * u_adjust / 0.02) as bigint)
            end as fen
        from kinds
        where (kind = 0 and u_skip >= 0.04)
           or (kind = 1 and u_skip >= 0.04 and u_second < 0.03)
           or (kind = 2 and u_adjust < 0.02)
    )
    select
        i, k,
        bill_id,
        customer_id,
        bill_month as bill_period,
        case month_format
            when 'ym' then strftime(bill_month, '%Y-%m')
            when 'yyyymm' then strftime(bill_month, '%Y%m')
            when 'anyday' then strftime(bill_month + cast(floor(u_day * 28) as integer), '%Y-%m-%d')
            else strftime(bill_month, '%Y-%m-%d')
        end as bill_month,
        cast(cast(fen as decimal(18, 0)) * 0.01 as decimal(12, 2)) as amount
    from bills
    """


def _suspensions_sql(seed: int, as_of: dt.date) -> str:
    """Suspensions in file order (customer, then slot) without a sort, as for the bills."""
    u = lambda purpose: _uniform(seed, "i, k", purpose)  # noqa: E731
    reason = _pick(
        u("reason"),
        [
            ("ARREARS", 0.45),
            ("CUSTOMER_REQUEST", 0.25),
            ("HIGH_USAGE", 0.10),
            ("LOST", 0.10),
            ("ADMIN", 0.08),
            ("OTHER", 0.02),
        ],
    )
    return f"""
    with customer_slots as (
        select i, customer_id, activation_date, is_arrears_prone, unnest(range({SUSPENSION_SLOTS})) as k
        from customers
    ),
    slots as (
        select
            i, k, customer_id, activation_date,
            case when is_arrears_prone then 0.35 else 0.04 end as rate,
            {u("exists")} as u_exists,
            timestamp '{as_of.isoformat()} 23:59:59'
                - interval 1 second * cast(floor({u("when")} * {SUSPENSION_HISTORY_DAYS} * 86400) as bigint)
                as suspended_at,
            {u("resumed")} as u_resumed,
            {reason} as reason_code
        from customer_slots
    )
    select
        i, k,
        'S' || customer_id || '-' || k as suspension_id,
        customer_id,
        suspended_at,
        case
            when u_resumed < 0.85
                then suspended_at + interval 1 minute * cast(floor(u_resumed / 0.85 * 30 * 1440) as bigint)
        end as resumed_at,
        case when reason_code = 'OTHER' and u_resumed < 0.5 then 'XYZ' else reason_code end as reason_code
    from slots
    where u_exists < rate and cast(suspended_at as date) >= activation_date
    """


# Nothing is sorted (every row is written in the order it is drawn), so a chunk's memory is mostly that
# of its customers table and the writers' buffers: 5.4 GiB peak at 10 million (measured by the bench).
# Chunks beyond one cost a join of the part files.
CHUNK_CUSTOMERS = 10_000_000
CSV_OPTIONS = "format csv, header {header}, dateformat '%Y-%m-%d', timestampformat '%Y-%m-%d %H:%M:%S'"
# the columns of each file, in the raw contract's order (the dbt sources)
COLUMNS = {table: ", ".join(columns) for table, columns in RAW_COLUMNS.items()}
DEFAULT_MONTHS = 3


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class MonthlyPlan:
    """generate --deliveries monthly: everything before `first` in one delivery, then one per month up
    to the as-of date's month, each delivered on the 5th of the month after the one it covers."""

    first: dt.date  # the first day of the first month delivered on its own
    last: dt.date  # the first day of the as-of date's month

    @property
    def initial_id(self) -> str:
        return f"before-{self.first:%Y-%m}"

    def deliveries(self) -> list[tuple[str, dt.date]]:
        """(delivery id, delivered on), in the order they are loaded."""
        found = [(self.initial_id, self.first.replace(day=5))]
        month = self.first
        while month <= self.last:
            found.append((f"{month:%Y-%m}", _add_months(month, 1).replace(day=5)))
            month = _add_months(month, 1)
        return found

    def key(self, day: str) -> str:
        """SQL: the delivery a row dated `day` arrives in (months after the last go into the last)."""
        return (
            f"case when {day} < date '{self.first}' then '{self.initial_id}' "
            f"when {day} >= date '{self.last}' then '{self.last:%Y-%m}' "
            f"else strftime({day}, '%Y-%m') end"
        )


def _queries(seed: int, as_of: dt.date, plan: MonthlyPlan | None, bill_months: int) -> dict[str, str]:
    """The SQL of each file's rows; with a plan, each row also names its delivery (column delivery)."""
    bills, suspensions = _bills_sql(seed, as_of, bill_months), _suspensions_sql(seed, as_of)
    if plan is None:
        return {
            "subscriptions": f"select {COLUMNS['subscriptions']} from customers",
            "billing": f"select {COLUMNS['billing']} from ({bills})",
            "suspensions": f"select {COLUMNS['suspensions']} from ({suspensions})",
        }
    # A customer arrives in its activation month's delivery; one whose termination falls in a later
    # delivery arrives first without it (an older updated_at) and again, as its final row, with it.
    subscriptions = f"""
    with versions as (
        select *, {plan.key("activation_date")} as activation_delivery,
            case when termination_date is not null then {plan.key("termination_date")} end as termination_delivery
        from customers
    ),
    expanded as (
        -- a customer's versions side by side (unnest keeps the order: the same files whatever the chunks)
        select *,
            unnest(case when termination_delivery <> activation_delivery then [0, 1] else [1] end) as version
        from versions
    )
    select customer_id, msisdn, brand_code, activation_date,
        case when version = 1 then termination_date end as termination_date,
        case
            when version = 1 then updated_at
            else least(cast(activation_date as timestamp), updated_at - interval 1 second)
        end as updated_at,
        case
            when version = 1 then coalesce(termination_delivery, activation_delivery)
            else activation_delivery
        end as delivery
    from expanded
    """
    return {
        "subscriptions": subscriptions,
        "billing": f"select {COLUMNS['billing']}, {plan.key('bill_period')} as delivery from ({bills})",
        "suspensions": f"select {COLUMNS['suspensions']}, {plan.key('suspended_at')} as delivery from ({suspensions})",
    }


def generate(
    customers: int,
    out_dir: Path,
    *,
    seed: int = 42,
    as_of: dt.date,
    file_format: str = "csv",
    progress: bool = True,
    chunk_customers: int = CHUNK_CUSTOMERS,
    deliveries: str = "single",
    months: int = DEFAULT_MONTHS,
    bill_months: int = BILL_HISTORY_MONTHS,
) -> dict[str, int]:
    """Write subscriptions, billing and suspensions files to out_dir; return rows per table.

    deliveries="single": the three files in out_dir.  deliveries="monthly": one folder per delivery
    (see MonthlyPlan; `months` months on their own) and out_dir/deliveries.csv listing each folder with
    its delivery date, in load order.  The monthly files hold the same bills and suspensions as the
    single ones for the same seed, and each customer's latest version is its single-file row.

    Customers are drawn chunk_customers at a time, each chunk's rows written in order to part files
    that are then joined: memory stays that of one chunk, and because every draw is a hash of its
    row's keys, the files are byte for byte the same whatever the chunk size.

    bill_months: how many months of bills, back from the as-of month (the benchmark's long histories
    need more than the default).

    Long: the writing of the three files and their deliveries in one pass over the chunks, each step timed and
    said.
    """
    if customers < 1:
        raise ValueError("--customers must be at least 1")
    if file_format not in ("csv", "parquet"):
        raise ValueError("--format must be csv or parquet")
    if deliveries not in ("single", "monthly"):
        raise ValueError("--deliveries must be single or monthly")
    if months < 1:
        raise ValueError("--months must be at least 1")
    if bill_months < 1:
        raise ValueError("--bill-months must be at least 1")
    plan = None
    if deliveries == "monthly":
        last = as_of.replace(day=1)
        plan = MonthlyPlan(first=_add_months(last, 1 - months), last=last)
    out_dir.mkdir(parents=True, exist_ok=True)
    for table in COLUMNS:
        for stale in out_dir.glob(f"{table}.*"):
            stale.unlink()
    if plan:
        for delivery_id, _ in plan.deliveries():
            shutil.rmtree(out_dir / delivery_id, ignore_errors=True)
    parts_dir = Path(tempfile.mkdtemp(prefix=".generate-", dir=out_dir))
    con = duckdb.connect()
    started = time.perf_counter()

    def say(message: str) -> None:
        if progress:
            console.detail(f"[generate {time.perf_counter() - started:5.1f}s] {message}")

    counts = dict.fromkeys(COLUMNS, 0)
    parts: dict[str, list[Path]] = {table: [] for table in COLUMNS}
    try:
        for number, start in enumerate(range(0, customers, chunk_customers)):
            stop = min(start + chunk_customers, customers)
            con.execute(f"create or replace temp table customers as {_customers_sql(start, stop, seed, as_of)}")
            for table, query in _queries(seed, as_of, plan, bill_months).items():
                # single: one file per chunk; monthly: a folder per chunk, a file per delivery in it
                part = parts_dir / (f"{table}.{number:05d}" + ("" if plan else f".{file_format}"))
                if file_format == "parquet":
                    options = "format parquet, compression zstd"
                else:
                    options = CSV_OPTIONS.format(header="true" if number == 0 and plan is None else "false")
                if plan:  # part/delivery=<id>/data_0.<format>
                    options += ", partition_by (delivery), filename_pattern 'data_{i}'"
                written = con.execute(f"copy ({query}) to '{part}' ({options})").fetchone()
                counts[table] += int(written[0]) if written else 0
                parts[table].append(part)
            say(f"customers {start:,} to {stop - 1:,} written")
        if plan is None:
            for table, files in parts.items():
                target = out_dir / f"{table}.{file_format}"
                _join(con, files, target, file_format, header=None)
                say(f"{table}: {counts[table]:,} rows -> {target}")
        else:
            lines = ["delivery_id,delivered_on"]
            for delivery_id, delivered_on in plan.deliveries():
                folder = out_dir / delivery_id
                folder.mkdir()
                for table, chunks in parts.items():
                    files = [p for chunk in chunks for p in sorted(chunk.glob(f"delivery={delivery_id}/*"))]
                    _join(con, files, folder / f"{table}.{file_format}", file_format, header=COLUMNS[table])
                lines.append(f"{delivery_id},{delivered_on}")
            (out_dir / "deliveries.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
            say(f"{len(lines) - 1} deliveries in {out_dir} (listed in deliveries.csv): {counts}")
    finally:
        con.close()
        shutil.rmtree(parts_dir, ignore_errors=True)
    if progress:
        rows = ", ".join(f"{count:,} {table}" for table, count in counts.items())
        where = f"{len(plan.deliveries())} delivery folders in {out_dir}" if plan else str(out_dir)
        console.done(f"generated {customers:,} customers: {rows} rows ({where})", time.perf_counter() - started)
    return counts


def _join(con, files: list[Path], target: Path, file_format: str, *, header: str | None) -> None:
    """Join part files into target, in order.  CSV parts are concatenated inside the kernel after the
    header line (when given: the parts have none); Parquet parts are rewritten as one file."""
    if file_format == "csv":
        if header is None and len(files) == 1:
            os.replace(files[0], target)
            return
        with target.open("wb") as joined:
            if header is not None:
                joined.write(f"{header.replace(' ', '')}\n".encode())
            for part in files:
                with part.open("rb") as piece:
                    append_file(piece, joined)
        return
    if len(files) == 1:
        os.replace(files[0], target)
        return
    if files:
        listed = ", ".join(f"'{p}'" for p in files)
        # the parts sit in delivery=<id>/ folders: without hive_partitioning = false DuckDB would add
        # a `delivery` column, and the load would refuse the file for it
        source = f"select * from read_parquet([{listed}], hive_partitioning = false)"
    else:  # nothing for this delivery: an empty file with the table's columns
        columns = ", ".join(f"null::varchar as {c}" for c in (header or "").split(", "))
        source = f"select {columns} where false"
    con.execute("set preserve_insertion_order = true")
    con.execute(f"copy ({source}) to '{target}' (format parquet, compression zstd)")
