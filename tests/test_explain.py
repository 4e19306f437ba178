"""`credit-score explain` (SPEC 8's provenance) on the worked examples: for every scored customer the
explanation line, each part's points and rule row, the spend window's bills (id, amount, file line)
and the suspensions counted and not counted equal what the independent reference computes from the
raw files and what the files themselves hold; a customer or date not published is refused naming
what is; a delivery loaded since the publication is flagged, not explained away."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from credit_score.build import build
from credit_score.explain import NotExplained, explain
from tests import reference
from tests.conftest import copy_warehouse
from tests.helpers import EXAMPLES, load_one, write_folder

OCTOBER = dt.date(2026, 10, 31)


@pytest.fixture(scope="module")
def database(examples_month_end, tmp_path_factory):
    database = copy_warehouse(examples_month_end, tmp_path_factory.mktemp("explain"))
    saved = os.environ.get("CREDIT_SCORE_DUCKDB")
    os.environ["CREDIT_SCORE_DUCKDB"] = str(database)
    yield database
    if saved is None:
        os.environ.pop("CREDIT_SCORE_DUCKDB")
    else:
        os.environ["CREDIT_SCORE_DUCKDB"] = saved


def lines(table: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of an example file with their line numbers (the header is line 1)."""
    with (EXAMPLES / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
        return [(number, row) for number, row in enumerate(csv.DictReader(handle), start=2)]


def test_every_scored_customer_is_explained_as_the_reference_and_the_files_say(database):
    expected = reference.score_folder(EXAMPLES, OCTOBER)
    window = [f"2026-{m:02d}" for m in range(5, 11)]
    assert len(expected) >= 10
    for customer, want in expected.items():
        found = explain(customer)
        assert found["as_of_date"] == "2026-10-31" and (found["msisdn_masked"] or "") == want["msisdn_masked"]
        assert found["explanation"] == want["score_explanation"], customer
        parts = found["parts"]
        for part, column in [("brand", "brand_points"), ("tenure", "tenure_points"), ("spend", "spend_points")]:
            assert parts[part]["points"] == parts[part]["published_points"] == int(want[column]), (customer, part)
        assert parts["suspensions"]["points"] == int(want["suspension_points"]), customer
        assert found["changed_since_published"] == []
        # SPEC 8: the rule version, and each rule row of it
        assert found["rule_version"] == want["rule_version"], customer
        for part in ("brand", "tenure", "spend"):
            assert parts[part]["rule"]["rule_version"] == want["rule_version"], (customer, part)
        spend = parts["spend"]
        assert spend["average"] == want["avg_monthly_spend"] and spend["months_counted"] == int(want["spend_months"])
        # the bills behind the window: every bill of the file in a window month, with its line
        listed = {(b["bill_id"], b["amount"], b["file_line"]) for m in spend["months"] for b in m["bills"]}
        in_file = {
            (row["bill_id"], f"{Decimal(row['amount']):.2f}", number)
            for number, row in lines("billing")
            if row["customer_id"].strip() == customer and row["bill_month"].strip()[:7] in window
        }
        assert listed == in_file, customer
        assert sum(Decimal(m["sum"]) for m in spend["months"]) == Decimal(spend["total"])
        # the suspensions up to the date, each counted or not as the reference counts them
        events = parts["suspensions"]["events"]
        in_file = {
            (row["suspended_at"].strip()[:10], number)
            for number, row in lines("suspensions")
            if row["customer_id"].strip() == customer and row["suspended_at"].strip()[:10] <= "2026-10-31"
        }
        assert {(e["suspended_date"], e["file_line"]) for e in events} == in_file, customer
        assert sum(e["counted"] for e in events) == int(want["suspension_count"]), customer
        assert all(e["not_counted_because"] for e in events if not e["counted"])
        star = found["star"]
        assert star["rule"]["star_label"] == want["star_label"]
        if want["next_star_label"]:
            assert star["next_star"] == {
                "star_label": want["next_star_label"],
                "points_needed": int(want["points_to_next_star"]),
            }
        assert (
            star["entitlements"]["credit_limit_yuan"]
            == reference.entitlements({customer: want})[customer]["credit_limit_yuan"]
        )


def test_the_lookback_edge_and_a_free_reason_say_why_they_do_not_count(database):
    reasons = {
        e["not_counted_because"]
        for c in reference.score_folder(EXAMPLES, OCTOBER)
        for e in explain(c)["parts"]["suspensions"]["events"]
    }
    assert "a free reason" in reasons
    assert "outside the lookback (on or before 2025-10-31)" in reasons


def test_a_customer_or_date_not_published_is_refused_naming_what_is(database):
    with pytest.raises(NotExplained, match="NOBODY was not scored on 2026-10-31: never scored"):
        explain("NOBODY")
    with pytest.raises(NotExplained, match=r"2026-09-30 was never published; the published dates: 2026-10-31"):
        explain("W01", dt.date(2026, 9, 30))


def test_a_bill_built_after_the_publication_is_flagged(database, tmp_path):
    """A correction loaded and built, but not published (its build's audit failed): the bills where the
    warehouse builds no longer give the published spend, and explain says so."""
    customer = next(c for c, row in reference.score_folder(EXAMPLES, OCTOBER).items() if row["spend_points"] == "0")
    folder = write_folder(
        tmp_path / "correction",
        {"billing": [{"bill_id": "LATE-1", "customer_id": customer, "bill_month": "2026-10", "amount": "5000.00"}]},
    )
    before = explain(customer)
    load_one(folder, database, delivery_id="late", delivered_on=dt.date(2026, 11, 6), replace=False)
    assert not build(OCTOBER, database=database, extra_vars={"max_reject_share": -1}).ok  # nothing published
    after = explain(customer)
    assert before["changed_since_published"] == []
    assert after["parts"]["spend"]["points"] > after["parts"]["spend"]["published_points"]
    assert after["changed_since_published"] and after["explanation"] == before["explanation"]
    october = next(m for m in after["parts"]["spend"]["months"] if m["month"] == "2026-10")
    assert {
        "bill_id": "LATE-1",
        "amount": "5000.00",
        "delivery_id": "late",
        "file_line": 2,
        "exact_copies": 0,
    } in october["bills"]


def test_the_command_prints_text_and_json_with_only_the_masked_number(database):
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "credit_score.cli", "explain", *args],
        env={**os.environ, "CREDIT_SCORE_DUCKDB": str(database)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    numbers = {row["msisdn"].strip() for _, row in lines("subscriptions") if row["msisdn"].strip()}
    shown = run("W01")
    assert shown.returncode == 0, shown.stderr
    assert "as published for 2026-10-31" in shown.stdout and "spend" in shown.stdout and "entitlements" in shown.stdout
    as_json = run("W01", "--json")
    assert json.loads(as_json.stdout)["customer_id"] == "W01"
    assert not any(n in shown.stdout + as_json.stdout for n in numbers if len(n) >= 10)
    refused = run("NOBODY")
    assert refused.returncode == 1 and "never scored" in refused.stderr and "Traceback" not in refused.stderr
