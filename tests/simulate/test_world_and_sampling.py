"""The hidden world and the vectorised samplers: deterministic, well-formed, faithful to weights."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.simulate import vocab
from pipelines.simulate.sampling import GroupedSampler, sample_rows
from pipelines.simulate.world import TASTE_PALETTE, TASTE_PLACE, build_world


def test_same_seed_same_world_other_seed_other_world():
    a, b, c = build_world(3, 200, 50), build_world(3, 200, 50), build_world(4, 200, 50)
    for name in ("item_palette", "item_popularity", "user_palette_pref", "user_quiet_day"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.item_palette, c.item_palette)


def test_world_is_well_formed():
    w = build_world(1, 500, 120)
    assert w.n_users == 500 and w.n_items == 120
    assert np.allclose(w.user_palette_pref.sum(axis=1), 1.0)
    assert np.allclose(w.user_place_pref.sum(axis=1), 1.0)
    assert np.isclose(w.item_popularity.sum(), 1.0)
    assert (w.user_quiet_day >= w.user_join_day).all()
    assert set(np.unique(w.user_taste_axis)) == {TASTE_PALETTE, TASTE_PLACE}
    assert set(np.unique(w.user_market)) == set(range(len(vocab.MARKET_NAMES)))
    assert (w.item_price > 0).all()
    # taste is concentrated: most users put over half their weight on one palette
    assert np.median(w.user_palette_pref.max(axis=1)) > 0.5


def test_world_rejects_empty_shop():
    with pytest.raises(ValueError, match="at least one"):
        build_world(1, 0, 10)


def test_grouped_sampler_stays_in_group_and_follows_weights():
    groups = np.array([0, 0, 1, 1, 1, 3])          # group 2 is empty
    weights = np.array([1.0, 3.0, 1.0, 1.0, 2.0, 5.0])
    sampler = GroupedSampler(groups, weights, n_groups=4)
    rng = np.random.default_rng(0)
    n = 40_000
    picked = sampler.sample(np.zeros(n, dtype=np.int64), rng.random(n))
    assert set(np.unique(picked)) == {0, 1}
    assert abs((picked == 1).mean() - 0.75) < 0.02
    picked = sampler.sample(np.ones(n, dtype=np.int64), rng.random(n))
    assert set(np.unique(picked)) == {2, 3, 4}
    assert abs((picked == 4).mean() - 0.5) < 0.02
    assert set(np.unique(sampler.sample(np.full(100, 3), rng.random(100)))) == {5}
    # an empty group falls back to the whole catalogue instead of leaking into a neighbour only
    fallback = sampler.sample(np.full(n, 2), rng.random(n))
    assert abs((fallback == 5).mean() - 5.0 / weights.sum()) < 0.02


def test_sample_rows_uses_each_rows_distribution():
    cum = np.cumsum(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), axis=1)
    rows = np.array([0, 1, 0, 1])
    assert sample_rows(cum, rows, np.array([0.3, 0.3, 0.99, 0.99])).tolist() == [0, 2, 0, 2]
