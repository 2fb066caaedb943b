"""The landing sensor: new, changed and deleted landing files request the days they touch."""

from __future__ import annotations

import json
import os

import dagster as dg

from pipelines.defs.sensors import landing_sensor
from pipelines.ingest.watch import changed_keys, landing_fingerprints
from tests.ingest.helpers import DAY, event, write_jsonl


def _tick(cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(cursor=cursor, instance=dg.DagsterInstance.ephemeral())
    return landing_sensor(context)


def test_changed_keys():
    assert changed_keys({"a": "1", "b": "2"}, {"b": "3", "c": "4"}) == ["a", "b", "c"]
    assert changed_keys({"a": "1"}, {"a": "1"}) == []


def test_sensor_requests_new_changed_and_deleted_days(corebrain_home):
    path = write_jsonl(corebrain_home, "a.jsonl", [event("e1")])
    (corebrain_home.landing_items / "items.csv").write_text("item_id\ni1\n")
    first = _tick(None)
    assert sorted((r.job_name, r.partition_key) for r in first.run_requests) == [
        ("ingest_items_job", None), ("ingest_job", DAY.isoformat())]
    assert _tick(first.cursor).run_requests == []           # nothing changed

    path.write_text(json.dumps(event("e1")) + "\n" + json.dumps(event("e2")) + "\n")
    os.utime(path, ns=(1, 1))
    second = _tick(first.cursor)
    assert [r.partition_key for r in second.run_requests] == [DAY.isoformat()]
    assert second.run_requests[0].run_key != first.run_requests[-1].run_key

    path.unlink()
    path.parent.rmdir()
    third = _tick(second.cursor)
    assert [r.partition_key for r in third.run_requests] == [DAY.isoformat()]
    assert DAY.isoformat() not in json.loads(third.cursor)


def test_fingerprint_ignores_nothing_but_does_not_follow_symlinks(corebrain_home, tmp_path):
    write_jsonl(corebrain_home, "a.jsonl", [event("e1")])
    before = landing_fingerprints(corebrain_home.landing)
    target = tmp_path / "t.jsonl"
    target.write_text("x")
    (corebrain_home.landing_events / f"date={DAY.isoformat()}" / "link.jsonl").symlink_to(target)
    after = landing_fingerprints(corebrain_home.landing)
    assert before[DAY.isoformat()] != after[DAY.isoformat()]


def test_days_that_are_not_partitions_yet_wait(corebrain_home):
    from datetime import date, timedelta
    future = date.today() + timedelta(days=3)
    write_jsonl(corebrain_home, "a.jsonl", [event("e1")], day=future)
    result = _tick(None)
    assert result.run_requests == []
    assert future.isoformat() not in json.loads(result.cursor)
