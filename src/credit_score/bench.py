"""`credit-score bench`: what a build costs at N customers, against the one-statement lower bound.

For each N the data is generated once (and loaded once); then, `runs` times each, in fresh processes:
  models  `dbt run`: the models alone (no seeds, no tests) on the loaded raw tables;
  build   `credit-score build`: seeds, models, every test, publish — what the monthly job runs;
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
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from credit_score.contract import contract, contract_columns
from credit_score.engines.duckdb import DuckDBEngine
from credit_score.settings import PROJECT_DIR, month_end, work_path

BENCH_DIR = PROJECT_DIR / "bench"
DOCS = PROJECT_DIR / "docs"
KINDS = ("models", "build", "bound", "pandas")
BUDGETS = {  # SPEC of issue 5, at 10 million customers on 2 cores
    "models_over_bound": 1.5,
    "build_over_bound": 3.0,
    "peak_rss_gb": 6.0,
    "generate_seconds_10m": 90.0,
}


# --- measuring a process tree -------------------------------------------------------------------


def tree_rss(root: int) -> int:
    """Resident bytes of root and all its descendants, from /proc."""
    total, stack, seen = 0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def measure(command: list[str], *, env: dict[str, str] | None = None, log: Path | None = None) -> dict:
    """Run command; return its wall seconds and the peak RSS of its process tree (bytes)."""
    out = log.open("ab") if log else subprocess.DEVNULL
    started = time.perf_counter()
    process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(process.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if log:
        out.close()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}); see {log}")
    return {"seconds": seconds, "peak_rss_bytes": max(peak, usage.ru_maxrss * 1024)}


# --- the four ways of computing the mart (each run in its own process by `measure`) -------------


LATEST_SUBSCRIPTIONS = (
    "(select * from raw.subscriptions "
    "qualify row_number() over (partition by customer_id order by updated_at desc) = 1)"
)


def bound_sql(as_of: dt.date, *, versions: bool = False) -> str:
    """The bound's statement for as_of; versions: raw holds several versions of a customer (monthly
    deliveries), of which the latest counts."""
    window_end = as_of if month_end(as_of) == as_of else as_of.replace(day=1) - dt.timedelta(days=1)
    index = window_end.year * 12 + window_end.month - 1 - 5
    window_start = dt.date(index // 12, index % 12 + 1, 1)
    year_before = as_of.replace(day=1, year=as_of.year - 1)  # D minus 12 months, clamped to the month's end
    lookback_start = year_before.replace(day=min(as_of.day, month_end(year_before).day))
    text = (BENCH_DIR / "one_statement.sql").read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    return body.format(
        as_of=as_of.isoformat(),
        lookback_start=lookback_start.isoformat(),
        window_start=f"{window_start:%Y-%m}",
        window_end=f"{window_end:%Y-%m}",
        subscriptions=LATEST_SUBSCRIPTIONS if versions else "raw.subscriptions",
    )


def _worker(argv: list[str]) -> int:
    kind, as_of_text, workdir_text, *options = argv
    as_of, workdir = dt.date.fromisoformat(as_of_text), Path(workdir_text)
    served = workdir / "credit_score.duckdb"
    if kind == "models":
        from credit_score.dbt import run_dbt

        outcome = run_dbt(["run"], variables={"as_of_date": as_of.isoformat()}, env=DuckDBEngine(served).dbt_env())
        return 0 if outcome.success else 1
    if kind == "bound":
        import duckdb

        target = workdir / "bound.duckdb"
        target.unlink(missing_ok=True)
        con = duckdb.connect(str(target))
        con.execute(f"set memory_limit = '{os.environ.get('CREDIT_SCORE_DUCKDB_MEMORY_LIMIT', '4GB')}'")
        con.execute("set preserve_insertion_order = false")
        con.execute(f"attach '{work_path(served)}' as work (read_only)")
        con.execute("use work")
        con.execute(f"create table bound.main.scores as {bound_sql(as_of, versions='versions' in options)}")
        con.close()
        return 0
    if kind == "pandas":
        sys.path.insert(0, str(BENCH_DIR))
        import pandas_scores  # type: ignore[import-not-found]

        frame = pandas_scores.score(workdir / "data", as_of)
        frame.to_parquet(workdir / "pandas.parquet", index=False)
        return 0
    raise SystemExit(f"unknown kind {kind}")


def worker_command(kind: str, as_of: dt.date, workdir: Path) -> list[str]:
    if kind == "build":
        return [sys.executable, "-m", "credit_score.cli", "build", "--as-of", as_of.isoformat()]
    return [sys.executable, "-m", "credit_score.bench", "_worker", kind, as_of.isoformat(), str(workdir)]


def _node_name(unique_id: str) -> str:
    """'model.credit_score.x' -> 'model x'; a data test's id ends with a hash, its name comes before."""
    kind, _, *rest = unique_id.split(".")
    name = rest[0] if kind == "test" and len(rest) > 1 else rest[-1]
    return f"{kind} {name}"


def dbt_profile(served: Path, top: int = 12) -> list[dict]:
    """The slowest nodes of the dbt invocation that just ended on the warehouse (its
    target/run_results.json): where the time of a `models` or `build` run goes.  Nodes run on 4 dbt
    threads sharing 2 cores, so a node's seconds include waiting for the others; the ranking is what
    matters."""
    path = DuckDBEngine(served).dbt_dir / "target" / "run_results.json"
    if not path.exists():
        return []
    results = json.loads(path.read_text(encoding="utf-8")).get("results", [])
    nodes = [
        {
            "node": _node_name(r["unique_id"]),
            "seconds": round(float(r.get("execution_time") or 0), 2),
        }
        for r in results
    ]
    nodes.sort(key=lambda n: n["seconds"], reverse=True)
    return nodes[:top] + [{"node": f"all {len(nodes)} nodes", "seconds": round(sum(n["seconds"] for n in nodes), 1)}]


# --- checking that the four agree ---------------------------------------------------------------

def _mart_columns() -> str:
    return ", ".join(contract_columns())


def _pandas_as_mart(path: Path) -> str:
    """The pandas result's columns as the mart's contract types them (pandas keeps the average in fen)."""
    expressions = []
    for column, data_type in contract():
        if column == "avg_monthly_spend":
            expressions.append(f"cast(cast(avg_fen as decimal(18, 0)) * 0.01 as {data_type})")
        elif "{{" in data_type:  # text: as it is
            expressions.append(column)
        else:
            expressions.append(f"cast({column} as {data_type})")
    return f"select {', '.join(expressions)} from read_parquet('{path}')"


def compare(workdir: Path, *, with_pandas: bool = True) -> dict:
    """Rows of the mart, of the bound and of pandas, and rows on one side only (must be 0)."""
    import duckdb

    con = duckdb.connect(str(workdir / "credit_score.duckdb"), read_only=True)
    try:
        con.execute(f"attach '{workdir / 'bound.duckdb'}' as bound (read_only)")
        columns = _mart_columns()
        mart = f"select {columns} from marts.customer_credit_score"
        sides = {"bound": f"select {columns} from bound.main.scores"}
        if with_pandas:
            sides["pandas"] = _pandas_as_mart(workdir / "pandas.parquet")
        result = {"mart_rows": con.execute(f"select count(*) from ({mart})").fetchone()[0]}
        for name, query in sides.items():
            result[f"{name}_rows"] = con.execute(f"select count(*) from ({query})").fetchone()[0]
            result[f"{name}_differences"] = con.execute(
                f"select (select count(*) from ({mart} except all {query})) "
                f"+ (select count(*) from ({query} except all {mart}))"
            ).fetchone()[0]
    finally:
        con.close()
    result["identical"] = all(result[f"{n}_differences"] == 0 for n in sides) and all(
        result[f"{n}_rows"] == result["mart_rows"] for n in sides
    )
    return result


# --- one N ---------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


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
    samples: dict[str, list[dict]] = {k: [] for k in KINDS}
    profiles: dict[str, list[dict]] = {}
    order = ["build", "models", "bound", "pandas"]  # build first: it creates the seeds and the mart
    if customers > pandas_max:
        order.remove("pandas")
        del samples["pandas"]
    for run in range(runs):
        for kind in order:
            sample = measure(worker_command(kind, as_of, workdir), env=env, log=log)
            samples[kind].append(sample)
            if kind in ("models", "build"):
                profiles[kind] = dbt_profile(workdir / "credit_score.duckdb")
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


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    import duckdb

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "duckdb_memory_limit": os.environ.get("CREDIT_SCORE_DUCKDB_MEMORY_LIMIT", "4GB"),
        "os": platform.platform(),
    }


# --- the report ----------------------------------------------------------------------------------


def progress() -> Callable[[str], None]:
    """A `say` that prints each message with the seconds since the benchmark started."""
    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"[bench {time.perf_counter() - started:7.1f}s] {message}", flush=True)

    return say


def machine_lines(results: list[dict]) -> list[str]:
    """One line per machine the results were measured on."""
    lines = []
    for text in sorted({json.dumps(r["machine"], sort_keys=True) for r in results}):
        m = json.loads(text)
        lines.append(
            f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; {m['os']}; Python {m['python']}, "
            f"DuckDB {m['duckdb']} (memory_limit {m['duckdb_memory_limit']})."
        )
    return lines


def side_by_side(left: list[dict], right: list[dict]) -> list[str]:
    """Table rows of two node profiles ({node, seconds}) side by side."""
    blank = {"node": "", "seconds": ""}
    rows = []
    for i in range(max(len(left), len(right))):
        a, b = (left[i] if i < len(left) else blank), (right[i] if i < len(right) else blank)
        rows.append(f"| {a['node']} | {a['seconds']} | {b['node']} | {b['seconds']} |")
    return rows


def _fmt_gib(value: float) -> str:
    return f"{value:.2f}"


def budgets(result: dict) -> list[tuple[str, str, str, str]]:
    """(budget, limit, measured, verdict) for one N.  The budgets are set at 10 million customers;
    below that the fixed costs (dbt's start-up, ~4 s; the tests' queries) weigh more and the
    verdict says so instead of met/missed."""
    f, n = result["figures"], result["customers"]
    applies = n >= 10_000_000

    def verdict(ok: bool) -> str:
        return ("met" if ok else "MISSED") if applies else ("within" if ok else "over") + " (budget is for 10M)"

    models = f["models"]["seconds"] / f["bound"]["seconds"]
    whole = f["build"]["seconds"] / f["bound"]["seconds"]
    peak_gb = max(f["models"]["peak_rss_gib"], f["build"]["peak_rss_gib"]) * 2**30 / 1e9
    generate = result["generate"]["seconds"]
    return [
        (
            "models / bound",
            f"<= {BUDGETS['models_over_bound']}x",
            f"{models:.2f}x",
            verdict(models <= BUDGETS["models_over_bound"]),
        ),
        (
            "build with tests / bound",
            f"<= {BUDGETS['build_over_bound']}x",
            f"{whole:.2f}x",
            verdict(whole <= BUDGETS["build_over_bound"]),
        ),
        (
            "peak RSS of models and build",
            f"< {BUDGETS['peak_rss_gb']:.0f} GB",
            f"{peak_gb:.2f} GB",
            verdict(peak_gb < BUDGETS["peak_rss_gb"]),
        ),
        (
            "generate",
            f"< {BUDGETS['generate_seconds_10m']:.0f} s",
            f"{generate:.1f} s",
            verdict(generate < BUDGETS["generate_seconds_10m"]),
        ),
    ]


def write_report(results_dir: Path, report: Path, chart: Path) -> None:
    results = sorted((json.loads(p.read_text()) for p in results_dir.glob("*.json")), key=lambda r: r["customers"])
    if not results:
        raise SystemExit(f"no results in {results_dir}")
    lines = [
        "# Benchmarks",
        "",
        "Written by `credit-score bench` (see the README); do not edit by hand. Each figure is the median of",
        "the runs shown; memory is the peak resident set of the whole process tree. `rows/s` counts input",
        "rows (subscriptions + bills + suspensions). Rows of the bound and of pandas were compared with the",
        "published mart, every column: the differences column must read 0. What the figures mean, and why",
        "a budget is missed: [performance.md](performance.md).",
        "",
    ]
    lines += machine_lines(results)
    lines += [
        "",
        "| customers | bills | what | seconds (median) | runs | peak GiB | rows/s | vs bound |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        bills = r["input_rows"]["billing"]
        total = sum(r["input_rows"].values())
        bound = r["figures"]["bound"]["seconds"]
        lines.append(
            f"| {r['customers']:,} | {bills:,} | generate (once) | {r['generate']['seconds']:.1f} | 1 | "
            f"{_fmt_gib(r['generate']['peak_rss_gib'])} | {total / r['generate']['seconds']:,.0f} | |"
        )
        lines.append(
            f"| | | load (once) | {r['load']['seconds']:.1f} | 1 | {_fmt_gib(r['load']['peak_rss_gib'])} | "
            f"{total / r['load']['seconds']:,.0f} | |"
        )
        for kind, label in (
            ("models", "models alone (`dbt run`)"),
            ("build", "`credit-score build` with tests"),
            ("bound", "one DuckDB statement (bound)"),
            ("pandas", "pandas"),
        ):
            f = r["figures"].get(kind)
            if f is None:
                lines.append(f"| | | {label} | not run | | | | |")
                continue
            lines.append(
                f"| | | {label} | {f['seconds']:.1f} | {', '.join(str(x) for x in f['runs'])} | "
                f"{_fmt_gib(f['peak_rss_gib'])} | {f['rows_per_second']:,.0f} | {f['seconds'] / bound:.2f}x |"
            )
    lines += [
        "",
        "## Agreement",
        "",
        "| customers | mart rows | bound rows | bound differences | pandas rows | pandas differences |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        a = r["agreement"]
        pandas = f"{a['pandas_rows']:,} | {a['pandas_differences']}" if "pandas_rows" in a else "not run | not run"
        lines.append(
            f"| {r['customers']:,} | {a['mart_rows']:,} | {a['bound_rows']:,} | {a['bound_differences']} | {pandas} |"
        )
    lines += ["", "## Budgets", "", "| customers | budget | limit | measured | |", "|---|---|---|---|---|"]
    for r in results:
        for name, limit, measured, met in budgets(r):
            lines.append(f"| {r['customers']:,} | {name} | {limit} | {measured} | {met} |")
    for r in results:
        if "history" not in r:
            continue
        lines += [
            "",
            f"## Adding a month to the history ({r['customers']:,} customers)",
            "",
            "| as of | history rows before | rows written | history model s | mart model s | whole build s |",
            "|---|---|---|---|---|---|",
        ]
        for h in r["history"]:
            lines.append(
                f"| {h['as_of']} | {h['history_rows_before']:,} | {h['month_rows']:,} | "
                f"{h['history_model_seconds']:.2f} | {h['mart_model_seconds']:.2f} | {h['build_seconds']:.1f} |"
            )
        added = [h for h in r["history"] if h["history_rows_after"] > h["history_rows_before"]]
        if added:
            one = statistics.median(h["build_seconds"] for h in added)
            months = len({h["as_of"] for h in r["history"]})
            lines += [
                "",
                f"Adding a month costs one build ({one:.1f} s, of which the history model "
                f"{statistics.median(h['history_model_seconds'] for h in added):.2f} s) whatever the history's "
                f"length; rebuilding the {months} months kept from scratch would cost {months} builds "
                f"(about {months * one:.0f} s), and 12 months about {12 * one:.0f} s.",
            ]
    for r in results:
        if not r.get("profile"):
            continue
        lines += [
            "",
            f"## Where the time goes ({r['customers']:,} customers, last run, seconds per dbt node)",
            "",
            "Nodes run on 4 dbt threads over 2 cores, so a node's seconds include waiting for the others.",
            "",
            "| models alone: node | s | build with tests: node | s |",
            "|---|---|---|---|",
        ]
        lines += side_by_side(r["profile"].get("models", []), r["profile"].get("build", []))
    lines += ["", "![time against customers](benchmarks.png)", ""]
    report.write_text("\n".join(lines), encoding="utf-8")
    _chart(results, chart)


def _chart(results: list[dict], chart: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["customers"] / 1e6 for r in results]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for kind, label in (
        ("build", "credit-score build (with tests)"),
        ("models", "models alone (dbt run)"),
        ("pandas", "pandas"),
        ("bound", "one DuckDB statement (bound)"),
    ):
        points = [(r["customers"] / 1e6, r["figures"][kind]["seconds"]) for r in results if kind in r["figures"]]
        ax.plot([x for x, _ in points], [y for _, y in points], marker="o", label=label)
    ax.plot(xs, [r["generate"]["seconds"] for r in results], marker="x", linestyle="--", label="generate")
    ax.set_xlabel("customers (millions)")
    ax.set_ylabel("seconds (median)")
    ax.set_title("Credit score mart: time against customers")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(chart)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--monthly" in argv:  # the monthly case: see credit_score/bench_monthly.py
        from credit_score import bench_monthly

        return bench_monthly.main(argv)
    if "--spark" in argv:  # Spark on a standalone cluster: see credit_score/bench_spark.py
        from credit_score import bench_spark

        return bench_spark.main(argv)
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


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        sys.exit(_worker(sys.argv[2:]))
    sys.exit(main())
