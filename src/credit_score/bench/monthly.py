"""`credit-score bench --monthly`: what one month costs once the warehouse holds a year (SPEC 6).

For each N customers and H months of history: `generate --deliveries monthly` writes H + 1 monthly
deliveries (and one with everything before them); the first H are loaded and built - all at once, or
with --each-month one after the other, loaded and built in turn as the monthly job runs them, so that
the published history grows a month per build - and then month H + 1 is measured:
  month   its delivery loaded, then `credit-score build` (incremental: the audit's tests, publish);
  full    `credit-score build --full-refresh` over the same raw tables (every model from raw);
  bound   bench/one_statement.sql over all the raw tables (the latest version of each customer): the
          least work that gives the mart's rows, with no validation and no audit.
Each runs once, in its own process (the month changes the warehouse it is measured on); the figures
are wall seconds and the peak resident memory of the process tree (credit_score.bench.measure).

The results are checked before they are reported: after the month and again after the full refresh,
every table of marts, audit and intermediate in the work file is fingerprinted (its rows and an
order-free sum of row hashes, the load-time stamps aside), and the two fingerprints must be equal;
the bound's rows must equal the published mart's, every column.

Figures go to docs/benchmark-results/monthly/<N>-h<H>.json; docs/benchmarks-monthly.md and
docs/benchmarks-monthly.png are written from every JSON file there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
from pathlib import Path

from credit_score import engines
from credit_score.bench.compare import compare
from credit_score.bench.measure import dbt_profile, keep_run_results, machine, measure, progress, source_commit
from credit_score.bench.report import DOCS, machine_lines, side_by_side
from credit_score.bench.variants import worker_command
from credit_score.settings import duckdb_memory_limit, month_end, work_path

RESULTS = DOCS / "benchmark-results" / "monthly"
BUDGETS = {  # issue 24, on 2 cores: the month at 10M (and at 1M, where dbt's fixed costs weigh more)
    "month_over_bound": 2.0,
    "month_over_bound_1m": 4.0,
    "full_over_bound": 5.0,
    "peak_rss_gb": 6.0,
    # the month's cost with 24 months of history against 12 (at 1M): "the same", within noise
    "history_24_over_12": 1.15,
}
# What "the month equals a full refresh" compares, here and in the invariant tests (tests/warehouses.py):
# columns that say when something ran, not what it holds;
WHEN = {"loaded_through", "loaded_at"}
# the schemas: what BI reads, and the state the incremental models keep;
COMPARED_SCHEMAS = ("marts", "audit", "intermediate")
# kept across full refreshes by design (full_refresh=false): a full refresh rewrites only the mart's month.
NOT_COMPARED = {"marts.customer_credit_score_history"}
CLI = [sys.executable, "-m", "credit_score.cli"]


def _month_end_of(delivery_id: str) -> dt.date:
    """'2026-09' -> 2026-09-30 (a monthly delivery covers its month)."""
    return month_end(dt.date.fromisoformat(f"{delivery_id}-01"))


def fingerprints(work: Path) -> dict[str, list[int]]:
    """{schema.table: [rows, sum of row hashes]} of the compared tables of a work file."""
    import duckdb

    con = duckdb.connect(str(work), read_only=True, config={"memory_limit": duckdb_memory_limit()})
    try:
        schemas = ", ".join(f"'{s}'" for s in COMPARED_SCHEMAS)
        tables = con.execute(
            f"select schema_name, table_name from duckdb_tables() where schema_name in ({schemas}) order by all"
        ).fetchall()
        found = {}
        for schema, table in tables:
            name = f"{schema}.{table}"
            if name in NOT_COMPARED:
                continue
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from duckdb_columns() where schema_name = ? and table_name = ? "
                    "order by column_index",
                    [schema, table],
                ).fetchall()
                if c not in WHEN
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            rows, hashed = con.execute(
                f'select count(*), coalesce(sum(hash({listed})), 0) from "{schema}"."{table}"'
            ).fetchone()
            found[name] = [int(rows), int(hashed)]
        return found
    finally:
        con.close()


def _build_worker(as_of_text: str, full_refresh: str, out: str) -> int:
    """One `credit-score build` in this process (the target and warehouse from the environment); its
    own figures to the JSON file out."""
    from credit_score.build import build, print_summary

    as_of = dt.date.fromisoformat(as_of_text)
    report = build(as_of, full_refresh=full_refresh == "full")
    print_summary(report, as_of)
    run_results = json.loads((engines.get().dbt_dir / "target" / "run_results.json").read_text(encoding="utf-8"))
    Path(out).write_text(
        json.dumps(
            {
                "ok": report.ok,
                "build_seconds": report.seconds,
                "dbt_seconds": run_results.get("elapsed_time"),
                "dbt_nodes": len(run_results.get("results", [])),
                "publish_seconds": report.publish_seconds,
                "full_refresh": report.full_refresh,
                "customers_scored": report.rows_scored,
            }
        ),
        encoding="utf-8",
    )
    return 0 if report.ok else 1


class Case:
    """One warehouse in the scratch folder, driven the way a scheduler drives `credit-score`."""

    def __init__(self, workdir: Path, say):
        self.workdir, self.say = workdir, say
        self.served = workdir / "credit_score.duckdb"
        self.env = {"CREDIT_SCORE_DUCKDB": str(self.served)}
        self.log = workdir / "bench.log"

    def run(self, command: list[str]) -> dict:
        figures = measure(command, env=self.env, log=self.log)
        return {
            "seconds": figures["seconds"],
            "peak_rss_gib": figures["peak_rss_bytes"] / 2**30,
            "peak_at": figures["peak_at"],
        }

    def load(self, delivery_id: str, delivered_on: str) -> dict:
        folder = self.workdir / "data" / delivery_id
        return self.run([*CLI, "load", str(folder), "--delivery", delivery_id, "--delivered-on", delivered_on])

    def build(self, as_of: dt.date, *, full_refresh: bool = False) -> dict:
        out = self.workdir / "build.json"
        mode = "full" if full_refresh else "auto"
        figures = self.run(
            [sys.executable, "-m", "credit_score.bench.monthly", "_build", as_of.isoformat(), mode, str(out)]
        )
        figures.update(json.loads(out.read_text(encoding="utf-8")))
        return figures


def bench_case(customers: int, history: int, *, each_month: bool, as_of: dt.date, root: Path, say) -> dict:
    """Long: the measured sequence (history, the month, the full refresh, the bound, the comparisons) read top to
    bottom, each step's timing around its own lines."""
    workdir = root / f"monthly-n{customers}-h{history}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    case = Case(workdir, say)
    say(f"{customers:,} customers, {history} months of history then one more: generate")
    generated = case.run(
        [
            *CLI, "generate", "--customers", str(customers), "--as-of", as_of.isoformat(),
            "--out", str(workdir / "data"), "--format", "parquet", "--deliveries", "monthly",
            "--months", str(history + 1), "--bill-months", str(history + 7),
        ]
    )  # fmt: skip
    lines = (workdir / "data" / "deliveries.csv").read_text(encoding="utf-8").splitlines()[1:]
    (initial_id, initial_on), *months = [tuple(line.split(",")) for line in lines]
    *earlier, (month_id, month_on) = months
    say(f"  generate {generated['seconds']:.1f}s; {len(months)} monthly deliveries after {initial_id}")

    steps = []
    loaded = [case.load(initial_id, initial_on)]
    for number, (delivery_id, delivered_on) in enumerate(earlier, start=1):
        loaded.append(case.load(delivery_id, delivered_on))
        if each_month or number == len(earlier):
            built = case.build(_month_end_of(delivery_id))
            steps.append(
                {
                    "month": number,
                    "as_of": _month_end_of(delivery_id).isoformat(),
                    "load_seconds": round(sum(x["seconds"] for x in loaded), 2),
                    **{
                        k: built[k]
                        for k in (
                            "seconds",
                            "peak_rss_gib",
                            "dbt_seconds",
                            "publish_seconds",
                            "full_refresh",
                            "customers_scored",
                        )
                    },  # fmt: skip
                }
            )
            say(
                f"  month {number} ({delivery_id}) built: {built['seconds']:.1f}s, "
                f"publish {built['publish_seconds']:.1f}s"
            )
            loaded = []

    say(f"  the month: load {month_id}")
    month_load = case.load(month_id, month_on)
    month = case.build(as_of)
    month_profile = dbt_profile(case.served, peak_at=month["peak_at"])
    keep_run_results(case.served, workdir / "month.run_results.json")  # every node's time, with --keep
    if month["full_refresh"]:
        raise RuntimeError(f"the month's build was not incremental: {month['full_refresh']}")
    say(
        f"  the month: load {month_load['seconds']:.1f}s, "
        f"build {month['seconds']:.1f}s, {month['peak_rss_gib']:.2f} GiB"
    )
    incremental = fingerprints(work_path(case.served))
    full = case.build(as_of, full_refresh=True)
    full_profile = dbt_profile(case.served, peak_at=full["peak_at"])
    keep_run_results(case.served, workdir / "full_refresh.run_results.json")
    say(f"  full refresh {full['seconds']:.1f}s, {full['peak_rss_gib']:.2f} GiB")
    refreshed = fingerprints(work_path(case.served))
    bound = case.run([*worker_command("bound", as_of, workdir), "versions"])
    say(f"  bound {bound['seconds']:.1f}s")
    agreement = compare(workdir, with_pandas=False)
    differing = sorted(
        name for name in incremental.keys() | refreshed.keys() if incremental.get(name) != refreshed.get(name)
    )
    if differing or not agreement["identical"]:
        raise RuntimeError(f"the month, the full refresh and the bound differ: tables {differing}, {agreement}")

    import duckdb

    con = duckdb.connect(str(work_path(case.served)), read_only=True)
    try:
        raw_rows = {
            t: con.execute(f"select count(*) from raw.{t}").fetchone()[0]
            for t in ("subscriptions", "billing", "suspensions")
        }
        month_rows = {
            t: con.execute(f"select count(*) from raw.{t} where delivery_id = ?", [month_id]).fetchone()[0]
            for t in ("subscriptions", "billing", "suspensions")
        }
    finally:
        con.close()
    return {
        "customers": customers,
        "history_months": history,
        "each_month": each_month,
        "as_of": as_of.isoformat(),
        "month_delivery": month_id,
        "raw_rows": raw_rows,
        "month_rows": month_rows,
        "generate": generated,
        "history": steps,
        "month": {"load": month_load, "build": month},
        "full_refresh": full,
        "bound": bound,
        "tables_compared": {name: value[0] for name, value in sorted(refreshed.items())},
        "agreement": agreement,
        "profile": {"month": month_profile, "full_refresh": full_profile},
        "machine": machine(),
        "measured_on": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": source_commit(),
    }


# --- the report ----------------------------------------------------------------------------------


def _month_seconds(r: dict) -> float:
    """The month as a scheduler pays it: its load, then its build (with the publish)."""
    return r["month"]["load"]["seconds"] + r["month"]["build"]["seconds"]


def budgets(results: list[dict]) -> list[tuple[str, str, str, str, str]]:
    """(case, budget, limit, measured, verdict).  The month's ratio is a budget at 10M (2x) and at 1M
    (4x); the full refresh's and the memory are budgets at 10M; elsewhere they are reported against the
    same limits, marked as such."""
    rows = []
    for r in results:
        case = f"{r['customers']:,}, {r['history_months']} months"
        applies = r["customers"] >= 10_000_000

        def verdict(ok: bool, applies: bool = applies) -> str:
            return ("met" if ok else "MISSED") if applies else ("within" if ok else "over") + " (budget is for 10M)"

        bound = r["bound"]["seconds"]
        month, full = _month_seconds(r), r["full_refresh"]["seconds"]
        peak = max(r["month"]["build"]["peak_rss_gib"], r["full_refresh"]["peak_rss_gib"]) * 2**30 / 1e9
        # the month's own budget: 2x from 10M, 4x at 1M (between them, reported against 1M's)
        month_limit = BUDGETS["month_over_bound" if applies else "month_over_bound_1m"]
        month_ok = month / bound <= month_limit
        if applies or r["customers"] == 1_000_000:
            month_verdict = "met" if month_ok else "MISSED"
        else:
            month_verdict = ("within" if month_ok else "over") + " (budget is for 1M)"
        rows += [
            (case, "month (load + build + publish) / bound", f"<= {month_limit}x",
             f"{month / bound:.2f}x", month_verdict),
            (case, "--full-refresh / bound", f"<= {BUDGETS['full_over_bound']}x",
             f"{full / bound:.2f}x", verdict(full / bound <= BUDGETS["full_over_bound"])),
            (case, "peak RSS of the month and the full refresh", f"< {BUDGETS['peak_rss_gb']:.0f} GB",
             f"{peak:.2f} GB", verdict(peak < BUDGETS["peak_rss_gb"])),
        ]  # fmt: skip
    for r in results:  # a history built month by month: its 13th month (12 before it) against the last
        thirteenth = next((s for s in r["history"] if s["month"] == 13), None)
        if not r["each_month"] or r["history_months"] < 24 or thirteenth is None:
            continue
        ratio = _month_seconds(r) / (thirteenth["load_seconds"] + thirteenth["seconds"])
        rows.append(
            (f"{r['customers']:,}, built monthly", f"month {r['history_months'] + 1} (24+ months before it) / "
             "month 13 (12 before it)", f"<= {BUDGETS['history_24_over_12']}x", f"{ratio:.2f}x",
             "met" if ratio <= BUDGETS["history_24_over_12"] else "MISSED")
        )  # fmt: skip
    return rows


def write_report(results_dir: Path, report: Path, chart: Path) -> None:
    """Long: the report's page, section after section, as it reads."""
    results = sorted(
        (json.loads(p.read_text(encoding="utf-8")) for p in results_dir.glob("*.json")),
        key=lambda r: (r["customers"], r["history_months"]),
    )
    if not results:
        raise SystemExit(f"no results in {results_dir}")
    lines = [
        "# Benchmarks: the monthly build",
        "",
        "Written by `credit-score bench --monthly` (see benchmarking.md); do not edit by hand. N customers, H",
        "monthly deliveries loaded and built, then month H + 1's delivery loaded and built: that month is",
        "what a scheduler pays each month. Against it, the same warehouse rebuilt with `--full-refresh`,",
        "and the one-statement bound over all the raw tables. One run each (the month changes the",
        "warehouse it is measured on); memory is the peak resident set of the whole process tree. Before",
        "a figure is written, every table of marts, audit and intermediate after the month equals the",
        "full refresh's (rows and row hashes), and the bound's rows equal the mart's, every column. What",
        "the figures mean: [performance.md](performance.md).",
        "",
    ]
    lines += machine_lines(results)
    lines += [
        "",
        "| customers | history | bills in raw | the month's bills | month: load | month: build (dbt, publish) "
        "| month: peak GiB | --full-refresh | full: peak GiB | bound | month / bound | full / bound | tables equal |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        b, f, bound = r["month"]["build"], r["full_refresh"], r["bound"]["seconds"]
        lines.append(
            f"| {r['customers']:,} | {r['history_months']} months{' (built monthly)' if r['each_month'] else ''} "
            f"| {r['raw_rows']['billing']:,} | {r['month_rows']['billing']:,} | {r['month']['load']['seconds']:.1f} "
            f"| {b['seconds']:.1f} ({b['dbt_seconds']:.1f}, {b['publish_seconds']:.1f}) | {b['peak_rss_gib']:.2f} "
            f"| {f['seconds']:.1f} | {f['peak_rss_gib']:.2f} | {bound:.1f} | {_month_seconds(r) / bound:.2f}x "
            f"| {f['seconds'] / bound:.2f}x | {len(r['tables_compared'])} of {len(r['tables_compared'])} |"
        )
    lines += ["", "## Budgets", "", "| case | budget | limit | measured | |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in budgets(results)]
    for r in results:
        if not r["each_month"]:
            continue
        lines += [
            "",
            f"## Each month built in turn ({r['customers']:,} customers)",
            "",
            "The monthly job run month after month: each row loads one delivery and builds its month end; the",
            "published history holds one more month after each. Publish time is flat because the history's",
            "months are Parquet files written once (performance.md).",
            "",
            "| month | as of | history months published | customers scored | load s | build s | of which dbt s "
            "| publish s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        last = len(r["history"]) + 1
        measured = {**r["month"]["build"], "load_seconds": r["month"]["load"]["seconds"], "as_of": r["as_of"]}
        steps = [(str(s["month"]), s["month"], s) for s in r["history"]] + [(f"{last} (measured)", last, measured)]
        for label, published, s in steps:
            scored = f"{s['customers_scored']:,}" if s.get("customers_scored") is not None else ""
            lines.append(
                f"| {label} | {s['as_of']} | {published} | {scored} | {s['load_seconds']:.1f} "
                f"| {s['seconds']:.1f} | {s['dbt_seconds']:.1f} | {s['publish_seconds']:.2f} |"
            )
    for r in results:
        lines += [
            "",
            f"## Where the time goes ({r['customers']:,} customers, {r['history_months']} months; "
            "seconds per dbt node)",
            "",
            "Nodes run on the profile's dbt threads over 2 cores, so a node's seconds include waiting for the others.",
            "",
            "| the month: node | s | --full-refresh: node | s |",
            "|---|---|---|---|",
        ]
        lines += side_by_side(r["profile"]["month"], r["profile"]["full_refresh"])
    lines += ["", "![the month against a full refresh and the bound](benchmarks-monthly.png)", ""]
    report.write_text("\n".join(lines), encoding="utf-8")
    _chart(results, chart)


def _chart(results: list[dict], chart: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=110)
    cases = [r for r in results if not r["each_month"]] or results
    xs = [r["customers"] / 1e6 for r in cases]
    left.plot(xs, [r["full_refresh"]["seconds"] for r in cases], marker="o", label="--full-refresh")
    left.plot(xs, [_month_seconds(r) for r in cases], marker="o", label="the month (load + build + publish)")
    left.plot(xs, [r["bound"]["seconds"] for r in cases], marker="o", label="one DuckDB statement (bound)")
    left.set_xlabel("customers (millions)")
    left.set_ylabel("seconds")
    left.set_title("A month against recomputing everything")
    left.grid(True, alpha=0.3)
    left.legend(loc="center right")
    left.set_ylim(bottom=0)
    for r in (r for r in results if r["each_month"]):
        steps = [*r["history"], {"month": len(r["history"]) + 1, **r["month"]["build"]}]
        months = [s["month"] for s in steps]
        right.plot(months, [s["seconds"] for s in steps], marker=".", label=f"build, {r['customers'] / 1e6:g}M")
        right.plot(
            months,
            [s["publish_seconds"] for s in steps],
            marker=".",
            label=f"of which publish, {r['customers'] / 1e6:g}M",
        )
    right.set_xlabel("months of history published")
    right.set_ylabel("seconds")
    right.set_ylim(bottom=0)
    right.set_title("Each month's build as the history grows")
    right.grid(True, alpha=0.3)
    right.legend()
    fig.tight_layout()
    fig.savefig(chart)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="credit-score bench --monthly", description=__doc__.split("\n")[0])
    p.add_argument("--monthly", action="store_true", help="(selects this benchmark)")
    p.add_argument("--customers", type=int, action="append", help="N (repeatable); default 1,000,000")
    p.add_argument("--history", type=int, action="append", help="months delivered before the measured one (default 12)")
    p.add_argument("--each-month", action="store_true", help="load and build the history's months one by one")
    p.add_argument("--as-of", default="2026-10-31", help="the measured month's end")
    p.add_argument("--workdir", default="bench/work")
    p.add_argument("--results", default=str(RESULTS))
    p.add_argument("--report", default=str(DOCS / "benchmarks-monthly.md"))
    p.add_argument("--chart", default=str(DOCS / "benchmarks-monthly.png"))
    p.add_argument("--keep", action="store_true", help="keep the scratch files")
    args = p.parse_args(argv)
    as_of = dt.date.fromisoformat(args.as_of)
    if month_end(as_of) != as_of:
        raise SystemExit("--as-of must be a month end: the measured delivery covers that month")
    say = progress()

    results_dir = Path(args.results)
    results_dir.mkdir(parents=True, exist_ok=True)
    root = Path(args.workdir).resolve()
    for n in args.customers or [1_000_000]:
        for history in args.history or [12]:
            result = bench_case(n, history, each_month=args.each_month, as_of=as_of, root=root, say=say)
            (results_dir / f"{n}-h{history}.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
            if not args.keep:
                shutil.rmtree(root / f"monthly-n{n}-h{history}", ignore_errors=True)
    write_report(results_dir, Path(args.report), Path(args.chart))
    for row in budgets([json.loads(p.read_text(encoding="utf-8")) for p in results_dir.glob("*.json")]):
        say("  budget " + ": ".join(row))
    say(f"wrote {args.report} and {args.chart}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["_build"]:
        sys.exit(_build_worker(*sys.argv[2:]))
    sys.exit(main())
