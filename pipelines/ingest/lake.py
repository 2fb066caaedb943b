"""Writing the lake: typed Parquet, deterministic bytes, atomic replace of one landing day's files.

A landing day D owns exactly the files named ``landed=D.parquet`` (one per event day under
``lake/events/date=*/`` plus ``lake/quarantine/landed=D.parquet``). Writing D replaces all of them
and removes those a previous run of D wrote but this one does not, so reruns are idempotent.
Files are written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("ts", pa.timestamp("us")), ("user_id", pa.string()),
    ("session_id", pa.string()), ("event_type", pa.string()), ("item_id", pa.string()),
    ("query", pa.string()), ("market", pa.string()), ("price", pa.float64()),
    ("source_file", pa.string()), ("source_row", pa.int64()),
])

QUARANTINE_SCHEMA = pa.schema([
    ("source_file", pa.string()), ("source_row", pa.int64()), ("reason", pa.string()),
    ("detail", pa.string()), ("raw", pa.string()), ("landing_date", pa.date32()),
    # best-effort user id of the rejected row (null when unreadable): lets erasure find it
    ("user_id", pa.string()),
])

ITEM_SCHEMA = pa.schema([
    ("item_id", pa.string()), ("title", pa.string()), ("category", pa.string()), ("tags", pa.string()),
    ("source_file", pa.string()), ("source_row", pa.int64()),
])

LANDED_NAME = re.compile(r"^landed=(\d{4}-\d{2}-\d{2})\.parquet$")
DATE_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    """Same rows in, same bytes out: fixed writer options, no wall-clock metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table.replace_schema_metadata(None), tmp, compression="zstd", compression_level=3,
                   row_group_size=256 * 1024, write_statistics=True, use_dictionary=True)
    os.replace(tmp, path)


def events_path(lake_events: Path, event_day: date, landing_day: date) -> Path:
    return lake_events / f"date={event_day.isoformat()}" / f"landed={landing_day.isoformat()}.parquet"


def quarantine_path(lake_quarantine: Path, landing_day: date) -> Path:
    return lake_quarantine / f"landed={landing_day.isoformat()}.parquet"


def landed_event_files(lake_events: Path) -> list[tuple[date, date, Path]]:
    """(event day, landing day, path) of every lake event file, sorted."""
    found: list[tuple[date, date, Path]] = []
    if not lake_events.is_dir():
        return found
    for day_dir in lake_events.iterdir():
        day_match = DATE_DIR.match(day_dir.name)
        if not day_match or not day_dir.is_dir():
            continue
        for file in day_dir.iterdir():
            landed_match = LANDED_NAME.match(file.name)
            if landed_match:
                found.append((date.fromisoformat(day_match.group(1)),
                              date.fromisoformat(landed_match.group(1)), file))
    return sorted(found)


def replace_landing_day(lake_events: Path, lake_quarantine: Path, landing_day: date,
                        events_by_day: dict[date, pa.Table], quarantine: pa.Table) -> list[Path]:
    """Write landing day D's files and delete D's stale ones; returns the paths written."""
    written: list[Path] = []
    for event_day in sorted(events_by_day):
        path = events_path(lake_events, event_day, landing_day)
        write_parquet_atomic(events_by_day[event_day], path)
        written.append(path)
    q_path = quarantine_path(lake_quarantine, landing_day)
    write_parquet_atomic(quarantine, q_path)
    written.append(q_path)
    keep = set(written)
    for _event_day, landed, path in landed_event_files(lake_events):
        if landed == landing_day and path not in keep:
            path.unlink()
            _remove_if_empty(path.parent)
    return written


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def table_from_rows(rows: Iterable[tuple], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) or [[] for _ in schema]
    return pa.table([pa.array(list(col), type=field.type) for col, field in zip(columns, schema, strict=True)],
                    schema=schema)
