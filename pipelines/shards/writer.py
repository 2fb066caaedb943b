"""Write training shards from the warehouse marts: DuckDB ``COPY ... (FORMAT parquet)``.

Reads ``training_window``, ``user_sequences``, ``holdout`` and ``item_vocab`` through a read-only
connection (one writer per DuckDB file; readers never block a later dbt run for long), writes the
files into a temporary folder next to the target and swaps it into ``shards/<window end>/`` only when
the manifest is complete, so a reader never sees half a shard set. Users go to shard
``md5(user_id) mod n_shards``: stable across runs and machines.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipelines.shards.manifest import (
    MANIFEST_NAME,
    ShardFile,
    build_manifest,
    describe_file,
    manifest_text,
    sha256_file,
)

SEQUENCE_COLUMNS = 'user_id, item_idx, event_type, ts, "query"'
HOLDOUT_COLUMNS = SEQUENCE_COLUMNS + ", target_item_idx, target_item_id, target_ts, target_new_item_idx, market"


class NoTrainingData(RuntimeError):
    """The warehouse has no training window (no events yet, or the marts were never built)."""


@dataclass(frozen=True)
class ShardsResult:
    folder: Path
    manifest: dict[str, Any]
    manifest_sha256: str

    @property
    def rows(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for f in self.manifest["files"]:
            totals[f["role"]] = totals.get(f["role"], 0) + f["rows"]
        return totals


def shard_name(index: int) -> str:
    return f"train-{index:05d}.parquet"


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _read_window(con: duckdb.DuckDBPyConnection) -> tuple[date, date, datetime]:
    try:
        rows = con.sql("select window_start, window_end, holdout_cutoff from training_window").fetchall()
    except duckdb.CatalogException as exc:
        raise NoTrainingData("the warehouse has no training_window table: build the dbt marts first") from exc
    if not rows:
        raise NoTrainingData("training_window is empty: there are no events in fct_events yet")
    return rows[0]


def write_shards(warehouse: Path, shards_root: Path, n_shards: int = 4,
                 dbt_manifest: Path | None = None) -> ShardsResult:
    """Write ``shards_root/<window end>/`` (train shards, holdout, items, manifest.json)."""
    if not isinstance(n_shards, int) or n_shards < 1:
        raise ValueError(f"n_shards must be a positive integer, got {n_shards!r}")
    warehouse = Path(warehouse)
    if not warehouse.exists():
        raise NoTrainingData(f"no warehouse at {warehouse}: run the dbt assets first")
    shards_root = Path(shards_root)
    shards_root.mkdir(parents=True, exist_ok=True)

    with duckdb.connect(str(warehouse), read_only=True) as con:
        window_start, window_end, cutoff = _read_window(con)
        tmp = shards_root / f".tmp-{window_end.isoformat()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            files: list[ShardFile] = []
            for i in range(n_shards):
                con.execute(
                    f"copy (select {SEQUENCE_COLUMNS} from user_sequences "
                    f"where md5_number(user_id) % {n_shards} = {i} order by user_id) "
                    f"to {_sql_path(tmp / shard_name(i))} (format parquet)")
                files.append(describe_file(tmp, shard_name(i), "train"))
            con.execute(f"copy (select {HOLDOUT_COLUMNS} from holdout order by user_id) "
                        f"to {_sql_path(tmp / 'holdout.parquet')} (format parquet)")
            files.append(describe_file(tmp, "holdout.parquet", "holdout"))
            con.execute(f"copy (select item_idx, item_id from item_vocab order by item_idx) "
                        f"to {_sql_path(tmp / 'items.parquet')} (format parquet)")
            files.append(describe_file(tmp, "items.parquet", "items"))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    dbt_sha = sha256_file(dbt_manifest) if dbt_manifest and Path(dbt_manifest).exists() else None
    manifest = build_manifest(files, window_start=window_start, window_end=window_end,
                              holdout_cutoff=cutoff, dbt_manifest_sha256=dbt_sha)
    text = manifest_text(manifest)
    (tmp / MANIFEST_NAME).write_text(text)
    final = shards_root / window_end.isoformat()
    _swap_in(tmp, final)
    return ShardsResult(folder=final, manifest=manifest,
                        manifest_sha256=hashlib.sha256(text.encode()).hexdigest())


def _swap_in(tmp: Path, final: Path) -> None:
    """Replace ``final`` by ``tmp``: rename the old one aside first, then delete it."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
