"""`credit-score docs [--out DIR] [--port N] [--no-serve]`: dbt's documentation site, in a browser.

`dbt docs generate --static` on the profile's `semantic` target - the served file opened read-only, so
the catalog shows the tables BI reads (their columns and types) and a build can go on meanwhile - into
DIR (default docs-site/): static_index.html is the whole site in one file (models, columns, tests,
the lineage graph, the exposures and the semantic layer). Then it is served on loopback only
(127.0.0.1; --port 0 picks a free port) until Ctrl-C.
"""

from __future__ import annotations

import functools
import http.server
import sys
from pathlib import Path

from credit_score import console, privacy, settings
from credit_score.dbt import run_dbt
from credit_score.metrics import SEMANTIC_TARGET, semantic_env

PAGE = "static_index.html"


def generate(out: Path) -> Path:
    served = settings.duckdb_path()
    if not served.exists():
        raise SystemExit(f"credit-score docs: {served} does not exist: nothing is published yet (credit-score build)")
    out.mkdir(parents=True, exist_ok=True)
    timer = console.Timer()
    with console.bar("dbt docs generate") as progress:
        outcome = run_dbt(
            ["docs", "generate", "--static"],
            target=SEMANTIC_TARGET,
            env={**semantic_env(), "DBT_TARGET_PATH": str(out.resolve())},
            progress=progress,
        )
    if not outcome.success or not (out / PAGE).exists():
        raise SystemExit(f"credit-score docs: dbt docs generate failed: {outcome.error} (see {console.log_dir()})")
    console.done(f"generated the docs site in {out} (catalog: {served})", timer.seconds)
    return out / PAGE


def serve(folder: Path, port: int) -> None:
    handler = functools.partial(_QuietHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        url = f"http://127.0.0.1:{server.server_address[1]}/{PAGE}"
        console.done(f"serving the docs at {url} (loopback only; Ctrl-C stops)")
        sys.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            console.note("stopped")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        console.detail(f"[docs] {self.address_string()} {format % args}")


def main(out: Path, port: int, no_serve: bool) -> int:
    generate(out)
    privacy.share_tree(out)  # the project's documentation, no data: readable by the readers' group
    if not no_serve:
        serve(out, port)
    return 0
