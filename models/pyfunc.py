"""The MLflow pyfunc every consumer uses: one model, a ``task`` param, event histories in.

Tasks (``params={"task": ...}``), each a read-out of ``models/readouts.py``:

| task | input columns | output columns |
|---|---|---|
| ``recommend`` (default) | a history | ``items``, ``scores`` |
| ``search`` | a history + ``query`` | ``items``, ``scores`` |
| ``similar`` | ``item_id`` | ``items``, ``scores`` |
| ``words`` | ``item_id`` | ``words``, ``scores`` |
| ``churn`` | a history (+ ``at``, unix seconds; default now) | ``churn_probability`` |
| ``embed`` | a history | ``vector`` |

A history is ``history`` (a list of item ids: the original input, still accepted) or the full event
lists ``items``, ``event_types``, ``ts`` (unix seconds), ``queries`` plus ``market``; any may be absent,
and "" marks an unknown value inside a list (a search has item "", a view has query "").
Params: ``k`` (10), ``exclude_seen`` (true), ``horizon_days`` (14). A bad request raises an
``MlflowException`` with INVALID_PARAMETER_VALUE, which ``mlflow models serve`` answers with HTTP 400.

The logged artifact is self-contained: the checkpoint (weights + item vocabulary + popularity counts
+ query words + churn read-out) and this ``models`` package as ``code_paths``, with explicit pip
requirements (requirement inference is slow here and writes a ``+cpu`` torch pin that PyPI lacks).
"""

from __future__ import annotations

import time
from importlib.metadata import version
from pathlib import Path

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models.signature import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types import DataType
from mlflow.types.schema import Array, ColSpec, ParamSchema, ParamSpec, Schema

TASKS = ("recommend", "search", "similar", "words", "churn", "embed")
HISTORY_COLUMNS = ("history", "items", "event_types", "ts", "queries", "market")

SIGNATURE = ModelSignature(
    inputs=Schema([
        ColSpec(Array(DataType.string), "history", required=False),
        ColSpec(Array(DataType.string), "items", required=False),
        ColSpec(Array(DataType.string), "event_types", required=False),
        ColSpec(Array(DataType.double), "ts", required=False),
        ColSpec(Array(DataType.string), "queries", required=False),
        ColSpec(DataType.string, "market", required=False),
        ColSpec(DataType.string, "query", required=False),
        ColSpec(DataType.string, "item_id", required=False),
        ColSpec(DataType.double, "at", required=False),
    ]),
    params=ParamSchema([ParamSpec("task", DataType.string, "recommend"), ParamSpec("k", DataType.long, 10),
                        ParamSpec("exclude_seen", DataType.boolean, True),
                        ParamSpec("horizon_days", DataType.double, 14.0)]),
)

INPUT_EXAMPLE = pd.DataFrame({
    "items": [["item-00001", "", "item-00002"]], "event_types": [["view", "search", "purchase"]],
    "ts": [[1767225600.0, 1767225630.0, 1767226000.0]], "queries": [["", "sunset poster", ""]],
    "market": ["se"], "query": ["sunset poster"], "item_id": ["item-00001"], "at": [1767312000.0],
})


def _pin(pkg: str) -> str:
    return f"{pkg}=={version(pkg).split('+')[0]}"


def pip_requirements() -> list[str]:
    return [_pin("torch"), _pin("mlflow"), _pin("numpy"), _pin("pandas"), _pin("pyarrow")]


def bad_request(message: str) -> MlflowException:
    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def _cell(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def histories_from_frame(frame: pd.DataFrame) -> list:
    """One history per row: the full event columns where given, else the old ``history`` item list."""
    present = [c for c in ("items", "event_types", "ts", "queries") if c in frame.columns]
    out = []
    for _, row in frame.iterrows():
        if present and any(_cell(row[c]) is not None for c in present):
            h = {c: _cell(row[c]) for c in present}
            if "market" in frame.columns:
                h["market"] = _cell(row["market"])
            out.append(h)
        elif "history" in frame.columns:
            out.append(_cell(row["history"]) or [])
        else:
            out.append([])
    return out


def _column(frame: pd.DataFrame, name: str, task: str) -> list:
    if name not in frame.columns:
        raise bad_request(f"task {task!r} needs a column {name!r}; got columns {list(frame.columns)}")
    values = [_cell(v) for v in frame[name]]
    if any(v is None or (isinstance(v, str) and not v.strip()) for v in values):
        raise bad_request(f"task {task!r}: column {name!r} is empty in some rows")
    return values


class CoreModelPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from models.inference import CoreReader

        self.reader = CoreReader.from_checkpoint(context.artifacts["checkpoint"])

    @property
    def core(self):
        return self.reader.core

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        from models.inference import BadRequest

        params = params or {}
        task = str(params.get("task") or "recommend")
        if task not in TASKS:
            raise bad_request(f"unknown task {task!r}; use one of {list(TASKS)}")
        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame(model_input)
        if len(model_input) == 0:
            raise bad_request("empty input: send at least one row")
        try:
            k = int(params.get("k", 10))
        except (TypeError, ValueError):
            raise bad_request(f"k must be an integer, got {params.get('k')!r}") from None
        if k < 1:
            raise bad_request(f"k must be at least 1, got {k}")
        try:
            return self._predict(task, model_input, k, params)
        except BadRequest as e:
            raise bad_request(str(e)) from None

    def _predict(self, task: str, frame: pd.DataFrame, k: int, params: dict) -> pd.DataFrame:
        from models import readouts

        r = self.reader
        exclude_seen = bool(params.get("exclude_seen", True))
        if task == "similar":
            items, scores = readouts.similar_items(r, _column(frame, "item_id", task), k)
            return pd.DataFrame({"items": items, "scores": scores})
        if task == "words":
            words, scores = readouts.item_words(r, _column(frame, "item_id", task), k)
            return pd.DataFrame({"words": words, "scores": scores})
        histories = histories_from_frame(frame)
        if task == "recommend":
            items, scores = readouts.recommend(r, histories, k, exclude_seen=exclude_seen)
            return pd.DataFrame({"items": items, "scores": scores})
        if task == "search":
            items, scores = readouts.search(r, histories, _column(frame, "query", task), k,
                                            exclude_seen=bool(params.get("exclude_seen", False)))
            return pd.DataFrame({"items": items, "scores": scores})
        if task == "churn":
            at = [_cell(v) for v in frame["at"]] if "at" in frame.columns else [None] * len(frame)
            now = int(time.time())
            ats = np.array([now if a is None else int(a) for a in at])
            horizon = float(params.get("horizon_days", 14.0))
            p = np.concatenate([readouts.churn(r, [h], int(a), horizon) for h, a in zip(histories, ats, strict=True)]) \
                if len(set(ats.tolist())) > 1 else readouts.churn(r, histories, int(ats[0]), horizon)
            return pd.DataFrame({"churn_probability": p.astype(float)})
        return pd.DataFrame({"vector": [v.astype(float).tolist() for v in readouts.embed(r, histories)]})


def _example_for(ckpt_path: Path) -> pd.DataFrame:
    """INPUT_EXAMPLE with two of the model's own item ids (the example must be answerable)."""
    from models.checkpoint import load_checkpoint

    ids = [i for i in load_checkpoint(ckpt_path)["item_ids"][1:3] if i is not None] or ["item-1"]
    ex = INPUT_EXAMPLE.copy()
    ex.at[0, "items"] = [ids[0], "", ids[-1]]
    ex.at[0, "item_id"] = ids[0]
    return ex


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
            input_example=(_example_for(ckpt), {"task": "recommend", "k": 10}),
            pip_requirements=pip_requirements(), registered_model_name=registered_model_name,
            tags=tags,
        )
    finally:
        if started:
            mlflow.end_run()
    return mlflow.MlflowClient().get_model_version(registered_model_name, str(info.registered_model_version))
