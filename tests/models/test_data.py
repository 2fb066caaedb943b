"""Shards -> flat arrays -> padded batches; absent fields; bad input gets a clear error."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from models.data import ShardError, make_batch, open_shards, split_last_item, store_from_table
from models.tokens import DAY


def _table(**cols):
    return pa.table(cols)


def test_store_reads_all_fields_and_fills_absent_ones():
    t = pa.table({
        "user_id": ["a", "b"],
        "item_idx": pa.array([[1, 0, 2], [3]], pa.list_(pa.int32())),
        "event_type": pa.array([[1, 2, 4], None], pa.list_(pa.int8())),
        "ts": pa.array([[0, 30, 2 * DAY], None], pa.list_(pa.int64())),
        "query": pa.array([[None, "sunset poster", None], None], pa.list_(pa.string())),
    })
    s = store_from_table(t)
    assert s.offsets.tolist() == [0, 3, 4]
    assert s.items.tolist() == [1, 0, 2, 3]
    assert s.types.tolist() == [1, 2, 4, 0]                  # user b: no event types -> unknown
    assert s.gaps.tolist() == [0, 1, 6, 0]                   # first event and missing ts -> unknown
    assert s.query_ids.tolist() == [0, 1, 0, 0]
    assert (s.ngram_table[1] > 0).sum() > 4 and (s.ngram_table[0] == 0).all()


def test_item_only_history_works():
    s = store_from_table(_table(user_id=["a"], item_idx=pa.array([[5, 6, 7]], pa.list_(pa.int32()))))
    b = make_batch(s, np.array([0]), max_len=10, train=False)
    assert b.items.tolist() == [[5, 6, 7]] and b.types.sum() == 0 and b.gaps.sum() == 0
    assert b.ngrams.shape == (1, 3, 0)


def test_mismatched_list_lengths_are_a_clear_error():
    t = pa.table({"user_id": ["a"], "item_idx": pa.array([[1, 2]], pa.list_(pa.int32())),
                  "event_type": pa.array([[1]], pa.list_(pa.int8()))})
    with pytest.raises(ShardError, match="event_type.*row 0"):
        store_from_table(t)


def test_training_batch_is_left_padded_with_next_item_targets_and_window():
    s = store_from_table(_table(user_id=["a", "b"],
                                item_idx=pa.array([[1, 2, 3, 4, 5], [7, 8]], pa.list_(pa.int32()))))
    b = make_batch(s, np.array([0, 1]), max_len=3, train=True)
    assert b.items.tolist() == [[2, 3, 4], [0, 0, 7]]          # last max_len inputs before the final event
    assert b.target_items.tolist() == [[3, 4, 5], [0, 0, 8]]
    assert b.valid.tolist() == [[True] * 3, [False, False, True]]
    inf = make_batch(s, np.array([0, 1]), max_len=3, train=False)
    assert inf.items.tolist() == [[3, 4, 5], [0, 7, 8]]


def test_split_last_item_holds_out_the_last_item_event():
    s = store_from_table(_table(user_id=["a", "b", "c"],
                                item_idx=pa.array([[1, 2, 0, 3, 0], [4], [5, 6]], pa.list_(pa.int32()))))
    cut, rows, targets = split_last_item(s)
    assert rows.tolist() == [0, 2] and targets.tolist() == [3, 6]
    assert cut.lengths.tolist() == [3, 1, 1]                 # a: [1, 2, 0]; b: too short, kept whole
    assert cut.items.tolist() == [1, 2, 0, 4, 5]


def test_open_shards_checks_manifest_and_checksums(shards):
    sh = open_shards(shards)
    assert sh.n_items == 30 and sh.item_ids[1] == "i1" and len(sh.train_files) == 2
    m = json.loads((shards / "manifest.json").read_text())
    pq.write_table(pa.table({"item_idx": pa.array([1], pa.int32()), "item_id": ["x"]}), shards / "items.parquet")
    with pytest.raises(ShardError, match="sha256 mismatch"):
        open_shards(shards)
    m["format"] = "other/9"
    (shards / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ShardError, match="format"):
        open_shards(shards)
