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
(sampled every 50 ms, never below the largest single process's own peak as the kernel counts it) and
input rows per second.
After the runs the bound's and pandas' rows are compared with the published mart: every column,
every row (EXCEPT ALL both ways); a difference fails the benchmark.

At the smallest N of 1M or more (or with --history-months), the cost of adding a month to the
history is measured: older months are built one by one and the history model's own seconds and the
whole build's seconds are recorded for each, against the history's length.

With --then-month (the largest N, where a run takes an hour), the data is generated as two deliveries
of the same population instead: all of history up to as-of in one (`initial`), the month after it in
another. The first load is measured as above on the first; then the month is loaded and built
(incremental) and compared with the bound at its own month end, as a scheduler meets it after the
first load. With one run the loaded warehouse is not copied (at 30M the copy alone is 8 GB), and
without --keep each delivery's generated files are deleted once loaded: the disk is what limits 30M.

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


def _next_month_end(day: dt.date) -> dt.date:
    return month_end(month_end(day) + dt.timedelta(days=1))


def bench_one(
    customers: int,
    *,
    runs: int,
    as_of: dt.date,
    root: Path,
    history_months: int,
    pandas_max: int,
    say,
    then_month: bool = False,
    data_format: str = "csv",
    keep: bool = False,
) -> dict:
    """Long: the measured sequence (load, the builds, the bound, pandas, the comparisons) read top to bottom, each
    step's timing around its own lines."""
    workdir = root / f"n{customers}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    log = workdir / "bench.log"
    env = {"CREDIT_SCORE_DUCKDB": str(workdir / "credit_score.duckdb")}
    cli = [sys.executable, "-m", "credit_score.cli"]
    data = workdir / "data"
    say(f"{customers:,} customers: generate")
    generate = [*cli, "generate", "--customers", str(customers), "--out", str(data), "--format", data_format]
    if then_month:  # the same 18 months up to as_of in one delivery, and the month after it in another
        generate += ["--as-of", _next_month_end(as_of).isoformat(), "--deliveries", "monthly", "--months", "1"]
        generate += ["--bill-months", "19"]
    else:
        generate += ["--as-of", as_of.isoformat()]
    generated = measure(generate, log=log)
    say(f"  generate {generated['seconds']:.1f}s; load")
    if then_month:
        lines = (data / "deliveries.csv").read_text(encoding="utf-8").splitlines()[1:]
        (initial_id, delivered_on), (month_id, month_on) = [tuple(line.split(",")) for line in lines]
        folder, named = data / initial_id, ["--delivery", initial_id]
    else:
        delivered_on = (month_end(as_of) + dt.timedelta(days=5)).isoformat()  # the 5th of the next month
        folder, named = data, []
    loaded = measure([*cli, "load", str(folder), *named, "--delivered-on", delivered_on], env=env, log=log)
    if then_month and not keep:
        shutil.rmtree(folder)
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
    if runs > 1:  # each run starts from the warehouse as the load left it
        shutil.copyfile(work_path(served), loaded_copy)
    samples: dict[str, list[dict]] = {k: [] for k in KINDS}
    profiles: dict[str, list[dict]] = {}
    order = ["build", "bound", "pandas"]  # build first: it creates the mart the others are compared with
    if customers > pandas_max or then_month:  # pandas reads one folder of CSV files
        order.remove("pandas")
        del samples["pandas"]
    for run in range(runs):
        for kind in order:
            if kind == "build" and run > 0:
                _as_loaded(served, loaded_copy)
            command = worker_command(kind, as_of, workdir)
            if kind == "bound" and then_month:  # a monthly delivery plan: the latest version of each customer
                command.append("versions")
            sample = measure(command, env=env, log=log)
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
        "data_format": data_format,
        "pandas_skipped": None
        if "pandas" in samples
        else (
            "not run with --then-month: it reads one folder of CSV files"
            if then_month
            else f"not run above {pandas_max:,} customers: it holds every bill in memory (see docs/benchmarks.md)"
        ),
        "agreement": agreement,
        "profile": profiles,
        "machine": machine(),
        "measured_on": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": source_commit(),
    }
    if history_months:
        result["history"] = bench_history(workdir, as_of, history_months, say)
    if then_month:
        loaded_copy.unlink(missing_ok=True)
        result["then_month"] = bench_then_month(workdir, month_id, month_on, _next_month_end(as_of), keep, say)
    return result


def bench_then_month(workdir: Path, delivery_id: str, delivered_on: str, as_of: dt.date, keep: bool, say) -> dict:
    """The month after the first load, as the scheduler runs it: its delivery loaded, then the
    (incremental) build of its month end; the bound at that month end over all the raw tables; the
    mart compared with the bound, every column."""
    import duckdb

    served = workdir / "credit_score.duckdb"
    env = {"CREDIT_SCORE_DUCKDB": str(served)}
    log = workdir / "bench.log"
    folder = workdir / "data" / delivery_id
    say(f"  then the month {delivery_id}: load")
    cli = [sys.executable, "-m", "credit_score.cli"]
    loaded = measure(
        [*cli, "load", str(folder), "--delivery", delivery_id, "--delivered-on", delivered_on], env=env, log=log
    )
    if not keep:
        shutil.rmtree(folder)
    built = measure(worker_command("build", as_of, workdir), env=env, log=log)
    profile = dbt_profile(served, peak_at=built["peak_at"])
    say(
        f"  the month: load {loaded['seconds']:.1f}s, build {built['seconds']:.1f}s, "
        f"{built['peak_rss_bytes'] / 2**30:.2f} GiB"
    )
    bound = measure([*worker_command("bound", as_of, workdir), "versions"], env=env, log=log)
    agreement = compare(workdir, with_pandas=False)
    say(f"  the month: bound {bound['seconds']:.1f}s; rows compared: {agreement}")
    if not agreement["identical"]:
        raise RuntimeError(f"the month's mart and the bound differ: {agreement}")
    con = duckdb.connect(str(work_path(served)), read_only=True)
    try:
        month_bills = con.execute("select count(*) from raw.billing where delivery_id = ?", [delivery_id]).fetchone()[0]
    finally:
        con.close()
    return {
        "delivery": delivery_id,
        "as_of": as_of.isoformat(),
        "month_bills": month_bills,
        "load": {"seconds": loaded["seconds"], "peak_rss_gib": loaded["peak_rss_bytes"] / 2**30},
        "build": {"seconds": built["seconds"], "peak_rss_gib": built["peak_rss_bytes"] / 2**30},
        "bound": {"seconds": bound["seconds"], "peak_rss_gib": bound["peak_rss_bytes"] / 2**30},
        "agreement": agreement,
        "profile": profile,
    }


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
        "--then-month",
        action="store_true",
        help="after the first load, load and build the next month's delivery (and say what it cost)",
    )
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="the generated files' format")
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
            then_month=args.then_month,
            data_format=args.format,
            keep=args.keep,
        )
        (results_dir / f"{n}.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        for name, limit, measured, met in budgets(result):
            say(f"  budget {name}: {measured} ({limit}): {met}")
        if not args.keep:
            shutil.rmtree(Path(args.workdir).resolve() / f"n{n}", ignore_errors=True)
    write_report(results_dir, Path(args.report), Path(args.chart))
    say(f"wrote {args.report} and {args.chart}")
    return 0
