"""What training checks per task every epoch, and the one number it selects the epoch on.

Per-epoch validation (models/train.py) measures every read-out that has a label inside the training
window: next item (leave-last-item-out HR/NDCG), search (the same ranks, on the users whose held-out
item came right after a search), churn (AUC on a time split of the window, beside days-since-last-
event). ``selection_score`` combines them with documented weights; after training, ``churn_readout``
decides how the churn read-out is served (calibrated model, or the recency fallback where the model
lost to recency) and the decision travels in the checkpoint and the model version's tags.
"""

from __future__ import annotations

import numpy as np
import torch

from models.churn import churn_scores
from models.metrics import auc
from models.model import CoreModel
from models.readouts import churn_features, fit_logistic, fit_recency_baseline
from models.tokens import DAY

# a metric's value that is worth nothing (chance): the score counts the gain above it
CHANCE = {"churn_auc": 0.5}
NEXT_ITEM_ONLY = {"ndcg@10": 1.0}
# the nightly pipeline's weights: next item first, search and churn as guards against rot
ALL_TASKS = {"ndcg@10": 1.0, "search_ndcg@10": 0.5, "churn_auc": 0.25}


def selection_score(val: dict, weights: dict[str, float]) -> float:
    """sum_k w_k * (val[k] - chance_k) over the weighted metrics present in ``val`` (a task with no
    label in this window simply does not count); -inf when none is present."""
    present = [(k, w) for k, w in weights.items() if k in val and np.isfinite(val[k])]
    if not present:
        return float("-inf")
    return float(sum(w * (val[k] - CHANCE.get(k, 0.0)) for k, w in present))


def search_rows_mask(store, rows: np.ndarray) -> np.ndarray:
    """True for users whose history (already cut before the target) ends with a search event."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return np.zeros(0, dtype=bool)
    last = store.offsets[rows + 1] - 1
    return (store.lengths[rows] > 0) & (store.types[np.maximum(last, 0)] == 2)


def churn_validation(model: CoreModel, split, horizon_days: float = 14) -> dict:
    """{"churn_auc", "churn_recency_auc", "churn_n", "churn_rate"} on a ``churn_time_split``."""
    if split is None:
        return {}
    cut, rows, labels, cutoff = split
    if labels.min() == labels.max():
        return {}
    p = churn_scores(model, cut, rows, cutoff, horizon_days).numpy()
    days = (cutoff - cut.extra["last_ts"][rows]) / DAY
    return {"churn_auc": auc(torch.as_tensor(p), torch.as_tensor(labels)),
            "churn_recency_auc": auc(torch.as_tensor(days), torch.as_tensor(labels)),
            "churn_n": int(len(rows)), "churn_rate": float(labels.mean())}


def _cross_fitted(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Out-of-fold logistic predictions over two interleaved folds: an honest AUC for a calibration
    that also sees days since the last event (in-sample it would always match recency)."""
    out = np.zeros(len(labels))
    folds = np.arange(len(labels)) % 2
    for f in (0, 1):
        train, test = folds != f, folds == f
        if labels[train].min() == labels[train].max():
            return np.full(len(labels), labels.mean())
        w = fit_logistic(x[train], labels[train])
        out[test] = x[test] @ w[:-1] + w[-1]
    return out


def churn_readout(model: CoreModel, split, horizon_days: float = 14) -> dict:
    """How to serve churn: ``{"kind": "model", "a", "b", "c"}`` (the gap head, calibrated with days
    since the last event by logistic regression) when that calibration's cross-fitted AUC on the split
    is at least recency's, else ``{"kind": "recency", "rates"}`` (the survival baseline by days since
    the last event), with the AUCs and the reason; ``{"kind": "none"}`` without labels."""
    if split is None:
        return {"kind": "none", "reason": "no timestamps or a window shorter than the horizon"}
    cut, rows, labels, cutoff = split
    if labels.min() == labels.max():
        return {"kind": "none", "reason": "every user in the split has the same label"}
    p = churn_scores(model, cut, rows, cutoff, horizon_days).numpy()
    days = (cutoff - cut.extra["last_ts"][rows]) / DAY
    x = churn_features(p, days)
    y = torch.as_tensor(labels)
    m_auc = auc(torch.as_tensor(p), y)
    r_auc = auc(torch.as_tensor(days), y)
    cv_auc = auc(torch.as_tensor(_cross_fitted(x, labels)), y)
    info = {"model_auc": m_auc, "calibrated_auc": cv_auc, "recency_auc": r_auc, "n": int(len(rows)),
            "horizon_days": horizon_days}
    if cv_auc >= r_auc:
        a, c, b = fit_logistic(x, labels).tolist()
        return {"kind": "model", "a": a, "b": b, "c": c, **info,
                "reason": f"gap head calibrated with recency: AUC {cv_auc:.3f} (cross-fitted) >= recency "
                          f"{r_auc:.3f} on the window's time split (gap head alone {m_auc:.3f})"}
    return {"kind": "recency", "rates": fit_recency_baseline(days, labels), **info,
            "reason": f"gap head calibrated AUC {cv_auc:.3f} < recency {r_auc:.3f} on the window's time split: "
                      "serving the recency survival baseline"}
