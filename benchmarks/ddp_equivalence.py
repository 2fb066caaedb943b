"""N = 2 torchrun processes against one at equal global batch: how far apart the weights end.

    .venv/bin/python benchmarks/ddp_equivalence.py

Trains tiny generated shards (64 users, 40 items) once in process and once under
``torchrun --standalone --nproc-per-node 2`` with the same config, then prints, per config, the
optimiser steps, the largest absolute difference over every weight of the two checkpoints, the
first epoch's loss of each and the wall time of each (torchrun's includes starting two Pythons).
The tolerance in tests/models/test_train.py and tests/integration/test_torchrun_training.py
(1e-5, against AdamW's per-step move of about lr = 2e-3) comes from this table. Model dropout is off
(each rank draws its own masks); feature dropout (0.1) and the gap loss are on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CONFIGS = {
    "one step (batch 64 of 64 windows)": {"batch_size": 64, "crop": "last"},
    "windows, 2 steps": {"batch_size": 64},
    "uneven shares, sampled loss, censored term, 3 steps": {"batch_size": 63, "censored_gap_weight": 0.1,
                                                            "loss": "sampled", "n_negatives": 8},
    "a padding share (batches 127 + 1), 3 epochs": {"batch_size": 127, "censored_gap_weight": 0.1, "epochs": 3,
                                                    "patience": 100},
}


def main() -> int:
    from models.checkpoint import load_checkpoint
    from models.train import train
    from tests.models.synth import write_shards

    torchrun = str(Path(sys.executable).with_name("torchrun"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shards = write_shards(root / "shards", n_users=64, n_items=40, length=20, n_train_files=2)
        for i, (name, extra) in enumerate(CONFIGS.items()):
            cfg = {"shards_dir": str(shards), "out_dir": str(root / f"one{i}"), "epochs": 1, "d_model": 16,
                   "max_len": 16, "dropout": 0.0, "log_every": 0, "threads": 1, "seed": 0, "crop": "windows",
                   **extra}
            t0 = time.time()
            train(cfg)
            t_one = time.time() - t0
            two = {**cfg, "out_dir": str(root / f"two{i}")}
            (root / f"two{i}.json").write_text(json.dumps(two))
            t0 = time.time()
            p = subprocess.run([torchrun, "--standalone", "--nproc-per-node", "2", "-m", "models.train",
                                "--config", str(root / f"two{i}.json")], capture_output=True, text=True,
                               env=env, cwd=REPO)
            t_two = time.time() - t0
            if p.returncode:
                print(p.stderr[-3000:], file=sys.stderr)
                return 1
            a = load_checkpoint(Path(cfg["out_dir"]) / "checkpoint.pt")
            b = load_checkpoint(Path(two["out_dir"]) / "checkpoint.pt")
            worst = max((v - b["model"][k]).abs().max().item() for k, v in a["model"].items())
            rows.append((name, a["step"], b["step"], worst, a["history"][0]["train_loss"],
                         b["history"][0]["train_loss"], t_one, t_two))
    print(f"load: {os.getloadavg()[0]:.1f} (1 min), {os.cpu_count()} cores")
    print(f"{'config':55s} {'steps':>7s} {'max |w2-w1|':>12s} {'loss N=1':>10s} {'loss N=2':>10s} "
          f"{'N=1 s':>6s} {'N=2 s':>6s}")
    for name, s1, s2, worst, l1, l2, t1, t2 in rows:
        print(f"{name:55s} {s1:>3d}/{s2:<3d} {worst:12.2e} {l1:10.6f} {l2:10.6f} {t1:6.1f} {t2:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
