"""`credit-score sql` as an analyst meets it: a statement on the command line, statements piped in, and
the prompt in a terminal (a pseudo-terminal here), all read-only on the served file."""

from __future__ import annotations

import csv
import io
import os
import pty
import re
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


def test_piped_statements_all_run_in_order_and_an_error_is_named_and_counted(two_months):
    """Every piped statement runs in turn; one that fails is reported with its number, the rest still
    run, and the exit status says that one failed."""
    script = "\n".join(
        ["select count(*) as n from marts.retention_watchlist;", "\\d", "select 'second' as", "  word;",
         "select nope;", "select 'pi314' as after_the_error;", ""]
    )  # fmt: skip
    done = sql_cli(two_months, stdin=script)
    assert done.returncode == 1 and "error in statement 4:" in done.stderr and "nope" in done.stderr
    assert "1 of 5 statements failed; the others ran" in done.stderr
    ((listed,),) = truth(two_months, "select count(*) from marts.retention_watchlist")
    out = done.stdout
    assert f"{listed:,}" in out and "customer_credit_score" in out and "second" in out and "pi314" in out
    assert out.index("customer_credit_score") < out.index("second") < out.index("pi314")


def test_describing_a_table_gives_its_contracted_columns(two_months):
    """`\\d TABLE` (with or without its schema) lists the columns the marts' contract declares, in order,
    with their types; an unknown table is an error naming \\d."""
    import yaml

    from credit_score.settings import PROJECT_DIR

    declared = yaml.safe_load((PROJECT_DIR / "models" / "marts" / "_marts__models.yml").read_text(encoding="utf-8"))
    model = next(m for m in declared["models"] if m["name"] == "customer_entitlements")
    # the contract's text type is a Jinja expression (varchar but on Spark): DuckDB's is varchar
    columns = [(c["name"], "varchar" if "{{" in c["data_type"] else c["data_type"]) for c in model["columns"]]
    for named in ("marts.customer_entitlements", "customer_entitlements"):
        done = sql_cli(two_months, "--csv", stdin=f"\\d {named}\n")
        assert done.returncode == 0, done.stderr
        rows = list(csv.reader(io.StringIO(done.stdout)))
        assert rows[0] == ["column", "type", "nullable"]
        assert [(name, kind.lower().replace(" ", "")) for name, kind, _ in rows[1:]] == [
            (name, kind.lower().replace(" ", "")) for name, kind in columns
        ]
    unknown = sql_cli(two_months, stdin="\\d marts.no_such_table\n")
    assert unknown.returncode == 1 and "no such table in marts or audit" in unknown.stderr


def test_copy_export_and_attach_are_refused_and_write_nothing(two_months, tmp_path):
    """The prompt is read-only as it says: a COPY ... TO, an EXPORT DATABASE, an ATTACH are refused
    before they run, pointing at `credit-score export`; no file appears."""
    for statement in (
        f"copy (select * from marts.customer_credit_score) to '{tmp_path / 'x.csv'}'",
        f"copy marts.customer_credit_score to '{tmp_path / 'y.parquet'}' (format parquet)",
        f"export database '{tmp_path / 'all'}'",
        f"attach '{tmp_path / 'other.duckdb'}' as other",
    ):
        done = sql_cli(two_months, statement)
        assert done.returncode == 1 and "credit-score export" in done.stderr, (statement, done.stderr)
    assert list(tmp_path.iterdir()) == []


def export_cli(served, *args):
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(served)}
    return subprocess.run(
        [sys.executable, "-m", "credit_score.cli", "export", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_export_writes_a_table_or_a_query_to_csv_or_parquet(two_months, tmp_path):
    """`credit-score export`: a bare table name, a schema-qualified one and a query, to Parquet (money
    stays DECIMAL(18,2), every row as SQL reads it) and CSV (the query's rows as text); a wrong
    extension or an unknown table is refused and writes nothing."""
    parquet = tmp_path / "entitlements.parquet"
    done = export_cli(two_months, "customer_entitlements", "--out", str(parquet))
    assert done.returncode == 0, done.stderr
    expected = truth(two_months, "select * from marts.customer_entitlements order by customer_id")
    assert f"wrote {len(expected):,} rows" in done.stdout
    assert duckdb.sql(f"select * from '{parquet}' order by customer_id").fetchall() == expected
    kinds = dict(duckdb.sql(f"select column_name, column_type from (describe select * from '{parquet}')").fetchall())
    assert kinds["credit_limit_yuan"] == "DECIMAL(18,2)"
    history = tmp_path / "history.parquet"
    assert export_cli(two_months, "marts.customer_credit_score_history", "--out", str(history)).returncode == 0
    history_rows = truth(two_months, "select count(*) from marts.customer_credit_score_history")
    assert duckdb.sql(f"select count(*) from '{history}'").fetchall() == history_rows
    query = "select customer_id, avg_monthly_spend from marts.customer_credit_score where star_level = 5"
    text = tmp_path / "top.csv"
    assert export_cli(two_months, query, "--out", str(text)).returncode == 0
    rows = list(csv.reader(text.open(encoding="utf-8")))
    assert rows[0] == ["customer_id", "avg_monthly_spend"]
    assert sorted((c, a) for c, a in rows[1:]) == sorted((c, f"{a:.2f}") for c, a in truth(two_months, query))
    wrong = export_cli(two_months, "customer_entitlements", "--out", str(tmp_path / "e.xlsx"))
    assert wrong.returncode == 2 and ".csv or a .parquet" in wrong.stderr
    unknown = export_cli(two_months, "no_such_table", "--out", str(tmp_path / "n.csv"))
    assert unknown.returncode == 1 and "no table no_such_table" in unknown.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entitlements.parquet", "history.parquet", "top.csv"]


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


def sql_blocks(page: str) -> list[str]:
    from credit_score.settings import PROJECT_DIR

    return re.findall(r"^```sql\n(.*?)^```", (PROJECT_DIR / page).read_text(encoding="utf-8"), flags=re.M | re.S)


def test_the_readmes_first_queries_and_the_docs_queries_run(two_months):
    """The README's five queries, piped into `credit-score sql` as it says, each print rows; every SQL
    block of the docs runs without an error on the same warehouse."""
    (first,) = sql_blocks("README.md")
    done = sql_cli(two_months, stdin=first)
    assert done.returncode == 0, done.stdout + done.stderr
    counts = [int(n.replace(",", "")) for n in re.findall(r"^\s*([\d,]+) rows?$", done.stdout, flags=re.M)]
    assert len(counts) == 5 and all(counts), done.stdout
    for page in ("docs/analysing.md", "docs/operating.md", "docs/rules.md"):
        for block in sql_blocks(page):
            done = sql_cli(two_months, stdin=block)
            assert done.returncode == 0, f"{page}:\n{block}\n{done.stdout}{done.stderr}"
