"""write_shards on a hand-built warehouse (no dbt): splitting, overwrite, and clear errors."""

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.shards import NoTrainingData, latest_shards_dir, verify_shards, write_shards


def _warehouse(path, users=10, window=True):
    with duckdb.connect(str(path)) as con:
        con.execute("create table training_window as select date '2026-01-01' as window_start, "
                    "date '2026-01-05' as window_end, timestamp '2026-01-05' as holdout_cutoff "
                    + ("" if window else "where false"))
        con.execute(f"""create table user_sequences as
            select 'u' || i as user_id, [1, 0, 2]::integer[] as item_idx, [1, 2, 4]::tinyint[] as event_type,
                   [10, 20, 30]::bigint[] as ts, [null, 'red poster', null]::varchar[] as "query",
                   3::bigint as n_events
            from range({users}) t(i)""")
        con.execute("""create table holdout as
            select *, 2::integer as target_item_idx, 'b' as target_item_id, 40::bigint as target_ts,
                   null::varchar as target_query, 2::integer as target_new_item_idx, 'se' as market
            from user_sequences where user_id in ('u1', 'u2')""")
        con.execute("create table item_vocab as select * from (values (1, 'a'), (2, 'b')) v(item_idx, item_id)")
    return path


def test_users_split_by_stable_hash_and_rerun_replaces(tmp_path):
    wh = _warehouse(tmp_path / "wh.duckdb")
    result = write_shards(wh, tmp_path / "shards", n_shards=3)
    assert result.folder == tmp_path / "shards" / "2026-01-05" == latest_shards_dir(tmp_path / "shards")
    assert result.rows == {"train": 10, "holdout": 2, "items": 2}
    verify_shards(result.folder)
    split = {i: pq.read_table(result.folder / f"train-0000{i}.parquet").column("user_id").to_pylist()
             for i in range(3)}
    assert sorted(u for users in split.values() for u in users) == sorted(f"u{i}" for i in range(10))
    assert all(users == sorted(users) for users in split.values())        # ordered by user_id
    with duckdb.connect() as con:                                          # md5-based, not random
        expected = con.sql("select 'u' || i, md5_number('u' || i) % 3 from range(10) t(i)").fetchall()
    assert {u: int(s) for u, s in expected} == {u: i for i, users in split.items() for u in users}

    again = write_shards(wh, tmp_path / "shards", n_shards=2)               # same window: replaced
    assert sorted(p.name for p in again.folder.iterdir()) == [
        "holdout.parquet", "items.parquet", "manifest.json", "train-00000.parquet", "train-00001.parquet"]
    assert [p.name for p in (tmp_path / "shards").iterdir()] == ["2026-01-05"]   # no temp left over
    row = pq.read_table(again.folder / "holdout.parquet").to_pylist()[0]
    assert row["query"] == [None, "red poster", None] and row["target_item_idx"] == 2


def test_clear_errors(tmp_path):
    with pytest.raises(NoTrainingData, match="no warehouse"):
        write_shards(tmp_path / "missing.duckdb", tmp_path / "shards")
    wh = _warehouse(tmp_path / "wh.duckdb", window=False)
    with pytest.raises(NoTrainingData, match="no events"):
        write_shards(wh, tmp_path / "shards")
    with pytest.raises(ValueError, match="n_shards"):
        write_shards(wh, tmp_path / "shards", n_shards=0)
    assert list((tmp_path / "shards").iterdir()) == []
