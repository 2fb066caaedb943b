"""Builders of landing files for the ingest tests (written into a tmp COREBRAIN_HOME)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.settings import CorebrainPaths

DAY = date(2026, 1, 10)


def event(event_id: str = "e1", ts: str = "2026-01-10T12:00:00Z", user_id: str = "u1",
          event_type: str = "view", item_id: str | None = "i1", **extra) -> dict:
    row = {"event_id": event_id, "ts": ts, "user_id": user_id, "event_type": event_type, "item_id": item_id}
    row.update(extra)
    return row


def good_events(n: int, prefix: str = "g", day: date = DAY) -> list[dict]:
    return [event(f"{prefix}{i}", f"{day.isoformat()}T{i % 24:02d}:00:00Z", f"u{i % 7}", "view", f"i{i % 5}")
            for i in range(n)]


def day_folder(paths: CorebrainPaths, day: date = DAY) -> Path:
    folder = paths.landing_events / f"date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_jsonl(paths: CorebrainPaths, name: str, rows: list, day: date = DAY) -> Path:
    path = day_folder(paths, day) / name
    lines = [r if isinstance(r, bytes) else (r if isinstance(r, str) else json.dumps(r)).encode() for r in rows]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def write_csv(paths: CorebrainPaths, name: str, rows: list[dict], day: date = DAY,
              columns: list[str] | None = None) -> Path:
    columns = columns or list(rows[0])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    path = day_folder(paths, day) / name
    path.write_text(buffer.getvalue())
    return path


def write_parquet(paths: CorebrainPaths, name: str, rows: list[dict] | pa.Table, day: date = DAY) -> Path:
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows)
    path = day_folder(paths, day) / name
    pq.write_table(table, path)
    return path


def read_quarantine(paths: CorebrainPaths, day: date = DAY) -> list[dict]:
    return pq.read_table(paths.lake_quarantine / f"landed={day.isoformat()}.parquet").to_pylist()


def read_events(paths: CorebrainPaths) -> list[dict]:
    files = sorted(paths.lake_events.glob("date=*/landed=*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]
