"""`credit-score whatif`: what proposed rule seeds would do to the stars, before anyone changes a band.

The loaded data is scored twice for the as-of date - under the current seeds (the version in force on
that date, SPEC 8) and under the proposed ones (the project copied with the replacement CSVs, as the
only version) - by the scoring models alone: the rule seeds and the models between them and the mart.
Each run writes its own DuckDB file under OUT; everything else the scoring reads (the validated
deliveries, the customers in scope, the monthly spend) comes from the work file, opened read-only (dbt
`--defer` to the last build's manifest).  What BI reads is never touched, and the warehouse lock keeps a
build from writing the work file meanwhile.

The proposed seeds' own tests (no gap, no overlap, points that never decrease, one row per star...)
run first in the proposed build: rules that break one are refused, naming the seed and the test.
The result: the migration matrix (current star x proposed star, customers), printed, written as
OUT/migration.csv and drawn as a heatmap, OUT/migration.png.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from credit_score import console, privacy
from credit_score.dbt import run_dbt
from credit_score.rule_versions import Proposal, RulesRefused, copy_project, read_proposal, what_failed
from credit_score.rules import RULE_SEEDS, SHIPPED_VERSION
from credit_score.settings import PROJECT_DIR


class WhatIfRefused(Exception):
    """The proposed rules cannot be scored (a wrong file, or a seed test that fails); nothing was changed."""


@dataclass
class WhatIf:
    as_of: dt.date
    # {(current star, proposed star): customers}, every pair of the two star seeds' levels
    matrix: dict[tuple[int | None, int | None], int]
    labels: dict[int, tuple[str, str]]  # star level -> the current seed's labels (Chinese, English)
    proposed_labels: dict[int, tuple[str, str]]
    out: Path

    @property
    def customers(self) -> int:
        return sum(self.matrix.values())

    @property
    def changed(self) -> int:
        return sum(n for (current, proposed), n in self.matrix.items() if current != proposed)


def _as_only_version(proposal: Proposal, seed: Path) -> None:
    """The proposed rows as the seed's one version, in force on every date: the what-if compares them
    with the version of the current rules in force on its date (the other seeds keep theirs)."""
    with seed.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["effective_from", *proposal.columns])
        writer.writerows([SHIPPED_VERSION.isoformat(), *row] for row in proposal.rows)


def run_whatif(engine, rules: Path, as_of: dt.date, out: Path) -> WhatIf:
    """Score the loaded data at as_of under the current and the proposed rules (engine: DuckDB)."""
    try:
        proposed = read_proposal(rules, strict=False)
    except RulesRefused as e:
        raise WhatIfRefused(str(e)) from None
    manifest_dir = engine.dbt_dir / "target"
    if not engine.work.exists() or not (manifest_dir / "manifest.json").exists():
        raise WhatIfRefused("nothing has been built yet: run `credit-score build` first (the what-if reads its work)")
    out.mkdir(parents=True, exist_ok=True)
    # the project copy, the two scored files and dbt's folders (tens of MB): removed once compared
    scratch = out / ".whatif-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    project = scratch / "project"
    try:
        with privacy.private_files():
            copy_project(project)
            for seed, proposal in proposed.items():
                _as_only_version(proposal, project / "seeds" / f"{seed}.csv")
        with privacy.private_files(), engine.lock():
            for name, project_dir in (("proposed", project), ("current", PROJECT_DIR)):
                seeds = proposed if name == "proposed" else {}
                _score(engine, project_dir, manifest_dir, scratch / f"{name}.duckdb", as_of, seeds)
        result = _compare(scratch, as_of)
        result.out = out
        write_outputs(result)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    # the matrix holds counts only: readable by the readers' group, like what BI reads (privacy.py)
    privacy.share_with_readers(out, out / "migration.csv", out / "migration.png")
    return result


def _score(engine, project_dir: Path, manifest_dir: Path, file: Path, as_of: dt.date, proposed: dict) -> None:
    file.unlink(missing_ok=True)
    selection = [f"{seed}+,+customer_credit_score" for seed in RULE_SEEDS]
    rules = "proposed" if proposed else "current"
    timer = console.Timer()
    with console.bar(f"scoring under the {rules} rules") as progress:
        outcome = _run(engine, project_dir, manifest_dir, file, as_of, selection, progress)
    broken = what_failed(outcome, proposed)
    if broken:
        what = "the proposed rules are refused" if proposed else "the current rules could not be scored (see dbt's log)"
        raise WhatIfRefused(f"{what}: {broken}")
    console.done(f"scored as of {as_of} under the {rules} rules", timer.seconds)


def _run(engine, project_dir, manifest_dir, file, as_of, selection, progress):
    return run_dbt(
        [
            "build",
            "--select",
            *selection,
            "--exclude",
            "test_type:unit",
            "--indirect-selection",
            "cautious",
            "--defer",
            "--state",
            str(manifest_dir),
        ],  # fmt: skip
        target="whatif",
        project_dir=project_dir,
        env={
            "CREDIT_SCORE_DUCKDB_WORK": str(engine.work),
            "CREDIT_SCORE_WHATIF_FILE": str(file),
            "CREDIT_SCORE_AS_OF_DATE": as_of.isoformat(),
            # nothing to compare the population with: a what-if publishes nothing, and its population
            # is the built one (and none leaks in from the caller's environment)
            "CREDIT_SCORE_PUBLISHED_POPULATIONS": "{}",
            "DBT_TARGET_PATH": str(file.with_suffix(".dbt") / "target"),
        },
        progress=progress,
    )


def _compare(out: Path, as_of: dt.date) -> WhatIf:
    con = duckdb.connect()
    try:
        con.execute(f"attach '{out / 'current.duckdb'}' as current_rules (read_only)")
        con.execute(f"attach '{out / 'proposed.duckdb'}' as proposed_rules (read_only)")
        labels, proposed_labels = (
            {level: (label, label_en) for level, label, label_en in con.execute(
                f"select star_level, star_label, star_label_en from {rules}.seeds.star_levels"
            ).fetchall()}
            for rules in ("current_rules", "proposed_rules")
        )  # fmt: skip
        counted = con.execute(
            """
            select c.star_level, p.star_level, count(*)
            from current_rules.marts.customer_credit_score as c
            full join proposed_rules.marts.customer_credit_score as p on c.customer_id = p.customer_id
            group by all
            """
        ).fetchall()
    finally:
        con.close()
    matrix: dict[tuple[int | None, int | None], int] = {
        (current, proposed): 0 for current in sorted(labels) for proposed in sorted(proposed_labels)
    }
    for current, proposed, customers in counted:
        matrix[current, proposed] = customers
    return WhatIf(as_of, matrix, labels, proposed_labels, out)


def write_outputs(result: WhatIf) -> None:
    """OUT/migration.csv and the heatmap OUT/migration.png."""
    with (result.out / "migration.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["current_star_level", "proposed_star_level", "customers"])
        for (current, proposed), customers in sorted(result.matrix.items(), key=lambda kv: _order(kv[0])):
            writer.writerow(["" if current is None else current, "" if proposed is None else proposed, customers])
    draw_heatmap(result, result.out / "migration.png")


def _order(pair: tuple[int | None, int | None]) -> tuple:
    return tuple(-1 if level is None else level for level in pair)


def draw_heatmap(result: WhatIf, path: Path) -> None:
    from credit_score.charts import cjk_font, pyplot

    plt = pyplot()
    # the star labels in Chinese with a CJK font (Debian: fonts-noto-cjk), else the seed's English ones
    language = 0 if cjk_font() else 1
    current = sorted(result.labels)
    proposed = sorted(result.proposed_labels)
    grid = [[result.matrix.get((c, p), 0) for p in proposed] for c in current]
    figure, axes = plt.subplots(figsize=(7.5, 6))
    image = axes.imshow(grid, cmap="Blues")
    axes.set_xticks(range(len(proposed)), [result.proposed_labels[p][language] for p in proposed])
    axes.set_yticks(range(len(current)), [result.labels[c][language] for c in current])
    axes.set_xlabel("proposed rules: star")
    axes.set_ylabel("current rules: star")
    axes.set_title(f"What-if as of {result.as_of}: {result.changed:,} of {result.customers:,} customers change star")
    top = max((n for row in grid for n in row), default=0)
    for i, row in enumerate(grid):
        for j, customers in enumerate(row):
            colour = "white" if top and customers > top / 2 else "black"
            axes.text(j, i, f"{customers:,}", ha="center", va="center", color=colour, fontsize=9)
    figure.colorbar(image, ax=axes, label="customers")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def print_whatif(result: WhatIf) -> None:
    from rich import box
    from rich.table import Table

    proposed = sorted(result.proposed_labels)
    table = Table(
        title=f"what-if as of {result.as_of}: current star (rows) x proposed star (columns), customers",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        pad_edge=False,
    )
    table.add_column("")
    for p in proposed:
        table.add_column(result.proposed_labels[p][0], justify="right")
    for c in sorted(result.labels):
        cells = []
        for p in proposed:
            n = result.matrix.get((c, p), 0)
            cells.append(f"[red]{n:,}[/]" if n and p < c else f"[green]{n:,}[/]" if n and p > c else f"{n:,}")
        table.add_row(result.labels[c][0], *cells)
    console.out.print(table)
    console.note(f"{result.changed:,} of {result.customers:,} customers would change star")
    console.note(f"wrote {result.out / 'migration.csv'} and {result.out / 'migration.png'}")
