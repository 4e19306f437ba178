"""The mart, its entitlements, the retention watchlist and the star movements agree row by row, every
column, with the independent implementation of SPEC on a generated data set of more than 10,000
customers plus adversarial boundary cases: at two consecutive month-ends (the watchlist and the star
movements compare them) and at a mid-month as-of date."""

import datetime as dt

import duckdb
import pytest

from credit_score.build import build
from credit_score.generate import generate
from tests import adversarial, reference
from tests.conftest import MID_MONTH, MONTH_END
from tests.helpers import DELIVERED, as_text, differences, load_steps, read_mart, split_into_deliveries, write_folder

SEPTEMBER = dt.date(2026, 9, 30)


@pytest.fixture(scope="module")
def raw_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parity")
    generate(10_000, folder, seed=2026, as_of=MONTH_END, progress=False)
    realistic = {t: reference.read_csv(folder / f"{t}.csv") for t in ("subscriptions", "billing", "suspensions")}
    edges = adversarial.build(3_000, [MONTH_END, MID_MONTH], seed=7)
    combined = {t: realistic[t] + edges[t] for t in realistic}
    write_folder(folder, combined)
    return folder, combined


@pytest.mark.parametrize(
    ("as_of", "deliveries"), [(MONTH_END, 1), (MID_MONTH, 4)], ids=["month-end, one delivery", "mid-month, four"]
)
def test_mart_equals_reference(raw_folder, tmp_path, as_of, deliveries):
    """The data as one delivery, or dealt into four: the mart is the reference's scores either way."""
    folder, tables = raw_folder
    database = tmp_path / "warehouse.duckdb"
    load_steps(split_into_deliveries(folder, tmp_path, deliveries, DELIVERED), database)
    previous = None
    if as_of == MONTH_END:  # the month-end before first: the watchlist compares the two
        previous = reference.score(tables["subscriptions"], tables["billing"], tables["suspensions"], SEPTEMBER)
        report = build(SEPTEMBER, database=database)
        assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]
        assert differences(read_mart(database), previous) == []
    report = build(as_of, database=database)
    assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]
    expected = reference.score(tables["subscriptions"], tables["billing"], tables["suspensions"], as_of)
    mart = read_mart(database)
    assert len(expected) > 10_000
    assert differences(mart, expected) == []
    # and each customer's entitlements are SPEC 7's for the star (every star occurs, see below)
    entitled = read_mart(database, "marts.customer_entitlements")
    assert differences(entitled, reference.entitlements(expected)) == []
    # the retention watchlist and the star movements: against September at the month-end; nothing
    # earlier mid-month (the history's first date)
    watchlist = read_mart(database, "marts.retention_watchlist")
    changes = read_mart(database, "marts.customer_star_changes")
    matrix = read_migration_matrix(database)
    if previous is None:
        assert watchlist == changes == matrix == {}
    else:
        wanted_changes = reference.star_changes(previous, expected, SEPTEMBER, as_of)
        assert differences(changes, wanted_changes) == []
        kinds = {row["change_type"] for row in wanted_changes.values()}
        assert kinds == {"new", "up", "down", "same", "left"}, "every kind of change occurs"
        assert matrix == {as_of.isoformat(): reference.migration_matrix(wanted_changes)}
        wanted = reference.watchlist(previous, expected, tables["billing"], tables["suspensions"], as_of)
        assert differences(watchlist, wanted) == []
        signals = {s for row in wanted.values() for s in row["risk_signals"].split(",")}
        assert signals == {"left", "star_down", "spend_drop", "new_suspension"}, "every signal occurs"
        assert any("," in row["risk_signals"] for row in wanted.values()), "and several together"
    # the data really reaches the edges it is meant to test
    spend = {r["avg_monthly_spend"] for r in expected.values()}
    assert {"20.00", "20.01", "400.00", "400.01"} <= spend
    assert {r["star_label"] for r in expected.values()} == set(reference.STAR_LABELS.values())
    assert any(int(r["credit_score"]) < 0 for r in expected.values())
    assert any(r["msisdn_masked"] == "" for r in expected.values())


def read_migration_matrix(database) -> dict[str, dict[tuple[str, str], int]]:
    """marts.star_migration_matrix as {as_of_date: {(from star, to star): customers}}, '' for null."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        rows = con.execute("select * from marts.star_migration_matrix").fetchall()
        columns = [d[0] for d in con.description]
    finally:
        con.close()
    found: dict[str, dict[tuple[str, str], int]] = {}
    for row in rows:
        values = dict(zip(columns, row, strict=True))
        cell = (as_text(values["from_star_level"]), as_text(values["to_star_level"]))
        found.setdefault(as_text(values["as_of_date"]), {})[cell] = values["customers"]
    return found
