"""The core model's read-outs: every task a business uses it for, each a pure function of (model, inputs).

All of them go through ``models.inference`` (one tokenisation, one scoring path):

- ``recommend``    next items after each history; ``exclude_seen`` says whether seen items may come back;
                   ``next_item_probabilities`` the same scores as a distribution (demand, audiences)
- ``search``       items for a query typed now, personalised: the query is the history's newest event
- ``similar_items`` behaviour neighbours: cosine of the learned item vectors
- ``item_words``   the words customers use for an item: P(word | item) from P(item | search "word")
- ``churn``        P(no event in the next H days), from the time-gap head, calibrated on a time split
                   of the training window, or a recency survival baseline where the model lost to it
- ``embed`` / ``item_vectors`` user and item vectors; ``market_similarity`` cosine of market means
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from models.churn import churn_scores
from models.inference import BadRequest, CoreReader, normalise_history, seen_matrix
from models.tokens import DAY, normalise_query


def _top(scores: torch.Tensor, k: int, reader: CoreReader) -> tuple[list[list[str]], list[list[float]]]:
    k = max(0, min(int(k), scores.shape[1]))
    top = scores.topk(k, dim=1)
    items, out = [], []
    for vals, ids in zip(top.values.tolist(), top.indices.tolist(), strict=True):
        keep = [(v, i) for v, i in zip(vals, ids, strict=True) if v != float("-inf")]
        items.append([reader.item_id(i + 1) for _, i in keep])
        out.append([float(v) for v, _ in keep])
    return items, out


def recommend(reader: CoreReader, histories: Sequence, k: int = 10,
              exclude_seen: bool = True) -> tuple[list[list[str]], list[list[float]]]:
    """Top-k next item ids and scores per history (popularity for an empty one).

    ``exclude_seen=True`` never returns an item already in the history (a film site);
    ``False`` allows repeat purchases (a shop). Evaluate with the same switch
    (``models.evaluate.rank_targets(exclude_seen=...)``)."""
    store = reader.encode(histories)
    scores = reader.next_scores(store)
    if exclude_seen:
        scores = scores.masked_fill(seen_matrix(store, np.arange(store.n_users), reader.n_items), float("-inf"))
    return _top(scores, k, reader)


def next_item_probabilities(reader: CoreReader, histories: Sequence) -> torch.Tensor:
    """(U, n_items) P(next item = i | history): the softmax of the scores ``recommend`` ranks by (seen
    items included: a shop's repeat purchases count). Column j is ``reader.item_id(j + 1)``."""
    return reader.next_scores(reader.encode(histories)).softmax(-1)


def with_search(histories: Sequence, queries: Sequence[str], ts: Sequence | None = None) -> list[dict]:
    """Each history with one more event at the end: a search for ``queries[i]`` (at ``ts[i]``)."""
    if len(queries) != len(histories):
        raise BadRequest(f"{len(queries)} queries for {len(histories)} histories: give one query per history")
    out = []
    for i, (h, q) in enumerate(zip(histories, queries, strict=True)):
        if q is None or not str(q).strip():
            raise BadRequest(f"row {i}: the search query is empty")
        h = normalise_history(h)
        t = ts[i] if ts is not None else (next((x for x in reversed(h["ts"]) if x is not None), None))
        out.append({"items": h["items"] + [None], "event_types": h["event_types"] + ["search"],
                    "ts": h["ts"] + [t], "queries": h["queries"] + [str(q)], "market": h["market"]})
    return out


def search(reader: CoreReader, histories: Sequence, queries: Sequence[str], k: int = 10,
           exclude_seen: bool = False, ts: Sequence | None = None) -> tuple[list[list[str]], list[list[float]]]:
    """Items ranked for a query typed now, read as the next item after the history plus that search.

    The model learned this from sessions that start with a search: the words' character n-grams are an
    input of the same network, so a typo or another language still lands near the right items."""
    return recommend(reader, with_search(histories, queries, ts), k, exclude_seen=exclude_seen)


def item_vectors(reader: CoreReader) -> tuple[list[str], np.ndarray]:
    """(item ids, (n_items, d) vectors) of the learned item table."""
    return [reader.item_id(i) for i in range(1, reader.n_items + 1)], reader.item_table().numpy()


def _item_rows(reader: CoreReader, item_ids: Sequence[str]) -> list[int | None]:
    return [reader.index.get(str(i)) if i is not None else None for i in item_ids]


def similar_items(reader: CoreReader, item_ids: Sequence[str], k: int = 10) -> tuple[list[list[str]], list[list[float]]]:
    """The k nearest items (cosine of the learned item vectors) to each item, itself excluded; an item
    the model has never seen gets an empty list."""
    table = F.normalize(reader.item_table(), dim=-1)
    rows = _item_rows(reader, item_ids)
    known = [r for r in rows if r is not None and r <= reader.n_items]
    results: dict[int, tuple[list[str], list[float]]] = {}
    if known:
        q = torch.as_tensor(known) - 1
        sims = table[q] @ table.T
        sims[torch.arange(len(known)), q] = float("-inf")
        ids, scores = _top(sims, k, reader)
        results = {r: (i, s) for r, i, s in zip(known, ids, scores, strict=True)}
    return ([results.get(r, ([], []))[0] for r in rows], [results.get(r, ([], []))[1] for r in rows])


def word_item_probs(reader: CoreReader, batch: int = 512) -> torch.Tensor:
    """(W, n_items) P(item | a search for word w as the whole history): how the model reads each word."""
    if not reader.words:
        return torch.zeros(0, reader.n_items)
    out = []
    for s in range(0, len(reader.words), batch):
        words = reader.words[s:s + batch]
        store = reader.encode([{"items": [None], "event_types": ["search"], "queries": [w]} for w in words])
        out.append(reader.next_scores(store).softmax(-1))
    return torch.cat(out)


def item_words(reader: CoreReader, item_ids: Sequence[str], k: int = 5,
               probs: torch.Tensor | None = None) -> tuple[list[list[str]], list[list[float]]]:
    """The k words customers most likely use for each item: P(w | item) proportional to
    P(item | search w) x P(w), the word's share of training searches (Bayes), in whatever languages the
    queries use. ``probs``: a precomputed ``word_item_probs`` (batch callers reuse it)."""
    if not reader.words:
        return [[] for _ in item_ids], [[] for _ in item_ids]
    p = word_item_probs(reader) if probs is None else probs
    pw = torch.as_tensor(reader.word_counts, dtype=torch.float32)
    pw = pw / pw.sum() if len(pw) == len(reader.words) and pw.sum() > 0 else torch.full((len(reader.words),), 1.0 / len(reader.words))
    joint = p * pw[:, None]                                            # (W, I) P(w, i)
    post = joint / joint.sum(0, keepdim=True).clamp(min=1e-30)       # P(w | i)
    words, scores = [], []
    kk = max(0, min(int(k), len(reader.words)))
    for r in _item_rows(reader, item_ids):
        if r is None or r > reader.n_items:
            words.append([])
            scores.append([])
            continue
        col = post[:, r - 1]
        top = col.topk(kk)
        words.append([reader.words[i] for i in top.indices.tolist()])
        scores.append([float(v) for v in top.values.tolist()])
    return words, scores


def words_missing_from_tags(words: Sequence[str], tags: str | None) -> list[bool]:
    """For each word: True when the catalogue tags lack it (the merchandiser's to-do list)."""
    have = set(normalise_query((tags or "").replace(",", " ")).split())
    return [normalise_query(w) not in have for w in words]


# ---- churn ---------------------------------------------------------------------------------------

def raw_churn(reader: CoreReader, store, at_ts: int, horizon_days: float = 14,
              rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(model's uncalibrated P(no event in H days) at ``at_ts``, days since the last event) per user
    (of ``rows``, default all); a user with no known timestamp counts as just seen."""
    rows = np.arange(store.n_users) if rows is None else np.asarray(rows, dtype=np.int64)
    p = churn_scores(reader.core, store, rows, int(at_ts), horizon_days, reader.batch_size)
    known = store.extra["last_ts_known"][rows] & (store.lengths[rows] > 0)
    elapsed = np.where(known, np.maximum(at_ts - store.extra["last_ts"][rows], 0), 0).astype(np.float64)
    return p.numpy(), elapsed / DAY


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_logistic(x: np.ndarray, labels: np.ndarray, steps: int = 100) -> np.ndarray:
    """Weights w (one per column of ``x``, plus an intercept last) of sigmoid(x @ w[:-1] + w[-1])
    fitted to 0/1 ``labels`` by Newton's method, with a tiny ridge so separable data stays finite."""
    x = np.column_stack([np.asarray(x, np.float64), np.ones(len(x))])
    y = np.asarray(labels, np.float64)
    w = np.zeros(x.shape[1])
    w[0] = 1.0
    for _ in range(steps):
        q = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        g = x.T @ (q - y) + 1e-4 * w
        h = (x * (q * (1 - q) + 1e-9)[:, None]).T @ x + 1e-4 * np.eye(len(w))
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def fit_platt(p: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(a, b) of sigmoid(a * logit(p) + b) fitted to 0/1 ``labels``."""
    a, b = fit_logistic(_logit(np.asarray(p, np.float64))[:, None], labels)
    return float(a), float(b)


def churn_features(p: np.ndarray, days_since: np.ndarray) -> np.ndarray:
    """(N, 2): the gap head's logit and log(1 + days since the last event), what calibration reads."""
    return np.column_stack([_logit(np.asarray(p, np.float64)), np.log1p(np.maximum(np.asarray(days_since, np.float64), 0))])


RECENCY_EDGES_DAYS = (0.0, 1.0, 3.0, 7.0, 14.0, 30.0, 60.0, 90.0, 180.0)


def fit_recency_baseline(days_since: np.ndarray, labels: np.ndarray) -> list[float]:
    """The survival baseline: P(no event in H days) per bin of days since the last event (edges
    ``RECENCY_EDGES_DAYS``), smoothed towards the overall rate and made non-decreasing in the gap."""
    d, y = np.asarray(days_since, np.float64), np.asarray(labels, np.float64)
    overall = float(y.mean()) if len(y) else 0.5
    bins = np.searchsorted(RECENCY_EDGES_DAYS, d, side="right") - 1
    rates = []
    for b in range(len(RECENCY_EDGES_DAYS)):
        m = bins == b
        rates.append(float((y[m].sum() + 2 * overall) / (m.sum() + 2)))
    return np.maximum.accumulate(np.asarray(rates)).tolist()


def recency_probability(rates: Sequence[float], days_since: np.ndarray) -> np.ndarray:
    """The fitted baseline at ``days_since``: linear between the bins' left edges, then a tiny strictly
    increasing term so that it ranks users exactly as days-since-last-event does (its AUC is recency's)."""
    d = np.asarray(days_since, np.float64)
    p = np.interp(d, RECENCY_EDGES_DAYS[:len(rates)], np.asarray(rates, np.float64))
    return np.clip(p + 1e-6 * d / (1 + d), 0, 1)


def churn(reader: CoreReader, histories: Sequence, at_ts: int, horizon_days: float = 14) -> np.ndarray:
    """P(no event in [at_ts, at_ts + horizon_days)) per history, calibrated.

    ``reader.churn_readout`` (written by training, also a model-version tag) says how:
    ``{"kind": "model", "a", "b", "c"}`` calibrates the gap head's probability, sigmoid(a logit(p) +
    c log(1 + days since the last event) + b); ``{"kind":
    "recency", "rates"}`` is the documented fallback, P by days since the last event, used when the
    model did not beat recency on the training window's time split. Without one: the raw model."""
    return churn_from_store(reader, reader.encode(histories), at_ts, horizon_days)


def churn_from_store(reader: CoreReader, store, at_ts: int, horizon_days: float = 14,
                     rows: np.ndarray | None = None) -> np.ndarray:
    """``churn`` on already tokenised histories (the gate and training pass shards' stores)."""
    p, days = raw_churn(reader, store, int(at_ts), horizon_days, rows)
    how = reader.churn_readout or {}
    if how.get("kind") == "recency":
        return recency_probability(how["rates"], days)
    if how.get("kind") == "model":
        z = how["a"] * _logit(p) + how.get("c", 0.0) * np.log1p(days) + how["b"]
        return 1 / (1 + np.exp(-np.clip(z, -30, 30)))
    return p


# ---- vectors ---------------------------------------------------------------------------------------

def embed(reader: CoreReader, histories: Sequence) -> np.ndarray:
    """(U, d) user vectors: the model's state after each history (zeros for an empty one)."""
    return reader.states(reader.encode(histories)).numpy()


def market_similarity(vectors: np.ndarray, markets: Sequence[str | None]) -> tuple[list[str], np.ndarray]:
    """(markets, (M, M) cosine similarity of the mean user vector per market); users without a market
    are left out."""
    markets = list(markets)
    names = sorted({m for m in markets if m is not None})
    if not names:
        return [], np.zeros((0, 0))
    v = np.asarray(vectors, np.float64)
    means = np.stack([v[[i for i, m in enumerate(markets) if m == n]].mean(0) for n in names])
    means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    return names, means @ means.T
