"""The DuckDB warehouse file (the default, ``COREBRAIN_WAREHOUSE``).

One writer per file: reads open read-only in a short ``with``; :meth:`delete_users` opens it
read-write, so call it only from a step in pool ``duckdb``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.warehouse.base import MissingTable


def sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


@dataclass(frozen=True)
class DuckDBWarehouse:
    path: Path
    name: str = "duckdb"

    def exists(self) -> bool:
        return Path(self.path).exists()

    def tables(self) -> set[str]:
        if not self.exists():
            return set()
        with duckdb.connect(str(self.path), read_only=True) as con:
            return {r[0] for r in con.sql("select table_name from information_schema.tables "
                                          "where table_schema = current_schema()").fetchall()}

    def read_arrow(self, query: str) -> pa.Table:
        with duckdb.connect(str(self.path), read_only=True) as con:
            try:
                return con.sql(query).to_arrow_table()
            except duckdb.CatalogException as exc:
                raise MissingTable(str(exc)) from exc

    def copy_to_parquet(self, query: str, path: Path) -> None:
        with duckdb.connect(str(self.path), read_only=True) as con:
            try:
                con.execute(f"copy ({query}) to {sql_path(path)} (format parquet)")
            except duckdb.CatalogException as exc:
                raise MissingTable(str(exc)) from exc

    def shard_expr(self, column: str, n_shards: int) -> str:
        return f"md5_number({column}) % {int(n_shards)}"

    def delete_users(self, table: str, user_ids: Iterable[str]) -> int:
        ids = pa.table({"user_id": pa.array(sorted({str(u) for u in user_ids}), pa.string())})
        with duckdb.connect(str(self.path)) as con:
            con.register("erase_ids", ids)
            rows = con.sql(f"DELETE FROM {table} WHERE trim(CAST(user_id AS VARCHAR)) IN "
                           "(SELECT user_id FROM erase_ids)").fetchall()
            return int(rows[0][0]) if rows and rows[0][0] else 0
