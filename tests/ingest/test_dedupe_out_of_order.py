"""Out-of-order ingest: a later landing day ingested before an earlier one that holds the first copy
of one of its events, the re-delivered copy's ts on another event day. The first landing day must
win and the event reach ``fct_events`` once (issue 12, item 6's open case)."""

from __future__ import annotations

import hashlib
from datetime import date

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipelines.ingest import reasons
from pipelines.ingest.contract import IngestSettings
from pipelines.ingest.day import ingest_landing_days
from pipelines.settings import CorebrainPaths
from tests.ingest.helpers import event, good_events, read_events, read_quarantine, write_csv, write_jsonl

SETTINGS = IngestSettings()
EARLY, LATE = date(2026, 1, 3), date(2026, 1, 10)


def _landing(paths: CorebrainPaths) -> None:
    """x1 first delivered on EARLY (ts EARLY), re-delivered on LATE with a ts on LATE (re-stamped)."""
    write_jsonl(paths, "a.jsonl", good_events(6, "a", EARLY) + [event("x1", ts="2026-01-03T08:00:00Z")], day=EARLY)
    write_csv(paths, "b.csv", good_events(6, "b", LATE) + [event("x1", ts="2026-01-10T09:00:00Z", user_id="u9")],
              day=LATE)


def _lake_digest(paths: CorebrainPaths) -> dict[str, str]:
    return {p.relative_to(paths.home).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(paths.lake.rglob("*.parquet"))}


def test_later_day_first_then_earlier_day_equals_in_order(corebrain_home, tmp_path):
    _landing(corebrain_home)
    ingest_landing_days(corebrain_home, [LATE], SETTINGS)
    assert [e["event_id"] for e in read_events(corebrain_home)].count("x1") == 1   # LATE's copy, for now
    reingested = []
    [early] = ingest_landing_days(corebrain_home, [EARLY], SETTINGS, reingested)
    assert early.later_duplicates == {LATE.isoformat(): {LATE.isoformat(): 1}}
    assert [r.landing_day for r in reingested] == [LATE] and reingested[0].reingested_for_dedupe
    assert reingested[0].reasons == {reasons.DUPLICATE_EVENT_ID: 1} and reingested[0].reconciles
    events = [e for e in read_events(corebrain_home) if e["event_id"] == "x1"]
    assert [(e["ts"].date(), e["user_id"]) for e in events] == [(EARLY, "u1")]
    [dup] = read_quarantine(corebrain_home, LATE)
    assert (dup["reason"], dup["source_row"]) == (reasons.DUPLICATE_EVENT_ID, 8)
    assert "earlier landing day: events/date=2026-01-03/a.jsonl row 7" in dup["detail"]
    assert dup["raw"].startswith("x1,2026-01-10T09:00:00Z,u9")

    # the same landing files ingested in order, in another installation: the same lake, byte for byte
    other = CorebrainPaths(tmp_path / "in-order").ensure()
    _landing(other)
    ingest_landing_days(other, [EARLY, LATE], SETTINGS)
    assert _lake_digest(corebrain_home) == _lake_digest(other)


def test_later_day_without_landing_files_is_reported_not_wiped(corebrain_home):
    _landing(corebrain_home)
    ingest_landing_days(corebrain_home, [LATE], SETTINGS)
    before = _lake_digest(corebrain_home)
    for path in (corebrain_home.landing_events / f"date={LATE.isoformat()}").iterdir():
        path.unlink()   # retention removed LATE's landing files: it cannot be re-read
    reingested = []
    [early] = ingest_landing_days(corebrain_home, [EARLY], SETTINGS, reingested)
    assert reingested == [] and early.later_duplicates_unresolved == [LATE.isoformat()]
    assert {k: v for k, v in _lake_digest(corebrain_home).items() if "2026-01-10" in k} == before


def test_in_order_days_scan_no_later_files(corebrain_home):
    _landing(corebrain_home)
    reports = ingest_landing_days(corebrain_home, [EARLY, LATE], SETTINGS)
    assert [r.later_duplicates for r in reports] == [{}, {}]


def _materialize(assets, first: str, last: str, instance):
    from pipelines.defs.transform import dbt_resource

    tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
    return dg.materialize(assets, instance=instance, resources={"dbt": dbt_resource()}, tags=tags)


@pytest.mark.slow
def test_out_of_order_ingest_reaches_fct_events_once(corebrain_home):
    """The real pipeline: raw_events + dbt for the later days, then for the earlier ones; the run
    marks the later event day stale, and rebuilding what it marked leaves one copy in fct_events."""
    from pipelines.defs.ingest import raw_events
    from pipelines.defs.transform import dbt_partitioned

    _landing(corebrain_home)
    with dg.DagsterInstance.ephemeral() as instance:
        assert _materialize([raw_events, dbt_partitioned], "2026-01-08", "2026-01-10", instance).success
        second = _materialize([raw_events, dbt_partitioned], "2026-01-01", "2026-01-04", instance)
        assert second.success
        marked = sorted(m.partition for m in second.get_asset_materialization_events()
                        if m.asset_key.to_user_string() == "raw_events" and m.partition > "2026-01-04")
        assert marked == ["2026-01-10"]
        # what the automation sensor does for a marked partition: rebuild it downstream
        assert _materialize([dbt_partitioned], marked[0], marked[-1], instance).success
    with duckdb.connect(str(corebrain_home.warehouse), read_only=True) as con:
        rows = con.sql("select event_date, user_id, landed_date from fct_events where event_id = 'x1'").fetchall()
        total, distinct = con.sql("select count(*), count(distinct event_id) from fct_events").fetchall()[0]
    assert rows == [(EARLY, "u1", EARLY.isoformat())]
    assert total == distinct == 13


def test_one_session_over_days_equals_one_session_per_day(corebrain_home, tmp_path):
    """The session's id index (read once, kept current day by day) dedupes like fresh reads of the lake."""
    def landing(paths: CorebrainPaths) -> None:
        for k, day in enumerate([date(2026, 1, d) for d in (3, 4, 5, 6)]):
            rows = good_events(5, f"d{k}-", day) + [event("x1", ts=f"{day.isoformat()}T08:00:00Z", user_id=f"u{k}")]
            if k:
                rows.append(event(f"d{k - 1}-2", ts=f"{day.isoformat()}T09:00:00Z"))   # yesterday's again
            write_jsonl(paths, "a.jsonl", rows, day=day)
    days = [date(2026, 1, d) for d in (3, 4, 5, 6)]
    landing(corebrain_home)
    reports = ingest_landing_days(corebrain_home, days, SETTINGS)
    assert [r.reasons.get(reasons.DUPLICATE_EVENT_ID, 0) for r in reports] == [0, 2, 2, 2]
    other = CorebrainPaths(tmp_path / "per-day").ensure()
    landing(other)
    for day in days:
        ingest_landing_days(other, [day], SETTINGS)
    assert _lake_digest(corebrain_home) == _lake_digest(other)
