"""Fingerprints of an installation's data state, to prove reruns idempotent and runs complete.

- ``table_checksums``: every table and view of the warehouse -> md5 of its rows as text, sorted
  (DuckDB renders doubles with the shortest exact repr, so equal text means equal values). The
  DuckDB file itself is never byte-identical across rewrites (free pages, row groups), and the row
  order of an incremental table is not a property of its content: a rerun day is appended at the end.
- ``file_checksums``: sha256 of every file under a folder (lake, shards), by relative path.
- ``events_per_day_*``: rows per event day in the lake and in ``fct_events`` (no lost partition).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb

from pipelines.shards.manifest import sha256_file


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_checksums(warehouse: Path) -> dict[str, str]:
    """{"table:<schema>.<name>": "<rows>:<md5 of the sorted rows>"} for every table and view."""
    out: dict[str, str] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.sql("select table_schema, table_name, table_type from information_schema.tables "
                         "where table_catalog = current_database() order by all").fetchall()
        for schema, name, kind in tables:
            relation = f"{_quoted(schema)}.{_quoted(name)}"
            rows, digest = con.sql(
                f"select count(*), coalesce(md5(string_agg(cast(t as varchar), chr(10) "
                f"order by cast(t as varchar))), '') from {relation} as t").fetchall()[0]
            out[f"{'view' if kind == 'VIEW' else 'table'}:{schema}.{name}"] = f"{rows}:{digest}"
    return out


def file_checksums(root: Path, prefix: str) -> dict[str, str]:
    """{"<prefix>:<relative path>": sha256} for every file under ``root`` (none if it is missing)."""
    root = Path(root)
    if not root.exists():
        return {}
    return {f"{prefix}:{p.relative_to(root).as_posix()}": sha256_file(p)
            for p in sorted(root.rglob("*")) if p.is_file()}


def state_checksums(paths) -> dict[str, str]:
    """Warehouse tables, lake files and shard files of a ``CorebrainPaths`` installation."""
    return {**table_checksums(paths.warehouse), **file_checksums(paths.lake, "lake"),
            **file_checksums(paths.shards, "shards")}


def diff_checksums(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """Readable differences: entries missing, new, or changed (empty list = identical)."""
    lines = [f"missing after: {k}" for k in sorted(set(before) - set(after))]
    lines += [f"new after: {k}" for k in sorted(set(after) - set(before))]
    lines += [f"changed: {k} {before[k]} -> {after[k]}" for k in sorted(set(before) & set(after))
              if before[k] != after[k]]
    return lines


def events_per_day_lake(lake_events: Path) -> dict[str, int]:
    """Accepted rows per event day in ``lake/events/date=*/landed=*.parquet`` (the contract)."""
    files = sorted(Path(lake_events).glob("date=*/*.parquet"))
    if not files:
        return {}
    with duckdb.connect() as con:
        rows = con.sql("select cast(\"date\" as varchar), count(*) from read_parquet(?, hive_partitioning=true) "
                       "group by all order by all", params=[[str(f) for f in files]]).fetchall()
    return dict(rows)


def events_per_day_warehouse(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.sql("select cast(event_date as varchar), count(*) from fct_events "
                       "group by all order by all").fetchall()
    return dict(rows)
