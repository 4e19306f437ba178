"""Memory is a design property (issue 24): a history built at a DuckDB memory limit far below its data.

400,000 generated customers: 18 months of bills (6.6 million) in one delivery, then three monthly
deliveries, each loaded and built as the monthly job does, then a full refresh, all with DuckDB's
memory_limit at LIMIT and the profile's dbt threads sharing it (as a 10-million-customer
warehouse shares the default 4 GB).  The limit is far below the data: a query that holds every bill's
key at once - the `(a, b) in (select a, b ...)` filter the key tests once used - cannot run at it.
Every model, test, load and publish either works on what the build changes or uses operators that
spill to disk (docs/performance.md lists the steps that did not, and what replaced them), so a change
that brings back a step holding all of history fails this test.

The results stay exact at the limit: after the months, every table of marts, audit and intermediate
equals a full refresh's, and the mart equals the one-statement bound over the raw tables.  And a
build that does run out of memory says so in one line (the step, the limit, the limit to try),
publishes nothing and leaves the warehouse to the next build.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from credit_score import build as build_module
from credit_score.bench.monthly import fingerprints
from credit_score.bench.variants import bound_sql
from credit_score.build import build
from credit_score.contract import contract_columns
from credit_score.engines.duckdb import published_as_of
from credit_score.generate import generate
from credit_score.load import load_listed, read_listing
from credit_score.settings import month_end, work_path

CUSTOMERS = 400_000
LIMIT = "150MB"
AS_OF = dt.date(2026, 10, 31)


@pytest.fixture(autouse=True)
def profile_threads(monkeypatch):
    """The profile's dbt threads sharing the limit, not the one the rest of the suite builds on."""
    monkeypatch.delenv("CREDIT_SCORE_DBT_THREADS", raising=False)


def _as_of(delivery_id: str) -> dt.date:
    """The month a delivery covers: `before-2026-08` everything up to July, `2026-08` August."""
    if delivery_id.startswith("before-"):
        return dt.date.fromisoformat(f"{delivery_id.removeprefix('before-')}-01") - dt.timedelta(days=1)
    return month_end(dt.date.fromisoformat(f"{delivery_id}-01"))


def _ok(report) -> bool:
    problems = [f"{r.resource_type} {r.name}: {(r.message or '').splitlines()[0]}" for r in report.failed]
    assert report.ok, f"failed at memory_limit {LIMIT}: {problems} {report.outcome.error or ''} {report.problem or ''}"
    return True


def _all_keys_held_at_once(work) -> None:
    """The query the key tests used to run: every (delivery_id, file_line) of the validated bills in
    one IN list, at the build's limit and DuckDB's threads."""
    con = duckdb.connect(config={"memory_limit": LIMIT, "temp_directory": str(work.parent / "probe.tmp")})
    try:
        con.execute(f"attach '{work}' as work (read_only)")
        bills = "work.intermediate.int_billing_validated"
        con.execute(
            f"select delivery_id, file_line, count(*) from {bills} "
            f"where (delivery_id, file_line) in (select delivery_id, file_line from {bills}) "
            "group by all having count(*) > 1"
        ).fetchall()
    finally:
        con.close()


def _mart_against_bound(database, work) -> tuple[int, int]:
    """(rows of the published mart, rows on one side only against the one-statement bound)."""
    columns = ", ".join(contract_columns())
    con = duckdb.connect(str(database), read_only=True)
    try:
        con.execute(f"attach '{work}' as work (read_only)")
        con.execute("create temp table bound as " + bound_sql(AS_OF, versions=True).replace("raw.", "work.raw."))
        mart = f"select {columns} from marts.customer_credit_score"
        bound = f"select {columns} from bound"
        rows = con.execute(f"select count(*) from ({mart})").fetchone()[0]
        differing = con.execute(
            f"select (select count(*) from ({mart} except all {bound})) "
            f"+ (select count(*) from ({bound} except all {mart}))"
        ).fetchone()[0]
    finally:
        con.close()
    return rows, differing


@pytest.mark.slow
def test_a_history_builds_within_a_memory_limit_far_below_its_data(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    generate(
        CUSTOMERS, data, as_of=AS_OF, file_format="parquet", deliveries="monthly", months=3, bill_months=21,
        progress=False,
    )  # fmt: skip
    database = tmp_path / "warehouse" / "credit_score.duckdb"
    work = work_path(database)
    monkeypatch.setenv("CREDIT_SCORE_DUCKDB_MEMORY_LIMIT", LIMIT)

    first, *months = read_listing(data / "deliveries.csv")
    load_listed([first], database, progress=False)
    assert _ok(build(_as_of(first[1]), database=database))

    # the limit means something: all of history's keys held at once do not fit in it
    with pytest.raises(duckdb.OutOfMemoryException):
        _all_keys_held_at_once(work)

    for step in months:
        load_listed([step], database, progress=False)
        report = build(_as_of(step[1]), database=database)
        assert _ok(report) and report.full_refresh is None, "the month was not built incrementally"
    assert published_as_of(database) == AS_OF
    after_the_months = fingerprints(work)

    assert _ok(build(AS_OF, database=database, full_refresh=True))
    assert fingerprints(work) == after_the_months, "the months built at the limit differ from a full refresh"
    rows, differing = _mart_against_bound(database, work)
    assert rows > 0.9 * CUSTOMERS and differing == 0

    # far too little memory: one line naming the step and the limit to try; nothing published
    published = database.stat().st_mtime_ns
    monkeypatch.setenv("CREDIT_SCORE_DUCKDB_MEMORY_LIMIT", "8MB")
    capsys.readouterr()
    # the check of what arrived reads the counts load kept (a few rows, whatever the limit); a warehouse
    # loaded before they were kept has it read every raw bill instead, which at 8MB does not fit
    con = duckdb.connect(str(work))
    con.execute("delete from raw.billing_months")
    con.close()
    with pytest.raises(build_module.BuildRefused) as refused:  # the check of what arrived comes first
        build(AS_OF, database=database, full_refresh=True)
    assert str(refused.value) == (
        "out of memory in checking which bills arrived at DuckDB's memory_limit 8MB: run it again with "
        "CREDIT_SCORE_DUCKDB_MEMORY_LIMIT=16MB (twice the limit)"
    )
    failed = build(AS_OF, database=database, full_refresh=True, allow_incomplete=True)  # on to dbt's models
    build_module.print_summary(failed, AS_OF)
    shown = capsys.readouterr().out
    assert not failed.ok and failed.out_of_memory and failed.published is None
    oom_lines = [line for line in shown.splitlines() if "out of memory" in line]
    assert len(oom_lines) == 1, shown
    assert failed.out_of_memory[0].name in oom_lines[0]
    assert "memory_limit 8MB" in oom_lines[0] and "CREDIT_SCORE_DUCKDB_MEMORY_LIMIT=16MB" in oom_lines[0]
    assert "nothing published" in shown and database.stat().st_mtime_ns == published

    # ... and the warehouse is the next build's as it was: the same tables again
    monkeypatch.setenv("CREDIT_SCORE_DUCKDB_MEMORY_LIMIT", LIMIT)
    assert _ok(build(AS_OF, database=database))
    assert fingerprints(work) == after_the_months
