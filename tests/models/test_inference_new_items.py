"""The champion is scored on tonight's shards, whose append-only vocabulary may hold items added after
it was trained: those items read as "no known item" in its input and score -inf as candidates, instead
of failing the embedding lookup (the gate then fell back to "floors only" and promoted without
comparing against the champion)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

from models.churn import churn_scores
from models.data import store_from_table
from models.evaluate import rank_targets
from models.inference import score_next
from models.model import CoreModel, ModelConfig


def _stores():
    ts = [100, 200, 300, 400]
    newer = store_from_table(pa.Table.from_pylist([
        {"user_id": "a", "item_idx": [1, 7, 2, 3], "event_type": [1, 1, 1, 1], "ts": ts},   # item 7: newer
        {"user_id": "b", "item_idx": [4, 5, 1, 2], "event_type": [1, 1, 1, 1], "ts": ts}]))
    unknown = store_from_table(pa.Table.from_pylist([
        {"user_id": "a", "item_idx": [1, 0, 2, 3], "event_type": [1, 1, 1, 1], "ts": ts},
        {"user_id": "b", "item_idx": [4, 5, 1, 2], "event_type": [1, 1, 1, 1], "ts": ts}]))
    return newer, unknown


def test_a_model_scores_histories_with_items_newer_than_itself():
    torch.manual_seed(0)
    model = CoreModel(ModelConfig(n_items=5, d_model=8, max_len=8, dropout=0.0))
    newer, unknown = _stores()
    rows = np.arange(2)
    s = score_next(model, newer, rows, n_items=7)
    assert s.shape == (2, 7) and torch.isinf(s[:, 5:]).all() and torch.isfinite(s[:, :5]).all()
    assert torch.allclose(s, score_next(model, unknown, rows, n_items=7))   # item 7 reads as no item
    ranks = rank_targets(model, newer, rows, np.array([7, 2]), 7, exclude_seen=False)
    assert ranks[0] == float("inf") or ranks[0] >= 6      # a newer item cannot be recommended by this model
    assert torch.isfinite(churn_scores(model, newer, rows, cutoff_ts=500, horizon_days=14)).all()
