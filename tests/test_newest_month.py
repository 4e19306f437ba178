"""SPEC 8: what BI reads is the newest month.  A build of an earlier date (a backfill, a rebuild after
a corrected delivery) rewrites that date's months of the history and of the marts keyed by month, and
never puts an older date in front of BI: after any sequence of builds, every published table equals
what it is when the newest date is built last (here: a fresh warehouse with the same deliveries, its
dates built in ascending order).  DuckDB; test_postgres.py and test_spark.py run a sequence each."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from credit_score import build as build_module
from credit_score.build import build, build_dates
from credit_score.generate import generate
from credit_score.load import load_listed, read_listing
from tests.helpers import EVERY_PUBLISHED_TABLE as TABLES
from tests.helpers import as_text

JULY, AUGUST, SEPTEMBER, OCTOBER = (
    dt.date(2026, 7, 31),
    dt.date(2026, 8, 31),
    dt.date(2026, 9, 30),
    dt.date(2026, 10, 31),
)
DATES = [JULY, AUGUST, SEPTEMBER, OCTOBER]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A warehouse with four months of deliveries loaded (800 generated customers), nothing built:
    each case starts from a copy."""
    root = tmp_path_factory.mktemp("newest-month")
    generate(800, root / "data", seed=21, as_of=OCTOBER, deliveries="monthly", months=4, progress=False)
    database = root / "template" / "warehouse.duckdb"
    load_listed(read_listing(root / "data" / "deliveries.csv"), database, replace=True, progress=False)
    return database


def copy_of(loaded, folder) -> object:
    """A copy of the loaded warehouse in a new folder inside folder."""
    copy = folder / "warehouse"
    shutil.copytree(loaded.parent, copy)
    return copy / loaded.name


def published(database) -> dict[str, list[tuple[str, ...]]]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return {t: sorted(tuple(map(as_text, r)) for r in con.execute(f"select * from {t}").fetchall()) for t in TABLES}
    finally:
        con.close()


def mart_dates(database) -> set[dt.date]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return {r[0] for r in con.execute("select distinct as_of_date from marts.customer_credit_score").fetchall()}
    finally:
        con.close()


_expected: dict[frozenset, dict] = {}


def newest_built_last(loaded, folder, dates: frozenset) -> dict:
    """The published tables when the dates are built in ascending order in a fresh copy."""
    if dates not in _expected:
        database = copy_of(loaded, folder)
        for as_of in sorted(dates):
            assert build(as_of, database=database).ok
        assert mart_dates(database) == {max(dates)}
        _expected[dates] = published(database)
    return _expected[dates]


@settings(
    max_examples=1,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(order=st.lists(st.sampled_from(DATES), min_size=2, max_size=4))
@example(order=[OCTOBER, SEPTEMBER])  # the case: a rebuild of the month before
def test_any_order_of_builds_publishes_what_the_newest_built_last_does(loaded, tmp_path_factory, order):
    database = copy_of(loaded, tmp_path_factory.mktemp("order"))
    for as_of in order:
        report = build(as_of, database=database)
        assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]
        assert mart_dates(database) == {max(order[: order.index(as_of) + 1] + [as_of])}
    expected = newest_built_last(loaded, tmp_path_factory.mktemp("expected"), frozenset(order))
    actual = published(database)
    for table in TABLES:
        assert actual[table] == expected[table], table


def test_a_backfill_before_the_newest_month_publishes_all_its_months_or_none(loaded, tmp_path, monkeypatch):
    """build --from/--to of months before the newest: BI keeps reading the newest; when a later month's
    audit fails, the months before it are not published either (SPEC 6: every date checked before any
    is published), and the next backfill starts from what was published."""
    database = copy_of(loaded, tmp_path / "w")
    assert build(OCTOBER, database=database).ok
    before = published(database)

    real = build_module.run_dbt

    def august_fails(command, **kwargs):  # August's reject-share audit fails whatever the data
        if kwargs["env"]["CREDIT_SCORE_AS_OF_DATE"] == AUGUST.isoformat():
            kwargs["variables"] = {**(kwargs.get("variables") or {}), "max_reject_share": -1}
        return real(command, **kwargs)

    monkeypatch.setattr(build_module, "run_dbt", august_fails)
    failing = build_dates([JULY, AUGUST], database=database)
    assert not failing.ok and failing.as_of == AUGUST and failing.built == [JULY, AUGUST]
    assert failing.published is None and published(database) == before
    monkeypatch.setattr(build_module, "run_dbt", real)

    report = build_dates([JULY, AUGUST], database=database)
    assert report.ok and report.built == [JULY, AUGUST, OCTOBER] and report.newest_again == OCTOBER
    assert mart_dates(database) == {OCTOBER}
    assert published(database) == newest_built_last(loaded, tmp_path / "expected", frozenset([JULY, AUGUST, OCTOBER]))
