"""The baselines the read-outs are measured against (pipelines/quality.py), by hand."""

import numpy as np
import pyarrow as pa
import pytest
import torch

from models.data import store_from_table
from models.metrics import auc
from pipelines import quality


def _store(rows):
    return store_from_table(pa.table({
        "user_id": [str(i) for i in range(len(rows))],
        "item_idx": pa.array([[i for i, _ in r] for r in rows], pa.list_(pa.int32())),
        "event_type": pa.array([[2 if q else 1 for _, q in r] for r in rows], pa.list_(pa.int8())),
        "query": pa.array([[q for _, q in r] for r in rows], pa.list_(pa.string()))}))


def test_cooccurrence_neighbours_and_same_label_precision():
    store = _store([[(1, None), (2, None)], [(1, None), (2, None)], [(3, None), (4, None)]])
    nb = quality.cooccurrence_neighbours(store, 4, k=1)
    assert nb[:, 0].tolist() == [2, 1, 4, 3]
    assert quality.same_label_precision(nb, ["a", "a", "b", "b"], [1, 2, 3, 4]) == 1.0
    assert quality.same_label_precision([[3], [3]], ["a", "a", "b"], [1, 2]) == 0.0


def test_search_pairs_and_count_x_pmi():
    store = _store([[(0, "red poster"), (1, None), (2, None)], [(0, "blue"), (3, None)], [(0, "red"), (1, None)]])
    pairs = quality.search_item_pairs(store, follow=1)
    assert pairs == [("red", 1), ("poster", 1), ("blue", 3), ("red", 1)]
    words = quality.pmi_words(pairs, k=2)
    assert words[1][0] == "red" and words[3] == ["blue"]
    assert quality.word_recall({1: ["red", "x"], 3: []}, {1: {"red", "rot"}, 3: {"blue"}}, k=5) == pytest.approx(0.25)


def test_expected_auc_equals_auc_on_certain_labels_and_is_half_for_constant_scores():
    rng = np.random.default_rng(1)
    s = np.round(rng.normal(size=200), 1)
    y = (rng.random(200) < 0.3).astype(float)
    assert quality.expected_auc(s, y) == pytest.approx(auc(torch.as_tensor(s), torch.as_tensor(y)))
    assert quality.expected_auc(np.zeros(50), rng.random(50)) == pytest.approx(0.5)


def test_matching_popularity_ranks_matching_items_first():
    texts = ["sunset poster", "ocean wallpaper", "sunset canvas", "forest"]
    counts = np.array([0, 5, 100, 1, 50])
    assert quality.matching_popularity_ranking("Sunset", texts, counts, k=4) == [1, 3, 2, 4]
    assert quality.ndcg_of_rankings([[1, 3], [2]], [3, 9]) == pytest.approx((1 / np.log2(3)) / 2)


def test_calibration_helpers():
    p, y = np.array([0.1, 0.1, 0.9, 0.9]), np.array([0, 0, 1, 1])
    assert quality.brier(p, y) == pytest.approx(0.01)
    assert quality.reliability(p, y, bins=2) == [(0.1, 0.0, 2), (0.9, 1.0, 2)]
