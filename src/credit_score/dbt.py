"""Run dbt through its programmatic API (dbtRunner), each invocation in a fresh child process.

Why a child process: dbt keeps global state between invocations, and dbt-duckdb keeps its DuckDB
connection open inside the process after dbtRunner returns.  A DuckDB file has one writer or many
readers, so the harness could not read the mart it just built, and a second build in the same process
could see the first one's state.  When the child exits, its connection is gone with it.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from credit_score.settings import PROFILES_DIR, PROJECT_DIR


@dataclass
class NodeResult:
    unique_id: str
    resource_type: str
    name: str
    status: str
    message: str | None
    failures: int | None
    compiled_code: str | None = None


@dataclass
class DbtOutcome:
    success: bool
    results: list[NodeResult] = field(default_factory=list)
    error: str | None = None

    def with_status(self, *statuses: str) -> list[NodeResult]:
        return [r for r in self.results if r.status in statuses]


def _invoke_in_child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    os.environ.update(env)
    from dbt.cli.main import dbtRunner  # imported here: only the child pays for it

    outcome = dbtRunner().invoke(args)
    results = []
    for r in getattr(outcome.result, "results", None) or []:
        node = r.node
        results.append(
            {
                "unique_id": node.unique_id,
                "resource_type": str(node.resource_type),
                "name": node.name,
                "status": str(r.status),
                "message": r.message,
                "failures": r.failures,
                "compiled_code": getattr(node, "compiled_code", None),
            }
        )
    return {
        "success": bool(outcome.success),
        "results": results,
        "error": None if outcome.exception is None else str(outcome.exception),
    }


def run_dbt(
    command: list[str],
    *,
    target: str = "duckdb",
    variables: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    project_dir: Path = PROJECT_DIR,
) -> DbtOutcome:
    """Run `dbt <command>` against project_dir in a child process and return what happened."""
    import yaml

    args = [
        *command,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(PROFILES_DIR if project_dir == PROJECT_DIR else project_dir / "profiles"),
        "--target",
        target,
    ]
    if variables:
        args += ["--vars", yaml.safe_dump(variables, default_flow_style=True).strip()]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        raw = pool.submit(_invoke_in_child, args, dict(env or {})).result()
    return DbtOutcome(
        success=raw["success"],
        results=[NodeResult(**r) for r in raw["results"]],
        error=raw["error"],
    )
