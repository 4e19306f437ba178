"""marts.customer_credit_score_history: one month per build, incremental and idempotent (DuckDB); the
marts built from it (the star changes, the migration matrix) kept in step with it through failed and
killed builds.

Expected rows come from the independent reference (tests/reference.py), never from the mart.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import duckdb
import pytest

from credit_score.build import build
from credit_score.engines.duckdb import SERVED, WORK, attached, duckdb_history
from credit_score.settings import month_ends, parse_month, work_path
from tests import reference
from tests.helpers import EXAMPLES, SPARSE, as_history, as_text, differences, load_and_build, write_folder

SEPTEMBER, OCTOBER, AUGUST = dt.date(2026, 9, 30), dt.date(2026, 10, 31), dt.date(2026, 8, 31)


def history(database) -> dict[dt.date, dict[str, dict[str, str]]]:
    """The published history: {as_of_date: {customer_id: row as text}}."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        cursor = con.execute("select * from marts.customer_credit_score_history")
        columns = [d[0] for d in cursor.description]
        months: dict[dt.date, dict[str, dict[str, str]]] = {}
        for row in cursor.fetchall():
            values = dict(zip(columns, row, strict=True))
            customers = months.setdefault(values["as_of_date"], {})
            assert values["customer_id"] not in customers, f"{values['customer_id']} twice in {values['as_of_date']}"
            customers[values["customer_id"]] = {c: as_text(v) for c, v in values.items()}
        return months
    finally:
        con.close()


def movements(database) -> dict[str, list[tuple[str, ...]]]:
    """The published star changes and migration matrix, as sorted rows of text."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        return {
            table: sorted(tuple(map(as_text, row)) for row in con.execute(f"select * from marts.{table}").fetchall())
            for table in ("customer_star_changes", "star_migration_matrix")
        }
    finally:
        con.close()


def mart_as_of(database) -> set[dt.date]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return {r[0] for r in con.execute("select distinct as_of_date from marts.customer_credit_score").fetchall()}
    finally:
        con.close()


def changed_examples(folder):
    """The examples with one customer's subscription removed (with their rows) and one bill doubled."""
    tables = {t: reference.read_csv(EXAMPLES / f"{t}.csv") for t in ("subscriptions", "billing", "suspensions")}
    gone = sorted({r["customer_id"] for r in tables["subscriptions"]})[0]
    tables = {t: [r for r in rows if r.get("customer_id") != gone] for t, rows in tables.items()}
    bill = tables["billing"][0]
    bill["amount"] = str(reference.Decimal(bill["amount"]) * 2)
    return write_folder(folder, tables), gone


@pytest.fixture(scope="module")
def two_months(tmp_path_factory):
    """The examples built for September, then October: the served file and the history after each."""
    database = tmp_path_factory.mktemp("history") / "warehouse.duckdb"
    assert load_and_build(EXAMPLES, database, SEPTEMBER, **SPARSE).ok
    after_september = history(database)
    october = build(OCTOBER, database=database)
    assert october.ok
    return database, after_september, history(database), october, movements(database)


def test_each_month_holds_exactly_that_months_scores(two_months):
    database, after_september, after_october, *_ = two_months
    assert set(after_september) == {SEPTEMBER}
    assert set(after_october) == {SEPTEMBER, OCTOBER}
    for month in (SEPTEMBER, OCTOBER):
        expected = reference.score_folder(EXAMPLES, month)
        assert differences(after_october[month], as_history(expected)) == []
    assert after_october[SEPTEMBER] == after_september[SEPTEMBER], "adding October changed September"
    assert mart_as_of(database) == {OCTOBER}, "the mart holds the latest build"


def test_rebuilding_a_month_gives_the_same_history(two_months, tmp_path):
    database, _, after_october, *_ = two_months
    assert build(OCTOBER, database=database).ok
    assert build(SEPTEMBER, database=database, **SPARSE).ok
    assert history(database) == after_october


def test_rebuilding_a_month_replaces_it_and_only_it(tmp_path):
    """New raw data, October rebuilt: October is exactly the new data's scores (the removed customer
    gone, not left over), September keeps the scores it was built with."""
    database = tmp_path / "warehouse.duckdb"
    assert load_and_build(EXAMPLES, database, SEPTEMBER, **SPARSE).ok
    assert build(OCTOBER, database=database).ok
    before = history(database)
    folder, gone = changed_examples(tmp_path / "changed")
    assert load_and_build(folder, database, OCTOBER).ok
    after = history(database)
    assert gone in before[OCTOBER] and gone not in after[OCTOBER]
    assert differences(after[OCTOBER], as_history(reference.score_folder(folder, OCTOBER))) == []
    assert after[OCTOBER] != before[OCTOBER]
    assert after[SEPTEMBER] == before[SEPTEMBER]


def test_a_failed_build_leaves_no_trace_in_the_history(two_months, tmp_path):
    """A build whose audit fails publishes nothing: not for a new month, not over an existing one,
    and its rows do not slip out with the next good build."""
    database, _, after_october, _, moved = two_months
    assert len(moved["customer_star_changes"]) > 5 and {row[-1] for row in moved["customer_star_changes"]} == {
        str(OCTOBER)
    }
    failing = {"max_reject_share": -1}  # assert_reject_share_within_threshold fails whatever the data
    # August first: dbt compared September with it (the next date's star changes) before the audit failed
    assert not build(AUGUST, database=database, extra_vars=failing, **SPARSE).ok
    assert not build(OCTOBER, database=database, extra_vars=failing).ok
    assert history(database) == after_october and movements(database) == moved
    assert build(SEPTEMBER, database=database, **SPARSE).ok
    assert history(database) == after_october and movements(database) == moved
    work = duckdb.connect(str(work_path(database)), read_only=True)
    try:
        months = {
            r[0] for r in work.execute("select distinct as_of_date from marts.customer_credit_score_history").fetchall()
        }
        assert months == {SEPTEMBER, OCTOBER}
        assert work.execute("select count(*) from main.history_pending").fetchone()[0] == 0
    finally:
        work.close()


def test_a_killed_builds_month_is_put_back_by_the_next_build(two_months):
    """A build killed after dbt wrote its month but before publishing leaves the month marked
    pending in the work file; the next build restores it from what was published."""
    database, _, after_october, _, moved = two_months
    con = attached((work_path(database), WORK, False), (database, SERVED, True))
    tables = duckdb_history(con)
    try:
        tables.prepare(OCTOBER)  # what a build does before dbt; then it "dies"
        history_table = f"{WORK}.marts.customer_credit_score_history"
        con.execute(f"update {history_table} set credit_score = -999 where as_of_date = ?", [OCTOBER])
        con.execute(
            f"insert into {history_table} select * from {history_table} where as_of_date = ? limit 1", [SEPTEMBER]
        )
        con.execute(f"update {WORK}.marts.customer_star_changes set change_type = 'up' where as_of_date = ?", [OCTOBER])
        con.execute(f"delete from {WORK}.marts.star_migration_matrix where as_of_date = ?", [OCTOBER])
    finally:
        con.close()
    assert build(SEPTEMBER, database=database, **SPARSE).ok
    assert history(database) == after_october
    assert movements(database) == moved


def test_the_history_model_reads_only_the_month_it_builds(two_months):
    report = two_months[3]
    model = next(r for r in report.outcome.results if r.name == "customer_credit_score_history")
    sql = model.compiled_code.lower()
    assert "customer_credit_score_history" not in sql, "the new month's rows must not be read from the history"
    assert '"marts"."customer_credit_score"' in sql


def test_backfill_builds_each_month_once(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    env = {"CREDIT_SCORE_DUCKDB": str(database), "PATH": "/usr/bin:/bin"}
    cli = [sys.executable, "-m", "credit_score.cli"]
    loaded = subprocess.run([*cli, "load", str(EXAMPLES), "--delivered-on", "2026-11-05"], env=env, capture_output=True)
    assert loaded.returncode == 0
    done = subprocess.run(
        # the examples' sparse early months: SPEC 6's short-month check would refuse (tests/helpers.SPARSE)
        [*cli, "build", "--from", "2026-07", "--to", "2026-09", "--allow-incomplete"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # one build: each month run by dbt and audited, all published together
    assert done.stdout.count("credit-score build, as of") == 1
    assert "dbt ran as of 2026-07-31, 2026-08-31, 2026-09-30, each audited" in done.stdout
    months = history(database)
    assert sorted(months) == [dt.date(2026, 7, 31), AUGUST, SEPTEMBER]
    for month, rows in months.items():
        assert differences(rows, as_history(reference.score_folder(EXAMPLES, month))) == []
    assert mart_as_of(database) == {SEPTEMBER}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-07"], "give --from and --to together"),
        (["--from", "2026-09", "--to", "2026-07"], "is after --to"),
        (["--from", "2026-07", "--to", "2026-09", "--as-of", "2026-09-30"], "--as-of builds one date"),
        (["--from", "July", "--to", "2026-09"], "is not a month"),
    ],
)
def test_backfill_arguments_are_checked(args, message, tmp_path):
    env = {"CREDIT_SCORE_DUCKDB": str(tmp_path / "w.duckdb"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "credit_score.cli", "build", *args], env=env, capture_output=True, text=True
    )
    assert done.returncode != 0 and message in done.stderr


def test_month_ends_span_leap_february_and_year_end():
    assert month_ends(parse_month("2023-12"), parse_month("2024-03")) == [
        dt.date(2023, 12, 31),
        dt.date(2024, 1, 31),
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 31),
    ]
    assert month_ends(parse_month("2025-02-10"), parse_month("2025-02")) == [dt.date(2025, 2, 28)]
