"""A sequence of deliveries that holds every cross-delivery case of SPEC 6, for every engine.

The bulk is a generated data set delivered month by month (`generate --deliveries monthly`); into
its folders go customers, bills and suspensions that each pin one case:

- X-LATE, a late customer: its bills and a suspension arrive one and two deliveries before it does
  (waiting for it until then: SPEC 8);
- X-NEVER, a customer never delivered: a bill and a suspension in the first delivery (2026-09-05) and a
  bill in 2026-10 (2026-11-05), waiting at every build of the scenario (max_wait_months 2);
- X-VERSION, a newer version: 神州行 in the first delivery, 全球通 (a newer updated_at) in the last;
- X-TERM, a termination: active at first, terminated on 2026-10-20 by a new version;
- X-CONFLICT, a bill re-delivered with another amount (rejected in both deliveries);
- X-AGAIN, a bill re-delivered identically (an exact duplicate, accepted once);
- delivery 2026-10 loaded twice; delivery `adjustments` (billing only) loaded wrong, then replaced by
  its correction; delivery `nothing`, an empty folder.

Delivery 2026-10 also brings 1,000 customers placed on SPEC's boundaries around 2026-10-31 and
2026-03-15 (tests/adversarial.py), so that the engines are compared on every edge at both dates.

What the final data means (the truth the reference implementation scores) is written here by hand,
from SPEC 6's rules, not from the warehouse.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from credit_score.generate import generate
from credit_score.load import read_csv_tables, write_csv_tables
from tests import adversarial, reference

SEPTEMBER, OCTOBER, MID_MONTH = dt.date(2026, 9, 30), dt.date(2026, 10, 31), dt.date(2026, 3, 15)
TABLES = ("subscriptions", "billing", "suspensions")


def _customer(customer_id: str, brand: str, activation: str, updated: str, termination: str = "") -> dict:
    return {
        "customer_id": customer_id,
        "msisdn": "13900000001",
        "brand_code": brand,
        "activation_date": activation,
        "termination_date": termination,
        "updated_at": updated,
    }


def _bill(bill_id: str, customer: str, month: str, amount: str) -> dict:
    return {"bill_id": bill_id, "customer_id": customer, "bill_month": month, "amount": amount}


LATE_BILLS = [_bill(f"X-LATE-{m:02d}", "X-LATE", f"2026-{m:02d}", "100.00") for m in range(5, 11)]
LATE_SUSPENSION = {
    "suspension_id": "X-LATE-S1",
    "customer_id": "X-LATE",
    "suspended_at": "2026-09-15 10:00:00",
    "resumed_at": "2026-09-16 10:00:00",
    "reason_code": "ARREARS",
}
NEVER_SUSPENSION = {
    **LATE_SUSPENSION,
    "suspension_id": "X-NEVER-S1",
    "customer_id": "X-NEVER",
    "suspended_at": "2026-08-15 10:00:00",
    "resumed_at": "2026-08-16 10:00:00",
}
# what each case adds to the generated deliveries, by folder
ADDED = {
    "before-2026-09": {
        "subscriptions": [
            _customer("X-VERSION", "G002", "2022-03-10", "2026-01-01 00:00:00"),
            _customer("X-TERM", "G010", "2021-06-01", "2025-12-01 00:00:00"),
        ],
        "billing": [b for b in LATE_BILLS if b["bill_month"] < "2026-09"]
        + [_bill("X-NEVER-08", "X-NEVER", "2026-08", "70.00")],
        "suspensions": [NEVER_SUSPENSION],
    },
    "2026-09": {
        "billing": [
            *(b for b in LATE_BILLS if b["bill_month"] == "2026-09"),
            _bill("X-CONFLICT", "X-VERSION", "2026-09", "50.00"),
            _bill("X-AGAIN", "X-VERSION", "2026-09", "30.00"),
        ],
        "suspensions": [LATE_SUSPENSION],
    },
    "2026-10": {
        "subscriptions": [
            _customer("X-LATE", "G001", "2024-01-10", "2026-10-02 09:00:00"),
            _customer("X-VERSION", "G001", "2022-03-10", "2026-10-20 08:00:00"),
            _customer("X-TERM", "G010", "2021-06-01", "2026-10-20 08:00:00", termination="2026-10-20"),
        ],
        "billing": [
            *(b for b in LATE_BILLS if b["bill_month"] == "2026-10"),
            _bill("X-NEVER-10", "X-NEVER", "2026-10", "70.00"),
            _bill("X-CONFLICT", "X-VERSION", "2026-09", "55.00"),
            _bill("X-AGAIN", "X-VERSION", "2026-09", "30.00"),
        ],
    },
}
WRONG_ADJUSTMENT = _bill("X-ADJ", "X-VERSION", "2026-10", "-999.00")
ADJUSTMENT = _bill("X-ADJ", "X-VERSION", "2026-10", "-9.00")

EDGES = adversarial.build(1000, [OCTOBER, MID_MONTH], seed=5)
for _table, _rows in EDGES.items():
    ADDED["2026-10"].setdefault(_table, []).extend(_rows)

# The truth by SPEC 6: the latest version of each case customer, and the accepted bills and suspensions.
EFFECTIVE = {
    "subscriptions": [
        ADDED["2026-10"]["subscriptions"][0],
        ADDED["2026-10"]["subscriptions"][1],
        ADDED["2026-10"]["subscriptions"][2],
    ],
    "billing": [*LATE_BILLS, _bill("X-AGAIN", "X-VERSION", "2026-09", "30.00"), ADJUSTMENT],
    "suspensions": [LATE_SUSPENSION],
}
# What the audit must say of the case rows waiting for their customer at the end (table, record id,
# delivery of the first copy, the first month whose build rejects it).
CASE_WAITING = {
    ("billing", "X-NEVER-08", "before-2026-09", "2026-11-01"),
    ("suspensions", "X-NEVER-S1", "before-2026-09", "2026-11-01"),
    ("billing", "X-NEVER-10", "2026-10", "2027-01-01"),
}
# What the audit must say of the case rows at the end: (table, record id, reason, delivery of the first copy).
CASE_REJECTS = {
    ("subscriptions", "X-VERSION", "superseded", "before-2026-09"),
    ("subscriptions", "X-TERM", "superseded", "before-2026-09"),
    ("billing", "X-CONFLICT", "conflicting_duplicate_id", "2026-09"),
    ("billing", "X-CONFLICT", "conflicting_duplicate_id", "2026-10"),
}


@dataclass
class Scenario:
    root: Path  # the delivery folders
    single: Path  # the same generated customers in one folder (the truth for them)
    deliveries: dict[str, dt.date]  # delivery id -> delivered on
    generated_versions: int  # older versions of generated customers (superseded at the end)

    def folder(self, name: str) -> Path:
        return self.root / name

    def in_order(self) -> list[tuple[Path, str, dt.date]]:
        """(folder, delivery id, delivered on), in the order the deliveries arrive, before the repeats."""
        return [(self.folder(d), d, self.deliveries[d]) for d in ("before-2026-09", "2026-09")]

    def after_september(self) -> list[tuple[Path, str, dt.date]]:
        """What arrives after the September build: 2026-10 twice, the wrong adjustments and their
        correction, and the empty delivery."""
        return [
            (self.folder("2026-10"), "2026-10", self.deliveries["2026-10"]),
            (self.folder("2026-10"), "2026-10", self.deliveries["2026-10"]),
            (self.folder("adjustments-wrong"), "adjustments", self.deliveries["adjustments"]),
            (self.folder("adjustments"), "adjustments", self.deliveries["adjustments"]),
            (self.folder("nothing"), "nothing", self.deliveries["nothing"]),
        ]

    def out_of_order(self) -> list[tuple[Path, str, dt.date]]:
        """The same final deliveries, loaded in another order (the correction alone)."""
        return [
            (self.folder("adjustments"), "adjustments", self.deliveries["adjustments"]),
            (self.folder("nothing"), "nothing", self.deliveries["nothing"]),
            (self.folder("2026-10"), "2026-10", self.deliveries["2026-10"]),
            (self.folder("before-2026-09"), "before-2026-09", self.deliveries["before-2026-09"]),
            (self.folder("2026-09"), "2026-09", self.deliveries["2026-09"]),
        ]

    def truth(self) -> dict[str, list[dict[str, str]]]:
        """What the final data means: the generated customers as one folder, and the cases' effective rows."""
        return {t: reference.read_csv(self.single / f"{t}.csv") + EFFECTIVE[t] + EDGES[t] for t in TABLES}

    def expected_mart(self, as_of: dt.date) -> dict[str, dict[str, str]]:
        """The reference's scores of the truth."""
        truth = self.truth()
        return reference.score(truth["subscriptions"], truth["billing"], truth["suspensions"], as_of)

    def expected_watchlist(self, previous: dict, current: dict, as_of: dt.date) -> dict[str, dict[str, str]]:
        """The reference's watchlist on as_of from the scores of the previous date and of as_of (as an
        engine's history holds them), with the truth's bills and suspensions."""
        truth = self.truth()
        return reference.watchlist(previous, current, truth["billing"], truth["suspensions"], as_of)


def build_scenario(root: Path, customers: int = 1500, seed: int = 31) -> Scenario:
    generated, single = root / "generated", root / "single"
    generate(customers, generated, seed=seed, as_of=OCTOBER, deliveries="monthly", months=2, progress=False)
    generate(customers, single, seed=seed, as_of=OCTOBER, progress=False)
    deliveries = {}
    for line in (generated / "deliveries.csv").read_text().splitlines()[1:]:
        delivery_id, delivered_on = line.split(",")
        deliveries[delivery_id] = dt.date.fromisoformat(delivered_on)
        tables = read_csv_tables(generated / delivery_id)
        for table, rows in ADDED.get(delivery_id, {}).items():
            tables[table] = tables[table] + rows
        write_csv_tables(root / delivery_id, tables)
    write_csv_tables(root / "adjustments-wrong", {"billing": [WRONG_ADJUSTMENT]})
    write_csv_tables(root / "adjustments", {"billing": [ADJUSTMENT]})
    (root / "nothing").mkdir()
    deliveries["adjustments"] = dt.date(2026, 11, 10)
    deliveries["nothing"] = dt.date(2026, 11, 12)
    single_rows = len(reference.read_csv(single / "subscriptions.csv"))
    generated_rows = sum(len(reference.read_csv(generated / d / "subscriptions.csv")) for d in deliveries if
                         (generated / d).is_dir())  # fmt: skip
    shutil.rmtree(generated)
    return Scenario(root, single, deliveries, generated_versions=generated_rows - single_rows)
