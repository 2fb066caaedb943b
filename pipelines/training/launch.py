"""The training command, as a pure function: the same entry point on 1 CPU, N GPUs or many nodes.

With one process it is a plain ``python -m``; with more it goes through ``torchrun``, which starts
one process per rank (DDP, gloo on CPU, nccl on GPU).
"""

from __future__ import annotations

from pathlib import Path

ENTRY_MODULE = "pipelines.training.pipes_entry"


def training_command(python: str, nproc_per_node: int = 1, nnodes: int = 1) -> list[str]:
    if nproc_per_node < 1 or nnodes < 1:
        raise ValueError(f"nproc_per_node and nnodes must be >= 1, got {nproc_per_node}, {nnodes}")
    if nproc_per_node == 1 and nnodes == 1:
        return [python, "-m", ENTRY_MODULE]
    torchrun = str(Path(python).with_name("torchrun"))
    return [torchrun, f"--nnodes={nnodes}", f"--nproc-per-node={nproc_per_node}", "-m", ENTRY_MODULE]
