"""Write training shards from the warehouse marts (``pipelines.warehouse``: DuckDB ``COPY ...
(FORMAT parquet)`` by default, a Spark write on the Spark target).

Reads ``training_window``, ``user_sequences``, ``holdout`` and ``item_vocab`` (DuckDB: through a
read-only connection; one writer per file, readers never block a later dbt run for long), writes the
files into a temporary folder next to the target and swaps it into ``shards/<window end>/`` only when
the manifest is complete, with one atomic exchange of the two folders, so a reader (or a kill -9 at
any instant) never sees half a shard set nor a missing one; what a killed writer left is swept by
the next write. Users go to shard
``md5(user_id) mod n_shards``: stable across runs and machines.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pipelines.shards.manifest import (
    MANIFEST_NAME,
    ShardFile,
    build_manifest,
    describe_file,
    manifest_text,
    sha256_file,
)
from pipelines.warehouse import DuckDBWarehouse, MissingTable, Warehouse

SEQUENCE_COLUMNS = "user_id, item_idx, event_type, ts, query"  # unquoted: both dialects
HOLDOUT_COLUMNS = SEQUENCE_COLUMNS + ", target_item_idx, target_item_id, target_ts, target_query, target_new_item_idx, market"


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


def _read_window(warehouse: Warehouse) -> tuple[date, date, datetime]:
    try:
        rows = warehouse.read_arrow("select window_start, window_end, holdout_cutoff from training_window").to_pylist()
    except MissingTable as exc:
        raise NoTrainingData("the warehouse has no training_window table: build the dbt marts first") from exc
    if not rows:
        raise NoTrainingData("training_window is empty: there are no events in fct_events yet")
    row = rows[0]
    cutoff = row["holdout_cutoff"]
    return row["window_start"], row["window_end"], cutoff.replace(tzinfo=None) if cutoff.tzinfo else cutoff


def write_shards(warehouse: Path | Warehouse, shards_root: Path, n_shards: int = 4,
                 dbt_manifest: Path | None = None, erasure_generation: int = 0) -> ShardsResult:
    """Write ``shards_root/<window end>/`` (train shards, holdout, items, manifest.json).

    ``warehouse``: a :class:`~pipelines.warehouse.Warehouse`, or the path of a DuckDB file.
    ``erasure_generation``: the erasure log's generation, read before the warehouse is (recorded
    in the manifest for the warm-start rule)."""
    if not isinstance(n_shards, int) or n_shards < 1:
        raise ValueError(f"n_shards must be a positive integer, got {n_shards!r}")
    if not isinstance(warehouse, Warehouse):
        warehouse = DuckDBWarehouse(Path(warehouse))
    if not warehouse.exists():
        where = getattr(warehouse, "path", warehouse.name)
        raise NoTrainingData(f"no warehouse at {where}: run the dbt assets first")
    shards_root = Path(shards_root)
    shards_root.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(shards_root)

    window_start, window_end, cutoff = _read_window(warehouse)
    tmp = shards_root / f".tmp-{window_end.isoformat()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        files: list[ShardFile] = []
        for i in range(n_shards):
            warehouse.copy_to_parquet(
                f"select {SEQUENCE_COLUMNS} from user_sequences "
                f"where {warehouse.shard_expr('user_id', n_shards)} = {i} order by user_id", tmp / shard_name(i))
            files.append(describe_file(tmp, shard_name(i), "train"))
        warehouse.copy_to_parquet(f"select {HOLDOUT_COLUMNS} from holdout order by user_id", tmp / "holdout.parquet")
        files.append(describe_file(tmp, "holdout.parquet", "holdout"))
        warehouse.copy_to_parquet("select item_idx, item_id from item_vocab order by item_idx", tmp / "items.parquet")
        files.append(describe_file(tmp, "items.parquet", "items"))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    dbt_sha = sha256_file(dbt_manifest) if dbt_manifest and Path(dbt_manifest).exists() else None
    manifest = build_manifest(files, window_start=window_start, window_end=window_end,
                              holdout_cutoff=cutoff, dbt_manifest_sha256=dbt_sha,
                              erasure_generation=erasure_generation)
    text = manifest_text(manifest)
    (tmp / MANIFEST_NAME).write_text(text)
    final = shards_root / window_end.isoformat()
    _swap_in(tmp, final)
    return ShardsResult(folder=final, manifest=manifest,
                        manifest_sha256=hashlib.sha256(text.encode()).hexdigest())


def _swap_in(tmp: Path, final: Path) -> None:
    """Put ``tmp`` in place of ``final`` so that a reader, or a kill -9 at any instant, sees either the
    whole old folder or the whole new one, never none: one atomic ``renameat2(RENAME_EXCHANGE)``
    (Linux) swaps the two folders, then the old one, now at ``tmp``, is deleted. A first write is one
    ``rename``. Where the exchange is not available, two renames (a window of microseconds where
    ``final`` is missing; :func:`sweep_leftovers` puts the old folder back if a kill lands there)."""
    if not final.exists():
        os.replace(tmp, final)
        return
    if exchange_dirs(tmp, final):
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
    os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def exchange_dirs(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2`` with ``RENAME_EXCHANGE``); False where the
    platform or file system cannot (the caller falls back)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, f"renameat2 exchange {a} <-> {b}: {os.strerror(err)}")


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def sweep_leftovers(shards_root: Path) -> list[str]:
    """What a killed writer left: its staging folders (``.tmp-*``) go; an ``.old-<day>-*`` folder goes
    too, unless ``<day>`` is missing (a kill between the fallback's two renames), when it is put back.
    Call only while holding pool ``duckdb`` (no other shards writer is running)."""
    swept: list[str] = []
    for child in sorted(shards_root.iterdir()) if shards_root.is_dir() else []:
        if child.is_symlink() or not child.is_dir():
            continue
        if child.name.startswith(".old-"):
            day = child.name[len(".old-"):].rsplit("-", 1)[0]
            if not (shards_root / day).exists() and (child / MANIFEST_NAME).is_file():
                os.replace(child, shards_root / day)
                swept.append(f"restored {day}")
                continue
        if child.name.startswith((".tmp-", ".old-")):
            shutil.rmtree(child, ignore_errors=True)
            swept.append(child.name)
    return swept
