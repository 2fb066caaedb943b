"""Pure pieces of the consumer batch: risk bands, the active window, shard rows -> histories, the swap."""

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.consumers import store
from pipelines.consumers.batch import active_rows, risk_band, rows_to_histories, window_end_ts

DAY = 86_400


def test_risk_band_thresholds_and_bad_thresholds():
    assert [risk_band(p) for p in (0.0, 0.39, 0.4, 0.69, 0.7, 1.0)] == ["low", "low", "medium", "medium", "high", "high"]
    assert risk_band(0.5, high=0.5, medium=0.2) == "high"
    with pytest.raises(ValueError, match="medium"):
        risk_band(0.5, high=0.3, medium=0.6)


def test_window_end_is_the_midnight_after_the_last_day():
    at = window_end_ts({"window": {"start": "2026-06-01", "end": "2026-06-12"}})
    assert dt.datetime.fromtimestamp(at, dt.UTC) == dt.datetime(2026, 6, 13, tzinfo=dt.UTC)


def test_active_rows_keeps_recent_and_untimed_users():
    at = 100 * DAY
    last = [at - DAY, at - 31 * DAY, None, at - 30 * DAY]
    assert active_rows(last, at, 30).tolist() == [0, 2, 3]
    assert active_rows([], at, 30).dtype == np.int64


def test_rows_to_histories_maps_item_idx_back_to_ids_and_keeps_searches():
    table = pa.table({"user_id": ["a", "b"], "item_idx": [[1, 0, 2], []], "event_type": [[1, 2, 4], []],
                      "ts": [[10, 20, 30], []], "query": [[None, "red mug", None], []]})
    users, hist, last = rows_to_histories(table, [None, "i1", "i2"])
    assert users == ["a", "b"] and last == [30, None]
    assert hist[0] == {"items": ["i1", None, "i2"], "event_types": [1, 2, 4], "ts": [10, 20, 30],
                       "queries": [None, "red mug", None]}
    assert hist[1]["items"] == []


def test_stamp_and_is_current(tmp_path):
    path = tmp_path / "t" / "t.parquet"
    assert not store.is_current(path, "1")
    store.write_swap(store.stamp(pa.table({"x": [1, 2]}), "3", "run-a"), path)
    got = pq.read_table(path)
    assert got.column("model_version").to_pylist() == ["3", "3"]
    assert got.column("dagster_run_id").to_pylist() == ["run-a", "run-a"]
    assert store.is_current(path, "3") and not store.is_current(path, "4")
    mixed = pa.concat_tables([store.stamp(pa.table({"x": [1]}), "3", "r"), store.stamp(pa.table({"x": [2]}), "4", "r")])
    store.write_swap(mixed, path)
    assert store.versions_in(path) == {"3", "4"} and not store.is_current(path, "3")


def test_a_failed_swap_leaves_the_previous_table_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "t" / "t.parquet"
    store.write_swap(store.stamp(pa.table({"x": [1, 2, 3]}), "1", "run-a"), path)
    before = path.read_bytes()

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(store.pq, "write_table", killed)
    with pytest.raises(KeyboardInterrupt):
        store.write_swap(store.stamp(pa.table({"x": [9]}), "2", "run-b"), path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["t.parquet"]


def test_the_demo_summary_names_each_tables_version_and_missing_ones(tmp_path):
    from pipelines.consumers.summary import summary_lines

    lake = tmp_path / "lake"
    store.write_swap(store.stamp(pa.table({"user_id": ["a", "b"], "churn_probability": [0.25, 0.5]}), "7", "r"),
                     store.table_path(lake, "churn_scores"))
    lines = summary_lines(lake, rows=1)
    churn = next(i for i, line in enumerate(lines) if line.startswith("churn_scores:"))
    assert "2 rows from v7" in lines[churn] and lines[churn + 1].strip() == "user_id=a, churn_probability=0.250"
    assert any(line.startswith("recommendations: not built") for line in lines)
