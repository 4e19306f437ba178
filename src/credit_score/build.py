"""`credit-score build`: seeds, models and every test for one as-of date, published only when audited.

The same steps on every engine (see credit_score.engines): refuse when nothing is loaded or when the
spend window's bills have not arrived (SPEC 6, unless allow_incomplete); prepare the history; run
`dbt build`; publish if every error-level test passed; settle the history; summarise.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from credit_score import console, engines, faults, memory, privacy
from credit_score.dbt import DbtOutcome, run_dbt, warm_up
from credit_score.deliveries import incomplete_window, short_month, window_months
from credit_score.history import populations
from credit_score.settings import PROJECT_DIR, project_var

TEST_TYPES = ("test", "unit_test")

# What to do when an audit guard fails (printed under the failed test's name): each names a command
# that works (tests/test_guards.py runs them).
REJECTS_QUERY = (
    "select source_table, rejection_reason, count(*) as rows from {audit}.rejected_records "
    "group by 1, 2 order by 3 desc"
)


def guard_hint(name: str, as_of: dt.date, target: str) -> str | None:
    """What to do when the audit guard `name` failed: each hint a command that works on target."""
    on = engines.target_flag(target)
    if name == "assert_population_is_not_empty":
        return (
            "nobody is in scope on this date although accepted customers exist: the as-of date is probably "
            "before the first activation (or after every termination); build a date with active customers: "
            "credit-score build --as-of YYYY-MM-DD" + on
        )
    if name == "assert_population_drop_within_share":
        return (
            "the population fell more than max_population_drop_share (default 0.1) below what was published "
            "for this date before, or for the nearest date before it: a subscriptions delivery is probably "
            "missing or partial; load it (loading its id again replaces it), or, if the drop is real: "
            f"credit-score build --as-of {as_of}{on} --max-population-drop-share 0.5"
        )
    if name == "assert_reject_share_within_threshold":
        see = engines.get(target).work_rejects_command(REJECTS_QUERY)
        return (
            f"more rows were rejected than max_reject_share (default 0.01) allows: see which and why: {see}; "
            "ask the source system for a corrected delivery (loading its id again replaces it), or, if they "
            f"are expected: credit-score build --as-of {as_of}{on} --max-reject-share 0.05"
        )
    return None


# a summary names this many warnings (bad rows quarantined, mostly); the log names every one
SHOWN_WARNINGS = 3

# What does not depend on the deliveries: the rule seeds and the time spine (dbt selectors), and the
# files that define them.  A build whose fingerprint of these files is the one the last successful
# build of the warehouse recorded neither rebuilds them nor runs their tests again (57 of ~200 dbt
# nodes): a month's build runs what a month needs.  --full-refresh always builds them.
STATIC_SELECTORS = ("resource_type:seed", "dim_dates")
STATIC_FILES = ("dbt_project.yml", "seeds", "models/marts/dim_dates.sql", "data-tests/generic")


def static_fingerprint(project_dir: Path = PROJECT_DIR) -> str:
    """A hash of the files that define the seeds and the time spine (and of dbt's version)."""
    import hashlib
    from importlib.metadata import version

    digest = hashlib.sha256(version("dbt-core").encode())
    for part in STATIC_FILES:
        path = project_dir / part
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file():
                digest.update(str(file.relative_to(project_dir)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


class BuildRefused(Exception):
    """The build cannot start; the message says what is missing and what to run."""


@dataclass
class BuildReport:
    outcome: DbtOutcome
    seconds: float
    rows_scored: int | None
    star_distribution: list[tuple[int, str, int]]
    published: str | None = None
    # why the build recomputed everything from raw (None: it went on incrementally)
    full_refresh: str | None = None
    # how long making the audited build what BI reads took (None: nothing published)
    publish_seconds: float | None = None
    # a step outside dbt that failed (the publish running out of memory), said in one line
    problem: str | None = None
    # the engine built on (the hints name it)
    target: str = "duckdb"
    # the date of the dbt run this report is of (the last one run; the failed one when one failed)
    as_of: dt.date | None = None
    # every date dbt ran for, in order (a backfill's months; then the newest published date, built again)
    built: list[dt.date] = field(default_factory=list)
    # the newest published date when it was built again after earlier dates (SPEC 8), else None
    newest_again: dt.date | None = None
    # what dbt did in each run, in the order of built (outcome is the last one's)
    outcomes: list[DbtOutcome] = field(default_factory=list)

    @property
    def tests(self) -> list:
        return [r for r in self.outcome.results if r.resource_type in TEST_TYPES]

    @property
    def failed(self) -> list:
        return self.outcome.with_status("fail", "error", "runtime error")

    @property
    def ok(self) -> bool:
        return self.outcome.success and not self.failed and self.problem is None

    @property
    def out_of_memory(self) -> list:
        """The dbt nodes that failed because DuckDB ran out of memory."""
        return [r for r in self.failed if memory.is_out_of_memory(r.message)]


def build(as_of: dt.date, **options) -> BuildReport:
    """dbt build for as_of, published to what BI reads only when every error-level test passed (on
    DuckDB `database` is the served file: default $CREDIT_SCORE_DUCKDB or warehouse/credit_score.duckdb).
    A failed build leaves what BI reads exactly as it was.  Raises BuildRefused, having built nothing,
    when nothing is loaded or the spend window's bills have not arrived.  See build_dates."""
    return build_dates([as_of], **options)


@dataclass
class Session:
    """One build of a warehouse, as the command line (build_dates) and Dagster (credit_score.orchestration)
    both run it: the checks before dbt, the dates dbt runs for and what each run tells the next, the
    publish and the settling of the history's months.  They differ only in how dbt is run (and
    Dagster publishes in a step of its own).  Opened under the engine's lock, which the caller holds."""

    engine: object
    dates: list[dt.date]  # the dates asked for, in order
    runs: list[dt.date]  # what dbt runs for: the dates, then the newest published date again (SPEC 8)
    published_rows: list  # engine.published_populations(), read before dbt rewrites the months it builds
    refresh_reason: str | None  # why the first run recomputes everything from raw (None: incremental)
    static: str  # the fingerprint of the seeds' and the time spine's files (static_fingerprint)
    skip_static: bool  # they are those of the last successful build: not rebuilt, not tested again
    built: dict[dt.date, int] = field(default_factory=dict)  # the runs done so far, with their populations
    outcomes: list[DbtOutcome] = field(default_factory=list)  # what dbt did in each run so far

    @classmethod
    def open(
        cls,
        engine,
        dates: list[dt.date],
        *,
        variables: dict | None = None,
        allow_incomplete: bool = False,
        full_refresh: bool = False,
        project_dir: Path = PROJECT_DIR,
    ) -> Session:
        """Check every date before any is built (BuildRefused: nothing loaded, the spend window's bills
        not arrived) and decide the runs: the newest published date is built again after earlier ones."""
        records = engine.deliveries()
        if records is None:
            raise BuildRefused(
                "nothing is loaded yet: load a delivery first, e.g. "
                "`credit-score load data/raw --delivered-on YYYY-MM-DD`, then build"
            )
        published_rows = engine.published_populations()
        runs = list(dict.fromkeys(dates))
        newest = populations(published_rows, max(runs))["newest"]
        if newest is not None and dt.date.fromisoformat(newest) > max(runs):
            runs.append(dt.date.fromisoformat(newest))
        for as_of in [] if allow_incomplete else runs:
            problem = incomplete(engine, as_of, records, variables)
            if problem and as_of not in dates:
                problem += (
                    f"\n  ({as_of} is the newest published date: it is built again after "
                    f"{', '.join(d.isoformat() for d in dates)} so that BI keeps reading it)"
                )
            if problem:
                raise BuildRefused(problem)
        refresh_reason = "asked for (--full-refresh)" if full_refresh else engine.full_refresh_reason()
        static = static_fingerprint(project_dir)
        skip_static = not refresh_reason and engine.static_fingerprint() == static
        if not skip_static:  # rebuilt from here on: a build that fails midway must not vouch for them
            engine.record_static_fingerprint(None)
        return cls(engine, list(dates), runs, published_rows, refresh_reason, static, skip_static)

    def pending(self, tests_passed: int) -> dict:
        """What a publishing step run apart needs (Dagster's served_warehouse): see resumed."""
        return {"as_of": self.dates[-1].isoformat(), "publish_as_of": self.runs[-1].isoformat(),
                "tests_passed": tests_passed, "static": self.static}  # fmt: skip

    @classmethod
    def resumed(cls, engine, pending: dict) -> Session:
        """The session whose dbt runs passed, from what pending() wrote, to publish and settle it."""
        as_of, newest = dt.date.fromisoformat(pending["as_of"]), dt.date.fromisoformat(pending["publish_as_of"])
        runs = [as_of] if newest == as_of else [as_of, newest]
        return cls(engine, [as_of], runs, [], None, pending["static"], skip_static=False)

    def before(self, number: int) -> None:
        """Before run `number`: its months marked pending (history.py), those of the runs before kept."""
        self.engine.before_dbt(self.runs[number], adding=number > 0)

    def env(self, number: int) -> dict[str, str]:
        """The environment of run `number`'s dbt: the engine's, the as-of date, the populations the
        guard compares with (what was published, and the dates built before it in this build)."""
        as_of = self.runs[number]
        compared = populations(self.published_rows, as_of, built=self.built)
        return {**self.engine.dbt_env(), **as_of_env(as_of), **populations_env(compared)}

    def after(self, number: int) -> None:
        """Run `number` passed: the next run's guard compares with its population."""
        if number < len(self.runs) - 1:
            self.built[self.runs[number]] = self.engine.built_population()

    def again(self, as_of: dt.date) -> bool:
        """as_of is the newest published date, built again after the dates asked for."""
        return as_of not in self.dates

    def publish(self, report: BuildReport, tests_passed: int) -> None:
        """Make the audited build what BI reads (the newest run's date), or say in report.problem why it
        could not (what BI reads is then as it was: the swap is the publish's last step)."""
        publishing = time.perf_counter()
        try:
            report.published = self.engine.publish(self.runs[-1], tests_passed)
        except Exception as e:
            if memory.is_out_of_memory(str(e)):
                report.problem = memory.advice("the publish")
            elif (fault := faults.describe(e)) is not None:
                report.problem = f"the publish could not write: {fault}"
                faults.log_traceback("build", e)
            else:
                raise
        else:
            report.publish_seconds = time.perf_counter() - publishing
            report.rows_scored, report.star_distribution = self.engine.star_distribution()
            self.engine.record_static_fingerprint(self.static)

    def settle(self, report: BuildReport) -> None:
        """The history's months kept (published) or put back; when that cannot be written they stay
        marked pending and the next build settles them first (report.problem says so)."""
        try:
            self.engine.after_dbt(self.runs[-1], published=report.published is not None)
        except Exception as e:
            fault = faults.describe(e)
            if not memory.is_out_of_memory(str(e)) and fault is None:
                raise
            if fault is not None:
                faults.log_traceback("build", e)
            if not report.out_of_memory and report.problem is None:
                report.problem = (
                    memory.advice("settling the history's months")
                    if fault is None
                    else f"settling the history's months could not write: {fault}"
                ) + ("; the mart was published, and the next build settles them first" if report.published else "")


def build_dates(
    dates: list[dt.date],
    *,
    target: str | None = None,
    database: Path | None = None,
    project_dir: Path = PROJECT_DIR,
    extra_vars: dict | None = None,
    allow_incomplete: bool = False,
    full_refresh: bool = False,
    unit_tests: bool = False,
) -> BuildReport:
    """dbt build for each date in turn (a backfill: `build --from/--to`), then, when the newest date
    already published is later than all of them, for that newest date again (SPEC 8: what BI reads
    stays the newest month; every table as if the newest date had been built last).  Published once,
    after the last run, only when every run's error-level tests passed: all the dates or none.

    Every date is checked before any is built (nothing loaded, the spend window's bills not arrived:
    BuildRefused).  The population guard compares each date with what was published for it and with
    the nearest date before it, published or built earlier in the same build.

    The models that keep state take only what the deliveries loaded since their last build change
    (macros/incremental.sql); full_refresh recomputes everything from raw (in the first run), as does
    any build after a delivery already built was reloaded (or raw replaced).  Both give the same marts
    and audit.

    The data tests (the audit) run in every run.  unit_tests also runs the rules' unit tests, which
    test the models' logic, not the data: CI runs them (`make test`), a monthly build need not pay for
    them each month."""
    started = time.perf_counter()
    engine = engines.get(target, database=database)
    variables = dict(extra_vars or {})
    with privacy.private_files(), engine.lock():
        warm_up()  # dbt's import, in the fork server, overlaps the checks before dbt
        session = Session.open(
            engine, dates, variables=variables, allow_incomplete=allow_incomplete, full_refresh=full_refresh,
            project_dir=project_dir,
        )  # fmt: skip
        if session.refresh_reason:
            console.note(f"recomputing everything from raw: {session.refresh_reason}")
        for number, as_of in enumerate(session.runs):
            report = _run(
                session,
                number,
                project_dir=project_dir,
                variables=variables,
                full_refresh=session.refresh_reason if number == 0 else None,
                skip_static=session.skip_static or number > 0,  # the first run built them
                unit_tests=unit_tests,
            )
            report.built = session.runs[: number + 1]
            report.newest_again = as_of if session.again(as_of) else None
            if not report.ok or report.problem:
                break
            session.after(number)
        if report.ok:
            session.publish(report, sum(1 for t in report.tests if t.status in ("pass", "warn")))
        session.settle(report)
    report.seconds = time.perf_counter() - started
    return report


def _run(
    session: Session,
    number: int,
    *,
    project_dir: Path,
    variables: dict,
    full_refresh: str | None,
    skip_static: bool,
    unit_tests: bool,
) -> BuildReport:
    """One `dbt build` as of as_of, its months marked pending first (history.py); nothing published."""
    engine, as_of = session.engine, session.runs[number]
    try:
        session.before(number)
    except Exception as e:
        if not memory.is_out_of_memory(str(e)):
            raise
        if number > 0:  # the runs before it marked months: put them back
            with contextlib.suppress(Exception):
                engine.after_dbt(as_of, published=False)
        raise BuildRefused(memory.advice("preparing the history's months")) from None
    with console.bar(f"dbt build as of {as_of} ({engine.name})") as progress:
        outcome = run_dbt(
            [
                "build",
                *(["--full-refresh"] if full_refresh else []),
                *([] if unit_tests else ["--exclude-resource-type", "unit_test"]),
                # cautious: a test is left out only when every node it reads is (a relationship
                # test from the mart to a seed still runs)
                *(["--exclude", *STATIC_SELECTORS, "--indirect-selection", "cautious"] if skip_static else []),
            ],
            target=engine.dbt_target,
            variables=variables,
            env=session.env(number),
            project_dir=project_dir,
            progress=progress,
        )
    session.outcomes.append(outcome)
    report = BuildReport(
        outcome, 0.0, None, [], full_refresh=full_refresh, target=engine.name, as_of=as_of, outcomes=[*session.outcomes]
    )
    busy = engine.held_by_another(outcome.error) or next(
        (b for r in report.failed if (b := engine.held_by_another(r.message)) is not None), None
    )
    if busy is not None:  # another process opened the work file while dbt ran: nothing is published
        with contextlib.suppress(Exception):  # else the months stay pending: the next build settles them
            engine.after_dbt(as_of, published=False)
        raise busy
    return report


def incomplete(engine, as_of: dt.date, records: list, variables: dict | None = None) -> str | None:
    """SPEC 6: why a build as of as_of must not run (the spend window's bills have not arrived, or a
    month of it arrived short), or None.  Read before dbt, from the deliveries and the raw bills."""
    share = float((variables or {}).get("max_population_drop_share", project_var("max_population_drop_share")))
    months = project_var("spend_window_months")
    dated = incomplete_window(as_of, records)
    if dated:
        return dated
    try:
        arrived = engine.bill_months_arrived(window_months(as_of, months))
    except Exception as e:  # the one aggregate over the raw bills spills; at a limit far too small it cannot
        if not memory.is_out_of_memory(str(e)):
            raise
        return memory.advice("checking which bills arrived")
    return short_month(as_of, arrived, months=months, share=share, on=engines.target_flag(engine.name))


def populations_env(published: dict) -> dict[str, str]:
    """What the population guard (data-tests/marts/assert_population_drop_within_share.sql) compares
    the build's population with: engine.published_populations(), as JSON."""
    return {"CREDIT_SCORE_PUBLISHED_POPULATIONS": json.dumps(published)}


def as_of_env(as_of: dt.date) -> dict[str, str]:
    """How a dbt run is told its as-of date (macros/as_of_date.sql): by environment, not --vars,
    because a changed var makes dbt parse the whole project again."""
    return {"CREDIT_SCORE_AS_OF_DATE": as_of.isoformat()}


def print_summary(report: BuildReport, as_of: dt.date) -> None:
    """The build in a few lines: whether it passed and was published, the stars, what failed and
    where to look."""
    tests = report.tests
    passed = sum(1 for t in tests if t.status == "pass")
    warned = [t for t in tests if t.status == "warn"]
    failed = [t for t in tests if t.status in ("fail", "error")]
    counts = f"{passed} of {len(tests)} tests passed" + (f", {len(warned)} warned" if warned else "")
    run = "" if report.as_of in (None, as_of) else f" (the run as of {report.as_of})"
    if report.ok:
        console.done(f"credit-score build, as of {as_of.isoformat()}: OK, {counts}{run}", report.seconds)
    else:
        nodes = [r for r in report.failed if r.resource_type not in TEST_TYPES]
        what = f"{len(nodes)} {'model' if len(nodes) == 1 else 'models'} failed, " if nodes else ""
        console.failed(
            f"credit-score build, as of {as_of.isoformat()}: FAILED in {report.seconds:.1f}s, "
            f"{what}{len(failed)} of {len(tests)} tests failed{run}"
        )
    if len(report.built) > 1:
        console.note(f"dbt ran as of {', '.join(d.isoformat() for d in report.built)}, each audited")
    if report.newest_again is not None:
        console.note(
            f"{report.newest_again} is the newest published date: built again last, it stays what BI reads "
            "(SPEC 8); the earlier dates rewrite their months of the history and the star changes"
        )
    if report.rows_scored is not None:
        stars = " · ".join(f"{label} {count:,}" for _, label, count in report.star_distribution)
        console.note(f"customers scored: {report.rows_scored:,} ({stars})")
    for t in warned[:SHOWN_WARNINGS]:
        console.note(f"warn: {t.name}: {t.message}")
    if len(warned) > SHOWN_WARNINGS:
        console.note(
            f"  and {len(warned) - SHOWN_WARNINGS} more warnings: each in {console.log_dir() / 'dbt.log'}; "
            "the rows behind them in audit.rejected_records"
        )
    if report.out_of_memory:  # one line: the steps, the limit, what to run
        steps = ", ".join(f"{r.resource_type} {r.name}" for r in report.out_of_memory)
        console.note(f"FAILED: {memory.advice(steps)}")
    if report.problem:
        console.note(f"FAILED: {report.problem}")
    for r in report.failed:
        if r in report.out_of_memory:
            continue
        console.note(f"FAILED {r.resource_type} {r.name}: {r.message}")
        hint = guard_hint(r.name, as_of, report.target)
        if hint:
            console.note(f"  {hint}")
        if r.compiled_path and r.resource_type == "test":
            console.note(f"  the query that finds its rows: {r.compiled_path}")
    if report.outcome.error:
        console.note(f"dbt stopped: {report.outcome.error}")
    if report.published:
        console.note(f"published to {report.published} in {report.publish_seconds:.1f}s: what BI reads (read-only)")
    elif not report.ok:
        console.note("nothing published: BI keeps reading the previous mart")
        console.note(f"dbt's full log: {console.log_dir() / 'dbt.log'}")
