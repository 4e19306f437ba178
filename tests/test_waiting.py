"""Customers delivered after their bills (SPEC 8), the way an operator meets them: two source systems on
two schedules, the CRM a month behind the billing system.

Before, every bill of a customer not delivered yet was an `unknown_customer` reject, counted toward
max_reject_share: a CRM a month late refused the monthly build.  Now such rows wait: the build passes,
audit.waiting_records names them, the customer's arrival makes them accepted, and only a row still
waiting max_wait_months after its delivery is rejected (and may then refuse the build, which
`--max-wait-months` relaxes).  Expected scores come from the reference implementation.
The invariant with late customers (incremental equals full refresh) is in test_incremental.py.
"""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import pytest

from credit_score.generate import generate
from credit_score.load import read_csv_tables
from tests import reference
from tests.helpers import differences, read_mart, write_folder
from tests.test_guards import cli

AUGUST, SEPTEMBER, OCTOBER = dt.date(2026, 8, 31), dt.date(2026, 9, 30), dt.date(2026, 10, 31)
TABLES = ("subscriptions", "billing", "suspensions")


def audit(database, sql):
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def late_crm(tmp_path_factory):
    """1,000 customers delivered monthly (before-2026-08 on 2026-08-05, then 2026-08, 2026-09, 2026-10 on
    the 5th of the month after); 8 % of the customers billed in the first delivery are missing from the
    CRM's files: half come in a delivery of their own on 2026-09-20, half never."""
    root = tmp_path_factory.mktemp("late_crm")
    generate(1000, root / "generated", seed=7, as_of=OCTOBER, deliveries="monthly", months=3, progress=False)
    deliveries = [line.split(",") for line in (root / "generated" / "deliveries.csv").read_text().splitlines()[1:]]
    first = read_csv_tables(root / "generated" / deliveries[0][0])
    rng = random.Random(3)
    billed = {r["customer_id"] for r in first["billing"]}
    missing = sorted(
        c for c in sorted({r["customer_id"] for r in first["subscriptions"]} & billed) if rng.random() < 0.08
    )
    arriving, never = set(missing[::2]), set(missing[1::2])
    held_back = []
    for delivery_id, _ in deliveries:
        tables = read_csv_tables(root / "generated" / delivery_id)
        held_back += [r for r in tables["subscriptions"] if r["customer_id"] in arriving]
        tables["subscriptions"] = [r for r in tables["subscriptions"] if r["customer_id"] not in set(missing)]
        write_folder(root / delivery_id, tables)
    write_folder(root / "crm-late", {"subscriptions": held_back})
    return root, dict(deliveries), arriving, never


def load(root, delivery_id, delivered_on, database):
    done = cli("load", str(root / delivery_id), "--delivery", delivery_id, "--delivered-on", delivered_on,
               database=database)  # fmt: skip
    assert done.returncode == 0, done.stderr


def truth(root, delivery_ids, as_of):
    """The reference's scores of what the deliveries hold (each customer's latest version)."""
    tables = {t: [] for t in TABLES}
    for delivery_id in delivery_ids:
        for table, rows in read_csv_tables(root / delivery_id).items():
            tables[table] += rows
    return reference.score(reference.latest_versions(tables["subscriptions"]), tables["billing"],
                           tables["suspensions"], as_of)  # fmt: skip


def test_a_crm_a_month_late_waits_then_is_accepted_then_rejected(late_crm, tmp_path):
    root, deliveries, arriving, never = late_crm
    database = tmp_path / "warehouse.duckdb"
    bills_of = "select count(*) from audit.waiting_records where source_table = 'billing' and customer_id in ({})"

    # August: the missing customers' bills wait; far more than max_reject_share (1 %), and the build passes
    for delivery_id in ("before-2026-08", "2026-08"):
        load(root, delivery_id, deliveries[delivery_id], database)
    built = cli("build", "--as-of", str(AUGUST), database=database)
    assert built.returncode == 0, built.stdout + built.stderr
    [(billing_rows, waiting_rows, rejected_rows)] = audit(
        database,
        "select raw_rows, waiting_rows, rejected_rows from audit.reconciliation where source_table = 'billing'",
    )
    assert waiting_rows > 0.03 * billing_rows and rejected_rows == 0, (billing_rows, waiting_rows, rejected_rows)
    waiting_customers = {c for (c,) in audit(database, "select distinct customer_id from audit.waiting_records")}
    assert waiting_customers == arriving | never
    assert differences(read_mart(database), truth(root, ("before-2026-08", "2026-08"), AUGUST)) == []

    # the CRM's late customers arrive on 2026-09-20: September accepts their bills and scores them
    load(root, "crm-late", "2026-09-20", database)
    load(root, "2026-09", deliveries["2026-09"], database)
    built = cli("build", "--as-of", str(SEPTEMBER), database=database)
    assert built.returncode == 0, built.stdout + built.stderr
    assert {c for (c,) in audit(database, "select distinct customer_id from audit.waiting_records")} == never
    mart = read_mart(database)
    assert len(arriving & set(mart)) > 0.8 * len(arriving), "scored once delivered (unless terminated)"
    assert differences(mart, truth(root, ("before-2026-08", "2026-08", "crm-late", "2026-09"), SEPTEMBER)) == []
    [(first_rejected,)] = audit(database, "select distinct rejected_from_month from audit.waiting_records "
                                          "where delivery_id = 'before-2026-08'")  # fmt: skip
    assert first_rejected == dt.date(2026, 10, 1), "delivered in August, waits until October's build"

    # October: the rows of the customers who never came, delivered in August, are rejects now; there are
    # too many (max_reject_share), so the build is refused and BI stays on September
    load(root, "2026-10", deliveries["2026-10"], database)
    refused = cli("build", "--as-of", str(OCTOBER), database=database)
    assert refused.returncode == 1
    assert "assert_reject_share_within_threshold" in refused.stdout + refused.stderr
    assert {r["as_of_date"] for r in read_mart(database).values()} == {str(SEPTEMBER)}

    # the operator who knows the CRM is three months behind lets rows wait three months
    built = cli("build", "--as-of", str(OCTOBER), "--max-wait-months", "3", database=database)
    assert built.returncode == 0, built.stdout + built.stderr
    assert audit(database, bills_of.format(", ".join(f"'{c}'" for c in never)))[0][0] > 0
    assert audit(
        database, "select count(*) from audit.rejected_records where rejection_reason = 'unknown_customer'"
    ) == [(0,)]
    assert differences(read_mart(database), truth(root, [*deliveries, "crm-late"], OCTOBER)) == []
    wrong = cli("build", "--as-of", str(OCTOBER), "--max-wait-months", "-1", database=database)
    assert wrong.returncode != 0 and "--max-wait-months" in wrong.stderr
