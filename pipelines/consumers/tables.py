"""One builder per consumer table: thin loops over ``models.readouts`` (never a second way to score).

Each returns a pyarrow table without the batch stamp (``store.stamp`` adds ``model_version`` and
``dagster_run_id``); users and items are scored in chunks so a big shop never needs a
(users x items) matrix at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

from models import readouts
from models.inference import CoreReader
from pipelines.consumers import anomalies, demand
from pipelines.consumers.batch import risk_band

CHUNK = 1024


def _long(key: str, keys: Sequence[str], values: list[list], scores: list[list], value_name: str) -> dict:
    out = {key: [], "rank": [], value_name: [], "score": []}
    for k, vals, scs in zip(keys, values, scores, strict=True):
        for r, (v, s) in enumerate(zip(vals, scs, strict=True), start=1):
            out[key].append(k)
            out["rank"].append(r)
            out[value_name].append(v)
            out["score"].append(float(s))
    return out


def recommendations(reader: CoreReader, user_ids: Sequence[str], histories: Sequence[dict], k: int = 10,
                    exclude_seen: bool = True) -> pa.Table:
    """user_id, rank, item_id, score: the top-k next items per user (``readouts.recommend``)."""
    items: list[list] = []
    scores: list[list] = []
    for s in range(0, len(histories), CHUNK):
        i, sc = readouts.recommend(reader, histories[s:s + CHUNK], k=k, exclude_seen=exclude_seen)
        items += i
        scores += sc
    cols = _long("user_id", user_ids, items, scores, "item_id")
    return pa.table({"user_id": pa.array(cols["user_id"], pa.string()), "rank": pa.array(cols["rank"], pa.int32()),
                     "item_id": pa.array(cols["item_id"], pa.string()), "score": pa.array(cols["score"], pa.float64())})


def similar_items(reader: CoreReader, k: int = 10) -> pa.Table:
    """item_id, rank, similar_item_id, score for every item of the model (``readouts.similar_items``)."""
    ids, _ = readouts.item_vectors(reader)
    items: list[list] = []
    scores: list[list] = []
    for s in range(0, len(ids), CHUNK):
        i, sc = readouts.similar_items(reader, ids[s:s + CHUNK], k=k)
        items += i
        scores += sc
    cols = _long("item_id", ids, items, scores, "similar_item_id")
    return pa.table({"item_id": pa.array(cols["item_id"], pa.string()), "rank": pa.array(cols["rank"], pa.int32()),
                     "similar_item_id": pa.array(cols["similar_item_id"], pa.string()),
                     "score": pa.array(cols["score"], pa.float64())})


def item_words(reader: CoreReader, tags: Mapping[str, str | None], k: int = 5) -> pa.Table:
    """item_id, rank, word, score, missing_from_tags: the words customers use for each item
    (``readouts.item_words``) and whether the catalogue tags lack them
    (``readouts.words_missing_from_tags``); null where the item has no catalogue row."""
    ids, _ = readouts.item_vectors(reader)
    words, scores = readouts.item_words(reader, ids, k=k)
    cols = _long("item_id", ids, words, scores, "word")
    missing: list[bool | None] = []
    for item, ws in zip(ids, words, strict=True):
        if item in tags:
            missing += readouts.words_missing_from_tags(ws, tags[item])
        else:
            missing += [None] * len(ws)
    return pa.table({"item_id": pa.array(cols["item_id"], pa.string()), "rank": pa.array(cols["rank"], pa.int32()),
                     "word": pa.array(cols["word"], pa.string()), "score": pa.array(cols["score"], pa.float64()),
                     "missing_from_tags": pa.array(missing, pa.bool_())})


def churn_scores(reader: CoreReader, user_ids: Sequence[str], histories: Sequence[dict], last_ts: Sequence,
                 at_ts: int, horizon_days: float = 14, high: float = 0.7, medium: float = 0.4) -> pa.Table:
    """user_id, churn_probability (P(no event in ``horizon_days`` after ``at_ts``, ``readouts.churn``),
    risk_band, days_since_last_event, horizon_days, scored_at."""
    probs = np.concatenate([readouts.churn(reader, histories[s:s + CHUNK], int(at_ts), horizon_days)
                            for s in range(0, len(histories), CHUNK)]) if len(histories) else np.zeros(0)
    days = [None if t is None else max(at_ts - int(t), 0) / 86_400 for t in last_ts]
    n = len(user_ids)
    return pa.table({"user_id": pa.array(list(user_ids), pa.string()),
                     "churn_probability": pa.array(probs.astype(np.float64)),
                     "risk_band": pa.array([risk_band(float(p), high, medium) for p in probs], pa.string()),
                     "days_since_last_event": pa.array(days, pa.float64()),
                     "horizon_days": pa.array([float(horizon_days)] * n, pa.float64()),
                     "scored_at": pa.array([int(at_ts) * 1_000_000] * n, pa.timestamp("us", tz="UTC"))})


def market_map(reader: CoreReader, histories: Sequence[dict], markets: Sequence[str | None]) -> pa.Table:
    """market, other_market, similarity, n_users: cosine of the markets' mean user vectors
    (``readouts.embed`` then ``readouts.market_similarity``); users without a market are left out."""
    keep = [i for i, m in enumerate(markets) if m is not None]
    vectors = [readouts.embed(reader, [histories[i] for i in keep[s:s + CHUNK]]) for s in range(0, len(keep), CHUNK)]
    names, sims = readouts.market_similarity(np.concatenate(vectors) if vectors else np.zeros((0, 1)),
                                             [markets[i] for i in keep])
    counts = Counter(markets[i] for i in keep)
    rows = [(a, b, float(sims[i, j]), counts[a]) for i, a in enumerate(names) for j, b in enumerate(names)]
    return pa.table({"market": pa.array([r[0] for r in rows], pa.string()),
                     "other_market": pa.array([r[1] for r in rows], pa.string()),
                     "similarity": pa.array([r[2] for r in rows], pa.float64()),
                     "n_users": pa.array([r[3] for r in rows], pa.int64())})


def catalogue_anomalies(reader: CoreReader, tags: Mapping[str, str | None], categories: Mapping[str, str | None],
                        k: int = 20, min_lift: float = 1.5, max_llr: float = 0.0) -> pa.Table:
    """item_id, label_kind, disagreeing_label, the shares, p_value, neighbour_ids, suggested_label:
    catalogue labels the item's ``k`` behaviour neighbours (``readouts.similar_items``) disagree
    with (``pipelines.consumers.anomalies``); empty for a business without a catalogue."""
    labels = {i: anomalies.labels_of(t, categories.get(i)) for i, t in tags.items()}
    labels = {i: ls for i, ls in labels.items() if ls}
    ids = [i for i in labels if i in reader.index]
    neighbours: dict[str, list[str]] = {}
    for s in range(0, len(ids), CHUNK):
        got, _ = readouts.similar_items(reader, ids[s:s + CHUNK], k=k)
        neighbours.update(zip(ids[s:s + CHUNK], got, strict=True))
    rows = anomalies.find_anomalies({i: labels[i] for i in ids}, neighbours, min_lift=min_lift, max_llr=max_llr)
    return anomalies.anomalies_table(rows)


def demand_outlook(reader: CoreReader, histories: Sequence[dict], at_ts: int, horizon_days: float = 7,
                   recent: Mapping[str, int] | None = None) -> pa.Table:
    """Expected purchases per item over the horizon beside its moving average (``pipelines.consumers.demand``)."""
    return demand.demand_outlook(reader, histories, at_ts, horizon_days, recent)
