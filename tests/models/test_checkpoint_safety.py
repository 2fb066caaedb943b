"""Checkpoints load with ``weights_only=True`` (issue 13, item 5): a planted pickle cannot run code."""

import pickle

import numpy as np
import pytest
import torch

from models.checkpoint import UnsafeCheckpointError, load_checkpoint, load_model, save_atomic
from models.model import CoreModel, ModelConfig


class _Payload:
    """Unpickling this runs code: it creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_planted_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "best.pt"
    torch.save({"model": {}, "model_config": {}, "payload": _Payload(marker)}, evil)
    with pytest.raises(UnsafeCheckpointError, match="not a plain weights file"):
        load_checkpoint(evil)
    with pytest.raises(UnsafeCheckpointError):
        load_model(tmp_path)               # the out_dir form resolves to the same best.pt
    evil.write_bytes(pickle.dumps(_Payload(marker)))   # a bare pickle, not even torch's zip format
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(evil)
    assert not marker.exists()


def test_a_real_checkpoint_round_trips_with_plain_values_only(tmp_path):
    cfg = ModelConfig(n_items=5, d_model=8, n_heads=1, n_layers=1, max_len=4)
    model = CoreModel(cfg)
    path = tmp_path / "best.pt"
    save_atomic({"model": model.state_dict(), "model_config": cfg.to_dict(), "item_ids": [None, "a", "b"],
                 "item_counts": np.arange(6, dtype=np.int64), "val": {"hr": np.float64(0.5)}}, path)
    loaded, ckpt = load_model(path)
    assert isinstance(ckpt["item_counts"], np.ndarray) and ckpt["item_counts"].tolist() == list(range(6))
    assert ckpt["val"]["hr"] == 0.5 and ckpt["item_ids"] == [None, "a", "b"]
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)


def test_an_older_checkpoint_is_refused_until_resaved_by_its_owner(tmp_path):
    cfg = ModelConfig(n_items=3, d_model=8, n_heads=1, n_layers=1, max_len=4)
    path = tmp_path / "best.pt"
    torch.save({"model": CoreModel(cfg).state_dict(), "model_config": cfg.to_dict(),
                "item_counts": np.arange(4)}, path)                # the old format: a pickled ndarray
    with pytest.raises(UnsafeCheckpointError, match="older corebrain"):
        load_checkpoint(path)
    from models.checkpoint import resave_trusted

    resave_trusted(path)
    assert load_checkpoint(path)["item_counts"].tolist() == [0, 1, 2, 3]
