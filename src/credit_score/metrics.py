"""`credit-score metrics ...`: MetricFlow's `mf` on the semantic layer, against what BI reads.

The semantic models and metrics live in models/semantic/; the time spine is marts.dim_dates. `mf`
takes the profile's default target and reads target/semantic_manifest.json in the project, so this
parses the project for the target `semantic` (the served DuckDB file attached read-only) and then
runs `mf` with the arguments given, e.g.

    credit-score metrics query --metrics customers_scored,high_value_share --group-by customer__star_label

Nothing is written to what BI reads; a build publishing meanwhile replaces the served file whole.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from credit_score import settings
from credit_score.dbt import run_dbt

SEMANTIC_TARGET = "semantic"


def semantic_env() -> dict[str, str]:
    """What `mf` (and dbt for it) needs: the profile, its default target and the served file."""
    return {
        "DBT_PROFILES_DIR": str(settings.PROFILES_DIR),
        "CREDIT_SCORE_DBT_TARGET": SEMANTIC_TARGET,
        "CREDIT_SCORE_DUCKDB": str(settings.duckdb_path()),
    }


def main(argv: list[str]) -> int:
    served = settings.duckdb_path()
    if not served.exists():
        print(f"credit-score metrics: {served} does not exist: nothing is published yet", file=sys.stderr)
        return 1
    mf = Path(sys.executable).with_name("mf")
    if not mf.exists():
        print(
            "credit-score metrics: MetricFlow is not installed: pip install 'credit-score[semantic]'", file=sys.stderr
        )
        return 1
    env = semantic_env()
    parsed = run_dbt(
        ["parse"],
        target=SEMANTIC_TARGET,
        env={**env, "DBT_TARGET_PATH": str(settings.PROJECT_DIR / "target")},
    )
    if not parsed.success:
        print(f"credit-score metrics: dbt could not parse the project: {parsed.error}", file=sys.stderr)
        return 1
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
    return subprocess.call(
        [str(mf), *money_decimals(argv or ["--help"])], cwd=settings.PROJECT_DIR, env={**os.environ, **env}
    )


def money_decimals(argv: list[str]) -> list[str]:
    """mf prints a query's non-integer values as it likes (146634.36 yuan shown as 146634): a query of
    a money metric (named *_yuan) shows 2 decimals unless --decimals is given.  --csv is exact anyway."""
    if argv[:1] != ["query"] or any(a == "--decimals" or a.startswith("--decimals=") for a in argv):
        return argv
    named = ",".join(argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--metrics")
    named += ",".join(a.split("=", 1)[1] for a in argv if a.startswith("--metrics="))
    if any(m.strip().endswith("_yuan") for m in named.split(",")):
        return [*argv, "--decimals", "2"]
    return argv
