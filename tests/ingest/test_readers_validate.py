"""Readers and value coercion on their own: formats, encodings, timestamps."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.ingest import reasons
from pipelines.ingest.contract import IngestSettings
from pipelines.ingest.readers import read_csv_bytes, read_json_bytes, read_landing_file
from pipelines.ingest.validate import Rejected, parse_ts, validate_row


def test_csv_quoted_newlines_bom_and_field_count():
    data = ("\ufeffevent_id,ts,user_id,event_type,item_id,query\n"
            'e1,2026-01-10T01:00:00,u1,search,,"red\nposter, large"\n'
            "e2,2026-01-10T02:00:00,u1,view,i1\n"
            "\n"
            "e3,2026-01-10T03:00:00,u1,view,i2,\n").encode()
    read = read_csv_bytes(data)
    assert read.columns[0] == "event_id"
    assert [(r.source_row, r.error[0] if r.error else None) for r in read.rows] == [
        (2, None), (4, reasons.BROKEN_CSV_ROW), (6, None)]
    assert read.rows[0].values["query"] == "red\nposter, large"
    assert read.rows[2].values["query"] is None


def test_json_array_file_is_accepted():
    read = read_json_bytes(b'[{"event_id": "e1"}, 5]', allow_array=True)
    assert [r.error[0] if r.error else None for r in read.rows] == [None, reasons.BROKEN_JSON_LINE]


def test_parquet_timestamps_ns_and_zoned(tmp_path):
    table = pa.table({"ts": pa.array([1_767_225_600_123_456_789], pa.timestamp("ns", tz="Europe/Stockholm")),
                      "user_id": pa.array([42], pa.int64())})
    pq.write_table(table, tmp_path / "a.parquet")
    read = read_landing_file(tmp_path / "a.parquet")
    ts = parse_ts(read.rows[0].values["ts"])
    assert ts == datetime(2026, 1, 1, 0, 0, 0, 123456)
    assert read.rows[0].values["user_id"] == 42


@pytest.mark.parametrize("text, expected", [
    ("2026-01-10T12:00:00Z", datetime(2026, 1, 10, 12)),
    ("2026-01-10 12:00:00+02:00", datetime(2026, 1, 10, 10)),
    ("2026-01-10", datetime(2026, 1, 10)),
    ("2026-01-10T12:00:00.1234567Z", datetime(2026, 1, 10, 12, 0, 0, 123456)),
    (datetime(2026, 1, 10, 12, tzinfo=UTC), datetime(2026, 1, 10, 12)),
    (date(2026, 1, 10), datetime(2026, 1, 10)),
])
def test_parse_ts(text, expected):
    assert parse_ts(text) == expected


def test_ids_may_be_integers_but_not_floats_or_bools():
    settings = IngestSettings()
    row = {"event_id": 7, "ts": "2026-01-10T00:00:00", "user_id": 3, "event_type": " VIEW ", "item_id": 11}
    event = validate_row(row, date(2026, 1, 10), settings)
    assert (event.event_id, event.user_id, event.item_id, event.event_type) == ("7", "3", "11", "view")
    for bad in (1.5, True):
        with pytest.raises(Rejected) as info:
            validate_row({**row, "user_id": bad}, date(2026, 1, 10), settings)
        assert info.value.reason == reasons.WRONG_TYPE


def test_settings_from_env(monkeypatch):
    monkeypatch.setenv("COREBRAIN_INGEST_FUTURE_SKEW_HOURS", "2")
    monkeypatch.setenv("COREBRAIN_INGEST_QUARANTINE_THRESHOLD", "0.2")
    settings = IngestSettings.from_env()
    assert settings.future_skew.total_seconds() == 7200 and settings.quarantine_threshold == 0.2
    assert IngestSettings.from_env(quarantine_threshold=0.01).quarantine_threshold == 0.01
    with pytest.raises(ValueError):
        IngestSettings.from_env(quarantine_threshold=2)
