"""Lake Parquet fixtures written exactly as contracts.md section 2 says ingest writes them.

Tests build the lake themselves (no dependency on the ingest code) so that the transform stage is
tested against the contract, not against one implementation of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()),
    ("ts", pa.timestamp("us")),
    ("user_id", pa.string()),
    ("session_id", pa.string()),
    ("event_type", pa.string()),
    ("item_id", pa.string()),
    ("query", pa.string()),
    ("market", pa.string()),
    ("price", pa.float64()),
    ("source_file", pa.string()),
    ("source_row", pa.int64()),
])

QUARANTINE_SCHEMA = pa.schema([
    ("source_file", pa.string()),
    ("source_row", pa.int64()),
    ("reason", pa.string()),
    ("detail", pa.string()),
    ("raw", pa.string()),
    ("landing_date", pa.date32()),
])


def ev(event_id: str, ts: str, user_id: str, event_type: str, item_id: str | None = None,
       query: str | None = None, market: str | None = "se", price: float | None = None) -> dict:
    """One lake event row; ``ts`` is ISO-8601 UTC without zone."""
    return {"event_id": event_id, "ts": datetime.fromisoformat(ts).replace(tzinfo=None),
            "user_id": user_id, "session_id": f"s-{user_id}", "event_type": event_type,
            "item_id": item_id, "query": query, "market": market, "price": price}


def write_events(lake: Path, landed: str, rows: Iterable[dict]) -> list[Path]:
    """Write ``rows`` as landing day ``landed``: one file per event day, like ingest does."""
    by_day: dict[str, list[dict]] = {}
    for i, row in enumerate(rows):
        row = {**row, "source_file": f"events/date={landed}/part-0.jsonl", "source_row": i}
        by_day.setdefault(row["ts"].date().isoformat(), []).append(row)
    written = []
    for day, day_rows in sorted(by_day.items()):
        folder = lake / "events" / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"landed={landed}.parquet"
        pq.write_table(pa.Table.from_pylist(day_rows, schema=EVENT_SCHEMA), path)
        written.append(path)
    return written


def write_quarantine(lake: Path, landed: str, rows: Iterable[dict]) -> Path:
    folder = lake / "quarantine"
    folder.mkdir(parents=True, exist_ok=True)
    day = datetime.fromisoformat(landed).replace(tzinfo=UTC).date()
    table = pa.Table.from_pylist([{**r, "landing_date": day} for r in rows], schema=QUARANTINE_SCHEMA)
    path = folder / f"landed={landed}.parquet"
    pq.write_table(table, path)
    return path


def write_items(lake: Path, rows: Iterable[dict]) -> Path:
    folder = lake / "items"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "items.parquet"
    pq.write_table(pa.Table.from_pylist(list(rows)), path)
    return path


def shop_events(day: str, users: int = 4, items: int = 5, prefix: str = "") -> list[dict]:
    """A small, deterministic day of a shop: views, a search, carts and a purchase per user."""
    rows = []
    for u in range(users):
        uid = f"u{u}"
        base = f"{day}T{8 + u:02d}:00:00"
        hh = 8 + u
        rows.append(ev(f"{prefix}{day}-{uid}-0", base, uid, "view", f"i{(u + 0) % items}"))
        rows.append(ev(f"{prefix}{day}-{uid}-1", f"{day}T{hh:02d}:01:00", uid, "search",
                       query=f"  Red   poster {u} "))
        rows.append(ev(f"{prefix}{day}-{uid}-2", f"{day}T{hh:02d}:02:00", uid, " VIEW ", f"i{(u + 1) % items}"))
        rows.append(ev(f"{prefix}{day}-{uid}-3", f"{day}T{hh:02d}:03:00", uid, "add_to_cart", f"i{(u + 1) % items}"))
        if u % 2 == 0:
            rows.append(ev(f"{prefix}{day}-{uid}-4", f"{day}T{hh:02d}:04:00", uid, "purchase",
                           f"i{(u + 1) % items}", price=9.5))
    return rows
