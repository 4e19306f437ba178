"""The published mart's columns as its dbt contract declares them (models/marts/_marts__models.yml):
the one list the harness, the benchmark and the tests read, so that a column is added in one place."""

from functools import cache

import yaml

from credit_score.settings import PROJECT_DIR

MARTS_PROPERTIES = PROJECT_DIR / "models" / "marts" / "_marts__models.yml"


@cache
def contract(model: str = "customer_credit_score") -> tuple[tuple[str, str], ...]:
    """(column, declared data_type) in the contract's order; engine-dependent types (Jinja) as written."""
    properties = yaml.safe_load(MARTS_PROPERTIES.read_text(encoding="utf-8"))
    for node in properties["models"]:
        if node["name"] == model:
            return tuple((c["name"], str(c.get("data_type", ""))) for c in node["columns"])
    raise KeyError(f"{model} is not described in {MARTS_PROPERTIES}")


def contract_columns(model: str = "customer_credit_score") -> list[str]:
    return [name for name, _ in contract(model)]
