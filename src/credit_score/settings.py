"""Where things are and which defaults apply; nothing here reads the clock except default_as_of_date."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
PROFILES_DIR = PROJECT_DIR / "profiles"
DEFAULT_DUCKDB_PATH = Path("warehouse") / "credit_score.duckdb"
TARGETS = ("duckdb", "postgres", "spark")
RAW_TABLES = ("subscriptions", "billing", "suspensions")


def duckdb_path() -> Path:
    """The warehouse file: $CREDIT_SCORE_DUCKDB, else warehouse/credit_score.duckdb (absolute)."""
    configured = os.environ.get("CREDIT_SCORE_DUCKDB")
    path = Path(configured) if configured else DEFAULT_DUCKDB_PATH
    return path.resolve()


def target_name(requested: str | None) -> str:
    target = requested or os.environ.get("CREDIT_SCORE_TARGET") or "duckdb"
    if target not in TARGETS:
        raise SystemExit(f"unknown target '{target}': choose one of {', '.join(TARGETS)}")
    return target


def default_as_of_date(today: dt.date | None = None) -> dt.date:
    """SPEC 5: the last day of the previous calendar month (today in UTC unless given)."""
    today = today or dt.datetime.now(dt.UTC).date()
    return today.replace(day=1) - dt.timedelta(days=1)


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"'{text}' is not a date: write it as YYYY-MM-DD, e.g. 2026-10-31") from None


def month_end(day: dt.date) -> dt.date:
    following = day.replace(day=28) + dt.timedelta(days=4)
    return following - dt.timedelta(days=following.day)


def parse_month(text: str) -> dt.date:
    """YYYY-MM (or any YYYY-MM-DD of the month): that month's last day."""
    try:
        day = dt.date.fromisoformat(f"{text}-01" if len(text) == 7 else text)
    except ValueError:
        raise SystemExit(f"'{text}' is not a month: write it as YYYY-MM, e.g. 2026-01") from None
    return month_end(day)


def month_ends(first: dt.date, last: dt.date) -> list[dt.date]:
    """The last day of every month from first's month to last's month, oldest first."""
    if first > last:
        raise SystemExit(f"--from {first:%Y-%m} is after --to {last:%Y-%m}")
    ends, day = [], month_end(first)
    while day <= month_end(last):
        ends.append(day)
        day = month_end(day + dt.timedelta(days=1))
    return ends


def work_path(served: Path) -> Path:
    """The file dbt builds in, beside the served one: warehouse/credit_score.work.duckdb."""
    return served.with_name(f"{served.stem}.work{served.suffix}")


def spark_warehouse() -> Path:
    """Session-mode Spark's folder: parquet tables under tables/, the Derby metastore beside them."""
    return Path(os.environ.get("CREDIT_SCORE_SPARK_WAREHOUSE", "warehouse/spark")).resolve()
