"""The `credit-score` command line (SPEC section 5)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from credit_score import settings


def _as_of(text: str | None) -> dt.date:
    return settings.parse_date(text) if text else settings.default_as_of_date()


def cmd_generate(args: argparse.Namespace) -> int:
    from credit_score.generate import generate

    generate(args.customers, Path(args.out), seed=args.seed, as_of=_as_of(args.as_of), file_format=args.format)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from credit_score.load import LoadError, load

    target = settings.target_name(args.target)
    try:
        if target == "spark":
            from credit_score import spark

            spark.load(Path(args.directory), encoding=args.encoding)
        elif target == "postgres":
            from credit_score import postgres

            postgres.load(Path(args.directory), encoding=args.encoding)
        else:
            load(Path(args.directory), settings.duckdb_path(), encoding=args.encoding)
    except LoadError as e:
        print(f"credit-score load: {e}", file=sys.stderr)
        print("Nothing was loaded: the raw tables keep what they had.", file=sys.stderr)
        return 1
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from credit_score.build import build, print_summary

    if (args.from_month is None) != (args.to_month is None):
        raise SystemExit("credit-score build: give --from and --to together (a backfill), or neither")
    if args.from_month and args.as_of:
        raise SystemExit("credit-score build: --as-of builds one date; --from/--to build every month end between")
    if args.from_month:
        dates = settings.month_ends(settings.parse_month(args.from_month), settings.parse_month(args.to_month))
    else:
        dates = [_as_of(args.as_of)]
    target = settings.target_name(args.target)
    for number, as_of in enumerate(dates, start=1):
        if len(dates) > 1:
            print(f"== backfill {number}/{len(dates)}: as of {as_of}", flush=True)
        report = build(as_of, target=target, database=settings.duckdb_path() if target == "duckdb" else None)
        print_summary(report, as_of)
        if not report.ok:
            if len(dates) > 1:
                done = ", ".join(d.isoformat() for d in dates[: number - 1]) or "none"
                print(f"backfill stopped at {as_of}: months built and published before it: {done}")
            return 1
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from credit_score.build import build, print_summary
    from credit_score.generate import generate
    from credit_score.load import load

    started = time.perf_counter()
    as_of = _as_of(args.as_of)
    data_dir = Path(args.out)
    database = settings.duckdb_path()
    print(f"== 1/3 generate {args.customers:,} customers as of {as_of} into {data_dir}")
    generate(args.customers, data_dir, seed=args.seed, as_of=as_of)
    if args.with_bad_rows:
        from credit_score import badrows
        from credit_score.load import read_csv_tables, write_csv_tables

        mixed, _ = badrows.mix_in(read_csv_tables(data_dir))
        write_csv_tables(data_dir, mixed)
        print(f"   mixed in {len(badrows.KINDS)} kinds of bad rows (see src/credit_score/badrows.py)")
    print(f"== 2/3 load into {database}")
    load(data_dir, database)
    print("== 3/3 dbt build (seeds, models, tests)")
    report = build(as_of, database=database)
    print_summary(report, as_of)
    if args.with_bad_rows and report.published:
        print_audit(database)
    print(f"\ndemo finished in {time.perf_counter() - started:.1f}s. Query the mart (read-only):")
    query = "select * from marts.customer_credit_score limit 10"
    snippet = f"import duckdb; duckdb.connect('{database}', read_only=True).sql('{query}').show()"
    print(f'  {sys.executable} -c "{snippet}"')
    return 0 if report.ok else 1


def print_audit(database: Path) -> None:
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        print("\naudit.reconciliation (raw rows = accepted + rejected + exact duplicates):")
        con.sql("select * from audit.reconciliation order by source_table").show()
        print("audit.rejected_records, by reason (one example each):")
        con.sql(
            "select source_table, rejection_reason, count(*) as rows, min(raw_values) as example "
            "from audit.rejected_records group by all order by source_table, rejection_reason"
        ).show(max_width=200, max_rows=100)
    finally:
        con.close()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="credit-score", description="China Mobile-style customer credit scores.")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write realistic synthetic raw files")
    g.add_argument("--customers", type=int, required=True)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--as-of", help="YYYY-MM-DD (default: last day of the previous month)")
    g.add_argument("--out", default="data/generated")
    g.add_argument("--format", choices=["csv", "parquet"], default="csv")
    g.set_defaults(func=cmd_generate)

    lo = sub.add_parser("load", help="load the three raw files of DIR into the schema raw")
    lo.add_argument("directory", metavar="DIR")
    lo.add_argument("--target", help="duckdb (default), postgres or spark")
    lo.add_argument("--encoding", default="utf-8")
    lo.set_defaults(func=cmd_load)

    b = sub.add_parser("build", help="run dbt (seeds, models, tests) for an as-of date")
    b.add_argument("--as-of", help="YYYY-MM-DD (default: last day of the previous month)")
    b.add_argument(
        "--from", dest="from_month", metavar="MONTH", help="backfill: first month (YYYY-MM), scored at its last day"
    )
    b.add_argument("--to", dest="to_month", metavar="MONTH", help="backfill: last month (YYYY-MM), inclusive")
    b.add_argument("--target", help="duckdb (default), postgres or spark")
    b.set_defaults(func=cmd_build)

    d = sub.add_parser("demo", help="generate, load and build a small data set on DuckDB")
    d.add_argument("--customers", type=int, default=20_000)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--as-of", help="YYYY-MM-DD (default: last day of the previous month)")
    d.add_argument("--out", default="data/demo")
    d.add_argument("--with-bad-rows", action="store_true", help="mix bad rows in and show the audit tables")
    d.set_defaults(func=cmd_demo)

    sub.add_parser(
        "bench", help="measure build, models, the one-statement bound and pandas at N customers", add_help=False
    )
    return p


def main(argv: list[str] | None = None) -> int:
    from credit_score.publish import WarehouseBusy

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # its own options: see credit_score/bench.py
        from credit_score import bench

        return bench.main(argv[1:])
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except WarehouseBusy as e:
        print(f"credit-score {args.command}: {e}", file=sys.stderr)
        return 75  # EX_TEMPFAIL: a scheduler may retry later


if __name__ == "__main__":
    sys.exit(main())
