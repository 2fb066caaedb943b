"""The shards manifest (contracts.md section 3): building it, reading it back, verifying files.

Pure apart from reading files: the writer hands in what it wrote, this module decides the JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from models.shards import EVENT_TYPES, MANIFEST_NAME, sha256_file  # noqa: F401 (the one contract, re-exported)
from models.shards import SHARDS_FORMAT as FORMAT

ROLES = ("train", "holdout", "items")


@dataclass(frozen=True)
class ShardFile:
    path: str   # relative to the shards folder
    role: str   # train | holdout | items
    rows: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "role": self.role, "rows": self.rows, "sha256": self.sha256}


class ShardsManifestError(ValueError):
    """A shards folder whose files do not match its manifest."""


def describe_file(folder: Path, name: str, role: str) -> ShardFile:
    """Rows from the Parquet footer and the sha256 of the bytes, as written."""
    if role not in ROLES:
        raise ValueError(f"unknown shard role {role!r}; expected one of {ROLES}")
    path = folder / name
    return ShardFile(path=name, role=role, rows=pq.read_metadata(path).num_rows, sha256=sha256_file(path))


def window_days(start: date, end: date) -> list[str]:
    """Every event day of the window, inclusive: the Dagster partitions the shards derive from."""
    if end < start:
        raise ValueError(f"window end {end} before start {start}")
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def build_manifest(files: list[ShardFile], *, window_start: date, window_end: date,
                   holdout_cutoff: datetime, dbt_manifest_sha256: str | None,
                   erasure_generation: int = 0) -> dict[str, Any]:
    """``erasure_generation``: how many erasures had happened when the shards were written (a
    model trained on them has seen no user erased up to that generation; the warm-start rule)."""
    items = [f for f in files if f.role == "items"]
    if len(items) != 1:
        raise ValueError(f"expected exactly one items file, got {len(items)}")
    return {
        "format": FORMAT,
        "window": {"start": window_start.isoformat(), "end": window_end.isoformat(),
                   "holdout_cutoff": holdout_cutoff.isoformat(timespec="seconds")},
        "vocab": {"n_items": items[0].rows, "version": items[0].sha256},
        "event_types": dict(EVENT_TYPES),
        "files": [f.as_dict() for f in files],
        "lineage": {"dbt_manifest_sha256": dbt_manifest_sha256, "erasure_generation": erasure_generation,
                    "partitions": window_days(window_start, window_end)},
    }


def manifest_text(manifest: dict[str, Any]) -> str:
    """Stable text (sorted keys), so the manifest's own sha256 is a fingerprint of the shards."""
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def read_manifest(folder: Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST_NAME
    if not path.exists():
        raise ShardsManifestError(f"no {MANIFEST_NAME} in {folder}")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise ShardsManifestError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    return manifest


def verify_shards(folder: Path) -> dict[str, Any]:
    """Check every file of the manifest: present, same rows, same sha256. Returns the manifest."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    problems = []
    for entry in manifest["files"]:
        path = folder / entry["path"]
        if not path.exists():
            problems.append(f"{entry['path']}: missing")
            continue
        actual = describe_file(folder, entry["path"], entry["role"])
        if actual.rows != entry["rows"]:
            problems.append(f"{entry['path']}: {actual.rows} rows, manifest says {entry['rows']}")
        if actual.sha256 != entry["sha256"]:
            problems.append(f"{entry['path']}: sha256 differs from the manifest")
    if problems:
        raise ShardsManifestError(f"{folder}: " + "; ".join(problems))
    return manifest


def latest_shards_dir(paths_or_root: Any) -> Path | None:
    """The newest complete shards folder (``shards/<window end>/`` with a manifest), or None.

    Takes a ``CorebrainPaths`` (uses ``.shards``) or the shards root folder itself.
    """
    root = Path(getattr(paths_or_root, "shards", paths_or_root))
    if not root.is_dir():
        return None
    candidates = []
    for child in root.iterdir():
        try:
            date.fromisoformat(child.name)
        except ValueError:
            continue
        if (child / MANIFEST_NAME).is_file():
            candidates.append(child)
    return max(candidates, key=lambda p: p.name) if candidates else None
