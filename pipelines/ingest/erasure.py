"""Erasure: remove given user ids from every file the pipeline keeps, and from the warehouse.

Pure functions over paths; the ``erase_users`` job (``pipelines/defs/erasure.py``) calls them and
writes the erasure log. Places:

- landing files (JSONL / CSV / Parquet), so that no rerun or backfill ever brings the rows back;
- the lake: every Parquet file with a ``user_id`` column (events, consumers' batch tables, ...);
- the quarantine: rows whose ``user_id`` matches, or whose ``raw`` text holds an id as a token
  (rows too broken to have a user_id);
- training shards: Parquet files with ``user_id`` are rewritten and every ``manifest.json`` that
  lists a rewritten file gets its ``rows`` and ``sha256`` updated;
- the DuckDB warehouse: ``DELETE`` from every base table with a ``user_id`` column.

Each returns counts of rows removed per file or table; a file without those users is not rewritten.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.ingest.lake import write_parquet_atomic
from pipelines.settings import CorebrainPaths
from pipelines.shards.manifest import manifest_text, sha256_file

SKIP_DIRS = {"dagster_home", ".git"}


def token_pattern(user_ids: Iterable[str]) -> re.Pattern[str]:
    """Matches any of the ids as a whole token (``u1`` does not match inside ``u10``)."""
    alternatives = "|".join(re.escape(u) for u in sorted(set(user_ids), key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


def _ids_array(user_ids: set[str]) -> pa.Array:
    return pa.array(sorted(user_ids), pa.string())


def _user_id_mask(table: pa.Table, user_ids: set[str]) -> pa.ChunkedArray:
    column = table.column("user_id")
    if not pa.types.is_string(column.type):
        column = pc.cast(column, pa.string())
    return pc.fill_null(pc.is_in(column, value_set=_ids_array(user_ids)), False)


def erase_from_parquet(path: Path, user_ids: set[str], raw_pattern: re.Pattern[str] | None = None) -> int:
    """Rewrite ``path`` without rows of those users; 0 (file untouched) when it holds none."""
    schema = pq.read_schema(path)
    if "user_id" not in schema.names and not (raw_pattern and "raw" in schema.names):
        return 0
    table = pq.read_table(path)
    mask = (_user_id_mask(table, user_ids) if "user_id" in schema.names
            else pa.chunked_array([pa.array([False] * table.num_rows, pa.bool_())]))
    if raw_pattern is not None and "raw" in schema.names:
        raw_hits = pa.array([bool(raw and raw_pattern.search(raw)) for raw in table.column("raw").to_pylist()],
                            pa.bool_())
        mask = pc.or_(mask, raw_hits)
    removed = pc.sum(mask).as_py() or 0
    if removed:
        write_parquet_atomic(table.filter(pc.invert(mask)), path)
    return removed


def erase_from_text_file(path: Path, user_ids: set[str], pattern: re.Pattern[str]) -> int:
    """JSONL / CSV landing file: blank the lines of those users (parsed user_id, else an id token).

    Blank lines are not rows to the readers, so re-ingesting gives the erased lake back exactly."""
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    keep: list[bytes] = []
    removed = 0
    user_col: int | None = None
    is_csv = path.suffix.lower() == ".csv"
    for number, line in enumerate(lines):
        text = line.decode("utf-8", "replace")
        if is_csv and number == 0:
            header = [h.strip().lstrip("\ufeff") for h in next(csv.reader([text]), [])]
            user_col = header.index("user_id") if "user_id" in header else None
            keep.append(line)
            continue
        if _line_user(text, is_csv, user_col) in user_ids or pattern.search(text):
            removed += 1
            # a blank line keeps every other line's number (the lake's source_row) unchanged
            keep.append(line[len(line.rstrip(b"\r\n")):])
        else:
            keep.append(line)
    if removed:
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_bytes(b"".join(keep))
        os.replace(tmp, path)
    return removed


def _line_user(text: str, is_csv: bool, user_col: int | None) -> str | None:
    try:
        if is_csv:
            fields = next(csv.reader([text]), [])
            return fields[user_col].strip() if user_col is not None and user_col < len(fields) else None
        obj = json.loads(text)
        value = obj.get("user_id") if isinstance(obj, dict) else None
        return str(value).strip() if value is not None else None
    except (ValueError, csv.Error):
        return None


def erase_from_landing(landing: Path, user_ids: set[str]) -> dict[str, int]:
    pattern = token_pattern(user_ids)
    counts: dict[str, int] = {}
    if not landing.is_dir():
        return counts
    for path in sorted(landing.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        suffix = path.suffix.lower()
        try:
            if suffix == ".parquet":
                n = erase_from_parquet(path, user_ids)
            elif suffix in {".jsonl", ".json", ".csv"}:
                n = erase_from_text_file(path, user_ids, pattern)
            else:
                continue
        except Exception:  # noqa: BLE001 - an unreadable (corrupt) file is reported, not fatal
            counts[f"UNREADABLE:{path.relative_to(landing).as_posix()}"] = -1
            continue
        if n:
            counts[path.relative_to(landing).as_posix()] = n
    return counts


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


ALL_PLACES = ("landing", "lake", "quarantine", "shards", "other")


def _place(paths: CorebrainPaths, path: Path) -> str:
    if path.is_relative_to(paths.landing):
        return "landing"
    if path.is_relative_to(paths.lake_quarantine):
        return "quarantine"
    if path.is_relative_to(paths.lake):
        return "lake"
    if path.is_relative_to(paths.shards):
        return "shards"
    return "other"


def erase_from_files(paths: CorebrainPaths, user_ids: Iterable[str],
                     places: Iterable[str] = ALL_PLACES) -> dict[str, dict[str, int]]:
    """The given places on disk (default: all); returns {place: {relative file: rows removed}}
    plus {'manifests': {path: 1}} for the refreshed manifests. ``other`` is any Parquet file with a
    ``user_id`` column elsewhere under ``$COREBRAIN_HOME`` (e.g. consumers' batch tables)."""
    ids = {str(u) for u in user_ids if str(u).strip()}
    if not ids:
        raise ValueError("no user ids to erase")
    wanted = set(places)
    unknown = wanted - set(ALL_PLACES)
    if unknown:
        raise ValueError(f"unknown places {sorted(unknown)}; known: {ALL_PLACES}")
    pattern = token_pattern(ids)
    result: dict[str, dict[str, int]] = {place: {} for place in ALL_PLACES if place in wanted}
    if "landing" in wanted:
        result["landing"] = erase_from_landing(paths.landing, ids)
    rewritten: set[Path] = set()
    for path in sorted(paths.home.rglob("*.parquet")):
        rel = path.relative_to(paths.home)
        place = _place(paths, path)
        if rel.parts[0] in SKIP_DIRS or place == "landing" or place not in wanted or path.is_symlink():
            continue
        n = erase_from_parquet(path, ids, raw_pattern=pattern if place == "quarantine" else None)
        if n:
            rewritten.add(path.resolve())
            result[place][rel.as_posix()] = n
    result["manifests"] = {m: 1 for m in refresh_manifests(paths.home, rewritten)} if rewritten else {}
    return result


def erase_from_warehouse(db_path: Path, user_ids: Iterable[str]) -> dict[str, int]:
    """DELETE the users from every base table with a ``user_id`` column (views follow their tables).

    Opens the file read-write: call only while holding the ``duckdb`` pool.
    """
    ids = sorted({str(u) for u in user_ids})
    if not db_path.exists():
        return {}
    counts: dict[str, int] = {}
    con = duckdb.connect(str(db_path))
    try:
        con.register("erase_ids", pa.table({"user_id": pa.array(ids, pa.string())}))
        tables = con.sql(
            "SELECT c.table_schema, c.table_name FROM information_schema.columns c "
            "JOIN information_schema.tables t ON t.table_schema = c.table_schema "
            "AND t.table_name = c.table_name AND t.table_catalog = c.table_catalog "
            "WHERE lower(c.column_name) = 'user_id' AND t.table_type = 'BASE TABLE' "
            "AND t.table_catalog = current_database() ORDER BY 1, 2").fetchall()
        for schema, table in tables:
            name = f'"{schema}"."{table}"'
            rows = con.sql(f"DELETE FROM {name} WHERE CAST(user_id AS VARCHAR) IN "
                           f"(SELECT user_id FROM erase_ids)").fetchall()
            if rows and rows[0][0]:
                counts[f"{schema}.{table}"] = int(rows[0][0])
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return counts


def hashed_ids(user_ids: Iterable[str]) -> list[str]:
    """The log keeps sha256 of each id, not the id: it proves what was erased without keeping it."""
    return sorted(hashlib.sha256(str(u).encode()).hexdigest() for u in set(user_ids))


def append_erasure_log(path: Path, entry: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
