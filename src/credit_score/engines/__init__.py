"""Where the warehouse lives: DuckDB (default), PostgreSQL or Spark, behind one interface.

Each engine lands deliveries in `raw`, reads the delivery register back, tells dbt where to build,
publishes an audited build to what BI reads and reads the published mart's star counts.  `load` and
`build` call only this interface, so they hold no per-engine branches.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from credit_score.deliveries import Delivery, DeliveryRecord, LoadedDelivery, MonthArrived
from credit_score.settings import duckdb_path, require, target_name
from credit_score.sql import QueryFailed, Reader


class WarehouseBusy(Exception):
    """Another load or build holds the warehouse, or another process holds one of its files (the CLI
    exits 75, EX_TEMPFAIL: a scheduler may retry later)."""


@dataclass
class Provenance:
    """SQL on what was published and on where the warehouse builds (the validated rows, the seeds),
    for `credit-score explain`: `published(table)` and `work(schema, table)` name the tables."""

    query: Callable[[str], list[tuple]]
    published: Callable[[str], str]
    work: Callable[[str, str], str]
    close: Callable[[], None]


def target_flag(name: str) -> str:
    """What a printed command adds to run on this engine: nothing for the default, DuckDB."""
    return "" if name == "duckdb" else f" --target {name}"


class Engine:
    """What `credit-score load` and `build` need of a warehouse, and what its readers need."""

    name = ""

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One load or build at a time (raises WarehouseBusy); the default: no lock."""
        yield

    def held_by_another(self, message: str | None) -> WarehouseBusy | None:
        """An error message that means another process holds one of the warehouse's files, as what it
        means to the operator; None for any other (the default: the engine has no such files)."""
        return None

    def load(self, delivery: Delivery, *, replace: bool, progress: bool) -> dict[str, int]:
        """Append the delivery's rows to raw (replacing an earlier load of the same id), or, with
        replace, empty raw first.  All or nothing.  Returns the rows landed per file."""
        raise NotImplementedError

    def load_many(self, deliveries: list[Delivery], *, replace: bool, progress: bool) -> list[dict[str, int]]:
        """Load several deliveries in order (replace: empty raw before the first).  The default loads
        them one by one; an engine with a costly start (Spark) loads them in one go."""
        return [self.load(d, replace=replace and n == 0, progress=progress) for n, d in enumerate(deliveries)]

    def deliveries(self) -> list[DeliveryRecord] | None:
        """The rows of raw.deliveries, or None when nothing was ever loaded."""
        raise NotImplementedError

    def loaded_deliveries(self) -> list[LoadedDelivery]:
        """Every loaded delivery with the rows it holds (deliveries.loaded_deliveries_sql), oldest load
        first; [] when nothing was ever loaded."""
        raise NotImplementedError

    def loaded_delivery(self, delivery_id: str) -> LoadedDelivery | None:
        """The loaded delivery of that id, None when there is none."""
        return next((d for d in self.loaded_deliveries() if d.delivery_id == delivery_id), None)

    def remove_delivery(self, delivery_id: str) -> LoadedDelivery | None:
        """Take one delivery out of raw (its rows and its register row), all or nothing; return what it
        held, None when no delivery has that id.  The next build recomputes what it changed (the
        ledger sees a delivery it built on gone: ledger.py)."""
        found = self.loaded_delivery(delivery_id)
        if found is not None:
            self._delete_delivery(delivery_id)
        return found

    def _delete_delivery(self, delivery_id: str) -> None:
        """remove_delivery's deletion, in one transaction."""
        raise NotImplementedError

    def published_populations(self) -> list[tuple[dt.date, int]]:
        """(as_of_date, customers) of every date in the published history, newest first (read before
        dbt, which rewrites the months it builds): what history.populations() compares with."""
        raise NotImplementedError

    def built_population(self) -> int:
        """The customers in the mart dbt just built (not yet published)."""
        raise NotImplementedError

    def bill_months_arrived(self, months: list[dt.date]) -> dict[str, MonthArrived]:
        """{YYYY-MM: what arrived of it} for the months (deliveries.bill_months_sql over raw.billing)."""
        raise NotImplementedError

    # Where dbt writes its target/ and logs/ for this warehouse (None: the project's own folders).
    dbt_dir: Path | None = None

    @property
    def dbt_target(self) -> str:
        """The profile's target dbt builds with (profiles/profiles.yml): the engine's name."""
        return self.name

    def dbt_env(self) -> dict[str, str]:
        """Environment for the dbt process: where the profile points, and where dbt writes its
        target/ and logs/ (one pair per warehouse, so that two warehouses never share them)."""
        if self.dbt_dir is None:
            return {}
        return {"DBT_TARGET_PATH": str(self.dbt_dir / "target"), "DBT_LOG_PATH": str(self.dbt_dir / "logs")}

    def full_refresh_reason(self) -> str | None:
        """Why the next build must recompute everything (see ledger.py); None: it can go on
        incrementally.  The default, for engines whose models are recomputed each build: None."""
        return None

    def static_fingerprint(self) -> str | None:
        """The fingerprint of the seeds and the time spine (build.static_fingerprint) that the last
        successful build recorded, None when there is none.  The default: None (always build them)."""
        return None

    def record_static_fingerprint(self, fingerprint: str | None) -> None:
        """After a successful build: the fingerprint of the seeds and time spine it built or kept; None
        (before a build that rebuilds them): forget it."""

    def before_dbt(self, as_of: dt.date, *, adding: bool = False) -> None:
        """Prepare the history for a dbt run as of as_of (see history.py); adding: a further run of the
        same build, whose months are published together with the runs' before it."""

    def publish(self, as_of: dt.date, tests_passed: int) -> str:
        """Make the audited build what BI reads; return where that is."""
        raise NotImplementedError

    def after_dbt(self, as_of: dt.date, *, published: bool) -> None:
        """Settle the history after the build (see history.py)."""

    def star_distribution(self) -> tuple[int, list[tuple[int, str, int]]]:
        """(rows, [(star_level, star_label, customers)]) of the published mart."""
        raise NotImplementedError

    # -- readers ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def reader(self, *, work: bool = False) -> Iterator[Reader]:
        """SQL read-only on what BI reads (`credit-score sql`, `export`, `report`); with work, on where
        the last build computed (its audit, published or not).  QueryFailed says what to use instead."""
        raise QueryFailed(f"sql reads DuckDB's served file or PostgreSQL; on {self.name} use spark-sql or beeline")
        yield  # pragma: no cover

    def provenance(self) -> Provenance:
        """`credit-score explain`'s reader; QueryFailed when the engine's work data is not reachable."""
        raise QueryFailed(f"explain does not read {self.name}")

    def work_rejects_command(self, query: str) -> str:
        """The command that shows a refused build's rejects (query names the audit schema {audit})."""
        return f"spark-sql: {query.format(audit='audit')}"


def get(target: str | None = None, *, database: Path | None = None) -> Engine:
    """The engine for a target name (default $CREDIT_SCORE_TARGET or duckdb); database is the served
    DuckDB file (default $CREDIT_SCORE_DUCKDB or warehouse/credit_score.duckdb)."""
    name = target_name(target)
    if name == "postgres":
        require("psycopg2", "postgres", "--target postgres")
        require("dbt.adapters.postgres", "postgres", "--target postgres")
        from credit_score.engines.postgres import PostgresEngine

        return PostgresEngine()
    if name == "spark":
        require("pyspark", "spark", "--target spark")
        require("dbt.adapters.spark", "spark", "--target spark")
        from credit_score.engines.spark import SparkEngine

        return SparkEngine()
    from credit_score.engines.duckdb import DuckDBEngine

    return DuckDBEngine((database or duckdb_path()).resolve())
