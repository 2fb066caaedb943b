"""The training command, as pure functions: the same entry point on 1 CPU, N processes or many nodes.

With one process it is a plain ``python -m``; with more it goes through ``torchrun``, which starts
one process per rank (DDP on gloo, ``models.distributed``). On one node torchrun runs
``--standalone``: its rendezvous takes a free local port, so two runs on one machine never collide.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENTRY_MODULE = "pipelines.training.pipes_entry"
NPROC_ENV = "COREBRAIN_NPROC_PER_NODE"


def nproc_per_node(configured: int, environ: Mapping[str, str] = os.environ) -> int:
    """Training processes per node: the run config's value when set (> 0); 0 takes
    ``$COREBRAIN_NPROC_PER_NODE`` (a deployment's default, e.g. the GPUs of a training pod), else 1."""
    if configured < 0:
        raise ValueError(f"nproc_per_node must be >= 0 (0: ${NPROC_ENV}, else 1), got {configured}")
    if configured:
        return configured
    text = environ.get(NPROC_ENV, "").strip()
    if not text:
        return 1
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"${NPROC_ENV} is {text!r}: set it to a whole number of processes >= 1, or unset it")
    return int(text)


def training_command(python: str, nproc_per_node: int = 1, nnodes: int = 1) -> list[str]:
    if nproc_per_node < 1 or nnodes < 1:
        raise ValueError(f"nproc_per_node and nnodes must be >= 1, got {nproc_per_node}, {nnodes}")
    if nproc_per_node == 1 and nnodes == 1:
        return [python, "-m", ENTRY_MODULE]
    torchrun = str(Path(python).with_name("torchrun"))
    rendezvous = ["--standalone"] if nnodes == 1 else []
    return [torchrun, *rendezvous, f"--nnodes={nnodes}", f"--nproc-per-node={nproc_per_node}", "-m", ENTRY_MODULE]
