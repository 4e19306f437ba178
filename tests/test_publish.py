"""Write, audit, publish: BI reading the served file while builds run never gets an error and never
sees a partly built or unaudited mart; a failed or killed build leaves the previous mart in place."""

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from credit_score.build import build
from credit_score.engines import duckdb as publish_module
from credit_score.generate import generate
from tests import reference
from tests.helpers import load_one, read_mart, write_folder

SEPTEMBER = dt.date(2026, 9, 30)
OCTOBER = dt.date(2026, 10, 31)

READER = textwrap.dedent(
    """
    import json, os, sys, time
    import duckdb

    served, stop, out = sys.argv[1:4]
    seen, errors, reads = {}, [], 0
    while not os.path.exists(stop):
        try:
            con = duckdb.connect(served, read_only=True)
            try:
                as_of, published_rows, tests_passed = con.execute(
                    "select as_of_date, customers_scored, tests_passed from audit.publication"
                ).fetchone()
                rows, dates, date = con.execute(
                    "select count(*), count(distinct as_of_date), max(as_of_date) from marts.customer_credit_score"
                ).fetchone()
                history_rows = con.execute(  # the view over the month files: each listed file is there
                    "select count(*) from marts.customer_credit_score_history where as_of_date = ?", [as_of]
                ).fetchone()[0]
            finally:
                con.close()
            reads += 1
            key = f"{date}|{rows}"
            seen[key] = seen.get(key, 0) + 1
            if rows != published_rows or history_rows != rows or dates != 1 or date != as_of or tests_passed < 100:
                errors.append(
                    f"inconsistent mart: {rows} rows, {dates} dates, {history_rows} in the history's month, "
                    f"publication {as_of} {published_rows}"
                )
        except Exception as e:
            errors.append(repr(e))
        time.sleep(0.01)
    json.dump({"seen": seen, "errors": errors, "reads": reads}, open(out, "w"))
    """
)


def cli(*args, database, **popen):
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(database)}
    return subprocess.Popen(
        [sys.executable, "-m", "credit_score.cli", *args], env=env, text=True, stdout=subprocess.PIPE, **popen
    )


def scored_rows(folder, as_of):
    tables = {t: reference.read_csv(folder / f"{t}.csv") for t in ("subscriptions", "billing", "suspensions")}
    return len(reference.score(tables["subscriptions"], tables["billing"], tables["suspensions"], as_of))


def test_reader_sees_only_complete_audited_marts_while_builds_fail_and_die(tmp_path):
    served = tmp_path / "warehouse" / "credit_score.duckdb"
    first, second, broken = tmp_path / "september", tmp_path / "october", tmp_path / "broken"
    generate(3000, first, seed=1, as_of=SEPTEMBER, progress=False)
    generate(3000, second, seed=2, as_of=OCTOBER, progress=False)
    generate(3000, broken, seed=3, as_of=OCTOBER, progress=False)
    subscriptions = reference.read_csv(broken / "subscriptions.csv")
    for row in subscriptions[:100]:  # 3.3 % unknown brands: over the 1 % reject threshold
        row["brand_code"] = "G999"
    write_folder(broken, {"subscriptions": subscriptions})

    load_one(first, served)
    assert build(SEPTEMBER, database=served).ok
    september = read_mart(served)
    expected = {f"{SEPTEMBER}|{scored_rows(first, SEPTEMBER)}", f"{OCTOBER}|{scored_rows(second, OCTOBER)}"}

    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(served), str(stop), str(out)])
    try:
        # 1. a build whose audit fails publishes nothing: BI keeps exactly the previous mart
        load_one(broken, served)
        failing = cli("build", "--as-of", str(OCTOBER), database=served)
        output, _ = failing.communicate(timeout=300)
        assert failing.returncode == 1
        assert "FAILED test assert_reject_share_within_threshold" in output
        assert "nothing published" in output
        assert read_mart(served) == september

        # 2. a build killed with kill -9 in the middle of dbt's run publishes nothing either
        load_one(second, served)
        doomed = cli("build", "--as-of", str(OCTOBER), "--verbose", database=served)
        for line in doomed.stdout:
            if " of " in line and "START" in line:  # dbt is building nodes (--verbose shows its lines)
                break
        time.sleep(1.0)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=60)
        doomed.stdout.close()
        assert read_mart(served) == september

        # 3. the next build succeeds (nothing is left holding the warehouse) and publishes
        succeeding = cli("build", "--as-of", str(OCTOBER), database=served)
        output, _ = succeeding.communicate(timeout=300)
        assert succeeding.returncode == 0, output[-3000:]
        time.sleep(0.5)
    finally:
        stop.touch()
        reader.wait(timeout=60)
    seen = json.loads(out.read_text())
    assert seen["errors"] == []
    assert seen["reads"] > 50
    assert set(seen["seen"]) == expected, "the reader saw a mart other than the two published ones"
    october = read_mart(served)
    assert {r["as_of_date"] for r in october.values()} == {str(OCTOBER)}
    assert len(october) == scored_rows(second, OCTOBER)
    assert not list(served.parent.glob(".*publishing*")), "a half-published file was left behind"


def test_a_build_dying_while_publishing_leaves_the_served_mart(tmp_path, monkeypatch):
    served = tmp_path / "credit_score.duckdb"
    data = tmp_path / "raw"
    generate(500, data, seed=4, as_of=OCTOBER, progress=False)
    load_one(data, served)
    assert build(SEPTEMBER, database=served).ok
    before = read_mart(served)

    def crash(*args, **kwargs):
        raise OSError("disk pulled out during the swap")

    monkeypatch.setattr(publish_module.os, "replace", crash)
    failed = build(OCTOBER, database=served)  # said in one line (the traceback goes to the log)
    assert not failed.ok and failed.published is None
    assert failed.problem == "the publish could not write: disk pulled out during the swap"
    assert read_mart(served) == before
    assert not list(tmp_path.glob(".*publishing*"))

    monkeypatch.undo()
    assert build(OCTOBER, database=served).ok
    assert {r["as_of_date"] for r in read_mart(served).values()} == {str(OCTOBER)}


def test_a_second_build_at_the_same_time_is_refused_clearly(tmp_path):
    served = tmp_path / "credit_score.duckdb"
    with publish_module.warehouse_lock(served):
        result = subprocess.run(
            [sys.executable, "-m", "credit_score.cli", "build", "--as-of", "2026-10-31"],
            env={**os.environ, "CREDIT_SCORE_DUCKDB": str(served)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 75
    assert "already running" in result.stderr
