"""The zero-shot churn read-out from the time-gap head."""

import math

import numpy as np
import pyarrow as pa
import pytest
import torch

from models.churn import churn_probability, churn_scores, survival
from models.data import store_from_table
from models.metrics import auc
from models.model import CoreModel, ModelConfig
from models.tokens import DAY, N_GAP_BUCKETS, gap_bucket


def _mass_in(bucket: int, n: int = 1) -> torch.Tensor:
    p = torch.zeros(n, N_GAP_BUCKETS)
    p[:, bucket] = 1.0
    return p


def test_survival_by_hand():
    b = int(gap_bucket(np.array([10 * DAY]))[0])                 # the [7 days, 14 days) bucket
    p = _mass_in(b)
    assert survival(p, torch.tensor([0.0])).item() == pytest.approx(1.0)
    assert survival(p, torch.tensor([14.0 * DAY])).item() == pytest.approx(0.0)
    assert survival(p, torch.tensor([10.0 * DAY])).item() == pytest.approx(math.log(14 / 10) / math.log(2))


def test_churn_probability_is_conditional_on_elapsed_time():
    short = _mass_in(int(gap_bucket(np.array([3600]))[0]))    # next event within hours
    long = _mass_in(N_GAP_BUCKETS - 1)                          # 90 days or more
    assert churn_probability(short, torch.tensor([0.0])).item() == pytest.approx(0.0)
    assert churn_probability(long, torch.tensor([0.0])).item() == pytest.approx(1.0)
    mix = 0.5 * short + 0.5 * long
    # already silent for 2 days: the short-gap half is ruled out, so churn is certain
    assert churn_probability(mix, torch.tensor([0.0])).item() == pytest.approx(0.5)
    assert churn_probability(mix, torch.tensor([2.0 * DAY])).item() == pytest.approx(1.0)


def test_gap_head_learns_who_comes_back(tmp_path):
    """Half the users return every hour, half every 40 days: the read-out separates them (AUC ~ 1)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    rows = []
    for u in range(40):
        gap = 3600 if u % 2 == 0 else 40 * DAY
        n = 12
        ts = (10**9 - 60 - np.cumsum(rng.integers(gap // 2, gap * 2, n))[::-1]).tolist()  # all end 1 min before
        rows.append({"user_id": f"u{u}", "item_idx": rng.integers(1, 20, n).tolist(), "ts": ts})
    store = store_from_table(pa.Table.from_pylist(rows))
    model = CoreModel(ModelConfig(n_items=20, d_model=16, max_len=16, dropout=0.0))
    from models.data import make_batch
    from models.model import gap_loss
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(60):
        b = make_batch(store, np.arange(40), 16, train=True)
        h = model.hidden(b)
        g = b.target_gaps > 0
        loss = gap_loss(model, h[g], b.target_gaps[g])
        opt.zero_grad()
        loss.backward()
        opt.step()
    scores = churn_scores(model, store, np.arange(40), cutoff_ts=10**9)
    labels = torch.tensor([u % 2 == 1 for u in range(40)])
    assert auc(scores, labels) > 0.9
    # a frequent visitor silent for 30 days is now likely gone: the read-out is conditional
    assert churn_scores(model, store, np.array([0]), cutoff_ts=10**9 + 30 * DAY)[0] > scores[0]
    probs = model.gap_probs(model.last_hidden(make_batch(store, np.arange(40), 16, train=False)))
    assert auc(churn_probability(probs, torch.zeros(40)), labels) > 0.9
