"""Keep the history that dbt appends to in step with the history BI reads.

dbt writes `customer_credit_score_history` where it builds (DuckDB: the work file; PostgreSQL:
`marts_unpublished`), one month per build.  What BI reads is the published copy (DuckDB: the served
file; PostgreSQL: `marts`).  The published copy is the record: a month reaches it only after every
error-level test passed.  So that an unpublished month can never slip out with a later build, the
build's month is marked *pending* before dbt runs and settled afterwards:

- published: the month was copied out with the rest, the mark is removed;
- failed (or killed: the next build finds the mark): the month is put back as published, from the
  published copy (its previous rows, or none), and the mark removed.

Each step touches one month's rows, so adding a month costs a month whatever the history's length.
If the build side has no history at all (a new work file), it starts from a copy of the published one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

HISTORY = "customer_credit_score_history"


@dataclass
class HistoryTables:
    """Where the built history, the published history and the pending marks are, on one connection."""

    execute: Callable[[str, Sequence[Any]], list[tuple]]
    exists: Callable[[str], bool]
    built: str
    published: str
    pending: str

    def prepare(self, as_of: dt.date) -> None:
        """Before dbt: settle a killed build's month, align the built history, mark as_of pending."""
        if self.exists(self.pending):
            for (month,) in self.execute(f"select distinct as_of_date from {self.pending}", []):
                self.restore(month)
            self.execute(f"delete from {self.pending}", [])
        else:
            self.execute(f"create table {self.pending} (as_of_date date not null)", [])
        if not self.exists(self.published):
            if self.exists(self.built):  # nothing published yet: nothing to carry forward
                self.execute(f"drop table {self.built}", [])
        elif not self.exists(self.built):
            self.execute(f"create table {self.built} as select * from {self.published}", [])
        self.execute(f"insert into {self.pending} values (?)", [as_of])

    def settle(self, as_of: dt.date, *, published: bool) -> None:
        """After the build: keep the month if it was published, else put the published rows back."""
        if not published:
            self.restore(as_of)
        self.execute(f"delete from {self.pending} where as_of_date = ?", [as_of])

    def restore(self, month: dt.date) -> None:
        if not self.exists(self.built):
            return
        self.execute(f"delete from {self.built} where as_of_date = ?", [month])
        if self.exists(self.published):
            self.execute(f"insert into {self.built} select * from {self.published} where as_of_date = ?", [month])
