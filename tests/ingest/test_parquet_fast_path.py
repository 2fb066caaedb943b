"""Parquet's fast path (DuckDB reads the file itself) decides every row exactly like the Arrow path."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.ingest import reasons
from pipelines.ingest.contract import IngestSettings
from pipelines.ingest.day import ingest_landing_day
from pipelines.ingest.scan import ParquetScanner, open_scanner
from tests.ingest.helpers import DAY, day_folder, read_events, read_quarantine, write_parquet

SETTINGS = IngestSettings()


def _types(path) -> dict[str, str]:
    with duckdb.connect() as con:
        return {n: t for n, t, *_ in con.sql(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()}


def _fast_batch(path):
    return open_scanner(path).whole_file_batch(_types(path))


def _hostile_table() -> pa.Table:
    """Good rows beside every kind of bad value the fast path's column kinds can hold."""
    ts = [datetime(2026, 1, 10, h, tzinfo=UTC) for h in range(12)]
    ts[3] = datetime(1, 1, 1, tzinfo=UTC)           # before the floor
    ts[4] = datetime(2026, 3, 1, tzinfo=UTC)        # in the future
    ts[5] = None                                    # missing
    micros = pa.array(ts, pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_pylist()
    micros[6] = 253_402_300_800_000_000             # year 10000: outside Python's datetime
    micros[8] = 2**63 - 1                           # DuckDB's 'infinity'
    return pa.table({
        "event_id": ["e0", " e1 ", "e2", "e3", "e4", "e5", "e6", "", "e8", "e9", "e10", "e0"],
        "ts": pa.array(micros, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "user_id": ["u0", "u1", "u2\u3000", "u3", "u4", "u5", "u6", "u7", None, "u9", "u10", "u11"],
        "session_id": ["s"] * 12,
        "event_type": ["view", "VIEW", "search", "view", "view", "view", "purchase", "view", "view",
                       "Vi\u0307ew", "teleport", "view"],
        "item_id": ["i0", "i1", None, "i3", "i4", "i5", None, "i7", "i8", "i9", "i10", "i0"],
        "query": [None, None, "  red  shoes ", None, None, None, None, None, None, None, None, None],
        "market": ["se", "uk", None, "se", "se", "se", "se", "se", "se", "se", "se", "se"],
        "price": [1.0, float("nan"), None, float("inf"), 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    })


def _lake_digest(home) -> dict[str, str]:
    return {p.relative_to(home.lake).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(home.lake.rglob("*.parquet"))}


def test_standard_file_takes_the_fast_path(corebrain_home):
    path = write_parquet(corebrain_home, "a.parquet", _hostile_table())
    batch = _fast_batch(path)
    assert batch is not None and batch.table is None and "read_parquet(" in batch.sql


@pytest.mark.parametrize("column, array", [
    ("event_id", pa.array([b"e1"], pa.binary())),                                  # bytes: decoded per row
    ("ts", pa.array([0], pa.int64()).cast(pa.timestamp("ms"))),                    # DuckDB would convert the unit
    ("ts", pa.array([0], pa.int64()).cast(pa.timestamp("ns", tz="UTC"))),
    ("ts", pa.array([datetime(2026, 1, 10).date()], pa.date32())),
    ("item_id", pa.array([[1]], pa.list_(pa.int64()))),
    ("user_id", pa.array(["u1"]).dictionary_encode()),
])
def test_other_types_take_the_arrow_path(corebrain_home, column, array):
    row = {"event_id": ["e1"], "ts": ["2026-01-10T01:00:00"], "user_id": ["u1"], "event_type": ["view"],
           "item_id": ["i1"]}
    table = pa.table({**row, column: array})
    path = write_parquet(corebrain_home, "a.parquet", table)
    assert _fast_batch(path) is None


def test_names_equal_but_for_case_take_the_arrow_path(corebrain_home):
    table = pa.table({"event_id": ["e1"], "Event_ID": ["x"], "ts": ["2026-01-10T01:00:00"], "user_id": ["u1"],
                      "event_type": ["view"], "item_id": ["i1"]})
    assert _fast_batch(write_parquet(corebrain_home, "a.parquet", table)) is None


def test_fast_path_equals_arrow_path(corebrain_home, monkeypatch):
    write_parquet(corebrain_home, "a.parquet", _hostile_table())
    fast = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    fast_lake, fast_quarantine = _lake_digest(corebrain_home), read_quarantine(corebrain_home)
    assert fast.reasons  # the table is hostile: there is something to compare
    monkeypatch.setattr(ParquetScanner, "whole_file_batch", lambda self, types: None)
    arrow = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    assert (fast.rows_read, fast.accepted, fast.quarantined, dict(fast.reasons)) == (
        arrow.rows_read, arrow.accepted, arrow.quarantined, dict(arrow.reasons))
    assert read_quarantine(corebrain_home) == fast_quarantine
    assert _lake_digest(corebrain_home) == fast_lake


def test_string_column_that_is_not_utf8_falls_back_to_row_reasons(corebrain_home):
    raw = pa.array([b"u1", b"u\xff\xfe", b"u3"], pa.binary())
    users = pa.Array.from_buffers(pa.string(), len(raw), raw.buffers(), raw.null_count)
    table = pa.table({"event_id": ["e1", "e2", "e3"], "ts": ["2026-01-10T01:00:00"] * 3, "user_id": users,
                      "event_type": ["view"] * 3, "item_id": ["i1"] * 3})
    path = day_folder(corebrain_home) / "a.parquet"
    pq.write_table(table, path)
    assert _fast_batch(path) is not None  # taken, then refused by DuckDB: the file is read again
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    assert (report.rows_read, report.accepted, report.quarantined) == (3, 2, 1)
    assert [(q["source_row"], q["reason"]) for q in read_quarantine(corebrain_home)] == [(2, reasons.INVALID_UTF8)]
    assert sorted(e["event_id"] for e in read_events(corebrain_home)) == ["e1", "e3"]
