import math

import pytest

from pipelines.gate.scoring import popularity_rankings, topk_metrics


def test_hand_computed_hr_and_ndcg():
    # user 1 hits at rank 1, user 2 at rank 3, user 3 misses
    m = topk_metrics(["a", "b", "c"], [["a", "x"], ["x", "y", "b"], ["x", "y"]], k=10)
    assert m["hr@10"] == pytest.approx(2 / 3)
    assert m["ndcg@10"] == pytest.approx((1.0 + 1 / math.log2(4)) / 3)


def test_only_the_first_k_count():
    m = topk_metrics(["b"], [["a", "b"]], k=1)
    assert m == {"hr@1": 0.0, "ndcg@1": 0.0}


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError):
        topk_metrics(["a"], [], k=10)


def test_popularity_skips_what_the_user_has_seen():
    train = [["a", "a", "b"], ["a", "c"], ["b"]]
    assert popularity_rankings(train, [["a"], []], k=2) == [["b", "c"], ["a", "b"]]
