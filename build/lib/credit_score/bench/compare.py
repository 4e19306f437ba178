"""Checking that the variants agree: the bound's and pandas' rows against the published mart, every
column of its contract, every row (EXCEPT ALL both ways)."""

from __future__ import annotations

from pathlib import Path

from credit_score.contract import contract, contract_columns
from credit_score.settings import duckdb_memory_limit


def _mart_columns() -> str:
    return ", ".join(contract_columns())


def _pandas_as_mart(path: Path) -> str:
    """The pandas result's columns as the mart's contract types them (pandas keeps the average in fen)."""
    expressions = []
    for column, data_type in contract():
        if column == "avg_monthly_spend":
            expressions.append(f"cast(cast(avg_fen as decimal(18, 0)) * 0.01 as {data_type})")
        elif "{{" in data_type:  # text: as it is
            expressions.append(column)
        else:
            expressions.append(f"cast({column} as {data_type})")
    return f"select {', '.join(expressions)} from read_parquet('{path}')"


def compare(workdir: Path, *, with_pandas: bool = True) -> dict:
    """Rows of the mart, of the bound and of pandas, and rows on one side only (must be 0)."""
    import duckdb

    con = duckdb.connect(  # within the product's limit: this process's own memory would count in what it measures next
        str(workdir / "credit_score.duckdb"), read_only=True, config={"memory_limit": duckdb_memory_limit()}
    )
    try:
        con.execute(f"attach '{workdir / 'bound.duckdb'}' as bound (read_only)")
        columns = _mart_columns()
        mart = f"select {columns} from marts.customer_credit_score"
        sides = {"bound": f"select {columns} from bound.main.scores"}
        if with_pandas:
            sides["pandas"] = _pandas_as_mart(workdir / "pandas.parquet")
        result = {"mart_rows": con.execute(f"select count(*) from ({mart})").fetchone()[0]}
        for name, query in sides.items():
            result[f"{name}_rows"] = con.execute(f"select count(*) from ({query})").fetchone()[0]
            result[f"{name}_differences"] = con.execute(
                f"select (select count(*) from ({mart} except all {query})) "
                f"+ (select count(*) from ({query} except all {mart}))"
            ).fetchone()[0]
    finally:
        con.close()
    result["identical"] = all(result[f"{n}_differences"] == 0 for n in sides) and all(
        result[f"{n}_rows"] == result["mart_rows"] for n in sides
    )
    return result
