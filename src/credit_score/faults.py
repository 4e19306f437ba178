"""File-system faults as an operator needs them: one line with the path and the reason, the
traceback only in the log.

A folder made read-only (`chattr +i`, a read-only mount), a full disk or a path that names a folder
where a file is expected reach the harness as Python's OSError or DuckDB's IO Error, whose text
carries the path and the operating system's reason. The command line prints that line and what it
means for the warehouse, writes the traceback to credit-score.log in the log folder, and exits 1.
"""

from __future__ import annotations

import datetime as dt
import re
import traceback
from pathlib import Path

import duckdb

from credit_score import console

# DuckDB: 'IO Error: Cannot open file "/x/y.parquet": Operation not permitted', and the same inside
# 'TransactionContext Error: Failed to commit: Cannot open file "/x/w.duckdb.wal": ...'
_DUCKDB_FILE = re.compile(
    r'(?P<what>(?:Cannot|Could not) [a-z ]*?file)\s*"(?P<path>/[^"]+)":?\s*(?P<reason>[^\n]+)', re.IGNORECASE
)


class StepFailed(Exception):
    """A step that ran in a process of its own failed (a Spark application publishing a build or
    putting the history's months back); the message says which, and where its log is."""


def describe(error: BaseException) -> str | None:
    """'<path>: <reason> (<what was being done>)' for a file-system fault, the message of a step that
    failed in a process of its own (StepFailed), None for anything else."""
    if isinstance(error, StepFailed):
        return str(error)
    if isinstance(error, OSError) and not isinstance(error, duckdb.Error):
        where = error.filename if error.filename is not None else ""
        reason = error.strerror or str(error)
        return f"{where}: {reason}" if where else reason
    if isinstance(error, duckdb.Error):
        text = str(error).splitlines()[0] if str(error) else ""
        found = _DUCKDB_FILE.search(text)
        if found:
            what = found["what"].strip()
            return f"{found['path']}: {found['reason'].strip()} ({what[0].lower() + what[1:]})"
        if isinstance(error, duckdb.IOException):
            return text.removeprefix("IO Error: ")
    return None


def log_traceback(command: str, error: BaseException) -> Path:
    """Append the error's traceback to credit-score.log in the log folder; returns its path."""
    folder = console.log_dir()
    path = folder / "credit-score.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(f"--- {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC credit-score {command}\n")
            log.write("".join(traceback.format_exception(error)))
    except OSError:  # the log folder itself may be what is unwritable
        return Path("(the log could not be written either)")
    return path
