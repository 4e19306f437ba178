"""The wheel carries the dbt project: dbt_project.yml, the models, macros, seeds, data tests and
profiles are copied into the package as credit_score/project, where settings.PROJECT_DIR finds them
when the package is installed (from a checkout, or installed editable, it is the checkout)."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# what dbt reads of the project (dbt_project.yml's paths) and the profiles the harness points it at
PROJECT_PARTS = ("dbt_project.yml", "models", "macros", "seeds", "data-tests", "profiles")


class BuildWithProject(build_py):
    def run(self):
        super().run()
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "credit_score" / "project"
        shutil.rmtree(target, ignore_errors=True)
        for part in PROJECT_PARTS:
            source = root / part
            if source.is_dir():
                shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__", ".*"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / part)


setup(cmdclass={"build_py": BuildWithProject})
