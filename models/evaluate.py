"""Scoring a model on a holdout: full ranking with seen items filtered, beside the popularity baseline.

The gate calls ``evaluate_holdout`` for champion and challenger on the same frozen holdout shard; both
numbers and the popularity baseline come back in one dict with the same keys.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from models.data import SequenceStore, open_shards, store_from_table
from models.inference import score_next, seen_matrix  # noqa: F401 (re-exported)
from models.metrics import ranking_report, target_ranks
from models.model import CoreModel


@torch.no_grad()
def rank_targets(model: CoreModel | None, store: SequenceStore, rows: np.ndarray, targets: np.ndarray,
                 n_items: int, batch_size: int = 256, item_counts: np.ndarray | None = None,
                 exclude_seen: bool = True) -> torch.Tensor:
    """Ranks of ``targets`` for users ``rows``; ``model=None`` ranks by ``item_counts`` (popularity).

    ``exclude_seen`` matches ``models.readouts.recommend``: True removes the user's history from the
    candidates (a seen target is a miss, as on a film site); False ranks every item (a shop, where
    buying again is normal)."""
    out = []
    rows = np.asarray(rows)
    order = np.argsort(store.lengths[rows], kind="stable")   # similar lengths together: less padding
    for s in range(0, len(rows), batch_size):
        sel = order[s:s + batch_size]
        r = rows[sel]
        if model is None:
            pop = torch.as_tensor(np.asarray(item_counts, dtype=np.float64)[1:n_items + 1], dtype=torch.float32)
            if len(pop) < n_items:
                pop = torch.cat([pop, torch.zeros(n_items - len(pop))])
            scores = pop[None].expand(len(r), n_items)
        else:
            scores = score_next(model, store, r, n_items)
        ranks = target_ranks(scores, torch.as_tensor(targets[sel]),
                             seen_matrix(store, r, n_items) if exclude_seen else None)
        out.append((sel, ranks))
    ranks = torch.full((len(rows),), float("inf"))
    for sel, r in out:
        ranks[torch.as_tensor(sel)] = r
    return ranks


def evaluate_holdout(model, shards_dir: str | Path, k: int = 10, batch_size: int = 256,
                     ks: tuple[int, ...] = (1, 5, 10, 20), exclude_seen: bool = True) -> dict:
    """HR/NDCG@{1,5,10,20} and MRR of ``model`` on ``shards_dir``/holdout.parquet, and the same for
    the popularity baseline (item counts of the train shards), full ranking, seen items filtered.

    ``model``: a CoreModel, a checkpoint file or training out_dir (best.pt), an MLflow model URI
    (``models:/name@alias``, ``runs:/...``) of a model logged by ``log_core_model``, or None (only the
    baseline). Keys: ``hr@10``, ``ndcg@10``, ... for the model, ``pop_hr@10``, ... for popularity,
    ``n`` users scored.
    """
    from models.data import concat_tables, load_train_store

    shards = open_shards(shards_dir)
    if shards.holdout_file is None:
        raise FileNotFoundError(f"no holdout.parquet in {shards_dir}")
    hold = store_from_table(concat_tables([shards.holdout_file]))
    if "target_item_idx" not in hold.extra:
        raise ValueError("holdout.parquet has no target_item_idx column")
    targets = hold.extra["target_item_idx"]
    rows = np.flatnonzero((hold.lengths > 0) & (targets > 0))
    counts = load_train_store(shards).item_counts(shards.n_items)
    result: dict = {"k": k}
    core = _as_core_model(model)
    if core is not None:
        ranks = rank_targets(core, hold, rows, targets[rows], shards.n_items, batch_size,
                             exclude_seen=exclude_seen)
        result.update(ranking_report(ranks, ks))
    pop = rank_targets(None, hold, rows, targets[rows], shards.n_items, batch_size, item_counts=counts,
                       exclude_seen=exclude_seen)
    result.update({f"pop_{key}": v for key, v in ranking_report(pop, ks).items() if key != "n"})
    result["n"] = int(len(rows))
    result["n_holdout_rows"] = int(hold.n_users)
    return result


def _as_core_model(model) -> CoreModel | None:
    if model is None or isinstance(model, CoreModel):
        return model
    s = str(model)
    if s.startswith(("models:/", "runs:/")):
        import mlflow.pyfunc

        return mlflow.pyfunc.load_model(s).unwrap_python_model().core
    from models.checkpoint import load_model

    return load_model(s)[0]


def per_user_gains(ranks: torch.Tensor, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(NDCG@k, HR@k) of each user from ``rank_targets``'s ranks: the per-user values whose means are
    ``models.metrics.ndcg`` / ``hit_rate``, for paired tests between models on the same users."""
    r = torch.as_tensor(ranks, dtype=torch.float64)
    hit = r <= k
    gain = torch.where(hit, 1.0 / torch.log2(r.clamp(max=1e9) + 1.0), torch.zeros_like(r))
    return gain.numpy(), hit.double().numpy()


def load_logged_model(model_uri: str):
    """(CoreReader, item ids by item_idx) of a model logged by ``log_core_model``: the model with the
    vocabulary the pyfunc maps ids with (so a caller scoring in item_idx space can check they agree)
    and its read-out settings (the churn read-out), exactly as the pyfunc serves it."""
    import mlflow.pyfunc

    wrapper = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
    reader = getattr(wrapper, "reader", None)     # models.inference.CoreReader
    if reader is None:
        raise ValueError(f"{model_uri}: the logged model exposes no item vocabulary (no CoreReader)")
    return reader, list(reader.item_ids)
