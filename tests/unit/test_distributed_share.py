"""The pure half of data-parallel training (models/distributed.py): shares and loss weights."""

import numpy as np
import pytest

from models.distributed import loss_scale, rank_share


@pytest.mark.parametrize("n,world", [(64, 2), (63, 2), (5, 4), (2, 2), (7, 3)])
def test_every_row_of_a_global_batch_is_trained_by_exactly_one_rank(n, world):
    batch = np.arange(100, 100 + n)
    shares = [rank_share(batch, r, world) for r in range(world)]
    assert all(live for _, live in shares)
    assert np.concatenate([s for s, _ in shares]).tolist() == batch.tolist()      # in order, none twice


def test_a_rank_without_rows_gets_a_padding_row_of_no_weight():
    batch = np.array([7])
    assert rank_share(batch, 0, 2)[0].tolist() == [7] and rank_share(batch, 0, 2)[1]
    padding, live = rank_share(batch, 1, 2)
    assert padding.tolist() == [7] and not live


def test_loss_scales_average_to_the_one_process_mean():
    # ranks' means over 30 and 10 targets, weighted, then averaged by DDP: the mean over all 40
    local = [30, 10]
    means = [2.0, 6.0]
    world = len(local)
    averaged = sum(m * loss_scale(n, sum(local), world) for m, n in zip(means, local, strict=True)) / world
    assert averaged == pytest.approx((2.0 * 30 + 6.0 * 10) / 40)
    assert loss_scale(0, 40, 2) == 0.0 and loss_scale(5, 0, 2) == 0.0
    assert loss_scale(40, 40, 1) == 1.0
