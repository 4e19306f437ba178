"""No full phone number in any message, log or exception text (issue 25): what a scheduler's log
keeps of a load or a build shows numbers as SPEC 3 masks them (138****5678).

The bad-row catalogue (credit_score/badrows.py) mixed into a generated delivery is loaded and built
by the command line with --verbose; then every line of its output, of dbt's log and of every table BI
reads is searched for every number the delivery holds. And the lines a load refuses (a field short, a
field too many, an unclosed quote, a line beyond DuckDB's line size), each carrying a number, are
shown masked, with the reader's reason.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys

import duckdb
import pytest

from credit_score import badrows
from credit_score.deliveries import EXPECTED_COLUMNS, LoadError
from credit_score.load import load, read_csv_tables, write_csv_tables
from credit_score.privacy import mask_numbers
from tests.helpers import DELIVERED

AS_OF = "2026-10-31"
NUMBER = "13812345678"


def _numbers(folder) -> set[str]:
    with (folder / "subscriptions.csv").open(newline="", encoding="utf-8") as f:
        return {row["msisdn"] for row in csv.DictReader(f) if re.fullmatch(r"\d{10,15}", row["msisdn"] or "")}


def test_mask_numbers_keeps_the_first_3_and_last_4_digits():
    assert mask_numbers(f"x,{NUMBER},y") == "x,138****5678,y"
    assert mask_numbers("+8613812345678") == "+861******5678"
    assert mask_numbers("1381234567 and 138123456789") == "138***4567 and 138*****6789"
    # a date, a count of bytes, an amount: not numbers of a person
    assert mask_numbers("2026-10-05 20261005 2000000 bytes 12345.67") == "2026-10-05 20261005 2000000 bytes 12345.67"


def test_the_catalogue_loaded_and_built_shows_no_full_number(tmp_path):
    env = {
        **os.environ,
        "CREDIT_SCORE_DUCKDB": str(tmp_path / "warehouse" / "credit_score.duckdb"),
        "CREDIT_SCORE_LOG_DIR": str(tmp_path / "logs"),
    }

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "credit_score.cli", *args, "--verbose"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done.stdout + done.stderr

    cli("generate", "--customers", "4000", "--as-of", AS_OF, "--out", "data")
    mixed, added = badrows.mix_in(read_csv_tables(tmp_path / "data"))
    write_csv_tables(tmp_path / "data", mixed)
    numbers = _numbers(tmp_path / "data")
    assert len(numbers) > 3500 and "13900000000" in numbers, "the catalogue's own customers are searched too"
    said = cli("load", "data", "--delivered-on", "2026-11-05") + cli("build", "--as-of", AS_OF)
    logs = "".join(
        p.read_text(encoding="utf-8", errors="replace") for p in (tmp_path / "logs").rglob("*") if p.is_file()
    )
    assert "rejected" in said or "warn" in said, "the build reported the bad rows"
    con = duckdb.connect(env["CREDIT_SCORE_DUCKDB"], read_only=True)
    try:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() union all "
            "select schema_name, view_name from duckdb_views() where not internal"
        ).fetchall()
        published = "\n".join(
            str(row)
            for schema, table in tables
            for row in con.execute(f'select * from "{schema}"."{table}"').fetchall()
        )
    finally:
        con.close()
    assert "138" in published or "139" in published, "masked numbers are published"
    for where, text in (("the commands' output", said), ("dbt's log", logs), ("what BI reads", published)):
        shown = sorted(n for n in numbers if n in text)
        assert not shown, f"{where} shows {len(shown)} full numbers, e.g. {shown[:3]}"


def _subscriptions_line(**values: str) -> str:
    row = {
        "customer_id": "C1",
        "msisdn": NUMBER,
        "brand_code": "G001",
        "activation_date": "2020-01-01",
        "termination_date": "",
        "updated_at": "2026-01-01 00:00:00",
    }
    return ",".join({**row, **values}[c] for c in EXPECTED_COLUMNS["subscriptions"])


HEADER = ",".join(EXPECTED_COLUMNS["subscriptions"])
REFUSED = {
    "a field short": (f"C1,{NUMBER},G001,2020-01-01,", "line 2: expected 6 fields", "found 5"),
    "a field too many": (_subscriptions_line() + ",x", "line 2: expected 6 fields", "found 7"),
    "an unclosed quote": (_subscriptions_line(customer_id='"C1'), "line 2: a quoted value is never closed", ""),
    "a line beyond the line size": (
        _subscriptions_line(brand_code="G" * 2_500_000),
        "line 2: Maximum line size of 2000000 bytes exceeded",
        "its first 200 characters",
    ),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_a_refused_line_shows_the_number_masked_and_the_readers_reason(tmp_path, case):
    line, where, what = REFUSED[case]
    folder = tmp_path / "delivery"
    folder.mkdir()
    (folder / "subscriptions.csv").write_text(f"{HEADER}\n{line}\n", encoding="utf-8")
    with pytest.raises(LoadError) as refused:
        load(folder, tmp_path / "warehouse.duckdb", delivered_on=DELIVERED, progress=False)
    message = str(refused.value)
    assert f"subscriptions.csv, {where}" in message and what in message, message[:500]
    assert "\n" not in message, "one line"
    assert NUMBER not in message
    if case != "a line beyond the line size":  # its first 200 characters are the customer id and the Gs
        assert "138****5678" in message, message
