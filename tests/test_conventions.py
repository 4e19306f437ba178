"""The house's conventions, checked the way the dbt world checks them: dbt-bouncer with the committed
dbt-bouncer.yml, and dbt-score (gold: every model, seed, source and macro scores 10) with its
settings in pyproject.toml.  Both read the manifest of `dbt parse`; neither opens a database.  Each
is also shown to fail on a project that breaks a convention, so that a green result means something."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from credit_score.settings import PROJECT_DIR
from tests.helpers import copy_project

BIN = Path(sys.executable).parent


def parsed_copy(destination: Path, extra_model: str | None = None) -> Path:
    """A copy of the project (optionally with one more model) and its manifest in target/."""
    copy_project(destination, "dbt-bouncer.yml", "pyproject.toml")
    if extra_model:
        (destination / "models" / "marts" / "customer_star_counts.sql").write_text(extra_model, encoding="utf-8")
    parse = subprocess.run(
        [BIN / "dbt", "parse", "--profiles-dir", "profiles", "--target-path", "target"],
        cwd=destination,
        capture_output=True,
        text=True,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    assert parse.returncode == 0, parse.stdout + parse.stderr
    assert (destination / "target" / "manifest.json").exists()
    return destination


def bouncer(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BIN / "dbt-bouncer", "run", "--config-file", "dbt-bouncer.yml", "--show-all-failures"],
        cwd=project,
        capture_output=True,
        text=True,
    )


def score(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BIN / "dbt-score", "lint", "--manifest", "target/manifest.json", "--show", "failing-items"],
        cwd=project,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return parsed_copy(tmp_path_factory.mktemp("conventions") / "project")


# a model with no properties file, no description, no test, and a table named instead of ref()'d
UNDOCUMENTED_MODEL = "select star_level, count(*) as customers from marts.customer_credit_score group by 1\n"


@pytest.fixture(scope="module")
def broken_project(tmp_path_factory) -> Path:
    return parsed_copy(tmp_path_factory.mktemp("conventions") / "broken", extra_model=UNDOCUMENTED_MODEL)


def test_dbt_bouncer_passes(project):
    result = bouncer(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed" in result.stdout


def test_dbt_bouncer_names_what_a_bad_model_breaks(broken_project):
    result = bouncer(broken_project)
    assert result.returncode != 0
    for check in (
        "check_model_description_populated:",
        "check_model_has_properties_file:",
        "check_model_has_unique_test:",
        "check_model_hard_coded_references:",
    ):
        assert f"{check}" in result.stdout and "customer_star_counts" in result.stdout, check


def test_dbt_score_is_gold(project):
    settings = yaml.safe_load((PROJECT_DIR / "dbt-bouncer.yml").read_text(encoding="utf-8"))
    assert settings["manifest_checks"], "dbt-bouncer.yml lists its checks"
    result = score(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Project score: 10.0" in result.stdout.replace("\x1b[1m", "").replace("\x1b[0m", "")


def test_dbt_score_fails_a_model_without_description_or_tests(broken_project):
    result = score(broken_project)
    assert result.returncode != 0
    assert "customer_star_counts" in result.stdout
    assert "has_description" in result.stdout


def test_the_docs_model_table_is_the_manifests(project):
    """docs/development.md's table of models: every model, its materialization and what it reads, as
    dbt's manifest has them; and the number of unit tests the test list states."""
    import json
    import re

    manifest = json.loads((project / "target" / "manifest.json").read_text(encoding="utf-8"))
    names = {uid: uid.split(".")[-1] for uid in manifest["nodes"]} | {
        uid: f"raw.{s['name']}" for uid, s in manifest["sources"].items()
    }
    actual = {
        node["name"]: (node["config"]["materialized"], {names[d] for d in node["depends_on"]["nodes"]})
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == "credit_score"
    }
    development = (PROJECT_DIR / "docs" / "development.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \|([^|]*)\|", development, flags=re.M)
    documented = {name: (materialized, {r.strip() for r in reads.split(",") if r.strip()})
                  for name, materialized, reads in rows}  # fmt: skip
    assert documented == actual
    (stated,) = re.findall(r"(\d+) dbt \*\*unit tests\*\*", development)
    assert int(stated) == len(manifest["unit_tests"])


def test_the_published_names_gate_is_the_published_models(project):
    """dbt-bouncer.yml's list of published names (a new mart must be named there on purpose) holds
    exactly the models built into the schemas BI reads, which Dagster's publishing asset waits for."""
    import json
    import re

    from credit_score.settings import PUBLISHED_SCHEMAS

    manifest = json.loads((project / "target" / "manifest.json").read_text(encoding="utf-8"))
    published = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("schema") in PUBLISHED_SCHEMAS
    }
    settings = yaml.safe_load((PROJECT_DIR / "dbt-bouncer.yml").read_text(encoding="utf-8"))
    (gate,) = [c for c in settings["manifest_checks"] if c.get("include") == "^models/(marts|audit)"]
    pattern = re.compile(gate["model_name_pattern"])
    assert all(pattern.match(name) for name in published)
    named = set(
        re.findall(r"[a-z_]+", gate["model_name_pattern"].replace("(_history)?", "|customer_credit_score_history"))
    )
    assert named == published


SOURCE = PROJECT_DIR / "src" / "credit_score"


def test_no_function_over_60_lines_without_its_reason():
    """A function over 60 lines says why in its docstring (`Long: ...`); the rest are split."""
    import ast

    unexplained = []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            long = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 60
            if long and "Long: " not in (ast.get_docstring(node) or ""):
                unexplained.append(f"{path.relative_to(SOURCE)}:{node.lineno} {node.name}")
    assert not unexplained, unexplained


def test_no_engine_branches_outside_the_engines():
    """Per-engine code lives in credit_score/engines/ (the benchmark measures engines by name): no
    module elsewhere imports one engine's module or compares a target with an engine's name."""
    import re

    branch = re.compile(
        r"""[=!]=\s*["'](duckdb|postgres|spark)["']|from credit_score\.engines\.(duckdb|postgres|spark)\b"""
    )
    found = [
        f"{path.relative_to(SOURCE)}:{number}: {line.strip()}"
        for path in sorted(SOURCE.rglob("*.py"))
        if path.parent.name not in ("engines", "bench")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if branch.search(line)
    ]
    assert not found, found


def test_the_scoring_reads_the_rule_seeds_only_as_in_force_on_d():
    """SPEC 8: a model or test that reads a rule seed reads the version in force on D (rules_in_force);
    a plain ref would read every version at once. The exceptions say why: macros/rules.sql (which reads
    every version on purpose: rules_in_force, rule_seed_versions), and validation, where a brand code of
    any version is a known code. The two lists of rule seeds (SQL and Python) are one list."""
    import re

    from credit_score.rules import RULE_SEEDS

    macros = (PROJECT_DIR / "macros" / "rules.sql").read_text(encoding="utf-8")
    assert tuple(re.findall(r"'(\w+)'", macros.split("macro rule_seeds")[1])) == RULE_SEEDS
    allowed = {
        "int_subscriptions_validated.sql": {"brand_codes"},
    }
    plain = re.compile(r"ref\(\s*'(" + "|".join(RULE_SEEDS) + r")'\s*\)")
    found = []
    for folder in ("models", "data-tests", "macros"):
        for path in sorted((PROJECT_DIR / folder).rglob("*.sql")):
            if path.name == "rules.sql":
                continue
            for seed in plain.findall(path.read_text(encoding="utf-8")):
                if seed not in allowed.get(path.name, set()):
                    found.append(f"{path.relative_to(PROJECT_DIR)} reads {seed} whole: use rules_in_force('{seed}')")
    assert not found, found
