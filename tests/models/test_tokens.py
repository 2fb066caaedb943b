"""Time-gap buckets and hashed query n-grams."""

import numpy as np
import pytest

from models.tokens import DAY, N_GAP_BUCKETS, buckets_at_least, gap_bucket, normalise_query, query_ngrams


def test_gap_buckets_are_log_spaced_with_unknowns():
    b = gap_bucket(np.array([0, 59, 60, 3_599, 13 * DAY, 14 * DAY, 400 * DAY, -5]),
                   np.array([True] * 7 + [True]))
    assert b.tolist() == [1, 1, 2, 3, 8, 9, N_GAP_BUCKETS - 1, 0]
    assert gap_bucket(np.array([10]), np.array([False])).tolist() == [0]


def test_churn_buckets_are_exactly_the_gaps_of_14_days_or_more():
    ids = buckets_at_least(14)
    assert ids == list(range(9, N_GAP_BUCKETS))
    assert gap_bucket(np.array([14 * DAY]))[0] in ids and gap_bucket(np.array([14 * DAY - 1]))[0] not in ids
    with pytest.raises(ValueError):
        buckets_at_least(10)


def test_query_ngrams_are_stable_and_share_pieces_across_typos_and_case():
    a = query_ngrams("Solnedgång  POSTER", 4096)
    assert a == query_ngrams("solnedgång poster", 4096)          # normalised, deterministic (crc32)
    assert normalise_query("Solnedgång  POSTER") == "solnedgång poster"
    assert len(set(query_ngrams("poster", 4096)) & set(query_ngrams("postr", 4096))) >= 2
    assert all(1 <= i < 4096 for i in a)
    assert query_ngrams(None, 4096) == [] and query_ngrams("", 4096) == []
    assert len(query_ngrams("x" * 500, 4096, max_ngrams=32)) == 32
