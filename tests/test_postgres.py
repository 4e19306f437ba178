"""The same project on a real PostgreSQL server: the same deliveries publish the same marts and audit
tables as DuckDB, a read-only BI role, and publishing that shows readers the previous audited mart or
the new one, never a mix or an error; built incrementally after each delivery (the scenario, and
Hypothesis's random deliveries of the bad-row catalogue), every table equals a full refresh's and the
mart the reference's."""

import datetime as dt
import os
import threading
import time
from decimal import Decimal

import duckdb
import psycopg2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credit_score.build import BuildRefused, build
from credit_score.engines import postgres
from credit_score.generate import generate
from tests import reference
from tests.conftest import MID_MONTH, MONTH_END
from tests.helpers import (
    EVERY_PUBLISHED_TABLE,
    as_history,
    as_text,
    copy_project,
    differences,
    load_one,
    load_steps,
    project_unit_tests,
    read_published,
    write_folder,
)
from tests.pg_server import PostgresServer
from tests.test_completeness import check_bad_days, make_data
from tests.test_rule_versions import run as run_cli
from tests.test_rule_versions import write_proposal
from tests.warehouses import (
    PostgresWarehouse,
    catalogue,
    check_a_random_plan,
    check_explain_equals_duckdbs,
    check_late_customers,
    check_the_scenario_built_after_every_load,
    delivery_plans,
    late_customer_plans,
    late_data,
)


@pytest.fixture(scope="module")
def server():
    pg = PostgresServer().start()
    saved = {k: os.environ.get(k) for k in pg.environment()}
    os.environ.update(pg.environment())
    yield pg
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    pg.stop()


def read_pg_mart(**connect) -> dict[str, dict[str, str]]:
    con = postgres.connect(**connect)
    try:
        with con.cursor() as cur:
            cur.execute("select * from marts.customer_credit_score")
            columns = [d[0] for d in cur.description]
            return {row[0]: dict(zip(columns, map(as_text, row), strict=True)) for row in cur.fetchall()}
    finally:
        con.close()


_databases = iter(range(1, 1000))


def create_database() -> str:
    """A new, empty database on the server."""
    name = f"credit_score_{next(_databases)}"
    con = postgres.connect(dbname="postgres")
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(f"create database {name}")
    con.close()
    return name


@pytest.fixture
def fresh_database(server):
    """A new database on the server for one test (its own raw, marts and history)."""
    saved = os.environ["CREDIT_SCORE_PG_DATABASE"]
    os.environ["CREDIT_SCORE_PG_DATABASE"] = name = create_database()
    yield name
    os.environ["CREDIT_SCORE_PG_DATABASE"] = saved


# --- the incremental invariant on PostgreSQL (the same sequences as test_incremental.py) ---------


def test_the_scenario_built_after_every_load_equals_a_full_refresh_on_postgres(fresh_database, scenario):
    check_the_scenario_built_after_every_load(PostgresWarehouse(), scenario)


@pytest.fixture(scope="module")
def pg_catalogue(tmp_path_factory, server):
    return catalogue(tmp_path_factory.mktemp("catalogue"))


@settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=delivery_plans())
def test_random_deliveries_built_incrementally_equal_a_full_refresh_on_postgres(pg_catalogue, plan):
    saved = os.environ["CREDIT_SCORE_PG_DATABASE"]
    os.environ["CREDIT_SCORE_PG_DATABASE"] = create_database()  # each example an empty warehouse
    try:
        check_a_random_plan(PostgresWarehouse(), pg_catalogue, plan)
    finally:
        os.environ["CREDIT_SCORE_PG_DATABASE"] = saved


@pytest.fixture(scope="module")
def pg_late(tmp_path_factory, server):
    return late_data(tmp_path_factory.mktemp("late"))


@settings(
    max_examples=1,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=late_customer_plans())
def test_customers_delivered_after_their_bills_wait_and_equal_a_full_refresh_on_postgres(pg_late, plan):
    """SPEC 8's waiting rows on PostgreSQL: the same sequences as test_incremental.py's."""
    saved = os.environ["CREDIT_SCORE_PG_DATABASE"]
    os.environ["CREDIT_SCORE_PG_DATABASE"] = create_database()
    try:
        assert check_late_customers(PostgresWarehouse(), pg_late, plan) > 0
    finally:
        os.environ["CREDIT_SCORE_PG_DATABASE"] = saved


@pytest.fixture(scope="module")
def pg_scenario(server, scenario):
    """The cross-delivery scenario loaded on PostgreSQL in another order than on DuckDB, built as of
    2026-03-15 and then 2026-10-31: {as_of: (report, what was published)}."""
    load_steps(scenario.out_of_order(), target="postgres")
    built = {}
    for as_of in (MID_MONTH, MONTH_END):
        # the rules' unit tests once on this engine (its SQL dialect), the audit at both dates
        report = build(as_of, target="postgres", unit_tests=as_of == MONTH_END)
        assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]
        built[as_of] = report, read_published("postgres")
    return built


@pytest.mark.parametrize("as_of", [MONTH_END, MID_MONTH], ids=str)
def test_postgres_publishes_what_duckdb_publishes(pg_scenario, scenario_duckdb, as_of):
    """The same deliveries (the cross-delivery cases and 1,000 customers on SPEC's boundaries) loaded
    in another order: the mart and every audit table equal DuckDB's, row for row, at a month-end and a
    mid-month date, with every dbt test run."""
    report, published = pg_scenario[as_of]
    duckdb_built = scenario_duckdb[1][as_of]
    # every data test runs on PostgreSQL too (a later build leaves out the unchanged seeds' tests, as on DuckDB)
    ran = sorted(set().union(*(data_tests(built) for built, _ in pg_scenario.values())))
    assert ran == duckdb_data_tests(scenario_duckdb)
    assert as_of == MID_MONTH or len(data_tests(report)) < len(ran), "the month-end skipped the unchanged seeds"
    if as_of == MONTH_END:  # and the rules' unit tests, once (a monthly build skips them)
        unit_tests = [t for t in report.tests if t.resource_type == "unit_test"]
        assert {t.name for t in unit_tests} == project_unit_tests() and all(t.status == "pass" for t in unit_tests)
    assert len(duckdb_built.mart) > 1500
    assert published == duckdb_built.published


def test_every_table_built_or_loaded_has_the_planners_statistics(pg_scenario):
    """Each load and each model ANALYZEs what it wrote (macros/planner_statistics.sql): a table
    without statistics is planned as if nearly empty, with nested loops that turned a 0.2 s audit
    test into 100 s on 29,419 bills."""
    con = postgres.connect()
    try:
        with con.cursor() as cur:
            # last_analyze: an ANALYZE statement's (autovacuum's own is last_autoanalyze)
            cur.execute(
                "select schemaname, relname, last_analyze from pg_stat_user_tables "
                "where schemaname in ('raw', 'intermediate', 'marts', 'audit') order by 1, 2"
            )
            tables = cur.fetchall()
    finally:
        con.close()
    assert {schema for schema, _, _ in tables} == {"raw", "intermediate", "marts", "audit"}
    assert [(schema, table) for schema, table, analyzed in tables if analyzed is None] == []


def read_pg_history(as_of, table="marts.customer_credit_score_history", **connect) -> dict[str, dict[str, str]]:
    """One as-of date of a month-keyed mart, keyed by customer_id."""
    con = postgres.connect(**connect)
    try:
        with con.cursor() as cur:
            cur.execute(f"select * from {table} where as_of_date = %s", [as_of])
            columns = [d[0] for d in cur.description]
            rows = [dict(zip(columns, map(as_text, row), strict=True)) for row in cur.fetchall()]
    finally:
        con.close()
    keyed = {row["customer_id"]: row for row in rows}
    assert len(keyed) == len(rows), "a customer twice in one month"
    return keyed


def read_pg_matrix(**connect) -> dict[str, dict[tuple[str, str], int]]:
    con = postgres.connect(**connect)
    try:
        with con.cursor() as cur:
            cur.execute("select as_of_date, from_star_level, to_star_level, customers from marts.star_migration_matrix")
            found: dict[str, dict[tuple[str, str], int]] = {}
            for day, source, target, customers in cur.fetchall():
                found.setdefault(as_text(day), {})[as_text(source), as_text(target)] = customers
            return found
    finally:
        con.close()


def test_postgres_history_keeps_each_month_once(pg_scenario, scenario_duckdb, scenario):
    """Both dates built (the month-end first: the mid-month date, earlier, came late), then one rebuilt
    and one failed build: each month equals DuckDB's mart of that date, and the star movements from the
    earlier date to the later are the reference's from those marts, read by the BI reader role."""
    assert build(MONTH_END, target="postgres").ok
    assert not build(MID_MONTH, target="postgres", extra_vars={"max_reject_share": -1}).ok
    # SPEC 8: the earlier date rebuilt, then the newest again: BI keeps reading the month-end
    again = build(MID_MONTH, target="postgres")
    assert again.ok and again.built == [MID_MONTH, MONTH_END] and again.newest_again == MONTH_END
    assert read_published("postgres") == pg_scenario[MONTH_END][1]
    for as_of in (MONTH_END, MID_MONTH):
        expected = scenario_duckdb[1][as_of].mart
        assert differences(read_pg_history(as_of, user="credit_score_reader"), as_history(expected)) == []
    marts = {as_of: scenario_duckdb[1][as_of].mart for as_of in (MID_MONTH, MONTH_END)}
    changes = reference.star_changes(marts[MID_MONTH], marts[MONTH_END], MID_MONTH, MONTH_END)
    table = "marts.customer_star_changes"
    assert differences(read_pg_history(MONTH_END, table, user="credit_score_reader"), changes) == []
    assert read_pg_history(MID_MONTH, table) == {}, "the history's first date has no previous"
    assert {c["change_type"] for c in changes.values()} >= {"new", "left", "up", "down", "same"}
    assert read_pg_matrix(user="credit_score_reader") == {str(MONTH_END): reference.migration_matrix(changes)}
    # the retention watchlist of the month-end against the mid-month date, from the truth's bills
    previous = read_pg_history(MID_MONTH)
    wanted = scenario.expected_watchlist(previous, marts[MONTH_END], MONTH_END)
    watchlist = read_pg_history(MONTH_END, "marts.retention_watchlist", user="credit_score_reader")
    assert differences(watchlist, wanted) == [] and len(wanted) > 0


def test_reader_role_reads_marts_and_nothing_else(pg_scenario):
    reader = postgres.connect(user="credit_score_reader")
    try:
        with reader.cursor() as cur:
            cur.execute("select count(*), sum(credit_score) from marts.customer_credit_score")
            rows, total = cur.fetchone()
            assert rows > 2000 and total != 0
            cur.execute("select count(*) from marts.customer_entitlements")  # the billing system's feed
            assert cur.fetchone()[0] == rows
            cur.execute("select count(*) from audit.reconciliation")
            assert cur.fetchone()[0] == 3
            cur.execute("select count(*) from audit.deliveries")
            assert cur.fetchone()[0] == 5
        reader.rollback()
        for forbidden in (
            "raw.subscriptions",
            "raw.deliveries",
            "staging.stg_telecom__subscriptions",
            "intermediate.int_customers_tenure_computed",
            "marts_unpublished.customer_credit_score",
        ):
            with reader.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute(f"select 1 from {forbidden} limit 1")
            reader.rollback()
        with reader.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("delete from marts.customer_credit_score")
        reader.rollback()
    finally:
        reader.close()


def test_readers_tools_on_postgres_as_the_bi_role(pg_scenario, tmp_path):
    """What BI and analysts use, on PostgreSQL as credit_score_reader: the time spine has every day,
    `credit-score sql` prints the mart's counts, and `credit-score report` shows them."""
    import re
    import subprocess
    import sys

    env = {**os.environ, "CREDIT_SCORE_PG_USER": "credit_score_reader"}
    reader = postgres.connect(user="credit_score_reader")
    try:
        with reader.cursor() as cur:
            cur.execute("select count(*), min(date_day), max(date_day) from marts.dim_dates")
            assert cur.fetchone() == ((dt.date(2041, 1, 1) - dt.date(2000, 1, 1)).days, dt.date(2000, 1, 1),
                                      dt.date(2040, 12, 31))  # fmt: skip
            cur.execute("select star_level, count(*) from marts.customer_credit_score group by 1")
            stars = dict(cur.fetchall())
    finally:
        reader.close()
    query = "select star_level, count(*) as n from marts.customer_credit_score group by 1 order by 1"
    printed = subprocess.run(
        [sys.executable, "-m", "credit_score.cli", "sql", "--target", "postgres", "--csv", query],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    assert {int(a): int(b) for a, b in (line.split(",") for line in printed.stdout.splitlines()[1:])} == stars
    written = subprocess.run(
        [sys.executable, "-m", "credit_score.cli", "report", "--target", "postgres", "--out", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert written.returncode == 0, written.stdout + written.stderr
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    shown = dict(re.findall(r"data-key='stars\.(\d)\.customers'[^>]*>([\d,]+)<", page))
    assert {int(level): int(n.replace(",", "")) for level, n in shown.items()} == stars


def test_postgres_refuses_or_fails_what_must_not_be_published(pg_scenario):
    """The guards of SPEC 6 on PostgreSQL: a month whose bills have not arrived is refused before dbt
    runs (the register read from PostgreSQL), and a build that scores nobody fails its audit; BI keeps
    the published mart either way."""
    before = read_pg_mart()
    with pytest.raises(BuildRefused, match="no delivery of bills is dated after 2027-06-30"):
        build(dt.date(2027, 6, 30), target="postgres")
    nobody = build(dt.date(1999, 12, 31), target="postgres")
    assert [r.name for r in nobody.failed] == ["assert_population_is_not_empty"]
    assert read_pg_mart() == before


def test_postgres_refuses_the_bad_days_of_missing_bills(fresh_database, tmp_path):
    """Completeness from content (SPEC 6), read from PostgreSQL's raw bills before dbt runs: October
    never loaded, the history loaded without its date, a 3-bill correction for a missing November."""
    check_bad_days(make_data(tmp_path / "data"), tmp_path, target="postgres")


def test_a_listed_replace_with_a_bad_folder_changes_nothing_on_postgres(fresh_database, tmp_path):
    """`load --list --replace` whose last folder cannot be read: PostgreSQL's raw exactly as before."""
    from credit_score.deliveries import LoadError

    generate(300, tmp_path / "data", seed=5, as_of=MONTH_END, progress=False)
    load_one(tmp_path / "data", target="postgres")
    before = {t: read_pg_rows(f"select * from raw.{t}") for t in ("billing", "subscriptions", "deliveries")}
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "billing.csv").write_text("bill_id,customer_id,bill_month,amount\nB1,C1,2026-10\n", encoding="utf-8")
    steps = [(tmp_path / "data", "again", dt.date(2026, 11, 5)), (bad, "bad", dt.date(2026, 11, 6))]
    with pytest.raises(LoadError, match="expected 4 fields"):
        load_steps(steps, target="postgres")
    assert {t: read_pg_rows(f"select * from raw.{t}") for t in before} == before


def read_pg_rows(sql: str) -> list:
    con = postgres.connect()
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            return sorted(cur.fetchall(), key=repr)
    finally:
        con.close()


def test_publishing_on_postgres_is_all_or_nothing_for_readers(fresh_database, tmp_path):
    september, october, broken = tmp_path / "sep", tmp_path / "oct", tmp_path / "broken"
    generate(2000, september, seed=21, as_of=dt.date(2026, 9, 30), progress=False)
    generate(2000, october, seed=22, as_of=MONTH_END, progress=False)
    generate(2000, broken, seed=23, as_of=MONTH_END, progress=False)
    subscriptions = reference.read_csv(broken / "subscriptions.csv")
    for row in subscriptions[:100]:
        row["brand_code"] = "G999"
    write_folder(broken, {"subscriptions": subscriptions})

    load_one(september, target="postgres")
    assert build(dt.date(2026, 9, 30), target="postgres").ok
    before = read_pg_mart()

    seen, errors, stop = set(), [], threading.Event()

    def read_in_a_loop():
        con = postgres.connect(user="credit_score_reader")
        con.autocommit = True
        while not stop.is_set():
            try:
                with con.cursor() as cur:
                    cur.execute(
                        "select max(as_of_date), count(*), count(distinct as_of_date) from marts.customer_credit_score"
                    )
                    as_of, rows, dates = cur.fetchone()
                    seen.add((as_of, rows, dates))
            except Exception as e:  # noqa: BLE001 - any error is a failure of the guarantee
                errors.append(repr(e))
            time.sleep(0.01)
        con.close()

    reader = threading.Thread(target=read_in_a_loop)
    reader.start()
    try:
        load_one(broken, target="postgres")
        failing = build(MONTH_END, target="postgres")
        assert not failing.ok
        assert "assert_reject_share_within_threshold" in [r.name for r in failing.failed]
        assert read_pg_mart() == before

        load_one(october, target="postgres")
        assert build(MONTH_END, target="postgres").ok
        time.sleep(0.3)
    finally:
        stop.set()
        reader.join()
    assert errors == []
    expected_rows = {
        dt.date(2026, 9, 30): len(before),
        MONTH_END: len(read_pg_mart()),
    }
    assert seen == {(day, rows, 1) for day, rows in expected_rows.items()}


def test_load_refuses_a_bad_file_on_postgres_too(fresh_database, tmp_path):
    from credit_score.load import LoadError, read_csv_tables
    from tests.helpers import EXAMPLES

    load_one(EXAMPLES, target="postgres")
    bad = write_folder(
        tmp_path / "bad",
        read_csv_tables(EXAMPLES),
    )
    (bad / "billing.csv").write_text("bill_id,customer_id,bill_month,amount\nB1,W01,2026-10\n", encoding="utf-8")
    with pytest.raises(LoadError, match=r"billing\.csv, line 2: expected 4 fields"):
        load_one(bad, target="postgres")
    con = postgres.connect()
    with con.cursor() as cur:
        cur.execute("select count(*), sum(cast(amount as numeric)) from raw.billing")
        delivered = reference.read_csv(EXAMPLES / "billing.csv")
        assert cur.fetchone() == (len(delivered), sum(Decimal(r["amount"]) for r in delivered))
    con.close()


def test_deliveries_lists_and_removes_one_on_postgres(fresh_database):
    """`deliveries` and `deliveries remove` on PostgreSQL: the examples as two deliveries, one taken
    out; the other's rows and register row stay, every raw table holds the examples once."""
    from credit_score.engines import get
    from credit_score.load import load, remove_delivery
    from tests.helpers import DELIVERED, EXAMPLES

    load_one(EXAMPLES, target="postgres")
    load(EXAMPLES, delivered_on=DELIVERED, delivery_id="again", target="postgres", progress=False)
    engine = get("postgres")
    listed = {d.delivery_id: d.rows for d in engine.loaded_deliveries()}
    once = {t: len(reference.read_csv(EXAMPLES / f"{t}.csv")) for t in ("subscriptions", "billing", "suspensions")}
    assert listed == {"examples": once, "again": once}
    assert remove_delivery("again", "postgres") == 0
    assert [d.delivery_id for d in engine.loaded_deliveries()] == ["examples"]
    con = postgres.connect()
    with con.cursor() as cur:
        for table, rows in once.items():
            cur.execute(f"select count(*), count(distinct delivery_id) from raw.{table}")
            assert cur.fetchone() == (rows, 1)
    con.close()


def test_the_command_line_loads_and_builds_on_postgres(fresh_database, tmp_path):
    import subprocess
    import sys

    from tests.helpers import EXAMPLES

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "credit_score.cli", *args],
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )

    loaded = cli("load", str(EXAMPLES), "--delivered-on", "2026-11-05", "--target", "postgres")
    assert loaded.returncode == 0, loaded.stderr
    built = cli("build", "--as-of", "2026-10-31", "--target", "postgres")
    assert built.returncode == 0, built.stdout[-3000:]
    assert "customers scored: 10" in built.stdout and "published to postgres" in built.stdout
    # `credit-score export` from PostgreSQL: numeric(18, 2) stays DECIMAL(18,2) in Parquet, rows as read
    for name in ("entitlements.parquet", "entitlements.csv"):
        exported = cli("export", "customer_entitlements", "--out", name, "--target", "postgres")
        assert exported.returncode == 0, exported.stderr
    con = postgres.connect()
    with con.cursor() as cur:
        cur.execute("select customer_id, credit_limit_yuan, has_priority_hotline from marts.customer_entitlements")
        expected = sorted(cur.fetchall())
    con.close()
    parquet = tmp_path / "entitlements.parquet"
    got = duckdb.sql(f"select customer_id, credit_limit_yuan, has_priority_hotline from '{parquet}'").fetchall()
    assert sorted(got) == expected and len(expected) == 10
    kinds = dict(duckdb.sql(f"select column_name, column_type from (describe select * from '{parquet}')").fetchall())
    assert kinds["credit_limit_yuan"] == "DECIMAL(18,2)"
    text = (tmp_path / "entitlements.csv").read_text(encoding="utf-8").splitlines()
    assert len(text) == 11 and text[0].startswith("customer_id,")


def data_tests(report) -> list[str]:
    return sorted(t.name for t in report.tests if t.resource_type == "test")


def duckdb_data_tests(scenario_duckdb) -> list[str]:
    """Every data test DuckDB ran over the scenario: its first build runs them all, a later one leaves
    out the tests of the seeds and the time spine it did not rebuild (build.static_fingerprint); the
    other engines rebuild those each time."""
    return sorted(set().union(*(data_tests(built.report) for built in scenario_duckdb[1].values())))


# --- SPEC 8 on PostgreSQL: what BI reads is the newest month, whatever order the dates are built in ---


NEWEST = [dt.date(2026, 7, 31), dt.date(2026, 8, 31), dt.date(2026, 9, 30), dt.date(2026, 10, 31)]


@pytest.fixture(scope="module")
def four_months(tmp_path_factory, server):
    """Four monthly deliveries of 400 generated customers (as test_newest_month.py's, smaller)."""
    from credit_score.load import read_listing

    root = tmp_path_factory.mktemp("four-months")
    generate(400, root / "data", seed=21, as_of=NEWEST[-1], deliveries="monthly", months=4, progress=False)
    return read_listing(root / "data" / "deliveries.csv")


def pg_published_tables() -> dict[str, list[tuple[str, ...]]]:
    """Every table BI reads on PostgreSQL (loaded_at aside: when a load ran), as sorted rows of text."""
    found = {}
    for table in EVERY_PUBLISHED_TABLE:
        con = postgres.connect()
        try:
            with con.cursor() as cur:
                cur.execute(f"select * from {table}")
                keep = [i for i, d in enumerate(cur.description) if d[0] != "loaded_at"]
                found[table] = sorted(tuple(as_text(row[i]) for i in keep) for row in cur.fetchall())
        finally:
            con.close()
    return found


def built_on_a_new_database(steps, order: list[dt.date]) -> dict[str, list[tuple[str, ...]]]:
    saved = os.environ["CREDIT_SCORE_PG_DATABASE"]
    os.environ["CREDIT_SCORE_PG_DATABASE"] = create_database()
    try:
        load_steps(steps, target="postgres")
        for as_of in order:
            report = build(as_of, target="postgres")
            assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]
        dates = read_pg_rows("select distinct as_of_date from marts.customer_credit_score")
        assert dates == [(max(order),)], dates
        return pg_published_tables()
    finally:
        os.environ["CREDIT_SCORE_PG_DATABASE"] = saved


@settings(
    max_examples=1,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(order=st.lists(st.sampled_from(NEWEST), min_size=2, max_size=2))
def test_any_order_of_builds_publishes_what_the_newest_built_last_does_on_postgres(four_months, order):
    """One drawn order (derandomized: the same each run; test_newest_month.py draws more on DuckDB, and
    test_postgres_history_keeps_each_month_once builds the mid-month date after the month-end)."""
    assert built_on_a_new_database(four_months, order) == built_on_a_new_database(four_months, sorted(set(order)))


def test_explain_on_postgres_says_what_it_says_on_duckdb(pg_scenario, scenario_duckdb):
    """The same deliveries, the same month-end published: each customer's explanation, parts, bills
    (ids, amounts, deliveries, file lines) and suspensions read from PostgreSQL equal DuckDB's."""
    check_explain_equals_duckdbs("postgres", scenario_duckdb)


def test_rules_adopt_on_postgres_reads_its_newest_published_date(pg_scenario, tmp_path):
    """`credit-score rules adopt --target postgres` (SPEC 8): a version may begin only after the newest
    date PostgreSQL published (2026-10-31 here); refused, it changes no seed; then adopted."""
    project = copy_project(tmp_path / "project")
    proposal = write_proposal(tmp_path / "proposal", project)
    seeds = {p.name: p.read_bytes() for p in (project / "seeds").glob("*.csv")}
    refused = run_cli(tmp_path, "rules", "adopt", str(proposal), "--from", "2026-10", "--target", "postgres")
    assert refused.returncode == 1, refused.stdout
    assert "2026-10-31" in refused.stderr and "adopt it from 2026-11" in refused.stderr, refused.stderr
    assert {p.name: p.read_bytes() for p in (project / "seeds").glob("*.csv")} == seeds
    adopted = run_cli(tmp_path, "rules", "adopt", str(proposal), "--from", "2026-11", "--target", "postgres")
    assert adopted.returncode == 0, adopted.stderr
    assert "2026-11-01" in (project / "seeds" / "rule_versions.csv").read_text(encoding="utf-8")
