"""CSV's fast path (DuckDB reads a well-formed file itself) decides every row exactly like the
Python ``csv`` path: same rows accepted, same reason and raw text per line, same lake bytes."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.ingest import reasons
from pipelines.ingest.contract import IngestSettings
from pipelines.ingest.day import ingest_landing_day
from pipelines.ingest.scan import CsvScanner, open_scanner, well_formed_lines
from pipelines.settings import CorebrainPaths
from tests.ingest.helpers import DAY, day_folder, read_events, read_quarantine
from tests.ingest.test_property_readers import _csv_text, _mixed, good_events, row

SETTINGS = IngestSettings()
HEADER = "event_id,ts,user_id,session_id,event_type,item_id,query,market,price\n"
HOSTILE = HEADER + "".join([
    'e1,2026-01-10T01:00:00Z,u1,s1,view,i1,,se,9.5\n',
    '"e2","2026-01-10T02:00:00Z","u2","s1","search","","red  shoes","uk",""\n',   # all quoted, quoted empties
    'e3,,u3,s1,view,i3,,se,\n',                                                   # MISSING_TS
    'e4,2026-01-10T03:00:00Z,,s1,view,i4,,se,\n',                                 # MISSING_USER_ID
    'e5,yesterday,u5,s1,view,i5,,se,\n',                                          # BAD_TS
    'e6,2026-03-01T00:00:00Z,u6,s1,view,i6,,se,\n',                               # TS_IN_FUTURE
    'e7,2026-01-10T04:00:00Z,u7,s1,Vi\u0307ew,i7,,se,\n',                         # non-ASCII: the Python rules
    'e8,2026-01-10T05:00:00Z,u8,s1,teleport,i8,,se,\n',                           # UNKNOWN_EVENT_TYPE
    'e9,2026-01-10T06:00:00Z,u9,s1,view,i9,,se,"1,5"\n',                          # a quoted comma: not a number
    'e1,2026-01-10T07:00:00Z,u1,s1,view,i1,,se,\n',                               # DUPLICATE_EVENT_ID
    ' e10 ,2026-01-10 08:00,\u3000u10,s1, VIEW ,i10,,SE,1e3\n',
    'e11,2026-01-10T09:00:00+01:00,u11,s1,purchase,i11,,se,abc\n',
    '"e12","","u12","s1","view","i12","","se",""\n',                           # a quoted empty ts: null
])


def _digest(home: CorebrainPaths) -> dict[str, str]:
    return {p.relative_to(home.lake).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(home.lake.rglob("*.parquet"))}


def _fast_then_slow(home: CorebrainPaths, monkeypatch) -> tuple:
    """Ingest the day through the fast path, then again with it switched off: both outcomes."""
    fast = ingest_landing_day(home, DAY, SETTINGS)
    fast_out = (fast.rows_read, fast.accepted, fast.quarantined, dict(fast.reasons), _digest(home),
                read_quarantine(home))
    with monkeypatch.context() as m:
        m.setattr(CsvScanner, "whole_file_batch", lambda self, types: None)
        slow = ingest_landing_day(home, DAY, SETTINGS)
        slow_out = (slow.rows_read, slow.accepted, slow.quarantined, dict(slow.reasons), _digest(home),
                    read_quarantine(home))
    return fast_out, slow_out


@pytest.mark.parametrize("data, ok", [
    (b"a,b\n", True),
    (b'"a","b,c"\n"",x\n', True),
    (b"a,b", True),                       # the file's last line needs no LF
    (b'a,"b\nc"\n', False),               # a quoted field over a line end
    (b'a,b"c\n', False),                  # a quote inside a plain field
    (b'"a"b,c\n', False),                 # text after a closing quote
    (b'a,"b""c"\n', False),               # an escaped quote inside a quoted field
    (b'a,"b\n', False),                   # an unterminated quote
    (b'a,"b"\r\nc,d\r\n', True),          # CRLF
    (b"a,b\rc,d\n", False),               # a lone CR
    (b"a,b\r\n\r\nc,d\r\n", False),        # a blank CRLF line
    (b"a,b\n\nc,d\n", False),             # a blank line
    (b"\na,b\n", False),
    (b"a,\x00\n", False),                 # NUL
])
def test_well_formed_lines(data, ok):
    assert well_formed_lines(data) is ok


@pytest.mark.parametrize("text, fast", [
    (HOSTILE, True),
    ('"event_id","ts"\n"e1","2026-01-10"\n', True),
    (HOSTILE.replace("\n", "\r\n"), True),
    (HOSTILE.replace("\n", "\r"), False),          # lone CRs end lines for Python, not for DuckDB
    (HOSTILE + "\n", False),                        # a blank last line
    (HEADER, False),                                # no data line
    ("event_id,Event_ID,ts\ne1,x,2026-01-10\n", False),  # names equal but for case
])
def test_which_files_take_the_fast_path(corebrain_home, text, fast):
    path = day_folder(corebrain_home) / "a.csv"
    path.write_text(text)
    batch = open_scanner(path).whole_file_batch({})
    assert (batch is not None) is fast


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_fast_path_equals_csv_module_path(corebrain_home, monkeypatch, newline):
    (day_folder(corebrain_home) / "a.csv").write_bytes(HOSTILE.replace("\n", newline).encode())
    fast, slow = _fast_then_slow(corebrain_home, monkeypatch)
    assert fast == slow
    assert fast[3][reasons.DUPLICATE_EVENT_ID] == 1 and len(fast[3]) >= 6   # the file is hostile


def test_line_duckdb_refuses_falls_back_with_its_line_number(corebrain_home, monkeypatch):
    text = HEADER + "e1,2026-01-10T01:00:00Z,u1,s1,view,i1,,se,\ne2,2026-01-10,u2\n" \
                    "e3,2026-01-10T01:00:00Z,u3,s1,view,i3,,se,\n"
    path = day_folder(corebrain_home) / "a.csv"
    path.write_text(text)
    assert open_scanner(path).whole_file_batch({}) is not None   # taken, then refused by DuckDB
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    assert (report.rows_read, report.accepted, report.quarantined) == (3, 2, 1)
    assert [(q["source_row"], q["reason"], q["raw"]) for q in read_quarantine(corebrain_home)] == [
        (3, reasons.BROKEN_CSV_ROW, "e2,2026-01-10,u2")]
    assert sorted(e["event_id"] for e in read_events(corebrain_home)) == ["e1", "e3"]


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.lists(row, max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_random_csv_fast_path_equals_csv_module_path(rows, newline):
    home = CorebrainPaths(Path(tempfile.mkdtemp(prefix="corebrain-csvfast-"))).ensure()
    text = _csv_text(_mixed(rows, good_events(4, prefix="good"))).replace("\n", newline)
    (day_folder(home) / "a.csv").write_bytes(text.encode("utf-8", "surrogatepass"))
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, slow = _fast_then_slow(home, monkeypatch)
    assert fast == slow
