"""The guards that stand between a wrong number and exit 0 (SPEC 6, issue 25), as an operator meets them
through the command line, and the commands their hints print, run.

- Completeness from content: a month of the spend window that has not arrived, or arrived short (fewer
  customers with a bill than 1 - max_population_drop_share times the month before), refuses the build
  before dbt, naming the month, its customers against the month before and the deliveries holding it;
  delivery dates alone never satisfy it. The three bad days of issue 25: October never loaded; the
  history loaded without its delivery date (today); a 3-bill correction dated after November with all
  of November missing.
- The population guard compares with what was published for the same date and for the nearest date
  before it: a re-delivery missing 40 % of the customers is refused for the latest date, for an earlier
  date published before, and in a backfill, which publishes nothing.
- Every hint is a command that works: --allow-incomplete, --max-population-drop-share, --max-reject-share,
  `sql --work` over the refused build's audit.

Data: 3,000 generated customers as three monthly deliveries (before-2026-10 delivered 2026-10-05,
2026-10 delivered 2026-11-05, 2026-11 delivered 2026-12-05), built as of 2026-11-30.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit_score import badrows
from credit_score.build import BuildRefused, build
from credit_score.deliveries import arrived_from_counts, arrived_from_rows, bill_months_sql, delivery_bill_months_sql
from credit_score.load import read_csv_tables, write_csv_tables
from tests.helpers import load_steps

AS_OF = "2026-11-30"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_data(tmp_path_factory.mktemp("guards_data"))


def make_data(root: Path) -> Path:
    """3,000 generated customers as three monthly deliveries, the last November's."""
    done = subprocess.run(
        [sys.executable, "-m", "credit_score.cli", "generate", "--customers", "3000", "--as-of", AS_OF,
         "--out", str(root), "--deliveries", "monthly", "--months", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (root / "deliveries.csv").read_text().splitlines()[1:] == [
        "before-2026-10,2026-10-05",
        "2026-10,2026-11-05",
        "2026-11,2026-12-05",
    ]
    return root


class Warehouse:
    """A warehouse of its own, driven by the command line."""

    def __init__(self, root: Path, data: Path):
        self.root, self.data = root, data
        self.served = root / "warehouse" / "credit_score.duckdb"
        self.env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(self.served), "CREDIT_SCORE_LOG_DIR": str(root / "logs")}

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "credit_score.cli", *args], env=self.env, cwd=self.root, capture_output=True,
            text=True, timeout=600,
        )  # fmt: skip

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    def load(self, folder: str | Path, delivered_on: str, delivery: str | None = None) -> None:
        path = folder if isinstance(folder, Path) else self.data / folder
        self.ok("load", str(path), "--delivered-on", delivered_on, "--delivery", delivery or path.name)

    def published(self) -> tuple | None:
        """What BI reads: the mart's date and rows, and the history's rows per date."""
        if not self.served.exists():
            return None
        con = duckdb.connect(str(self.served), read_only=True)
        try:
            mart = con.execute("select max(as_of_date), count(*) from marts.customer_credit_score").fetchone()
            history = con.execute(
                "select as_of_date, count(*) from marts.customer_credit_score_history group by all order by all"
            ).fetchall()
            changes = con.execute("select count(*) from marts.customer_star_changes").fetchone()
        finally:
            con.close()
        return mart, history, changes


def hint(text: str, marker: str) -> list[str]:
    """The command printed after `marker` (to the end of its line), as arguments after credit-score."""
    command = text.split(marker, 1)[1].splitlines()[0].strip()
    assert command.startswith("credit-score "), command
    return shlex.split(command)[1:]


def refused_short(done: subprocess.CompletedProcess, month: str, before: str, deliveries: str) -> None:
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    found = re.search(
        rf"the spend window holds {month}, which arrived short: ([\d,]+) customers have a bill in it against "
        rf"([\d,]+) in {before}",
        done.stderr,
    )
    assert found, done.stderr
    shown, previous = (int(x.replace(",", "")) for x in found.groups())
    assert previous > 2000 and shown < previous * 0.9
    assert f"deliveries holding {month}'s bills: {deliveries}" in done.stderr
    assert "Nothing was built or published" in done.stderr


def bills_of(data: Path, delivery: str) -> int:
    with (data / delivery / "billing.csv").open(newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.DictReader(f))


def test_october_never_loaded_is_refused_and_allow_incomplete_builds(data, tmp_path):
    wh = Warehouse(tmp_path, data)
    wh.load("before-2026-10", "2026-10-05")
    wh.load("2026-11", "2026-12-05")  # delivered after November: the date-based check alone was satisfied
    done = wh.run("build", "--as-of", AS_OF)
    refused_short(done, "2026-10", "2026-09", "none")
    assert wh.published() is None
    # a backfill checks every date before it builds any: September (complete) is not published either
    backfill = wh.run("build", "--from", "2026-09", "--to", "2026-11")
    refused_short(backfill, "2026-10", "2026-09", "none")
    assert "backfill refused before building any month" in backfill.stderr
    assert wh.published() is None
    wh.ok(*hint(done.stderr, "or, knowingly:"))  # credit-score build --as-of 2026-11-30 --allow-incomplete
    assert wh.published()[0][0].isoformat() == AS_OF


def test_a_history_loaded_without_its_date_is_refused(data, tmp_path):
    """`load before-2026-10` without --delivered-on takes today (here pinned: 2026-12-04): the dates say
    November has arrived, the bills say October and November have not."""
    wh = Warehouse(tmp_path, data)
    wh.load("before-2026-10", "2026-12-04")
    refused_short(wh.run("build", "--as-of", AS_OF), "2026-10", "2026-09", "none")
    assert wh.published() is None


def test_a_small_correction_does_not_stand_for_a_missing_month(data, tmp_path):
    wh = Warehouse(tmp_path, data)
    wh.load("before-2026-10", "2026-10-05")
    wh.load("2026-10", "2026-11-05")
    november = read_csv_tables(data / "2026-11")
    correction = write_csv_tables(tmp_path / "correction", {"billing": november["billing"][:3]})
    wh.load(correction, "2026-12-10")
    done = wh.run("build", "--as-of", AS_OF)
    refused_short(done, "2026-11", "2026-10", "correction")
    assert wh.published() is None
    wh.ok(*hint(done.stderr, "or, if the fall is real:"))  # --max-population-drop-share 1
    assert wh.published()[0][0].isoformat() == AS_OF


def without(data: Path, target: Path, customers: set[str]) -> Path:
    """Every delivery again, without the rows of `customers`."""
    for delivery in ("before-2026-10", "2026-10", "2026-11"):
        tables = read_csv_tables(data / delivery)
        kept = {t: [r for r in rows if r["customer_id"] not in customers] for t, rows in tables.items()}
        write_csv_tables(target / delivery, kept)
    return target


def test_a_redelivery_missing_customers_is_refused_for_every_date_and_the_backfill(data, tmp_path):
    wh = Warehouse(tmp_path, data)
    for folder, day in (("before-2026-10", "2026-10-05"), ("2026-10", "2026-11-05"), ("2026-11", "2026-12-05")):
        wh.load(folder, day)
    wh.ok("build", "--as-of", "2026-09-30")
    wh.ok("build", "--from", "2026-10", "--to", "2026-11")
    before = wh.published()
    ids = sorted(r["customer_id"] for r in read_csv_tables(data / "before-2026-10")["subscriptions"])
    missing = set(ids[: len(ids) * 2 // 5])  # 40 % of the customers
    again = without(data, tmp_path / "again", missing)
    for folder, day in (("before-2026-10", "2026-10-05"), ("2026-10", "2026-11-05"), ("2026-11", "2026-12-05")):
        wh.load(again / folder, day)
    for args in (("--as-of", AS_OF), ("--as-of", "2026-09-30"), ("--from", "2026-10", "--to", "2026-11")):
        done = wh.run("build", *args)
        assert done.returncode == 1, (args, done.stdout[-2000:])
        assert "FAILED test assert_population_drop_within_share" in done.stdout, (args, done.stdout[-3000:])
        assert "nothing published" in done.stdout
        assert wh.published() == before, args
    last = done.stdout
    # the backfill stopped at its first month, and none of its months was published
    assert "tests failed (the run as of 2026-10-31)" in last and "published together" in last
    # the hint of the first refused date, run: the fall is real, publish it
    done = wh.run("build", "--as-of", "2026-09-30")
    wh.ok(*hint(done.stdout, "if the drop is real:"))
    assert wh.published()[1][0][0].isoformat() == "2026-09-30"


def test_the_reject_share_hints_are_commands_that_work(data, tmp_path):
    wh = Warehouse(tmp_path, data)
    small = tmp_path / "small"
    tables = read_csv_tables(data / "before-2026-10")
    mixed, _ = badrows.mix_in(tables)  # about 2 % of the suspensions rejected: above 0.01, below 0.05
    write_csv_tables(small, mixed)
    wh.load(small, "2026-10-05")
    done = wh.run("build", "--as-of", "2026-09-30")
    assert done.returncode == 1 and "FAILED test assert_reject_share_within_threshold" in done.stdout
    see = shlex.split(done.stdout.split("see which and why: ", 1)[1].split("; ask", 1)[0])
    assert see[:3] == ["credit-score", "sql", "--work"], see
    shown = wh.ok(*see[1:])  # the refused build's audit, from the work file
    assert "conflicting_duplicate_id" in shown or "missing_customer_id" in shown, shown
    wh.ok(*hint(done.stdout, "if they are expected:"))
    assert wh.published()[0][0].isoformat() == "2026-09-30"
    shutil.rmtree(small)


# --- the same three bad days through the engine interface: DuckDB here, PostgreSQL and Spark in
# their own files (the refusal comes before dbt, from each engine's raw bills) -------------------


def bad_days(data: Path, scratch: Path) -> dict[str, tuple[list, str, str, str]]:
    """{case: (load steps, the month refused, the month before it, the deliveries holding it)}."""
    november = read_csv_tables(data / "2026-11")
    correction = write_csv_tables(scratch / "correction", {"billing": november["billing"][:3]})
    history, october, later = (
        (data / "before-2026-10", "before-2026-10", dt.date(2026, 10, 5)),
        (data / "2026-10", "2026-10", dt.date(2026, 11, 5)),
        (data / "2026-11", "2026-11", dt.date(2026, 12, 5)),
    )
    return {
        "October never loaded": ([history, later], "2026-10", "2026-09", "none"),
        "the history loaded without its date": (
            [(history[0], history[1], dt.date(2026, 12, 4))],
            "2026-10",
            "2026-09",
            "none",
        ),
        "a 3-bill correction for a missing November": (
            [history, october, (correction, "correction", dt.date(2026, 12, 10))],
            "2026-11",
            "2026-10",
            "correction",
        ),
    }


def check_bad_days(data: Path, scratch: Path, *, target: str | None = None, database: Path | None = None) -> None:
    """Each bad day loaded afresh (raw emptied first) and refused before dbt, naming the month, its
    customers against the month before, and the deliveries holding it."""
    for case, (steps, month, before, deliveries) in bad_days(data, scratch).items():
        load_steps(steps, database, target=target)
        with pytest.raises(BuildRefused) as refused:
            build(dt.date(2026, 11, 30), target=target, database=database)
        message = str(refused.value)
        assert f"the spend window holds {month}, which arrived short" in message, (case, message)
        assert f" in {before} (" in message, (case, message)
        assert f"deliveries holding {month}'s bills: {deliveries}" in message, (case, message)


def test_the_bad_days_through_the_engine_interface(data, tmp_path):
    check_bad_days(data, tmp_path, database=tmp_path / "warehouse.duckdb")


# -- the check reads what each delivery was counted holding at load, not every raw bill ----------------
MONTH_FORMS = ("{:%Y-%m}", "{:%Y%m}", "{:%Y-%m}-01", " {:%Y-%m-%d} ", "{:%Y-%m}-xy", "{:%Y/%m}", "{:%Y-%m}-1")


@st.composite
def deliveries_of_bills(draw):
    """Up to four deliveries of up to 30 bills each over five months (a month in any form staging reads,
    and some it does not), customers repeated across deliveries (corrections), blank and padded ids;
    whether each delivery was counted when loaded (a warehouse loaded before the counts were kept)."""
    months = [dt.date(2026, m, 1) for m in range(6, 11)]
    deliveries = []
    for number in range(draw(st.integers(1, 4))):
        bills = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["c1", "c2", " c2 ", "c3", "c4", "", None]),
                    st.sampled_from(months),
                    st.sampled_from(MONTH_FORMS),
                ),
                max_size=30,
            )
        )
        deliveries.append((f"d{number}", [(c, form.format(m)) for c, m, form in bills], draw(st.booleans())))
    return deliveries


@settings(max_examples=200, deadline=None, derandomize=True)
@given(deliveries=deliveries_of_bills(), window=st.integers(1, 5), parts=st.integers(1, 3))
def test_the_counted_months_answer_what_the_raw_bills_do(deliveries, window, parts):
    """arrived_from_counts over the counts each delivery got at load (some deliveries uncounted; each
    counted in `parts` parts by customer, and summed, as a large delivery is) equals bill_months_sql over
    every raw bill: the customers and the deliveries of each month of the window."""
    con = duckdb.connect()
    con.execute("create table billing (bill_month varchar, customer_id varchar, delivery_id varchar)")
    con.execute("create table counted (delivery_id varchar, bill_month varchar, customers bigint)")
    for delivery, bills, was_counted in deliveries:
        if bills:
            con.executemany("insert into billing values (?, ?, ?)", [[m, c, delivery] for c, m in bills])
        if was_counted:
            con.execute("create or replace temp table part_counts as select * from counted limit 0")
            for k in range(parts):
                con.execute("insert into part_counts " + delivery_bill_months_sql("billing", delivery, part=(k, parts)))
            con.execute(
                "insert into counted select delivery_id, bill_month, sum(customers) from part_counts group by all"
            )
    months = [dt.date(2026, m, 1) for m in range(11 - window, 11)]
    scans = []

    def scan(rescan, among):
        scans.append((rescan, among))
        return con.execute(bill_months_sql("billing", rescan, among)).fetchall()

    got = arrived_from_counts(
        months, con.execute("select * from counted").fetchall(), [d for d, _, _ in deliveries], scan
    )
    assert got == arrived_from_rows(con.execute(bill_months_sql("billing", months)).fetchall())
    if all(counted for _, _, counted in deliveries) and len(deliveries) == 1:
        assert scans == []  # one counted delivery: the raw bills are not read
