"""The README and docs/ say what is true of the project, where a test can check it: every link lands
on a file and a heading that exist, every `credit-score` command named is one the CLI has, and the
mart's columns listed are its contract's. (The model table is checked against dbt's manifest in
test_conventions.py; the README's queries run on a built warehouse in test_sql.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from credit_score.contract import contract_columns
from credit_score.settings import PROJECT_DIR

PAGES = [PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def prose(text: str) -> str:
    """The text outside fenced code blocks."""
    return "\n".join(part for i, part in enumerate(re.split(r"^```.*$", text, flags=re.M)) if i % 2 == 0)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {anchor(h) for h in re.findall(r"^#+ (.+)$", prose(page.read_text(encoding="utf-8")), flags=re.M)}


def test_the_readme_is_short_and_top_down():
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", prose(readme), flags=re.M)
    assert headings == ["The two commands", "An analyst's first five queries", "An operator's month", "Read on"]
    assert readme.count("\n") < 200
    # every page of docs/ written by hand is linked from the README
    linked = {Path(target).name for target in LINK.findall(readme) if target.startswith("docs/")}
    hand_written = {p.name for p in PAGES[1:] if not p.name.startswith("benchmarks")}
    assert hand_written <= linked, hand_written - linked


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_lands_on_a_file_and_a_heading(page):
    broken = []
    for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not this test's business
        path, _, fragment = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif fragment and destination.suffix == ".md" and fragment not in anchors(destination):
            broken.append(f"{target}: no such heading")
    assert not broken, broken


def test_every_command_named_is_one_the_cli_has():
    from credit_score.cli import parser

    (commands,) = [a.choices for a in parser()._subparsers._group_actions]  # noqa: SLF001
    named = {
        word for page in PAGES for word in re.findall(r"credit-score ([a-z]+)\b", page.read_text(encoding="utf-8"))
    }
    assert named and named <= set(commands), named - set(commands)


def test_the_marts_columns_are_listed_as_its_contract_has_them():
    text = (PROJECT_DIR / "docs" / "analysing.md").read_text(encoding="utf-8")
    (listed,) = re.findall(r"Columns \([^)]*\): (`[^`]+`(?:,\s+`?[^`]+`)*)", text) or [None]
    assert listed, "docs/analysing.md lists the mart's columns"
    columns = re.sub(r"[`\s]", "", listed).split(",")
    assert columns == contract_columns()
    development = (PROJECT_DIR / "docs" / "development.md").read_text(encoding="utf-8")
    assert f"each of the mart's {len(contract_columns())} columns" in development
