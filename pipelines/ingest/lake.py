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
    pq.write_table(table.replace_schema_metadata(None), tmp, row_group_size=ROW_GROUP_ROWS, **WRITE_OPTIONS)
    os.replace(tmp, path)


WRITE_OPTIONS = dict(compression="zstd", compression_level=3, write_statistics=True, use_dictionary=True)
ROW_GROUP_ROWS = 256 * 1024
TMP_NAME = re.compile(r"^\..+\.tmp-(\d+)$")


def write_parquet_stream_atomic(batches: Iterable[pa.RecordBatch], schema: pa.Schema, path: Path) -> int:
    """Like :func:`write_parquet_atomic` for a stream of batches (memory: one row group), cut into
    row groups of exactly ``ROW_GROUP_ROWS`` rows so the bytes do not depend on the batch sizes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    rows = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    with pq.ParquetWriter(tmp, schema, **WRITE_OPTIONS) as writer:
        def flush(limit: int) -> None:
            nonlocal pending, pending_rows
            table = pa.Table.from_batches(pending, schema)
            while table.num_rows >= limit and table.num_rows > 0:
                writer.write_table(table.slice(0, ROW_GROUP_ROWS), row_group_size=ROW_GROUP_ROWS)
                table = table.slice(ROW_GROUP_ROWS)
            pending, pending_rows = table.to_batches(), table.num_rows
        for batch in batches:
            batch = pa.RecordBatch.from_arrays([batch.column(i).cast(f.type) for i, f in enumerate(schema)],
                                               schema=schema)
            pending.append(batch)
            pending_rows += batch.num_rows
            rows += batch.num_rows
            if pending_rows >= ROW_GROUP_ROWS:
                flush(ROW_GROUP_ROWS)
        if pending_rows or rows == 0:
            flush(1)
            if rows == 0:
                writer.write_table(schema.empty_table())
    os.replace(tmp, path)
    return rows


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != 0


def remove_stale_temp_files(lake: Path) -> list[Path]:
    """Delete ``.<name>.tmp-<pid>`` files under the lake whose writer process is gone (a killed
    ingest); a live writer's are left alone. Returns what was removed."""
    removed = []
    if not lake.is_dir():
        return removed
    for path in lake.rglob(".*.tmp-*"):
        match = TMP_NAME.match(path.name)
        if match and path.is_file() and not _pid_alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


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


def remove_stale_landing_day_files(lake_events: Path, landing_day: date, keep: set[Path]) -> None:
    """Delete landing day D's event files that this run did not write (and emptied day folders)."""
    for _event_day, landed, path in landed_event_files(lake_events):
        if landed == landing_day and path not in keep:
            path.unlink()
            _remove_if_empty(path.parent)


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
    remove_stale_landing_day_files(lake_events, landing_day, set(written))
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
