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


@dataclass(frozen=True)
class NextItemCeiling:
    cutoff: str
    users: int            # users with item history before the cutoff and an item event after it
    k: int
    oracle_hr: float      # HR@k of the true taste model (history items removed, as the pyfunc does)
    oracle_ndcg: float
    popularity_hr: float  # HR@k of most-viewed-before-the-cutoff (history removed)
    popularity_ndcg: float


def _hit_and_ndcg(scores: np.ndarray, target: np.ndarray, k: int) -> tuple[float, float]:
    target_score = scores[np.arange(len(target)), target]
    rank = (scores > target_score[:, None]).sum(axis=1)      # 0-based; -inf (history) never above
    hit = (rank < k) & np.isfinite(target_score)
    ndcg = np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0)
    return float(hit.mean()), float(ndcg.mean())


def next_item_ceiling(home: Path, cutoff: date, k: int = 10, horizon: int = HORIZON_DAYS) -> NextItemCeiling:
    """HR@k / NDCG@k of the world's true next-item distribution vs popularity, on each user's first
    item event in ``[cutoff, cutoff + horizon)`` with items from the user's history removed."""
    from pipelines.simulate.day import FOCUS_SHARE
    from pipelines.simulate.world import TASTE_PLACE

    spec = json.loads((Path(home) / "truth" / "world.json").read_text())
    origin = date.fromisoformat(spec["origin"])
    cutoff_index = (cutoff - origin).days
    if cutoff_index < 1:
        raise ValueError(f"cutoff {cutoff} leaves no history after the origin {origin}")
    world = build_world(spec["seed"], spec["users"], spec["items"])
    gen = DayGenerator(world)
    user_index = {u: i for i, u in enumerate(user_ids(world.n_users))}
    n_u, n_i = world.n_users, world.n_items
    seen = np.zeros((n_u, n_i), dtype=bool)
    views = np.zeros(n_i)
    target = np.full(n_u, -1)
    for d in range(cutoff_index + horizon):
        table = gen.generate(d, origin + timedelta(days=d)).table.sort_by("ts")
        kind = np.array(table.column("event_type").to_pylist())
        keep = kind != "search"
        users = np.array([user_index[u] for u in np.array(table.column("user_id").to_pylist())[keep]])
        items = np.array([int(i[5:]) for i in np.array(table.column("item_id").to_pylist(), dtype=object)[keep]])
        if d < cutoff_index:
            seen[users, items] = True
            np.add.at(views, items, 1.0)
        else:
            for u, i in zip(users, items, strict=True):
                if target[u] < 0:
                    target[u] = i
    chosen = np.flatnonzero((target >= 0) & seen.any(axis=1))
    pop = world.item_popularity
    pal_share = pop / np.bincount(world.item_palette, weights=pop)[world.item_palette]
    place_share = pop / np.bincount(world.item_place, weights=pop)[world.item_place]
    by_palette = world.user_palette_pref[chosen][:, world.item_palette] * pal_share
    by_place = world.user_place_pref[chosen][:, world.item_place] * place_share
    place_minded = (world.user_taste_axis[chosen] == TASTE_PLACE)[:, None]
    oracle = FOCUS_SHARE * np.where(place_minded, by_place, by_palette) + (1 - FOCUS_SHARE) * pop
    on_sale = (world.item_launch_day <= cutoff_index) & (world.item_retire_day > cutoff_index)
    oracle = np.where(on_sale[None, :], oracle, oracle * 1e-6)   # off sale: last resort only
    popular = np.broadcast_to(views + 1e-9 * pop, oracle.shape).copy()  # ties broken by true popularity
    history = seen[chosen]
    oracle[history] = -np.inf
    popular[history] = -np.inf
    hr, ndcg = _hit_and_ndcg(oracle, target[chosen], k)
    p_hr, p_ndcg = _hit_and_ndcg(popular, target[chosen], k)
    return NextItemCeiling(cutoff=cutoff.isoformat(), users=len(chosen), k=k, oracle_hr=hr, oracle_ndcg=ndcg,
                           popularity_hr=p_hr, popularity_ndcg=p_ndcg)
