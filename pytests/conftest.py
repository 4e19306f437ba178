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


@pytest.fixture(scope="session")
def parity_data(tmp_path_factory):
    """The data set every engine builds for the parity tests: 5,000 generated customers and 1,000
    placed on SPEC's boundaries around both dates."""
    from credit_score.generate import generate
    from pytests import adversarial, reference
    from pytests.helpers import write_folder

    folder = tmp_path_factory.mktemp("parity_engines")
    generate(5000, folder, seed=99, as_of=MONTH_END, progress=False)
    realistic = {t: reference.read_csv(folder / f"{t}.csv") for t in ("subscriptions", "billing", "suspensions")}
    edges = adversarial.build(1000, [MONTH_END, MID_MONTH], seed=5)
    return write_folder(folder, {t: realistic[t] + edges[t] for t in realistic})


@pytest.fixture(scope="session")
def duckdb_parity_marts(parity_data, tmp_path_factory):
    """The DuckDB marts of the parity data set at both dates: what the other engines must equal."""
    marts = {}
    for as_of in (MONTH_END, MID_MONTH):
        database = tmp_path_factory.mktemp("parity_duckdb") / "warehouse.duckdb"
        report = load_and_build(parity_data, database, as_of)
        assert report.ok
        marts[as_of] = (report, read_mart(database))
    return marts


def pytest_configure(config):
    # dbt writes target/ and logs/ into the project; keep them out of the repo's test runs' way
    Path("logs").mkdir(exist_ok=True)
