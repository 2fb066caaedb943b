"""Data-parallel training under ``torchrun``: which rows of the global batch a rank trains on, and
how each rank weighs its loss so that N processes take the same step as one.

Every rank holds the whole training store and draws the same global batch order (seeded by
(seed, epoch), never by rank); each then trains on its contiguous share of every global batch.
DDP averages gradients over the ranks, so a rank's loss is its *sum* over its targets divided by the
global target count and multiplied by the world size: the averaged gradient is then the gradient
of the one-process mean loss over the whole batch, whatever the shares' sizes. Only float
summation order differs (benchmarks/ddp_equivalence.py measures it; the tests bound it at 1e-5).

Gloo is the backend: the training loop keeps its tensors on the CPU (placing them on GPUs is not
implemented yet, and NCCL refuses CPU tensors).
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.distributed as dist


def setup() -> tuple[int, int]:
    """(rank, world size): joins the process group torchrun describes (WORLD_SIZE > 1), else (0, 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def all_reduce(x: torch.Tensor, op=None) -> torch.Tensor:
    """In-place sum (or ``op``) over the ranks; the identity in one process."""
    if dist.is_initialized():
        dist.all_reduce(x, op=op or dist.ReduceOp.SUM)
    return x


def rank_share(batch: np.ndarray, rank: int, world: int) -> tuple[np.ndarray, bool]:
    """(the rows of the global ``batch`` this rank trains on, whether they carry weight).

    Contiguous shares (``np.array_split``), so every row is trained by exactly one rank. A rank
    whose share is empty (a global batch smaller than the world) still has to take part in DDP's
    gradient all-reduce: it gets the batch's first row with weight 0.
    """
    share = np.array_split(np.asarray(batch), world)[rank]
    if len(share) == 0:
        return np.asarray(batch)[:1], False
    return share, True


def loss_scale(local: float, global_: float, world: int) -> float:
    """Factor turning this rank's mean over ``local`` targets into its part of the global mean
    (``local / global * world``; DDP divides the summed gradients by ``world`` again)."""
    if local <= 0 or global_ <= 0:
        return 0.0
    return local / global_ * world
