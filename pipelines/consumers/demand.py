"""Demand outlook and audiences: users' purchase propensities from the champion, summed or ranked.

For user u at the batch time ``at`` (the end of the shards' window) and a horizon of H days (7):

    P_u(active)  = 1 - readouts.churn(u, at, H)              P(at least one event in the next H days)
    P_u(i)       = readouts.next_item_probabilities(u)[i]    P(the next item u touches is i)
    r_u          = u's purchases per active H-day period     purchases / periods (H days back from
                                                              ``at``) in which u had any event
    expected purchases of i in the next H days = sum_u P_u(active) x r_u x P_u(i)

The baseline beside it is the item's H-day moving average of purchases (the warehouse's fct_events count in the last H days
/ H, per day; times H for the same horizon). ``audiences`` ranks users by P_u(active) x r_u x
sum_{i in target} P_u(i): the expected purchases of the target by that user.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

from models import readouts
from models.inference import CoreReader
from models.shards import EVENT_TYPES
from models.tokens import DAY

PURCHASE = "purchase"
CHUNK = 1024


def _is_purchase(event_type) -> bool:
    return event_type == PURCHASE or event_type == EVENT_TYPES[PURCHASE]


def purchase_rate(history: dict, at_ts: int, horizon_days: float = 7) -> float:
    """u's purchases per ``horizon_days`` period in which u was active (had any event), counting
    periods back from ``at_ts``; 0 for a user without purchases or timestamps."""
    types, ts = history.get("event_types") or [], history.get("ts") or []
    periods, purchases = set(), 0
    for t, e in zip(ts, types, strict=False):
        if t is None or t >= at_ts:
            continue
        periods.add(int((at_ts - t) // (horizon_days * DAY)))
        purchases += _is_purchase(e)
    return purchases / len(periods) if periods else 0.0


def recent_purchases(histories: Sequence[dict], at_ts: int, days: float = 7) -> Counter:
    """{item_id: purchases in the ``days`` before ``at_ts``} over all histories."""
    since = at_ts - days * DAY
    out: Counter = Counter()
    for h in histories:
        for item, e, t in zip(h.get("items") or [], h.get("event_types") or [], h.get("ts") or [], strict=False):
            if item is not None and t is not None and since <= t < at_ts and _is_purchase(e):
                out[item] += 1
    return out


def user_weights(reader: CoreReader, histories: Sequence[dict], at_ts: int, horizon_days: float = 7) -> np.ndarray:
    """P_u(active in the horizon) x r_u per history: the expected purchases of each user."""
    if not len(histories):
        return np.zeros(0)
    active = 1.0 - readouts.churn(reader, histories, int(at_ts), horizon_days)
    rates = np.asarray([purchase_rate(h, at_ts, horizon_days) for h in histories])
    return active * rates


def expected_purchases(reader: CoreReader, histories: Sequence[dict], at_ts: int,
                       horizon_days: float = 7) -> np.ndarray:
    """(n_items,) sum_u P_u(active) r_u P_u(i), in the reader's item order (``item_vectors``)."""
    total = np.zeros(reader.n_items)
    for s in range(0, len(histories), CHUNK):
        chunk = histories[s:s + CHUNK]
        w = user_weights(reader, chunk, at_ts, horizon_days)
        if w.any():
            total += (readouts.next_item_probabilities(reader, chunk).numpy().T @ w)
    return total


def demand_outlook(reader: CoreReader, histories: Sequence[dict], at_ts: int, horizon_days: float = 7,
                   recent: Mapping[str, int] | None = None) -> pa.Table:
    """item_id, expected_purchases (next ``horizon_days``), purchases_last_period, moving_average
    (per day), moving_average_forecast (x ``horizon_days``), horizon_days, scored_at; every model item.
    ``recent``: purchases per item in the last period (the warehouse's count); default: the histories'."""
    ids, _ = readouts.item_vectors(reader)
    expected = expected_purchases(reader, histories, at_ts, horizon_days)
    recent = recent_purchases(histories, at_ts, horizon_days) if recent is None else recent
    last = np.asarray([recent.get(i, 0) for i in ids], np.float64)
    n = len(ids)
    return pa.table({"item_id": pa.array(ids, pa.string()),
                     "expected_purchases": pa.array(expected, pa.float64()),
                     "purchases_last_period": pa.array(last.astype(np.int64), pa.int64()),
                     "moving_average": pa.array(last / horizon_days, pa.float64()),
                     "moving_average_forecast": pa.array(last, pa.float64()),
                     "horizon_days": pa.array([float(horizon_days)] * n, pa.float64()),
                     "scored_at": pa.array([int(at_ts) * 1_000_000] * n, pa.timestamp("us", tz="UTC"))})


def audience(reader: CoreReader, user_ids: Sequence[str], histories: Sequence[dict], target: Sequence[str],
             at_ts: int, top_n: int = 100, horizon_days: float = 7) -> pa.Table:
    """user_id, rank, propensity (expected purchases of the target items in the horizon),
    p_next_in_target, p_active: the ``top_n`` users most likely to buy one of ``target``."""
    cols = [reader.index[i] - 1 for i in target if i in reader.index and reader.index[i] <= reader.n_items]
    if not cols:
        raise ValueError("none of the target items is known to the champion: pick an item it has seen")
    p_next, p_active, rates = [], [], []
    for s in range(0, len(histories), CHUNK):
        chunk = histories[s:s + CHUNK]
        p_next.append(readouts.next_item_probabilities(reader, chunk)[:, cols].sum(-1).numpy())
        p_active.append(1.0 - readouts.churn(reader, chunk, int(at_ts), horizon_days))
        rates.append(np.asarray([purchase_rate(h, at_ts, horizon_days) for h in chunk]))
    if not p_next:
        return pa.table({"user_id": pa.array([], pa.string()), "rank": pa.array([], pa.int32()),
                         "propensity": pa.array([], pa.float64()), "p_next_in_target": pa.array([], pa.float64()),
                         "p_active": pa.array([], pa.float64())})
    nxt, act, rate = np.concatenate(p_next), np.concatenate(p_active), np.concatenate(rates)
    # a user who never bought gets a small rate, so that their propensity still ranks them
    score = act * np.maximum(rate, 1e-3) * nxt
    order = np.lexsort((np.arange(len(score)), -score))[:max(0, int(top_n))]
    return pa.table({"user_id": pa.array([str(user_ids[i]) for i in order], pa.string()),
                     "rank": pa.array(np.arange(1, len(order) + 1), pa.int32()),
                     "propensity": pa.array(score[order], pa.float64()),
                     "p_next_in_target": pa.array(nxt[order], pa.float64()),
                     "p_active": pa.array(act[order], pa.float64())})
