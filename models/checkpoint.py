"""Checkpoints: atomic writes (a kill -9 mid-write leaves the previous file intact), loading a model
back for inference, and warm start into a grown vocabulary (old item ids keep their rows).

A checkpoint holds only tensors and plain values (dicts, lists, strings, numbers: the vocabulary,
configs, metrics), never pickled Python objects, and is always loaded with ``weights_only=True``:
a file planted in a checkpoint's place (or named by a forged MLflow tag) cannot run code. NumPy
arrays are stored as tensors and handed back as arrays.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.model import CoreModel, ModelConfig

NUMPY_KEYS = ("item_counts",)   # stored as tensors, returned as numpy arrays as before


class UnsafeCheckpointError(ValueError):
    """A file that is not a plain weights file: loading it would mean unpickling arbitrary objects."""


def plain(value: Any) -> Any:
    """Tensors and plain values only (what ``torch.load(weights_only=True)`` accepts)."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):  # a state_dict is an OrderedDict: keep its type
        return type(value)((k, plain(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return type(value)(plain(v) for v in value)
    if isinstance(value, Path):
        return str(value)
    return value


def save_atomic(obj: dict, path: str | Path) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(plain(obj), tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def resolve(path: str | Path, prefer: str = "best.pt") -> Path:
    """A checkpoint file, or a training out_dir holding ``prefer`` (else checkpoint.pt)."""
    p = Path(path)
    if p.is_dir():
        for name in (prefer, "best.pt", "checkpoint.pt"):
            if (p / name).exists():
                return p / name
        raise FileNotFoundError(f"no best.pt or checkpoint.pt in {p}")
    if not p.exists():
        raise FileNotFoundError(f"checkpoint {p} does not exist")
    return p


def load_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict, loaded with ``weights_only=True``; :class:`UnsafeCheckpointError` for a
    file that needs the full unpickler (a planted pickle, or a checkpoint from before this rule)."""
    file = resolve(path)
    try:
        ckpt = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"refusing to load {file}: it is not a plain weights file (torch weights_only=True refused it: "
            f"{str(exc).splitlines()[0][:300]}). corebrain never unpickles objects from a checkpoint; if this is "
            "a checkpoint from an older corebrain, retrain it (or warm-start cold)") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise UnsafeCheckpointError(f"{file} is not a corebrain checkpoint (no 'model' weights)")
    for key in NUMPY_KEYS:
        if isinstance(ckpt.get(key), torch.Tensor):
            ckpt[key] = ckpt[key].numpy()
    return ckpt


def model_from_checkpoint(ckpt: dict) -> CoreModel:
    model = CoreModel(ModelConfig(**ckpt["model_config"]))
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model


def load_model(path: str | Path) -> tuple[CoreModel, dict]:
    """(model in eval mode, the checkpoint dict with item_ids, item_counts, metrics)."""
    ckpt = load_checkpoint(path)
    return model_from_checkpoint(ckpt), ckpt


ITEM_TABLES = ("embed.item.weight", "out_items.weight")


def warm_start_state(model: CoreModel, old: dict, new_item_ids: list) -> list[str]:
    """Copy a previous version's weights into ``model`` whose vocabulary may have grown.

    Old item ids must keep their meaning (the vocabulary is append-only): a changed id is an error,
    not a silent remap. New items keep their fresh initialisation. Returns notes for the log.
    """
    old_ids = old.get("item_ids")
    old_n = ModelConfig(**old["model_config"]).n_items
    if old_ids is not None:
        for i in range(1, min(len(old_ids), len(new_item_ids))):
            if old_ids[i] != new_item_ids[i]:
                raise ValueError(f"warm start: item_idx {i} was {old_ids[i]!r}, now {new_item_ids[i]!r}; "
                                 "the item vocabulary must be append-only")
    if model.cfg.n_items < old_n:
        raise ValueError(f"warm start: vocabulary shrank from {old_n} to {model.cfg.n_items} items")
    state = model.state_dict()
    notes = []
    for name, w in old["model"].items():
        if name not in state:
            notes.append(f"skipped {name} (not in the new model)")
            continue
        if name in ITEM_TABLES:
            state[name][: w.shape[0]] = w
        elif state[name].shape != w.shape:
            raise ValueError(f"warm start: {name} has shape {tuple(w.shape)}, new model {tuple(state[name].shape)}; "
                             "only the item vocabulary may change")
        else:
            state[name] = w
    model.load_state_dict(state)
    notes.append(f"warm start: {old_n} old items kept, {model.cfg.n_items - old_n} new")
    return notes


def resave_trusted(path: str | Path) -> Path:
    """Rewrite a checkpoint from before the plain-values rule (it pickled NumPy arrays) in the
    plain format, in place. It unpickles the file: run it only on a file you wrote yourself."""
    file = resolve(path)
    old = torch.load(file, map_location="cpu", weights_only=False)  # noqa: S614 - explicit, trusted file only
    save_atomic(old, file)
    load_checkpoint(file)  # now loads the safe way
    return file


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 4 or sys.argv[1] != "resave" or sys.argv[3] != "--i-wrote-this-file":
        print("usage: python -m models.checkpoint resave CHECKPOINT --i-wrote-this-file\n"
              "  rewrites an older corebrain checkpoint so that it loads with weights_only=True; it unpickles\n"
              "  the file once, so never run it on a file you did not write", file=sys.stderr)
        raise SystemExit(2)
    print(resave_trusted(sys.argv[2]))
