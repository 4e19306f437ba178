"""The report and the docs site as a person sees them: in headless Chromium (tests/browser.py).

The report's page, once the browser has rendered it, must show the marts' numbers: every number it
tags with data-key is compared with SQL written here on the served file. The docs site, served on
loopback by `credit-score docs`, must open on the mart's page with its columns and its lineage."""

from __future__ import annotations

import decimal
import os
import re
import subprocess
import sys
from collections import Counter

import duckdb
import pytest

from tests import browser


def cli(*args, served, **popen):
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(served)}
    return subprocess.Popen([sys.executable, "-m", "credit_score.cli", *args], env=env, text=True, **popen)


def sql(served, query: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(served), read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


def number(text: str):
    text = text.replace(",", "")
    if text.endswith("%"):
        return text
    return decimal.Decimal(text) if "." in text else int(text)


@pytest.fixture(scope="module")
def report_page(two_months, tmp_path_factory):
    browser.chromium()  # installs the CJK font too, before the charts are drawn
    out = tmp_path_factory.mktemp("report")
    done = cli("report", "--out", str(out), served=two_months, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = done.communicate(timeout=300)
    assert done.returncode == 0, stdout + stderr
    index = out / "index.html"
    page = browser.dom(index.as_uri())
    shown = {key: value.strip() for key, value in re.findall(r'data-key="([^"]+)"[^>]*>([^<]*)<', page)}
    return index, page, shown


def test_the_report_shows_the_marts_numbers(report_page, two_months):
    _, page, shown = report_page
    served = two_months
    ((customers, average),) = sql(served, "select count(*), avg(credit_score) from marts.customer_credit_score")
    assert number(shown["summary.customers"]) == customers
    assert number(shown["summary.average_score"]) == round(decimal.Decimal(average), 2)
    stars = sql(served, "select star_level, count(*) from marts.customer_credit_score group by 1")
    assert {k: number(v) for k, v in shown.items() if k.startswith("stars.") and k.endswith(".customers")} == {
        f"stars.{level}.customers": n for level, n in stars
    }
    assert shown["stars.3.share"] == f"{dict(stars)[3] / customers:.1%}"
    # the histogram's bins, counted here in Python from every score
    scores = [s for (s,) in sql(served, "select credit_score from marts.customer_credit_score")]
    bins = Counter(s // 50 * 50 for s in scores)
    assert {k: number(v) for k, v in shown.items() if k.startswith("histogram.")} == {
        f"histogram.{b}.customers": n for b, n in bins.items()
    }
    for dimension, key in (("brand_name", "brand"), ("tenure_band", "tenure")):
        counted = sql(served, f"select {dimension}, star_level, count(*) from marts.customer_credit_score group by all")
        expected = {f"{key}.{value}.{level}": n for value, level, n in counted}
        cells = {k: number(v) for k, v in shown.items() if k.startswith(f"{key}.") and not k.endswith(".total")}
        assert {k: v for k, v in cells.items() if v} == expected
    assert {k for k in shown if k.startswith("tenure.")} >= {f"tenure.{b}.total" for (b,) in sql(
        served, "select distinct tenure_band from marts.customer_credit_score")}  # fmt: skip


def test_the_report_shows_the_movements_watchlist_quality_and_history(report_page, two_months):
    _, page, shown = report_page
    served = two_months
    matrix = sql(
        served,
        "select coalesce(cast(from_star_level as varchar), 'new'), coalesce(cast(to_star_level as varchar), 'left'), "
        "customers from marts.star_migration_matrix where as_of_date = date '2026-10-31'",
    )
    assert {k: number(v) for k, v in shown.items() if k.startswith("migration.")} == {
        f"migration.{f}.{t}": n for f, t, n in matrix
    }
    ((size, at_risk),) = sql(served, "select count(*), sum(value_at_risk_yuan) from marts.retention_watchlist")
    assert size > 0 and number(shown["watchlist.size"]) == size and number(shown["watchlist.value_at_risk"]) == at_risk
    top = sql(
        served,
        "select priority, coalesce(msisdn_masked, '(no valid number)'), value_at_risk_yuan "
        "from marts.retention_watchlist where priority <= 20",
    )
    for priority, masked, value in top:
        assert shown[f"watchlist.{priority}.msisdn"] == masked
        assert number(shown[f"watchlist.{priority}.value_at_risk"]) == value
    assert not re.search(r"\d{11}", page), "a whole phone number on the page"
    # the signals in words, not the column's codes
    signals = dict(sql(served, "select priority, risk_signals from marts.retention_watchlist where priority <= 20"))
    assert any("," in s for s in signals.values()), "a customer with two signals among the top 20"
    for priority, codes in signals.items():
        words = shown[f"watchlist.{priority}.signals"]
        assert "_" not in words and words.count(",") == codes.count(","), (codes, words)
    rejects = sql(served, "select source_table, rejection_reason, count(*) from audit.rejected_records group by all")
    assert len(rejects) > 5, "the bad rows mixed into October were rejected"
    assert {k: number(v) for k, v in shown.items() if k.startswith("rejects.")} == {
        f"rejects.{t}.{r}": n for t, r, n in rejects
    }
    reconciled = sql(
        served, "select source_table, raw_rows, accepted_rows, rejected_rows, superseded_rows from audit.reconciliation"
    )
    for table, raw, accepted, rejected, superseded in reconciled:
        assert number(shown[f"reconciliation.{table}.raw_rows"]) == raw
        assert number(shown[f"reconciliation.{table}.accepted_rows"]) == accepted
        # superseded versions are shown apart from the rejects that are errors
        assert number(shown[f"reconciliation.{table}.superseded_rows"]) == superseded
        assert number(shown[f"reconciliation.{table}.rejected_errors"]) == rejected - superseded
    assert dict((t, s) for t, *_, s in reconciled)["subscriptions"] > 0, "the data has superseded versions"
    for delivery, bills in sql(served, "select delivery_id, billing_rows from audit.deliveries"):
        assert number(shown[f"deliveries.{delivery}.billing_rows"]) == bills
    history = sql(served, "select as_of_date, count(*) from marts.customer_credit_score_history group by 1")
    assert len(history) == 2
    for as_of, n in history:
        assert number(shown[f"trend.{as_of}.customers"]) == n


def test_the_report_renders_with_its_charts_and_chinese_labels(report_page, tmp_path):
    from credit_score.charts import cjk_font

    index, page, _ = report_page
    charts = set(re.findall(r"src=\"charts/([^\"]+)\"", page))
    assert charts == {"stars.png", "histogram.png", "brand.png", "tenure.png", "migration.png", "trend.png"}
    assert all((index.parent / "charts" / chart).stat().st_size > 5_000 for chart in charts)
    assert "准星" in page and "全球通" in page
    # tenure bands in words in the table, their codes only in the data keys
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", page)
    assert "under 1 year" in cells and "5 years and more" in cells and "under_1_year" not in cells
    assert cjk_font() is not None, "the charts' star labels need a CJK font (fonts-noto-cjk)"
    browser.screenshot(index.as_uri(), tmp_path / "report.png", height=6000)


def test_the_docs_site_opens_on_the_marts_page_with_its_lineage(two_months, tmp_path):
    server = cli(
        "docs", "--out", str(tmp_path / "site"), "--port", "0", served=two_months,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = None
        for line in server.stdout:
            found = re.search(r"serving the docs at (http://127\.0\.0\.1:\d+/\S+)", line)
            if found:
                url = found.group(1)
                break
        assert url, "credit-score docs did not start serving"
        model = f"{url}#!/model/model.credit_score.customer_credit_score"
        page = browser.dom(model, budget_ms=15000)
        assert "customer_credit_score" in page and "points_to_next_star" in page and "score_explanation" in page
        # the lineage: what the mart depends on and what reads it
        assert "int_customers_scored" in page and "customer_credit_score_history" in page
        assert "billing_credit_lines" in page or "customer_entitlements" in page
        browser.screenshot(model, tmp_path / "docs.png", height=1400, budget_ms=15000)
    finally:
        server.terminate()
        server.wait(timeout=30)
