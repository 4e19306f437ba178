"""`credit-score load` lands every row of the three files, or nothing: a file it cannot read is refused
with the file, the line and what was expected, and the raw tables keep what they had."""

import shutil

import duckdb
import pytest

from credit_score.load import LoadError, load
from credit_score.settings import work_path
from pytests.helpers import EXAMPLES

HEADER = b"bill_id,customer_id,bill_month,amount\n"
GOOD = b"B1,W01,2026-10,1.00\n"

BROKEN_BILLING = {
    "a short line": (HEADER + GOOD + b"B2,W01,2026-10\n", "billing.csv, line 3: expected 4 fields", "found 3"),
    "a long line": (HEADER + GOOD + b"B2,W01,2026-10,1.00,9\n", "billing.csv, line 3: expected 4 fields", "found 5"),
    "GB18030 bytes read as UTF-8": (
        HEADER + GOOD + "B2,中文,2026-10,1.00\n".encode("gb18030"),
        "billing.csv, line 3: bytes that are not valid utf-8",
        "--encoding gb18030",
    ),
    "an unterminated quote": (
        HEADER + b'B1,"W01,2026-10,1.00\n',
        "billing.csv, line 2: a quoted value",
        "never closed",
    ),
    "a wrong header": (b"bill_id,customer,bill_month,amount\n" + GOOD, "billing.csv, line 1: header is", "expected"),
}


def raw_counts(database):
    con = duckdb.connect(str(work_path(database)), read_only=True)
    try:
        return {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in ("subscriptions", "billing")}
    finally:
        con.close()


@pytest.fixture
def loaded(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    load(EXAMPLES, database, progress=False)
    folder = tmp_path / "delivery"
    shutil.copytree(EXAMPLES, folder)
    return database, folder


@pytest.mark.parametrize("case", BROKEN_BILLING, ids=list(BROKEN_BILLING))
def test_an_unreadable_file_is_refused_and_nothing_changes(loaded, case):
    database, folder = loaded
    content, where, what = BROKEN_BILLING[case]
    (folder / "billing.csv").write_bytes(content)
    before = raw_counts(database)
    with pytest.raises(LoadError) as refused:
        load(folder, database, progress=False)
    assert where in str(refused.value) and what in str(refused.value)
    assert raw_counts(database) == before == {"subscriptions": 12, "billing": 63}


def test_a_missing_file_is_named(loaded):
    database, folder = loaded
    (folder / "suspensions.csv").unlink()
    with pytest.raises(
        LoadError, match=r"suspensions\.csv: missing; expected suspensions\.csv or suspensions\.parquet"
    ):
        load(folder, database, progress=False)


def test_gb18030_files_load_with_the_encoding_option(loaded):
    database, folder = loaded
    for name in ("subscriptions.csv", "billing.csv", "suspensions.csv"):
        text = (folder / name).read_text(encoding="utf-8").replace("W01", "客户01")
        (folder / name).write_bytes(text.encode("gb18030"))
    counts = load(folder, database, encoding="gb18030", progress=False)
    assert counts == {"subscriptions": 12, "billing": 63, "suspensions": 14}
    con = duckdb.connect(str(work_path(database)), read_only=True)
    assert con.execute("select count(*) from raw.billing where customer_id = '客户01'").fetchone()[0] == 13
    con.close()
    assert not list(database.parent.glob(".*.csv")), "the UTF-8 copy was left behind"


def test_undecodable_bytes_in_a_gb18030_file_name_the_line(loaded):
    database, folder = loaded
    (folder / "billing.csv").write_bytes(HEADER + GOOD + GOOD + b"B3,\x81\x20,2026-10,1.00\n")
    with pytest.raises(LoadError, match=r"billing\.csv, line 4: bytes that are not valid gb18030"):
        load(folder, database, encoding="gb18030", progress=False)
    assert raw_counts(database)["billing"] == 63
