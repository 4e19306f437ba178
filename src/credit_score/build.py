"""`credit-score build`: seeds, models and every test for one as-of date, then a short summary."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from credit_score.dbt import DbtOutcome, run_dbt
from credit_score.history import duckdb_history
from credit_score.publish import publish, warehouse_lock
from credit_score.settings import PROJECT_DIR, duckdb_path, work_path

TEST_TYPES = ("test", "unit_test")


@dataclass
class BuildReport:
    outcome: DbtOutcome
    seconds: float
    rows_scored: int | None
    star_distribution: list[tuple[int, str, int]]
    published: Path | None = None

    @property
    def tests(self) -> list:
        return [r for r in self.outcome.results if r.resource_type in TEST_TYPES]

    @property
    def failed(self) -> list:
        return self.outcome.with_status("fail", "error", "runtime error")

    @property
    def ok(self) -> bool:
        return self.outcome.success and not self.failed


def star_distribution(database: Path) -> tuple[int, list[tuple[int, str, int]]]:
    """Rows in the mart and (star_level, star_label, customers) from the served DuckDB file."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        rows = con.execute(
            "select star_level, star_label, count(*) from marts.customer_credit_score "
            "group by star_level, star_label order by star_level desc"
        ).fetchall()
    finally:
        con.close()
    return sum(r[2] for r in rows), [(int(r[0]), str(r[1]), int(r[2])) for r in rows]


def _duckdb_history_step(work: Path, served: Path, step) -> None:
    """Run one HistoryTables step on the work file in a transaction, closed before dbt opens it."""
    con, tables = duckdb_history(work, served)
    try:
        con.execute("begin transaction")
        step(tables)
        con.execute("commit")
    finally:
        con.close()


def build(
    as_of: dt.date,
    *,
    target: str = "duckdb",
    database: Path | None = None,
    project_dir: Path = PROJECT_DIR,
    extra_vars: dict | None = None,
) -> BuildReport:
    """dbt build for as_of; on DuckDB, publish the marts to `database` (the served file; default
    $CREDIT_SCORE_DUCKDB or warehouse/credit_score.duckdb) only when
    every error-level test passed.  A failed build leaves the served file exactly as it was."""
    started = time.perf_counter()
    variables = {"as_of_date": as_of.isoformat(), **(extra_vars or {})}
    if target == "postgres":
        from credit_score import postgres

        postgres.history_step(lambda h: h.prepare(as_of))
        outcome = run_dbt(["build"], target=target, variables=variables, project_dir=project_dir)
        report = BuildReport(outcome, 0.0, None, [])
        if report.ok:
            postgres.publish(as_of)
            report.published = Path("postgres: marts, audit")
            report.rows_scored, report.star_distribution = postgres.star_distribution()
        postgres.history_step(lambda h: h.settle(as_of, published=report.published is not None))
        report.seconds = time.perf_counter() - started
        return report
    if target == "spark":
        from credit_score import spark
        from credit_score.settings import spark_warehouse

        env = {"CREDIT_SCORE_SPARK_WAREHOUSE": str(spark_warehouse())}
        outcome = run_dbt(["build"], target=target, variables=variables, env=env, project_dir=project_dir)
        report = BuildReport(outcome, 0.0, None, [])
        if report.ok:
            report.rows_scored, report.star_distribution = spark.star_distribution()
        report.seconds = time.perf_counter() - started
        return report
    database = database or duckdb_path()
    work = work_path(database)
    with warehouse_lock(database):
        _duckdb_history_step(work, database, lambda h: h.prepare(as_of))
        env = {"CREDIT_SCORE_DUCKDB_WORK": str(work)}
        outcome = run_dbt(["build"], target=target, variables=variables, env=env, project_dir=project_dir)
        report = BuildReport(outcome, 0.0, None, [])
        if report.ok:
            passed = sum(1 for t in report.tests if t.status in ("pass", "warn"))
            report.published = publish(work, database, as_of=as_of, tests_passed=passed)
            report.rows_scored, report.star_distribution = star_distribution(database)
        _duckdb_history_step(work, database, lambda h: h.settle(as_of, published=report.published is not None))
    report.seconds = time.perf_counter() - started
    return report


def print_summary(report: BuildReport, as_of: dt.date) -> None:
    tests = report.tests
    passed = sum(1 for t in tests if t.status == "pass")
    warned = [t for t in tests if t.status == "warn"]
    print()
    print(f"credit-score build, as of {as_of.isoformat()}: {'OK' if report.ok else 'FAILED'} in {report.seconds:.1f}s")
    if report.rows_scored is not None:
        print(f"  customers scored: {report.rows_scored:,}")
        for level, label, count in report.star_distribution:
            share = count / report.rows_scored if report.rows_scored else 0
            print(f"    {level} {label}  {count:>10,}  {share:6.1%}")
    print(
        f"  tests: {passed} passed, {len(warned)} warned, "
        f"{sum(1 for t in tests if t.status in ('fail', 'error'))} failed, of {len(tests)}"
    )
    for t in warned:
        print(f"    warn: {t.name}: {t.message}")
    for r in report.failed:
        print(f"    FAILED {r.resource_type} {r.name}: {r.message}")
    if report.outcome.error:
        print(f"  dbt stopped: {report.outcome.error}")
    if report.published:
        print(f"  published to {report.published}: what BI reads (read-only)")
    elif not report.ok:
        print("  nothing published: BI keeps reading the previous mart")
