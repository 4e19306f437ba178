"""When DuckDB runs out of memory: one line that names the step, the limit it ran at and the limit to try.

Every model, test, load and publish either works on what the build changes or uses operators that
spill to disk beyond `memory_limit` (docs/performance.md), so running out of memory means the limit
is too small for the data or for the queries dbt's threads run at once.  The advice doubles the
limit, as far as the machine allows, and otherwise names the thread count.
"""

from __future__ import annotations

import os
import re

from credit_score.settings import duckdb_memory_limit

MEMORY_LIMIT_VARIABLE = "CREDIT_SCORE_DUCKDB_MEMORY_LIMIT"
THREADS_VARIABLE = "CREDIT_SCORE_DBT_THREADS"
# DuckDB's own default is 80 % of the machine's memory: never advise more than that
MACHINE_SHARE = 0.8

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS.update({"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40})


def is_out_of_memory(message: str | None) -> bool:
    """Whether an error's text is DuckDB's out-of-memory error."""
    return bool(message) and "Out of Memory Error" in str(message)


def _bytes(limit: str) -> tuple[float, str] | None:
    """'4GB' -> (4e9, 'GB'); None when the text is not a size."""
    found = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B|B)?\s*", limit, re.IGNORECASE)
    if not found:
        return None
    unit = found.group(2) or "B"
    return float(found.group(1)) * _UNITS[unit.lower()], unit


def limit_bytes(limit: str) -> int | None:
    """'4GB' -> 4000000000; None when the text is not a size."""
    found = _bytes(limit)
    return None if found is None else int(found[0])


def machine_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def raised_limit(limit: str, machine: int | None = None) -> str | None:
    """Twice `limit`, written in its own unit ('4GB' -> '8GB', '100MB' -> '200MB'), at most 80 % of the
    machine's memory; None when the limit cannot be raised (already there, or not a size)."""
    parsed = _bytes(limit)
    if parsed is None:
        return None
    current, unit = parsed
    ceiling = MACHINE_SHARE * (machine if machine is not None else machine_bytes())
    wanted = min(2 * current, ceiling)
    if wanted <= current * 1.05:
        return None
    scale = _UNITS[unit.lower()]
    value = wanted / scale
    shown = f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"
    return f"{shown}{unit}"


def advice(step: str, limit: str | None = None) -> str:
    """The one line to print: e.g. `out of memory in model int_billing_validated at DuckDB's memory_limit
    4GB: run it again with CREDIT_SCORE_DUCKDB_MEMORY_LIMIT=8GB`."""
    limit = limit or duckdb_memory_limit()
    raised = raised_limit(limit)
    if raised:
        parsed, raised_bytes = _bytes(limit), _bytes(raised)
        doubled = parsed and raised_bytes and raised_bytes[0] >= 1.99 * parsed[0]
        how = "twice the limit" if doubled else "what the machine allows"
        what = f"run it again with {MEMORY_LIMIT_VARIABLE}={raised} ({how})"
    else:
        what = (
            f"the machine has no more memory to give: run it again with {THREADS_VARIABLE}=1 "
            "(dbt's threads share the limit)"
        )
    return f"out of memory in {step} at DuckDB's memory_limit {limit}: {what}"
