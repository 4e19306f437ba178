"""The four ways of computing the mart that `credit-score bench` compares, each run in its own
process by measure(): models (`dbt run`), build (`credit-score build`), bound (one_statement.sql, one
hand-written DuckDB statement, the lower bound) and pandas (pandas_scores.py, what an analyst would
write)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from credit_score.engines.duckdb import DuckDBEngine
from credit_score.settings import month_end, work_path

# what the first-load case measures (bench/single.py); `models` (dbt run alone) can still be run by hand
KINDS = ("build", "bound", "pandas")


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
    text = (Path(__file__).with_name("one_statement.sql")).read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    return body.format(
        as_of=as_of.isoformat(),
        lookback_start=lookback_start.isoformat(),
        window_start=f"{window_start:%Y-%m}",
        window_end=f"{window_end:%Y-%m}",
        subscriptions=LATEST_SUBSCRIPTIONS if versions else "raw.subscriptions",
    )


def run_variant(argv: list[str]) -> int:
    """`python -m credit_score.bench _worker KIND AS_OF WORKDIR [versions]`: compute one variant's mart."""
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
        from credit_score.bench import pandas_scores

        frame = pandas_scores.score(workdir / "data", as_of)
        frame.to_parquet(workdir / "pandas.parquet", index=False)
        return 0
    raise SystemExit(f"unknown kind {kind}")


def worker_command(kind: str, as_of: dt.date, workdir: Path) -> list[str]:
    if kind == "build":
        return [sys.executable, "-m", "credit_score.cli", "build", "--as-of", as_of.isoformat()]
    return [sys.executable, "-m", "credit_score.bench", "_worker", kind, as_of.isoformat(), str(workdir)]
