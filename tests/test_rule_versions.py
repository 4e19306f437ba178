"""Rule versions (SPEC 8) the way an operator meets them: `credit-score rules adopt DIR --from YYYY-MM`
and `rules list` on the command line, against a warehouse with two published months.

In a copy of the project (CREDIT_SCORE_PROJECT_DIR: adopting writes the seeds), 800 generated
customers are built as of September and October under the rules as shipped. A proposal (spend bands
paying more, every star 50 points dearer) is refused from October (published) and when it breaks a
band test or holds a stray file, leaving every seed as it was; it is adopted from November. Then:
November is scored under it (`rule_version` 2026-11-01 in the mart, the history and the star changes,
every star change of November spanning the two versions), its stars are the ones the what-if on the
same data predicted before the adoption, and rebuilding September and October gives, row for row,
what was published for them.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from credit_score.generate import generate
from tests.helpers import copy_project

SEPTEMBER, OCTOBER, NOVEMBER = dt.date(2026, 9, 30), dt.date(2026, 10, 31), dt.date(2026, 11, 30)
SHIPPED, ADOPTED = "1900-01-01", "2026-11-01"
# the proposal: 120-200 yuan a month earns 175 instead of 150, over 400 earns 300 instead of 250;
# every star threshold 50 points higher
SPEND = {"120_to_200": "175", "over_400": "300"}
STAR_SHIFT = 50


def run(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CREDIT_SCORE_DUCKDB": str(root / "warehouse.duckdb"),
        "CREDIT_SCORE_PROJECT_DIR": str(root / "project"),
    }
    return subprocess.run(
        [sys.executable, "-m", "credit_score.cli", *args], env=env, capture_output=True, text=True, timeout=900
    )


def rows_of(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def write_proposal(folder: Path, project: Path, *, gap: bool = False) -> Path:
    """The shipped spend bands and star levels with the proposal's changes, in what-if's format (no effective_from)."""
    folder.mkdir(parents=True, exist_ok=True)
    header, *spend = rows_of(project / "seeds" / "spend_bands.csv")
    spend = [[*row[1:4], SPEND.get(row[1], row[4])] for row in spend]
    stars_header, *stars = rows_of(project / "seeds" / "star_levels.csv")
    moved = [[*row[1:4], *(str(int(v) + STAR_SHIFT) if v else "" for v in row[4:6])] for row in stars]
    if gap:
        moved[3][3] = str(int(moved[3][3]) + 10)  # 三星 starts 10 points above where 二星 ends
    for name, columns, rows in (("spend_bands", header[1:], spend), ("star_levels", stars_header[1:], moved)):
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([columns, *rows])
    return folder


def published(root: Path, query: str) -> list[tuple]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def history_month(root: Path, day: dt.date) -> list[tuple]:
    return sorted(published(root, f"select * from marts.customer_credit_score_history where as_of_date = '{day}'"))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("rule_versions")
    copy_project(root / "project")
    generate(800, root / "data", seed=17, as_of=NOVEMBER, progress=False)
    assert run(root, "load", str(root / "data"), "--delivered-on", "2026-12-03").returncode == 0
    for day in (SEPTEMBER, OCTOBER):
        built = run(root, "build", "--as-of", str(day))
        assert built.returncode == 0, built.stdout + built.stderr
    return root


def test_a_version_is_refused_from_a_published_month_on_a_broken_band_or_with_a_stray_file(warehouse, tmp_path):
    seeds = warehouse / "project" / "seeds"
    before = {p.name: p.read_bytes() for p in seeds.iterdir()}

    refused = run(
        warehouse, "rules", "adopt", str(write_proposal(tmp_path / "ok", warehouse / "project")), "--from", "2026-10"
    )
    assert refused.returncode == 1
    assert "2026-10 is not after the newest published as-of date, 2026-10-31" in refused.stderr
    assert "adopt it from 2026-11 or later" in refused.stderr

    broken = run(warehouse, "rules", "adopt", str(write_proposal(tmp_path / "gap", warehouse / "project", gap=True)),
                 "--from", "2026-12")  # fmt: skip
    assert broken.returncode == 1
    assert "the proposed star_levels.csv fail bands_are_contiguous_star_levels" in broken.stderr

    stray = write_proposal(tmp_path / "stray", warehouse / "project")
    (stray / "notes.txt").write_text("why we change the bands\n")
    refused = run(warehouse, "rules", "adopt", str(stray), "--from", "2026-12")
    assert refused.returncode == 1 and "notes.txt is not a rule seed" in refused.stderr

    assert {p.name: p.read_bytes() for p in seeds.iterdir()} == before, "a refused version changed a seed"
    assert "Nothing changed" in refused.stderr


def test_adopted_from_november_scores_november_as_the_whatif_predicted_and_keeps_what_was_published(
    warehouse, tmp_path
):
    project = warehouse / "project"
    proposal = write_proposal(tmp_path / "proposal", project)
    published_before = {day: history_month(warehouse, day) for day in (SEPTEMBER, OCTOBER)}
    assert {v for (v,) in published(warehouse, "select distinct rule_version from marts.customer_credit_score")} == {
        dt.date(1900, 1, 1)
    }

    # what the what-if says of November under the proposal, before anything is adopted
    whatif = run(warehouse, "whatif", "--rules", str(proposal), "--as-of", str(NOVEMBER), "--out", str(tmp_path / "w"))
    assert whatif.returncode == 0, whatif.stdout + whatif.stderr
    with (tmp_path / "w" / "migration.csv").open(encoding="utf-8") as f:
        matrix = [
            (r["current_star_level"], int(r["proposed_star_level"]), int(r["customers"])) for r in csv.DictReader(f)
        ]
    predicted = Counter()
    for _, proposed, customers in matrix:
        predicted[proposed] += customers
    assert any(str(proposed) != current and customers for current, proposed, customers in matrix), "no star moves"

    adopted = run(warehouse, "rules", "adopt", str(proposal), "--from", "2026-11", "--note", "dearer stars")
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    listed = run(warehouse, "rules", "list").stdout
    assert "2026-11-01  dearer stars" in listed
    assert "spend_bands.csv - 120_to_200,120.00,200.00,150" in listed
    assert "spend_bands.csv + 120_to_200,120.00,200.00,175" in listed
    assert "tenure_bands" not in listed.split("2026-11-01")[1], "an unchanged seed is listed as changed"

    built = run(warehouse, "build", "--as-of", str(NOVEMBER))
    assert built.returncode == 0, built.stdout + built.stderr
    stars = Counter(level for (level,) in published(warehouse, "select star_level from marts.customer_credit_score"))
    assert stars == predicted, "November's stars are not what the what-if predicted for the adopted rules"
    assert published(warehouse, "select distinct as_of_date, rule_version from marts.customer_credit_score") == [
        (NOVEMBER, dt.date(2026, 11, 1))
    ]
    versions = published(
        warehouse,
        "select as_of_date, rule_version, count(*) from marts.customer_credit_score_history group by all order by 1",
    )
    assert [(d, str(v)) for d, v, _ in versions] == [(SEPTEMBER, SHIPPED), (OCTOBER, SHIPPED), (NOVEMBER, ADOPTED)]
    spans = published(
        warehouse,
        "select previous_rule_version, rule_version, count(*) from marts.customer_star_changes "
        f"where as_of_date = '{NOVEMBER}' group by all",
    )
    assert [(str(a), str(b)) for a, b, _ in spans] == [(SHIPPED, ADOPTED)]

    # explain: each date with the rule rows of its own version, and nothing changed since publication
    (customer,) = published(warehouse, "select min(customer_id) from marts.customer_credit_score")[0]
    for day, version in ((OCTOBER, SHIPPED), (NOVEMBER, ADOPTED)):
        shown = run(warehouse, "explain", customer, "--as-of", str(day), "--json")
        assert shown.returncode == 0, shown.stdout + shown.stderr
        found = json.loads(shown.stdout)
        assert found["rule_version"] == version and found["changed_since_published"] == [], (day, found)
        assert found["parts"]["spend"]["rule"]["rule_version"] == version
        assert found["parts"]["tenure"]["rule"]["rule_version"] == SHIPPED  # tenure kept its only version

    # an earlier published date rebuilt: what was published for it, row for row
    for day in (SEPTEMBER, OCTOBER):
        rebuilt = run(warehouse, "build", "--as-of", str(day))
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        assert history_month(warehouse, day) == published_before[day], f"{day} changed when rebuilt"
    # and BI still reads November, under the adopted rules
    assert published(warehouse, "select distinct rule_version from marts.customer_credit_score") == [
        (dt.date(2026, 11, 1),)
    ]
    shutil.rmtree(tmp_path / "w", ignore_errors=True)
