"""Pure parts of the gate's plumbing: lineage comparison, audit rows, the evaluation set's columns."""

import datetime as dt

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from pipelines.gate import audit
from pipelines.gate.evaluation_set import activity_levels, build_table
from pipelines.gate.lineage import lineage_problems
from pipelines.gate.rules import load_rules


def test_lineage_matches_or_says_which_tag_differs():
    tags = {"dagster_run_id": "run-a", "shards_manifest_sha256": "abc"}
    assert lineage_problems(tags, {"dagster_run_id": "run-a", "shards_manifest_sha256": "abc"}) == []
    problems = lineage_problems(tags, {"dagster_run_id": "run-b", "shards_dir": "/x"})
    assert len(problems) == 2
    assert "run-a" in problems[0] and "run-b" in problems[0] and "another run" in problems[0]
    assert "no `shards_dir` tag" in problems[1]


def _row(**kw):
    base = dict(kind="gate", verdict="pass", run_id="r1", root_run_id="r1", trigger="schedule nightly",
                candidate="2", incumbent="1", champion_after="2")
    return audit.new_row(**{**base, **kw})


def test_rows_are_whole_files_and_the_view_reads_them(tmp_path):
    lake, home = tmp_path / "lake", tmp_path
    audit.write_row(lake, home, _row(results=[{"rule": "floor", "task": "next_item", "segment": "overall",
                                               "passed": True, "gated": True, "estimate": 0.2, "lower": float("nan"),
                                               "upper": float("nan"), "threshold": 0.1, "n": 50,
                                               "compared_to": "popularity", "detail": ""}]))
    audit.write_row(lake, home, _row(kind="rollback", verdict="rollback", candidate="1", champion_after="1",
                                     reason="bad recs", requested_by="ana"))
    (audit.audit_dir(lake) / ".tmp-deadbeef.partial").write_bytes(b"half a row")  # a write killed midway
    audit.ensure_view(lake, home)
    rows = audit.read_rows(lake)
    assert [r["kind"] for r in rows] == ["gate", "rollback"]
    assert rows[0]["results"][0]["lower"] is None and rows[0]["results"][0]["estimate"] == 0.2
    with duckdb.connect(str(audit.audit_db(home)), read_only=True) as con:
        got = con.sql("select kind, verdict, reason from promotions order by decided_at").fetchall()
    assert got == [("gate", "pass", ""), ("rollback", "rollback", "bad recs")]


def test_a_rerun_finds_the_decision_of_its_run_chain(tmp_path):
    lake = tmp_path / "lake"
    audit.write_row(lake, tmp_path, _row(root_run_id="root-1", candidate="5"))
    assert audit.gate_row_for(lake, "root-1", "5")["candidate_version"] == "5"
    assert audit.gate_row_for(lake, "root-1", "6") is None
    assert audit.gate_row_for(lake, "root-2", "5") is None


def test_recent_champions_are_incumbents_and_outcomes_of_the_last_n():
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = [{"incumbent_version": None, "champion_after": "1", "decided_at": t},
            {"incumbent_version": "1", "champion_after": "2", "decided_at": t},
            {"incumbent_version": "2", "champion_after": "2", "decided_at": t},
            {"incumbent_version": "2", "champion_after": "4", "decided_at": t}]
    assert audit.recent_champions(rows, 5) == ["4", "2", "1"]
    assert audit.recent_champions(rows, 2) == ["4", "2"]
    assert audit.recent_champions(rows, 0) == []


def test_trigger_names_the_schedule_sensor_backfill_or_manual():
    assert audit.trigger_of({"dagster/schedule_name": "nightly_schedule"}) == "schedule nightly_schedule"
    assert audit.trigger_of({"dagster/backfill": "abc"}) == "backfill abc"
    assert audit.trigger_of({}) == "manual run"
    with pytest.raises(ValueError, match="unknown decision kind"):
        _row(kind="maybe")


def test_activity_levels_are_tertiles():
    levels = activity_levels(np.array([1, 2, 3, 10, 20, 30, 100, 200, 300]))
    assert levels.tolist() == ["light"] * 3 + ["medium"] * 3 + ["heavy"] * 3


def test_evaluation_rows_follow_the_protocol_and_mark_segments():
    day = 86400
    cutoff = 100 * day
    train = pa.table({"user_id": ["u1", "u2", "u3"],
                      "item_idx": pa.array([[1, 2], [1], [3, 3, 3]], pa.list_(pa.int32())),
                      "ts": pa.array([[10 * day, 11 * day], [98 * day], [5 * day, 6 * day, 7 * day]],
                                     pa.list_(pa.int64()))})
    holdout = pa.table({"user_id": ["u1", "u2"], "item_idx": pa.array([[1, 2], [1]], pa.list_(pa.int32())),
                        "ts": pa.array([[10 * day, 11 * day], [98 * day]], pa.list_(pa.int64())),
                        "target_item_idx": pa.array([2, 4], pa.int32()),
                        "target_new_item_idx": pa.array([None, 4], pa.int32()), "market": ["se", None]})
    items = pa.table({"item_idx": [1, 2, 3, 4], "item_id": ["a", "b", "c", "d"]})
    rules = load_rules()
    t = build_table(train, holdout, items, cutoff_ts=cutoff, rules=rules).to_pydict()
    assert t["user_id"] == ["u1", "u2", "u3"]
    assert t["target"] == [None, 4, None]            # seen-excluded: u1's only target is a repeat
    assert t["target_item_idx"] == [2, 4, None]
    assert t["churned"] == [False, False, True]
    assert t["new_user"] == [False, True, False]      # u2's first event is 2 days before the cutoff
    assert t["target_launched"] == [None, True, None]  # item 4 never occurs before the cutoff
    repeat_aware = load_rules({"tasks": {"next_item": {"exclude_seen": False}}})
    assert build_table(train, holdout, items, cutoff_ts=cutoff, rules=repeat_aware)["target"].to_pylist() == [2, 4, None]
