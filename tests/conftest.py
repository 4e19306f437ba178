import contextlib
import datetime as dt
import fcntl
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import EXAMPLES, SPARSE, load_and_build, read_mart

MONTH_END = dt.date(2026, 10, 31)
MID_MONTH = dt.date(2026, 3, 15)


@pytest.fixture(scope="session")
def examples_marts(tmp_path_factory) -> dict[dt.date, dict]:
    """The worked examples built at both dates, with the dbt unit tests: {as_of: (report, mart rows)}."""
    built = {}
    for as_of in (MONTH_END, MID_MONTH):
        database = tmp_path_factory.mktemp("examples") / "warehouse.duckdb"
        report = load_and_build(EXAMPLES, database, as_of, unit_tests=True, **SPARSE)
        built[as_of] = (report, read_mart(database) if report.ok else {})
    return built


@contextlib.contextmanager
def _once_per_run(tmp_path_factory, name: str):
    """The run's shared temporary folder, held under the lock `name`: the first xdist worker to need a
    fixture built once per run builds it there, the others wait for it, then read what it kept."""
    # under xdist each worker's base folder sits in the run's; without it, the run's is the base folder
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield shared


@pytest.fixture(scope="session")
def examples_month_end(tmp_path_factory) -> Path:
    """The worked examples loaded and built as of 2026-10-31 as a monthly job builds them (the check
    of what arrived on, no unit tests): the served file.  Built once per run, under a lock in the run's
    shared temporary folder, like scenario_duckdb; never changed: a test takes a copy of its own
    (copy_warehouse)."""
    with _once_per_run(tmp_path_factory, "examples_month_end") as shared:
        folder = shared / "examples_month_end"
        database = folder / "warehouse.duckdb"
        if not (shared / "examples_month_end.built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            report = load_and_build(EXAMPLES, database, MONTH_END)
            assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]
            (shared / "examples_month_end.built").touch()
    return database


def copy_warehouse(database: Path, folder: Path) -> Path:
    """A copy of a built DuckDB warehouse (the served file, the work file, the history's parquet and
    dbt's folder) in folder; its served file.  The served history view still names the original's
    parquet files (they hold the same rows) until the copy's next publish rewrites it."""
    shutil.copytree(database.parent, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*.lock"))
    return folder / database.name


@pytest.fixture(scope="session")
def scenario(tmp_path_factory):
    """The cross-delivery cases of SPEC 6 (tests/deliveries_scenario.py), as delivery folders."""
    from tests.deliveries_scenario import build_scenario

    return build_scenario(tmp_path_factory.mktemp("scenario"))


@dataclass
class Built:
    """A build and what it published: its report, the published tables (helpers.read_published) and
    the mart keyed by customer."""

    report: object
    published: dict
    mart: dict


@pytest.fixture(scope="session")
def scenario_duckdb(scenario, tmp_path_factory):
    """The scenario on DuckDB, loaded in order with a September build in between, then the rest, an
    October build and a mid-month one (2026-03-15): {as_of: Built}, and the served file.  What every
    engine must publish for the same deliveries.  Built once per run: the first xdist worker to need it
    builds it (under a lock) in the run's shared temporary folder, the others read what it kept."""
    with _once_per_run(tmp_path_factory, "scenario_duckdb") as shared:
        kept = shared / "scenario_duckdb.pickle"
        if kept.exists():
            return pickle.loads(kept.read_bytes())
        built = _build_scenario_duckdb(scenario, shared / "scenario_duckdb")
        kept.write_bytes(pickle.dumps(built))
        return built


@pytest.fixture(scope="session")
def two_months(tmp_path_factory) -> Path:
    """The served file of 4,000 generated customers built at two month-ends (2026-09-30, 2026-10-31),
    bad rows mixed into October's delivery: stars move, the watchlist has customers, the audit has
    rejects. What the readers' tests (the semantic layer, the report, the docs) read. Built once per
    run, under a lock in the run's shared temporary folder, like scenario_duckdb."""
    with _once_per_run(tmp_path_factory, "two_months") as shared:
        folder = shared / "two_months"
        database = folder / "warehouse.duckdb"
        if not (folder / "built").exists():
            _build_two_months(folder, database)
            (folder / "built").touch()
    return database


def _build_two_months(folder: Path, database: Path) -> None:
    from credit_score import badrows
    from credit_score.build import build
    from credit_score.generate import generate
    from credit_score.load import load_listed, read_csv_tables, read_listing, write_csv_tables

    generate(4000, folder / "data", seed=13, as_of=MONTH_END, deliveries="monthly", months=2, progress=False)
    *earlier, october = read_listing(folder / "data" / "deliveries.csv")
    mixed, _ = badrows.mix_in(read_csv_tables(october[0]))
    write_csv_tables(october[0], mixed)
    load_listed(earlier, database, replace=True, progress=False)
    assert build(dt.date(2026, 9, 30), database=database).ok
    load_listed([october], database, progress=False)
    report = build(MONTH_END, database=database)
    assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]


def _build_scenario_duckdb(scenario, folder: Path):
    from credit_score.build import build
    from tests.deliveries_scenario import OCTOBER, SEPTEMBER
    from tests.helpers import load_steps, read_published

    folder.mkdir(exist_ok=True)
    database = folder / "warehouse.duckdb"
    built = {}
    load_steps(scenario.in_order(), database)
    for as_of in (SEPTEMBER, OCTOBER):
        if as_of == OCTOBER:
            load_steps(scenario.after_september(), database, replace_first=False)
        report = build(as_of, database=database)
        built[as_of] = Built(report, read_published(database=database), read_mart(database))
    # the mid-month date in a warehouse of its own: built after October here, it would rewrite its month
    # of the history and leave October in front of BI (SPEC 8; tests/test_newest_month.py)
    mid_month = folder / "mid-month" / "warehouse.duckdb"
    load_steps(scenario.in_order(), mid_month)
    load_steps(scenario.after_september(), mid_month, replace_first=False)
    report = build(MID_MONTH, database=mid_month)
    built[MID_MONTH] = Built(report, read_published(database=mid_month), read_mart(mid_month))
    return database, built


# The longest files first, so that `make test`'s two workers (pytest-xdist, a file per worker at a
# time, --no-loadscope-reorder: in this order) finish together; the rest in alphabetical order.
LONGEST_FIRST = [
    "test_spark.py",
    "test_postgres.py",
    "test_history.py",
    "test_newest_month.py",
    "test_cli.py",
    "test_memory.py",
    "test_deliveries.py",
    "test_rule_versions.py",
    "test_seeds.py",
]


def pytest_collection_modifyitems(session, config, items):
    def rank(item) -> tuple[int, str]:
        name = item.path.name
        return (LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST), name)

    items.sort(key=rank)  # stable: the tests of a file keep their order


def pytest_configure(config):
    # dbt writes target/ and logs/ into the project; keep them out of the repo's test runs' way
    Path("logs").mkdir(exist_ok=True)
    # each xdist worker's dbt runs log to their own file (two processes rotating one file lose lines);
    # the workers inherit the controller's environment, so they tell its folder from a person's by name
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    suite_logs = str(Path("logs", "pytest-main").resolve())
    if os.environ.get("CREDIT_SCORE_LOG_DIR", suite_logs) == suite_logs:
        os.environ["CREDIT_SCORE_LOG_DIR"] = str(Path("logs", f"pytest-{worker}").resolve())
    # the suite's ~300 dbt runs log a line per node and the errors, not every statement: about 1 s of
    # CPU less each (docs/performance.md); test_cli checks the default, the whole log, as people get it
    os.environ.setdefault("CREDIT_SCORE_DBT_LOG_LEVEL", "info")
    # and on one dbt thread: two xdist workers keep both cores busy, so a build's second thread only
    # adds switching (11 % less CPU over 14 DuckDB tests, no slower, docs/performance.md); test_memory and
    # test_cli build on the profile's two threads, as a warehouse and a person get them
    os.environ.setdefault("CREDIT_SCORE_DBT_THREADS", "1")
