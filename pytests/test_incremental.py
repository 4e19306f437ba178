"""Incremental builds give exactly what a full refresh gives (SPEC 6's invariant).

After any sequence of loads and builds, the marts, the audit tables and the state the incremental
models keep equal, row for row and column by column, those of a `--full-refresh` over the same raw
tables; and the mart equals the independent reference's scores.  The sequences are the
cross-delivery cases of the deliveries scenario, one build after each load (a reload of a delivery
already built among them), and random splits drawn by Hypothesis of generated data with the bad-row
catalogue mixed in, into random deliveries with random copies, dates and build points.

The builds here run the seeds and models only (no tests, the way `credit-score build` chooses between
incremental and full refresh); the tests, publishing and the guards are covered elsewhere.  All
builds score the same as-of date and write the same work file, so dbt parses the project once.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credit_score import badrows
from credit_score.dbt import run_dbt
from credit_score.engines.duckdb import DuckDBEngine
from credit_score.generate import generate
from credit_score.load import load
from pytests import reference
from pytests.conftest import MONTH_END
from pytests.deliveries_scenario import OCTOBER
from pytests.helpers import DELIVERED, as_text, differences, write_folder

TABLES = ("subscriptions", "billing", "suspensions")
# Columns that say when something ran, not what it holds.
WHEN = {"loaded_through", "loaded_at"}
# The tables compared: what BI reads, and the state the incremental models keep.
COMPARED_SCHEMAS = ("marts", "audit", "intermediate")


class Warehouse:
    """One DuckDB warehouse, its models run the way `credit-score build` runs them."""

    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)
        self.engine = DuckDBEngine((root / "warehouse.duckdb").resolve())

    def reset(self) -> None:
        for path in (self.engine.work, self.engine.served):
            path.unlink(missing_ok=True)

    def load(self, folder: Path, delivery_id: str, delivered_on: dt.date) -> None:
        load(folder, self.engine.served, delivered_on=delivered_on, delivery_id=delivery_id, progress=False)

    def run(self, as_of: dt.date, *, full_refresh: bool = False) -> str | None:
        """Run the models incrementally (or in full when the ledger says so, or when asked); return
        why it was a full refresh, None if incremental."""
        reason = "asked" if full_refresh else self.engine.full_refresh_reason()
        outcome = run_dbt(
            ["build", "--resource-type", "seed", "--resource-type", "model", *(["--full-refresh"] if reason else [])],
            variables={"as_of_date": as_of.isoformat()},
            env=self.engine.dbt_env(),
        )
        failed = outcome.with_status("error", "fail", "runtime error")
        assert outcome.success and not failed, outcome.error or [f"{r.name}: {r.message}" for r in failed]
        return reason

    def tables(self) -> dict[str, list[tuple[str, ...]]]:
        """Every table of marts, audit and intermediate in the work file: sorted rows as text."""
        con = duckdb.connect(str(self.engine.work), read_only=True)
        try:
            found = {}
            schemas = ", ".join(f"'{schema}'" for schema in COMPARED_SCHEMAS)
            names = con.execute(
                f"select schema_name, table_name from duckdb_tables() where schema_name in ({schemas}) order by all"
            ).fetchall()
            for schema, table in names:
                cursor = con.execute(f'select * from "{schema}"."{table}"')
                columns = [d[0] for d in cursor.description]
                keep = [i for i, c in enumerate(columns) if c not in WHEN]
                rows = sorted(tuple(as_text(row[i]) for i in keep) for row in cursor.fetchall())
                found[f"{schema}.{table}"] = [tuple(columns[i] for i in keep), *rows]
            return found
        finally:
            con.close()

    def mart(self) -> dict[str, dict[str, str]]:
        columns, *rows = self.tables()["marts.customer_credit_score"]
        return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


def assert_equal_to_full_refresh(warehouse: Warehouse, as_of: dt.date) -> dict[str, list]:
    incremental = warehouse.tables()
    warehouse.run(as_of, full_refresh=True)
    full = warehouse.tables()
    assert incremental.keys() == full.keys()
    for name in full:
        if name == "marts.customer_credit_score_history":
            continue  # kept across full refreshes by design (full_refresh=false); its month is the mart's
        only_incremental = sorted(set(incremental[name]) - set(full[name]))[:5]
        only_full = sorted(set(full[name]) - set(incremental[name]))[:5]
        assert incremental[name] == full[name], (name, only_incremental, only_full)
    assert len(full["intermediate.int_billing_validated"]) > 100, "a real comparison, not of empty tables"
    return full


def test_the_scenario_built_after_every_load_equals_a_full_refresh(scenario, tmp_path):
    warehouse = Warehouse(tmp_path)
    steps = scenario.in_order() + scenario.after_september()
    reasons = []
    for folder, delivery_id, delivered_on in steps:
        warehouse.load(folder, delivery_id, delivered_on)
        reasons.append(warehouse.run(OCTOBER))
    # the first build has nothing to add to; 2026-10 loaded again after it was built and the
    # corrected adjustments replace what was built: those builds recompute everything, the rest add
    assert [reason is not None for reason in reasons] == [False, False, False, True, False, True, False]
    assert "2026-10" in reasons[3] and "adjustments" in reasons[5]
    assert differences(warehouse.mart(), scenario.expected_mart(OCTOBER)) == []
    assert_equal_to_full_refresh(warehouse, OCTOBER)


@pytest.fixture(scope="module")
def catalogue_data(tmp_path_factory):
    """Generated customers over three months with every kind of bad row mixed in, and the mart the
    reference computes from the rows SPEC scores."""
    tmp = tmp_path_factory.mktemp("catalogue")
    generate(400, tmp / "good", seed=23, as_of=MONTH_END, progress=False)
    good = {t: reference.read_csv(tmp / "good" / f"{t}.csv") for t in TABLES}
    mixed, added = badrows.mix_in(good)
    scored = {t: list(good[t]) for t in TABLES}
    for kind in badrows.KINDS:
        if kind.scored:
            scored[kind.table].extend(added[kind.name])
    expected = reference.score(scored["subscriptions"], scored["billing"], scored["suspensions"], MONTH_END)
    return mixed, expected, Warehouse(tmp / "warehouse"), tmp


@st.composite
def delivery_plans(draw):
    """How to deal the rows: into 2-4 deliveries, some rows also copied into another delivery,
    the deliveries dated in any order within November, and a build after some of the loads."""
    parts = draw(st.integers(min_value=2, max_value=4))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    copy_share = draw(st.sampled_from([0.0, 0.02, 0.1]))
    days = draw(st.lists(st.integers(min_value=0, max_value=20), min_size=parts, max_size=parts))
    builds = draw(st.lists(st.booleans(), min_size=parts - 1, max_size=parts - 1))
    return parts, seed, copy_share, days, [*builds, True]


@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=delivery_plans())
def test_random_deliveries_built_incrementally_equal_a_full_refresh_and_the_reference(catalogue_data, plan):
    mixed, expected, warehouse, tmp = catalogue_data
    parts, seed, copy_share, days, builds = plan
    rng = random.Random(seed)
    dealt: list[dict[str, list]] = [{t: [] for t in TABLES} for _ in range(parts)]
    for table in TABLES:
        for row in mixed[table]:
            first = rng.randrange(parts)
            dealt[first][table].append(row)
            if rng.random() < copy_share:  # the same row again in another delivery: an exact duplicate
                dealt[(first + 1 + rng.randrange(parts - 1)) % parts][table].append(row)
    folders = tmp / f"plan-{seed}"
    shutil.rmtree(folders, ignore_errors=True)
    warehouse.reset()
    for number, (tables, day, build_after) in enumerate(zip(dealt, days, builds, strict=True)):
        folder = write_folder(folders / f"d{number}", {t: rows for t, rows in tables.items() if rows})
        warehouse.load(folder, f"d{number}", DELIVERED + dt.timedelta(days=day))
        if build_after:
            assert warehouse.run(MONTH_END) is None, "only new deliveries: the build adds to what it kept"
    full = assert_equal_to_full_refresh(warehouse, MONTH_END)
    assert differences(warehouse.mart(), expected) == []
    columns, *rows = full["audit.reconciliation"]
    raw_rows = {row[0]: int(row[columns.index("raw_rows")]) for row in rows}
    assert raw_rows == {t: sum(len(d[t]) for d in dealt) for t in TABLES}
