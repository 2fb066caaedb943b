"""Ranking metrics and AUC against hand-computed cases."""

import math

import pytest
import torch

from models.metrics import auc, hit_rate, mrr, ndcg, ranking_report, seen_mask, target_ranks


def test_ranks_with_seen_items_filtered():
    # 5 items; user 0 scores item 3 third-highest, but item 5 (the highest) is seen -> rank 2
    scores = torch.tensor([[0.1, 0.5, 0.4, 0.2, 0.9],
                           [0.9, 0.8, 0.7, 0.6, 0.5]])
    targets = torch.tensor([3, 5])
    seen = seen_mask(torch.tensor([[0, 5], [0, 0]]), 5)
    assert seen.tolist() == [[False, False, False, False, True], [False] * 5]
    assert target_ranks(scores, targets).tolist() == [3.0, 5.0]
    assert target_ranks(scores, targets, seen).tolist() == [2.0, 5.0]


def test_seen_target_and_ties_are_misses_or_pessimistic():
    scores = torch.tensor([[1.0, 1.0, 1.0], [0.0, 2.0, 1.0]])
    seen = torch.tensor([[False, False, False], [False, True, False]])
    r = target_ranks(scores, torch.tensor([1, 2]), seen)
    assert r[0] == 3.0                      # constant scores give no credit
    assert math.isinf(r[1])                 # target already seen: cannot be recommended


def test_hr_ndcg_mrr_by_hand():
    ranks = torch.tensor([1.0, 3.0, 11.0, float("inf")])
    assert hit_rate(ranks, 10) == pytest.approx(0.5)
    assert hit_rate(ranks, 1) == pytest.approx(0.25)
    assert ndcg(ranks, 10) == pytest.approx((1.0 + 1 / math.log2(4)) / 4)
    assert mrr(ranks) == pytest.approx((1 + 1 / 3 + 1 / 11 + 0) / 4)
    assert mrr(ranks, k=10) == pytest.approx((1 + 1 / 3) / 4)
    rep = ranking_report(ranks, ks=(10,))
    assert rep["n"] == 4 and rep["hr@10"] == pytest.approx(0.5)


def test_auc_by_hand_with_ties():
    # pairs (pos, neg): (0.8,0.3) win, (0.8,0.5) win, (0.5,0.3) win, (0.5,0.5) tie -> 3.5 / 4
    assert auc(torch.tensor([0.8, 0.5, 0.3, 0.5]), torch.tensor([1, 1, 0, 0])) == pytest.approx(0.875)
    assert auc(torch.tensor([0.1, 0.9]), torch.tensor([1, 0])) == pytest.approx(0.0)
    assert math.isnan(auc(torch.tensor([0.1, 0.9]), torch.tensor([1, 1])))
