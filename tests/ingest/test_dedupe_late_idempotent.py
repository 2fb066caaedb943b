"""Dedupe (within a file, across files, across days), late-data routing and idempotent reruns."""

from __future__ import annotations

import hashlib
from datetime import date

from pipelines.ingest import reasons
from pipelines.ingest.contract import IngestSettings
from pipelines.ingest.day import ingest_landing_day, ingest_landing_days
from tests.ingest.helpers import (
    DAY,
    event,
    good_events,
    read_events,
    read_quarantine,
    write_csv,
    write_jsonl,
    write_parquet,
)

SETTINGS = IngestSettings()
NEXT = date(2026, 1, 11)


def _lake_digest(paths) -> dict[str, str]:
    return {p.relative_to(paths.home).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(paths.lake.rglob("*.parquet"))}


def test_duplicate_within_and_across_files(corebrain_home):
    write_jsonl(corebrain_home, "a.jsonl", [event("e1"), event("e2"), event("e1", user_id="other")])
    write_csv(corebrain_home, "b.csv", [event("e2"), event("e3")])
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    quarantine = read_quarantine(corebrain_home)
    assert [(q["source_file"].rsplit("/", 1)[1], q["source_row"], q["reason"]) for q in quarantine] == [
        ("a.jsonl", 3, reasons.DUPLICATE_EVENT_ID), ("b.csv", 2, reasons.DUPLICATE_EVENT_ID)]
    assert "a.jsonl row 1" in quarantine[0]["detail"]
    assert [q["user_id"] for q in quarantine] == ["other", "u1"]
    events = {e["event_id"]: e for e in read_events(corebrain_home)}
    assert events["e1"]["user_id"] == "u1" and events["e2"]["source_file"].endswith("a.jsonl")
    assert report.rows_read == 5 == report.accepted + report.quarantined


def test_invalid_first_copy_does_not_shadow_a_valid_second(corebrain_home):
    write_jsonl(corebrain_home, "a.jsonl", [event("e1", ts="bad"), event("e1")])
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    assert report.reasons == {reasons.BAD_TS: 1} and report.accepted == 1


def test_duplicate_across_days_first_landing_day_wins(corebrain_home):
    write_jsonl(corebrain_home, "a.jsonl", [event("e1"), event("e2")])
    write_parquet(corebrain_home, "b.parquet", [event("e2", ts="2026-01-11T01:00:00"),
                                                 event("e3", ts="2026-01-11T02:00:00")], day=NEXT)
    reports = ingest_landing_days(corebrain_home, [NEXT, DAY], SETTINGS)
    assert [r.landing_day for r in reports] == [DAY, NEXT]
    quarantine = read_quarantine(corebrain_home, NEXT)
    assert [(q["source_row"], q["reason"]) for q in quarantine] == [(1, reasons.DUPLICATE_EVENT_ID)]
    assert "events/date=2026-01-10/a.jsonl row 2" in quarantine[0]["detail"]
    assert sorted(e["event_id"] for e in read_events(corebrain_home)) == ["e1", "e2", "e3"]
    # rerunning the later day alone gives the same answer (it reads the earlier day from the lake)
    before = _lake_digest(corebrain_home)
    ingest_landing_day(corebrain_home, NEXT, SETTINGS)
    assert _lake_digest(corebrain_home) == before


def test_late_events_go_to_their_own_day(corebrain_home):
    write_jsonl(corebrain_home, "a.jsonl", [event("e1", ts="2026-01-08T23:59:59Z"),
                                            event("e2", ts="2026-01-10T00:00:00+01:00"),
                                            event("e3", ts="2026-01-10T08:00:00Z"),
                                            event("e4", ts="2026-01-11T08:00:00Z")])
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    lake = sorted(p.relative_to(corebrain_home.lake_events).as_posix()
                  for p in corebrain_home.lake_events.rglob("*.parquet"))
    assert lake == ["date=2026-01-08/landed=2026-01-10.parquet", "date=2026-01-09/landed=2026-01-10.parquet",
                    "date=2026-01-10/landed=2026-01-10.parquet", "date=2026-01-11/landed=2026-01-10.parquet"]
    assert report.late_days == {"2026-01-08": 1, "2026-01-09": 1}
    assert report.event_days["2026-01-10"] == 1


def test_rerun_is_byte_identical_and_removes_stale_files(corebrain_home):
    write_jsonl(corebrain_home, "a.jsonl", good_events(30) + [event("late", ts="2026-01-05T10:00:00"),
                                                              event("bad", ts="nope")])
    write_csv(corebrain_home, "b.csv", good_events(10, prefix="c"))
    ingest_landing_day(corebrain_home, DAY, SETTINGS)
    first = _lake_digest(corebrain_home)
    ingest_landing_day(corebrain_home, DAY, SETTINGS)
    assert _lake_digest(corebrain_home) == first
    assert "lake/events/date=2026-01-05/landed=2026-01-10.parquet" in first
    # the collector re-delivers the day without the late event: its old file must disappear
    write_jsonl(corebrain_home, "a.jsonl", good_events(30))
    ingest_landing_day(corebrain_home, DAY, SETTINGS)
    after = _lake_digest(corebrain_home)
    assert "lake/events/date=2026-01-05/landed=2026-01-10.parquet" not in after
    assert not (corebrain_home.lake_events / "date=2026-01-05").exists()


def test_rerun_leaves_other_landing_days_alone(corebrain_home):
    write_jsonl(corebrain_home, "a.jsonl", [event("e1", ts="2026-01-10T05:00:00")])
    write_jsonl(corebrain_home, "b.jsonl", [event("e2", ts="2026-01-10T06:00:00")], day=NEXT)
    ingest_landing_days(corebrain_home, [DAY, NEXT], SETTINGS)
    other = corebrain_home.lake_events / "date=2026-01-10" / "landed=2026-01-11.parquet"
    digest = hashlib.sha256(other.read_bytes()).hexdigest()
    ingest_landing_day(corebrain_home, DAY, SETTINGS)
    assert hashlib.sha256(other.read_bytes()).hexdigest() == digest


def test_day_without_landing_folder_writes_an_empty_quarantine(corebrain_home):
    report = ingest_landing_day(corebrain_home, DAY, SETTINGS)
    assert not report.landing_folder_found and report.rows_read == 0
    assert read_quarantine(corebrain_home) == []


def test_event_redelivered_a_week_later_is_quarantined_not_accepted_twice(corebrain_home):
    """Same event_id a week later (same ts, or a corrected ts on another day): the first landing day
    wins, the re-delivery is DUPLICATE_EVENT_ID and never reaches the lake (so never fct_events) twice."""
    from datetime import timedelta

    week_later = DAY + timedelta(days=7)
    write_jsonl(corebrain_home, "a.jsonl", [event("e1"), event("e2")])
    days = [DAY + timedelta(days=k) for k in range(8)]
    for day in days[1:-1]:
        write_jsonl(corebrain_home, "x.jsonl", good_events(2, prefix=f"d{day.day}-", day=day), day=day)
    write_csv(corebrain_home, "b.csv", [event("e1"), event("e2", ts=f"{week_later.isoformat()}T09:00:00"),
                                        event("e3", ts=f"{week_later.isoformat()}T10:00:00")], day=week_later)
    reports = ingest_landing_days(corebrain_home, days, SETTINGS)
    assert reports[-1].reasons == {reasons.DUPLICATE_EVENT_ID: 2}
    quarantine = read_quarantine(corebrain_home, week_later)
    assert all("earlier landing day: events/date=2026-01-10/a.jsonl" in q["detail"] for q in quarantine)
    ids = [e["event_id"] for e in read_events(corebrain_home)]
    assert ids.count("e1") == ids.count("e2") == 1 and "e3" in ids
