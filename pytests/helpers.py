"""Helpers shared by the tests: write raw files, load and build them, read the mart back as text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb

from credit_score.build import BuildReport, build
from credit_score.load import load, write_csv_tables

EXAMPLES = Path(__file__).parent / "data" / "examples"


def write_folder(folder: Path, tables: dict[str, list[dict[str, str]]]) -> Path:
    return write_csv_tables(folder, tables)


def load_and_build(folder: Path, database: Path, as_of: dt.date, **kwargs) -> BuildReport:
    load(folder, database, progress=False)
    return build(as_of, database=database, **kwargs)


def as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def read_mart(database: Path) -> dict[str, dict[str, str]]:
    """marts.customer_credit_score keyed by customer_id, every value as text ('' for null)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        cursor = con.execute("select * from marts.customer_credit_score")
        columns = [d[0] for d in cursor.description]
        return {row[0]: dict(zip(columns, map(as_text, row), strict=True)) for row in cursor.fetchall()}
    finally:
        con.close()


def differences(actual: dict[str, dict[str, str]], expected: dict[str, dict[str, str]], limit: int = 20) -> list:
    """Readable differences between two marts keyed by customer_id: missing, extra, and column values."""
    found: list = []
    for customer in sorted(expected.keys() - actual.keys()):
        found.append((customer, "missing from the mart"))
    for customer in sorted(actual.keys() - expected.keys()):
        found.append((customer, "not expected in the mart"))
    for customer in sorted(expected.keys() & actual.keys()):
        for column, value in expected[customer].items():
            if actual[customer].get(column) != value:
                found.append((customer, column, actual[customer].get(column), "expected", value))
    return found[:limit] + ([f"... {len(found) - limit} more"] if len(found) > limit else [])
