"""Warehouses driven the way `credit-score build` drives them, for the incremental invariant tests
(SPEC 6: after any sequence of loads and builds, every table equals a --full-refresh's).

A warehouse loads deliveries and runs the seeds and models (no tests) incrementally - or in full when
its ledger says so, or when asked - and reads back every table of marts, audit and intermediate as
sorted rows of text, the load-time stamps aside.  One class per engine; the comparison is shared.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
from hypothesis import strategies as st

from credit_score import badrows
from credit_score.bench.monthly import COMPARED_SCHEMAS, NOT_COMPARED, WHEN
from credit_score.build import as_of_env
from credit_score.dbt import run_dbt
from credit_score.engines import Engine
from credit_score.engines.duckdb import DuckDBEngine
from credit_score.engines.postgres import PUBLISHED, PostgresEngine, connect
from credit_score.engines.spark import SNAPSHOT, SparkEngine
from credit_score.generate import generate
from credit_score.load import load, remove_delivery
from tests import reference
from tests.conftest import MONTH_END
from tests.deliveries_scenario import OCTOBER
from tests.helpers import DELIVERED, as_text, differences, write_folder

TABLES = ("subscriptions", "billing", "suspensions")

Tables = dict[str, list[tuple[str, ...]]]


class Warehouse:
    engine: Engine
    database: Path | None = None
    # dbt vars of every run (e.g. kept_keys_literal_limit), and each run's outcome, in order
    variables: dict | None = None
    outcomes: list | None = None

    def load(self, folder: Path, delivery_id: str, delivered_on: dt.date) -> None:
        load(
            folder,
            self.database,
            delivered_on=delivered_on,
            delivery_id=delivery_id,
            target=self.engine.name,
            progress=False,
            allow_empty=True,  # the scenario's delivery `nothing` brought nothing, on purpose
        )

    def remove(self, delivery_id: str) -> None:
        """`credit-score deliveries remove ID`."""
        assert remove_delivery(delivery_id, self.engine.name, self.database) == 0

    def run(self, as_of: dt.date, *, full_refresh: bool = False) -> str | None:
        """Run the models incrementally (or in full when the ledger says so, or when asked); return
        why it was a full refresh, None if incremental."""
        reason = "asked" if full_refresh else self.engine.full_refresh_reason()
        outcome = run_dbt(
            ["build", "--resource-type", "seed", "--resource-type", "model", *(["--full-refresh"] if reason else [])],
            target=self.engine.dbt_target,  # on Spark with a Connect server: the target without a master
            variables=self.variables,
            env={**self.engine.dbt_env(), **as_of_env(as_of)},
        )
        self.outcomes = [*(self.outcomes or []), outcome]
        failed = outcome.with_status("error", "fail", "runtime error")
        assert outcome.success and not failed, outcome.error or [f"{r.name}: {r.message}" for r in failed]
        return reason

    def tables(self) -> Tables:
        """Every compared table: {schema.table: [column names, *sorted rows as text]}."""
        raise NotImplementedError

    def mart(self) -> dict[str, dict[str, str]]:
        columns, *rows = self.tables()["marts.customer_credit_score"]
        return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


def _rows(cursor_description, fetched) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    columns = [d[0] for d in cursor_description]
    keep = [i for i, c in enumerate(columns) if c not in WHEN]
    rows = sorted(tuple(as_text(row[i]) for i in keep) for row in fetched)
    return tuple(columns[i] for i in keep), rows


class DuckDBWarehouse(Warehouse):
    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)
        self.engine = DuckDBEngine((root / "warehouse.duckdb").resolve())
        self.database = self.engine.served

    def reset(self) -> None:
        for path in (self.engine.work, self.engine.served):
            path.unlink(missing_ok=True)

    def tables(self) -> Tables:
        con = duckdb.connect(str(self.engine.work), read_only=True)
        try:
            found = {}
            schemas = ", ".join(f"'{schema}'" for schema in COMPARED_SCHEMAS)
            names = con.execute(
                f"select schema_name, table_name from duckdb_tables() where schema_name in ({schemas}) order by all"
            ).fetchall()
            for schema, table in names:
                cursor = con.execute(f'select * from "{schema}"."{table}"')
                columns, rows = _rows(cursor.description, cursor.fetchall())
                found[f"{schema}.{table}"] = [columns, *rows]
            return found
        finally:
            con.close()


class PostgresWarehouse(Warehouse):
    """The database of $CREDIT_SCORE_PG_DATABASE; dbt builds marts and audit into their unpublished
    schemas (publishing is the build's business, not the models')."""

    def __init__(self):
        self.engine = PostgresEngine()

    def tables(self) -> Tables:
        schemas = {PUBLISHED.get(schema, schema): schema for schema in COMPARED_SCHEMAS}
        con = connect()
        try:
            with con.cursor() as cur:
                cur.execute(
                    "select table_schema, table_name from information_schema.tables "
                    "where table_schema = any(%s) and table_type = 'BASE TABLE' order by 1, 2",
                    [list(schemas)],
                )
                names = cur.fetchall()
                found = {}
                for schema, table in names:
                    if "history" in table and schema == PUBLISHED["marts"]:
                        continue  # the history and its pending month: the build's, not the models'
                    cur.execute(f'select * from "{schema}"."{table}"')
                    columns, rows = _rows(cur.description, cur.fetchall())
                    found[f"{schemas[schema]}.{table}"] = [columns, *rows]
                return found
        finally:
            con.close()


class SparkWarehouse(Warehouse):
    """The Spark warehouse of $CREDIT_SCORE_SPARK_WAREHOUSE (on whatever master is set), its parquet
    tables read with DuckDB (partition columns as text)."""

    def __init__(self):
        self.engine = SparkEngine()

    def tables(self) -> Tables:
        """What dbt last built of each table: marts and audit where it builds them (marts_unpublished,
        audit_unpublished), or, for a table a publish has since taken as its snapshot, that snapshot."""
        found = {}
        published = self.engine.published_tables()
        for schema in COMPARED_SCHEMAS:
            built = self.engine.table_path(PUBLISHED.get(schema, schema), "x").parent
            files_of = {f"{schema}.{table.name}": sorted(str(f) for f in table.glob("**/*.parquet"))
                        for table in built.glob("*") if not SNAPSHOT.search(table.name)}  # fmt: skip
            for name in published:
                if name.startswith(f"{schema}.") and name not in files_of:
                    files_of[name] = self.engine.published_files(*name.split("."))
            for name, files in sorted(files_of.items()):
                if not files:
                    found[name] = [()]
                    continue
                cursor = duckdb.execute(
                    f"select * from read_parquet({files!r}, hive_partitioning = true, "
                    "hive_types_autocast = false, union_by_name = true)"
                )
                columns, rows = _rows(cursor.description, cursor.fetchall())
                # an empty table may be no file or an empty one: the same to a reader
                found[name] = [columns, *rows] if rows else [()]
        return found


def assert_equal_to_full_refresh(warehouse: Warehouse, as_of: dt.date) -> Tables:
    """The warehouse's tables now equal those of a full refresh over the same raw tables (which it
    then holds); returns the full refresh's tables."""
    incremental = warehouse.tables()
    warehouse.run(as_of, full_refresh=True)
    full = warehouse.tables()
    assert incremental.keys() == full.keys()
    for name in full:
        if name in NOT_COMPARED:
            continue
        only_incremental = sorted(set(incremental[name]) - set(full[name]))[:5]
        only_full = sorted(set(full[name]) - set(incremental[name]))[:5]
        assert incremental[name] == full[name], (name, only_incremental, only_full)
    assert len(full["intermediate.int_billing_validated"]) > 100, "a real comparison, not of empty tables"
    return full


# --- the two kinds of sequences ------------------------------------------------------------------


def check_the_scenario_built_after_every_load(warehouse: Warehouse, scenario) -> None:
    """The cross-delivery scenario's deliveries, in order, a build after each: the reloads recompute
    everything by themselves, the other builds add; the mart is the scenario's, every table a full
    refresh's."""
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


@dataclass
class Catalogue:
    """Generated customers with every kind of bad row mixed in, and the reference's mart of them."""

    mixed: dict[str, list]
    expected: dict[str, dict[str, str]]
    folder: Path


def catalogue(folder: Path) -> Catalogue:
    generate(400, folder / "good", seed=23, as_of=MONTH_END, progress=False)
    good = {t: reference.read_csv(folder / "good" / f"{t}.csv") for t in TABLES}
    mixed, added = badrows.mix_in(good)
    scored = {t: list(good[t]) for t in TABLES}
    for kind in badrows.KINDS:
        if kind.scored:
            scored[kind.table].extend(added[kind.name])
    expected = reference.score(scored["subscriptions"], scored["billing"], scored["suspensions"], MONTH_END)
    return Catalogue(mixed, expected, folder)


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


def check_a_random_plan(warehouse: Warehouse, data: Catalogue, plan) -> None:
    """Deal the catalogue's rows as the plan says into an empty warehouse, building where it says:
    every build adds to what the last kept, and the end equals a full refresh and the reference."""
    parts, seed, copy_share, days, builds = plan
    rng = random.Random(seed)
    dealt: list[dict[str, list]] = [{t: [] for t in TABLES} for _ in range(parts)]
    for table in TABLES:
        for row in data.mixed[table]:
            first = rng.randrange(parts)
            dealt[first][table].append(row)
            if rng.random() < copy_share:  # the same row again in another delivery: an exact duplicate
                dealt[(first + 1 + rng.randrange(parts - 1)) % parts][table].append(row)
    folders = data.folder / f"plan-{seed}"
    shutil.rmtree(folders, ignore_errors=True)
    for number, (tables, day, build_after) in enumerate(zip(dealt, days, builds, strict=True)):
        folder = write_folder(folders / f"d{number}", {t: rows for t, rows in tables.items() if rows})
        warehouse.load(folder, f"d{number}", DELIVERED + dt.timedelta(days=day))
        if build_after:
            assert warehouse.run(MONTH_END) is None, "only new deliveries: the build adds to what it kept"
    full = assert_equal_to_full_refresh(warehouse, MONTH_END)
    assert differences(warehouse.mart(), data.expected) == []
    columns, *rows = full["audit.reconciliation"]
    raw_rows = {row[0]: int(row[columns.index("raw_rows")]) for row in rows}
    assert raw_rows == {t: sum(len(d[t]) for d in dealt) for t in TABLES}


def check_a_wrong_delivery_removed(warehouse: Warehouse, data: Catalogue, plan, wrong_share: float) -> None:
    """The plan's deliveries (check_a_random_plan), then a wrong delivery: a share of the catalogue's
    bills again with another amount (conflicting versions: every version rejected) and a new bill for
    each of their customers.  Built, it changes scores; removed (`credit-score deliveries remove`) and
    built again, every table equals a full refresh's and the mart the reference's, as if it never came."""
    check_a_random_plan(warehouse, data, plan)
    rng = random.Random(plan[1] + 1)
    wrong = [{**bill, "amount": "999.99"} for bill in data.mixed["billing"] if rng.random() < wrong_share]
    extra = [{**bill, "bill_id": f"WRONG-{n}", "amount": "500.00"} for n, bill in enumerate(wrong)]
    folder = write_folder(data.folder / f"wrong-{plan[1]}", {"billing": wrong + extra})
    warehouse.load(folder, "wrong", DELIVERED + dt.timedelta(days=21))
    assert warehouse.run(MONTH_END) is None
    assert differences(warehouse.mart(), data.expected) != [], "the wrong delivery changes scores"
    warehouse.remove("wrong")
    reason = warehouse.run(MONTH_END)
    assert reason is not None and "wrong" in reason, reason  # what took it in is recomputed from raw
    assert_equal_to_full_refresh(warehouse, MONTH_END)
    assert differences(warehouse.mart(), data.expected) == []


def check_explain_equals_duckdbs(target: str, scenario_duckdb) -> None:
    """The same deliveries, the same month-end published: each customer's explanation, parts, bills
    (ids, amounts, deliveries, file lines) and suspensions read from the target equal DuckDB's (every
    40th customer of the scenario)."""
    from credit_score.explain import explain

    database, built = scenario_duckdb
    customers = sorted(built[MONTH_END].mart)[::40]
    assert len(customers) > 30
    for customer in customers:
        assert explain(customer, MONTH_END, target=target) == explain(customer, MONTH_END, database=database), customer


# --- customers delivered after their bills (SPEC 8's waiting rows) ---------------------------------

LATE_MONTHS = 4  # generated monthly deliveries: before-2026-07 (delivered 2026-07-05), 2026-07 ... 2026-10
NEVER = 99  # a delay past the last delivery: the customer never arrives


@dataclass
class LateData:
    """Generated customers delivered month by month: per delivery (in order) its id, delivery date,
    the as-of date its month's build scores, and its rows."""

    deliveries: list[tuple[str, dt.date, dt.date, dict[str, list[dict]]]]
    folder: Path


def late_data(folder: Path, customers: int = 300) -> LateData:
    generate(customers, folder / "monthly", seed=41, as_of=OCTOBER, deliveries="monthly", months=LATE_MONTHS,
             progress=False)  # fmt: skip
    deliveries = []
    for line in (folder / "monthly" / "deliveries.csv").read_text().splitlines()[1:]:
        delivery_id, delivered_on = line.split(",")
        delivered = dt.date.fromisoformat(delivered_on)
        as_of = delivered.replace(day=1) - dt.timedelta(days=1)  # the month the delivery closes
        rows = {t: reference.read_csv(folder / "monthly" / delivery_id / f"{t}.csv") for t in TABLES}
        deliveries.append((delivery_id, delivered, as_of, rows))
    return LateData(deliveries, folder)


@st.composite
def late_customer_plans(draw):
    """Which customers come late and by how much: a share of them delivered one to three deliveries
    (months) after they were due, some never; a build after some of the deliveries (always the last)."""
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    late_share = draw(st.sampled_from([0.1, 0.3, 0.6]))
    builds = draw(st.lists(st.booleans(), min_size=LATE_MONTHS, max_size=LATE_MONTHS))
    return seed, late_share, [*builds, True]


def _expected_outcomes(dealt, number: int, as_of: dt.date, max_wait_months: int = 2):
    """By SPEC 8, on as_of after loading deliveries 0..number: each bill's and suspension's outcome
    (None: accepted, `waiting`, `unknown_customer`) by (table, id)."""
    arrived = {row["customer_id"] for _, _, _, rows in dealt[: number + 1] for row in rows["subscriptions"]}
    outcomes = {}
    for _, delivered, _, rows in dealt[: number + 1]:
        waits_until = reference.add_months(delivered.replace(day=1), max_wait_months)
        for table, key in (("billing", "bill_id"), ("suspensions", "suspension_id")):
            for row in rows[table]:
                if row["customer_id"] in arrived:
                    outcome = None
                else:
                    outcome = "waiting" if as_of.replace(day=1) < waits_until else "unknown_customer"
                outcomes[table, row[key]] = outcome
    return outcomes


def check_late_customers(warehouse: Warehouse, data: LateData, plan) -> int:
    """Deal the generated deliveries with a share of the customers delivered late (their subscription
    rows moved one to three deliveries on, or never delivered), building each delivery's month where
    the plan says.  After each build the audit counts each bill and suspension as SPEC 8 says
    (accepted once its customer arrived, waiting within max_wait_months of its delivery, then
    unknown_customer) and the mart is the reference's scores of what arrived; at the end every table
    equals a full refresh's.  Returns how many rows waited at some build (the test asks for some)."""
    seed, late_share, builds = plan
    rng = random.Random(seed)
    customers = sorted({r["customer_id"] for _, _, _, rows in data.deliveries for r in rows["subscriptions"]})
    delay = {c: rng.choice([1, 2, 3, NEVER]) for c in customers if rng.random() < late_share}
    dealt = [(d, on, as_of, {t: [] if t == "subscriptions" else rows[t] for t in TABLES})
             for d, on, as_of, rows in data.deliveries]  # fmt: skip
    for number, (_, _, _, rows) in enumerate(data.deliveries):
        for row in rows["subscriptions"]:
            moved_to = number + delay.get(row["customer_id"], 0)
            if moved_to < len(dealt):
                dealt[moved_to][3]["subscriptions"].append(row)
    folders = data.folder / f"late-{seed}"
    shutil.rmtree(folders, ignore_errors=True)
    waited = set()
    for number, ((delivery_id, delivered, as_of, rows), build_after) in enumerate(zip(dealt, builds, strict=True)):
        warehouse.load(write_folder(folders / delivery_id, {t: r for t, r in rows.items() if r}), delivery_id,
                       delivered)  # fmt: skip
        if not build_after:
            continue
        warehouse.run(as_of)
        outcomes = _expected_outcomes(dealt, number, as_of)
        tables = warehouse.tables()
        columns, *found = tables["audit.waiting_records"]
        waiting = (
            {(r[columns.index("source_table")], r[columns.index("record_id")]) for r in found} if columns else set()
        )
        assert waiting == {k for k, v in outcomes.items() if v == "waiting"}, (as_of, len(waiting))
        columns, *found = tables["audit.rejected_records"]
        unknown = {(r[columns.index("source_table")], r[columns.index("record_id")]) for r in found
                   if r[columns.index("rejection_reason")] == "unknown_customer"} if columns else set()  # fmt: skip
        assert unknown == {k for k, v in outcomes.items() if v == "unknown_customer"}, as_of
        columns, *found = tables["audit.reconciliation"]
        for row in found:
            table = row[columns.index("source_table")]
            assert int(row[columns.index("waiting_rows")]) == sum(
                1 for (t, _), v in outcomes.items() if t == table and v == "waiting"
            ), (as_of, table)
        loaded = [rows for _, _, _, rows in dealt[: number + 1]]
        expected = reference.score(
            reference.latest_versions(r for d in loaded for r in d["subscriptions"]),
            [r for d in loaded for r in d["billing"]],
            [r for d in loaded for r in d["suspensions"]],
            as_of,
        )
        assert differences(warehouse.mart(), expected) == [], as_of
        waited |= waiting
    assert_equal_to_full_refresh(warehouse, dealt[-1][2])
    return len(waited)
