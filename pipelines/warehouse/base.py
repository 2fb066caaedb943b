"""The :class:`Warehouse` protocol and the choice of implementation by dbt target."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

import pyarrow as pa


class MissingTable(LookupError):
    """A query named a table the warehouse does not have (e.g. the marts were never built)."""


@runtime_checkable
class Warehouse(Protocol):
    """What Python needs from the warehouse. Queries are plain SELECTs over the marts in the
    dialect both engines accept; engine-specific SQL comes from the implementation's helpers."""

    name: str

    def exists(self) -> bool:
        """Whether anything was ever built there (the DuckDB file, the Spark database)."""

    def tables(self) -> set[str]:
        """Names of the tables and views in the marts' schema."""

    def read_arrow(self, query: str) -> pa.Table:
        """Run a SELECT and return its rows; :class:`MissingTable` when it names a missing table."""

    def copy_to_parquet(self, query: str, path: Path) -> None:
        """Write the rows of a SELECT (in its order) to ONE Parquet file at ``path``."""

    def shard_expr(self, column: str, n_shards: int) -> str:
        """SQL for ``md5(column) mod n_shards`` (DuckDB's ``md5_number``): the same shard for a user
        on every engine, run and machine."""

    def erase_users(self, user_ids: Iterable[str], owns_raw: Callable[[pa.Table], pa.Array]) -> dict[str, int]:
        """Remove, from every table with a ``user_id`` column, the rows whose trimmed ``user_id`` is
        one of ``user_ids``; where a table has a quarantine ``raw`` column, rows without a
        ``user_id`` go when ``owns_raw`` (a mask over a table of ``user_id, raw, reason,
        source_file``) says so. Returns {"schema.table": rows removed}."""


def warehouse_for_target(target: str | None = None, duckdb_path: Path | None = None) -> Warehouse:
    """The warehouse of the dbt target (``COREBRAIN_TARGET``, default ``local``)."""
    target = target or os.environ.get("COREBRAIN_TARGET") or "local"
    if target == "local":
        from pipelines.warehouse.duckdb_warehouse import DuckDBWarehouse

        path = duckdb_path or Path(os.environ.get("COREBRAIN_WAREHOUSE") or ".corebrain/warehouse.duckdb")
        return DuckDBWarehouse(Path(path))
    if target == "spark":
        from pipelines.warehouse.spark_warehouse import SparkWarehouse

        return SparkWarehouse.from_environment()
    raise ValueError(f"COREBRAIN_TARGET={target!r}: expected 'local' (DuckDB) or 'spark' "
                     "(the targets of dbt_project/profiles.yml)")
