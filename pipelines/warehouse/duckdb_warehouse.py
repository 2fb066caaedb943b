"""The DuckDB warehouse file (the default, ``COREBRAIN_WAREHOUSE``).

One writer per file: reads open read-only in a short ``with``; :meth:`delete_users` opens it
read-write, so call it only from a step in pool ``duckdb``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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

    def erase_users(self, user_ids: Iterable[str], owns_raw: Callable[[pa.Table], pa.Array]) -> dict[str, int]:
        """DELETE in one read-write connection (then CHECKPOINT); quarantine-like rows without a
        ``user_id`` are judged by ``owns_raw`` and deleted by rowid."""
        counts: dict[str, int] = {}
        with duckdb.connect(str(self.path)) as con:
            con.register("erase_ids", pa.table({"user_id": pa.array(sorted({str(u) for u in user_ids}), pa.string())}))
            tables = con.sql(
                "SELECT c.table_schema, c.table_name, list(lower(c2.column_name)) FROM information_schema.columns c "
                "JOIN information_schema.tables t ON t.table_schema = c.table_schema "
                "AND t.table_name = c.table_name AND t.table_catalog = c.table_catalog "
                "JOIN information_schema.columns c2 ON c2.table_schema = c.table_schema "
                "AND c2.table_name = c.table_name AND c2.table_catalog = c.table_catalog "
                "WHERE lower(c.column_name) = 'user_id' AND t.table_type = 'BASE TABLE' "
                "AND t.table_catalog = current_database() GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
            for schema, table, columns in tables:
                name = f'"{schema}"."{table}"'
                rows = con.sql(f"DELETE FROM {name} WHERE trim(CAST(user_id AS VARCHAR)) IN "
                               f"(SELECT user_id FROM erase_ids)").fetchall()
                removed = int(rows[0][0]) if rows and rows[0][0] else 0
                if "raw" in columns:
                    removed += _erase_raw_rows(con, name, columns, owns_raw)
                if removed:
                    counts[f"{schema}.{table}"] = removed
            con.execute("CHECKPOINT")
        return counts


def _erase_raw_rows(con: duckdb.DuckDBPyConnection, name: str, columns: list[str],
                    owns_raw: Callable[[pa.Table], pa.Array]) -> int:
    """Quarantine-like rows with no ``user_id``: judged by ``raw`` in Python, deleted by rowid."""
    extra = ", ".join(c if c in columns else f"NULL AS {c}" for c in ("reason", "source_file"))
    table = con.sql(f"SELECT rowid AS rid, NULL::VARCHAR AS user_id, raw, {extra} FROM {name} "
                    "WHERE user_id IS NULL AND raw IS NOT NULL").to_arrow_table()
    if table.num_rows == 0:
        return 0
    doomed = table.filter(owns_raw(table)).column("rid").to_pylist()
    if doomed:
        con.register("erase_rowids", pa.table({"rid": pa.array(doomed, pa.int64())}))
        con.sql(f"DELETE FROM {name} WHERE rowid IN (SELECT rid FROM erase_rowids)")
        con.unregister("erase_rowids")
    return len(doomed)
