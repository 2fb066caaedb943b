import numpy as np
import pytest

from pipelines.gate.stats import auc, paired_mean_difference, paired_statistic_difference


def test_identical_models_have_a_zero_interval():
    a = np.random.default_rng(0).random(200)
    iv = paired_mean_difference(a, a.copy(), resamples=500)
    assert iv.estimate == 0 and iv.lower == 0 and iv.upper == 0 and iv.n == 200


def test_pairing_makes_a_consistent_small_gain_significant():
    rng = np.random.default_rng(1)
    base = rng.random(300)                      # users differ a lot from each other
    better = base + 0.01                        # but the challenger is better on every one
    iv = paired_mean_difference(better, base, resamples=500)
    assert iv.lower > 0 and iv.estimate == pytest.approx(0.01)


def test_a_noisy_difference_has_a_lower_bound_below_its_mean():
    rng = np.random.default_rng(2)
    a, b = rng.random(100), rng.random(100)
    iv = paired_mean_difference(a, b, resamples=1000, confidence=0.95)
    assert iv.lower < iv.estimate < iv.upper
    assert iv.upper - iv.lower > 0.05           # 100 users: wide


def test_deterministic_given_the_seed():
    rng = np.random.default_rng(3)
    a, b = rng.random(50), rng.random(50)
    assert paired_mean_difference(a, b, seed=7) == paired_mean_difference(a, b, seed=7)


def test_unpaired_lengths_are_an_error():
    with pytest.raises(ValueError, match="same length"):
        paired_mean_difference(np.zeros(3), np.zeros(4))


def test_auc_by_hand_and_ties():
    assert auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert auc([0.5, 0.5], [0, 1]) == pytest.approx(0.5)
    assert np.isnan(auc([0.1, 0.2], [1, 1]))


def test_auc_difference_of_a_perfect_and_a_random_scorer():
    rng = np.random.default_rng(4)
    labels = rng.random(300) < 0.4
    perfect, noise = labels.astype(float), rng.random(300)
    iv = paired_statistic_difference(lambda i: auc(perfect[i], labels[i]), 300, resamples=300,
                                     other=lambda i: auc(noise[i], labels[i]))
    assert iv.estimate > 0.3 and iv.lower > 0.3
