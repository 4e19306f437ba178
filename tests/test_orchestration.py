"""The Dagster code location (src/credit_score/orchestration.py), as a data team's orchestrator runs it:
the month's assets materialized for a small delivery - the delivery loaded, the dbt models built with
their tests as asset checks, the marts published - give what `credit-score build` gives; the schedule
asks for the month that ended; the sensor starts a run when a delivery folder lands."""

import datetime as dt
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from tests.helpers import read_mart

SEPTEMBER, OCTOBER = dt.date(2026, 9, 30), dt.date(2026, 10, 31)


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    """2,500 generated customers as monthly deliveries; the deliveries before October loaded and built
    into a warehouse (October is Dagster's to load), and a second one built at September and October by
    the command line's functions: what Dagster's run must publish."""
    from credit_score.build import build
    from credit_score.generate import generate
    from credit_score.load import load_listed, read_listing

    root = tmp_path_factory.mktemp("orchestration")
    generate(2500, root / "data", seed=21, as_of=OCTOBER, deliveries="monthly", months=2, progress=False)
    *earlier, october = read_listing(root / "data" / "deliveries.csv")
    reference = root / "reference" / "warehouse.duckdb"
    load_listed(earlier, reference, replace=True, progress=False)
    assert build(SEPTEMBER, database=reference).ok
    load_listed([october], reference, progress=False)
    assert build(OCTOBER, database=reference).ok
    warehouse = root / "dagster" / "warehouse.duckdb"
    load_listed(earlier, warehouse, replace=True, progress=False)
    assert build(SEPTEMBER, database=warehouse).ok
    shutil.copytree(warehouse.parent, root / "before-october")
    return root, warehouse, reference, october


def test_the_months_assets_materialize_and_publish_what_the_command_line_does(months, monkeypatch):
    root, warehouse, reference, (october_folder, october_id, delivered_on) = months
    monkeypatch.setenv("CREDIT_SCORE_DUCKDB", str(warehouse))
    monkeypatch.setenv("CREDIT_SCORE_INCOMING", str(october_folder.parent))
    from credit_score import orchestration

    september = read_mart(warehouse)
    result = dg.materialize(
        [orchestration.month_delivery, orchestration.credit_score_models, orchestration.served_warehouse],
        partition_key="2026-10-01",
        resources=orchestration.defs.resources,
        run_config={"ops": {"month_delivery": {"config": {"delivered_on": delivered_on.isoformat()}}}},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {
        "telecom/billing",
        "marts/customer_credit_score",
        "marts/retention_watchlist",
        "served_warehouse",
    } <= materialized
    # every dbt test an asset check: the error-level ones passed; the warnings (numbers that are not 11
    # digits and unknown reason codes, which the generator deals in) are reported as warnings
    checks = result.get_asset_check_evaluations()
    failed = {c.check_name for c in checks if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR}
    warned = {c.check_name for c in checks if not c.passed and c.severity == dg.AssetCheckSeverity.WARN}
    assert len(checks) > 100 and failed == set()
    assert warned <= {"assert_msisdn_is_11_digits", "suspension_reason_code_is_known"}
    assert {c.asset_key.to_user_string() for c in checks} >= {"marts/customer_credit_score", "audit/reconciliation"}
    published = read_mart(warehouse)
    assert published != september and published == read_mart(reference)
    assert read_mart(warehouse, "marts.customer_star_changes") == read_mart(reference, "marts.customer_star_changes")
    (publish,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "served_warehouse"
    ]
    assert publish.materialization.metadata["customers_scored"].value == len(published)


def test_a_refused_build_publishes_nothing(months, monkeypatch):
    """Without October's delivery its bills have not arrived: the build is refused before dbt runs and
    the publishing asset does not run."""
    root, _, _, _ = months
    copy = root / "before-october" / "warehouse.duckdb"
    monkeypatch.setenv("CREDIT_SCORE_DUCKDB", str(copy))
    from credit_score import orchestration

    before = read_mart(copy)
    result = dg.materialize(
        [orchestration.credit_score_models, orchestration.served_warehouse],
        partition_key="2026-10-01",
        resources=orchestration.defs.resources,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error.message
    assert "refused" in failure and "have not arrived" in failure, failure
    assert not result.get_asset_materialization_events()
    assert read_mart(copy) == before


def test_the_schedule_builds_the_month_that_ended_on_the_fifth():
    from credit_score import orchestration

    schedule = orchestration.defs.resolve_schedule_def("monthly_credit_scores_schedule")
    assert schedule.cron_schedule == "0 6 5 * *"
    tick = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 11, 5, 6, tzinfo=dt.UTC))
    (request,) = schedule.evaluate_tick(tick).run_requests
    assert request.partition_key == "2026-10-01"


def test_the_sensor_starts_a_run_for_each_delivery_folder_that_lands(tmp_path, monkeypatch):
    from credit_score import orchestration

    monkeypatch.setenv("CREDIT_SCORE_INCOMING", str(tmp_path))
    (tmp_path / "2026-09").mkdir()
    (tmp_path / "2026-09" / "billing.csv").write_text("bill_id,customer_id,bill_month,amount\n")
    (tmp_path / "2026-10").mkdir()  # still being written
    (tmp_path / "2026-10" / "billing.csv").write_text("bill_id,customer_id,bill_month,amount\n")
    (tmp_path / "2026-10" / ".partial").touch()
    (tmp_path / "notes").mkdir()
    context = dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral())
    requests = list(orchestration.delivery_folder_landed(context))
    assert [r.partition_key for r in requests] == ["2026-09-01"]
    os.remove(tmp_path / "2026-10" / ".partial")
    requests = list(orchestration.delivery_folder_landed(context))
    assert [r.partition_key for r in requests] == ["2026-09-01", "2026-10-01"]
    assert len({r.run_key for r in requests}) == 2
    assert Path(tmp_path / "2026-09").is_dir()


def test_an_earlier_partition_keeps_the_newest_month_in_front(months, tmp_path, monkeypatch):
    """SPEC 8 in Dagster: materializing September's partition after October was published rewrites
    September's month and builds October again in the same step: BI keeps reading October, and every
    published mart equals the command line's (September, then October)."""
    _, _, reference, _ = months
    shutil.copytree(reference.parent, tmp_path / "warehouse")
    copy = tmp_path / "warehouse" / reference.name
    monkeypatch.setenv("CREDIT_SCORE_DUCKDB", str(copy))
    from credit_score import orchestration

    result = dg.materialize(
        [orchestration.credit_score_models, orchestration.served_warehouse],
        partition_key="2026-09-01",
        resources=orchestration.defs.resources,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    for table in ("marts.customer_credit_score", "marts.customer_star_changes", "marts.retention_watchlist"):
        assert read_mart(copy, table) == read_mart(reference, table), table
    assert {row["as_of_date"] for row in read_mart(copy).values()} == {str(OCTOBER)}
    (publish,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "served_warehouse"
    ]
    metadata = publish.materialization.metadata
    assert metadata["as_of"].value == str(SEPTEMBER) and metadata["bi_reads"].value == str(OCTOBER)
