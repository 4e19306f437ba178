"""The `credit-score` command line (SPEC section 5)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from credit_score import console, privacy, settings


def _as_of(text: str | None) -> dt.date:
    return settings.parse_date(text) if text else settings.default_as_of_date()


def cmd_generate(args: argparse.Namespace) -> int:
    from credit_score.generate import generate

    generate(
        args.customers,
        Path(args.out),
        seed=args.seed,
        as_of=_as_of(args.as_of),
        file_format=args.format,
        deliveries=args.deliveries,
        months=args.months,
        **({"bill_months": args.bill_months} if args.bill_months else {}),
    )
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from credit_score.load import LoadError, load, load_listed, read_listing

    if args.directory is None and args.list is None:
        raise SystemExit(
            "credit-score load: which delivery? give its folder (credit-score load DIR --delivered-on YYYY-MM-DD) "
            "or a listing of several (credit-score load --list deliveries.csv)"
        )
    if args.directory is not None and args.list is not None:
        raise SystemExit("credit-score load: give a delivery folder DIR or --list FILE, not both")
    if args.list and (args.delivery or args.delivered_on):
        raise SystemExit("credit-score load: --list names each delivery and its date; drop --delivery/--delivered-on")
    try:
        if args.list:
            steps = read_listing(Path(args.list))
            load_listed(
                steps, replace=args.replace, encoding=args.encoding, target=args.target, allow_empty=args.allow_empty
            )
        else:
            delivered_on = settings.parse_date(args.delivered_on) if args.delivered_on else settings.today()
            load(
                Path(args.directory),
                delivered_on=delivered_on,
                delivery_id=args.delivery,
                replace=args.replace,
                encoding=args.encoding,
                target=args.target,
                allow_empty=args.allow_empty,
            )
    except LoadError as e:
        print(f"credit-score load: {e}", file=sys.stderr)
        if not e.partial:  # the listed deliveries load in one transaction (one check of every file on Spark)
            what = "none of the listed deliveries was loaded" if args.list else "nothing was loaded"
            print(f"Nothing changed: {what}; the raw tables keep exactly what they had.", file=sys.stderr)
        return 1
    return 0


def cmd_deliveries(args: argparse.Namespace) -> int:
    from credit_score.load import LoadError, list_deliveries, remove_delivery

    if args.action == "list":
        if args.delivery_id:
            raise SystemExit("credit-score deliveries: to take one out, `credit-score deliveries remove ID`")
        return list_deliveries(args.target)
    if not args.delivery_id:
        raise SystemExit("credit-score deliveries remove: which delivery? `credit-score deliveries` lists their ids")
    try:
        return remove_delivery(args.delivery_id, args.target)
    except LoadError as e:
        print(f"credit-score deliveries remove: {e}", file=sys.stderr)
        return 1


def cmd_rules(args: argparse.Namespace) -> int:
    from credit_score.rule_versions import RulesRefused, adopt, list_versions

    if args.action == "list":
        if args.directory or args.from_month:
            raise SystemExit("credit-score rules list: takes no folder; `credit-score rules adopt DIR --from YYYY-MM`")
        print_rule_versions(list_versions())
        return 0
    if not args.directory or not args.from_month:
        raise SystemExit("credit-score rules adopt: give the proposal's folder and the month, DIR --from YYYY-MM")
    first_day = settings.parse_month(args.from_month).replace(day=1)
    from credit_score import engines

    published = engines.get(args.target).published_populations()
    newest = max((day for day, _ in published), default=None)
    try:
        version = adopt(Path(args.directory), first_day, args.note or "", newest)
    except RulesRefused as e:
        print(f"credit-score rules adopt: {e}", file=sys.stderr)
        print("Nothing changed: the rules are as they were.", file=sys.stderr)
        return 1
    console.done(f"adopted the rules of {args.directory} as the version in force from {first_day}", None)
    print_rule_versions([version])
    console.note(f"builds of {first_day} and later use it; earlier dates keep the rules they were published under")
    return 0


def print_rule_versions(listed) -> None:
    """Each version, its note and what it changed: the rows each seed lost (-) and gained (+)."""
    for version in listed:
        console.out.print(f"[bold]{version.effective_from}[/]  {version.note}", highlight=False)
        first = [
            f"{seed}.csv ({n} row{'' if n == 1 else 's'})"
            for seed, n in version.rows.items()
            if seed not in version.changes
        ]
        if first:
            console.out.print(f"    the first version of {', '.join(first)}", highlight=False)
        for seed, (removed, added) in version.changes.items():
            for sign, rows in (("-", removed), ("+", added)):
                for row in rows:
                    console.out.print(f"    {seed}.csv {sign} {','.join(row)}", highlight=False, markup=False)


def cmd_build(args: argparse.Namespace) -> int:
    from credit_score.build import BuildRefused, build_dates, print_summary

    if (args.from_month is None) != (args.to_month is None):
        raise SystemExit("credit-score build: give --from and --to together (a backfill), or neither")
    if args.from_month and args.as_of:
        raise SystemExit("credit-score build: --as-of builds one date; --from/--to build every month end between")
    if args.from_month:
        dates = settings.month_ends(settings.parse_month(args.from_month), settings.parse_month(args.to_month))
    else:
        dates = [_as_of(args.as_of)]
    if len(dates) > 1:
        console.heading(f"── backfill: {len(dates)} month ends, {dates[0]} to {dates[-1]}, published together")
    try:
        report = build_dates(
            dates,
            target=args.target,
            extra_vars=guard_vars(args),
            allow_incomplete=args.allow_incomplete,
            full_refresh=args.full_refresh,
            unit_tests=args.unit_tests,
        )
    except BuildRefused as e:
        what = "backfill refused before building any month" if len(dates) > 1 else "build"
        print(f"credit-score {what}: {e}", file=sys.stderr)
        print("Nothing was built or published: BI keeps reading the previous mart.", file=sys.stderr)
        return 1
    print_summary(report, dates[-1])
    return 0 if report.ok else 1


def guard_vars(args: argparse.Namespace) -> dict[str, float | int]:
    """The guards' thresholds the command line overrides (dbt vars of the same names)."""
    chosen = {
        "max_population_drop_share": args.max_population_drop_share,
        "max_reject_share": args.max_reject_share,
    }
    for name, value in chosen.items():
        if value is not None and not 0 <= value <= 1:
            raise SystemExit(f"credit-score build: --{name.replace('_', '-')} is a share between 0 and 1, not {value}")
    if args.max_wait_months is not None and args.max_wait_months < 0:
        raise SystemExit(
            f"credit-score build: --max-wait-months is a number of months, 0 or more, not {args.max_wait_months}"
        )
    return {
        name: value for name, value in {**chosen, "max_wait_months": args.max_wait_months}.items() if value is not None
    }


def cmd_whatif(args: argparse.Namespace) -> int:
    from credit_score import engines
    from credit_score.whatif import WhatIfRefused, print_whatif, run_whatif

    engine = engines.get("duckdb")  # the what-if scores beside DuckDB's work file
    as_of = settings.parse_date(args.as_of) if args.as_of else engine.published_as_of()
    if as_of is None:
        print("credit-score whatif: nothing is published yet: run `credit-score build` first", file=sys.stderr)
        return 1
    try:
        result = run_whatif(engine, Path(args.rules), as_of, Path(args.out))
    except WhatIfRefused as e:
        print(f"credit-score whatif: {e}", file=sys.stderr)
        print("Nothing BI reads was touched.", file=sys.stderr)
        return 1
    print_whatif(result)
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from credit_score import sql

    return sql.main(args.query, target=args.target, as_csv=args.csv, max_rows=args.max_rows, work=args.work)


def cmd_export(args: argparse.Namespace) -> int:
    from credit_score import sql

    return sql.export(args.what, args.out, target=args.target)


def cmd_explain(args: argparse.Namespace) -> int:
    from credit_score import explain

    as_of = _as_of(args.as_of) if args.as_of else None
    return explain.main(args.customer_id, as_of, target=args.target, as_json=args.json)


def cmd_report(args: argparse.Namespace) -> int:
    from credit_score import report

    return report.main(Path(args.out), args.target)


def cmd_docs(args: argparse.Namespace) -> int:
    from credit_score import docs

    return docs.main(Path(args.out), args.port, args.no_serve)


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate monthly deliveries, build the month before, then add the month's delivery and build it."""
    from credit_score.build import build, print_summary
    from credit_score.generate import generate
    from credit_score.load import load_listed, read_listing

    timer = console.Timer()
    as_of = _as_of(args.as_of)
    previous = as_of.replace(day=1) - dt.timedelta(days=1)
    data_dir = Path(args.out)
    database = settings.duckdb_path()
    console.heading(f"── 1/5 generate {args.customers:,} customers as monthly deliveries up to {as_of:%Y-%m}")
    generate(args.customers, data_dir, seed=args.seed, as_of=as_of, deliveries="monthly", months=2)
    *earlier, (month_folder, month_id, month_delivered) = read_listing(data_dir / "deliveries.csv")
    if args.with_bad_rows:
        from credit_score import badrows
        from credit_score.load import read_csv_tables, write_csv_tables

        mixed, _ = badrows.mix_in(read_csv_tables(month_folder))
        write_csv_tables(month_folder, mixed)
        console.note(f"mixed {len(badrows.KINDS)} kinds of bad rows into delivery {month_id} (credit_score/badrows.py)")
    console.heading(f"── 2/5 the deliveries before {as_of:%Y-%m}, built as of {previous} into {database}")
    load_listed(earlier, database, replace=True)
    report = build(previous, database=database)
    print_summary(report, previous)
    if not report.ok:
        return 1
    console.heading(f"── 3/5 the month arrives: delivery {month_id} (delivered {month_delivered}), built as of {as_of}")
    load_listed([(month_folder, month_id, month_delivered)], database)
    report = build(as_of, database=database)
    print_summary(report, as_of)
    if report.published:
        console.heading(f"── 4/5 what the month changed (published history, {previous} -> {as_of})")
        print_month_effect(database, previous, as_of)
        if args.with_bad_rows:
            print_audit(database)
        demo_whatif(data_dir, database, as_of)
    console.heading(f"demo finished in {timer.seconds:.1f}s. Ask the mart (read-only, what BI reads):")
    command = Path(sys.executable).with_name("credit-score")  # the venv's, whether or not it is on PATH
    command = command if command.exists() else Path("credit-score")
    query = "select star_level, star_label, count(*) from marts.customer_credit_score group by all order by star_level"
    console.note(f'{command} sql "{query}"')
    return 0 if report.ok else 1


def demo_whatif(data_dir: Path, database: Path, as_of: dt.date) -> None:
    """What raising every star threshold by 50 points would do, beside what BI reads."""
    import csv

    from credit_score import engines
    from credit_score.whatif import print_whatif, run_whatif

    rules = data_dir / "whatif-rules"
    rules.mkdir(parents=True, exist_ok=True)
    with (settings.PROJECT_DIR / "seeds" / "star_levels.csv").open(newline="", encoding="utf-8") as f:
        levels = list(csv.DictReader(f))
    for level in levels:
        for bound in ("min_score_inclusive", "max_score_exclusive"):
            level[bound] = str(int(level[bound]) + 50) if level[bound] else ""
    with (rules / "star_levels.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(levels[0]))
        writer.writeheader()
        writer.writerows(levels)
    console.heading(f"── 5/5 what if every star needed 50 more points? (credit-score whatif --rules {rules})")
    print_whatif(run_whatif(engines.get("duckdb", database=database), rules, as_of, data_dir / "whatif"))


def print_month_effect(database: Path, previous: dt.date, as_of: dt.date) -> None:
    """Star movements between two published months (marts.customer_star_changes), and what each
    delivery brought."""
    from credit_score.sql import reader

    with reader("duckdb", database=database) as run:
        # the published star movements (marts.customer_star_changes): what the month did to each star
        movements = run(
            "select change_type, count(*) as customers from marts.customer_star_changes "
            f"where as_of_date = date '{as_of}' and previous_as_of_date = date '{previous}' "
            "group by all order by customers desc"
        ).rows
        console.note("star movements (marts.customer_star_changes): " + " · ".join(f"{n:,} {c}" for c, n in movements))
        rows = run(
            "select delivery_id, delivered_on, subscriptions_rows, billing_rows, billing_accepted, "
            "billing_rejected, billing_duplicates, billing_waiting, suspensions_rows from audit.deliveries "
            "order by delivered_on, delivery_id"
        ).rows
        console.table(
            "audit.deliveries (rows = accepted + rejected + exact duplicates + waiting for their customer)",
            ["delivery", "delivered", "subscriptions", "bills", "accepted", "rejected", "duplicates", "waiting",
             "suspensions"],
            rows,
            right=(2, 3, 4, 5, 6, 7, 8),
        )  # fmt: skip


def print_audit(database: Path) -> None:
    from credit_score.sql import reader

    with reader("duckdb", database=database) as run:
        reconciliation = run("select * from audit.reconciliation order by source_table")
        console.table(
            "audit.reconciliation (raw rows = accepted + rejected + exact duplicates + waiting)",
            reconciliation.columns,
            reconciliation.rows,
            right=(1, 2, 3, 4, 5, 6),
        )
        rows = run(
            "select source_table, rejection_reason, count(*) as rows, min(raw_values) as example "
            "from audit.rejected_records group by all order by source_table, rejection_reason"
        ).rows
        console.table("audit.rejected_records, by reason (one example each)", ["table", "reason", "rows", "example"],
                      rows, right=(2,))  # fmt: skip


def parser() -> argparse.ArgumentParser:
    """Long: the whole command line declared in one place, a few lines per command, in the order `--help` shows
    them; split, the commands' shapes would be spread over as many functions."""
    p = argparse.ArgumentParser(prog="credit-score", description="China Mobile-style customer credit scores.")
    # every command: one line per phase on the screen, dbt's whole log in logs/dbt.log; --verbose shows both
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", help="show dbt's own output and each file loaded, not only the phases"
    )
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", parents=[common], help="write realistic synthetic raw files")
    g.add_argument("--customers", type=int, required=True)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--as-of", help="YYYY-MM-DD (default: last day of the previous month)")
    g.add_argument("--out", default="data/generated")
    g.add_argument("--format", choices=["csv", "parquet"], default="csv")
    g.add_argument(
        "--deliveries",
        choices=["single", "monthly"],
        default="single",
        help="single: the three files in OUT; monthly: one folder per delivery (see OUT/deliveries.csv)",
    )
    g.add_argument(
        "--months", type=int, default=3, help="monthly: how many months (up to the as-of month) come on their own"
    )
    g.add_argument("--bill-months", type=int, help="months of bills back from the as-of month (default 18)")
    g.set_defaults(func=cmd_generate)

    lo = sub.add_parser(
        "load", parents=[common], help="append the raw files of the delivery folder DIR to the schema raw"
    )
    lo.add_argument("directory", metavar="DIR", nargs="?")
    lo.add_argument(
        "--list",
        metavar="FILE",
        help="load every delivery a listing names, in order (a CSV of delivery_id,delivered_on, each delivery "
        "the folder of that name beside it: generate's deliveries.csv)",
    )
    lo.add_argument("--delivery", metavar="ID", help="the delivery's id (default: DIR's folder name)")
    lo.add_argument("--delivered-on", metavar="DATE", help="YYYY-MM-DD the delivery arrived (default: today, UTC)")
    lo.add_argument("--replace", action="store_true", help="empty raw first: a full reload")
    lo.add_argument("--target", help="duckdb (default), postgres or spark")
    lo.add_argument("--encoding", default="utf-8", help="utf-8 (default) or gb18030")
    lo.add_argument(
        "--allow-empty",
        action="store_true",
        help="load a folder holding none of the three files, as a delivery that brought nothing",
    )
    lo.set_defaults(func=cmd_load)

    dl = sub.add_parser(
        "deliveries", parents=[common], help="list the loaded deliveries, or `deliveries remove ID` to take one out"
    )
    dl.add_argument("action", nargs="?", choices=["list", "remove"], default="list")
    dl.add_argument("delivery_id", metavar="ID", nargs="?", help="remove: the delivery to take out of raw")
    dl.add_argument("--target", help="duckdb (default) or postgres")
    dl.set_defaults(func=cmd_deliveries)

    ru = sub.add_parser(
        "rules", parents=[common], help="list the rule versions, or `rules adopt DIR --from YYYY-MM` to add one"
    )
    ru.add_argument("action", nargs="?", choices=["list", "adopt"], default="list")
    ru.add_argument("directory", metavar="DIR", nargs="?", help="adopt: replacement CSVs for any of the rule seeds")
    ru.add_argument(
        "--from", dest="from_month", metavar="YYYY-MM", help="adopt: the first month the version is in force"
    )
    ru.add_argument("--note", help="adopt: why (kept in seeds/rule_versions.csv and shown by `rules list`)")
    ru.add_argument("--target", help="duckdb (default), postgres or spark: the warehouse whose published dates count")
    ru.set_defaults(func=cmd_rules)

    b = sub.add_parser("build", parents=[common], help="run dbt (seeds, models, tests) for an as-of date")
    b.add_argument("--as-of", help="YYYY-MM-DD (default: last day of the previous month)")
    b.add_argument(
        "--from", dest="from_month", metavar="MONTH", help="backfill: first month (YYYY-MM), scored at its last day"
    )
    b.add_argument("--to", dest="to_month", metavar="MONTH", help="backfill: last month (YYYY-MM), inclusive")
    b.add_argument("--target", help="duckdb (default), postgres or spark")
    b.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="build even when a month of the spend window has not arrived or arrived short",
    )
    b.add_argument(
        "--max-population-drop-share",
        type=float,
        metavar="SHARE",
        help="how far (0-1) the population may fall below what was published before (default 0.1)",
    )
    b.add_argument(
        "--max-reject-share",
        type=float,
        metavar="SHARE",
        help="the share (0-1) of a table's delivered rows that may be rejected before the build fails",
    )
    b.add_argument(
        "--max-wait-months",
        type=int,
        metavar="N",
        help="how many months after its delivery a bill or suspension waits for its customer before it is "
        "rejected as unknown_customer (default 2; 0: at once)",
    )
    b.add_argument(
        "--full-refresh",
        action="store_true",
        help="recompute everything from raw instead of only what the deliveries loaded since the last build change",
    )
    b.add_argument(
        "--unit-tests",
        action="store_true",
        help="also run the dbt unit tests of the rules (make test runs them; a monthly build need not)",
    )
    b.set_defaults(func=cmd_build)

    d = sub.add_parser("demo", parents=[common], help="generate, load and build a small data set on DuckDB")
    d.add_argument("--customers", type=int, default=20_000)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--as-of", help="YYYY-MM-DD (default: last day of the previous month)")
    d.add_argument("--out", default="data/demo")
    d.add_argument("--with-bad-rows", action="store_true", help="mix bad rows in and show the audit tables")
    d.set_defaults(func=cmd_demo)

    w = sub.add_parser(
        "whatif", parents=[common], help="score the loaded data under proposed rule seeds beside the current ones"
    )
    w.add_argument("--rules", required=True, metavar="DIR", help="replacement CSVs for any of the rule seeds")
    w.add_argument("--as-of", help="YYYY-MM-DD (default: the as-of date of what BI reads)")
    w.add_argument("--out", default="whatif", help="where migration.csv, migration.png and the scores go")
    w.set_defaults(func=cmd_whatif)

    ex = sub.add_parser(
        "export", parents=[common], help="write a published table or a query's rows to a .csv or .parquet file"
    )
    ex.add_argument("what", metavar="TABLE|QUERY", help="marts.customer_credit_score, a bare table name, or a SELECT")
    ex.add_argument("--out", required=True, metavar="FILE", help="FILE.csv or FILE.parquet")
    ex.add_argument("--target", help="duckdb (default) or postgres")
    ex.set_defaults(func=cmd_export, verbose=False)

    q = sub.add_parser("sql", help="run SQL read-only against what BI reads and print a table (no QUERY: a prompt)")
    q.add_argument(
        "query", metavar="QUERY", nargs="?", help="one statement; omitted: a prompt, or statements from stdin"
    )
    q.add_argument("--target", help="duckdb (default: the served file) or postgres")
    q.add_argument("--csv", action="store_true", help="print CSV (every row) instead of a table")
    q.add_argument("--max-rows", type=int, default=100, help="rows a table shows (default 100)")
    q.add_argument(
        "--work",
        action="store_true",
        help="DuckDB: read the work file instead (the last build's audit, published or not), under the "
        "warehouse's lock",
    )
    q.set_defaults(func=cmd_sql, verbose=False)

    x = sub.add_parser(
        "explain", help="why a customer's published star is what it is: each part, its rule row, the bills behind it"
    )
    x.add_argument("customer_id", metavar="CUSTOMER_ID")
    x.add_argument("--as-of", help="a published date (YYYY-MM-DD; default: the newest published)")
    x.add_argument("--json", action="store_true", help="the same as JSON")
    x.add_argument("--target", help="duckdb (default) or postgres")
    x.set_defaults(func=cmd_explain, verbose=False)

    r = sub.add_parser("report", parents=[common], help="write a static HTML page of the marts, with charts")
    r.add_argument("--out", default="report", help="the folder of index.html and its charts (default report/)")
    r.add_argument("--target", help="duckdb (default: the served file) or postgres")
    r.set_defaults(func=cmd_report)

    dd = sub.add_parser("docs", parents=[common], help="generate dbt's docs site and serve it on loopback")
    dd.add_argument("--out", default="docs-site", help="where the site is written (default docs-site/)")
    dd.add_argument("--port", type=int, default=8580, help="the loopback port (default 8580; 0: any free one)")
    dd.add_argument("--no-serve", action="store_true", help="only generate the site")
    dd.set_defaults(func=cmd_docs)

    sub.add_parser(
        "metrics",
        help="MetricFlow's mf on the semantic layer, against what BI reads (mf's own arguments)",
        add_help=False,
    )
    sub.add_parser(
        "bench", help="measure build, models, the one-statement bound and pandas at N customers", add_help=False
    )
    return p


# What a load or build that stopped before changing anything leaves (each is all or nothing: a load is
# one transaction, a build publishes by swapping files as its last step, and a fault after it is
# reported by the build's own summary)
UNCHANGED = {
    "build": "Nothing was published: BI keeps reading the previous mart.",
    "load": "Nothing was loaded: the raw tables keep exactly what they had.",
}


def main(argv: list[str] | None = None) -> int:
    import duckdb

    from credit_score import faults
    from credit_score.engines import WarehouseBusy

    argv = sys.argv[1:] if argv is None else argv
    # what the commands write holds raw phone numbers: the owner's alone, whatever the umask (privacy.py)
    os.umask(privacy.PRIVATE_UMASK)
    if argv[:1] == ["bench"]:  # its own options: see credit_score/bench/
        from credit_score import bench

        return bench.main(argv[1:])
    if argv[:1] == ["metrics"]:  # MetricFlow's own arguments: see credit_score/metrics.py
        from credit_score import metrics

        return metrics.main(argv[1:])
    args = parser().parse_args(argv)
    console.set_verbose(args.verbose)
    try:
        return int(args.func(args))
    except WarehouseBusy as e:
        print(f"credit-score {args.command}: {e}", file=sys.stderr)
        if args.command in UNCHANGED:
            print(UNCHANGED[args.command], file=sys.stderr)
        return 75  # EX_TEMPFAIL: a scheduler may retry later
    except (OSError, duckdb.Error) as e:  # a file-system fault: one line, the traceback in the log
        line = faults.describe(e)
        if line is None:
            raise
        log = faults.log_traceback(args.command, e)
        print(f"credit-score {args.command}: {line}", file=sys.stderr)
        if args.command in UNCHANGED:
            print(UNCHANGED[args.command], file=sys.stderr)
        print(f"The traceback: {log}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
