"""A Dagster code location for the monthly run (optional: `pip install '.[orchestration]'`).

    CREDIT_SCORE_INCOMING=/data/incoming dagster dev -m credit_score.orchestration

Assets, partitioned by month (the partition 2026-10-01 scores 2026-10-31):
- `telecom/*` (Python): load the month's delivery folder $CREDIT_SCORE_INCOMING/YYYY-MM into raw, as
  `credit-score load` does (the dbt sources are these assets, so the lineage starts at the delivery);
- the dbt project's seeds and models (dagster-dbt), their data tests as asset checks: `dbt build` in
  the work file, refused when the spend window's bills have not arrived (SPEC 6), as `credit-score build`;
- `served_warehouse` (Python): publish the audited marts to what BI reads (write-audit-publish). It
  runs only when every model and error-level check passed; a failed build leaves BI on the previous
  month and its history marks are put back.
A monthly schedule (06:00 UTC on the 5th, the month that ended) and a sensor that starts the month's
run when a delivery folder named YYYY-MM lands in $CREDIT_SCORE_INCOMING (a folder holding a
`.partial` file is still being written and is skipped). DuckDB (CREDIT_SCORE_DUCKDB) is the target.
"""

# no `from __future__ import annotations`: Dagster reads the config class from the live annotation
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from credit_score import privacy, settings

settings.require("dagster", "orchestration", "the Dagster code location")
settings.require("dagster_dbt", "orchestration", "the Dagster code location")

import dagster as dg  # noqa: E402
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets  # noqa: E402

from credit_score.build import BuildRefused, BuildReport, Session  # noqa: E402
from credit_score.dbt import DbtOutcome  # noqa: E402

INCOMING_VARIABLE = "CREDIT_SCORE_INCOMING"
PARTITIONS = dg.MonthlyPartitionsDefinition(start_date="2024-01-01")
SOURCES = ("subscriptions", "billing", "suspensions", "deliveries")
DBT = str(Path(sys.executable).with_name("dbt"))  # dagster-dbt runs dbt as a program: the venv's


def _manifest() -> Path:
    """dbt's manifest, parsed again when a model, macro, seed or the project changed since."""
    project = DbtProject(project_dir=settings.PROJECT_DIR, profiles_dir=settings.PROFILES_DIR, target="duckdb")
    manifest = Path(project.manifest_path)
    sources = [settings.PROJECT_DIR / "dbt_project.yml"]
    for folder in ("models", "macros", "seeds", "data-tests"):
        sources += (settings.PROJECT_DIR / folder).rglob("*")
    newest = max(p.stat().st_mtime for p in sources if p.is_file())
    if not manifest.exists() or manifest.stat().st_mtime < newest:
        subprocess.run(
            [DBT, "parse", "--project-dir", str(settings.PROJECT_DIR), "--profiles-dir", str(settings.PROFILES_DIR),
             "--target", "duckdb", "--quiet"],
            check=True, cwd=settings.PROJECT_DIR,
        )  # fmt: skip
    return manifest


def _as_of(context: dg.AssetExecutionContext) -> dt.date:
    return settings.month_end(context.partition_time_window.start.date())


def _engine():
    from credit_score import engines

    return engines.get("duckdb")  # the code location's target (CREDIT_SCORE_DUCKDB)


def _pending(engine) -> Path:
    """What the dbt step leaves for the publishing step: the as-of date and the tests it passed."""
    return engine.dbt_dir / "dagster-build.json"


class DeliveryConfig(dg.Config):
    folder: str = ""
    """The delivery folder (default: $CREDIT_SCORE_INCOMING/YYYY-MM of the partition)."""
    delivered_on: str = ""
    """YYYY-MM-DD the delivery arrived (default: the listing beside the folders, generate's
    deliveries.csv; else the date it was loaded with before; else today, UTC)."""


def _delivery_date(folder: Path, month: str, loaded) -> tuple[dt.date, str]:
    """When the month's delivery arrived, and how that is known: the listing beside the delivery folders
    (delivery_id,delivered_on: `credit-score load --list`'s format), else the date it was loaded with
    before (materializing a partition again never re-dates its delivery), else today (UTC)."""
    from credit_score.load import read_listing

    listing = folder.parent / "deliveries.csv"
    if listing.is_file():
        for _, delivery_id, delivered_on in read_listing(listing):
            if delivery_id == month:
                return delivered_on, f"listed in {listing}"
    if loaded is not None:
        return loaded.delivered_on, "as loaded before"
    return settings.today(), "today (not listed, not loaded before)"


def _unchanged_since(folder: Path, loaded) -> bool:
    """The delivery was loaded from this folder and no file in it changed since."""
    if loaded is None or Path(loaded.source_folder) != folder.resolve() or not folder.is_dir():
        return False
    stamp = loaded.loaded_at.replace(tzinfo=dt.UTC).timestamp()
    return all(entry.stat().st_mtime < stamp for entry in folder.iterdir())


@dg.multi_asset(
    specs=[dg.AssetSpec(["telecom", table], group_name="deliveries", description=f"raw.{table}") for table in SOURCES],
    partitions_def=PARTITIONS,
)
def month_delivery(context: dg.AssetExecutionContext, config: DeliveryConfig):
    """Load the month's delivery folder into raw (all or nothing; loading it again replaces it)."""
    from credit_score.load import load

    month = context.partition_key[:7]
    folder = Path(config.folder) if config.folder else Path(os.environ.get(INCOMING_VARIABLE, "incoming")) / month
    loaded = _engine().loaded_delivery(month)
    if config.delivered_on:
        delivered_on, known = settings.parse_date(config.delivered_on), "given"
    else:
        delivered_on, known = _delivery_date(folder, month, loaded)
    if loaded is not None and loaded.delivered_on == delivered_on and _unchanged_since(folder, loaded):
        # loading it again would change nothing but its load time, and make the next build recompute
        # everything (ledger.py: a delivery built on was reloaded)
        context.log.info(f"delivery {month} unchanged since it was loaded at {loaded.loaded_at}: kept as it is")
        counts, action = loaded.rows, "kept (unchanged since loaded)"
    else:
        counts = load(folder, settings.duckdb_path(), delivered_on=delivered_on, delivery_id=month, progress=False)
        action = "loaded"
    for table in SOURCES:
        rows = counts.get(table) if table != "deliveries" else 1
        yield dg.MaterializeResult(
            asset_key=["telecom", table],
            metadata={
                "delivery": month,
                "delivered_on": delivered_on.isoformat(),
                "delivered_on_from": known,
                "action": action,
                "rows": rows,
            },
        )


@dbt_assets(
    manifest=_manifest(),
    partitions_def=PARTITIONS,
    dagster_dbt_translator=DagsterDbtTranslator(),
    exclude="resource_type:unit_test",
)
def credit_score_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """`dbt build` for the partition's month end in the work file: the command line's build session
    (credit_score.build.Session: the same checks, the newest published date built again after an
    earlier one), with dbt run by dagster-dbt so that each model and test is an event of the run."""
    as_of = _as_of(context)
    engine = _engine()
    with privacy.private_files(), engine.lock(), _environment_kept():
        try:
            session = Session.open(engine, [as_of])
        except BuildRefused as e:
            raise dg.Failure(f"the build as of {as_of} is refused: {e}") from None
        for number, day in enumerate(session.runs):
            session.before(number)
            os.environ.update(session.env(number))
            refresh = ["--full-refresh"] if number == 0 and session.refresh_reason else []
            invocation = dbt.cli(
                ["build", "--exclude-resource-type", "unit_test", *refresh, *_dbt_log_args()],
                context=context,
                raise_on_error=False,
            )
            if number == 0:
                yield from _quietly(invocation.stream())
            else:  # the newest date built again: its events only logged (the assets are this run's)
                invocation.wait()
                context.log.info(f"{day}, the newest published date, built again after {as_of}: BI keeps reading it")
            passed = _passed(engine, day, invocation)
            session.after(number)
        _pending(engine).write_text(json.dumps(session.pending(passed)))


def _dbt_log_args() -> list[str]:
    """dbt's log in the log folder's dbt.log, at the level the command line keeps it (all of it unless
    CREDIT_SCORE_DBT_LOG_LEVEL says less; dagster-dbt would put it in each invocation's target folder)."""
    from credit_score import console

    folder = console.log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return ["--log-path", str(folder), "--log-level-file", console.log_level()]


def _quietly(events):
    """dagster-dbt's events, without the line it writes to stdout for each dbt event (~1,000 a month,
    all of them in dbt.log already): the run's log shows the assets, the checks and what failed."""
    events = iter(events)
    with open(os.devnull, "w") as nowhere:
        while True:
            with contextlib.redirect_stdout(nowhere):
                event = next(events, None)
            if event is None:
                return
            yield event


@contextlib.contextmanager
def _environment_kept():
    """dagster-dbt's dbt process takes its environment from this process's: what the step sets for it
    (the as-of date, the published populations) is taken back afterwards, so that nothing else run in
    the same process (Dagster's in-process executor, a test) inherits it."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _passed(engine, as_of: dt.date, invocation) -> int:
    """The tests a dbt invocation passed; dg.Failure (the history's months put back) when any failed."""
    results = invocation.get_artifact("run_results.json")["results"]
    failed = [r["unique_id"] for r in results if r["status"] in ("fail", "error", "runtime error")]
    if failed or not invocation.is_successful():
        engine.after_dbt(as_of, published=False)
        raise dg.Failure(
            f"dbt build as of {as_of} failed ({', '.join(failed) or 'see the log'}): nothing published, "
            "BI keeps reading the previous month"
        )
    return sum(1 for r in results if r["unique_id"].startswith("test.") and r["status"] in ("pass", "warn"))


def _published_models() -> list[dg.AssetKey]:
    """The dbt models built into the schemas BI reads (settings.PUBLISHED_SCHEMAS), from the manifest:
    what the publishing asset waits for, named nowhere else."""
    nodes = json.loads(_manifest().read_text(encoding="utf-8"))["nodes"].values()
    return [
        dg.AssetKey([node["config"]["schema"], node["name"]])
        for node in nodes
        if node["resource_type"] == "model" and node["config"].get("schema") in settings.PUBLISHED_SCHEMAS
    ]


@dg.asset(deps=_published_models(), partitions_def=PARTITIONS, group_name="publishing")
def served_warehouse(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """What BI reads: the audited marts published from the work file (write-audit-publish)."""
    as_of = _as_of(context)
    engine = _engine()
    with privacy.private_files(), engine.lock():
        pending = _pending(engine)
        built = json.loads(pending.read_text()) if pending.exists() else {}
        if built.get("as_of") != as_of.isoformat():
            raise dg.Failure(f"no audited build as of {as_of} is waiting to be published (materialize the models)")
        session = Session.resumed(engine, built)
        report = BuildReport(DbtOutcome(success=True), 0.0, None, [], target=engine.name, as_of=as_of)
        session.publish(report, built["tests_passed"])
        session.settle(report)
        pending.unlink()
        if report.problem:
            raise dg.Failure(f"publishing as of {as_of} failed: {report.problem}")
    return dg.MaterializeResult(
        metadata={
            "published": report.published,
            "as_of": as_of.isoformat(),
            "bi_reads": session.runs[-1].isoformat(),  # the newest published date (SPEC 8), as_of or a later one
            "customers_scored": report.rows_scored,
            "tests_passed": built["tests_passed"],
            "stars": {label: count for _, label, count in report.star_distribution},
        }
    )


monthly_job = dg.define_asset_job(
    "monthly_credit_scores", selection=dg.AssetSelection.all(),
    description="Load the month's delivery, build and test the models, publish to BI.",
)  # fmt: skip

# the month that ended, at 06:00 UTC on the 5th (its bills have arrived by then)
monthly_schedule = dg.build_schedule_from_partitioned_job(monthly_job, day_of_month=5, hour_of_day=6)


@dg.sensor(job=monthly_job, minimum_interval_seconds=300)
def delivery_folder_landed(context: dg.SensorEvaluationContext):
    """A run for each delivery folder YYYY-MM that lands in $CREDIT_SCORE_INCOMING (again when it changes)."""
    incoming = Path(os.environ.get(INCOMING_VARIABLE, "incoming"))
    keys = set(PARTITIONS.get_partition_keys())
    for folder in sorted(incoming.glob("[0-9][0-9][0-9][0-9]-[0-9][0-9]")):
        files = [p for p in folder.iterdir() if p.is_file()]
        partition = f"{folder.name}-01"
        if not files or (folder / ".partial").exists() or partition not in keys:
            continue
        changed = max(p.stat().st_mtime_ns for p in files)
        yield dg.RunRequest(run_key=f"{folder.name}:{changed}", partition_key=partition)


defs = dg.Definitions(
    assets=[month_delivery, credit_score_models, served_warehouse],
    jobs=[monthly_job],
    schedules=[monthly_schedule],
    sensors=[delivery_folder_landed],
    resources={
        "dbt": DbtCliResource(
            project_dir=str(settings.PROJECT_DIR), profiles_dir=str(settings.PROFILES_DIR), target="duckdb",
            dbt_executable=DBT,
        )
    },
)  # fmt: skip
