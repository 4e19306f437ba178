"""A smoke run of `credit-score bench` at 10,000 customers: it works end to end and its four results
(the dbt mart, the one-statement bound, pandas) agree.  No timing is asserted here: the figures are
the benchmark's business (docs/benchmarks.md)."""

from __future__ import annotations

import datetime as dt
import json

import duckdb

from credit_score import bench
from credit_score.bench.compare import compare
from credit_score.generate import generate
from tests import reference
from tests.helpers import differences, read_mart

AS_OF = dt.date(2026, 10, 31)


def test_bench_runs_and_its_results_agree(tmp_path):
    workdir = tmp_path / "work"
    args = ["--customers", "10000", "--runs", "1", "--history-months", "1", "--as-of", AS_OF.isoformat(), "--keep"]
    args += ["--workdir", str(workdir), "--results", str(tmp_path / "results")]
    args += ["--report", str(tmp_path / "benchmarks.md"), "--chart", str(tmp_path / "benchmarks.png")]
    assert bench.main(args) == 0

    result = json.loads((tmp_path / "results" / "10000.json").read_text())
    agreement = result["agreement"]
    expected_customers = len(reference.score_folder(workdir / "n10000" / "data", AS_OF))
    assert agreement["mart_rows"] == agreement["bound_rows"] == agreement["pandas_rows"] == expected_customers
    assert agreement["bound_differences"] == agreement["pandas_differences"] == 0
    assert set(result["figures"]) == {"build", "bound", "pandas"}
    for figures in result["figures"].values():
        assert figures["seconds"] > 0 and figures["peak_rss_gib"] > 0 and len(figures["runs"]) == 1

    added, rebuilt = result["history"]
    assert added["history_rows_after"] == added["history_rows_before"] + added["month_rows"]
    assert added["as_of"] == "2026-09-30" and rebuilt["as_of"] == AS_OF.isoformat()
    assert rebuilt["history_rows_after"] == rebuilt["history_rows_before"]
    assert added["month_rows"] == len(reference.score_folder(workdir / "n10000" / "data", dt.date(2026, 9, 30)))

    report = (tmp_path / "benchmarks.md").read_text(encoding="utf-8")
    assert "| 10,000 |" in report and "one DuckDB statement (bound)" in report and "## Budgets" in report
    assert (tmp_path / "benchmarks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the comparison can fail: one cent more on one bound row is two rows on one side only
    con = duckdb.connect(str(workdir / "n10000" / "bound.duckdb"))
    con.execute(
        "update scores set avg_monthly_spend = avg_monthly_spend + 0.01 "
        "where customer_id = (select min(customer_id) from scores)"
    )
    con.close()
    broken = compare(workdir / "n10000")
    assert broken["bound_differences"] == 2 and not broken["identical"]


def test_the_monthly_bench_runs_and_checks_the_month_against_a_full_refresh(tmp_path):
    """`bench --monthly` at 3,000 customers, three months built one by one and the fourth measured:
    it compares every table after the month with a full refresh's, and the bound with the mart."""
    args = ["--monthly", "--customers", "3000", "--history", "3", "--each-month", "--as-of", AS_OF.isoformat()]
    args += ["--workdir", str(tmp_path / "work"), "--results", str(tmp_path / "results"), "--keep"]
    args += ["--report", str(tmp_path / "monthly.md"), "--chart", str(tmp_path / "monthly.png")]
    assert bench.main(args) == 0

    result = json.loads((tmp_path / "results" / "3000-h3.json").read_text())
    assert [s["as_of"] for s in result["history"]] == ["2026-07-31", "2026-08-31", "2026-09-30"]
    assert all(s["full_refresh"] is None for s in result["history"][1:]), "builds after the first add"
    assert result["month"]["build"]["full_refresh"] is None and result["full_refresh"]["full_refresh"]
    assert "intermediate.int_billing_validated" in result["tables_compared"]
    assert result["tables_compared"]["marts.customer_credit_score"] == result["agreement"]["mart_rows"]
    assert result["agreement"]["bound_differences"] == 0
    # the same customers as one folder (monthly deliveries hold the same rows): the reference's scores
    generate(3000, tmp_path / "single", as_of=AS_OF, bill_months=10, progress=False)
    expected = reference.score_folder(tmp_path / "single", AS_OF)
    assert differences(read_mart(tmp_path / "work" / "monthly-n3000-h3" / "credit_score.duckdb"), expected) == []
    report = (tmp_path / "monthly.md").read_text(encoding="utf-8")
    assert "| 3,000 | 3 months (built monthly) |" in report and "## Each month built in turn" in report
