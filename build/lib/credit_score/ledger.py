"""Whether a build can go on incrementally, or must recompute everything (`--full-refresh`).

Each incremental model records in `incremental_ledger` the deliveries (id, load time) that raw held
when it last built (macros/incremental.sql).  A delivery in the ledger that raw no longer holds as
it was has been reloaded under the same id, or raw was replaced (`load --replace`): what the old
rows added to the kept state cannot be taken back row by row, so the next build recomputes all.
Incremental models built by a version before the ledger existed are rebuilt once, the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Execute = Callable[[str, Sequence[Any]], list[tuple]]


def full_refresh_reason(
    execute: Execute, *, ledger: str, deliveries: str, ledger_exists: bool, models_exist: bool
) -> str | None:
    """Why the next build must be a full refresh, or None when it can go on incrementally.
    ledger / deliveries: the tables' names on the connection; models_exist: whether the validation
    models were built before (no models: the build is a full one anyway)."""
    if not models_exist:
        return None
    if not ledger_exists:
        return "the models were built by an earlier version, which kept no ledger of deliveries"
    gone = execute(
        f"select distinct ledger.delivery_id from {ledger} as ledger where not exists ("
        f"select 1 from {deliveries} as delivered where delivered.delivery_id = ledger.delivery_id "
        "and delivered.loaded_at = ledger.loaded_at) order by 1",
        [],
    )
    if gone:
        ids = ", ".join(str(row[0]) for row in gone[:5]) + (" ..." if len(gone) > 5 else "")
        return f"deliveries built before were reloaded or removed since ({ids})"
    return None
