"""The training-shards contract (docs/contracts.md section 3), in one place for both sides of it.

The warehouse side (``pipelines/shards``) writes shards with these constants and hashes; the model
side (``models/``) reads them with ``open_shards``. Import-light on purpose (numpy and pyarrow, no
torch), so the pipeline's writer can import it cheaply.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

SHARDS_FORMAT = "corebrain-shards/1"
MANIFEST_NAME = "manifest.json"
# event-type codes in the shards' ``event_type`` lists; 0 is "unknown" to the model
EVENT_TYPES: dict[str, int] = {"view": 1, "search": 2, "add_to_cart": 3, "purchase": 4}
SEARCH = EVENT_TYPES["search"]


class ShardError(ValueError):
    """The shards do not meet the contract; the message says what and where."""


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, read in chunks (shards can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Shards:
    root: Path
    manifest: dict
    item_ids: list[str | None]   # index = item_idx; [0] is None
    train_files: list[Path]
    holdout_file: Path | None

    @property
    def n_items(self) -> int:
        return len(self.item_ids) - 1


def open_shards(shards_dir: str | Path, verify: bool = True) -> Shards:
    """Read manifest.json and items.parquet; check files exist (and their sha256 when ``verify``)."""
    root = Path(shards_dir)
    mpath = root / "manifest.json"
    if not mpath.exists():
        raise ShardError(f"no manifest.json in {root}")
    manifest = json.loads(mpath.read_text())
    if manifest.get("format") != SHARDS_FORMAT:
        raise ShardError(f"{mpath}: format {manifest.get('format')!r}, expected {SHARDS_FORMAT!r}")
    files = manifest.get("files", [])
    for f in files:
        p = root / f["path"]
        if not p.exists():
            raise ShardError(f"manifest lists {f['path']} but {p} does not exist")
        if verify and f.get("sha256") and sha256_file(p) != f["sha256"]:
            raise ShardError(f"sha256 mismatch for {p}: the shard changed after the manifest was written")
    train = sorted(root / f["path"] for f in files if f.get("role") == "train")
    if not train:
        train = sorted(root.glob("train-*.parquet"))
    if not train:
        raise ShardError(f"no train shards in {root}")
    holdout = [root / f["path"] for f in files if f.get("role") == "holdout"]
    holdout_file = holdout[0] if holdout else (root / "holdout.parquet" if (root / "holdout.parquet").exists() else None)
    items = pq.read_table(root / "items.parquet")
    idx = items["item_idx"].to_numpy().astype(np.int64)
    ids = items["item_id"].to_pylist()
    n = int(idx.max()) if len(idx) else 0
    if len(idx) and (idx.min() < 1 or len(np.unique(idx)) != len(idx)):
        raise ShardError("items.parquet: item_idx must be unique and start from 1")
    item_ids: list[str | None] = [None] * (n + 1)
    for i, s in zip(idx.tolist(), ids, strict=True):
        item_ids[i] = None if s is None else str(s)
    return Shards(root, manifest, item_ids, train, holdout_file)
