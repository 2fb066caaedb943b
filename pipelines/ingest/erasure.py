"""Erasure: remove given user ids from every file the pipeline keeps, and from the warehouse.

Pure functions over paths; the ``erase_users`` job (``pipelines/defs/erasure.py``) calls them and
writes the erasure log. A row is removed only when its ``user_id`` equals an erased id
(:mod:`pipelines.ingest.erasure_match`); each file is parsed in its own format and stays valid in
it (:mod:`pipelines.ingest.erasure_formats`). Places:

- landing files (Parquet, JSON Lines, JSON arrays, CSV), so that no rerun or backfill ever brings
  the rows back;
- the lake: every Parquet file with a ``user_id`` column (events, ...);
- ``consumers``: the consumer tables under ``lake/consumers`` (their own place, so the erasure job
  can sweep them in pool ``duckdb``, where consumer batches write them);
- the quarantine: rows whose ``user_id`` matches; rows without one by their ``raw`` text;
- training shards: Parquet files with ``user_id`` are rewritten and every ``manifest.json`` that
  lists a rewritten file gets its ``rows`` and ``sha256`` updated;
- ``other``: any other Parquet file under a state root with a ``user_id`` column, and JSON /
  JSON Lines / CSV files in the MLflow artifact store (logged input examples, tables);
- temp files a killed writer left (``.<name>.tmp-<pid>``, an ingest's DuckDB spill folder
  ``tmp/ingest-<pid>``, ``shards/.tmp-*`` / ``.old-*``): deleted;
- the DuckDB warehouse: ``DELETE`` from every base table with a ``user_id`` column.

Files are found under every state root (``CorebrainPaths.state_roots``: the home, and the lake
when production puts it elsewhere with ``COREBRAIN_LAKE``) and named as ``CorebrainPaths.state_name``
says (a lake file is ``lake/...`` under every profile). Each returns counts of rows removed per file
or table; a file without those users is not rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

import pyarrow.parquet as pq

from pipelines.consumers.store import consumers_root
from pipelines.ingest.erasure_formats import (
    Removal,
    erase_csv_bytes,
    erase_json_bytes,
    erase_json_document,
    erase_jsonl_bytes,
    erase_table,
    owned_rows,
)
from pipelines.ingest.erasure_match import IdMatcher, token_pattern
from pipelines.ingest.lake import write_parquet_atomic
from pipelines.settings import CorebrainPaths
from pipelines.shards.manifest import manifest_text, sha256_file
from pipelines.shards.writer import sweep_leftovers
from pipelines.warehouse import DuckDBWarehouse, Warehouse

__all__ = ["IdMatcher", "token_pattern", "erase_from_files", "erase_from_warehouse", "hashed_ids",
           "append_erasure_log", "erase_file", "erasure_generation", "stamp_erasure_generation"]

SKIP_DIRS = {"dagster_home", ".git"}
TEXT_ERASERS = {".jsonl": erase_jsonl_bytes, ".json": erase_json_bytes, ".csv": erase_csv_bytes}
# what this project's writers leave behind when killed mid-write (lake, erasure, manifests)
TEMP_FILE = re.compile(r"^\..+\.tmp-\d+$")
# the shards writer's staging folder and the folder it swaps out
TEMP_SHARDS_DIR = re.compile(r"^\.(?:tmp|old)-")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def erase_file(path: Path, matcher: IdMatcher, documents: bool = False, delete_if_empty: bool = False) -> Removal:
    """Rewrite one file without the users' rows, in its own format (untouched when it has none).

    ``delete_if_empty``: a landing file left with no rows is deleted (an empty file would re-ingest
    as EMPTY_FILE); lake, quarantine and shard files keep their schema, as readers expect the file.
    ``documents``: a ``.json`` may also be one JSON document (an MLflow input example), not rows.
    Raises on a file that cannot be read (the caller reports it)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        schema = pq.read_schema(path)
        if "user_id" not in schema.names and "raw" not in schema.names:
            return Removal()
        table = pq.read_table(path)
        kept, count = erase_table(table, matcher)
        if kept is not None:
            if kept.num_rows == 0 and delete_if_empty:
                path.unlink()
            else:
                write_parquet_atomic(kept, path)
        return count
    eraser = erase_json_document if documents and suffix == ".json" else TEXT_ERASERS.get(suffix)
    if eraser is None:
        return Removal()
    data, count = eraser(path.read_bytes(), matcher)
    if data is not None:
        if count.kept == 0 and delete_if_empty:
            path.unlink()
        else:
            _write_atomic(path, data)
    return count


def refresh_manifests(root: Path, rewritten: set[Path]) -> list[str]:
    """Update ``rows`` / ``sha256`` of rewritten files in every ``manifest.json`` under ``root``."""
    updated: list[str] = []
    for manifest_path in sorted(root.rglob("manifest.json")):
        try:
            manifest = json.loads(manifest_path.read_text())
        except ValueError:
            continue
        changed = False
        for entry in manifest.get("files", []) if isinstance(manifest, dict) else []:
            file_path = (manifest_path.parent / str(entry.get("path", ""))).resolve()
            if file_path in rewritten:
                entry["rows"] = pq.read_metadata(file_path).num_rows
                entry["sha256"] = sha256_file(file_path)
                changed = True
        if changed:
            tmp = manifest_path.with_name(f".manifest.json.tmp-{os.getpid()}")
            tmp.write_text(manifest_text(manifest))  # the shards writer's own format
            os.replace(tmp, manifest_path)
            updated.append(manifest_path.as_posix())
    return updated


ALL_PLACES = ("landing", "lake", "quarantine", "shards", "consumers", "other")
# report keys beside the places: lines removed by the "contains the id" rule, files deleted as
# leftovers of killed writers, files that could not be read (so could not be erased: act on them)
REPORT_KEYS = ("unparsed", "temp_files", "unreadable")


def _place(paths: CorebrainPaths, path: Path) -> str:
    if path.is_relative_to(paths.landing):
        return "landing"
    if path.is_relative_to(paths.lake_quarantine):
        return "quarantine"
    if path.is_relative_to(consumers_root(paths.lake)):
        return "consumers"
    if path.is_relative_to(paths.lake):
        return "lake"
    if path.is_relative_to(paths.shards):
        return "shards"
    return "other"


def _walk(paths: CorebrainPaths, pattern: str) -> Iterable[tuple[Path, Path]]:
    """(path, path relative to its root) matching ``pattern`` under every state root (the home, and
    a lake configured outside it), skipping Dagster's folder and symlinks; a root nested in another
    is walked once."""
    roots = paths.state_roots
    for root in roots:
        if not root.is_dir():
            continue
        inner = [other for other in roots if other != root and other.is_relative_to(root)]
        for path in sorted(root.rglob(pattern)):
            rel = path.relative_to(root)
            if (root == paths.home and rel.parts[0] in SKIP_DIRS) or path.is_symlink():
                continue
            if any(path.is_relative_to(other) for other in inner):
                continue  # walked with its own root
            yield path, rel


def _candidates(paths: CorebrainPaths) -> Iterable[tuple[Path, bool]]:
    """(file, is an MLflow artifact) for every file erasure reads: all Parquet under every state
    root, all landing files, the JSON / CSV files of the MLflow artifact store."""
    for path, rel in _walk(paths, "*"):
        if not path.is_file():
            continue
        if any(TEMP_FILE.match(part) or TEMP_SHARDS_DIR.match(part) for part in rel.parts):
            continue  # swept, not rewritten
        suffix = path.suffix.lower()
        in_mlflow = path.is_relative_to(paths.mlflow_artifacts)
        if suffix == ".parquet" or (suffix in TEXT_ERASERS and (in_mlflow or path.is_relative_to(paths.landing))):
            yield path, in_mlflow


def sweep_temp_files(paths: CorebrainPaths, places: Iterable[str]) -> dict[str, int]:
    """Delete what killed writers left in the given places: it may hold erased users' rows and no
    reader ever looks at it. Call only while holding the pool of the writers of those places."""
    wanted = set(places)
    removed: dict[str, int] = {}
    for path, _rel in _walk(paths, ".*"):
        if _place(paths, path) not in wanted:
            continue
        if path.is_file() and TEMP_FILE.match(path.name):
            path.unlink(missing_ok=True)
            removed[paths.state_name(path)] = 1
    if "other" in wanted:
        # DuckDB spill folders of an ingest session (``$COREBRAIN_HOME/tmp/ingest-<pid>``): staged rows
        for folder in sorted((paths.home / "tmp").glob("ingest-*")):
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True)
                removed[folder.relative_to(paths.home).as_posix()] = 1
    if "shards" in wanted:
        # the shards writer's own sweep: staging folders go, a folder a kill left swapped out is put
        # back (and then erased like the others)
        for name in sweep_leftovers(paths.shards):
            removed[f"shards/{name}"] = 1
    return removed


def erase_from_files(paths: CorebrainPaths, user_ids: Iterable[str],
                     places: Iterable[str] = ALL_PLACES) -> dict[str, dict[str, int]]:
    """The given places on disk (default: all); returns {place: {relative file: rows removed}},
    {'manifests': {path: 1}} for the refreshed manifests, and the ``REPORT_KEYS``: {'unparsed':
    {file: lines removed because they contain an id}, 'temp_files': {file: 1} deleted,
    'unreadable': {file: 1} (could not be read, so not erased)}."""
    matcher = IdMatcher(str(u) for u in user_ids if str(u).strip())
    wanted = set(places)
    unknown = wanted - set(ALL_PLACES)
    if unknown:
        raise ValueError(f"unknown places {sorted(unknown)}; known: {ALL_PLACES}")
    result: dict[str, dict[str, int]] = {place: {} for place in ALL_PLACES if place in wanted}
    result.update({key: {} for key in REPORT_KEYS})
    result["temp_files"] = sweep_temp_files(paths, wanted)
    rewritten: set[Path] = set()
    for path, in_mlflow in _candidates(paths):
        place = _place(paths, path)
        if place not in wanted:
            continue
        rel = paths.state_name(path)
        try:
            count = erase_file(path, matcher, documents=in_mlflow, delete_if_empty=place == "landing")
        except Exception:  # noqa: BLE001 - an unreadable (corrupt) file is reported, not fatal
            result["unreadable"][rel] = 1
            continue
        if count.removed:
            result[place][rel] = count.removed
            if path.exists():
                rewritten.add(path.resolve())
        if count.unparsed:
            result["unparsed"][rel] = count.unparsed
    manifests = [m for root in paths.state_roots for m in refresh_manifests(root, rewritten)] if rewritten else []
    result["manifests"] = dict.fromkeys(manifests, 1)
    return result


def erase_from_warehouse(warehouse: Path | Warehouse, user_ids: Iterable[str]) -> dict[str, int]:
    """Remove the users from every base table with a ``user_id`` column (views follow their tables);
    in a table with a quarantine ``raw`` column too, rows without a ``user_id`` are judged by their
    raw text as in the lake's quarantine. ``warehouse``: a :class:`~pipelines.warehouse.Warehouse`
    or the path of a DuckDB file. Returns {"schema.table": rows removed}.

    Writes the warehouse: call only while holding the ``duckdb`` pool.
    """
    matcher = IdMatcher(str(u) for u in user_ids)
    if not isinstance(warehouse, Warehouse):
        warehouse = DuckDBWarehouse(Path(warehouse))
    if not warehouse.exists():
        return {}
    return warehouse.erase_users(sorted(matcher.ids), lambda table: owned_rows(table, matcher)[0])


def hashed_ids(user_ids: Iterable[str]) -> list[str]:
    """The log keeps sha256 of each id, not the id: it proves what was erased without keeping it."""
    return sorted(hashlib.sha256(str(u).encode()).hexdigest() for u in set(user_ids))


def append_erasure_log(path: Path, entry: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")


ERASURE_LOG_NAME = "erasure_log.jsonl"   # under lake/


def erasure_generation(log_path: Path) -> int:
    """How many erasures the log records: the generation any data written now belongs to. Shards
    record it; a model trained on shards of an older generation has seen erased users."""
    if not log_path.is_file():
        return 0
    return sum(1 for line in log_path.read_text(encoding="utf-8").splitlines() if line.strip())


def stamp_erasure_generation(shards_root: Path, generation: int) -> list[str]:
    """Record in every shards manifest that its files are clean as of ``generation`` (the erasure
    job calls it once the shards no longer hold the erased users)."""
    stamped: list[str] = []
    if not shards_root.is_dir():
        return stamped
    for manifest_path in sorted(shards_root.glob("*/manifest.json")):
        if any(TEMP_SHARDS_DIR.match(part) for part in manifest_path.parts):
            continue
        try:
            manifest = json.loads(manifest_path.read_text())
        except ValueError:
            continue
        lineage = manifest.setdefault("lineage", {}) if isinstance(manifest, dict) else None
        if lineage is None or lineage.get("erasure_generation") == generation:
            continue
        lineage["erasure_generation"] = generation
        _write_atomic(manifest_path, manifest_text(manifest).encode())
        stamped.append(manifest_path.as_posix())
    return stamped
