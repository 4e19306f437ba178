"""Apache Spark in session mode: raw files to parquet tables, and reading the mart back.

Each file is read by DuckDB exactly as `credit-score load` reads it for DuckDB (same checks, same
messages), written as all-text Parquet, then a local SparkSession - in a child process that dies with
its parent, because the embedded Derby metastore admits one JVM at a time - saves it as raw.<table>.
The session's settings match the `spark` target of profiles/profiles.yml.
"""

from __future__ import annotations

import codecs
import multiprocessing
import os
import shutil
import time
from pathlib import Path

import duckdb

from credit_score.load import LoadError, export_checked, find_raw_files
from credit_score.settings import spark_warehouse


def session_settings(warehouse: Path) -> dict[str, str]:
    """The same settings as the profile's `spark` target (session method)."""
    return {
        "spark.sql.warehouse.dir": f"{warehouse}/tables",
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={warehouse}/metastore_db;create=true",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "4",
        "spark.ui.enabled": "false",
        "spark.driver.memory": "4g",
        "spark.driver.extraJavaOptions": f"-Dderby.stream.error.file={warehouse}/derby.log",
    }


def _save_tables(incoming: str, warehouse: str, tables: list[str], parent_pid: int) -> None:
    from credit_score.dbt import _die_with_parent

    _die_with_parent(parent_pid)
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--conf spark.ui.enabled=false pyspark-shell")
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport().appName("credit-score-load")
    for key, value in session_settings(Path(warehouse)).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    try:
        spark.sql("create database if not exists raw")
        for table in tables:
            frame = spark.read.parquet(f"{incoming}/{table}.parquet")
            frame.write.mode("overwrite").format("parquet").saveAsTable(f"raw.{table}")
    finally:
        spark.stop()


def load(directory: Path, *, encoding: str = "utf-8", progress: bool = True) -> dict[str, int]:
    encoding = codecs.lookup(encoding).name
    files = find_raw_files(directory)
    warehouse = spark_warehouse()
    incoming = warehouse / "incoming"
    shutil.rmtree(incoming, ignore_errors=True)
    incoming.mkdir(parents=True)
    started = time.perf_counter()
    counts = {table: count for table, (_, count) in export_checked(files, encoding, incoming, "parquet").items()}
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=_save_tables, args=(str(incoming), str(warehouse), list(files), os.getpid()))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise LoadError(f"Spark could not save the raw tables (exit status {child.exitcode}); see the log above")
    shutil.rmtree(incoming, ignore_errors=True)
    if progress:
        for table, count in counts.items():
            print(f"[load {time.perf_counter() - started:5.1f}s] raw.{table}: {count:,} rows (Spark)", flush=True)
    return counts


def mart_path(warehouse: Path | None = None) -> Path:
    """Where the mart's parquet files are (session mode): read them with any parquet reader."""
    return (warehouse or spark_warehouse()) / "tables" / "marts.db" / "customer_credit_score"


def star_distribution() -> tuple[int, list[tuple[int, str, int]]]:
    rows = duckdb.execute(
        f"select star_level, star_label, count(*) from read_parquet('{mart_path()}/*.parquet') "
        "group by star_level, star_label order by star_level desc"
    ).fetchall()
    return sum(r[2] for r in rows), [(int(a), str(b), int(c)) for a, b, c in rows]
