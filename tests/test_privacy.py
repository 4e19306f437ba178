"""Personal data at rest, as another account on a shared analytics server meets it.

The operator runs generate, load and build from the command line with a permissive umask (022) and
names the BI readers' group. Then: every file holding raw numbers is the owner's alone (the work file
and whatever else is in the warehouse folder but what BI reads), what BI reads is 0640 in the readers'
group; an unprivileged account in that group reads the served mart and its history, and cannot open
the work file; an account outside the group can open neither. Needs root (to add the two accounts).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

READERS, READER, OUTSIDER = "cs-test-readers", "cs-test-reader", "cs-test-outsider"
AS_OF = "2026-10-31"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="adding the test accounts needs root")


def ensure_accounts() -> tuple[int, int, int]:
    """(readers' gid, reader's uid, outsider's uid): system accounts without a home or a shell."""
    try:
        grp.getgrnam(READERS)
    except KeyError:
        subprocess.run(["groupadd", "--system", READERS], check=True)
    for name, groups in ((READER, [READERS]), (OUTSIDER, [])):
        try:
            pwd.getpwnam(name)
        except KeyError:
            extra = ["--groups", ",".join(groups)] if groups else []
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", *extra, name], check=True
            )
    return grp.getgrnam(READERS).gr_gid, pwd.getpwnam(READER).pw_uid, pwd.getpwnam(OUTSIDER).pw_uid


@pytest.fixture(scope="module")
def warehouse():
    """A warehouse built by the command line under umask 022, in a folder other accounts can reach."""
    root = Path(tempfile.mkdtemp(prefix="credit-score-privacy-", dir="/tmp"))
    os.chmod(root, 0o755)
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(root / "warehouse" / "credit_score.duckdb"),
           "CREDIT_SCORE_READER_GROUP": READERS, "CREDIT_SCORE_LOG_DIR": str(root / "logs")}  # fmt: skip
    ensure_accounts()

    def cli(*args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "credit_score.cli", *args], cwd=root, env=env, capture_output=True, text=True,
            timeout=600, preexec_fn=lambda: os.umask(0o022),
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    cli("generate", "--customers", "1500", "--as-of", AS_OF, "--out", "data", "--deliveries", "monthly")
    cli("load", "--list", "data/deliveries.csv")
    cli("build", "--as-of", "2026-09-30")
    cli("build", "--as-of", AS_OF)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_raw_numbers_are_the_owners_alone_and_what_bi_reads_is_the_readers(warehouse):
    folder = warehouse / "warehouse"
    served = folder / "credit_score.duckdb"
    work = folder / "credit_score.work.duckdb"
    readers = grp.getgrnam(READERS).gr_gid
    assert mode(work) == 0o600
    assert mode(served) == 0o640 and served.stat().st_gid == readers
    assert mode(folder) == 0o750 and folder.stat().st_gid == readers
    shared = {served}
    for month_folder in folder.glob("credit_score.*"):
        if month_folder.is_dir() and month_folder.name != "credit_score.dbt":
            for path in [month_folder, *month_folder.rglob("*")]:
                shared.add(path)
                assert path.stat().st_gid == readers, path
                assert mode(path) == (0o750 if path.is_dir() else 0o640), path
    assert any(p.suffix == ".parquet" for p in shared), "the history's monthly files are shared"
    # everything else beside them (the work file, dbt's folder, the lock) and everything the commands
    # wrote elsewhere (the generated deliveries, dbt's log) is the owner's alone
    for top in (folder, warehouse / "data", warehouse / "logs"):
        for path in top.rglob("*"):
            if path in shared:
                continue
            assert mode(path) & 0o077 == 0, f"{path} is {oct(mode(path))}"


def client(root: Path) -> Path:
    """A BI tool's DuckDB (the 1.x shell of the duckdb-cli package), copied where any account can run it."""
    import duckdb_cli

    copy = root / "duckdb"
    if not copy.exists():
        shutil.copy2(Path(duckdb_cli.__file__).with_name("duckdb"), copy)
        os.chmod(copy, 0o755)
    return copy


def as_account(root: Path, uid: int, gid: int, database: str, query: str, *groups: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(client(root)), "-readonly", "-csv", "-noheader", database, "-c", query],
        user=uid, group=gid, extra_groups=list(groups), capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"}, cwd="/tmp",
    )  # fmt: skip


def test_a_reader_reads_the_mart_and_cannot_open_the_work_file(warehouse):
    readers, reader, outsider = ensure_accounts()
    served = str(warehouse / "warehouse" / "credit_score.duckdb")
    work = str(warehouse / "warehouse" / "credit_score.work.duckdb")
    nobody = pwd.getpwnam(OUTSIDER).pw_gid
    mart = "select count(*), count(msisdn_masked) from marts.customer_credit_score"
    history = "select count(*) from marts.customer_credit_score_history"

    read = as_account(warehouse, reader, readers, served, mart, readers)
    assert read.returncode == 0, read.stderr
    scored, masked = map(int, read.stdout.strip().split(","))
    assert scored > 1000 and masked > 0
    kept = as_account(warehouse, reader, readers, served, history, readers)  # two months, read from Parquet
    assert kept.returncode == 0 and int(kept.stdout) > scored, kept.stderr

    refused = as_account(warehouse, reader, readers, work, "select msisdn from raw.subscriptions limit 1", readers)
    assert refused.returncode != 0 and "Permission denied" in refused.stderr, refused.stderr

    for database in (served, work):
        outside = as_account(warehouse, outsider, nobody, database, "select 1")
        assert outside.returncode != 0 and "Permission denied" in outside.stderr, outside.stderr


def test_the_report_and_the_docs_site_are_the_readers(warehouse):
    """What is meant for readers - the report (counts and masked numbers) and the docs site (the
    project's documentation) - is written 0640 / 0750 in the readers' group under any umask, so the
    readers' account opens it without a chmod; an outsider cannot."""
    readers, reader, outsider = ensure_accounts()
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(warehouse / "warehouse" / "credit_score.duckdb"),
           "CREDIT_SCORE_READER_GROUP": READERS, "CREDIT_SCORE_LOG_DIR": str(warehouse / "logs")}  # fmt: skip
    for args in (("report", "--out", "report"), ("docs", "--out", "docs-site", "--no-serve")):
        done = subprocess.run(
            [sys.executable, "-m", "credit_score.cli", *args], cwd=warehouse, env=env, capture_output=True,
            text=True, timeout=600, preexec_fn=lambda: os.umask(0o077),
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        folder = warehouse / args[2]
        for path in [folder, *folder.rglob("*")]:
            assert path.stat().st_gid == readers, path
            assert mode(path) == (0o750 if path.is_dir() else 0o640), f"{path} is {oct(mode(path))}"
        page = next(folder.glob("*.html"))
        read = subprocess.run(["cat", str(page)], user=reader, group=readers, capture_output=True, timeout=60)
        assert read.returncode == 0 and b"<html" in read.stdout.lower()
        outsiders = pwd.getpwuid(outsider).pw_gid
        refused = subprocess.run(["cat", str(page)], user=outsider, group=outsiders, capture_output=True, timeout=60)
        assert refused.returncode != 0
