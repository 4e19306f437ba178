"""The served DuckDB file as BI tools meet it: readable by DuckDB 1.x clients (the engines bundled in BI
drivers), and built whatever the user names the warehouse file."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from credit_score.build import build
from credit_score.engines.duckdb import SERVED, STORAGE_VERSION, attached, storage_version
from tests import reference
from tests.helpers import EXAMPLES, SPARSE, as_text, differences, load_and_build, read_published

SEPTEMBER, OCTOBER = dt.date(2026, 9, 30), dt.date(2026, 10, 31)
# a real DuckDB 1.x client: the command-line shell from PyPI's duckdb-cli (a dev dependency)
DUCKDB_1X = Path(sys.executable).with_name("duckdb")


def read_with_duckdb_1x(database: Path, sql: str) -> list[dict[str, str]]:
    """Rows of sql run by the DuckDB 1.x shell on the file, opened read-only, as text."""
    result = subprocess.run(
        [str(DUCKDB_1X), "-readonly", "-csv", "-nullvalue", "", str(database), "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_the_client_is_duckdb_1x():
    version = subprocess.run([str(DUCKDB_1X), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("v1."), version


@pytest.fixture(scope="module")
def two_publishes(tmp_path_factory):
    """The examples built for September, then October: the second publish carries the first's file."""
    database = tmp_path_factory.mktemp("served") / "served.duckdb"
    assert load_and_build(EXAMPLES, database, SEPTEMBER, **SPARSE).ok
    first = read_with_duckdb_1x(database, "select * from marts.customer_credit_score order by customer_id")
    first_files = month_files(database)
    assert build(OCTOBER, database=database).ok
    return database, first, first_files


def month_files(database: Path) -> dict[str, tuple[str, int, int]]:
    """{month: (file, inode, modification time)} of the history files the served file lists."""
    listed = read_with_duckdb_1x(
        database,
        "select as_of_date, file_path from audit.month_files where table_name = 'customer_credit_score_history'",
    )
    return {
        r["as_of_date"]: (r["file_path"], os.stat(r["file_path"]).st_ino, os.stat(r["file_path"]).st_mtime_ns)
        for r in listed
    }


def test_duckdb_1x_reads_every_published_table(two_publishes):
    database, september, _ = two_publishes
    assert storage_version(database).startswith(STORAGE_VERSION)
    expected = reference.score_folder(EXAMPLES, SEPTEMBER)
    assert differences({r["customer_id"]: r for r in september}, expected) == []
    october = read_with_duckdb_1x(database, "select * from marts.customer_credit_score")
    assert differences({r["customer_id"]: r for r in october}, reference.score_folder(EXAMPLES, OCTOBER)) == []
    history = read_with_duckdb_1x(
        database, "select as_of_date, count(*) as customers from marts.customer_credit_score_history group by all"
    )
    assert {r["as_of_date"]: int(r["customers"]) for r in history} == {
        str(SEPTEMBER): len(september),
        str(OCTOBER): len(october),
    }
    for table in ("audit.rejected_records", "audit.reconciliation", "audit.deliveries", "audit.publication"):
        read_with_duckdb_1x(database, f"select * from {table}")  # opens and reads: no version error
    publication = read_with_duckdb_1x(database, "select as_of_date, customers_scored from audit.publication")
    assert publication == [{"as_of_date": str(OCTOBER), "customers_scored": str(len(october))}]


def documented_models() -> dict[str, tuple[str, dict[str, str]]]:
    """{schema.table: (description, {column: description})} of the published models, read from their
    YAML files, each {{ doc('name') }} replaced by its block (models/**/*.md)."""
    import re

    import yaml

    from credit_score.settings import PROJECT_DIR

    blocks = {}
    for md in (PROJECT_DIR / "models").rglob("*.md"):
        for name, text in re.findall(r"{% docs (\w+) %}(.*?){% enddocs %}", md.read_text(encoding="utf-8"), re.S):
            blocks[name] = text.strip()

    def text(description: str) -> str:
        return re.sub(r"{{ doc\('(\w+)'\) }}", lambda m: blocks[m.group(1)], description or "").strip()

    found = {}
    for schema in ("marts", "audit"):
        folder = PROJECT_DIR / "models" / schema
        for models in folder.glob("_*__models.yml"):
            for model in yaml.safe_load(models.read_text(encoding="utf-8"))["models"]:
                columns = {c["name"]: text(c.get("description")) for c in model.get("columns", [])}
                found[f"{schema}.{model['name']}"] = (text(model.get("description")), columns)
    return found


def test_bi_sees_each_published_table_and_column_described(two_publishes):
    """A BI tool's catalogue (DuckDB 1.x's duckdb_tables, duckdb_views, duckdb_columns) shows each
    published model's description and its columns' descriptions, as the models' YAML writes them."""
    database, _, _ = two_publishes
    documented = documented_models()
    assert {"marts.customer_credit_score", "audit.rejected_records"} <= documented.keys()
    relations = read_with_duckdb_1x(
        database,
        "select schema_name || '.' || table_name as name, comment from duckdb_tables() "
        "union all select schema_name || '.' || view_name, comment from duckdb_views() where not internal",
    )
    described = {r["name"]: r["comment"].strip() for r in relations}
    columns = read_with_duckdb_1x(
        database,
        "select schema_name || '.' || table_name as name, column_name, comment from duckdb_columns() "
        "where schema_name in ('marts', 'audit')",
    )
    for name, (description, column_descriptions) in documented.items():
        assert described.get(name) == description, name
        shown = {c["column_name"]: c["comment"].strip() for c in columns if c["name"] == name}
        assert shown == column_descriptions, name


def test_publishing_a_month_writes_that_month_only(two_publishes):
    """The second publication wrote October's file and listed September's again, untouched: the same
    file, inode and modification time (publishing costs a month, however long the history)."""
    database, _, first_files = two_publishes
    files = month_files(database)
    assert set(files) == {str(SEPTEMBER), str(OCTOBER)}
    assert files[str(SEPTEMBER)] == first_files[str(SEPTEMBER)]
    history = Path(files[str(OCTOBER)][0]).parent.parent
    assert history == database.with_name("served.history")
    on_disk = sorted(p.relative_to(history).as_posix() for p in history.rglob("*") if p.is_file())
    assert on_disk == sorted(Path(f).relative_to(history).as_posix() for f, *_ in files.values()), "nothing else"


def test_a_served_file_of_the_newer_format_is_rewritten_readable(two_publishes, tmp_path):
    """A served file written in DuckDB 2's own format (as before this was fixed) is not carried: the next
    publish writes a readable file with the whole history."""
    database, *_ = two_publishes
    newer = tmp_path / "credit_score.duckdb"
    con = duckdb.connect()
    con.execute(f"attach '{database}' as old (read_only)")
    con.execute(f"attach '{newer}' as new (storage_version 'v2.0.0')")
    con.execute("copy from database old to new")
    con.close()
    shutil.copy(database.with_name("served.work.duckdb"), tmp_path / "credit_score.work.duckdb")
    assert not storage_version(newer).startswith(STORAGE_VERSION)
    with pytest.raises(AssertionError, match="version"):
        read_with_duckdb_1x(newer, "select 1")
    before = read_published(database=newer)
    assert build(OCTOBER, database=newer).ok
    assert storage_version(newer).startswith(STORAGE_VERSION)
    assert read_published(database=newer) == before
    months = read_with_duckdb_1x(newer, "select distinct as_of_date from marts.customer_credit_score_history")
    assert sorted(r["as_of_date"] for r in months) == [str(SEPTEMBER), str(OCTOBER)]


@pytest.mark.parametrize("name", ["work.duckdb", "raw.duckdb"])
def test_the_warehouse_file_may_have_any_name(tmp_path, name):
    """DuckDB names a file's catalog after its name (work, raw, marts...): the build never depends on it
    (`work` is the alias the publish step once attached under; `raw` names a schema too).
    Loaded and built through the command line, as a user would."""
    database = tmp_path / name
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(database)}
    cli = [sys.executable, "-m", "credit_score.cli"]
    loaded = subprocess.run([*cli, "load", str(EXAMPLES), "--delivered-on", "2026-11-05"], env=env, capture_output=True,
                            text=True)  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    built = subprocess.run([*cli, "build", "--as-of", "2026-10-31"], env=env, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    con = attached((database, SERVED, True))
    cursor = con.execute(f"select * from {SERVED}.marts.customer_credit_score")
    columns = [d[0] for d in cursor.description]
    mart = {row[0]: dict(zip(columns, map(as_text, row), strict=True)) for row in cursor.fetchall()}
    con.close()
    assert differences(mart, reference.score_folder(EXAMPLES, OCTOBER)) == []
