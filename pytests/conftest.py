import datetime as dt
from pathlib import Path

import pytest

from pytests.helpers import EXAMPLES, load_and_build, read_mart

MONTH_END = dt.date(2026, 10, 31)
MID_MONTH = dt.date(2026, 3, 15)


@pytest.fixture(scope="session")
def examples_marts(tmp_path_factory) -> dict[dt.date, dict]:
    """The worked examples built at both dates: {as_of: (report, mart rows)}."""
    built = {}
    for as_of in (MONTH_END, MID_MONTH):
        database = tmp_path_factory.mktemp("examples") / "warehouse.duckdb"
        report = load_and_build(EXAMPLES, database, as_of)
        built[as_of] = (report, read_mart(database) if report.ok else {})
    return built


def pytest_configure(config):
    # dbt writes target/ and logs/ into the project; keep them out of the repo's test runs' way
    Path("logs").mkdir(exist_ok=True)
