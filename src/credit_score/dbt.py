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

import contextlib
import multiprocessing
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from credit_score import console, privacy
from credit_score.processes import die_with_parent
from credit_score.settings import PROJECT_DIR

# the environment's paths that the profiles and models read (absolute before dbt runs elsewhere)
PATH_VARIABLES = (
    "CREDIT_SCORE_DUCKDB",
    "CREDIT_SCORE_DUCKDB_WORK",
    "CREDIT_SCORE_WHATIF_FILE",
    "CREDIT_SCORE_SPARK_WAREHOUSE",
    "DBT_TARGET_PATH",
    "DBT_LOG_PATH",
)
PARTIAL_PARSE = "partial_parse.msgpack"


def _in_work_folder(environment: dict[str, str]) -> tuple[dict[str, str], str]:
    """The environment and folder for dbt's process: in the DuckDB work file's folder, the file named
    by its name alone.  The profile's connection details (the attached file, its spill folder) are then
    the same for every warehouse whose work file has the same name, and dbt's partial parsing, which
    starts over when they change, can reuse a parse of the same project made for another warehouse
    (_ParseShared).  The other paths are made absolute first."""
    environment = dict(environment)
    for name in PATH_VARIABLES:
        if environment.get(name) and not os.path.isabs(environment[name]):
            environment[name] = os.path.abspath(environment[name])
    work = environment.get("CREDIT_SCORE_DUCKDB_WORK")
    if not work:
        return environment, os.getcwd()
    folder, environment["CREDIT_SCORE_DUCKDB_WORK"] = os.path.split(work)
    return environment, folder


class _ParseShared:
    """dbt parses the project (5 s) into target/partial_parse.msgpack and, the next time, re-parses
    only what changed; a new warehouse (its own target/) would parse everything again.  Before dbt
    runs, a warehouse without a parse of its own gets the last one any warehouse wrote for the same
    target, kept in the project's target/ folder; after, a parse dbt wrote is kept there.  dbt checks
    what it reads (dbt's version, the vars, the profile's connection, every file's checksum and the
    environment variables the files read) and parses again whatever differs, so a parse that does
    not fit costs what no parse costs.  Where the project's folder cannot be written (an installed
    wheel), nothing is shared."""

    def __init__(self, environment: dict[str, str], project_dir: Path, target: str):
        self.own = Path(environment.get("DBT_TARGET_PATH") or project_dir / "target") / PARTIAL_PARSE
        self.shared = project_dir / "target" / f"partial_parse.{target}.msgpack"
        self.before = self._written(self.own)
        if self.before is None and self.shared.is_file():
            with contextlib.suppress(OSError):
                self.own.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.shared, self.own)
                self.before = self._written(self.own)

    @staticmethod
    def _written(path: Path) -> int | None:
        try:
            return path.stat().st_mtime_ns
        except OSError:
            return None

    def keep(self) -> None:
        written = self._written(self.own)
        if written is None or written == self.before:
            return
        with contextlib.suppress(OSError):
            self.shared.parent.mkdir(parents=True, exist_ok=True)
            partial = self.shared.with_name(f".{self.shared.name}.{os.getpid()}")
            shutil.copyfile(self.own, partial)
            os.replace(partial, self.shared)


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


# imported once by the fork server, before it forks any child; dbt_warm then does there what every
# child would otherwise do again (dbt_warm.py)
PRELOADED = ["dbt.cli.main", "dbt.adapters.duckdb", "credit_score.dbt_warm"]
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


def _child_main(
    args: list[str], env: dict[str, str], cwd: str, parent_pid: int, reply: Connection, umask: int, project: str
) -> None:
    die_with_parent(parent_pid, forked_by_server=True)
    os.umask(umask)  # the caller's (privacy.py), not the fork server's
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    import gc
    import threading

    # dbt makes millions of short-lived objects a build (a context of every macro for every node):
    # the collector need not scan what the fork server imported, nor run every 700 allocations.
    # 7 % less CPU a small build, 11 MB more at its peak (docs/performance.md)
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)

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
    if Path(project) == PROJECT_DIR.resolve():  # the project the fork server warmed (a what-if's copy aside)
        from credit_score import dbt_warm

        dbt_warm.keep_templates(PROJECT_DIR)
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

    project = project_dir.resolve()  # dbt runs in the work file's folder (_in_work_folder)
    args = [
        *command,
        *("--project-dir", str(project), "--profiles-dir", str(project / "profiles"), "--target", target),
        *("--log-path", str(console.log_dir())),
        # dbt colours a result's text itself when colours are on: only a person's terminal gets them
        "--use-colors" if console.verbose() and sys.stdout.isatty() else "--no-use-colors",
        "--no-use-colors-file",
        # quiet on the screen; the file keeps everything (or what CREDIT_SCORE_DBT_LOG_LEVEL says)
        *([] if console.verbose() else ["--log-level", "none", "--log-level-file", console.log_level()]),
    ]
    if variables:
        args += ["--vars", yaml.safe_dump(variables, default_flow_style=True).strip()]
    context = _context()
    receive, send = context.Pipe(duplex=False)
    environment, folder = _in_work_folder({**os.environ, **(env or {})})
    parse = _ParseShared(environment, project_dir, target)
    child = context.Process(
        target=_child_main,
        args=(args, environment, folder, os.getpid(), send, privacy.current_umask(), str(project)),
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
    parse.keep()
    return DbtOutcome(
        success=raw["success"],
        results=[
            NodeResult(**{**r, "compiled_path": r["compiled_path"] and str(project_dir / r["compiled_path"])})
            for r in raw["results"]
        ],
        error=raw["error"],
    )
