"""An operator's bad days, as the command line meets them (issue 25): another process holding a file
the command needs exits 75 (EX_TEMPFAIL: retry later), naming the file, the process and what to do;
a file-system fault is one line with the path and the reason, exit 1, the traceback only in the log;
either way nothing is loaded or published, and the next run works.

One warehouse (1,500 generated customers, two month ends) is driven through every case in turn: each
case must leave it as it found it, which the next case relies on.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from credit_score.settings import work_path

AS_OF = "2026-10-31"


def run(env: dict, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "credit_score.cli", *args], env=env, cwd=cwd, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_days")
    served = root / "warehouse" / "credit_score.duckdb"
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(served), "CREDIT_SCORE_LOG_DIR": str(root / "logs")}
    for args in (
        ("generate", "--customers", "1500", "--as-of", AS_OF, "--out", "data", "--deliveries", "monthly"),
        ("load", "--list", "data/deliveries.csv"),
        ("build", "--as-of", "2026-09-30"),
        ("build", "--as-of", AS_OF),
    ):
        done = run(env, *args, cwd=root)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return root, served, env


def state(served: Path) -> tuple:
    """What BI reads (the mart's date and rows) and what raw holds (rows per delivery)."""
    con = duckdb.connect(str(served), read_only=True)
    try:
        mart = con.execute("select max(as_of_date), count(*) from marts.customer_credit_score").fetchone()
    finally:
        con.close()
    con = duckdb.connect(str(work_path(served)), read_only=True)
    try:
        raw = con.execute("select delivery_id, count(*) from raw.billing group by all order by all").fetchall()
    finally:
        con.close()
    return mart, raw


@contextlib.contextmanager
def holder(path: Path, *, read_only: bool):
    """Another process (a BI tool, a duckdb shell) holding path open; yields its PID."""
    script = (
        f"import duckdb, time; c = duckdb.connect({str(path)!r}, read_only={read_only}); "
        "print('open', flush=True); time.sleep(120)"
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "open"
        yield process.pid
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


def one_line_then_state(stderr: str) -> list[str]:
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr, stderr
    return lines


def test_a_reader_holding_the_work_file_makes_load_and_build_wait(warehouse):
    root, served, env = warehouse
    before = state(served)
    with holder(work_path(served), read_only=True) as pid:
        for args in (("build", "--as-of", AS_OF), ("load", "data/2026-10", "--delivered-on", "2026-11-05")):
            done = run(env, *args, cwd=root)
            assert done.returncode == 75, done.stderr
            first, *rest = one_line_then_state(done.stderr)
            assert str(work_path(served)) in first and f"PID {pid}" in first and "held by another process" in first
            assert "run the same command again" in first
            assert rest == [
                "Nothing was published: BI keeps reading the previous mart."
                if args[0] == "build"
                else "Nothing was loaded: the raw tables keep exactly what they had."
            ]
    assert state(served) == before
    assert run(env, "build", "--as-of", AS_OF, cwd=root).returncode == 0, "the next build works"


def test_a_reader_writing_the_served_file_makes_build_wait(warehouse):
    root, served, env = warehouse
    before = state(served)
    with holder(served, read_only=False) as pid:
        done = run(env, "build", "--as-of", AS_OF, cwd=root)
    assert done.returncode == 75, done.stderr
    first = one_line_then_state(done.stderr)[0]
    assert str(served) in first and f"PID {pid}" in first and "read-only" in first
    assert state(served) == before


def test_a_folder_where_the_file_should_be_is_one_line(warehouse, tmp_path):
    root, _, env = warehouse
    folder = tmp_path / "a-folder"
    folder.mkdir()
    for args in (("load", "data/2026-10", "--delivered-on", "2026-11-05"), ("build", "--as-of", AS_OF)):
        done = run({**env, "CREDIT_SCORE_DUCKDB": str(folder)}, *args, cwd=root)
        assert done.returncode == 1
        first = one_line_then_state(done.stderr)[0]
        assert first == (
            f"credit-score {args[0]}: {folder}: is a folder; CREDIT_SCORE_DUCKDB names the served DuckDB file, "
            f"e.g. {folder / 'credit_score.duckdb'}"
        )
    assert list(tmp_path.iterdir()) == [folder] and not list(folder.iterdir()), "nothing written beside it"


def _chattr(flag: str, path: Path) -> None:
    subprocess.run(["chattr", flag, str(path)], check=True)


needs_chattr = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("chattr") is None, reason="chattr +i needs root and e2fsprogs"
)


@contextlib.contextmanager
def immutable(path: Path):
    _chattr("+i", path)
    try:
        yield
    finally:
        _chattr("-i", path)


@needs_chattr
def test_an_unwritable_warehouse_folder_is_one_line_and_changes_nothing(warehouse):
    root, served, env = warehouse
    before = state(served)
    log = root / "logs" / "credit-score.log"
    with immutable(served.parent):
        for args in (("load", "data/2026-10", "--delivered-on", "2026-11-05"), ("build", "--as-of", AS_OF)):
            done = run(env, *args, cwd=root)
            assert done.returncode == 1, done.stdout + done.stderr
            first, *rest = one_line_then_state(done.stderr)
            assert first.startswith(f"credit-score {args[0]}: {served.parent}/") and "Operation not permitted" in first
            assert rest[-1] == f"The traceback: {log}"
    assert "Traceback (most recent call last)" in log.read_text(encoding="utf-8")
    assert state(served) == before
    assert run(env, "build", "--as-of", AS_OF, cwd=root).returncode == 0, "the next build works"


@needs_chattr
def test_an_unwritable_history_month_fails_the_publish_in_one_line(warehouse):
    root, served, env = warehouse
    before = state(served)
    month = served.with_name("credit_score.history") / f"as_of_date={AS_OF}"
    assert month.is_dir()
    with immutable(month):
        done = run(env, "build", "--as-of", AS_OF, cwd=root)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert f"FAILED: the publish could not write: {month}/" in done.stdout and "Operation not permitted" in done.stdout
    assert "nothing published: BI keeps reading the previous mart" in done.stdout
    assert state(served) == before
    assert run(env, "build", "--as-of", AS_OF, cwd=root).returncode == 0, "the next build works"
