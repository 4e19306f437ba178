"""Where things are and which defaults apply; nothing here reads the clock except today()."""

from __future__ import annotations

import datetime as dt
import errno
import os
import shutil
from pathlib import Path
from typing import BinaryIO

import yaml

# The dbt project: CREDIT_SCORE_PROJECT_DIR when set (a copy of the project whose seeds hold an
# operator's rules: `credit-score rules adopt` writes there), else inside the package when installed
# from a wheel (setup.py copies it there), else the checkout this file is in (a clone, an editable install)
_PACKAGED = Path(__file__).resolve().parent / "project"
_CHECKOUT = _PACKAGED if (_PACKAGED / "dbt_project.yml").is_file() else Path(__file__).resolve().parents[2]
PROJECT_DIR = (
    Path(os.environ["CREDIT_SCORE_PROJECT_DIR"]).resolve() if os.environ.get("CREDIT_SCORE_PROJECT_DIR") else _CHECKOUT
)
PROFILES_DIR = PROJECT_DIR / "profiles"
DEFAULT_DUCKDB_PATH = Path("warehouse") / "credit_score.duckdb"
TARGETS = ("duckdb", "postgres", "spark")


def _raw_contract() -> tuple[dict[str, list[str]], list[str], list[str]]:
    """The raw contract as the dbt sources declare it (models/staging/telecom/_telecom__sources.yml):
    per delivered table the columns its files hold, the columns load adds to every row (marked
    `added_by_load`; delivery_id last, Spark's partition column), and the register's columns."""
    sources = PROJECT_DIR / "models" / "staging" / "telecom" / "_telecom__sources.yml"
    (source,) = yaml.safe_load(sources.read_text(encoding="utf-8"))["sources"]
    tables = {t["name"]: t["columns"] for t in source["tables"]}
    register = [c["name"] for c in tables.pop("deliveries")]

    def added(column: dict) -> bool:
        return bool(column.get("config", {}).get("meta", {}).get("added_by_load"))

    delivered = {name: [c["name"] for c in columns if not added(c)] for name, columns in tables.items()}
    (by_load,) = {tuple(c["name"] for c in columns if added(c)) for columns in tables.values()}
    return delivered, list(by_load), register


# The raw contract (SPEC 2), read from the dbt sources: load, generate and the engines use these.
RAW_COLUMNS, DELIVERY_COLUMNS, REGISTRY_COLUMNS = _raw_contract()
RAW_TABLES: tuple[str, ...] = tuple(RAW_COLUMNS)

# The schemas BI reads and where an engine builds them before publishing: named once, in
# dbt_project.yml's vars, for the SQL (generate_schema_name) and for the harness alike.
_PROJECT_VARS = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
PUBLISHED_SCHEMAS: tuple[str, ...] = tuple(_PROJECT_VARS["published_schemas"])
MARTS_SCHEMA, AUDIT_SCHEMA = PUBLISHED_SCHEMAS
UNPUBLISHED_SUFFIX: str = _PROJECT_VARS["unpublished_suffix"]


def project_var(name: str):
    """A var's default in dbt_project.yml (what a build uses unless told otherwise)."""
    return _PROJECT_VARS[name]


def unpublished(schema: str) -> str:
    """Where an engine that publishes by moving tables (PostgreSQL) builds a published schema."""
    return f"{schema}{UNPUBLISHED_SUFFIX}"


def duckdb_path() -> Path:
    """The warehouse file: $CREDIT_SCORE_DUCKDB, else warehouse/credit_score.duckdb (absolute)."""
    configured = os.environ.get("CREDIT_SCORE_DUCKDB")
    path = Path(configured) if configured else DEFAULT_DUCKDB_PATH
    if path.is_dir():  # a folder where the file is expected: say so before anything is written beside it
        raise IsADirectoryError(
            errno.EISDIR,
            f"is a folder; CREDIT_SCORE_DUCKDB names the served DuckDB file, e.g. {path / 'credit_score.duckdb'}",
            str(path),
        )
    return path.resolve()


def duckdb_memory_limit() -> str:
    """DuckDB's memory_limit for every connection that loads, builds or publishes (dbt's profile reads
    the same variable): $CREDIT_SCORE_DUCKDB_MEMORY_LIMIT, default 4GB.  Beyond it DuckDB spills to disk."""
    return os.environ.get("CREDIT_SCORE_DUCKDB_MEMORY_LIMIT", "4GB")


def spill_path(work: Path) -> Path:
    """Where DuckDB spills beyond its memory limit: beside the work file (dbt's profile names the same)."""
    return work.with_name(f"{work.name}.tmp")


def target_name(requested: str | None) -> str:
    target = requested or os.environ.get("CREDIT_SCORE_TARGET") or "duckdb"
    if target not in TARGETS:
        raise SystemExit(f"unknown target '{target}': choose one of {', '.join(TARGETS)}")
    return target


def today() -> dt.date:
    """Today in UTC: the default delivery date of a load (SPEC 6)."""
    return dt.datetime.now(dt.UTC).date()


def default_as_of_date(on: dt.date | None = None) -> dt.date:
    """SPEC 5: the last day of the calendar month before `on` (default: today in UTC)."""
    on = on or today()
    return on.replace(day=1) - dt.timedelta(days=1)


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"'{text}' is not a date: write it as YYYY-MM-DD, e.g. 2026-10-31") from None


def month_end(day: dt.date) -> dt.date:
    following = day.replace(day=28) + dt.timedelta(days=4)
    return following - dt.timedelta(days=following.day)


def last_complete_month_start(as_of: dt.date) -> dt.date:
    """SPEC 1: the first day of the last complete calendar month on as_of (as_of's own month when
    as_of is its last day, else the month before)."""
    following = as_of + dt.timedelta(days=1)
    if following.month != as_of.month:
        return as_of.replace(day=1)
    return (as_of.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


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


def spark_master() -> str:
    """Where Spark runs: local[*] (default, in the calling process) or a standalone cluster's master,
    spark://HOST:PORT (CREDIT_SCORE_SPARK_MASTER; the profile reads the same variable)."""
    return os.environ.get("CREDIT_SCORE_SPARK_MASTER", "local[*]")


def spark_remote() -> str | None:
    """A Spark Connect server to run Spark's work on instead of applications of our own
    (CREDIT_SCORE_SPARK_REMOTE, or pyspark's own SPARK_REMOTE: sc://HOST:PORT): loads and dbt's
    builds become sessions of that one long-running application, whose metastore every session
    shares.  The server's spark.sql.warehouse.dir must be CREDIT_SCORE_SPARK_WAREHOUSE/tables on a
    filesystem this machine sees (docs/engines.md)."""
    return os.environ.get("CREDIT_SCORE_SPARK_REMOTE") or os.environ.get("SPARK_REMOTE") or None


def spark_metastore_url() -> str | None:
    """Spark's catalog in a Hive metastore database of the operator's instead of the embedded Derby one
    under the warehouse folder (which admits one Spark application at a time): a PostgreSQL database's
    JDBC URL, jdbc:postgresql://HOST:PORT/DATABASE, with CREDIT_SCORE_SPARK_METASTORE_USER and _PASSWORD,
    or a Hive metastore service's, thrift://HOST:PORT (CREDIT_SCORE_SPARK_METASTORE_URL; the profile
    reads the same variables).  Builds, loads, readers and other applications then share the catalog at
    once.  One metastore per warehouse folder."""
    return os.environ.get("CREDIT_SCORE_SPARK_METASTORE_URL") or None


def spark_metastore_user() -> str:
    """The metastore database's user (CREDIT_SCORE_SPARK_METASTORE_USER; Hive's default APP for Derby)."""
    return os.environ.get("CREDIT_SCORE_SPARK_METASTORE_USER", "APP")


def spark_metastore_password() -> str:
    """The metastore database's password (CREDIT_SCORE_SPARK_METASTORE_PASSWORD; Hive's default for Derby)."""
    return os.environ.get("CREDIT_SCORE_SPARK_METASTORE_PASSWORD", "mine")


def spark_metastore_jar() -> Path:
    """PostgreSQL's JDBC driver for Spark's driver JVM (CREDIT_SCORE_SPARK_METASTORE_JAR; default the
    one Debian's libpostgresql-jdbc-java installs)."""
    return Path(os.environ.get("CREDIT_SCORE_SPARK_METASTORE_JAR", "/usr/share/java/postgresql.jar"))


def spark_executor_memory() -> str:
    """Memory of each executor on a cluster (CREDIT_SCORE_SPARK_EXECUTOR_MEMORY, default 2g)."""
    return os.environ.get("CREDIT_SCORE_SPARK_EXECUTOR_MEMORY", "2g")


def spark_shuffle_partitions() -> str:
    """Spark's shuffle partitions (CREDIT_SCORE_SPARK_SHUFFLE_PARTITIONS, default 4 for the tests' small
    data; at scale about one per 128 MB shuffled, docs/scale.md; the profile reads the same variable)."""
    return os.environ.get("CREDIT_SCORE_SPARK_SHUFFLE_PARTITIONS", "4")


def append_file(source: BinaryIO, target: BinaryIO) -> None:
    """Append the whole of source to target (both open, binary) inside the kernel (copy_file_range),
    without a copy through user space; the ordinary copy on a filesystem without it."""
    target.flush()
    size, offset = os.fstat(source.fileno()).st_size, 0
    try:
        while offset < size:
            copied = os.copy_file_range(source.fileno(), target.fileno(), size - offset, offset)
            if copied == 0:
                break
            offset += copied
    except OSError:  # a filesystem without copy_file_range
        source.seek(offset)
        target.seek(0, os.SEEK_END)
        shutil.copyfileobj(source, target, 16 * 1024 * 1024)


class MissingExtra(SystemExit):
    """A command needs an optional part that is not installed: says which extra installs it."""


def require(module: str, extra: str, what: str) -> None:
    """Exit with one line naming the extra to install when `module` cannot be imported."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingExtra(
            f"credit-score: {what} needs the `{extra}` extra, which is not installed: "
            f"pip install 'credit-score[{extra}]'"
        )
