"""Hostile input classes: each is a row reason or a file-level rejection, never a crash, and the good
rows beside the bad ones survive (rows read = accepted + quarantined)."""

from __future__ import annotations

import json

import pyarrow as pa

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
    write_jsonl,
    write_parquet,
)

SETTINGS = IngestSettings()


def _by_row(paths) -> dict[tuple[str, int], str]:
    return {(q["source_file"].rsplit("/", 1)[1], q["source_row"]): q["reason"] for q in read_quarantine(paths)}


def _reconciles(report) -> None:
    assert report.rows_read == report.accepted + report.quarantined


def test_year_one_with_an_offset_is_bad_ts_not_a_crash(corebrain_home):
    """Was an uncaught OverflowError (astimezone before year 1) that failed the whole day."""
    write_jsonl(corebrain_home, "a.jsonl", good_events(3) + [
        event("b1", ts="0001-01-01T00:00:00+01:00"), event("b2", ts="9999-12-31T23:30:00-01:00"),
        event("b3", ts="0001-01-01T00:00:00"), event("b4", ts="2026-W02-6T12:00:00+14:00")])
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    assert _by_row(corebrain_home) == {("a.jsonl", 4): reasons.BAD_TS, ("a.jsonl", 5): reasons.BAD_TS,
                                       ("a.jsonl", 6): reasons.TS_BEFORE_FLOOR}
    assert report.accepted == 4   # the ISO week date (Python's rules, through the residue path) is fine
    _reconciles(report)


def test_deep_nesting_is_a_reason_not_a_recursion_error(corebrain_home):
    """Was an uncaught RecursionError from json.loads."""
    deep = "[" * 300_000 + "]" * 300_000
    lines = good_events(2) + [deep, '{"event_id": "b1", "ts": "2026-01-10T01:00:00", "user_id": ' + deep
                              + ', "event_type": "view", "item_id": "i1"}',
                              '{"event_id": "b2", "ts": "2026-01-10T01:00:00", "user_id": "u1", '
                              '"event_type": "view", "item_id": "i1", "extra": ' + deep + '}']
    write_jsonl(corebrain_home, "a.jsonl", lines)
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    got = _by_row(corebrain_home)
    assert got[("a.jsonl", 3)] == reasons.BROKEN_JSON_LINE
    assert got[("a.jsonl", 4)] in (reasons.WRONG_TYPE, reasons.BROKEN_JSON_LINE)
    assert ("a.jsonl", 5) not in got   # an unknown column may be anything; it is dropped
    assert report.accepted == 3
    _reconciles(report)


def test_nan_inf_and_huge_numbers(corebrain_home):
    lines = good_events(2) + [
        '{"event_id": "n1", "ts": "2026-01-10T01:00:00", "user_id": "u1", "event_type": "view", "item_id": "i1", "price": NaN}',
        '{"event_id": "n2", "ts": "2026-01-10T01:00:00", "user_id": "u1", "event_type": "view", "item_id": "i1", "price": Infinity}',
        '{"event_id": "n3", "ts": "2026-01-10T01:00:00", "user_id": "u1", "event_type": "view", "item_id": "i1", "price": 1e400}',
        '{"event_id": "n4", "ts": "2026-01-10T01:00:00", "user_id": 1e400, "event_type": "view", "item_id": "i1"}',
        '{"event_id": "n5", "ts": "2026-01-10T01:00:00", "user_id": "u1", "event_type": "view", "item_id": "i1", "price": '
        + "9" * 400 + "}",
        '{"event_id": "n6", "ts": 1e400, "user_id": "u1", "event_type": "view", "item_id": "i1"}',
        '{"event_id": "n7", "ts": "2026-01-10T01:00:00", "user_id": "u1", "event_type": "view", "item_id": "i1", "price": "nan"}',
    ]
    write_jsonl(corebrain_home, "a.jsonl", lines)
    table = pa.table({"event_id": ["p1", "p2", "p3"], "ts": ["2026-01-10T01:00:00"] * 3, "user_id": ["u1"] * 3,
                      "event_type": ["view"] * 3, "item_id": ["i1"] * 3,
                      "price": pa.array([float("nan"), float("inf"), 1.5e308], pa.float64())})
    write_parquet(corebrain_home, "b.parquet", table)
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    got = _by_row(corebrain_home)
    assert got == {("a.jsonl", 4): reasons.WRONG_TYPE, ("a.jsonl", 5): reasons.WRONG_TYPE,
                   ("a.jsonl", 6): reasons.WRONG_TYPE, ("a.jsonl", 7): reasons.WRONG_TYPE,
                   ("a.jsonl", 8): reasons.WRONG_TYPE, ("b.parquet", 2): reasons.WRONG_TYPE}
    prices = {e["event_id"]: e["price"] for e in read_events(corebrain_home)}
    assert prices["n1"] is None and prices["n7"] is None and prices["p1"] is None and prices["p3"] == 1.5e308
    _reconciles(report)


def test_megabyte_strings_and_nul_bytes(corebrain_home):
    big = "q" * 3_000_000
    lines = good_events(2) + [
        json.dumps(event("m1", event_type="search", item_id=None, query=big)),
        json.dumps(event("m2", user_id="u\u0000x")),           # an escaped NUL: valid JSON text
        b'{"event_id": "m3", "ts": "2026-01-10", "user_id": "u\x00", "event_type": "view", "item_id": "i1"}',
    ]
    write_jsonl(corebrain_home, "a.jsonl", lines)
    (day_folder(corebrain_home) / "b.csv").write_bytes(
        b"event_id,ts,user_id,event_type,item_id\nc1,2026-01-10,u1,view,i1\nc2,2026-01-10,u\x00,view,i1\n"
        b"c3,2026-01-10,u1,view," + b"i" * 2_000_000 + b"\n")
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    quarantine = {(q["source_file"].rsplit("/", 1)[1], q["source_row"]): q for q in read_quarantine(corebrain_home)}
    assert quarantine[("a.jsonl", 3)]["reason"] == reasons.STRING_TOO_LONG
    assert len(quarantine[("a.jsonl", 3)]["raw"]) == 1_000_000   # raw is kept, cut to 1M characters
    assert quarantine[("a.jsonl", 5)]["reason"] == reasons.BROKEN_JSON_LINE   # a raw control character
    assert quarantine[("b.csv", 4)]["reason"] in (reasons.BROKEN_CSV_ROW, reasons.STRING_TOO_LONG)
    accepted = {e["event_id"]: e for e in read_events(corebrain_home)}
    assert {"g0", "g1", "m2", "c1", "c2"} <= set(accepted)   # a NUL inside a value is data, kept as is
    assert accepted["m2"]["user_id"] == "u\u0000x" and accepted["c2"]["user_id"] == "u\u0000"
    _reconciles(report)


def test_bom_crlf_and_lone_cr(corebrain_home):
    folder = day_folder(corebrain_home)
    (folder / "a.jsonl").write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(json.dumps(e).encode() for e in good_events(3))
                                     + b"\r\n")
    (folder / "b.csv").write_bytes(b"\xef\xbb\xbfevent_id,ts,user_id,event_type,item_id\r"
                                   b"c1,2026-01-10T01:00:00,u1,view,i1\rc2,2026-01-10T02:00:00,u1,view,i2\r")
    (folder / "c.csv").write_bytes(b"event_id,ts,user_id,event_type,item_id\r\n"
                                   b"d1,2026-01-10T01:00:00,u1,view,i1\r\nd2,2026-01-10T02:00:00,u1,VIEW,i2\r\n")
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    events = {e["event_id"]: e for e in read_events(corebrain_home)}
    assert set(events) == {"g0", "g1", "g2", "c1", "c2", "d1", "d2"}
    assert (events["c2"]["source_row"], events["d2"]["source_row"], events["g2"]["source_row"]) == (3, 3, 3)
    assert report.quarantined == 0
    _reconciles(report)


def test_duplicate_column_names(corebrain_home):
    folder = day_folder(corebrain_home)
    (folder / "a.csv").write_text("event_id,ts,user_id,user_id,event_type,item_id\nc1,2026-01-10,u1,u2,view,i1\n")
    table = pa.Table.from_arrays([pa.array(["p1"]), pa.array(["2026-01-10"]), pa.array(["u1"]), pa.array(["u2"]),
                                  pa.array(["view"]), pa.array(["i1"])],
                                 names=["event_id", "ts", "user_id", "user_id", "event_type", "item_id"])
    write_parquet(corebrain_home, "b.parquet", table)
    write_jsonl(corebrain_home, "c.jsonl", good_events(2) + [
        '{"event_id": "j1", "ts": "2026-01-10", "user_id": "u1", "user_id": "u2", "event_type": "view", "item_id": "i1"}'])
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    assert _by_row(corebrain_home) == {("a.csv", 0): reasons.DUPLICATE_COLUMNS,
                                       ("b.parquet", 0): reasons.DUPLICATE_COLUMNS,
                                       ("c.jsonl", 3): reasons.BROKEN_JSON_LINE}
    assert report.files_rejected == 2 and report.accepted == 2
    _reconciles(report)


def test_wrong_types_inside_parquet_columns(corebrain_home):
    n = 4
    table = pa.table({
        "event_id": pa.array([1, 2, 3, 4], pa.int64()),                       # ints are fine as ids
        "ts": pa.array([1_767_000_000, 1_768_003_200, None, 1_768_003_200], pa.int64()),  # a number: WRONG_TYPE
        "user_id": ["u1"] * n, "event_type": ["view"] * n, "item_id": ["i1"] * n})
    write_parquet(corebrain_home, "a.parquet", table)
    table = pa.table({
        "event_id": ["s1", "s2", "s3", "s4"],
        "ts": pa.array([0, 10**15, -(10**15), 1_768_003_200], pa.timestamp("s")),   # years 1970, 31M, -31M, 2026
        "user_id": pa.array([[1], [2], None, [4]], pa.list_(pa.int64())),              # lists: WRONG_TYPE
        "event_type": ["view"] * n, "item_id": pa.array([1.5, 2.0, 3.0, float("nan")], pa.float64())})
    write_parquet(corebrain_home, "b.parquet", table)
    table = pa.table({
        "event_id": ["t1", "t2"], "ts": pa.array([1_768_003_200, 1_768_003_200], pa.timestamp("s", tz="UTC")),
        "user_id": pa.array([True, False]), "event_type": ["view", "view"],
        "item_id": pa.array([{"a": 1}, {"a": 2}], pa.struct([("a", pa.int64())])),
        "price": pa.array([b"9.5", b"\xff"], pa.binary())})
    write_parquet(corebrain_home, "c.parquet", table)
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    got = _by_row(corebrain_home)
    assert got[("a.parquet", 1)] == got[("a.parquet", 2)] == reasons.WRONG_TYPE
    assert got[("a.parquet", 3)] == reasons.MISSING_TS
    assert {got[("b.parquet", i)] for i in (1, 2, 4)} == {reasons.WRONG_TYPE}   # user_id lists come first
    assert got[("b.parquet", 3)] == reasons.WRONG_TYPE                          # item_id 3.0: a float
    assert got[("c.parquet", 1)] == got[("c.parquet", 2)] == reasons.WRONG_TYPE  # bool ids
    assert report.accepted == 0
    _reconciles(report)


def test_parquet_timestamps_out_of_range_are_bad_ts(corebrain_home):
    table = pa.table({"event_id": ["s1", "s2", "s3"],
                      "ts": pa.array([10**15, -(10**15), 1_768_003_200], pa.timestamp("s")),
                      "user_id": ["u1"] * 3, "event_type": ["view"] * 3, "item_id": ["i1"] * 3})
    write_parquet(corebrain_home, "a.parquet", table)
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    assert _by_row(corebrain_home) == {("a.parquet", 1): reasons.BAD_TS, ("a.parquet", 2): reasons.BAD_TS}
    assert [e["event_id"] for e in read_events(corebrain_home)] == ["s3"]
    assert all(q["raw"] for q in read_quarantine(corebrain_home))
    _reconciles(report)


def test_unterminated_csv_quote_and_mixed_encodings(corebrain_home):
    folder = day_folder(corebrain_home)
    (folder / "a.csv").write_bytes(
        b"event_id,ts,user_id,event_type,item_id,query\n"
        b"c1,2026-01-10T01:00:00,u1,view,i1,\n"
        + "c2,2026-01-10T01:00:00,Jos\u00e9,view,i1,\n".encode("latin-1")     # a Latin-1 line in UTF-8
        + "c3,2026-01-10T01:00:00,Jos\u00e9,view,i1,\n".encode()
        + b'c4,2026-01-10T01:00:00,u1,search,,"never closed\nc5,2026-01-10T01:00:00,u1,view,i1,\n')
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    got = _by_row(corebrain_home)
    assert got[("a.csv", 3)] == reasons.INVALID_UTF8
    assert got[("a.csv", 5)] == reasons.BROKEN_CSV_ROW   # the open quote swallows the rest: one broken row
    assert {e["event_id"] for e in read_events(corebrain_home)} == {"c1", "c3"}
    assert {e["user_id"] for e in read_events(corebrain_home)} == {"u1", "Jos\u00e9"}
    _reconciles(report)


def test_file_failing_half_way_keeps_nothing_of_it(corebrain_home, monkeypatch):
    """A file that fails after some batches were staged is one CORRUPT_FILE entry: no half-loaded file."""
    import pipelines.ingest.scan as scan

    monkeypatch.setattr(scan, "BATCH_ROWS", 10)
    good = write_parquet(corebrain_home, "a.parquet", pa.Table.from_pylist(good_events(50)).combine_chunks())
    import pyarrow.parquet as pq
    pq.write_table(pq.read_table(good), good, row_group_size=10)
    data = bytearray(good.read_bytes())
    meta = pq.ParquetFile(good).metadata
    offset = meta.row_group(3).column(0).data_page_offset   # corrupt the 4th row group's first page
    data[offset:offset + 64] = b"\xff" * 64
    good.write_bytes(bytes(data))
    write_jsonl(corebrain_home, "b.jsonl", good_events(3, prefix="j"))
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    assert _by_row(corebrain_home) == {("a.parquet", 0): reasons.CORRUPT_FILE}
    assert {e["source_file"].rsplit("/", 1)[1] for e in read_events(corebrain_home)} == {"b.jsonl"}
    assert (report.files_rejected, report.rows_read, report.accepted) == (1, 3, 3)
