"""Erasure: after ``erase_users`` no landing file, lake or quarantine file, shard or warehouse table
holds the ids; other users (even with a prefix-sharing id) are untouched; manifests stay consistent."""

from __future__ import annotations

import hashlib
import json

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.consumers import store
from pipelines.defs.erasure import erase_users
from pipelines.ingest.contract import IngestSettings
from pipelines.ingest.day import ingest_landing_day
from pipelines.ingest.erasure import erase_from_files, token_pattern
from tests.ingest.helpers import DAY, event, write_csv, write_jsonl, write_parquet

GONE = "u1"


def _build_world(paths):
    write_jsonl(paths, "a.jsonl", [event("e1", user_id="u1"), event("e2", user_id="u10"),
                                   event("e3", user_id="u1", ts="bad"),
                                   '{"event_id": "e4", "user_id": "u1", broken',
                                   event("e5", user_id="u2")])
    write_csv(paths, "b.csv", [event("c1", user_id="u1"), event("c2", user_id="u2")])
    write_parquet(paths, "c.parquet", [event("p1", user_id="u1"), event("p2", user_id="u3")])
    ingest_landing_day(paths, DAY, IngestSettings())
    shard_dir = paths.shards / "2026-01-10"
    shard_dir.mkdir(parents=True)
    pq.write_table(pa.table({"user_id": ["u1", "u10", "u2"], "item_idx": [[1, 2], [2], [3]]}),
                   shard_dir / "train-00000.parquet")
    pq.write_table(pa.table({"user_id": ["u1", "u2"], "target_item_idx": [1, 2]}), shard_dir / "holdout.parquet")
    pq.write_table(pa.table({"item_idx": [1, 2, 3], "item_id": ["i1", "i2", "i3"]}), shard_dir / "items.parquet")
    files = [{"path": name, "role": role, "rows": pq.read_metadata(shard_dir / name).num_rows,
              "sha256": hashlib.sha256((shard_dir / name).read_bytes()).hexdigest()}
             for name, role in [("train-00000.parquet", "train"), ("holdout.parquet", "holdout"),
                                ("items.parquet", "items")]]
    (shard_dir / "manifest.json").write_text(json.dumps({"format": "corebrain-shards/1", "files": files}))
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.fct_events AS SELECT * FROM (VALUES ('u1', 'e1'), ('u10', 'e2'), "
                    "('u2', 'e5')) t(user_id, event_id)")
        con.execute("CREATE TABLE main.dim_users AS SELECT * FROM (VALUES ('u1'), ('u2')) t(user_id)")
        con.execute("CREATE TABLE main.churn AS SELECT 1 AS user_id")
        con.execute("CREATE VIEW main.v_users AS SELECT * FROM main.dim_users")
        con.execute("CREATE TABLE main.items AS SELECT 'i1' AS item_id")
    # a consumer table (issue 10) and its view: swept as the place `consumers`, in pool duckdb
    recs = store.table_path(paths.lake, "recommendations")
    store.write_swap(store.stamp(pa.table({"user_id": ["u1", "u1", "u10"], "item_id": ["i1", "i2", "i1"]}),
                                 "1", "run"), recs)
    store.create_views(paths.warehouse, paths.lake, ["recommendations"])


def _holds(paths, user_id: str) -> list[str]:
    """Every place that still holds the id: any Parquet string cell, any landing line, any table."""
    pattern = token_pattern([user_id])
    found = []
    for path in paths.home.rglob("*.parquet"):
        if "dagster_home" in path.parts:
            continue
        table = pq.read_table(path)
        for name in table.column_names:
            if pa.types.is_string(table.schema.field(name).type):
                if any(v is not None and (v == user_id or pattern.search(v))
                       for v in table.column(name).to_pylist()):
                    found.append(f"{path.relative_to(paths.home)}:{name}")
    for path in paths.landing.rglob("*"):
        if path.is_file() and path.suffix != ".parquet" and pattern.search(path.read_text(errors="replace")):
            found.append(str(path.relative_to(paths.home)))
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        for schema, table in con.sql("SELECT table_schema, table_name FROM information_schema.columns "
                                     "WHERE column_name = 'user_id'").fetchall():
            if con.sql(f'SELECT count(*) FROM "{schema}"."{table}" WHERE CAST(user_id AS VARCHAR) = ?',
                       params=[user_id]).fetchall()[0][0]:
                found.append(f"warehouse {schema}.{table}")
    return sorted(found)


def test_erase_users_job_removes_every_trace(corebrain_home):
    _build_world(corebrain_home)
    assert len(_holds(corebrain_home, GONE)) >= 8
    kept_before = _holds(corebrain_home, "u10")
    result = erase_users.execute_in_process(run_config={"user_ids": [GONE], "reason": "test request #1",
                                                        "requested_by": "tester"})
    assert result.success
    assert _holds(corebrain_home, GONE) == []
    assert _holds(corebrain_home, "u10") == kept_before

    manifest = json.loads((corebrain_home.shards / "2026-01-10" / "manifest.json").read_text())
    for entry in manifest["files"]:
        path = corebrain_home.shards / "2026-01-10" / entry["path"]
        assert entry["rows"] == pq.read_metadata(path).num_rows
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [e["rows"] for e in manifest["files"]] == [2, 1, 3]

    log = [json.loads(line) for line in (corebrain_home.lake / "erasure_log.jsonl").read_text().splitlines()]
    assert len(log) == 1
    entry = log[0]
    assert (entry["requested_by"], entry["reason"], entry["n_users"]) == ("tester", "test request #1", 1)
    assert entry["user_id_sha256"] == [hashlib.sha256(GONE.encode()).hexdigest()]
    assert entry["rows_removed"] == {"landing": 5, "lake": 3, "quarantine": 2, "shards": 2, "consumers": 2,
                                     "other": 0, "warehouse": 2}
    assert GONE not in json.dumps(entry["rows_removed"])

    # step outputs (which carry the ids) stay in memory in one process: never pickled to storage
    assert erase_users.executor_def is dg.in_process_executor
    assert erase_users.resource_defs["io_manager"] is dg.mem_io_manager

    again = erase_users.execute_in_process(run_config={"user_ids": [GONE], "reason": "retry"})
    assert again.success
    last = json.loads((corebrain_home.lake / "erasure_log.jsonl").read_text().splitlines()[-1])
    assert sum(last["rows_removed"].values()) == 0


def test_reingest_after_erasure_matches_erased_lake(corebrain_home):
    """Landing was scrubbed too: re-ingesting the day gives the erased lake back, byte for byte."""
    _build_world(corebrain_home)
    erase_from_files(corebrain_home, [GONE])
    lake = {p: p.read_bytes() for p in corebrain_home.lake.rglob("*.parquet")}
    ingest_landing_day(corebrain_home, DAY, IngestSettings())
    again = {p: p.read_bytes() for p in corebrain_home.lake.rglob("*.parquet")}
    assert again.keys() == lake.keys()
    for path, data in lake.items():
        if path.name == "landed=2026-01-10.parquet" and path.parent.name.startswith("date="):
            # a Parquet landing file loses the row, so the rows after it renumber: compare content
            before = pq.read_table(pa.BufferReader(data)).to_pylist()
            after = pq.read_table(path).to_pylist()
            assert [r["event_id"] for r in before] == [r["event_id"] for r in after]
            assert {r["event_id"] for r in after} == {"e2", "e5", "c2", "p2"}
        else:
            assert again[path] == data, path


def test_token_pattern_is_exact():
    pattern = token_pattern(["u1", "a.b"])
    assert pattern.search('{"user_id":"u1"}') and pattern.search("x,u1,y")
    assert not pattern.search("u10") and not pattern.search("xu1") and not pattern.search("u1-2")
    assert not pattern.search("aXb")
