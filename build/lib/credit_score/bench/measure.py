"""Measuring a command: wall seconds and the peak resident memory of its process tree, the machine
it ran on, the dbt nodes that took longest, and the progress lines a long run prints."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from credit_score.engines.duckdb import DuckDBEngine


def tree_rss(root: int) -> int:
    """Resident bytes of root and all its descendants, from /proc."""
    total, stack, seen = 0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def measure(command: list[str], *, env: dict[str, str] | None = None, log: Path | None = None) -> dict:
    """Run command; return its wall seconds and the peak RSS of its process tree (bytes)."""
    out = log.open("ab") if log else subprocess.DEVNULL
    # A child's ru_maxrss starts at this process's own high-water mark (Linux keeps it across fork and
    # exec): a child that never grew beyond it reports our peak, not its own, and is not counted.
    inherited = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
    peak, peak_at = 0, time.time()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_at
        while not done.is_set():
            rss = tree_rss(process.pid)
            if rss > peak:
                peak, peak_at = rss, time.time()
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if log:
        out.close()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}); see {log}")
    # peak_at: when the sampled peak was seen (epoch seconds), to name the dbt nodes running then
    own = usage.ru_maxrss * 1024 if usage.ru_maxrss > inherited else 0
    return {"seconds": seconds, "peak_rss_bytes": max(peak, own), "peak_at": peak_at}


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    import duckdb

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "duckdb_memory_limit": os.environ.get("CREDIT_SCORE_DUCKDB_MEMORY_LIMIT", "4GB"),
        "os": platform.platform(),
    }


def source_commit() -> str:
    """The commit the product's code was at (short hash), '+changes' when its models, macros, tests,
    seeds, profile or Python differ from it: what a figure was measured on.  'unknown' outside git."""
    from credit_score.settings import PROJECT_DIR

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(PROJECT_DIR), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        parts = ["models", "macros", "data-tests", "seeds", "dbt_project.yml", "profiles", "src"]
        return commit + ("+changes" if git("status", "--porcelain", "--", *parts) else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def progress() -> Callable[[str], None]:
    """A `say` that prints each message with the seconds since the benchmark started."""
    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"[bench {time.perf_counter() - started:7.1f}s] {message}", flush=True)

    return say


def node_name(unique_id: str) -> str:
    """'model.credit_score.x' -> 'model x'; a data test's id ends with a hash, its name comes before."""
    kind, _, *rest = unique_id.split(".")
    name = rest[0] if kind == "test" and len(rest) > 1 else rest[-1]
    return f"{kind} {name}"


def dbt_profile(served: Path, top: int = 12, peak_at: float | None = None) -> list[dict]:
    """The slowest nodes of the dbt invocation that just ended on the warehouse (its
    target/run_results.json): where the time of a `models` or `build` run goes.  Nodes run on the profile's dbt
    threads sharing 2 cores, so a node's seconds include waiting for the others; the ranking is what
    matters.  Given peak_at (measure()'s), a last row names the nodes that were running when the process
    tree's memory peaked (none: the peak came outside dbt, in the load, the publish or the start)."""
    path = _run_results(served)
    if not path.exists():
        return []
    results = json.loads(path.read_text(encoding="utf-8")).get("results", [])
    nodes = [
        {
            "node": node_name(r["unique_id"]),
            "seconds": round(float(r.get("execution_time") or 0), 2),
        }
        for r in results
    ]
    nodes.sort(key=lambda n: n["seconds"], reverse=True)
    profile = nodes[:top] + [{"node": f"all {len(nodes)} nodes", "seconds": round(sum(n["seconds"] for n in nodes), 1)}]
    if peak_at is not None:
        running = [node_name(r["unique_id"]) for r in results if _ran_at(r, peak_at)]
        profile.append({"node": "at the peak RSS: " + (", ".join(running) or "no dbt node"), "seconds": ""})
    return profile


def keep_run_results(served: Path, to: Path) -> None:
    """A copy of the last dbt invocation's run_results.json (every node's timing), for a profile
    deeper than dbt_profile's top nodes; the next invocation overwrites dbt's own."""
    import shutil

    if _run_results(served).exists():
        shutil.copyfile(_run_results(served), to)


def _run_results(served: Path) -> Path:
    """Where dbt wrote the last invocation's run_results.json for the warehouse served at served."""
    return DuckDBEngine(served).dbt_dir / "target" / "run_results.json"


def _ran_at(result: dict, moment: float) -> bool:
    """Whether a run_results entry's execute step spans moment (epoch seconds)."""
    import datetime as dt

    for step in result.get("timing", []):
        if step.get("name") == "execute" and step.get("started_at") and step.get("completed_at"):
            started, completed = (
                dt.datetime.fromisoformat(step[key].replace("Z", "+00:00")).timestamp()
                for key in ("started_at", "completed_at")
            )
            return started <= moment <= completed
    return False
