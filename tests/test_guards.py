"""What a new user met before deliveries existed, each now a test (DuckDB; the guards are engine-neutral):

- a CRM that never updates updated_at turned normal bills into `bill_month_in_future` rejects;
- `billing.csv.gz` was reported missing, and a build before any load died with a catalog error;
- a build as of a date whose bills had not arrived published everyone with 0.00 spend, and one before
  every activation published an empty mart, both saying "tests passed";
- a population that falls by more than a tenth from one month to the next was published as it was.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import shutil
import subprocess
import sys

import pytest

from credit_score.build import BuildRefused, build
from credit_score.generate import generate
from credit_score.settings import work_path
from tests import reference
from tests.helpers import differences, load_and_build, load_one, read_mart, read_published, write_folder

SEPTEMBER, OCTOBER = dt.date(2026, 9, 30), dt.date(2026, 10, 31)
TABLES = ("subscriptions", "billing", "suspensions")


def cli(*args, database):
    return subprocess.run(
        [sys.executable, "-m", "credit_score.cli", *args],
        env={**os.environ, "CREDIT_SCORE_DUCKDB": str(database)},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def crm_quirks(tmp_path_factory):
    """2,000 customers whose CRM never touches updated_at, with the billing file gzipped."""
    root = tmp_path_factory.mktemp("crm")
    generate(2000, root / "plain", seed=41, as_of=OCTOBER, progress=False)
    subscriptions = reference.read_csv(root / "plain" / "subscriptions.csv")
    for row in subscriptions:
        row["updated_at"] = "2026-01-01 00:00:00"
    folder = write_folder(root / "delivery", {"subscriptions": subscriptions})
    shutil.copy(root / "plain" / "suspensions.csv", folder)
    (folder / "billing.csv.gz").write_bytes(gzip.compress((root / "plain" / "billing.csv").read_bytes()))
    database = root / "warehouse.duckdb"
    counts = load_one(folder, database)
    report = build(OCTOBER, database=database)
    return root, database, counts, report


def test_a_crm_that_never_updates_updated_at_loses_no_bill(crm_quirks):
    root, database, _, report = crm_quirks
    assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]
    reasons = {row[4] for row in read_published(database=database)["audit.rejected_records"][1:]}
    assert "bill_month_in_future" not in reasons and reasons == set()
    expected = reference.score_folder(root / "plain", OCTOBER)
    assert len(expected) > 1800
    assert differences(read_mart(database), expected) == []


def test_a_gzipped_billing_file_loads(crm_quirks):
    root, _, counts, _ = crm_quirks
    assert counts["billing"] == len(reference.read_csv(root / "plain" / "billing.csv")) > 20_000


def test_a_build_before_any_load_says_what_to_run(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    result = cli("build", "--as-of", "2026-10-31", database=database)
    assert result.returncode == 1
    assert "nothing is loaded yet" in result.stderr and "credit-score load" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not database.exists()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """300 customers with bills up to 2026-10, delivered on 2026-11-05, built and published for October."""
    root = tmp_path_factory.mktemp("small")
    generate(300, root / "data", seed=23, as_of=OCTOBER, progress=False)
    database = root / "warehouse" / "credit_score.duckdb"
    assert load_and_build(root / "data", database, OCTOBER).ok
    return root, database, read_published(database=database)


def test_a_build_whose_bills_have_not_arrived_is_refused(small):
    _, database, published = small
    result = cli("build", "--as-of", "2027-06-30", database=database)
    assert result.returncode == 1
    message = result.stderr
    assert "spend window ends with 2027-06" in message and "no delivery of bills is dated after 2027-06-30" in message
    assert "latest delivery of bills: data of 2026-11-05" in message
    assert "credit-score build --as-of 2026-10-31" in message and "--allow-incomplete" in message
    assert "Nothing was built or published" in message
    assert read_published(database=database) == published


def test_a_build_of_the_month_before_the_delivery_is_complete(small):
    """The window of 2026-10-31 ends with October, and the delivery of 2026-11-05 is after it; a
    mid-month date's window ends the month before: both complete, no refusal."""
    _, database, _ = small
    from credit_score import engines
    from credit_score.deliveries import incomplete_window

    records = engines.get(database=database).deliveries()
    assert incomplete_window(OCTOBER, records) is None
    assert incomplete_window(dt.date(2026, 11, 4), records) is None
    assert incomplete_window(dt.date(2026, 11, 30), records) is not None


def test_allow_incomplete_builds_what_was_asked(small, tmp_path):
    _, database, _ = small
    copy = tmp_path / "credit_score.duckdb"
    shutil.copy(database, copy)
    shutil.copy(work_path(database), work_path(copy))
    with pytest.raises(BuildRefused):
        build(dt.date(2027, 6, 30), database=copy)
    report = build(dt.date(2027, 6, 30), database=copy, allow_incomplete=True)
    assert report.ok
    assert {r["avg_monthly_spend"] for r in read_mart(copy).values()} == {"0.00"}, "as the refusal warned"


def test_a_build_that_scores_nobody_fails_its_audit(small):
    _, database, published = small
    result = cli("build", "--as-of", "1999-12-31", database=database)
    assert result.returncode == 1
    assert "FAILED test assert_population_is_not_empty" in result.stdout
    assert "before the first activation" in result.stdout
    assert "nothing published" in result.stdout
    assert read_published(database=database) == published


def test_a_population_drop_fails_the_audit_and_a_backfill_cannot_slip_it_in(tmp_path):
    generate(400, tmp_path / "data", seed=29, as_of=OCTOBER, progress=False)
    database = tmp_path / "warehouse.duckdb"
    assert load_and_build(tmp_path / "data", database, SEPTEMBER).ok
    september = read_mart(database)
    # a partial subscriptions delivery: a fifth of the customers (and their rows) missing
    tables = {t: reference.read_csv(tmp_path / "data" / f"{t}.csv") for t in TABLES}
    kept = {r["customer_id"] for r in tables["subscriptions"][len(tables["subscriptions"]) // 5 :]}
    partial = write_folder(tmp_path / "partial", {t: [r for r in rows if r["customer_id"] in kept]
                                                  for t, rows in tables.items()})  # fmt: skip
    load_one(partial, database)
    dropped = build(OCTOBER, database=database)
    assert not dropped.ok
    assert [r.name for r in dropped.failed] == ["assert_population_drop_within_share"]
    assert read_mart(database) == september, "nothing published"
    # a backfill of an earlier month cannot slip the drop in: September, the newest published date, is
    # built again after it (SPEC 8) and compared with what was published for it
    backfill = build(dt.date(2026, 8, 31), database=database)
    assert not backfill.ok and backfill.built == [dt.date(2026, 8, 31), SEPTEMBER] and backfill.as_of == SEPTEMBER
    assert [r.name for r in backfill.failed] == ["assert_population_drop_within_share"]
    assert read_mart(database) == september, "nothing published"
