"""`credit-score bench`: what a build costs, measured and checked.

Three cases, one module each:
  single.py   one build at N customers: models, build, the one-statement bound and pandas (variants.py),
              their rows compared (compare.py); docs/benchmarks.md and .png (report.py).
  monthly.py  a month's delivery once the warehouse holds a year (SPEC 6): the month against a
              --full-refresh and the bound; docs/benchmarks-monthly.md and .png.
  spark.py    Spark on a standalone cluster on loopback, 1 and 2 workers; docs/benchmarks-spark.md.
measure.py times a command and samples the memory of its process tree; the bound's statement and the
pandas script are files of this package (one_statement.sql, pandas_scores.py).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--monthly" in argv:
        from credit_score.bench import monthly

        return monthly.main(argv)
    if "--spark" in argv:
        from credit_score.bench import spark

        return spark.main(argv)
    from credit_score.bench import single

    return single.main(argv)
