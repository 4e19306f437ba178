"""Bad input never crashes a build or vanishes: every kind of bad row lands in
audit.rejected_records with its reason (or waits for its customer in audit.waiting_records), the
counts reconcile, and every good customer still scores exactly as the independent implementation of
SPEC says - and so do the marts of SPEC 7 built from the scores of two consecutive month-ends (the
star changes, the migration matrix, the watchlist)."""

import json
from collections import Counter

import duckdb
import pytest

from credit_score import badrows
from credit_score.build import build
from credit_score.generate import generate
from tests import reference
from tests.conftest import MONTH_END
from tests.deliveries_scenario import SEPTEMBER
from tests.helpers import DELIVERED, as_text, differences, load_steps, read_mart, split_into_deliveries, write_folder

TABLES = ("subscriptions", "billing", "suspensions")


@pytest.fixture(scope="module", params=[1, 3], ids=["one delivery", "three deliveries"])
def built(request, tmp_path_factory):
    """The bad rows mixed into good data, delivered whole or dealt into three deliveries: the same
    outcome either way (the tests below do not look at which delivery a row came in)."""
    tmp = tmp_path_factory.mktemp("bad_rows")
    generate(5000, tmp / "good", seed=11, as_of=MONTH_END, progress=False)
    good = {t: reference.read_csv(tmp / "good" / f"{t}.csv") for t in TABLES}
    mixed, added = badrows.mix_in(good)
    database = tmp / "warehouse.duckdb"
    folder = write_folder(tmp / "mixed", mixed)
    load_steps(split_into_deliveries(folder, tmp / "deliveries", request.param, DELIVERED), database)
    assert build(SEPTEMBER, database=database).ok  # the month-end before: SPEC 7's marts compare the two
    report = build(MONTH_END, database=database)
    con = duckdb.connect(str(database), read_only=True)
    rejected = con.execute("select source_table, record_id, rejection_reason, raw_values from audit.rejected_records")
    rejected = rejected.fetchall()
    # rows waiting for their customer (delivered 2026-11-05, built as of October: within max_wait_months)
    waiting = con.execute("select source_table, record_id, 'waiting', null from audit.waiting_records").fetchall()
    reconciliation = {r[0]: r[1:] for r in con.execute("select * from audit.reconciliation").fetchall()}
    matrix = Counter()
    for source, target, customers in con.execute(
        "select from_star_level, to_star_level, customers from marts.star_migration_matrix where as_of_date = ?",
        [MONTH_END],
    ).fetchall():
        matrix[as_text(source), as_text(target)] = customers
    con.close()
    marts = {
        "changes": read_mart(database, "marts.customer_star_changes"),
        "watchlist": read_mart(database, "marts.retention_watchlist"),
        "matrix": dict(matrix),
    }
    return good, mixed, added, report, rejected + waiting, reconciliation, read_mart(database), marts


def test_the_catalogue_has_at_least_25_kinds_of_bad_rows():
    assert len([k for k in badrows.KINDS if k.reason]) >= 25
    assert {k.table for k in badrows.KINDS} == set(TABLES)


def test_bad_rows_do_not_stop_the_build_but_warn(built):
    _, _, _, report, *_ = built
    assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]
    warned = {r.name for r in report.tests if r.status == "warn"}
    assert {"assert_no_rejected_records", "assert_msisdn_is_11_digits"} <= warned
    # each raw table's nulls, one test per table (source not_null_columns), a failing row per column
    # that the catalogue's missing_<column> rows leave empty
    nulls = {
        r.name.split("_telecom_")[1].split("_")[0]: (r.status, r.failures)
        for r in report.tests
        if r.name.startswith("source_not_null_columns_telecom_")
    }
    kinds = {(k.table, k.reason) for k in badrows.KINDS}
    emptied = Counter(table for table, reason in kinds if (reason or "").startswith("missing_"))
    assert nulls == {table: ("warn", emptied[table]) for table in TABLES}


def test_every_bad_row_lands_with_its_reason(built):
    _, _, added, _, rejected, *_ = built
    expected = Counter()
    for kind in badrows.KINDS:
        if kind.reason:
            distinct = {json.dumps(row, sort_keys=True) for row in added[kind.name]}
            expected[(kind.table, kind.reason)] += len(distinct)
    # the generated good data has no rejects of its own (nor rows waiting)
    assert Counter((table, reason) for table, _, reason, _ in rejected) == expected
    # the audit keeps the delivered values, and the number only masked
    raw_values = " ".join(values for *_, values in rejected if values is not None)
    assert "N/A" in raw_values and "2026-13" in raw_values and "31/10/2020" in raw_values
    assert "13900000000" not in raw_values and "139****0000" in raw_values


def test_every_raw_row_is_accounted_for(built):
    _, mixed, added, _, rejected, reconciliation, *_ = built
    for table in TABLES:
        raw_rows, accepted, rejected_rows, superseded, duplicates, waiting = reconciliation[table]
        assert raw_rows == len(mixed[table])
        assert rejected_rows == sum(1 for r in rejected if r[0] == table and r[2] != "waiting")
        assert waiting == sum(1 for r in rejected if r[0] == table and r[2] == "waiting")
        assert waiting == (table != "subscriptions"), "the bill and the suspension of a customer not delivered"
        delivered_twice = [k for k in badrows.KINDS if k.table == table and k.is_exact_copy]
        assert duplicates == len(delivered_twice)
        assert raw_rows == accepted + rejected_rows + duplicates + waiting
    assert reconciliation["subscriptions"][3] == 1  # the older version of a customer


def test_good_customers_score_exactly_as_spec_says(built):
    good, _, added, _, _, _, mart, _ = built
    scored = {t: list(good[t]) for t in TABLES}
    for kind in badrows.KINDS:
        if kind.scored:
            scored[kind.table].extend(added[kind.name])
    expected = reference.score(scored["subscriptions"], scored["billing"], scored["suspensions"], MONTH_END)
    assert len(expected) > 4000
    assert differences(mart, expected) == []


def test_the_star_movements_and_the_watchlist_are_specs_despite_the_bad_rows(built):
    good, _, added, *_, marts = built
    scored = {t: list(good[t]) for t in TABLES}
    for kind in badrows.KINDS:
        if kind.scored:
            scored[kind.table].extend(added[kind.name])
    now, before = (reference.score(scored["subscriptions"], scored["billing"], scored["suspensions"], day)
                   for day in (MONTH_END, SEPTEMBER))  # fmt: skip
    changes = reference.star_changes(before, now, SEPTEMBER, MONTH_END)
    assert differences(marts["changes"], changes) == []
    assert marts["matrix"] == reference.migration_matrix(changes)
    watchlist = reference.watchlist(before, now, scored["billing"], scored["suspensions"], MONTH_END)
    assert differences(marts["watchlist"], watchlist) == []
    assert {c["change_type"] for c in changes.values()} >= {"new", "up", "down", "same"} and len(watchlist) > 10
