"""The transform stage end to end through Dagster in-process: real dbt, DuckDB, lake Parquet.

The lake is written from contracts.md section 2 (tests/transform/lake_fixtures.py), not by ingest.
"""

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.shards import latest_shards_dir, verify_shards
from tests.transform.lake_fixtures import ev, shop_events, write_events, write_items, write_quarantine
from tests.transform.runs import checksums, run_marts, run_partitions, table_rows


def _materialized_keys(result):
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


@pytest.mark.slow
def test_partitions_rerun_idempotent_vocab_append_only_and_shards(corebrain_home, instance):
    paths = corebrain_home
    write_events(paths.lake, "2026-01-01", shop_events("2026-01-01"))
    write_events(paths.lake, "2026-01-02", shop_events("2026-01-02"))
    write_items(paths.lake, [{"item_id": " i0 ", "title": "Red poster", "category": "Posters", "tags": "red"},
                             {"item_id": "never-seen", "title": "Blue", "category": None, "tags": None}])
    write_quarantine(paths.lake, "2026-01-02", [{"source_file": "events/date=2026-01-02/a.csv", "source_row": 7,
                                                  "reason": "BAD_TS", "detail": "x", "raw": "{}"}])

    # two partitions in ONE run, then the marts and the shards
    first = run_partitions(instance, "2026-01-01", "2026-01-02")
    assert first.success
    assert {"stg_events", "fct_events"} <= _materialized_keys(first)
    assert run_marts(instance, window_days=2).success
    fct = table_rows(paths.warehouse, "fct_events")
    assert len(fct) == 2 * 18
    before = checksums(paths.warehouse)
    shards_dir = latest_shards_dir(paths)
    assert shards_dir is not None and shards_dir.name == "2026-01-02"
    manifest_before = (shards_dir / "manifest.json").read_text()

    # the same partition again (and the marts): same tables, no duplicates, same shard bytes
    again = run_partitions(instance, "2026-01-02")
    assert again.success
    assert run_marts(instance, window_days=2).success
    assert checksums(paths.warehouse) == before
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        assert con.sql("select count(*), count(distinct event_id) from fct_events").fetchall() == [(36, 36)]
        assert con.sql("select count(*) from quarantine where reason = 'BAD_TS'").fetchall() == [(1,)]
    assert (shards_dir / "manifest.json").read_text() == manifest_before

    # new items arrive on a new day, and a late event brings an item first seen on an old day
    vocab_before = table_rows(paths.warehouse, "item_vocab", "item_idx")
    write_events(paths.lake, "2026-01-03", shop_events("2026-01-03", users=6, items=8, prefix="n")
                 + [ev("late-1", "2026-01-01T00:30:00", "u7", "view", "i-late")])
    # one backfill run over the range: the new day 3 and day 1, stale because of the late event
    assert run_partitions(instance, "2026-01-01", "2026-01-03").success
    assert run_marts(instance, window_days=3).success
    vocab_after = table_rows(paths.warehouse, "item_vocab", "item_idx")
    assert vocab_after[:len(vocab_before)] == vocab_before          # old ids never change
    new = vocab_after[len(vocab_before):]
    assert [row[0] for row in new] == list(range(len(vocab_before) + 1, len(vocab_after) + 1))
    assert "i-late" in {row[1] for row in new}                     # appended although first seen earliest
    assert {row[1] for row in new} == {"i-late", "i5", "i6"}

    # shards: files match the manifest, the contract's columns, the user split and the vocab
    shards_dir = latest_shards_dir(paths)
    assert shards_dir.name == "2026-01-03"
    manifest = verify_shards(shards_dir)
    assert manifest["window"] == {"start": "2026-01-01", "end": "2026-01-03",
                                  "holdout_cutoff": "2026-01-03T00:00:00"}
    assert manifest["vocab"]["n_items"] == len(vocab_after)
    assert manifest["lineage"]["partitions"] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert len(manifest["lineage"]["dbt_manifest_sha256"]) == 64
    train_files = [f for f in manifest["files"] if f["role"] == "train"]
    assert [f["path"] for f in train_files] == ["train-00000.parquet", "train-00001.parquet"]
    train = [pq.read_table(shards_dir / f["path"]) for f in train_files]
    users = [u for t in train for u in t.column("user_id").to_pylist()]
    assert sorted(users) == sorted(set(users)) == ["u0", "u1", "u2", "u3", "u7"]
    assert train[0].schema.names == ["user_id", "item_idx", "event_type", "ts", "query"]
    assert str(train[0].schema.field("item_idx").type) == "list<element: int32>"
    assert str(train[0].schema.field("event_type").type) == "list<element: int8>"
    holdout = pq.read_table(shards_dir / "holdout.parquet").to_pylist()
    by_user = {row["user_id"]: row for row in holdout}
    assert set(by_user) == {"u0", "u1", "u2", "u3"}                  # u7 has no event after the cutoff
    idx = {item_id: i for i, item_id, *_ in vocab_after}
    assert by_user["u0"]["target_item_id"] == "i0" and by_user["u0"]["target_item_idx"] == idx["i0"]
    assert all(t < 1767398400 for t in by_user["u0"]["ts"])        # history strictly before 2026-01-03
    assert by_user["u0"]["event_type"][:3] == [1, 2, 1]
    assert by_user["u0"]["query"][1] == "Red poster 0"               # trimmed, whitespace collapsed
    # the catalogue is optional: items from it and from events, normalised, flagged
    dims = {r[1]: r for r in table_rows(paths.warehouse, "dim_items", "item_id")}
    assert dims["i0"][2:6] == ("Red poster", "posters", "red", True)
    assert dims["never-seen"][0] is None and dims["i-late"][5] is False
    items = pq.read_table(shards_dir / "items.parquet").to_pylist()
    assert [(r["item_idx"], r["item_id"]) for r in items] == [(i, item) for i, item, *_ in vocab_after]


@pytest.mark.slow
def test_withdrawn_day_is_emptied_on_rerun(corebrain_home, instance):
    """A day that had data and was withdrawn (e.g. erasure rewrote it empty): a rerun empties it."""
    paths = corebrain_home
    files = write_events(paths.lake, "2026-01-01", shop_events("2026-01-01", users=2))
    assert run_partitions(instance, "2026-01-01").success
    assert len(table_rows(paths.warehouse, "fct_events")) == 9
    for f in files:
        f.unlink()
    assert run_partitions(instance, "2026-01-01").success
    assert table_rows(paths.warehouse, "fct_events") == []
