"""`credit-score whatif` the way an operator runs it (the command line, on a built warehouse): the
migration matrix of proposed rules equals what the published scores and SPEC's arithmetic say, the
heatmap is drawn, what BI reads is untouched, and proposed rules that break a band test are refused
naming the seed and the test."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

from credit_score.generate import generate
from credit_score.settings import PROJECT_DIR
from tests.conftest import MONTH_END
from tests.helpers import load_and_build, read_mart, read_published

# proposed: 全球通 earns 200 points instead of 50 (its customers rise), every star threshold 50 more (the others fall)
BRANDS = {"全球通": 200, "动感地带": 30, "神州行": 20}
THRESHOLDS = {1: 150, 2: 250, 3: 350, 4: 450, 5: 550}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("whatif")
    generate(1500, root / "data", seed=31, as_of=MONTH_END, progress=False)
    database = root / "warehouse.duckdb"
    assert load_and_build(root / "data", database, MONTH_END).ok
    return root, database


def whatif(database, *args):
    env = {**os.environ, "CREDIT_SCORE_DUCKDB": str(database)}
    command = [sys.executable, "-m", "credit_score.cli", "whatif", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)


def write_seed(folder, name, rows):
    folder.mkdir(parents=True, exist_ok=True)
    with (PROJECT_DIR / "seeds" / f"{name}.csv").open(newline="", encoding="utf-8") as f:
        columns = [c for c in next(csv.reader(f)) if c != "effective_from"]  # one version's rows (what-if's format)
    with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(rows)


def proposal(folder, *, gap: bool = False):
    labels = {0: ("准星", "Quasi-star"), 1: ("一星", "One star"), 2: ("二星", "Two stars"), 3: ("三星", "Three stars"),
              4: ("四星", "Four stars"), 5: ("五星", "Five stars")}  # fmt: skip
    bounds = [None, *THRESHOLDS.values(), None]
    rows = []
    for level in range(6):
        low, high = bounds[level], bounds[level + 1]
        if gap and level == 3:
            low += 10  # 350-360 belongs to no star
        rows.append([level, *labels[level], "" if low is None else low, "" if high is None else high])
    write_seed(folder, "star_levels", rows)
    with (PROJECT_DIR / "seeds" / "brands.csv").open(newline="", encoding="utf-8") as f:
        brands = list(csv.DictReader(f))
    rows = [[b["brand_key"], b["brand_name"], b["brand_name_en"], BRANDS[b["brand_name"]]] for b in brands]
    write_seed(folder, "brands", rows)
    return folder


def expected_matrix(mart) -> dict[tuple[str, str], int]:
    """From the published scores: the proposed score swaps the brand's points; the proposed star is
    the highest whose threshold the score reaches."""
    matrix = {(str(c), str(p)): 0 for c in range(6) for p in range(6)}
    for row in mart.values():
        score = int(row["credit_score"]) - int(row["brand_points"]) + BRANDS[row["brand_name"]]
        proposed = max([0, *(level for level, low in THRESHOLDS.items() if score >= low)])
        matrix[row["star_level"], str(proposed)] += 1
    return matrix


def test_whatif_gives_the_migration_matrix_and_leaves_what_bi_reads(warehouse):
    root, database = warehouse
    before = read_published(database=database)
    stat = os.stat(database)
    out = root / "out"
    result = whatif(database, "--rules", str(proposal(root / "rules")), "--out", str(out))
    assert result.returncode == 0, result.stderr
    with (out / "migration.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    written = {(r["current_star_level"], r["proposed_star_level"]): int(r["customers"]) for r in rows}
    mart = read_mart(database)
    wanted = expected_matrix(mart)
    assert written == wanted
    changed = sum(n for (c, p), n in wanted.items() if c != p)
    assert changed > 100 and sum(n for (c, p), n in wanted.items() if int(p) > int(c)) > 0, "ups and downs"
    assert f"{changed:,} of {len(mart):,} customers would change star" in result.stdout
    assert (out / "migration.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # what it wrote is the matrix and its picture, readable by the readers' group; no scratch left
    assert sorted(p.name for p in out.iterdir()) == ["migration.csv", "migration.png"]
    assert {oct(p.stat().st_mode & 0o777) for p in out.iterdir()} == {oct(0o640)}
    assert read_published(database=database) == before
    after = os.stat(database)
    assert (after.st_ino, after.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns), "the served file was not rewritten"


def test_rules_that_break_a_band_test_are_refused_naming_the_seed_and_the_test(warehouse):
    root, database = warehouse
    result = whatif(database, "--rules", str(proposal(root / "gap", gap=True)), "--out", str(root / "refused"))
    assert result.returncode == 1
    assert "the proposed star_levels.csv fail bands_are_contiguous_star_levels" in result.stderr, result.stderr
    assert not (root / "refused" / "migration.csv").exists()
    odd = root / "odd"
    write_seed(odd, "star_levels", [])
    (odd / "bands.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    result = whatif(database, "--rules", str(odd))
    assert result.returncode == 1 and "bands.csv is not a rule seed" in result.stderr
