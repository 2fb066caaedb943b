"""The zero-shot churn read-out from the time-gap head."""

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from models.checkpoint import load_model
from models.churn import (
    censored_batch,
    censored_gap_nll,
    churn_probability,
    churn_scores,
    log_survival,
    survival,
)
from models.data import (
    ShardError,
    load_train_store,
    make_batch,
    observation_end,
    open_shards,
    store_from_table,
)
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


# ---- the censored gap term -------------------------------------------------------------------------

def _two_bucket_model(p_short: float) -> tuple[CoreModel, int, int]:
    """A model whose gap head puts ``p_short`` on [1, 3 days) and the rest on [90 days, inf)."""
    model = CoreModel(ModelConfig(n_items=5, d_model=8, max_len=4))
    short, long = int(gap_bucket(np.array([2 * DAY]))[0]), N_GAP_BUCKETS - 1
    logits = torch.full((N_GAP_BUCKETS,), -1e4)
    logits[short], logits[long] = math.log(p_short), math.log(1 - p_short)
    with torch.no_grad():
        model.gap_head.weight.zero_()
        model.gap_head.bias.copy_(logits)
    return model, short, long


def test_censored_gap_nll_by_hand():
    model, short, long = _two_bucket_model(0.25)
    h = torch.zeros(3, 8)
    elapsed = torch.tensor([10.0, 2.0 * DAY, 30.0 * DAY])
    nll = censored_gap_nll(model, h, elapsed)
    # 10 s: both buckets lie wholly above; 2 days: log-linear share of [1, 3 days) above 2 days;
    # 30 days: only the open last bucket is left
    s_2d = 0.25 * math.log(3 / 2) / math.log(3) + 0.75
    assert nll.tolist() == pytest.approx([0.0, -math.log(s_2d), -math.log(0.75)], abs=1e-6)
    # the same numbers as the read-out's survival curve
    probs = model.gap_probs(h)
    assert torch.exp(-nll).tolist() == pytest.approx(survival(probs, elapsed).tolist(), abs=1e-6)


def test_censored_gap_nll_pushes_mass_to_long_gaps_and_stays_finite():
    model, short, long = _two_bucket_model(0.999)
    h = torch.zeros(1, 8)
    nll = censored_gap_nll(model, h, torch.tensor([60.0 * DAY]))
    nll.sum().backward()
    g = model.gap_head.bias.grad
    assert g[long] < 0 < g[short]                 # a gradient step raises the long bucket
    # far beyond every edge, with almost no mass left: still finite
    logits = torch.full((1, N_GAP_BUCKETS), 0.0)
    logits[0, -1] = -200.0
    assert torch.isfinite(log_survival(logits, torch.tensor([400.0 * DAY]))).all()


def test_observation_end_prefers_the_manifest_cutoff():
    store = store_from_table(pa.Table.from_pylist([{"user_id": "a", "item_idx": [1, 2], "ts": [100, 200]},
                                                   {"user_id": "b", "item_idx": [3], "ts": [None]}]))
    cut = {"window": {"start": "2026-01-01", "end": "2026-01-30", "holdout_cutoff": "2026-01-30T00:00:00"}}
    assert observation_end(cut, store) == 1_769_731_200                       # 2026-01-30 00:00 UTC
    assert observation_end({"window": {"end": "2026-01-30"}}, store) == 1_769_731_200 + DAY
    assert observation_end({}, store) == 200
    assert observation_end({}, store.take(np.array([1]))) is None
    with pytest.raises(ShardError, match="holdout_cutoff.*not an ISO date"):
        observation_end({"window": {"holdout_cutoff": "last tuesday"}}, store)


def test_censored_batch_skips_unknown_and_future_last_events():
    store = store_from_table(pa.Table.from_pylist([
        {"user_id": "a", "item_idx": [1, 2], "ts": [100, 200]},
        {"user_id": "b", "item_idx": [3], "ts": [None]},             # last ts unknown
        {"user_id": "c", "item_idx": [4, 5], "ts": [100, 1_000]},    # last event at the cutoff
        {"user_id": "d", "item_idx": [1, 2, 3], "ts": [10, 20, 30]}]))
    b, elapsed = censored_batch(store, np.arange(4), max_len=2, observation_end=1_000)
    assert elapsed.tolist() == [800, 970]
    assert b.items.tolist() == [[1, 2], [2, 3]]                     # the last events, inference-style
    assert censored_batch(store, np.array([1, 2]), 2, 1_000) is None


def _silent_shards(root: Path, n_users: int = 40, seed: int = 0) -> tuple[Path, np.ndarray]:
    """Every user browses in hourly bursts; half (items 11-20) stopped 60 days before the window's end,
    half (items 1-10) were active until its last hour. Observed gaps are all short: only the censored
    last gaps say that the first half went silent."""
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    end = 1_769_731_200                                                   # 2026-01-30 00:00 UTC
    rows, silent = [], []
    for u in range(n_users):
        gone = u % 2 == 1
        last = end - (60 * DAY if gone else 3600)
        ts = (last - np.concatenate([[0], np.cumsum(rng.integers(1800, 7200, 11))]))[::-1].tolist()
        items = (rng.integers(11, 21, 12) if gone else rng.integers(1, 11, 12)).tolist()
        rows.append({"user_id": f"u{u}", "item_idx": items, "event_type": [1] * 12, "ts": ts})
        silent.append(gone)
    pq.write_table(pa.Table.from_pylist(rows), root / "train-00000.parquet")
    pq.write_table(pa.table({"item_idx": pa.array(range(1, 21), pa.int32()),
                             "item_id": [f"i{i}" for i in range(1, 21)]}), root / "items.parquet")
    manifest = {"format": "corebrain-shards/1",
                "window": {"start": "2025-10-01", "end": "2026-01-30", "holdout_cutoff": "2026-01-30T00:00:00"},
                "files": [{"path": "train-00000.parquet", "role": "train"}, {"path": "items.parquet", "role": "items"}]}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root, np.array(silent)


def _head_long_gap(out_dir: Path, shards: Path) -> torch.Tensor:
    """The gap head's P(next gap >= 14 days) after each user's last event (elapsed time ignored)."""
    model, _ = load_model(out_dir / "checkpoint.pt")                      # the last epoch
    store = load_train_store(open_shards(shards))
    with torch.no_grad():
        probs = model.gap_probs(model.last_hidden(make_batch(store, np.arange(store.n_users), 16, train=False)))
    return churn_probability(probs, torch.zeros(store.n_users))


def test_censored_term_teaches_the_head_who_went_silent(tmp_path):
    from models.train import train
    from tests.models.conftest import tiny_config

    shards, silent = _silent_shards(tmp_path / "shards")
    common = {"epochs": 15, "lr": 1e-2, "gap_loss_weight": 1.0, "feature_dropout": 0.0, "dropout": 0.0,
              "patience": 100}
    train(tiny_config(shards, tmp_path / "off", **common))
    train(tiny_config(shards, tmp_path / "on", censored_gap_weight=1.0, **common))
    off, on = _head_long_gap(tmp_path / "off", shards), _head_long_gap(tmp_path / "on", shards)
    labels = torch.as_tensor(silent)
    print(f"P(gap >= 14d) silent/active: off {off[labels].mean():.4f}/{off[~labels].mean():.4f} "
          f"on {on[labels].mean():.4f}/{on[~labels].mean():.4f}; AUC off {auc(off, labels):.3f} on {auc(on, labels):.3f}")
    assert auc(on, labels) > 0.95
    assert on[labels].mean() > 5 * off[labels].mean() and on[labels].mean() > 0.05
    assert on[~labels].mean() < 0.05
