"""Personal data at rest: the files that hold raw phone numbers are the owner's alone.

Raw numbers (PIPL personal information) live in the DuckDB work file (raw and the validation
models), in Spark's warehouse (raw tables, the intermediate tables) and in the checked copies a load
writes on its way (PostgreSQL, Spark). Everything the harness and its dbt runs create is made under
the umask 077, whatever the caller's umask: files 0600, folders 0700. What BI reads - the served
DuckDB file and its monthly Parquet files, which hold masked numbers only - is then opened to one
group: mode 0640 (folders 0750) and the group $CREDIT_SCORE_READER_GROUP names (unset: the owner's
group stays). Give BI's account that group; nobody else on the machine reads anything.
"""

from __future__ import annotations

import contextlib
import grp
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

PRIVATE_UMASK = 0o077
# a run of 10 to 15 digits (an 11-digit mobile number, with 86 or 0086 before it, or one digit short
# or long), kept as SPEC 3 masks a number: its first 3 and last 4 digits; shorter runs (a count of
# bytes, a date) are left alone
_NUMBER = re.compile(r"(?<!\d)(\d{3})(\d{3,8})(\d{4})(?!\d)")
READER_GROUP_VARIABLE = "CREDIT_SCORE_READER_GROUP"
PRIVATE_FILE, PRIVATE_FOLDER = 0o600, 0o700
SHARED_FILE, SHARED_FOLDER = 0o640, 0o750


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def private_files() -> Iterator[None]:
    """Files and folders created in the block are the owner's alone (umask 077)."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def make_private(path: Path) -> None:
    """A file or a folder the owner's alone (0600 / 0700); a private folder keeps others out of
    everything beneath it, so what is inside need not be walked."""
    if path.exists():
        _chmod(path, PRIVATE_FOLDER if path.is_dir() else PRIVATE_FILE)


def reader_group() -> int | None:
    """The group BI reads as ($CREDIT_SCORE_READER_GROUP: a name or a number), None when unset."""
    name = os.environ.get(READER_GROUP_VARIABLE, "").strip()
    if not name:
        return None
    try:
        return int(name) if name.isdigit() else grp.getgrnam(name).gr_gid
    except KeyError:
        raise SystemExit(f"{READER_GROUP_VARIABLE}={name}: no such group on this machine") from None


def share_with_readers(*paths: Path) -> None:
    """Files 0640 and folders 0750, in the reader group when one is named."""
    group = reader_group()
    for path in paths:
        if not path.exists():
            continue
        _chmod(path, SHARED_FOLDER if path.is_dir() else SHARED_FILE)
        if group is not None and path.stat().st_gid != group:
            os.chown(path, -1, group)


def share_tree(folder: Path) -> None:
    """A folder of what readers may see (the report, the docs site: masked numbers only) and everything
    beneath it: files 0640, folders 0750, in the reader group when one is named."""
    share_with_readers(folder, *sorted(folder.rglob("*")))


def open_to_readers(folder: Path) -> None:
    """The folder holding the served file may be anyone's (CREDIT_SCORE_DUCKDB names it): readers get
    to traverse and list it (group r-x added, nothing taken away), and it joins the reader group unless
    it is a shared sticky folder such as /tmp. Its other files keep their own modes (the work file 0600)."""
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o050 != 0o050:
        os.chmod(folder, mode | 0o050)
    group = reader_group()
    if group is not None and not mode & stat.S_ISVTX and folder.stat().st_gid != group:
        os.chown(folder, -1, group)


def _chmod(path: Path, mode: int) -> None:
    if stat.S_IMODE(path.lstat().st_mode) != mode and not path.is_symlink():
        os.chmod(path, mode)


def mask_numbers(text: str) -> str:
    """text with every phone-like run of digits masked as SPEC 3 masks msisdn (13812345678 ->
    138****5678): for what a message shows of a delivered line (a refused load, a log)."""
    return _NUMBER.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)
