"""Helpers for the in-process Dagster runs of the transform tests (real dbt, real DuckDB)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import duckdb
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipelines.defs.shards import training_shards
from pipelines.defs.transform import dbt_marts, dbt_partitioned, dbt_resource

MARTS = ("fct_events", "item_vocab", "training_window", "user_sequences", "holdout", "dim_items", "dim_users")


def run_partitions(instance: dg.DagsterInstance, first: str, last: str | None = None) -> dg.ExecuteInProcessResult:
    """One run over the partition range first..last (single-run backfill policy)."""
    tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last or first}
    return dg.materialize([dbt_partitioned], instance=instance, resources={"dbt": dbt_resource()}, tags=tags)


def run_marts(instance: dg.DagsterInstance, window_days: int = 30, holdout_days: int = 1,
              n_shards: int = 2) -> dg.ExecuteInProcessResult:
    config = {"ops": {"dbt_marts": {"config": {"window_days": window_days, "holdout_days": holdout_days}},
                      "training_shards": {"config": {"n_shards": n_shards}}}}
    return dg.materialize([dbt_marts, training_shards], instance=instance,
                          resources={"dbt": dbt_resource()}, run_config=config)


def table_rows(warehouse: Path, table: str, order: str = "all") -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(f"select * from {table} order by {order}").fetchall()


def checksums(warehouse: Path, tables=MARTS) -> dict[str, str]:
    """sha256 of every table's sorted rows: equal iff the contents are equal."""
    return {t: hashlib.sha256(repr(table_rows(warehouse, t)).encode()).hexdigest() for t in tables}
