"""The churn ceiling: a correct AUC, labels that match the landing files, and a useful number."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipelines.simulate import simulate_shop
from pipelines.simulate.oracle import auc_score, churn_ceiling, next_item_ceiling


def test_auc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    labels = rng.random(200) < 0.3
    scores = np.round(rng.random(200) + labels * 0.3, 1)     # ties on purpose
    pos, neg = scores[labels], scores[~labels]
    pairwise = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (
        len(pos) * len(neg))
    assert auc_score(labels, scores) == pytest.approx(pairwise)
    assert np.isnan(auc_score(np.ones(3, bool), np.arange(3.0)))


def test_churn_ceiling_on_a_simulated_home(tmp_path):
    simulate_shop(tmp_path, 24, users=400, items=60, seed=2, start_date=date(2026, 1, 1))
    ceiling = churn_ceiling(tmp_path, date(2026, 1, 10))
    events = pq.read_table(tmp_path / "landing" / "events").to_pandas()
    before = set(events[events.ts < "2026-01-10"].user_id)
    after = set(events[(events.ts >= "2026-01-10") & (events.ts < "2026-01-24")].user_id)
    assert ceiling.users == len(before)
    assert ceiling.inactive == len(before - after)
    assert 0.7 < ceiling.auc <= 1.0
    with pytest.raises(ValueError, match="no history"):
        churn_ceiling(tmp_path, date(2026, 1, 1))


def test_true_taste_beats_popularity_clearly(tmp_path):
    simulate_shop(tmp_path, 1, users=600, items=300, seed=7, start_date=date(2026, 1, 1), write_truth=False)
    ceiling = next_item_ceiling(tmp_path, date(2026, 1, 16), k=10)
    assert ceiling.users > 300
    assert ceiling.oracle_hr > 2 * ceiling.popularity_hr > 0
    assert ceiling.oracle_ndcg <= ceiling.oracle_hr
