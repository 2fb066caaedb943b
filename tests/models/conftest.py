import os

import pytest
import torch

from tests.models.synth import write_shards

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
torch.set_num_threads(1)


@pytest.fixture
def shards(tmp_path):
    return write_shards(tmp_path / "shards")


def tiny_config(shards_dir, out_dir, **kw):
    cfg = {"shards_dir": str(shards_dir), "out_dir": str(out_dir), "epochs": 3, "batch_size": 16,
           "d_model": 16, "max_len": 16, "log_every": 0, "threads": 1, "seed": 0}
    cfg.update(kw)
    return cfg
