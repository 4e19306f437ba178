"""Helpers shared by the tests: write raw files, load and build them, read the mart back as text."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import yaml

from credit_score.build import BuildReport, build
from credit_score.contract import contract_columns
from credit_score.load import load, load_listed, write_csv_tables
from credit_score.settings import PROJECT_DIR

# the worked examples: the delivery folder (the three raw files, as load takes them) and beside it
# the expected mart rows and the README that explains each customer
EXAMPLES = Path(__file__).parent / "data" / "examples" / "examples"
# The tests' data is as of 2026-10-31 at the latest: delivered after that month, on a pinned date.
DELIVERED = dt.date(2026, 11, 5)


# what a copy of the dbt project needs to parse and build
PROJECT_PARTS = ("dbt_project.yml", "models", "macros", "seeds", "data-tests", "profiles")


def copy_project(destination: Path, *extra: str) -> Path:
    """A copy of the dbt project (and of the extra files named) to edit without touching the checkout."""
    destination.mkdir(parents=True)
    for part in (*PROJECT_PARTS, *extra):
        source = PROJECT_DIR / part
        if source.is_dir():
            shutil.copytree(source, destination / part)
        else:
            shutil.copy(source, destination / part)
    return destination


def project_unit_tests() -> set[str]:
    """The names of every dbt unit test the project declares (its YAML files), to check a build ran them all."""
    names = set()
    for path in (PROJECT_DIR / "models").rglob("*.yml"):
        names |= {t["name"] for t in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("unit_tests", [])}
    return names


def write_folder(folder: Path, tables: dict[str, list[dict[str, str]]]) -> Path:
    return write_csv_tables(folder, tables)


# The twelve worked examples have one or two customers with a bill in their early months (2026-03,
# 2026-04): SPEC 6's short-month check refuses an as-of date whose spend window holds such a month
# (1 customer against 2 is a 50 % fall) before dbt runs. The rules' tests build those dates knowingly.
SPARSE = {"allow_incomplete": True}


def load_one(folder: Path, database: Path | None = None, **kwargs) -> dict[str, int]:
    """Load folder as the only delivery (raw emptied first), delivered on DELIVERED unless given."""
    return load(folder, database, **{"delivered_on": DELIVERED, "replace": True, "progress": False, **kwargs})


def load_and_build(folder: Path, database: Path, as_of: dt.date, **kwargs) -> BuildReport:
    load_one(folder, database)
    return build(as_of, database=database, **kwargs)


def as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def read_mart(database: Path, table: str = "marts.customer_credit_score") -> dict[str, dict[str, str]]:
    """A published mart keyed by customer_id (the scores by default), every value as text ('' for null)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        cursor = con.execute(f"select * from {table}")
        columns = [d[0] for d in cursor.description]
        return {row[0]: dict(zip(columns, map(as_text, row), strict=True)) for row in cursor.fetchall()}
    finally:
        con.close()


def expected_rows(as_of: dt.date) -> dict[str, dict[str, str]]:
    """The worked examples' expected mart rows at as_of (tests/data/examples), keyed by customer_id."""
    with (EXAMPLES.parent / f"expected_{as_of.isoformat()}.csv").open(newline="", encoding="utf-8") as f:
        return {r["customer_id"]: r for r in csv.DictReader(f)}


def as_history(rows: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Mart rows as the history keeps them: its contract's columns (the mart's but the explanation)."""
    kept = set(contract_columns("customer_credit_score_history"))
    return {key: {c: v for c, v in row.items() if c in kept} for key, row in rows.items()}


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


def load_steps(steps, database: Path | None = None, *, target: str | None = None, replace_first: bool = True) -> None:
    """Load (folder, delivery id, delivered on) steps in order, as `credit-score load --list` does (on
    Spark, in one Spark application); the first empties raw unless told not to."""
    # allow_empty: the cross-delivery scenario's delivery `nothing` brought nothing, on purpose
    load_listed(list(steps), database, replace=replace_first, target=target, progress=False, allow_empty=True)


# What BI reads, compared across engines and load orders (loaded_at is when a load ran: it differs).
# Not marts.retention_watchlist: it depends on the history's earlier dates, and the engines' runs of
# the scenario build different dates (DuckDB's September build is part of its delivery story); the
# reference comparison (test_reference_parity.py) proves it.
PUBLISHED = (
    "marts.customer_credit_score",
    "marts.customer_entitlements",
    "audit.rejected_records",
    "audit.waiting_records",
    "audit.reconciliation",
    "audit.deliveries",
)
UNCOMPARED = {"loaded_at"}

# what BI reads; audit.publication (when) and audit.month_files (file names) differ by construction
EVERY_PUBLISHED_TABLE = [
    "marts.customer_credit_score",
    "marts.customer_entitlements",
    "marts.retention_watchlist",
    "marts.customer_credit_score_history",
    "marts.customer_star_changes",
    "marts.star_migration_matrix",
    "audit.deliveries",
    "audit.reconciliation",
    "audit.rejected_records",
    "audit.waiting_records",
]


def read_published(target: str = "duckdb", database: Path | None = None) -> dict[str, list[tuple[str, ...]]]:
    """Each published table as sorted rows of text ('' for null), with its column names first."""
    found: dict[str, list[tuple[str, ...]]] = {}
    for name in PUBLISHED:
        columns, rows = _select_all(target, name, database)
        keep = [i for i, c in enumerate(columns) if c not in UNCOMPARED]
        found[name] = [tuple(columns[i] for i in keep)] + sorted(tuple(as_text(row[i]) for i in keep) for row in rows)
    return found


def _select_all(target: str, name: str, database: Path | None) -> tuple[list[str], list[tuple]]:
    if target == "postgres":
        from credit_score.engines import postgres

        con = postgres.connect()
        try:
            with con.cursor() as cur:
                cur.execute(f"select * from {name}")
                return [d[0] for d in cur.description], cur.fetchall()
        finally:
            con.close()
    if target == "spark":
        from credit_score.engines.spark import SparkEngine

        files = SparkEngine().published_files(*name.split("."))  # what the published view reads
        cursor = duckdb.execute(f"select * from read_parquet({files!r}, hive_partitioning = true)")
        return [d[0] for d in cursor.description], cursor.fetchall()
    from credit_score.engines.duckdb import SERVED, attached

    con = attached((database, SERVED, True))
    try:
        cursor = con.execute(f"select * from {SERVED}.{name}")
        return [d[0] for d in cursor.description], cursor.fetchall()
    finally:
        con.close()


def split_into_deliveries(folder: Path, root: Path, parts: int, first: dt.date) -> list[tuple[Path, str, dt.date]]:
    """The CSV rows of folder dealt round-robin into `parts` deliveries, delivered a day apart from first."""
    from credit_score.load import read_csv_tables

    tables = read_csv_tables(folder)
    steps = []
    for k in range(parts):
        delivery = write_csv_tables(root / f"part-{k + 1}", {t: rows[k::parts] for t, rows in tables.items()})
        steps.append((delivery, delivery.name, first + dt.timedelta(days=k)))
    return steps


def stored_test_failures(engine, as_of: dt.date, selector: str, columns: str) -> tuple[str, list[tuple]]:
    """Run the one data test `selector` picks on a DuckDB warehouse's work file, as of as_of, storing
    its failing rows: (its status, the columns of its failing rows, ordered).  dbt stores them in
    dbt_test__audit under the test's name, or past 63 characters under its first 30 and a hash: the
    name of its compiled file."""
    from credit_score.build import as_of_env
    from credit_score.dbt import run_dbt

    outcome = run_dbt(
        ["test", "--select", selector, "--store-failures"],
        target="duckdb",
        env={**engine.dbt_env(), **as_of_env(as_of)},
    )
    (result,) = [r for r in outcome.results if r.resource_type == "test"]
    stored = Path(result.compiled_path).stem if result.compiled_path else result.name
    con = duckdb.connect(str(engine.work), read_only=True)
    try:
        (table,) = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema like '%dbt_test__audit' and table_name = ?",
            [stored],
        ).fetchone()
        rows = con.execute(f"select {columns} from {table} order by 1").fetchall()
    finally:
        con.close()
    return str(result.status), rows
