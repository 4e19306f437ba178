"""Run dbt through its programmatic API (dbtRunner), each invocation in a fresh child process.

Why a child process: dbt keeps global state between invocations, and dbt-duckdb keeps its DuckDB
connection open inside the process after dbtRunner returns.  A DuckDB file has one writer or many
readers, so the harness could not read or publish the mart it just built.  When the child exits, its
connection is gone with it.  The child also dies with its parent (processes.py): a build
killed with kill -9 leaves no orphan holding the warehouse file, so the next build can start.

The children are forked by a multiprocessing fork server that imported dbt once (4 s of CPU a
child would otherwise spend importing it): a backfill's months, or a test suite's builds, pay for
dbt's import once per process instead of once per invocation.  A forked child starts with the fork
server's environment and folder, so it is handed the caller's current ones.

dbt's log goes to logs/dbt.log (console.log_dir()) without colour codes; on the screen only under
--verbose.  The child reports each node it finishes through the same pipe as its answer, for the
progress bar (console.bar).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from credit_score import console, privacy
from credit_score.processes import die_with_parent
from credit_score.settings import PROJECT_DIR


@dataclass
class NodeResult:
    unique_id: str
    resource_type: str
    name: str
    status: str
    message: str | None
    failures: int | None
    compiled_code: str | None = None
    execution_time: float = 0.0
    # where dbt wrote the node's compiled SQL (a test's: the query that finds its failing rows)
    compiled_path: str | None = None


@dataclass
class DbtOutcome:
    success: bool
    results: list[NodeResult] = field(default_factory=list)
    error: str | None = None

    def with_status(self, *statuses: str) -> list[NodeResult]:
        return [r for r in self.results if r.status in statuses]


# imported once by the fork server, before it forks any child
PRELOADED = ["dbt.cli.main", "dbt.adapters.duckdb"]
_CONTEXT: multiprocessing.context.ForkServerContext | None = None


def _context() -> multiprocessing.context.ForkServerContext:
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(PRELOADED)
    return _CONTEXT


def warm_up() -> None:
    """Start the fork server now, so that it imports dbt while the caller does other work (a build's
    completeness check reads the raw bills meanwhile); the first run_dbt then finds it ready."""
    from multiprocessing import forkserver

    _context()
    forkserver.ensure_running()


def _child_main(args: list[str], env: dict[str, str], cwd: str, parent_pid: int, reply: Connection, umask: int) -> None:
    die_with_parent(parent_pid, forked_by_server=True)
    os.umask(umask)  # the caller's (privacy.py), not the fork server's
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    import threading

    from dbt.cli.main import dbtRunner  # the fork server imported it already

    sending = threading.Lock()  # dbt's threads finish nodes at once

    def finished(event) -> None:  # a node's result: (done, of how many) for the progress bar
        data = event.data
        if event.info.name.endswith("Result") and getattr(data, "total", 0):
            with sending:
                reply.send(("progress", int(data.index), int(data.total)))

    try:
        outcome = dbtRunner(callbacks=[finished]).invoke(args)
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
                    "execution_time": float(getattr(r, "execution_time", 0.0) or 0.0),
                    "compiled_path": getattr(node, "compiled_path", None),
                }
            )
        answer = {
            "success": bool(outcome.success),
            "results": results,
            "error": None if outcome.exception is None else str(outcome.exception),
        }
    except BaseException as e:  # report, never hang the parent
        answer = {"success": False, "results": [], "error": f"{type(e).__name__}: {e}"}
    with sending:
        reply.send(answer)
    reply.close()


def run_dbt(
    command: list[str],
    *,
    target: str = "duckdb",
    variables: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    project_dir: Path = PROJECT_DIR,
    progress: Callable[[int, int], None] | None = None,
) -> DbtOutcome:
    """Run `dbt <command>` against project_dir in a child process and return what happened;
    progress(done, total) is called as dbt finishes each node."""
    import sys

    import yaml

    args = [
        *command,
        *("--project-dir", str(project_dir), "--profiles-dir", str(project_dir / "profiles"), "--target", target),
        *("--log-path", str(console.log_dir())),
        # dbt colours a result's text itself when colours are on: only a person's terminal gets them
        "--use-colors" if console.verbose() and sys.stdout.isatty() else "--no-use-colors",
        "--no-use-colors-file",
        # quiet on the screen; the file keeps everything
        *([] if console.verbose() else ["--log-level", "none", "--log-level-file", "debug"]),
    ]
    if variables:
        args += ["--vars", yaml.safe_dump(variables, default_flow_style=True).strip()]
    context = _context()
    receive, send = context.Pipe(duplex=False)
    environment = {**os.environ, **(env or {})}
    child = context.Process(
        target=_child_main,
        args=(args, environment, os.getcwd(), os.getpid(), send, privacy.current_umask()),
        daemon=True,
    )
    child.start()
    send.close()
    try:
        raw = receive.recv()
        while isinstance(raw, tuple):  # ("progress", done, total) until the answer
            if progress is not None:
                progress(raw[1], raw[2])
            raw = receive.recv()
    except EOFError:
        raw = {"success": False, "results": [], "error": f"dbt's process ended without an answer ({child.exitcode})"}
    finally:
        child.join()
    return DbtOutcome(
        success=raw["success"],
        results=[
            NodeResult(**{**r, "compiled_path": r["compiled_path"] and str(project_dir / r["compiled_path"])})
            for r in raw["results"]
        ],
        error=raw["error"],
    )
