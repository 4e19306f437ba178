"""`credit-score load` appends a delivery (SPEC 6), all or nothing: files load as they come (LF or CRLF,
with or without a byte-order mark, UTF-8 or GB18030, plain or gzip CSV, Parquet, any subset of the
three), every row keeps its delivery and line, a delivery loaded again replaces itself, and a file it
cannot read is refused with the file, the line and what to do while raw keeps what it had."""

import codecs
import datetime as dt
import gzip
import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from credit_score.deliveries import LoadError
from credit_score.load import load
from credit_score.settings import work_path
from tests.helpers import DELIVERED, EXAMPLES, write_folder

TABLES = ("subscriptions", "billing", "suspensions")
HEADER = b"bill_id,customer_id,bill_month,amount\n"
GOOD = b"B1,W01,2026-10,1.00\n"
AGAIN = "load again"

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
    "an empty file": (b"", "billing.csv, line 1: the file is empty", "expected the header"),
}


def raw(database, table="billing", delivery_columns=False):
    """The raw table's rows as sorted tuples (with file_line, delivered_on, delivery_id if asked)."""
    con = duckdb.connect(str(work_path(database)), read_only=True)
    try:
        columns = "*" if delivery_columns else "* exclude (file_line, delivered_on, delivery_id)"
        return sorted(con.execute(f"select {columns} from raw.{table}").fetchall(), key=repr)
    finally:
        con.close()


def register(database):
    con = duckdb.connect(str(work_path(database)), read_only=True)
    try:
        return {
            r[0]: r[1:]
            for r in con.execute(
                "select delivery_id, delivered_on, subscriptions_file, billing_file, suspensions_file "
                "from raw.deliveries"
            ).fetchall()
        }
    finally:
        con.close()


def counts(database):
    return {t: len(raw(database, t)) for t in TABLES}


@pytest.fixture
def loaded(tmp_path):
    """The examples loaded as delivery `examples`, and a copy of them to break."""
    database = tmp_path / "warehouse.duckdb"
    load(EXAMPLES, database, delivered_on=DELIVERED, progress=False)
    folder = tmp_path / "correction"
    folder.mkdir()
    for table in TABLES:
        (folder / f"{table}.csv").write_bytes((EXAMPLES / f"{table}.csv").read_bytes())
    return database, folder


@pytest.mark.parametrize("case", BROKEN_BILLING, ids=list(BROKEN_BILLING))
def test_an_unreadable_file_is_refused_and_nothing_changes(loaded, case):
    database, folder = loaded
    content, where, what = BROKEN_BILLING[case]
    (folder / "billing.csv").write_bytes(content)
    before = {t: raw(database, t, delivery_columns=True) for t in TABLES}, register(database)
    with pytest.raises(LoadError) as refused:
        load(folder, database, delivered_on=DELIVERED, progress=False)
    message = str(refused.value)
    assert where in message and what in message
    assert AGAIN in message or "--encoding" in message, "the refusal says what to do"
    assert ({t: raw(database, t, delivery_columns=True) for t in TABLES}, register(database)) == before
    assert counts(database) == {"subscriptions": 12, "billing": 63, "suspensions": 14}


def variants(tmp_path):
    """The examples delivered every way SPEC 2 allows: {name: folder, encoding}."""
    made = {}

    def write(name, encode, suffix=".csv", encoding="utf-8"):
        folder = tmp_path / name
        folder.mkdir()
        for table in TABLES:
            text = (EXAMPLES / f"{table}.csv").read_text(encoding="utf-8")
            (folder / f"{table}{suffix}").write_bytes(encode(text))
        made[name] = (folder, encoding)

    write("lf", lambda t: t.encode())
    write("crlf", lambda t: t.replace("\n", "\r\n").encode())
    write("bom_crlf", lambda t: codecs.BOM_UTF8 + t.replace("\n", "\r\n").encode())
    write("gzip", lambda t: gzip.compress(t.encode()), ".csv.gz")
    write("gzip_bom_crlf", lambda t: gzip.compress(codecs.BOM_UTF8 + t.replace("\n", "\r\n").encode()), ".csv.gz")
    write("gb18030", lambda t: t.encode("gb18030"), encoding="gb18030")
    write("gb18030_bom_crlf", lambda t: ("\ufeff" + t.replace("\n", "\r\n")).encode("gb18030"), encoding="gb18030")
    write("gb18030_gzip", lambda t: gzip.compress(t.encode("gb18030")), ".csv.gz", encoding="gb18030")
    folder = tmp_path / "parquet"
    folder.mkdir()
    for table in TABLES:
        duckdb.execute(
            f"copy (select * from read_csv('{EXAMPLES / table}.csv', all_varchar = true)) "
            f"to '{folder / table}.parquet' (format parquet)"
        )
    made["parquet"] = (folder, "utf-8")
    return made


def test_every_form_of_file_lands_the_same_rows_and_lines(tmp_path):
    plain = tmp_path / "plain.duckdb"
    load(EXAMPLES, plain, delivered_on=DELIVERED, delivery_id="d", progress=False)
    expected = {t: raw(plain, t, delivery_columns=True) for t in TABLES}
    assert len(expected["billing"]) == 63
    lines = sorted(r[-3] for r in expected["billing"])
    assert lines[:2] == [2, 3] and lines[-1] == 64, "lines start after the header"
    for name, (folder, encoding) in variants(tmp_path).items():
        database = tmp_path / f"{name}.duckdb"
        load(folder, database, delivered_on=DELIVERED, delivery_id="d", encoding=encoding, progress=False)
        got = {t: raw(database, t, delivery_columns=True) for t in TABLES}
        if name == "parquet":  # a row number, not a line: the header takes no row
            got = {t: [(*r[:-3], r[-3] + 1, *r[-2:]) for r in rows] for t, rows in got.items()}
        assert got == expected, name
    assert not list(tmp_path.glob(".*.csv")), "a UTF-8 copy was left behind"


def test_parquet_lines_are_row_numbers(tmp_path):
    folder = variants(tmp_path)["parquet"][0]
    database = tmp_path / "warehouse.duckdb"
    load(folder, database, delivered_on=DELIVERED, progress=False)
    con = duckdb.connect(str(work_path(database)), read_only=True)
    lines = con.execute("select min(file_line), max(file_line), count(*) from raw.billing").fetchone()
    con.close()
    assert lines == (1, 63, 63)


def test_a_delivery_may_hold_any_subset_of_the_files(loaded, tmp_path):
    database, _ = loaded
    billing_only = tmp_path / "2026-11"
    billing_only.mkdir()
    (billing_only / "billing.csv").write_bytes(HEADER + b"B-NEW,W01,2026-11,5.00\n")
    assert load(billing_only, database, delivered_on=dt.date(2026, 12, 4), progress=False) == {"billing": 1}
    assert counts(database) == {"subscriptions": 12, "billing": 64, "suspensions": 14}
    assert register(database)["2026-11"] == (dt.date(2026, 12, 4), None, "billing.csv", None)
    new = [r for r in raw(database, "billing", delivery_columns=True) if r[0] == "B-NEW"]
    assert new == [("B-NEW", "W01", "2026-11", "5.00", 2, dt.date(2026, 12, 4), "2026-11")]


def test_an_empty_delivery_is_recorded(loaded, tmp_path):
    database, _ = loaded
    empty, headers_only = tmp_path / "nothing", tmp_path / "headers"
    empty.mkdir()
    write_folder(headers_only, {t: [] for t in TABLES})
    assert load(empty, database, delivered_on=DELIVERED, allow_empty=True, progress=False) == {}
    assert load(headers_only, database, delivered_on=DELIVERED, progress=False) == dict.fromkeys(TABLES, 0)
    assert counts(database) == {"subscriptions": 12, "billing": 63, "suspensions": 14}
    assert register(database)["nothing"] == (DELIVERED, None, None, None)
    assert register(database)["headers"] == (DELIVERED, "subscriptions.csv", "billing.csv", "suspensions.csv")


def test_loading_a_delivery_again_replaces_it_and_replace_reloads_everything(loaded, tmp_path):
    database, folder = loaded
    load(EXAMPLES, database, delivered_on=DELIVERED, progress=False)  # the same id again: no change
    assert counts(database) == {"subscriptions": 12, "billing": 63, "suspensions": 14}
    (folder / "billing.csv").write_bytes(HEADER + GOOD)
    (folder / "suspensions.csv").unlink()
    load(folder, database, delivered_on=DELIVERED, delivery_id="examples", progress=False)  # its correction
    assert counts(database) == {"subscriptions": 12, "billing": 1, "suspensions": 0}
    load(EXAMPLES, database, delivered_on=DELIVERED, delivery_id="second", progress=False)  # another id: appended
    assert counts(database) == {"subscriptions": 24, "billing": 64, "suspensions": 14}
    assert set(register(database)) == {"examples", "second"}
    load(EXAMPLES, database, delivered_on=DELIVERED, delivery_id="only", replace=True, progress=False)
    assert counts(database) == {"subscriptions": 12, "billing": 63, "suspensions": 14}
    assert set(register(database)) == {"only"}


@pytest.mark.parametrize(
    ("arrange", "message"),
    [
        (lambda f: (f / "billing.csv.gz").write_bytes(gzip.compress(HEADER)), "billing.csv and billing.csv.gz"),
        (lambda f: (f / "billing.csv").rename(f / "billing.csv.gz"), "billing.csv.gz: cannot be read"),
        (lambda f: (f / "billing.csv").rename(f / "billing.parquet"), "billing.parquet: not a readable Parquet"),
    ],
    ids=["two files for one table", "not really gzip", "not really parquet"],
)
def test_confusing_files_are_refused_by_name(loaded, arrange, message):
    database, folder = loaded
    arrange(folder)
    with pytest.raises(LoadError, match=message.replace(".", r"\.")):
        load(folder, database, delivered_on=DELIVERED, progress=False)
    assert counts(database) == {"subscriptions": 12, "billing": 63, "suspensions": 14}


def test_a_bad_delivery_id_is_refused(loaded):
    database, folder = loaded
    with pytest.raises(LoadError, match="cannot be a delivery id"):
        load(folder, database, delivered_on=DELIVERED, delivery_id="oct 2026", progress=False)


def test_raw_tables_of_an_earlier_version_ask_for_a_full_reload(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(work_path(database)))
    con.execute("create schema raw; create table raw.billing (bill_id varchar, customer_id varchar)")
    con.close()
    with pytest.raises(LoadError, match="--replace"):
        load(EXAMPLES, database, delivered_on=DELIVERED, progress=False)
    load(EXAMPLES, database, delivered_on=DELIVERED, replace=True, progress=False)
    assert counts(database) == {"subscriptions": 12, "billing": 63, "suspensions": 14}


def test_undecodable_bytes_in_a_gb18030_file_name_the_line(loaded):
    database, folder = loaded
    (folder / "billing.csv").write_bytes(HEADER + GOOD + GOOD + b"B3,\x81\x20,2026-10,1.00\n")
    with pytest.raises(LoadError, match=r"billing\.csv, line 4: bytes that are not valid gb18030"):
        load(folder, database, delivered_on=DELIVERED, encoding="gb18030", progress=False)
    assert counts(database)["billing"] == 63


def test_a_load_killed_midway_leaves_raw_as_it_was(tmp_path):
    """kill -9 while a large delivery is being inserted: the next reader finds raw exactly as before."""
    database = tmp_path / "warehouse.duckdb"
    load(EXAMPLES, database, delivered_on=DELIVERED, progress=False)
    before = {t: raw(database, t, delivery_columns=True) for t in TABLES}, register(database)
    big = tmp_path / "big"
    big.mkdir()
    duckdb.execute(
        f"copy (select 'X' || i as bill_id, 'W01' as customer_id, '2026-10' as bill_month, '1.00' as amount "
        f"from range(6000000) t(i)) to '{big / 'billing.csv'}' (header)"
    )
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(database)}
    loader = subprocess.Popen(
        [sys.executable, "-m", "credit_score.cli", "load", str(big), "--delivered-on", "2026-11-05", "--verbose"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert "[load] delivery big" in loader.stdout.readline()
    time.sleep(1.0)  # inside the insert of six million rows
    loader.send_signal(signal.SIGKILL)
    loader.wait(timeout=60)
    loader.stdout.close()
    assert loader.returncode == -signal.SIGKILL, "the load ended before it could be killed"
    assert ({t: raw(database, t, delivery_columns=True) for t in TABLES}, register(database)) == before


def _listing(tmp_path, folders: dict[str, bytes | None]):
    """A listing of deliveries beside their folders: {delivery id: billing.csv's bytes, or None for
    the examples' three files}."""
    root = tmp_path / "listed"
    root.mkdir()
    lines = ["delivery_id,delivered_on"]
    for number, (delivery_id, billing) in enumerate(folders.items(), start=1):
        folder = root / delivery_id
        folder.mkdir()
        if billing is None:
            for table in TABLES:
                (folder / f"{table}.csv").write_bytes((EXAMPLES / f"{table}.csv").read_bytes())
        else:
            (folder / "billing.csv").write_bytes(billing)
        lines.append(f"{delivery_id},2026-1{number}-05" if number < 3 else f"{delivery_id},2026-12-0{number}")
    (root / "deliveries.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "deliveries.csv"


def _cli_load(database, *args, verbose=False):
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(database)}
    command = [sys.executable, "-m", "credit_score.cli", "load", *args, *(["--verbose"] if verbose else [])]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_listed_replace_with_a_bad_folder_changes_nothing(loaded, tmp_path):
    """`load --list FILE --replace` whose third folder cannot be read: raw (and its register) exactly
    as before, not emptied and half loaded, and the message says nothing was loaded."""
    database, _ = loaded
    load(EXAMPLES, database, delivered_on=DELIVERED, delivery_id="second", progress=False)
    before = {t: raw(database, t, delivery_columns=True) for t in TABLES}, register(database)
    listing = _listing(tmp_path, {"a": None, "b": HEADER + GOOD, "c": HEADER + GOOD + b"B2,W01,2026-10\n"})
    loader = _cli_load(database, "--list", str(listing), "--replace")
    out, err = loader.communicate(timeout=120)
    assert loader.returncode == 1, (out, err)
    assert "c/billing.csv, line 3: expected 4 fields" in err
    assert "none of the listed deliveries was loaded; the raw tables keep exactly what they had" in err
    assert ({t: raw(database, t, delivery_columns=True) for t in TABLES}, register(database)) == before


def test_a_listed_replace_killed_at_any_point_leaves_raw_as_it_was(loaded, tmp_path):
    """kill -9 of `load --list FILE --replace` inside the first delivery, inside the second (large) one
    and inside the third (large) after the second is in: each time raw is exactly as before; run to
    its end, it holds the listed deliveries alone."""
    database, _ = loaded
    before = {t: raw(database, t, delivery_columns=True) for t in TABLES}, register(database)
    big = b"".join([HEADER] + [b"X%d,W01,2026-10,1.00\n" % i for i in range(2_000_000)])
    listing = _listing(tmp_path, {"a": None, "b": big, "c": big.replace(b"X", b"Y")})
    for progress_lines in (1, 3, 4):  # "[load ...] raw.<table>: N rows" lines seen before the kill
        loader = _cli_load(database, "--list", str(listing), "--replace", verbose=True)
        seen = 0
        while seen < progress_lines:
            line = loader.stdout.readline()
            assert line, f"the load ended after {seen} tables: {loader.stderr.read()}"
            seen += "] raw." in line
        loader.send_signal(signal.SIGKILL)
        loader.wait(timeout=60)
        loader.stdout.close()
        loader.stderr.close()
        assert loader.returncode == -signal.SIGKILL, f"the load ended before it could be killed ({progress_lines})"
        assert ({t: raw(database, t, delivery_columns=True) for t in TABLES}, register(database)) == before
    finished = _cli_load(database, "--list", str(listing), "--replace")
    assert finished.communicate(timeout=300)[0] is not None and finished.returncode == 0
    assert set(register(database)) == {"a", "b", "c"}
    assert counts(database) == {"subscriptions": 12, "billing": 63 + 2 * 2_000_000, "suspensions": 14}


# -- a strict load (issue 27): nothing skipped without a word -----------------------------------------
@pytest.mark.parametrize(
    "stray",
    [
        ["billings.csv"],
        ["BILLING.CSV"],
        ["Subscriptions.csv"],
        ["billing.xlsx", "billing.csv.bak", "billing (1).csv"],
        ["notes"],  # a folder inside the delivery
    ],
)
def test_a_file_load_does_not_take_is_refused_by_name(loaded, tmp_path, stray):
    """A folder holding the three files and a stray one (a misspelt or upper-case name, a spreadsheet, a
    backup, a browser's download copy, a sub-folder) is refused, naming every stray file and the names
    load takes; raw keeps exactly what it had (the stray file's rows would have been missing silently)."""
    database, _ = loaded
    before = {t: raw(database, t, delivery_columns=True) for t in TABLES}, register(database)
    folder = write_folder(tmp_path / "delivery", {t: [] for t in TABLES})
    for name in stray:
        if "." in name:
            (folder / name).write_bytes(HEADER + GOOD)
        else:
            (folder / name).mkdir()
    with pytest.raises(LoadError) as refused:
        load(folder, database, delivered_on=DELIVERED, delivery_id="strays", progress=False)
    message = str(refused.value)
    for name in stray:
        assert name in message, message
    assert "subscriptions.csv, billing.csv, suspensions.csv" in message and "rename or move" in message
    assert ({t: raw(database, t, delivery_columns=True) for t in TABLES}, register(database)) == before


def test_an_empty_folder_is_a_delivery_only_when_asked(loaded, tmp_path):
    """A folder holding none of the files is refused (a wrong path, an unfinished transfer), saying
    --allow-empty; with it, the delivery is registered with no file and no row."""
    database, _ = loaded
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(LoadError, match="holds none of subscriptions.csv.*--allow-empty"):
        load(empty, database, delivered_on=DELIVERED, progress=False)
    assert "nothing" not in register(database)
    before = counts(database)
    assert load(empty, database, delivered_on=DELIVERED, allow_empty=True, progress=False) == {}
    assert register(database)["nothing"] == (DELIVERED, None, None, None)
    assert counts(database) == before


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "ascii", "utf-16", "big5", "no-such-codec"])
def test_an_encoding_other_than_utf8_or_gb18030_is_refused(loaded, encoding):
    """latin-1 reads any byte, so a GB18030 file would load garbled names and exit 0: only the two
    encodings the upstream systems write are taken."""
    database, _ = loaded
    with pytest.raises(LoadError, match=r"a delivery is utf-8 or gb18030") as refused:
        load(EXAMPLES, database, delivered_on=DELIVERED, delivery_id="x", encoding=encoding, progress=False)
    assert encoding in str(refused.value)
    assert "x" not in register(database)


@pytest.mark.parametrize("encoding", ["UTF8", "utf_8", "U8", "GB18030", "gb18030_2000"])
def test_the_names_python_gives_the_two_encodings_are_taken(loaded, encoding):
    database, _ = loaded
    load(EXAMPLES, database, delivered_on=DELIVERED, delivery_id="y", encoding=encoding, progress=False)
    assert "y" in register(database)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ((), "which delivery? give its folder"),
        (("somewhere", "--list", "deliveries.csv"), "give a delivery folder DIR or --list FILE, not both"),
        (("--list", "deliveries.csv", "--delivery", "a"), "--list names each delivery and its date"),
    ],
)
def test_a_load_without_what_to_load_says_what_to_give(tmp_path, args, said):
    loader = _cli_load(tmp_path / "warehouse.duckdb", *args)
    _, err = loader.communicate(timeout=60)
    assert loader.returncode != 0 and said in err, err


def _cli(database, *args):
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(database)}
    return subprocess.run(
        [sys.executable, "-m", "credit_score.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_deliveries_lists_what_is_loaded_and_removes_one(loaded, tmp_path):
    """`credit-score deliveries` lists each delivery with its date and rows; `deliveries remove ID` takes
    exactly that one out of raw and its register (the other's rows stay), and an unknown id is refused
    naming the loaded ones."""
    database, _ = loaded
    load(EXAMPLES, database, delivered_on=DELIVERED + dt.timedelta(days=1), delivery_id="second", progress=False)
    expected = {t: len(raw(database, t)) // 2 for t in TABLES}  # two copies of the examples
    listed = _cli(database, "deliveries")
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    assert set(lines) == {"examples", "second"}, listed.stdout
    second = lines["second"]
    assert second[1] == str(DELIVERED + dt.timedelta(days=1))
    assert [int(n.replace(",", "")) for n in second[-3:]] == [expected[t] for t in TABLES]
    kept = {t: [r for r in raw(database, t, delivery_columns=True) if r[-1] != "second"] for t in TABLES}
    removed = _cli(database, "deliveries", "remove", "second")
    assert removed.returncode == 0, removed.stderr
    assert "removed delivery second" in removed.stdout and "next `credit-score build`" in removed.stdout
    assert {t: raw(database, t, delivery_columns=True) for t in TABLES} == kept
    assert "second" not in register(database)
    unknown = _cli(database, "deliveries", "remove", "second")
    assert unknown.returncode == 1 and "no delivery 'second' is loaded" in unknown.stderr, unknown.stderr
    assert "(loaded: " in unknown.stderr
    empty = _cli(tmp_path / "new.duckdb", "deliveries")
    assert empty.returncode == 0 and "nothing is loaded yet" in empty.stdout + empty.stderr
