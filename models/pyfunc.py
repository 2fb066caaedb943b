"""The MLflow pyfunc every consumer uses: history of item ids in, top-k item ids and scores out.

The logged artifact is self-contained: the checkpoint (weights + item vocabulary + popularity counts)
and this ``models`` package as ``code_paths``, with explicit pip requirements (requirement inference
is slow here and writes a ``+cpu`` torch pin that PyPI lacks).
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from mlflow.models.signature import ModelSignature
from mlflow.types import DataType
from mlflow.types.schema import Array, ColSpec, ParamSchema, ParamSpec, Schema

SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec(Array(DataType.string), "history")]),
    outputs=Schema([ColSpec(Array(DataType.string), "items"), ColSpec(Array(DataType.double), "scores")]),
    params=ParamSchema([ParamSpec("k", DataType.long, 10)]),
)


def _pin(pkg: str) -> str:
    return f"{pkg}=={version(pkg).split('+')[0]}"


def pip_requirements() -> list[str]:
    return [_pin("torch"), _pin("mlflow"), _pin("numpy"), _pin("pandas"), _pin("pyarrow")]


def _as_list(h) -> list:
    if h is None or (isinstance(h, float) and np.isnan(h)):
        return []
    return [x for x in list(h) if x is not None]


class Recommender:
    """Scores histories with a CoreModel; pure torch/numpy, usable without MLflow."""

    def __init__(self, core, item_ids: list, item_counts: np.ndarray):
        self.core = core.eval()
        self.item_ids = item_ids
        self.index = {s: i for i, s in enumerate(item_ids) if s is not None}
        self.n_items = core.cfg.n_items
        self.pop = torch.as_tensor(np.asarray(item_counts, dtype=np.float64)[1:self.n_items + 1], dtype=torch.float32)

    @torch.no_grad()
    def recommend(self, histories: list[list[str]], k: int = 10) -> tuple[list[list[str]], list[list[float]]]:
        from models.data import store_from_table
        from models.evaluate import score_next, seen_matrix

        idx = [[self.index[s] for s in map(str, h) if s in self.index and self.index[s] <= self.n_items]
               for h in histories]
        store = store_from_table(pa.table({"user_id": [str(i) for i in range(len(idx))],
                                           "item_idx": pa.array(idx, pa.list_(pa.int32()))}))
        scores = self.pop[None].expand(len(idx), self.n_items).clone()
        known = np.flatnonzero(store.lengths > 0)
        for s in range(0, len(known), 256):
            r = known[s:s + 256]
            scores[torch.as_tensor(r)] = score_next(self.core, store, r, self.n_items)
        scores = scores.masked_fill(seen_matrix(store, np.arange(len(idx)), self.n_items), float("-inf"))
        k = max(0, min(int(k), self.n_items))
        top = scores.topk(k, dim=1)
        items, out_scores = [], []
        for vals, ids in zip(top.values.tolist(), top.indices.tolist(), strict=True):
            keep = [(v, i) for v, i in zip(vals, ids, strict=True) if v != float("-inf")]
            items.append([self.item_ids[i + 1] for _, i in keep])
            out_scores.append([float(v) for v, _ in keep])
        return items, out_scores


class CoreModelPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from models.checkpoint import load_model

        core, ckpt = load_model(context.artifacts["checkpoint"])
        self.rec = Recommender(core, ckpt["item_ids"], ckpt["item_counts"])

    @property
    def core(self):
        return self.rec.core

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        if "history" not in model_input.columns:
            raise ValueError(f"input needs a 'history' column (list of item ids), got {list(model_input.columns)}")
        k = int((params or {}).get("k", 10))
        items, scores = self.rec.recommend([_as_list(h) for h in model_input["history"]], k)
        return pd.DataFrame({"items": items, "scores": scores})


def log_core_model(out_dir: str | Path, registered_model_name: str, checkpoint: str = "best.pt",
                   name: str = "core_model", tags: dict | None = None):
    """Log ``out_dir``'s checkpoint to the active MLflow run (one is started if none is) as a pyfunc
    with a signature, and register it; returns the registered ``ModelVersion``."""
    from models.checkpoint import resolve

    out = Path(out_dir)
    ckpt = resolve(out / checkpoint if (out / checkpoint).exists() else out)
    artifacts = {"checkpoint": str(ckpt)}
    if (out / "metrics.json").exists():
        artifacts["metrics"] = str(out / "metrics.json")
    started = mlflow.active_run() is None
    if started:
        mlflow.start_run()
    try:
        info = mlflow.pyfunc.log_model(
            name=name, python_model=CoreModelPyfunc(), artifacts=artifacts,
            code_paths=[str(Path(__file__).resolve().parent)], signature=SIGNATURE,
            pip_requirements=pip_requirements(), registered_model_name=registered_model_name,
            tags=tags,
        )
    finally:
        if started:
            mlflow.end_run()
    return mlflow.MlflowClient().get_model_version(registered_model_name, str(info.registered_model_version))
