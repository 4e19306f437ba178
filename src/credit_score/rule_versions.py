"""`credit-score rules adopt DIR --from YYYY-MM [--note TEXT]` and `credit-score rules list` (SPEC 8).

A rule version is the rows a proposal (what-if's format: replacement CSVs for any of the rule seeds)
gives those seeds, in force from the first day of a month.  Adopting appends them to the seeds, each row
under `effective_from`, and registers the version in seeds/rule_versions.csv with its note; a build of D
then reads, of every rule seed, its latest version on or before D (macros/rules.sql), and the scores
carry that date as `rule_version`.  A version is never adopted from a month on or before the newest
published as-of date: what was published stays reproducible.  The seeds' own tests (no gap, no
overlap, points that never decrease, one row per star...) run on the seeds as they would be before
anything is written; a proposal that breaks one is refused naming the seed and the test.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from credit_score import console
from credit_score.dbt import run_dbt
from credit_score.rules import RULE_SEEDS, versions
from credit_score.settings import PROJECT_DIR

REGISTER = "rule_versions"  # seeds/rule_versions.csv: effective_from, note
# what the seed tests need of the project (the whole project parses: the tests' macros live beside it)
PROJECT_PARTS = ("dbt_project.yml", "models", "macros", "data-tests", "seeds", "profiles")


class RulesRefused(Exception):
    """A proposal that cannot be adopted (or read); nothing was changed."""


@dataclass(frozen=True)
class Proposal:
    """A rule seed's replacement rows: its columns (without effective_from) and its rows, as text."""

    seed: str
    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Version:
    effective_from: dt.date
    note: str
    rows: dict[str, int]  # seed -> its rows in this version (the seeds it gives a version of)
    changes: dict[str, tuple[list[list[str]], list[list[str]]]]  # seed -> (rows removed, rows added), vs the one before


def read_proposal(rules: Path, *, strict: bool, seeds: Path = PROJECT_DIR / "seeds") -> dict[str, Proposal]:
    """The replacement seeds in the folder rules, each a rule seed's columns (a copy of the seed with
    its effective_from is read too, when it holds one version).  strict: any other file is refused (a
    stray file in what is adopted); else files that are not CSV are passed over (the what-if's)."""
    if not rules.is_dir():
        raise RulesRefused(f"{rules}: no such folder (it holds replacement CSVs named like the seeds)")
    proposed = {}
    for file in sorted(rules.iterdir()):
        if file.suffix != ".csv" and not strict:
            continue
        if file.suffix != ".csv" or file.stem not in RULE_SEEDS:
            raise RulesRefused(f"{file.name} is not a rule seed; the rule seeds are {', '.join(RULE_SEEDS)} (.csv)")
        proposed[file.stem] = _proposal(file, seeds)
    if not proposed:
        raise RulesRefused(f"{rules} holds no replacement seed (CSV files named {', '.join(RULE_SEEDS)})")
    return proposed


def _proposal(file: Path, seeds: Path) -> Proposal:
    expected = [c for c in _csv(seeds / file.name)[0] if c != "effective_from"]
    header, *rows = _csv(file)
    rows = [row for row in rows if row]
    if header and header[0] == "effective_from":
        if len({row[0] for row in rows}) > 1:
            raise RulesRefused(f"{file.name} holds several versions (effective_from): keep one version's rows")
        header, rows = header[1:], [row[1:] for row in rows]
    if header != expected:
        raise RulesRefused(f"{file.name}: the columns must be the seed's, {','.join(expected)}")
    if not rows:
        raise RulesRefused(f"{file.name} holds no rows")
    return Proposal(file.stem, header, rows)


def _csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


def list_versions(seeds: Path = PROJECT_DIR / "seeds") -> list[Version]:
    """Every registered version, oldest first, with what it changed in each rule seed against the
    version of that seed in force the day before."""
    registered = {dt.date.fromisoformat(row[0]): row[1] for row in _csv(seeds / f"{REGISTER}.csv")[1:] if row}
    held = {seed: versions(seeds, seed) for seed in RULE_SEEDS}
    listed = []
    for first_day, note in sorted(registered.items()):
        rows, changes = {}, {}
        for seed, by_version in held.items():
            if first_day not in by_version:
                continue
            rows[seed] = len(by_version[first_day])
            earlier = [rows for v, rows in by_version.items() if v < first_day]
            if earlier:
                before = {tuple(r.values()) for r in earlier[-1]}
                after = {tuple(r.values()) for r in by_version[first_day]}
                changes[seed] = (sorted(map(list, before - after)), sorted(map(list, after - before)))
        listed.append(Version(first_day, note, rows, changes))
    return listed


def adopt(
    rules: Path, first_day: dt.date, note: str, newest_published: dt.date | None, seeds: Path = PROJECT_DIR / "seeds"
) -> Version:
    """Add the proposal in rules as the version in force from first_day (the first of a month)."""
    if first_day.day != 1:
        raise RulesRefused(f"a version is in force from the first day of a month, not {first_day}")
    proposal = read_proposal(rules, strict=True, seeds=seeds)
    if newest_published is not None and first_day <= newest_published:
        month = f"{first_day:%Y-%m}"
        raise RulesRefused(
            f"{month} is not after the newest published as-of date, {newest_published}: a version never rewrites "
            f"what was published; adopt it from {_next_month(newest_published):%Y-%m} or later"
        )
    if any(v.effective_from == first_day for v in list_versions(seeds)):
        raise RulesRefused(f"a version from {first_day:%Y-%m} is adopted already (`credit-score rules list`)")
    changed = {seed: p for seed, p in proposal.items() if not _same_as_in_force(p, seeds, first_day)}
    if not changed:
        raise RulesRefused(f"the proposal is the rules in force on {first_day} already: nothing to adopt")
    with tempfile.TemporaryDirectory(prefix="credit-score-rules-") as scratch:
        project = Path(scratch) / "project"
        copy_project(project)
        _write_version(project / "seeds", changed, first_day, note)
        _check_seed_tests(project, Path(scratch) / "check.duckdb", changed)
    _write_version(seeds, changed, first_day, note)
    return next(v for v in list_versions(seeds) if v.effective_from == first_day)


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _same_as_in_force(proposal: Proposal, seeds: Path, first_day: dt.date) -> bool:
    held = [rows for v, rows in versions(seeds, proposal.seed).items() if v <= first_day]
    return bool(held) and sorted(list(r.values()) for r in held[-1]) == sorted(proposal.rows)


def copy_project(project: Path) -> None:
    """The dbt project copied to project (the what-if and the seed tests change its seeds there)."""
    project.mkdir(parents=True)
    for part in PROJECT_PARTS:
        source = PROJECT_DIR / part
        if source.is_dir():
            shutil.copytree(source, project / part)
        else:
            shutil.copy2(source, project / part)


def _write_version(seeds: Path, changed: dict[str, Proposal], first_day: dt.date, note: str) -> None:
    """Append each changed seed's rows under first_day, then register the version (last: a version
    registered has all its rows)."""
    for seed, proposal in changed.items():
        _append(seeds / f"{seed}.csv", [[first_day.isoformat(), *row] for row in proposal.rows])
    _append(seeds / f"{REGISTER}.csv", [[first_day.isoformat(), note]])


def _append(path: Path, rows: list[list[str]]) -> None:
    text = path.read_text(encoding="utf-8")
    with path.open("a", newline="", encoding="utf-8") as f:
        if text and not text.endswith("\n"):
            f.write("\n")
        csv.writer(f, lineterminator="\n").writerows(rows)


def _check_seed_tests(project: Path, database: Path, changed: dict[str, Proposal]) -> None:
    """Load the seeds of the project copy into a scratch file and run their tests (only tests whose
    every parent is a seed): a test that fails refuses the version, naming the seed and the test."""
    timer = console.Timer()
    with console.bar("checking the rule seeds' tests") as progress:
        outcome = run_dbt(
            ["build", "--select", "resource_type:seed", "--indirect-selection", "cautious"],
            target="duckdb",
            project_dir=project,
            env={"CREDIT_SCORE_DUCKDB_WORK": str(database), "DBT_TARGET_PATH": str(database.with_suffix(".dbt"))},
            progress=progress,
        )
    broken = what_failed(outcome, changed)
    if broken:
        raise RulesRefused(f"the proposed rules are refused: {broken}")
    console.done("the rule seeds' tests passed with the new version", timer.seconds)


def what_failed(outcome, proposed) -> str | None:
    """What a dbt run over proposed seeds failed, each test named with the proposed seed it tests
    ("the proposed star_levels.csv fail bands_are_contiguous_... (message)"); None when nothing did."""
    failed = outcome.with_status("fail", "error", "runtime error")
    if not failed and outcome.success:
        return None
    broken = []
    for result in failed:
        seeds = ", ".join(f"{s}.csv" for s in proposed if s in result.unique_id or s in result.name)
        broken.append(f"{'the proposed ' + seeds if seeds else 'the rules'} fail {result.name} ({result.message})")
    return "; ".join(broken) if broken else str(outcome.error)
