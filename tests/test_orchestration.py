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


def test_the_months_assets_materialize_and_publish_what_the_command_line_does(months, monkeypatch, capfd, tmp_path):
    root, warehouse, reference, (october_folder, october_id, delivered_on) = months
    monkeypatch.setenv("CREDIT_SCORE_DUCKDB", str(warehouse))
    monkeypatch.setenv("CREDIT_SCORE_LOG_DIR", str(tmp_path / "logs"))
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
    # dbt's log in the log folder, as the command line keeps it, not a line per dbt event on the screen
    printed = capfd.readouterr().out.splitlines()
    assert len([line for line in printed if "customer_credit_score" in line]) == 0, printed[:20]
    dbt_log = (tmp_path / "logs" / "dbt.log").read_text(encoding="utf-8")
    assert "customer_credit_score" in dbt_log and " OK created " in dbt_log
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
    assert len(checks) >= 90 and failed == set()  # 93: a key is one check (primary_key)
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


def test_a_delivery_keeps_its_date_and_materializing_it_again_reloads_nothing(months, tmp_path, monkeypatch):
    """The month's delivery takes its date from the listing beside the folders (generate's
    deliveries.csv), not today; materialized again with nothing changed in its folder, it is kept as
    loaded (same date, same load time), so the next build adds to what it kept instead of recomputing
    everything; a file changed in the folder is loaded again, with the same date."""
    root, _, _, (october_folder, october_id, delivered_on) = months
    shutil.copytree(root / "before-october", tmp_path / "warehouse")
    warehouse = tmp_path / "warehouse" / "warehouse.duckdb"
    monkeypatch.setenv("CREDIT_SCORE_DUCKDB", str(warehouse))
    monkeypatch.setenv("CREDIT_SCORE_INCOMING", str(october_folder.parent))
    from credit_score import orchestration
    from credit_score.engines.duckdb import DuckDBEngine

    engine = DuckDBEngine(warehouse)

    def materialize_the_delivery():
        result = dg.materialize(
            [orchestration.month_delivery],
            partition_key="2026-10-01",
            instance=dg.DagsterInstance.ephemeral(),
        )
        assert result.success
        (event,) = [
            e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "telecom/billing"
        ]
        return event.materialization.metadata, {d.delivery_id: d for d in engine.loaded_deliveries()}[october_id]

    metadata, first = materialize_the_delivery()
    assert first.delivered_on == delivered_on and metadata["action"].value == "loaded"
    assert metadata["delivered_on_from"].value.startswith("listed in")
    metadata, again = materialize_the_delivery()
    assert metadata["action"].value == "kept (unchanged since loaded)"
    assert (again.delivered_on, again.loaded_at, again.rows) == (first.delivered_on, first.loaded_at, first.rows)
    assert engine.full_refresh_reason() is None
    billing = october_folder / "billing.csv"
    billing.touch()  # the same rows delivered again: loaded again, its date kept
    metadata, reloaded = materialize_the_delivery()
    assert metadata["action"].value == "loaded" and reloaded.delivered_on == delivered_on
    assert reloaded.loaded_at > first.loaded_at


def test_dagster_dev_from_the_readme_serves_the_ui_with_the_assets(tmp_path):
    """docs/operating.md's `dagster dev -m credit_score.orchestration`: the web server (the orchestration
    extra installs it) answers on loopback and its GraphQL lists the code location's assets."""
    import json
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home"), "CREDIT_SCORE_INCOMING": str(tmp_path)}
    (tmp_path / "dagster_home").mkdir()
    dagster = Path(sys.executable).with_name("dagster")
    server = subprocess.Popen(
        [str(dagster), "dev", "-m", "credit_score.orchestration", "-h", "127.0.0.1", "-p", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        query = json.dumps({"query": "{ assetNodes { assetKey { path } } }"}).encode()
        deadline, assets = time.monotonic() + 180, None
        while time.monotonic() < deadline and assets is None:
            assert server.poll() is None, "dagster dev exited"
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql", data=query, headers={"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=10) as answer:
                    nodes = json.load(answer)["data"]["assetNodes"]
                assets = {"/".join(n["assetKey"]["path"]) for n in nodes} if nodes else None
            except (OSError, KeyError, TypeError):
                time.sleep(2)
        assert assets is not None, "the UI did not answer with assets within 3 minutes"
        assert {"telecom/billing", "marts/customer_credit_score", "served_warehouse"} <= assets
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
