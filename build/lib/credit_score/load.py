"""`credit-score load`: append a delivery folder's files to `raw` (SPEC 6), all or nothing.

Values are landed as text, exactly as delivered (Parquet values in their text form): types are
judged in staging, so a malformed value is kept and reported there instead of being lost here.
Every row keeps its delivery id, its delivery date and its line in the delivered file.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from credit_score import console, engines, privacy
from credit_score.deliveries import EXPECTED_COLUMNS, LoadError, describe, open_delivery
from credit_score.settings import RAW_TABLES

__all__ = ["LoadError", "load", "load_listed", "read_csv_tables", "read_listing", "write_csv_tables"]


def load(
    directory: Path,
    database: Path | None = None,
    *,
    delivered_on: dt.date,
    delivery_id: str | None = None,
    replace: bool = False,
    encoding: str = "utf-8",
    target: str | None = None,
    progress: bool = True,
    allow_empty: bool = False,
) -> dict[str, int]:
    """Load directory as delivery delivery_id (default: the folder's name) delivered on delivered_on.

    Loading an id already loaded replaces that delivery; replace=True empties raw first.  database is
    the served DuckDB file (the raw tables live in the work file beside it).  Returns rows per file.
    allow_empty: a folder holding no file is loaded as a delivery that brought nothing.
    """
    steps = [(directory, delivery_id, delivered_on)]
    return load_listed(
        steps, database, replace=replace, encoding=encoding, target=target, progress=progress, allow_empty=allow_empty
    )[0]


def loaded(delivery_id: str, delivered_on: dt.date, counts: dict[str, int], replace: bool) -> str:
    rows = ", ".join(f"{count:,} {table}" for table, count in counts.items()) or "no files"
    return f"loaded delivery {delivery_id} of {delivered_on}: {rows}{' (raw emptied first)' if replace else ''}"


def load_listed(
    steps: list[tuple[Path, str | None, dt.date]],
    database: Path | None = None,
    *,
    replace: bool = False,
    encoding: str = "utf-8",
    target: str | None = None,
    progress: bool = True,
    allow_empty: bool = False,
) -> list[dict[str, int]]:
    """Load several delivery folders in order, each (folder, delivery id or None for the folder's
    name, delivered on), as `load` does one; every folder is checked before anything is loaded.  On
    Spark they are saved in one Spark application.  replace=True empties raw before the first."""
    deliveries = [
        open_delivery(
            folder, delivered_on=delivered_on, delivery_id=delivery_id, encoding=encoding, allow_empty=allow_empty
        )
        for folder, delivery_id, delivered_on in steps
    ]
    engine = engines.get(target, database=database)
    if progress:
        for number, delivery in enumerate(deliveries):
            emptied = " (raw emptied first)" if replace and number == 0 else ""
            console.detail(f"[load] {describe(delivery)}{emptied}")
    timer = console.Timer()
    with privacy.private_files(), engine.lock():
        counts = engine.load_many(deliveries, replace=replace, progress=progress)
    if progress:
        single = len(deliveries) == 1
        for number, (delivery, rows) in enumerate(zip(deliveries, counts, strict=True)):
            line = loaded(delivery.delivery_id, delivery.delivered_on, rows, replace and number == 0)
            console.done(line, timer.seconds if single else None)
        if not single:
            console.note(f"{len(deliveries)} deliveries loaded in {timer.seconds:.1f}s")
    return counts


def read_listing(listing: Path) -> list[tuple[Path, str, dt.date]]:
    """The deliveries a listing names, in load order: a CSV with the columns delivery_id and
    delivered_on (as `generate --deliveries monthly` writes deliveries.csv), each delivery the folder
    of that name beside the listing."""
    with listing.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"delivery_id", "delivered_on"} <= set(rows[0]):
        raise LoadError(f"{listing}: expected a CSV of the columns delivery_id, delivered_on, a row per delivery")
    steps = []
    for line, row in enumerate(rows, start=2):
        try:
            delivered_on = dt.date.fromisoformat(row["delivered_on"].strip())
        except ValueError:
            raise LoadError(f"{listing}, line {line}: delivered_on {row['delivered_on']!r} is not YYYY-MM-DD") from None
        steps.append((listing.parent / row["delivery_id"].strip(), row["delivery_id"].strip(), delivered_on))
    return steps


def read_csv_tables(directory: Path) -> dict[str, list[dict[str, str]]]:
    """The CSV files of directory (those there are) as lists of rows of text (small data: demos, tests)."""
    tables = {}
    for table in RAW_TABLES:
        path = directory / f"{table}.csv"
        if path.is_file():
            with path.open(newline="", encoding="utf-8") as f:
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


def list_deliveries(target: str | None = None, database: Path | None = None) -> int:
    """`credit-score deliveries`: every loaded delivery, oldest load first, with the rows it holds."""
    loaded = engines.get(target, database=database).loaded_deliveries()
    if not loaded:
        console.note("nothing is loaded yet: `credit-score load DIR --delivered-on YYYY-MM-DD`")
        return 0
    print(f"{'delivery':<24} {'delivered on':<12} {'loaded at (UTC)':<19} " + " ".join(f"{t:>13}" for t in RAW_TABLES))
    for d in loaded:
        counts = " ".join(f"{d.rows[t]:>13,}" for t in RAW_TABLES)
        print(f"{d.delivery_id:<24} {d.delivered_on!s:<12} {d.loaded_at:%Y-%m-%d %H:%M:%S} {counts}")
    return 0


def remove_delivery(delivery_id: str, target: str | None = None, database: Path | None = None) -> int:
    """`credit-score deliveries remove ID`: take one delivery out of raw, all or nothing.  What BI reads
    is untouched until the next build, which recomputes what the delivery's rows changed."""
    engine = engines.get(target, database=database)
    with privacy.private_files(), engine.lock():
        removed = engine.remove_delivery(delivery_id)
    if removed is None:
        known = ", ".join(d.delivery_id for d in engine.loaded_deliveries()) or "none"
        raise LoadError(
            f"no delivery {delivery_id!r} is loaded (loaded: {known}); `credit-score deliveries` lists them"
        )
    rows = ", ".join(f"{removed.rows[t]:,} {t}" for t in RAW_TABLES)
    console.done(f"removed delivery {delivery_id} of {removed.delivered_on} ({rows} rows) from raw")
    console.note(
        "what BI reads is unchanged until the next `credit-score build`, which scores without it "
        "(the models that had taken it in are recomputed from raw)"
    )
    return 0
