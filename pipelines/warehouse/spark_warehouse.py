"""The Spark warehouse: the tables dbt-spark built (``COREBRAIN_TARGET=spark``).

The session is configured as dbt_project/profiles.yml's ``spark`` target (same environment
variables, same catalog and warehouse folder), so Python sees what dbt built. Spark's embedded
Derby catalog admits one process at a time: do not open this while a dbt build runs.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines.warehouse.base import MissingTable


def spark_conf(env: dict[str, str] | None = None) -> dict[str, str]:
    """The session settings of profiles.yml's ``spark`` target, from the same variables."""
    env = dict(os.environ if env is None else env)
    folder = str(Path(env.get("COREBRAIN_SPARK_WAREHOUSE") or ".corebrain/spark-warehouse").resolve())
    partitions = env.get("COREBRAIN_SPARK_SHUFFLE_PARTITIONS") or "4"
    return {
        "spark.master": env.get("COREBRAIN_SPARK_MASTER") or "local[2]",
        "spark.app.name": "corebrain-warehouse",
        "spark.sql.warehouse.dir": folder,
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={folder}/metastore_db;create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={folder}",
        "spark.driver.memory": env.get("COREBRAIN_SPARK_DRIVER_MEMORY") or "2g",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.shuffle.partitions": partitions,
        "spark.default.parallelism": partitions,
        "spark.ui.enabled": "false",
    }


def md5_mod_expr(column: str, n_shards: int) -> str:
    """DuckDB's ``md5_number(x) % n`` in Spark SQL: md5_number reads the 16 digest bytes as one
    little-endian unsigned 128-bit integer; Horner's rule from the last byte keeps every step in
    bigint range."""
    n = int(n_shards)
    digest = f"md5(cast({column} as string))"
    byte = [f"cast(conv(substr({digest}, {2 * i + 1}, 2), 16, 10) as bigint)" for i in range(16)]
    expr = f"pmod({byte[15]}, {n})"
    for i in range(14, -1, -1):
        expr = f"pmod({expr} * 256 + {byte[i]}, {n})"
    return expr


@dataclass
class SparkWarehouse:
    session: Any
    schema: str = "corebrain"
    name: str = "spark"

    @classmethod
    def from_environment(cls) -> SparkWarehouse:
        from pyspark.sql import SparkSession

        builder = SparkSession.builder.enableHiveSupport()
        for key, value in spark_conf().items():
            builder = builder.config(key, value)
        return cls(builder.getOrCreate(), os.environ.get("COREBRAIN_SPARK_SCHEMA") or "corebrain")

    def _sql(self, query: str):
        from pyspark.errors import AnalysisException

        try:
            self.session.catalog.setCurrentDatabase(self.schema)
            return self.session.sql(query)
        except AnalysisException as exc:
            if "NOT_FOUND" in str(exc):
                raise MissingTable(str(exc).splitlines()[0]) from exc
            raise

    def exists(self) -> bool:
        return self.session.catalog.databaseExists(self.schema)

    def tables(self) -> set[str]:
        if not self.exists():
            return set()
        return {t.name for t in self.session.catalog.listTables(self.schema)}

    def read_arrow(self, query: str) -> pa.Table:
        return self._sql(query).toArrow()

    def copy_to_parquet(self, query: str, path: Path) -> None:
        """A Spark write of one partition (order kept) into a folder beside ``path``, whose one
        part file then becomes ``path``."""
        path = Path(path)
        staging = path.with_name(f".spark-{path.name}-{uuid.uuid4().hex[:8]}")
        try:
            self._sql(query).coalesce(1).write.mode("overwrite").parquet(str(staging))
            parts = sorted(staging.glob("part-*.parquet"))
            if len(parts) != 1:
                raise RuntimeError(f"Spark wrote {len(parts)} part files for {path.name}, expected 1")
            os.replace(parts[0], path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def shard_expr(self, column: str, n_shards: int) -> str:
        return md5_mod_expr(column, n_shards)

    def erase_users(self, user_ids: Iterable[str], owns_raw: Callable[[pa.Table], pa.Array]) -> dict[str, int]:
        """Parquet tables have no DELETE: per table, the kept rows are materialised and overwrite
        the table (every partition, so a day left empty is emptied). Views follow their tables."""
        from pyspark.sql import functions as F

        ids = sorted({str(u) for u in user_ids})
        counts: dict[str, int] = {}
        for table in sorted(t.name for t in self.session.catalog.listTables(self.schema)
                            if t.tableType != "VIEW" and not t.name.startswith("lake_")):
            columns = [c.lower() for c in self.session.table(f"{self.schema}.{table}").columns]
            if "user_id" not in columns:
                continue
            frame = self.session.table(f"{self.schema}.{table}")
            keep = ~F.coalesce(F.trim(F.col("user_id").cast("string")).isin(ids), F.lit(False))
            if "raw" in columns:
                raws = self._owned_raws(table, columns, owns_raw)
                if raws:
                    keep = keep & ~(F.col("user_id").isNull() & F.col("raw").isin(raws))
            kept = frame.where(keep).localCheckpoint()
            removed = frame.count() - kept.count()
            if removed:
                mode = self.session.conf.get("spark.sql.sources.partitionOverwriteMode")
                self.session.conf.set("spark.sql.sources.partitionOverwriteMode", "static")
                try:
                    kept.write.insertInto(f"{self.schema}.{table}", overwrite=True)
                finally:
                    self.session.conf.set("spark.sql.sources.partitionOverwriteMode", mode)
                counts[f"{self.schema}.{table}"] = removed
        return counts

    def _owned_raws(self, table: str, columns: list[str], owns_raw: Callable[[pa.Table], pa.Array]) -> list[str]:
        extra = ", ".join(c if c in columns else f"cast(null as string) as {c}" for c in ("reason", "source_file"))
        rows = self._sql(f"select cast(null as string) as user_id, raw, {extra} from {table} "
                         "where user_id is null and raw is not null").toArrow()
        if rows.num_rows == 0:
            return []
        return sorted(set(rows.filter(owns_raw(rows)).column("raw").to_pylist()))
