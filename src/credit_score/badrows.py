"""A catalogue of the bad rows real CRM and billing exports contain, each with the reason the
warehouse must give it.  `credit-score demo --with-bad-rows` mixes them into generated data to show
the audit tables; the tests mix them in and check that each lands in audit.rejected_records with its
reason (or, `waiting`, in audit.waiting_records) while every good customer still scores as SPEC says.

Every bad row has ids of its own (or is a copy of a good row), so rejecting it leaves the good
customers' data exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Row = dict[str, str]
Tables = dict[str, list[Row]]


@dataclass(frozen=True)
class BadRowKind:
    name: str
    table: str
    reason: str | None  # None: not rejected (an exact duplicate, or scored with a warning); `waiting`: not yet
    make: Callable[[str, Tables], list[Row]]  # (tag, good tables) -> the rows to add
    scored: bool = False  # the rows are a new customer that is scored (with a warning)

    @property
    def is_exact_copy(self) -> bool:
        """An identical copy of a row delivered already: neither rejected nor scored, counted as a duplicate."""
        return self.reason is None and not self.scored


def _customer(tag: str, **changes: str) -> Row:
    row = {
        "customer_id": f"BAD-{tag}",
        "msisdn": "13900000000",
        "brand_code": "G001",
        "activation_date": "2020-01-01",
        "termination_date": "",
        "updated_at": "2026-01-01 00:00:00",
    }
    return {**row, **changes}


def _bill(tag: str, customer: str, **changes: str) -> Row:
    return {**{"bill_id": f"BAD-{tag}", "customer_id": customer, "bill_month": "2026-06", "amount": "10.00"}, **changes}


def _suspension(tag: str, customer: str, **changes: str) -> Row:
    row = {
        "suspension_id": f"BAD-{tag}",
        "customer_id": customer,
        "suspended_at": "2026-06-01 10:00:00",
        "resumed_at": "",
        "reason_code": "ARREARS",
    }
    return {**row, **changes}


def _good_customer(tables: Tables) -> str:
    return tables["subscriptions"][0]["customer_id"]


def _rejected_customer_tag() -> str:
    """The customer of the 'brand unknown' kind (its tag), which the 'rejected customer' kinds point at."""
    return "BAD-brand-unknown"


def _older_version(tag: str, tables: Tables) -> list[Row]:
    latest = tables["subscriptions"][1]
    return [{**latest, "brand_code": "G002", "updated_at": "2000-01-01 00:00:00"}]


def _tied_versions(tag: str, tables: Tables) -> list[Row]:
    return [_customer(tag, brand_code="G001"), _customer(tag, brand_code="G010")]


def _conflicting_bills(tag: str, tables: Tables) -> list[Row]:
    customer = _good_customer(tables)
    return [_bill(tag, customer, amount="10.00"), _bill(tag, customer, amount="99.00")]


def _conflicting_suspensions(tag: str, tables: Tables) -> list[Row]:
    customer = _good_customer(tables)
    return [_suspension(tag, customer, reason_code="LOST"), _suspension(tag, customer, reason_code="ADMIN")]


KINDS: list[BadRowKind] = [
    # subscriptions
    BadRowKind(
        "customer id missing", "subscriptions", "missing_customer_id", lambda t, _: [_customer(t, customer_id="")]
    ),
    BadRowKind(
        "customer id blank",
        "subscriptions",
        "missing_customer_id",
        lambda t, _: [_customer(t, customer_id="   ", activation_date="2020-01-02")],
    ),
    BadRowKind(
        "activation date missing",
        "subscriptions",
        "missing_activation_date",
        lambda t, _: [_customer(t, activation_date="")],
    ),
    BadRowKind(
        "activation date not a day",
        "subscriptions",
        "unreadable_activation_date",
        lambda t, _: [_customer(t, activation_date="2021-02-29")],
    ),
    BadRowKind(
        "activation date in another form",
        "subscriptions",
        "unreadable_activation_date",
        lambda t, _: [_customer(t, activation_date="31/10/2020")],
    ),
    BadRowKind(
        "termination date unreadable",
        "subscriptions",
        "unreadable_termination_date",
        lambda t, _: [_customer(t, termination_date="soon")],
    ),
    BadRowKind(
        "updated_at unreadable",
        "subscriptions",
        "unreadable_updated_at",
        lambda t, _: [_customer(t, updated_at="yesterday")],
    ),
    BadRowKind("brand missing", "subscriptions", "missing_brand_code", lambda t, _: [_customer(t, brand_code="")]),
    BadRowKind("brand unknown", "subscriptions", "unknown_brand_code", lambda t, _: [_customer(t, brand_code="G999")]),
    BadRowKind(
        "terminated before activation",
        "subscriptions",
        "termination_before_activation",
        lambda t, _: [_customer(t, activation_date="2022-05-02", termination_date="2022-05-01")],
    ),
    BadRowKind("older version of a customer", "subscriptions", "superseded", _older_version),
    BadRowKind("two versions with the same updated_at", "subscriptions", "conflicting_versions", _tied_versions),
    BadRowKind(
        "subscription delivered twice", "subscriptions", None, lambda t, tables: [dict(tables["subscriptions"][2])]
    ),
    BadRowKind(
        "number not 11 digits (scored, masked null)",
        "subscriptions",
        None,
        lambda t, _: [_customer(t, msisdn="1390000000")],
        scored=True,
    ),
    # billing
    BadRowKind(
        "bill id missing",
        "billing",
        "missing_bill_id",
        lambda t, tables: [_bill(t, _good_customer(tables), bill_id="")],
    ),
    BadRowKind("bill without customer", "billing", "missing_customer_id", lambda t, _: [_bill(t, "")]),
    # not a reject yet: waiting for its customer (SPEC 8) in any build within max_wait_months of its
    # delivery, as the catalogue's builds are; rejected as unknown_customer after that
    BadRowKind("bill for a customer not delivered (yet)", "billing", "waiting", lambda t, _: [_bill(t, "NOBODY")]),
    BadRowKind(
        "bill for a rejected customer",
        "billing",
        "customer_rejected",
        lambda t, _: [_bill(t, _rejected_customer_tag())],
    ),
    BadRowKind(
        "bill month missing",
        "billing",
        "missing_bill_month",
        lambda t, tables: [_bill(t, _good_customer(tables), bill_month="")],
    ),
    BadRowKind(
        "bill month 13",
        "billing",
        "unreadable_bill_month",
        lambda t, tables: [_bill(t, _good_customer(tables), bill_month="2026-13")],
    ),
    BadRowKind(
        "bill month in words",
        "billing",
        "unreadable_bill_month",
        lambda t, tables: [_bill(t, _good_customer(tables), bill_month="Oct 2026")],
    ),
    BadRowKind(
        "amount missing", "billing", "missing_amount", lambda t, tables: [_bill(t, _good_customer(tables), amount="")]
    ),
    BadRowKind(
        "amount with a decimal comma",
        "billing",
        "unreadable_amount",
        lambda t, tables: [_bill(t, _good_customer(tables), amount="12,50")],
    ),
    BadRowKind(
        "amount with three decimals",
        "billing",
        "unreadable_amount",
        lambda t, tables: [_bill(t, _good_customer(tables), amount="1.005")],
    ),
    BadRowKind(
        "amount not a number",
        "billing",
        "unreadable_amount",
        lambda t, tables: [_bill(t, _good_customer(tables), amount="N/A")],
    ),
    BadRowKind(
        "bill dated far in the future",
        "billing",
        "bill_month_in_future",
        lambda t, tables: [_bill(t, _good_customer(tables), bill_month="209901")],
    ),
    BadRowKind("bill id with two contents", "billing", "conflicting_duplicate_id", _conflicting_bills),
    BadRowKind("bill delivered twice", "billing", None, lambda t, tables: [dict(tables["billing"][0])]),
    # suspensions
    BadRowKind(
        "suspension id missing",
        "suspensions",
        "missing_suspension_id",
        lambda t, tables: [_suspension(t, _good_customer(tables), suspension_id="")],
    ),
    BadRowKind("suspension without customer", "suspensions", "missing_customer_id", lambda t, _: [_suspension(t, "")]),
    BadRowKind(
        "suspension of a customer not delivered (yet)",
        "suspensions",
        "waiting",
        lambda t, _: [_suspension(t, "NOBODY")],
    ),
    BadRowKind(
        "suspension of a rejected customer",
        "suspensions",
        "customer_rejected",
        lambda t, _: [_suspension(t, _rejected_customer_tag())],
    ),
    BadRowKind(
        "suspension time missing",
        "suspensions",
        "missing_suspended_at",
        lambda t, tables: [_suspension(t, _good_customer(tables), suspended_at="")],
    ),
    BadRowKind(
        "suspension time unreadable",
        "suspensions",
        "unreadable_suspended_at",
        lambda t, tables: [_suspension(t, _good_customer(tables), suspended_at="2026-06-31 10:00:00")],
    ),
    BadRowKind(
        "resumption time unreadable",
        "suspensions",
        "unreadable_resumed_at",
        lambda t, tables: [_suspension(t, _good_customer(tables), resumed_at="later")],
    ),
    BadRowKind("suspension id with two contents", "suspensions", "conflicting_duplicate_id", _conflicting_suspensions),
    BadRowKind(
        "suspension delivered twice",
        "suspensions",
        None,
        lambda t, tables: [dict(tables["suspensions"][0])] if tables["suspensions"] else [],
    ),
]


def tag_of(kind: BadRowKind) -> str:
    return kind.name.replace(" ", "-").replace("(", "").replace(")", "").replace(",", "")


def mix_in(good: Tables, kinds: list[BadRowKind] = KINDS) -> tuple[Tables, dict[str, list[Row]]]:
    """good plus one instance of each kind; also {kind name: the rows added for it}."""
    mixed = {table: list(rows) for table, rows in good.items()}
    added: dict[str, list[Row]] = {}
    for kind in kinds:
        rows = kind.make(tag_of(kind), good)
        mixed[kind.table].extend(rows)
        added[kind.name] = rows
    return mixed, added
