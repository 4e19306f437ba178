"""The four ways of computing the mart that `credit-score bench` compares, each run in its own
process by measure(): models (`dbt run`), build (`credit-score build`), bound (one_statement.sql, one
hand-written DuckDB statement, the lower bound) and pandas (pandas_scores.py, what an analyst would
write)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from credit_score import rules
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
    r = rules.load(as_of=as_of)  # the rule version in force on D
    window_end = as_of if month_end(as_of) == as_of else as_of.replace(day=1) - dt.timedelta(days=1)
    index = window_end.year * 12 + window_end.month - 1 - (r.spend_window_months - 1)
    window_start = dt.date(index // 12, index % 12 + 1, 1)
    index = as_of.year * 12 + as_of.month - 1 - r.lookback_months  # D minus the lookback, clamped to the month's end
    before = dt.date(index // 12, index % 12 + 1, 1)
    lookback_start = before.replace(day=min(as_of.day, month_end(before).day))
    text = (Path(__file__).with_name("one_statement.sql")).read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    return body.format(
        as_of=as_of.isoformat(),
        lookback_start=lookback_start.isoformat(),
        window_start=f"{window_start:%Y-%m}",
        window_end=f"{window_end:%Y-%m}",
        subscriptions=LATEST_SUBSCRIPTIONS if versions else "raw.subscriptions",
        rule_version=r.version.isoformat(),
        **rule_expressions(r),
    )


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def rule_expressions(r: rules.Rules) -> dict[str, str]:
    """The rules as the bound's SQL expressions (CASE over the seeds' rows, no join), by placeholder."""

    def case(pairs: list[tuple[str, object]], otherwise: object = None) -> str:
        whens = " ".join(f"when {condition} then {value}" for condition, value in pairs)
        return f"case {whens}" + (f" else {otherwise}" if otherwise is not None else "") + " end"

    def tenure(b: rules.Band) -> str:
        high = f" and tenure_years < {int(b.high)}" if b.high is not None else ""
        return f"tenure_years >= {int(b.low or 0)}{high}"

    *closed, top = r.spend_bands  # ascending, the top band open above (the seeds' tests hold it)
    lowest, *above = r.stars
    stars_down = list(reversed(above))
    following = [(s, r.next_star(s.level)) for s in r.stars]
    return {
        "spend_window_months": str(r.spend_window_months),
        "free_reasons": ", ".join(_literal(code) for code in sorted(r.free_reasons)),
        "penalty": str(r.penalty),
        "brand_points_case": case([(f"brand_code = {_literal(c)}", p) for c, (_, _, p) in r.brands.items()]),
        "brand_name_case": case([(f"brand_code = {_literal(c)}", _literal(n)) for c, (_, n, _) in r.brands.items()]),
        "tenure_points_case": case([(tenure(b), b.points) for b in r.tenure_bands]),
        "tenure_band_case": case([(tenure(b), _literal(b.name)) for b in r.tenure_bands]),
        "spend_points_case": case([(f"avg_fen <= {int(b.high * 100)}", b.points) for b in closed], top.points),
        "star_level_case": case([(f"credit_score >= {s.min_score}", s.level) for s in stars_down], lowest.level),
        "star_label_case": case(
            [(f"credit_score >= {s.min_score}", _literal(s.label)) for s in stars_down], _literal(lowest.label)
        ),
        "next_star_label_case": case([(f"star_level = {s.level}", _literal(n.label)) for s, n in following if n]),
        "next_star_threshold_case": case([(f"star_level = {s.level}", n.min_score) for s, n in following if n]),
    }


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
