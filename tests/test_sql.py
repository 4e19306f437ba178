"""`credit-score sql` as an analyst meets it: a statement on the command line, statements piped in, and
the prompt in a terminal (a pseudo-terminal here), all read-only on the served file."""

from __future__ import annotations

import csv
import io
import os
import pty
import select
import subprocess
import sys
import time

import duckdb


def sql_cli(served, *args, stdin=None):
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(served)}
    return subprocess.run(
        [sys.executable, "-m", "credit_score.cli", "sql", *args],
        env=env, input=stdin, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def truth(served, query):
    con = duckdb.connect(str(served), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def test_a_statement_prints_the_marts_rows(two_months):
    query = "select star_level, count(*) as customers from marts.customer_credit_score group by 1 order by 1"
    done = sql_cli(two_months, "--csv", query)
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[0] == ["star_level", "customers"]
    assert [(int(a), int(b)) for a, b in rows[1:]] == truth(two_months, query)
    table = sql_cli(two_months, query)
    ((customers,),) = truth(two_months, "select count(*) from marts.customer_credit_score where star_level = 3")
    assert f"{customers:,}" in table.stdout and "6 rows" in table.stdout


def test_writing_is_refused_and_nothing_changes(two_months):
    before = truth(two_months, "select count(*) from marts.customer_credit_score")
    done = sql_cli(two_months, "delete from marts.customer_credit_score")
    assert done.returncode == 1 and "read-only" in done.stderr, done.stderr
    assert truth(two_months, "select count(*) from marts.customer_credit_score") == before


def test_piped_statements_run_in_order_and_stop_at_an_error(two_months):
    script = "\n".join(
        ["select count(*) as n from marts.retention_watchlist;", "\\d", "select 'second' as", "  word;",
         "select nope;", "select 314159 as never;", ""]
    )  # fmt: skip
    done = sql_cli(two_months, stdin=script)
    assert done.returncode == 1 and "nope" in done.stderr
    ((listed,),) = truth(two_months, "select count(*) from marts.retention_watchlist")
    out = done.stdout
    assert f"{listed:,}" in out and "customer_credit_score" in out and "second" in out
    assert out.index("customer_credit_score") < out.index("second") and "314159" not in out


def test_the_prompt_in_a_terminal(two_months):
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(two_months), "TERM": "dumb"}
    leader, follower = pty.openpty()
    prompt = subprocess.Popen(
        [sys.executable, "-m", "credit_score.cli", "sql"], stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    seen = b""

    def read_until(marker: bytes, timeout: float = 60) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(leader, 65536)
                except OSError:
                    break
        assert marker in seen, seen.decode(errors="replace")[-2000:]

    try:
        read_until(b"credit-score> ")
        os.write(leader, b"select count(*) as scored\n")
        read_until(b"...> ")  # the statement goes on until its ;
        os.write(leader, b"from marts.customer_credit_score;\n")
        ((customers,),) = truth(two_months, "select count(*) from marts.customer_credit_score")
        read_until(f"{customers:,}".encode())
        os.write(leader, b"select nope;\n")
        read_until(b"error:")  # an error at the prompt is shown, the prompt goes on
        os.write(leader, b"\\q\n")
        assert prompt.wait(timeout=30) == 0
    finally:
        prompt.kill()
        os.close(leader)
