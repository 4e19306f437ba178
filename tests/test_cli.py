"""The command line as a scheduler and a newcomer use it: exit codes, messages, determinism."""

import csv
import datetime as dt
import filecmp
import json
import os
import re
import subprocess
import sys

import duckdb
import pytest

from credit_score.dbt import run_dbt
from credit_score.engines.duckdb import DuckDBEngine
from credit_score.load import read_csv_tables
from credit_score.settings import default_as_of_date, work_path
from tests import reference
from tests.conftest import MONTH_END, copy_warehouse
from tests.helpers import EXAMPLES, load_one, write_folder


def as_a_person(database) -> dict[str, str]:
    """The environment a person's command runs in: the served file named, and none of the suite's own
    settings for its builds."""
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(database)}
    env.pop("CREDIT_SCORE_LOG_DIR", None)  # dbt's log in logs/ where it runs
    env.pop("CREDIT_SCORE_DBT_LOG_LEVEL", None)  # ... all of it (the suite's own builds log less)
    env.pop("CREDIT_SCORE_DBT_THREADS", None)  # ... on the profile's threads
    return env


def cli(*args, cwd, database):
    return subprocess.run(
        [sys.executable, "-m", "credit_score.cli", *args], cwd=cwd, env=as_a_person(database), capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip


def test_default_as_of_date_is_the_last_day_of_the_previous_month():
    assert default_as_of_date(dt.date(2026, 3, 1)) == dt.date(2026, 2, 28)
    assert default_as_of_date(dt.date(2024, 3, 31)) == dt.date(2024, 2, 29)
    assert default_as_of_date(dt.date(2026, 1, 15)) == dt.date(2025, 12, 31)


def test_generate_is_deterministic_for_a_seed(tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        result = cli(
            "generate",
            "--customers",
            "2000",
            "--seed",
            str(seed),
            "--as-of",
            "2026-10-31",
            "--out",
            str(tmp_path / name),
            cwd=tmp_path,
            database=tmp_path / "unused.duckdb",
        )
        assert result.returncode == 0, result.stderr
    for table in ("subscriptions", "billing", "suspensions"):
        assert filecmp.cmp(tmp_path / "a" / f"{table}.csv", tmp_path / "b" / f"{table}.csv", shallow=False)
    assert not filecmp.cmp(tmp_path / "a" / "billing.csv", tmp_path / "c" / "billing.csv", shallow=False)


def test_generated_data_has_what_the_rules_need(tmp_path):
    generated = cli(
        "generate",
        "--customers",
        "5000",
        "--as-of",
        "2026-10-31",
        "--out",
        str(tmp_path),
        cwd=tmp_path,
        database=tmp_path / "unused.duckdb",
    )
    assert generated.returncode == 0, generated.stderr
    subs = reference.read_csv(tmp_path / "subscriptions.csv")
    bills = reference.read_csv(tmp_path / "billing.csv")
    suspensions = reference.read_csv(tmp_path / "suspensions.csv")
    assert {s["brand_code"] for s in subs} == set(reference.BRANDS)
    assert any(b["amount"].startswith("-") for b in bills), "no adjustments"
    assert {len(b["bill_month"]) for b in bills} >= {6, 7, 10}, "not every bill_month form"
    assert {s["reason_code"] for s in suspensions} >= {"ARREARS", "HIGH_USAGE", "CUSTOMER_REQUEST", "LOST", "ADMIN"}
    assert any(s["termination_date"] for s in subs)
    assert any(s["activation_date"] > "2026-10-31" for s in subs), "nobody activates after the as-of date"


def test_parquet_files_land_like_csv_files(tmp_path):
    """generate --format parquet writes typed columns; loaded, they are the same text as the CSV files'
    (so they score alike: staging reads only raw's text)."""
    landed = []
    for file_format in ("csv", "parquet"):
        folder = tmp_path / file_format
        generated = cli(
            "generate",
            "--customers",
            "3000",
            "--as-of",
            "2026-10-31",
            "--out",
            str(folder),
            "--format",
            file_format,
            cwd=tmp_path,
            database=tmp_path / "unused.duckdb",
        )
        assert generated.returncode == 0, generated.stderr
        database = tmp_path / f"{file_format}.duckdb"
        load_one(folder, database, delivery_id="d")
        con = duckdb.connect(str(work_path(database)), read_only=True)
        landed.append(
            {
                t: sorted(con.execute(f"select * exclude (file_line) from raw.{t}").fetchall(), key=repr)
                for t in ("subscriptions", "billing", "suspensions")
            }
        )
        con.close()
    assert landed[0] == landed[1] and len(landed[0]["subscriptions"]) == 3000


def test_build_exits_non_zero_and_names_the_failed_test(tmp_path):
    tables = read_csv_tables(EXAMPLES)
    # one customer of thirteen with an unknown brand: 7.7 % rejected, over the 1 % threshold
    tables["subscriptions"].append({**tables["subscriptions"][0], "customer_id": "X01", "brand_code": "G999"})
    folder = write_folder(tmp_path / "raw", tables)
    database = tmp_path / "warehouse.duckdb"
    assert cli("load", str(folder), "--delivered-on", "2026-11-05", cwd=tmp_path, database=database).returncode == 0
    result = cli("build", "--as-of", "2026-10-31", cwd=tmp_path, database=database)
    assert result.returncode == 1
    assert "FAILED test assert_reject_share_within_threshold" in result.stdout


def test_load_refuses_a_bad_file_and_keeps_the_raw_tables(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    assert cli("load", str(EXAMPLES), "--delivered-on", "2026-11-05", cwd=tmp_path, database=database).returncode == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    for table in ("subscriptions", "billing", "suspensions"):
        (bad / f"{table}.csv").write_bytes((EXAMPLES / f"{table}.csv").read_bytes())
    (bad / "billing.csv").write_text("bill_id,customer,bill_month,amount\nX,W01,2026-10,1.00\n", encoding="utf-8")
    result = cli("load", str(bad), "--delivered-on", "2026-11-05", cwd=tmp_path, database=database)
    assert result.returncode == 1
    assert "billing.csv, line 1" in result.stderr and "expected bill_id,customer_id,bill_month,amount" in result.stderr
    con = duckdb.connect(str(work_path(database)), read_only=True)
    assert con.execute("select count(*) from raw.billing").fetchone()[0] == 63
    con.close()


def test_a_bad_as_of_date_is_refused_with_the_expected_form(tmp_path):
    result = cli("build", "--as-of", "2026-02-30", cwd=tmp_path, database=tmp_path / "w.duckdb")
    assert result.returncode != 0
    assert "YYYY-MM-DD" in result.stderr


@pytest.fixture(scope="module")
def docs(examples_month_end, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("docs")
    database = copy_warehouse(examples_month_end, tmp / "warehouse")
    outcome = run_dbt(
        ["docs", "generate", "--target-path", str(tmp / "target")],
        env=DuckDBEngine(database).dbt_env(),
        variables={"as_of_date": "2026-10-31"},
    )
    assert outcome.success, outcome.error
    manifest = json.loads((tmp / "target" / "manifest.json").read_text())
    catalog = json.loads((tmp / "target" / "catalog.json").read_text())
    return manifest, catalog


def test_docs_describe_every_model_seed_source_and_column(docs):
    manifest, catalog = docs
    undocumented = []
    nodes = {**manifest["nodes"], **manifest["sources"]}
    for unique_id, node in nodes.items():
        if node["resource_type"] not in ("model", "seed", "source") or node["package_name"] != "credit_score":
            continue
        if not node["description"].strip():
            undocumented.append(unique_id)
        documented = {name for name, c in node["columns"].items() if c["description"].strip()}
        in_warehouse = catalog["nodes"].get(unique_id) or catalog["sources"].get(unique_id)
        assert in_warehouse, f"{unique_id} is not in the catalog"
        for column in in_warehouse["columns"]:
            if column.lower() not in documented:
                undocumented.append(f"{unique_id}.{column}")
    assert undocumented == []


@pytest.mark.parametrize(("age_days", "expected"), [(1, "pass"), (40, "warn"), (100, "error")])
def test_source_freshness_judges_updated_at(tmp_path, age_days, expected):
    """Freshness compares with the clock, so the rows are dated relative to now, not to a fixed day."""
    tables = read_csv_tables(EXAMPLES)
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(days=age_days)).strftime("%Y-%m-%d %H:%M:%S")
    for row in tables["subscriptions"]:
        row["updated_at"] = stamp
    database = tmp_path / "warehouse.duckdb"
    load_one(write_folder(tmp_path / "raw", tables), database)
    outcome = run_dbt(
        ["source", "freshness", "--output", str(tmp_path / "sources.json")],
        env=DuckDBEngine(database).dbt_env(),
    )
    statuses = {r.name: r.status for r in outcome.results}
    assert statuses["subscriptions"] == expected


def test_demo_adds_a_month_and_shows_its_effect_and_the_audit(tmp_path):
    """The demo (with bad rows mixed into the month's delivery): two builds, the month's effect, the audit."""
    result = cli(
        "demo",
        "--customers",
        "5000",
        "--as-of",
        "2026-10-31",
        "--with-bad-rows",
        cwd=tmp_path,
        database=tmp_path / "warehouse" / "demo.duckdb",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert out.count("customers scored:") == 2 and "准星" in out
    assert "credit-score build, as of 2026-09-30: OK" in out and "credit-score build, as of 2026-10-31: OK" in out
    assert "star movements (marts.customer_star_changes)" in out and "audit.deliveries" in out
    assert "before-2026-09" in out and "audit.reconciliation" in out
    assert "termination_before_activation" in out and "bill_month_in_future" in out
    # a person's screen, not dbt's log: no dbt lines, no colour codes off a terminal, one screen without the
    # optional audit tables (the lines of the reconciliation and the rejects by reason aside)
    assert "START" not in out and "Concurrency" not in out and "\x1b[" not in out
    audit = out[out.index("audit.reconciliation") : out.index("── 5/5")]
    assert len(out.splitlines()) - len(audit.splitlines()) <= 50, out
    # dbt's whole log is kept, without colour codes, under logs/ where the command ran
    log = (tmp_path / "logs" / "dbt.log").read_text(encoding="utf-8")
    assert "OK created sql table model marts.customer_credit_score" in log and "\x1b[" not in log
    # the last build's summary is what BI reads: each star's count printed equals the served mart's
    last = out[out.index("credit-score build, as of 2026-10-31: OK") :]
    total, stars = re.search(r"customers scored: ([\d,]+) \((.*)\)", last).groups()
    printed_total = int(total.replace(",", ""))
    printed = {label: int(count.replace(",", "")) for label, count in (s.split(" ") for s in stars.split(" · "))}
    con = duckdb.connect(str(tmp_path / "warehouse" / "demo.duckdb"), read_only=True)
    try:
        served = con.execute(
            "select star_level, star_label, count(*) from marts.customer_credit_score group by 1, 2"
        ).fetchall()
        as_of_dates = con.execute("select distinct as_of_date from marts.customer_credit_score").fetchall()
    finally:
        con.close()
    assert printed == {label: count for level, label, count in served}
    assert printed_total == sum(printed.values()) and as_of_dates == [(dt.date(2026, 10, 31),)]
    # it ends with a what-if: every threshold 50 points higher moves customers down, never up, and
    # the matrix covers every customer of what BI reads (which the what-if left as it was)
    with (tmp_path / "data" / "demo" / "whatif" / "migration.csv").open(newline="", encoding="utf-8") as f:
        columns = ("current_star_level", "proposed_star_level", "customers")
        cells = [tuple(int(r[c]) for c in columns) for r in csv.DictReader(f)]
    assert sum(n for *_, n in cells) == printed_total
    assert sum(n for c, p, n in cells if p < c) > 0 and sum(n for c, p, n in cells if p > c) == 0
    assert "customers would change star" in out


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_generate_gives_the_same_rows_whatever_the_chunk_size(tmp_path, file_format):
    from credit_score.generate import generate

    for name, chunk in (("whole", 10**6), ("chunked", 700)):
        generate(
            2500,
            tmp_path / name,
            seed=8,
            as_of=MONTH_END,
            file_format=file_format,
            progress=False,
            chunk_customers=chunk,
        )
    for table in ("subscriptions", "billing", "suspensions"):
        whole, chunked = (tmp_path / n / f"{table}.{file_format}" for n in ("whole", "chunked"))
        if file_format == "csv":
            assert filecmp.cmp(whole, chunked, shallow=False), table
        else:
            rows = [duckdb.sql(f"select * from read_parquet('{p}')").fetchall() for p in (whole, chunked)]
            assert rows[0] == rows[1] and len(rows[0]) > 0, table
    assert not list((tmp_path / "chunked").glob(".generate-*")), "part files were left behind"


def test_a_terminal_gets_colour_and_a_bar_and_the_log_gets_dbt(tmp_path):
    """On a terminal (a pseudo-terminal here) the build shows a progress bar while dbt runs and colours
    its lines; dbt's own lines go to the log only, without colour codes."""
    import pty
    import select

    database = tmp_path / "warehouse" / "credit_score.duckdb"
    assert cli("load", str(EXAMPLES), "--delivered-on", "2026-11-05", cwd=tmp_path, database=database).returncode == 0
    env = {**as_a_person(database), "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    leader, follower = pty.openpty()
    build = subprocess.Popen(
        [sys.executable, "-m", "credit_score.cli", "build", "--as-of", "2026-10-31"],
        stdin=follower, stdout=follower, stderr=follower, cwd=tmp_path, env=env,
    )  # fmt: skip
    os.close(follower)
    screen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        try:
            chunk = os.read(leader, 65536) if ready else b""
        except OSError:  # the build ended and closed the terminal
            chunk = b""
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    assert build.wait(timeout=60) == 0
    shown = screen.decode(errors="replace")
    assert "dbt build as of 2026-10-31" in shown  # the bar's label, drawn while dbt ran
    assert "\x1b[" in shown and "✓" in shown and "credit-score build, as of 2026-10-31: OK" in shown
    assert "START" not in shown, "dbt's own lines are for the log"
    log = (tmp_path / "logs" / "dbt.log").read_text(encoding="utf-8")
    assert "START" in log and "\x1b[" not in log
    # by default the log keeps every statement dbt ran, e.g. the mart's
    assert "[debug]" in log and "customer_credit_score" in log and "SQL status: OK" in log


def test_the_dbt_log_keeps_what_its_level_says(tmp_path, monkeypatch):
    """CREDIT_SCORE_DBT_LOG_LEVEL: info keeps a line per node and no statement; none writes no file;
    a level dbt does not know is refused in one line before dbt starts."""
    for level in ("info", "none"):
        monkeypatch.setenv("CREDIT_SCORE_LOG_DIR", str(tmp_path / level))
        monkeypatch.setenv("CREDIT_SCORE_DBT_LOG_LEVEL", level)
        listed = run_dbt(
            ["ls", "--select", "dim_dates"], target="lint", env={"DBT_TARGET_PATH": str(tmp_path / "target")}
        )
        assert listed.success, listed.error
    kept = (tmp_path / "info" / "dbt.log").read_text(encoding="utf-8")
    assert "Running with dbt=" in kept and "[debug]" not in kept
    assert not (tmp_path / "none" / "dbt.log").exists()
    monkeypatch.setenv("CREDIT_SCORE_DBT_LOG_LEVEL", "verbose")
    with pytest.raises(
        SystemExit, match="CREDIT_SCORE_DBT_LOG_LEVEL='verbose' is not a level: choose one of debug, info"
    ):
        run_dbt(["ls"], target="lint")
