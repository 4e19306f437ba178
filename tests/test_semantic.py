"""The semantic layer as an analyst meets it: `credit-score metrics query` (MetricFlow's mf) against the
served file, each answer compared with SQL written here on the published marts.  The warehouse: 4,000
generated customers built at two month-ends (conftest's two_months): stars move, the watchlist has
customers."""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal

import duckdb
import pytest


@pytest.fixture(scope="module")
def served(two_months):
    return two_months


def mf_query(served, tmp_path, metrics: list[str], group_by: list[str]) -> list[dict[str, str]]:
    out = tmp_path / f"{'-'.join(metrics)}.csv"
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(served)}
    args = ["query", "--metrics", ",".join(metrics), "--group-by", ",".join(group_by), "--csv", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "credit_score.cli", "metrics", *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0 and out.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    with out.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def sql(served, query: str) -> list[tuple]:
    con = duckdb.connect(str(served), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def test_scores_by_star_equal_sql_on_the_mart(served, tmp_path):
    metrics = ["customers_scored", "average_credit_score", "high_value_customers", "high_value_share"]
    answered = mf_query(served, tmp_path, metrics, ["customer__star_level"])
    expected = sql(
        served,
        "select star_level, count(*), avg(credit_score), sum(case when star_level >= 4 then 1 else 0 end) "
        "from marts.customer_credit_score group by 1",
    )
    assert len(answered) == len(expected) == 6
    got = {int(r["customer__star_level"]): r for r in answered}
    for level, customers, average, high in expected:
        row = got[level]
        assert int(row["customers_scored"]) == customers
        assert float(row["average_credit_score"]) == pytest.approx(average, rel=1e-12)
        assert int(row["high_value_customers"]) == high
        assert float(row["high_value_share"]) == (1.0 if level >= 4 else 0.0)
    # over everyone: the share is a ratio of two metrics, not an average of shares
    (overall,) = mf_query(served, tmp_path, ["high_value_share", "customers_scored"], ["metric_time__day"])
    ((total, high),) = sql(
        served, "select count(*), count(*) filter (where star_level >= 4) from marts.customer_credit_score"
    )
    assert int(overall["customers_scored"]) == total
    assert float(overall["high_value_share"]) == pytest.approx(high / total, rel=1e-12)


@pytest.mark.parametrize("dimension", ["brand_name", "tenure_band", "star_label"])
def test_customers_by_dimension_equal_sql(served, tmp_path, dimension):
    answered = mf_query(served, tmp_path, ["customers_scored"], [f"customer__{dimension}"])
    expected = dict(sql(served, f"select {dimension}, count(*) from marts.customer_credit_score group by 1"))
    assert {r[f"customer__{dimension}"]: int(r["customers_scored"]) for r in answered} == expected


def test_watchlist_metrics_join_the_customers_stars(served, tmp_path):
    """The watchlist's size and value at risk by the customer's current star: a join through the
    customer entity (a customer who left has no current star: null)."""
    answered = mf_query(served, tmp_path, ["watchlist_size", "value_at_risk_yuan"], ["customer__star_level"])
    expected = sql(
        served,
        "select s.star_level, count(*), sum(w.value_at_risk_yuan) from marts.retention_watchlist w "
        "left join marts.customer_credit_score s on w.customer_id = s.customer_id group by 1",
    )
    assert expected, "the scenario has a watchlist"
    got = {
        (int(r["customer__star_level"]) if r["customer__star_level"] else None): r for r in answered
    }  # fmt: skip
    assert set(got) == {level for level, _, _ in expected}
    for level, customers, value in expected:
        assert int(got[level]["watchlist_size"]) == customers
        assert Decimal(got[level]["value_at_risk_yuan"]) == value


def test_stars_gained_and_lost_per_month_equal_the_star_changes(served, tmp_path):
    answered = mf_query(served, tmp_path, ["stars_gained", "stars_lost"], ["metric_time__month"])
    expected = sql(
        served,
        "select cast(date_trunc('month', as_of_date) as date), count(*) filter (where change_type = 'up'), "
        "count(*) filter (where change_type = 'down') from marts.customer_star_changes group by 1",
    )
    got = {
        dt.date.fromisoformat(r["metric_time__month"][:10]): (int(r["stars_gained"]), int(r["stars_lost"]))
        for r in answered
    }
    assert got == {month: (up, down) for month, up, down in expected}
    assert sum(up + down for up, down in got.values()) > 0, "the scenario's stars moved"


def test_money_prints_with_its_fen(served):
    """On the screen (not --csv) a money metric shows 2 decimals: the watchlist's value at risk as SQL
    sums it, to the fen, not rounded to the yuan."""
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(served)}
    done = subprocess.run(
        [sys.executable, "-m", "credit_score.cli", "metrics", "query", "--metrics", "value_at_risk_yuan"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    ((total,),) = sql(served, "select sum(value_at_risk_yuan) from marts.retention_watchlist")
    assert total is not None and total != total.to_integral_value(), "a sum with fen, or the test proves nothing"
    assert f"{total:.2f}" in done.stdout, done.stdout
