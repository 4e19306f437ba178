"""What the command line shows a person: one line per phase, a bar while a long step runs.

dbt's own output goes to its log file (logs/dbt.log, or $CREDIT_SCORE_LOG_DIR/dbt.log), not to the
screen, unless the command was given --verbose (or CREDIT_SCORE_VERBOSE=1). Colours and bars appear
only on a terminal: piped into a file or a scheduler's log, the lines are plain text (rich decides;
NO_COLOR is honoured).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

# off a terminal rich would assume 80 columns and squeeze tables: a log file is wider
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=_WIDTH)

VERBOSE_VARIABLE = "CREDIT_SCORE_VERBOSE"


def set_verbose(on: bool) -> None:
    """--verbose: dbt's and the harness's every line on the screen too (children inherit it)."""
    if on:
        os.environ[VERBOSE_VARIABLE] = "1"


def verbose() -> bool:
    return os.environ.get(VERBOSE_VARIABLE) == "1"


def log_dir() -> Path:
    """Where dbt's full log goes: $CREDIT_SCORE_LOG_DIR, else logs/ in the current folder."""
    return Path(os.environ.get("CREDIT_SCORE_LOG_DIR") or "logs").resolve()


LOG_LEVEL_VARIABLE = "CREDIT_SCORE_DBT_LOG_LEVEL"
# dbt's --log-level-file, most to least: debug keeps every statement dbt runs, info a line per node
# and every error, none no file at all
LOG_LEVELS = ("debug", "info", "warn", "error", "none")


def log_level() -> str:
    """How much of dbt's own log its file keeps: $CREDIT_SCORE_DBT_LOG_LEVEL, default debug (all of
    it).  Writing every line costs about a tenth of a small build's CPU (docs/performance.md)."""
    level = (os.environ.get(LOG_LEVEL_VARIABLE) or "debug").strip().lower()
    if level not in LOG_LEVELS:
        raise SystemExit(f"{LOG_LEVEL_VARIABLE}={level!r} is not a level: choose one of {', '.join(LOG_LEVELS)}")
    return level


def detail(message: str) -> None:
    """A line only --verbose shows (what each step did, file by file)."""
    if verbose():
        out.print(message, markup=False)


def done(message: str, seconds: float | None = None) -> None:
    """One phase finished."""
    took = f" [dim]({seconds:.1f}s)[/]" if seconds is not None else ""
    out.print(f"[green]✓[/] {escape(message)}{took}")


def failed(message: str) -> None:
    out.print(f"[bold red]✗[/] {escape(message)}")


def heading(message: str) -> None:
    out.print(f"[bold]{escape(message)}[/]")


def note(message: str) -> None:
    """An indented line under a phase."""
    out.print(f"  {escape(message)}")


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


@contextlib.contextmanager
def bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar while the block runs (on a terminal, and not under --verbose, whose lines would
    tear it); yields update(completed, total). Gone when the block ends: the caller prints the line."""
    if not out.is_terminal or verbose():
        yield lambda completed, total: None
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    )
    with progress:
        task = progress.add_task(description, total=None)

        def update(completed: int, total: int) -> None:
            progress.update(task, completed=completed, total=total)

        yield update


class Timer:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


def table(title: str | None, columns: list[str], rows: list[tuple], *, right: tuple[int, ...] = ()) -> None:
    """A compact table (a query's result): numbers with thousands separators, one line per row. Every
    column is shown whole but the last, which is cut to what fits (an example, a long text)."""
    from rich import box
    from rich.cells import cell_len
    from rich.table import Table

    cells = [[_cell(value) for value in row] for row in rows]
    shown = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False, show_edge=False)
    widths = [
        max([cell_len(column), *(cell_len(Text.from_markup(r[number]).plain) for r in cells)])
        for number, column in enumerate(columns)
    ]
    # the last column gets what the others leave of the line (3: a column's separation)
    widths[-1] = min(widths[-1], max(12, out.width - sum(widths[:-1]) - 3 * len(columns)))
    for number, column in enumerate(columns):
        shown.add_column(
            column,
            justify="right" if number in right else "left",
            no_wrap=True,
            overflow="ellipsis",
            min_width=widths[number],
            max_width=widths[number],
        )
    for row in cells:
        shown.add_row(*row)
    out.print(shown)


def _cell(value: object) -> str:
    if value is None:
        return "[dim]null[/]"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return escape(str(value))
