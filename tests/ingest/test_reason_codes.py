"""One fixture per reason class: the row (or file) lands in quarantine with its code, and the counts
reconcile (rows read = accepted + quarantined)."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pytest

from pipelines.ingest import reasons
from pipelines.ingest.contract import IngestSettings
from pipelines.ingest.day import ingest_landing_day
from tests.ingest.helpers import (
    DAY,
    day_folder,
    event,
    good_events,
    read_events,
    read_quarantine,
    write_csv,
    write_jsonl,
    write_parquet,
)

SETTINGS = IngestSettings()

ROW_CASES = {
    reasons.MISSING_EVENT_ID: [event(event_id=""), event(event_id=None), event(event_id="   ")],
    reasons.MISSING_USER_ID: [event(user_id=""), event(user_id=None)],
    reasons.MISSING_TS: [event(ts=""), event(ts=None)],
    reasons.BAD_TS: [event(ts="yesterday"), event(ts="2026-13-45T00:00:00")],
    reasons.TS_IN_FUTURE: [event(ts="2026-01-12T00:00:00Z"), event(ts="2030-01-01T00:00:00")],
    reasons.TS_BEFORE_FLOOR: [event(ts="1999-12-31T23:59:59Z")],
    reasons.MISSING_EVENT_TYPE: [event(event_type="")],
    reasons.UNKNOWN_EVENT_TYPE: [event(event_type="teleport")],
    reasons.MISSING_ITEM_ID: [event(event_type="purchase", item_id=None), event(event_type="view", item_id="")],
    reasons.MISSING_QUERY: [event(event_type="search", item_id=None), event(event_type="search", query="  ")],
    reasons.STRING_TOO_LONG: [event(event_id="x" * 129), event(user_id="u" * 129),
                              event(event_type="search", item_id=None, query="q" * 513)],
    reasons.WRONG_TYPE: [event(price="cheap"), event(user_id=["a", "b"]), event(ts=1767225600),
                         event(item_id={"id": 1})],
}


@pytest.mark.parametrize("reason", sorted(ROW_CASES))
def test_row_reason_jsonl(corebrain_home, reason):
    bad = ROW_CASES[reason]
    good = good_events(5)
    for i, row in enumerate(bad):
        row["event_id"] = row["event_id"] if reason in (reasons.MISSING_EVENT_ID, reasons.STRING_TOO_LONG) \
            else f"bad{i}"
    write_jsonl(corebrain_home, "a.jsonl", good + bad)
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    quarantine = read_quarantine(corebrain_home)
    assert [q["reason"] for q in quarantine] == [reason] * len(bad)
    assert [q["source_row"] for q in quarantine] == list(range(6, 6 + len(bad)))
    assert report.rows_read == len(good) + len(bad) == report.accepted + report.quarantined
    assert report.accepted == len(read_events(corebrain_home)) == 5
    assert all(q["raw"] and q["source_file"] == "events/date=2026-01-10/a.jsonl" for q in quarantine)


def test_limits_are_exact(corebrain_home):
    """128 chars for ids and 512 for a query are still accepted."""
    write_jsonl(corebrain_home, "a.jsonl", [
        event(event_id="e" * 128, user_id="u" * 128, item_id="i" * 128),
        event(event_id="s1", event_type="search", item_id=None, query="q" * 512)])
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    assert (report.accepted, report.quarantined) == (2, 0)


def test_future_skew_and_floor_are_configurable(corebrain_home):
    write_jsonl(corebrain_home, "a.jsonl", [event("e1", "2026-01-11T20:00:00Z"), event("e2", "2010-06-01T00:00:00")])
    strict = IngestSettings.from_env(future_skew_hours=0, ts_floor="2020-01-01")
    report = ingest_landing_day(corebrain_home, DAY, strict)
    assert report.reasons == {reasons.TS_IN_FUTURE: 1, reasons.TS_BEFORE_FLOOR: 1}
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    assert report.accepted == 2


def test_broken_json_lines(corebrain_home):
    write_jsonl(corebrain_home, "a.jsonl", [event("e1"), '{"event_id": "e2", "ts": ', "[1, 2]", '"text"',
                                            event("e3")])
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    quarantine = read_quarantine(corebrain_home)
    assert [(q["source_row"], q["reason"]) for q in quarantine] == [(2, reasons.BROKEN_JSON_LINE),
                                                                    (3, reasons.BROKEN_JSON_LINE),
                                                                    (4, reasons.BROKEN_JSON_LINE)]
    assert quarantine[0]["raw"] == '{"event_id": "e2", "ts": '
    assert (report.rows_read, report.accepted, report.quarantined) == (5, 2, 3)


def test_invalid_utf8_jsonl_csv_parquet(corebrain_home):
    good = json.dumps(event("e1")).encode()
    bad = json.dumps(event("e2", user_id="UUU")).encode().replace(b"UUU", b"u\xff\xfe")
    write_jsonl(corebrain_home, "a.jsonl", [good, bad, json.dumps(event("e3", user_id="\udc80"))])
    (day_folder(corebrain_home) / "b.csv").write_bytes(
        b"event_id,ts,user_id,event_type,item_id\nc1,2026-01-10T01:00:00,u1,view,i1\nc2,2026-01-10,\xc3\x28,view,i1\n")
    table = pa.table({"event_id": pa.array([b"p1", b"p2"], pa.binary()),
                      "ts": ["2026-01-10T01:00:00", "2026-01-10T02:00:00"],
                      "user_id": pa.array([b"u1", b"\x80abc"], pa.binary()),
                      "event_type": ["view", "view"], "item_id": ["i1", "i2"]})
    write_parquet(corebrain_home, "c.parquet", table)
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    quarantine = read_quarantine(corebrain_home)
    assert [(q["source_file"].rsplit("/", 1)[1], q["source_row"], q["reason"]) for q in quarantine] == [
        ("a.jsonl", 2, reasons.INVALID_UTF8), ("a.jsonl", 3, reasons.INVALID_UTF8),
        ("b.csv", 3, reasons.INVALID_UTF8), ("c.parquet", 2, reasons.INVALID_UTF8)]
    assert (report.rows_read, report.accepted, report.quarantined) == (7, 3, 4)


def test_wrong_column_types_in_parquet(corebrain_home):
    table = pa.table({"event_id": ["p1", "p2"], "ts": ["2026-01-10T01:00:00", "2026-01-10T02:00:00"],
                      "user_id": ["u1", "u2"], "event_type": ["view", "view"], "item_id": ["i1", "i2"],
                      "price": ["9.5", "n/a"]})
    write_parquet(corebrain_home, "a.parquet", table)
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    assert report.reasons == {reasons.WRONG_TYPE: 1}
    assert read_events(corebrain_home)[0]["price"] == 9.5


def test_missing_required_columns_rejects_whole_file(corebrain_home):
    rows = [{k: v for k, v in event(f"e{i}").items() if k != "user_id"} for i in range(4)]
    write_csv(corebrain_home, "a.csv", rows)
    write_jsonl(corebrain_home, "b.jsonl", good_events(2))
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    quarantine = read_quarantine(corebrain_home)
    assert [q["reason"] for q in quarantine] == [reasons.MISSING_COLUMNS] * 4
    assert "user_id" in report.file_errors["events/date=2026-01-10/a.csv"]
    assert (report.rows_read, report.accepted, report.quarantined) == (6, 2, 4)
    assert {e["source_file"] for e in read_events(corebrain_home)} == {"events/date=2026-01-10/b.jsonl"}


def test_extra_columns_are_schema_drift(corebrain_home):
    write_csv(corebrain_home, "a.csv", [event("e1", device="ios"), event("e2", device="web")])
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    assert report.accepted == 2
    assert report.schema_drift == {"events/date=2026-01-10/a.csv": ["device"]}


def test_empty_and_corrupt_files_are_file_level_entries(corebrain_home):
    folder = day_folder(corebrain_home)
    (folder / "empty.jsonl").write_bytes(b"")
    (folder / "blank.csv").write_bytes(b"\n\n")
    write_csv(corebrain_home, "header_only.csv", [event("x")]).write_text("event_id,ts,user_id,event_type\n")
    good = write_parquet(corebrain_home, "good.parquet", good_events(3))
    data = good.read_bytes()
    (folder / "truncated.parquet").write_bytes(data[: len(data) // 2])
    (folder / "garbage.parquet").write_bytes(os.urandom(64))
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    entries = {q["source_file"].rsplit("/", 1)[1]: (q["reason"], q["source_row"]) for q in read_quarantine(corebrain_home)}
    assert entries == {"empty.jsonl": (reasons.EMPTY_FILE, 0), "blank.csv": (reasons.EMPTY_FILE, 0),
                       "header_only.csv": (reasons.EMPTY_FILE, 0),
                       "truncated.parquet": (reasons.CORRUPT_FILE, 0),
                       "garbage.parquet": (reasons.CORRUPT_FILE, 0)}
    assert (report.files_read, report.files_rejected) == (1, 5)
    assert report.rows_read == report.accepted == 3 and report.quarantined == 0


def test_unsafe_file_names_are_not_read(corebrain_home, tmp_path):
    outside = tmp_path / "secret.jsonl"
    outside.write_text(json.dumps(event("s1")) + "\n")
    folder = day_folder(corebrain_home)
    (folder / "link.jsonl").symlink_to(outside)
    (folder / "..%2f..%2fetc.jsonl").write_text(json.dumps(event("s2")) + "\n")
    (folder / "new\nline.jsonl").write_text(json.dumps(event("s3")) + "\n")
    (folder / "notes.txt").write_text("hello")
    (folder / "sub").mkdir()
    (folder / ".inflight.jsonl").write_text(json.dumps(event("s4")) + "\n")
    write_jsonl(corebrain_home, "ok.jsonl", [event("e1")])
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    got = sorted((q["reason"], q["source_file"]) for q in read_quarantine(corebrain_home))
    assert got == [
        (reasons.UNSAFE_PATH, "events/date=2026-01-10/..%2f..%2fetc.jsonl"),
        (reasons.UNSAFE_PATH, "events/date=2026-01-10/link.jsonl"),
        (reasons.UNSAFE_PATH, "events/date=2026-01-10/new\\nline.jsonl"),
        (reasons.UNSUPPORTED_FILE, "events/date=2026-01-10/notes.txt"),
        (reasons.UNSUPPORTED_FILE, "events/date=2026-01-10/sub"),
    ]
    assert [e["event_id"] for e in read_events(corebrain_home)] == ["e1"]
    assert report.hidden_files == [".inflight.jsonl"]


def test_every_reason_code_is_documented():
    text = (__import__("pathlib").Path(reasons.__file__)).read_text()
    for code in reasons.ALL_REASONS:
        line = next(ln for ln in text.splitlines() if ln.startswith(f"{code} = "))
        assert "#" in line, f"{code} has no one-line meaning"
    assert len(set(reasons.ALL_REASONS)) == len(reasons.ALL_REASONS)


def test_missing_required_column_in_json_lines(corebrain_home):
    """JSON Lines has no header: a key absent from every line is a missing column (whole file)."""
    rows = [{k: v for k, v in event(f"e{i}").items() if k != "ts"} for i in range(3)]
    write_jsonl(corebrain_home, "a.jsonl", rows + ["not json"])
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    assert [q["reason"] for q in read_quarantine(corebrain_home)] == [reasons.MISSING_COLUMNS] * 3 + [
        reasons.BROKEN_JSON_LINE]
    assert (report.rows_read, report.accepted, report.quarantined) == (4, 0, 4)
    assert read_events(corebrain_home) == []
