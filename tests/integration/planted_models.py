"""Planted challengers that wrap a good model: it ranks next items badly for some histories only.

The logged pyfunc is ``PlantedPyfunc`` (importable, so the gate's clean process loads it too): the
normal core model, whose next-item scores are replaced for histories listed in ``planted.json``
(``collapse``: the good ranking reversed, e.g. for every user of one market; ``keep``: reversed
for every history but these) or mixed with fixed per-history
noise of strength ``noise`` (a slightly worse model each night). The state itself is untouched, so
churn (the gap head) reads the same as the good model's: each plant breaks one thing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from models.model import CoreModel
from models.pyfunc import CoreModelPyfunc

PLANTED = "planted"


def fingerprints(batch) -> list[str]:
    """One key per row of an inference batch: its items and event types, as the model sees them."""
    out = []
    for items, types, valid in zip(batch.items.tolist(), batch.types.tolist(), batch.valid.tolist(), strict=True):
        key = [(i, t) for i, t, v in zip(items, types, valid, strict=True) if v]
        out.append(hashlib.md5(json.dumps(key).encode()).hexdigest())
    return out


def _noise(key: str, n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(int(key[:8], 16))
    return torch.randn(n, generator=g)


class PlantedCore(CoreModel):
    """CoreModel whose ``item_logits`` after ``last_hidden`` are broken for the planted histories."""

    planted: dict = {}
    _keys: list[str] | None = None

    def last_hidden(self, b):
        self._keys = fingerprints(b)
        return super().last_hidden(b)

    def item_logits(self, h, item_rows=None):
        logits = super().item_logits(h, item_rows)
        keys, self._keys = self._keys, None
        if keys is None or item_rows is not None or len(keys) != len(logits):
            return logits
        collapse, noise = set(self.planted.get("collapse", [])), float(self.planted.get("noise", 0.0))
        keep = self.planted.get("keep")          # reverse every history but these
        keep = None if keep is None else set(keep)
        out = logits.clone()
        for row, key in enumerate(keys):
            scale = logits[row].std().clamp(min=1e-6)
            if key in collapse or (keep is not None and key not in keep):
                out[row] = -logits[row]          # the good model's order, reversed: its hits go last
            elif noise:
                out[row] = logits[row] + noise * scale * _noise(key, logits.shape[1])
        return out


class PlantedPyfunc(CoreModelPyfunc):
    def load_context(self, context):
        super().load_context(context)
        core = self.reader.core
        core.__class__ = PlantedCore
        core.planted = json.loads(Path(context.artifacts[PLANTED]).read_text())


def market_fingerprints(data, market: str, max_len: int) -> list[str]:
    """The fingerprints of the next-item users of ``market`` in a gate ``EvaluationData``, as the
    model (window ``max_len``) sees their histories."""
    from models.data import make_batch

    mask = data.segments(data.next_rows, with_items=True)[f"market={market}"]
    rows = data.next_rows[mask]
    return fingerprints(make_batch(data.store, rows, max_len, train=False)) if len(rows) else []


def log_planted(ckpt_dir: Path, spec: dict, registered_model_name: str, tags: dict) -> str:
    """Register ``ckpt_dir/best.pt`` wrapped by ``PlantedPyfunc`` with ``spec``; returns the version."""
    import mlflow

    from models.pyfunc import SIGNATURE, _example_for, pip_requirements

    (ckpt_dir / "planted.json").write_text(json.dumps(spec))
    with mlflow.start_run(run_name=f"planted {sorted(spec)}"):
        info = mlflow.pyfunc.log_model(
            name="core_model", python_model=PlantedPyfunc(),
            artifacts={"checkpoint": str(ckpt_dir / "best.pt"), PLANTED: str(ckpt_dir / "planted.json")},
            code_paths=[str(Path(__file__).resolve().parents[2] / "models")], signature=SIGNATURE,
            input_example=(_example_for(ckpt_dir / "best.pt"), {"task": "recommend", "k": 10}),
            pip_requirements=pip_requirements(), registered_model_name=registered_model_name, tags=tags)
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(registered_model_name, version, key, value)
    return version
