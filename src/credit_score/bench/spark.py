"""`credit-score bench --spark`: the Spark target on a standalone cluster, with 1 and 2 workers.

For each N: `generate --deliveries monthly --months 1` writes two deliveries - everything before the
as-of month, and that month.  Then for each worker count W, a new loopback cluster
(credit_score.engines.spark_cluster: a master and W one-core workers) and a new Spark warehouse:
  first   the first delivery loaded and built as of the month before (every model from raw);
  month   the month's delivery loaded and built as of the as-of date (incremental: partition overwrite);
each step in its own process: wall seconds, peak resident memory of the driver's process tree, and
of the executors' JVMs together (sampled from /proc).  With --connect, every step is a session of one
Spark Connect server on the cluster (CREDIT_SCORE_SPARK_REMOTE), started before the first load: the
long-running application an operator keeps (docs/engines.md), so no step starts a Spark application
of its own; the driver's memory is then the server's.  The month's star counts must equal DuckDB's
for the same deliveries.  The figures (and the slowest dbt nodes of each build) go to
docs/benchmark-results/spark/<N>-w<W>[-connect].json and docs/benchmarks-spark.md; docs/scale.md works a
billion subscribers out from them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import sys
import threading
from pathlib import Path
from unittest import mock

from credit_score.bench.measure import machine, measure, progress, source_commit, tree_rss
from credit_score.bench.report import DOCS, machine_lines
from credit_score.engines.spark_cluster import connect_server, standalone_cluster

RESULTS = DOCS / "benchmark-results" / "spark"
CLI = [sys.executable, "-m", "credit_score.cli"]


def _executor_peak(stop: threading.Event, peak: list[int], server: int | None = None) -> None:
    """Sample the resident memory of the executors' JVMs (children of the workers) until stop, and
    of the Connect server's process tree (PID server) into peak[1]."""
    import subprocess

    while not stop.is_set():
        listing = subprocess.run(["pgrep", "-f", "CoarseGrainedExecutorBackend"], capture_output=True, text=True)
        pids = [int(p) for p in listing.stdout.split()]
        peak[0] = max(peak[0], sum(tree_rss(p) for p in pids))
        if server is not None:
            peak[1] = max(peak[1], tree_rss(server))
        stop.wait(0.2)


def _node_seconds(dbt_dir: Path, top: int = 8) -> list[dict]:
    results = json.loads((dbt_dir / "target" / "run_results.json").read_text(encoding="utf-8"))
    nodes = sorted(
        ({"node": r["unique_id"].split(".", 2)[-1], "seconds": round(float(r["execution_time"]), 1)}
         for r in results["results"]),
        key=lambda n: n["seconds"], reverse=True,
    )  # fmt: skip
    return nodes[:top]


def bench_one(
    customers: int, workers: int, *, as_of: dt.date, data: Path, root: Path, say, connect: bool = False
) -> dict:
    from credit_score.engines.spark import SparkEngine

    name = _case(workers, connect)
    warehouse = root / f"warehouse-{name}"
    shutil.rmtree(warehouse, ignore_errors=True)
    with contextlib.ExitStack() as stack:
        cluster = stack.enter_context(
            standalone_cluster(root / f"cluster-{name}", workers=workers, cores=1, memory="3g")
        )
        env = {
            "CREDIT_SCORE_TARGET": "spark",
            "CREDIT_SCORE_SPARK_WAREHOUSE": str(warehouse),
            "CREDIT_SCORE_SPARK_MASTER": cluster.master_url,
            "CREDIT_SCORE_SPARK_EXECUTOR_MEMORY": "3g",
            "SPARK_LOCAL_IP": "127.0.0.1",
        }
        server = None
        if connect:
            with mock.patch.dict(os.environ, env):  # the server's settings (session_settings) read them
                server = stack.enter_context(connect_server(cluster.logs, warehouse, master=cluster.master_url))
            env["CREDIT_SCORE_SPARK_REMOTE"] = server.url
        log = root / f"bench-{name}.log"
        engine = SparkEngine(warehouse)
        figures: dict[str, dict] = {}
        for step, command in _steps(data, root, as_of):
            figures[step] = _measure_step(command, env=env, log=log, server=server)
            if step.endswith("build"):
                built = json.loads((root / "build.json").read_text(encoding="utf-8"))
                figures[step].update(dbt_seconds=built["dbt_seconds"], full_refresh=built["full_refresh"])
                figures[step]["slowest_nodes"] = _node_seconds(engine.dbt_dir)
            say(f"  {workers} worker(s) {step}: {figures[step]['seconds']:.1f}s")
        if figures["month build"]["full_refresh"]:
            raise RuntimeError(f"the month's build on Spark was not incremental: {figures['month build']}")
        scored, stars = engine.star_distribution()
        launched = cluster.executors_launched()
    return {
        "customers": customers,
        "workers": workers,
        "connect": connect,
        "cores_per_worker": 1,
        "executor_memory": "3g",
        "as_of": as_of.isoformat(),
        "figures": figures,
        "customers_scored": scored,
        "star_distribution": [list(row) for row in stars],
        "executors_launched": launched,
        **_measured_where(),
    }


def _measured_where() -> dict:
    return {
        "machine": machine(),
        "measured_on": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": source_commit(),
    }


def _case(workers: int, connect: bool) -> str:
    """The run's name in its folders and results file: w<W>, with -connect through a Connect server."""
    return f"w{workers}" + ("-connect" if connect else "")


def _steps(data: Path, root: Path, as_of: dt.date) -> list[tuple[str, list[str]]]:
    """The first delivery loaded and built as of the month before, then the month's."""
    (first_id, first_on), (month_id, month_on) = _deliveries(data)
    previous = as_of.replace(day=1) - dt.timedelta(days=1)
    return [
        ("first load", [*CLI, "load", str(data / first_id), "--delivery", first_id, "--delivered-on", first_on]),
        ("first build", _build_command(previous, root)),
        ("month load", [*CLI, "load", str(data / month_id), "--delivery", month_id, "--delivered-on", month_on]),
        ("month build", _build_command(as_of, root)),
    ]


def _measure_step(command: list[str], *, env: dict[str, str], log: Path, server) -> dict:
    """One step's wall seconds and peaks: the driver's (the command's process tree, or the Connect
    server's when there is one; the command is then its client) and the executors' together."""
    stop, peak = threading.Event(), [0, 0]
    sampler = threading.Thread(target=_executor_peak, args=(stop, peak, server and server.process.pid), daemon=True)
    sampler.start()
    measured = measure(command, env=env, log=log)
    stop.set()
    sampler.join()
    return {
        "seconds": measured["seconds"],
        "driver_peak_rss_gib": (peak[1] if server else measured["peak_rss_bytes"]) / 2**30,
        "executors_peak_rss_gib": peak[0] / 2**30,
        **({"client_peak_rss_gib": measured["peak_rss_bytes"] / 2**30} if server else {}),
    }


def _deliveries(data: Path) -> list[tuple[str, str]]:
    lines = (data / "deliveries.csv").read_text(encoding="utf-8").splitlines()[1:]
    return [tuple(line.split(",")) for line in lines]  # type: ignore[misc]


def _build_command(as_of: dt.date, root: Path) -> list[str]:
    out = str(root / "build.json")
    return [sys.executable, "-m", "credit_score.bench.monthly", "_build", as_of.isoformat(), "auto", out]


def duckdb_stars(data: Path, as_of: dt.date, root: Path) -> list:
    """The same deliveries built on DuckDB: the star counts Spark must give."""
    from credit_score.build import build
    from credit_score.load import load

    served = root / "duckdb" / "credit_score.duckdb"
    served.parent.mkdir(parents=True, exist_ok=True)
    for number, (delivery_id, delivered_on) in enumerate(_deliveries(data)):
        load(data / delivery_id, served, delivered_on=dt.date.fromisoformat(delivered_on),
             delivery_id=delivery_id, replace=number == 0, progress=False)  # fmt: skip
    report = build(as_of, database=served)
    if not report.ok:
        raise RuntimeError("the DuckDB build of the same deliveries failed")
    return [list(row) for row in report.star_distribution]


def _applications(result: dict) -> str:
    return "Connect server" if result.get("connect") else "per command"


def write_report(results_dir: Path, report: Path) -> None:
    results = sorted(
        (json.loads(p.read_text(encoding="utf-8")) for p in results_dir.glob("*.json")),
        key=lambda r: (r["customers"], r["workers"], r.get("connect", False)),
    )
    lines = [
        "# Benchmarks: Spark on a standalone cluster",
        "",
        "Written by `credit-score bench --spark` (see benchmarking.md); do not edit by hand. A master and W",
        "one-core workers on loopback (all on this one machine), a new warehouse each time; the load and",
        "the build (every model from raw, every data test) each once, in their own process. Driver memory",
        "is the peak resident set of the `credit-score` process tree; executors', the peak of their JVMs",
        "together. The star counts equal DuckDB's for the same files. What they mean for a billion",
        "subscribers: [scale.md](scale.md).",
        "",
    ]
    lines += machine_lines(results)
    lines += [
        "",
        "Spark applications: `per command` starts one for each load, build and publish (dbt's session",
        "in dbt's process); `Connect server` runs every step as a session of one long-running server",
        "(`--connect`), whose memory is then the driver's.",
        "",
        "| customers | workers | Spark applications | first load s | first build s (dbt) | month load s "
        "| month build s (dbt) | driver peak GiB | executors peak GiB | executors launched | customers scored "
        "| measured on |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        f = r["figures"]
        driver = max(step["driver_peak_rss_gib"] for step in f.values())
        executors = max(step["executors_peak_rss_gib"] for step in f.values())
        lines.append(
            f"| {r['customers']:,} | {r['workers']} | {_applications(r)} | {f['first load']['seconds']:.1f} "
            f"| {f['first build']['seconds']:.1f} ({f['first build']['dbt_seconds']:.1f}) "
            f"| {f['month load']['seconds']:.1f} "
            f"| {f['month build']['seconds']:.1f} ({f['month build']['dbt_seconds']:.1f}) "
            f"| {driver:.2f} | {executors:.2f} | {', '.join(map(str, r['executors_launched']))} "
            f"| {r['customers_scored']:,} | {r.get('commit', '')}, {r.get('measured_on', '')} |"
        )
    for r in results:
        for step in ("first build", "month build"):
            lines += [
                "",
                f"## Slowest dbt nodes: {step} ({r['customers']:,} customers, {r['workers']} worker(s), "
                f"{_applications(r)})",
                "",
                "| node | s |",
                "|---|---|",
                *[f"| {n['node']} | {n['seconds']} |" for n in r["figures"][step]["slowest_nodes"]],
            ]
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="credit-score bench --spark", description=__doc__.split("\n")[0])
    p.add_argument("--spark", action="store_true", help="(selects this benchmark)")
    p.add_argument("--customers", type=int, action="append", help="N (repeatable); default 1,000,000")
    p.add_argument("--workers", type=int, action="append", help="worker counts (default 1 and 2)")
    p.add_argument("--as-of", default="2026-10-31")
    p.add_argument("--workdir", default="bench/work")
    p.add_argument("--results", default=str(RESULTS))
    p.add_argument("--report", default=str(DOCS / "benchmarks-spark.md"))
    p.add_argument(
        "--connect", action="store_true",
        help="every step a session of one Spark Connect server on the cluster, instead of an application each",
    )  # fmt: skip
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)
    as_of = dt.date.fromisoformat(args.as_of)
    say = progress()

    results_dir = Path(args.results)
    results_dir.mkdir(parents=True, exist_ok=True)
    for n in args.customers or [1_000_000]:
        root = Path(args.workdir).resolve() / f"spark-n{n}"
        shutil.rmtree(root, ignore_errors=True)
        data = root / "data"
        say(f"{n:,} customers: generate")
        measure([*CLI, "generate", "--customers", str(n), "--as-of", as_of.isoformat(), "--out", str(data),
                 "--format", "parquet", "--deliveries", "monthly", "--months", "1"])  # fmt: skip
        expected = duckdb_stars(data, as_of, root)
        for workers in args.workers or [1, 2]:
            result = bench_one(n, workers, as_of=as_of, data=data, root=root, say=say, connect=args.connect)
            if result["star_distribution"] != expected:
                raise RuntimeError(f"Spark's stars differ from DuckDB's: {result['star_distribution']} vs {expected}")
            (results_dir / f"{n}-{_case(workers, args.connect)}.json").write_text(
                json.dumps(result, indent=2), encoding="utf-8"
            )
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    write_report(results_dir, Path(args.report))
    say(f"wrote {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
