"""`credit-score bench`: an operator's first load - all of history in one delivery - at N customers,
against the one-statement lower bound.

For each N the data is generated once (18 months of bills, one folder) and loaded once as one
delivery (measured: the load); then, `runs` times each, in fresh processes:
  build   the first `credit-score build` on a warehouse that holds only the loaded raw tables (the
          work file is put back as the load left it before each run): seeds, every model from raw,
          every test, the publish;
  bound   bench/one_statement.sql: one hand-written DuckDB statement from the raw tables (lower bound);
  pandas  bench/pandas_scores.py: the same mart in pandas from the raw CSV files.
Each figure is the median of the runs: wall seconds, peak resident memory of the process tree
(sampled every 50 ms, never below the largest single process's own peak) and input rows per second.
After the runs the bound's and pandas' rows are compared with the published mart: every column,
every row (EXCEPT ALL both ways); a difference fails the benchmark.

At the smallest N of 1M or more (or with --history-months), the cost of adding a month to the
history is measured: older months are built one by one and the history model's own seconds and the
whole build's seconds are recorded for each, against the history's length.

Figures go to docs/benchmark-results/<N>.json; docs/benchmarks.md and docs/benchmarks.png are
written from every JSON file there, so N can be run one at a time (10M takes a while).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

from credit_score.bench.compare import compare
from credit_score.bench.measure import dbt_profile, machine, measure, progress, source_commit
from credit_score.bench.report import DOCS, budgets, write_report
from credit_score.bench.variants import KINDS, worker_command
from credit_score.settings import month_end, work_path


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def _as_loaded(served: Path, loaded_copy: Path) -> None:
    """The warehouse as an operator's first build meets it: the raw tables as the load left them,
    nothing built or published (no models, no served file, no monthly files, no dbt state)."""
    for path in served.parent.glob(f"{served.stem}.*"):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    shutil.copyfile(loaded_copy, work_path(served))


def bench_one(
    customers: int, *, runs: int, as_of: dt.date, root: Path, history_months: int, pandas_max: int, say
) -> dict:
    workdir = root / f"n{customers}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    log = workdir / "bench.log"
    env = {"CREDIT_SCORE_DUCKDB": str(workdir / "credit_score.duckdb")}
    cli = [sys.executable, "-m", "credit_score.cli"]
    say(f"{customers:,} customers: generate")
    generated = measure(
        [*cli, "generate", "--customers", str(customers), "--as-of", as_of.isoformat(), "--out", str(workdir / "data")],
        log=log,
    )
    say(f"  generate {generated['seconds']:.1f}s; load")
    delivered_on = (month_end(as_of) + dt.timedelta(days=5)).isoformat()  # the 5th of the next month
    loaded = measure([*cli, "load", str(workdir / "data"), "--delivered-on", delivered_on], env=env, log=log)
    import duckdb

    con = duckdb.connect(str(work_path(workdir / "credit_score.duckdb")), read_only=True)
    input_rows = {
        t: con.execute(f"select count(*) from raw.{t}").fetchone()[0]
        for t in ("subscriptions", "billing", "suspensions")
    }
    con.close()
    total_rows = sum(input_rows.values())
    served = workdir / "credit_score.duckdb"
    loaded_copy = workdir / "loaded.duckdb"
    shutil.copyfile(work_path(served), loaded_copy)
    samples: dict[str, list[dict]] = {k: [] for k in KINDS}
    profiles: dict[str, list[dict]] = {}
    order = ["build", "bound", "pandas"]  # build first: it creates the mart the others are compared with
    if customers > pandas_max:
        order.remove("pandas")
        del samples["pandas"]
    for run in range(runs):
        for kind in order:
            if kind == "build":
                _as_loaded(served, loaded_copy)
            sample = measure(worker_command(kind, as_of, workdir), env=env, log=log)
            samples[kind].append(sample)
            if kind in ("models", "build"):
                profiles[kind] = dbt_profile(workdir / "credit_score.duckdb", peak_at=sample["peak_at"])
            say(f"  run {run + 1}/{runs} {kind}: {sample['seconds']:.1f}s, {sample['peak_rss_bytes'] / 2**30:.2f} GiB")
    agreement = compare(workdir, with_pandas="pandas" in samples)
    say(f"  rows compared: {agreement}")
    if not agreement["identical"]:
        raise RuntimeError(f"the four results differ at {customers:,} customers: {agreement}")
    figures = {}
    for kind, values in samples.items():
        seconds = _median([v["seconds"] for v in values])
        figures[kind] = {
            "seconds": seconds,
            "peak_rss_gib": _median([v["peak_rss_bytes"] for v in values]) / 2**30,
            "rows_per_second": total_rows / seconds,
            "runs": [round(v["seconds"], 2) for v in values],
        }
    result = {
        "customers": customers,
        "as_of": as_of.isoformat(),
        "runs": runs,
        "input_rows": input_rows,
        "customers_scored": agreement["mart_rows"],
        "generate": {"seconds": generated["seconds"], "peak_rss_gib": generated["peak_rss_bytes"] / 2**30},
        "load": {"seconds": loaded["seconds"], "peak_rss_gib": loaded["peak_rss_bytes"] / 2**30},
        "figures": figures,
        "pandas_skipped": None
        if "pandas" in samples
        else f"not run above {pandas_max:,} customers: it holds every bill in memory (see docs/benchmarks.md)",
        "agreement": agreement,
        "profile": profiles,
        "machine": machine(),
        "measured_on": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": source_commit(),
    }
    if history_months:
        result["history"] = bench_history(workdir, as_of, history_months, say)
    return result


def bench_history(workdir: Path, as_of: dt.date, months: int, say) -> list[dict]:
    """Build `months` older month ends one by one; per build: history length before, the history
    model's seconds, the whole build's seconds, rows in the month written."""
    from credit_score.build import build

    served = workdir / "credit_score.duckdb"
    import duckdb

    steps = []
    day = as_of
    dates = []
    for _ in range(months):
        day = day.replace(day=1) - dt.timedelta(days=1)
        dates.append(day)
    dates.append(as_of)  # an existing month rebuilt (and the mart left as of as_of again)
    for day in dates:
        con = duckdb.connect(str(served), read_only=True)
        before = con.execute("select count(*) from marts.customer_credit_score_history").fetchone()[0]
        con.close()
        started = time.perf_counter()
        report = build(day, database=served)
        seconds = time.perf_counter() - started
        if not report.ok:
            raise RuntimeError(f"history build for {day} failed")
        model = next(r for r in report.outcome.results if r.name == "customer_credit_score_history")
        mart = next(r for r in report.outcome.results if r.name == "customer_credit_score")
        con = duckdb.connect(str(served), read_only=True)
        after = con.execute("select count(*) from marts.customer_credit_score_history").fetchone()[0]
        month_rows = con.execute(
            "select count(*) from marts.customer_credit_score_history where as_of_date = ?", [day]
        ).fetchone()[0]
        con.close()
        step = {
            "as_of": day.isoformat(),
            "history_rows_before": before,
            "history_rows_after": after,
            "month_rows": month_rows,
            "history_model_seconds": model.execution_time,
            "mart_model_seconds": mart.execution_time,
            "build_seconds": seconds,
        }
        steps.append(step)
        say(f"  history {day}: {step}")
    return steps


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="credit-score bench", description=__doc__.split("\n")[0])
    p.add_argument("--customers", type=int, action="append", help="N (repeatable); default 1,000,000")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--as-of", default="2026-10-31")
    p.add_argument("--workdir", default="bench/work", help="scratch: data and warehouse files per N")
    p.add_argument("--results", default=str(DOCS / "benchmark-results"))
    p.add_argument("--report", default=str(DOCS / "benchmarks.md"))
    p.add_argument("--chart", default=str(DOCS / "benchmarks.png"))
    p.add_argument("--history-months", type=int, help="months added to the history (default: 3 at 1M, else 0)")
    p.add_argument("--keep", action="store_true", help="keep the scratch files")
    p.add_argument(
        "--pandas-max-customers",
        type=int,
        default=3_000_000,
        help="skip pandas above this N (it needs ~3 GiB per million customers)",
    )
    args = p.parse_args(argv)
    as_of = dt.date.fromisoformat(args.as_of)
    say = progress()
    results_dir = Path(args.results)
    results_dir.mkdir(parents=True, exist_ok=True)
    for n in args.customers or [1_000_000]:
        months = args.history_months if args.history_months is not None else (3 if n == 1_000_000 else 0)
        result = bench_one(
            n,
            runs=args.runs,
            as_of=as_of,
            root=Path(args.workdir).resolve(),
            history_months=months,
            pandas_max=args.pandas_max_customers,
            say=say,
        )
        (results_dir / f"{n}.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        for name, limit, measured, met in budgets(result):
            say(f"  budget {name}: {measured} ({limit}): {met}")
        if not args.keep:
            shutil.rmtree(Path(args.workdir).resolve() / f"n{n}", ignore_errors=True)
    write_report(results_dir, Path(args.report), Path(args.chart))
    say(f"wrote {args.report} and {args.chart}")
    return 0
