"""Ceilings from the truth: the best churn AUC any model could reach on a simulated home.

The 14-day inactivity label at cutoff D (no event in ``[D, D+14)``, over users with an event before D)
is computed from the world's own days (regenerated: identical to the landing files' clean events), and
scored against the oracle's exact probability ``p_inactive`` (see ``churn.py``). A churn model in the
pipeline can be compared with this number instead of with an arbitrary floor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from pipelines.simulate.churn import HORIZON_DAYS, quiet_probabilities
from pipelines.simulate.day import DayGenerator
from pipelines.simulate.world import build_world, user_ids


@dataclass(frozen=True)
class ChurnCeiling:
    cutoff: str
    users: int          # users with an event before the cutoff
    inactive: int       # of which had no event in the horizon
    auc: float          # AUC of the oracle's p_inactive for the observed label (nan if one class)


def auc_score(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula, ties counted half."""
    labels = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = np.asarray(scores)[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def churn_ceiling(home: Path, cutoff: date, horizon: int = HORIZON_DAYS) -> ChurnCeiling:
    """The oracle's churn AUC at ``cutoff`` for the world simulated in ``home``."""
    world_file = Path(home) / "truth" / "world.json"
    if not world_file.exists():
        raise FileNotFoundError(f"{world_file} not found: simulate a shop in {home} first")
    spec = json.loads(world_file.read_text())
    origin = date.fromisoformat(spec["origin"])
    cutoff_index = (cutoff - origin).days
    if cutoff_index < 1:
        raise ValueError(f"cutoff {cutoff} leaves no history after the origin {origin}")
    world = build_world(spec["seed"], spec["users"], spec["items"])
    gen = DayGenerator(world)
    ids = np.array(user_ids(world.n_users))
    index = {u: i for i, u in enumerate(ids)}

    def active_users(first: int, last: int) -> np.ndarray:
        seen = np.zeros(world.n_users, dtype=bool)
        for d in range(first, last):
            users = gen.generate(d, origin + timedelta(days=d)).table.column("user_id").to_pylist()
            seen[[index[u] for u in set(users)]] = True
        return seen

    with_history = active_users(0, cutoff_index)
    active_after = active_users(cutoff_index, cutoff_index + horizon)
    p = quiet_probabilities(world, cutoff_index, origin, horizon)["p_inactive"]
    label = ~active_after[with_history]
    return ChurnCeiling(cutoff=cutoff.isoformat(), users=int(with_history.sum()), inactive=int(label.sum()),
                        auc=auc_score(label, p[with_history]))
