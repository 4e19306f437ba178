"""A smoke run of `credit-score bench` at 10,000 customers: it works end to end and its four results
(the dbt mart, the one-statement bound, pandas) agree.  No timing is asserted here: the figures are
the benchmark's business (docs/benchmarks.md)."""

from __future__ import annotations

import datetime as dt
import json

import duckdb

from credit_score import bench
from pytests import reference

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
    assert set(result["figures"]) == {"models", "build", "bound", "pandas"}
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
    broken = bench.compare(workdir / "n10000")
    assert broken["bound_differences"] == 2 and not broken["identical"]
