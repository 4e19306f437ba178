"""Keep the marts that keep months (the history and what is built from it) in step with what BI reads.

dbt writes the month-keyed marts where it builds (DuckDB: the work file; PostgreSQL:
`marts_unpublished`), a month or two per build: the history its as-of date, the star changes and the
migration matrix that date and the next one in the history (whose previous date it may have become).
What BI reads is the published copy (DuckDB: the served file; PostgreSQL: `marts`).  The published
copy is the record: a month reaches it only after every error-level test passed.  So that an
unpublished month can never slip out with a later build, the months a build may change are marked
*pending* before dbt runs and settled afterwards:

- published: the months were copied out with the rest, the marks are removed;
- failed (or killed: the next build finds the marks): the months are put back as published, from the
  published copy (their previous rows, or none), and the marks removed.

Each step touches the build's months, so adding a month costs a month whatever the history's length.
A table with no built side (a new work file) starts from a copy of the published one; a built table
with nothing published is dropped (dbt builds it again from what is kept).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

HISTORY = "customer_credit_score_history"
STAR_CHANGES = "customer_star_changes"
MIGRATION_MATRIX = "star_migration_matrix"
# The marts keyed by as_of_date that keep every month: dbt rewrites a build's months, publishing copies them.
MONTHLY = (HISTORY, STAR_CHANGES, MIGRATION_MATRIX)


@dataclass
class HistoryTables:
    """Where the built and the published month-keyed marts are (two schemas) and the pending marks,
    on one connection."""

    execute: Callable[[str, Sequence[Any]], list[tuple]]
    exists: Callable[[str], bool]
    built_schema: str
    published_schema: str
    pending: str

    def built(self, table: str = HISTORY) -> str:
        return f"{self.built_schema}.{table}"

    def published(self, table: str = HISTORY) -> str:
        return f"{self.published_schema}.{table}"

    def build_months(self, as_of: dt.date) -> list[dt.date]:
        """The months a build of as_of may change: as_of, and the next date of the built history
        after it (its previous date becomes as_of)."""
        following = None
        if self.exists(self.built()):
            ((following,),) = self.execute(f"select min(as_of_date) from {self.built()} where as_of_date > ?", [as_of])
        return [as_of] if following is None else [as_of, following]

    def pending_months(self) -> list[dt.date]:
        """The months marked pending: what the runs of this build changed, and publishing copies."""
        if not self.exists(self.pending):
            return []
        return [month for (month,) in self.execute(f"select distinct as_of_date from {self.pending} order by 1", [])]

    def prepare(self, as_of: dt.date, *, adding: bool = False) -> None:
        """Before dbt: settle a killed build's months, align the built tables, mark the build's months.
        adding: a further dbt run of the same build (a backfill's next month, or the newest date built
        again after an earlier one): its months are marked beside those of the runs before it."""
        if adding:
            for month in self.build_months(as_of):
                self.execute(f"insert into {self.pending} values (?)", [month])
            return
        if self.exists(self.pending):
            for (month,) in self.execute(f"select distinct as_of_date from {self.pending}", []):
                self.restore(month)
            self.execute(f"delete from {self.pending}", [])
        else:
            self.execute(f"create table {self.pending} (as_of_date date not null)", [])
        for table in MONTHLY:
            if not self.exists(self.published(table)):
                if self.exists(self.built(table)):  # nothing published yet: nothing to carry forward
                    self.execute(f"drop table {self.built(table)}", [])
            elif not self.exists(self.built(table)):
                self.execute(f"create table {self.built(table)} as select * from {self.published(table)}", [])
        for month in self.build_months(as_of):
            self.execute(f"insert into {self.pending} values (?)", [month])

    def settle(self, *, published: bool) -> None:
        """After the build: keep the months if they were published, else put the published rows back."""
        for (month,) in self.execute(f"select distinct as_of_date from {self.pending}", []):
            if not published:
                self.restore(month)
        self.execute(f"delete from {self.pending}", [])

    def restore(self, month: dt.date) -> None:
        for table in MONTHLY:
            if not self.exists(self.built(table)):
                continue
            self.execute(f"delete from {self.built(table)} where as_of_date = ?", [month])
            if self.exists(self.published(table)):
                self.execute(
                    f"insert into {self.built(table)} select * from {self.published(table)} where as_of_date = ?",
                    [month],
                )


def published_populations_sql(history: str) -> str:
    """SQL of every published date's population: (date, customers), newest first, from the published
    history `history` (any engine's SQL; one row per month, reading one column)."""
    return (
        f"select cast(as_of_date as date) as as_of_date, count(*) as customers from {history} "
        "group by cast(as_of_date as date) order by 1 desc"
    )


def populations(rows: list[tuple], as_of: dt.date, *, built: dict[dt.date, int] | None = None) -> dict:
    """{"same": customers published for as_of or None, "before": [date, customers] of the nearest
    published date before it, or None, "newest": the newest published date (YYYY-MM-DD) or None}:
    what a build's population is compared with (SPEC 6), and which date BI must keep reading (SPEC 8).
    built: dates built earlier in the same run, not yet published, with their populations: they will
    be published with this one, so the nearest of them before as_of is what it is compared with."""
    published = {}
    for day, customers in rows:
        day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)[:10])
        published[day] = int(customers)
    before = {**published, **(built or {})}
    earlier = [day for day in before if day < as_of]
    nearest = max(earlier) if earlier else None
    return {
        "same": published.get(as_of),
        "before": None if nearest is None else [nearest.isoformat(), before[nearest]],
        "newest": max(published).isoformat() if published else None,
    }
