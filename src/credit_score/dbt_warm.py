"""What the fork server does once, after importing dbt and before it forks any child (dbt.py): the
work each dbt invocation would otherwise do again in its own child, and lose when the child exits.

- dbt's task and runner modules, which an invocation imports only once it runs;
- the JSON schemas dbt validates the flags, the project, the profile's credentials, the packages and
  the hooks against (dbt builds each schema once per process: `json_schema` is cached per class);
- the Jinja templates of the macros that earlier runs of the project called.  dbt compiles a macro's
  template the first time a run calls it and caches it by the macro's SQL, for the life of the
  process; each child writes the SQL it had compiled into the project's target/ (TEMPLATES), and the
  next fork server compiles those before forking, so its children find them compiled.

A backfill's months, or a test suite's builds, then pay for these once per process; a single build
pays for them in the fork server while the harness checks the deliveries, as it would have in the
child.  Nothing here changes what dbt does: a template missing from the file is compiled by the
child as before, and one left in it that no macro has any more is never looked up.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
from pathlib import Path

# imported lazily by each invocation of `dbt build` (measured: sys.modules before and after)
LAZY_MODULES = (
    "dbt.task.build",
    "dbt.task.run",
    "dbt.task.test",
    "dbt.task.seed",
    "dbt.task.compile",
    "dbt.compilation",
    "dbt.graph.thread_pool",
    "dbt.runners",
    "dbt.parser.sql",
    "dbt.adapters.duckdb.environments.local",
    "dbt_common.clients.agate_helper",
    "sqlparse",
    "multiprocessing.pool",
    "multiprocessing.dummy",
)
TEMPLATES = "macro_templates.json"
MOST_TEMPLATES = 3000  # the file starts over past this (a project's macros edited many times)

# the SQL of the templates compiled here, before any child was forked
warmed: frozenset[str] = frozenset()


def templates_file(project_dir: Path) -> Path:
    return project_dir / "target" / TEMPLATES


def _schemas() -> None:
    from dbt.adapters.duckdb.credentials import DuckDBCredentials
    from dbt.artifacts.resources import Hook
    from dbt.contracts.project import PackageConfig, ProfileConfig, Project, ProjectFlags
    from dbt_common.contracts.constraints import ColumnLevelConstraint

    for contract in (
        ProjectFlags,
        Project,
        ProfileConfig,
        DuckDBCredentials,
        PackageConfig,
        Hook,
        ColumnLevelConstraint,
    ):
        contract.json_schema()


def _templates(project_dir: Path) -> frozenset[str]:
    from dbt_common.clients import jinja

    try:
        sources = json.loads(templates_file(project_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return frozenset()
    compiled = set()
    for sql in sources if isinstance(sources, list) else []:
        with contextlib.suppress(Exception):  # a template that does not compile is the child's to report
            jinja.template_cache.file_cache[sql] = jinja.get_template(sql, {})
            compiled.add(sql)
    return frozenset(compiled)


def warm(project_dir: Path) -> None:
    """In the fork server: import, build the schemas, compile the templates (each step best effort:
    dbt does whatever is not done here itself, in the child)."""
    global warmed
    for name in LAZY_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    with contextlib.suppress(Exception):
        _schemas()
    warmed = _templates(project_dir)


def keep_templates(project_dir: Path) -> None:
    """In the child, after dbt ran: write the SQL of every template it holds compiled, when it compiled
    any the fork server had not (written whole, then renamed: children of two processes may write at
    once, and the last one wins).  Where target/ cannot be written (an installed wheel), nothing is kept."""
    from dbt_common.clients import jinja

    held = set(jinja.template_cache.file_cache)
    if held <= warmed:
        return
    if len(held) > MOST_TEMPLATES:
        held -= warmed
    path = templates_file(project_dir)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(sorted(held)), encoding="utf-8")
        os.replace(partial, path)


# the fork server imports this module (dbt.PRELOADED) after dbt, with the caller's environment
if os.environ.get("CREDIT_SCORE_DBT_WARM", "1") != "0":
    from credit_score.settings import PROJECT_DIR

    warm(PROJECT_DIR)
