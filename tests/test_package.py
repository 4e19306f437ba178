"""The product as a scheduler's image meets it (issue 27): a wheel built from the checkout carries the
dbt project, so `pip install` of it into a new virtual environment runs `credit-score demo` from any
folder; the base install is DuckDB's, and a command that needs an extra not installed says which.

The new environment gets the wheel alone (--no-deps); its dependencies come from the test's own
environment through a path file, so the test needs no download beyond the wheel's build backend."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from credit_score import settings
from credit_score.settings import PROJECT_DIR, MissingExtra

CHECKOUT = Path(__file__).resolve().parents[1]


def test_a_wheel_installed_anywhere_runs_the_demo(tmp_path):
    wheels = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
         str(CHECKOUT), "-w", str(wheels)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = wheels.glob("credit_score-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packaged = (
        "dbt_project.yml",
        "profiles/profiles.yml",
        "models/marts/customer_credit_score.sql",
        "seeds/star_levels.csv",
        "macros/as_of_date.sql",
        "data-tests/marts/assert_history_month_equals_mart.sql",
    )
    for part in packaged:
        assert f"credit_score/project/{part}" in names, part
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--disable-pip-version-check",
         "--target", str(purelib), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-2000:]
    (purelib / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    somewhere = tmp_path / "somewhere"
    somewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_SCORE_")}
    env["PYTHONPATH"] = ""
    where = subprocess.run(
        [str(python), "-c", "import credit_score.settings as s; print(s.PROJECT_DIR)"],
        capture_output=True, text=True, cwd=somewhere, env=env, check=True,
    )  # fmt: skip
    assert where.stdout.strip() == str(purelib / "credit_score" / "project")
    demo = subprocess.run(
        [str(python), "-m", "credit_score.cli", "demo", "--customers", "1500"],
        capture_output=True, text=True, cwd=somewhere, env=env, timeout=900,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "customers scored:" in demo.stdout
    assert (somewhere / "warehouse" / "credit_score.duckdb").is_file()


def test_the_base_install_is_duckdbs_and_each_engine_is_an_extra():
    project = tomllib.loads((CHECKOUT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = " ".join(project["dependencies"])
    for package in ("psycopg2", "dbt-postgres", "pyspark", "dbt-spark", "dagster", "metricflow"):
        assert package not in base, package
    extras = project["optional-dependencies"]
    assert any(p.startswith("dbt-postgres") for p in extras["postgres"])
    assert any(p.startswith("pyspark") for p in extras["spark"])
    assert any(p.startswith("dagster-webserver") for p in extras["orchestration"])
    make = (CHECKOUT / "Makefile").read_text(encoding="utf-8")
    assert ".[dev,bench,semantic,orchestration,postgres,spark]" in make


@pytest.mark.parametrize(
    ("target", "module", "extra"), [("postgres", "psycopg2", "postgres"), ("spark", "pyspark", "spark")]
)
def test_a_target_whose_extra_is_missing_says_which_to_install(monkeypatch, target, module, extra):
    import importlib.util

    from credit_score import engines

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))
    with pytest.raises(
        MissingExtra, match=rf"--target {target} needs the `{extra}` extra.*pip install 'credit-score\[{extra}\]'"
    ):
        engines.get(target)


def test_in_a_checkout_the_project_is_the_checkouts():
    assert PROJECT_DIR == CHECKOUT and settings.PROFILES_DIR == CHECKOUT / "profiles"
