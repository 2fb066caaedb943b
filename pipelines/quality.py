"""Each read-out's quality beside its plain baseline, measured on the same data in the same run.

Used by ``benchmarks/tasks.py`` (tables) and ``corebrain demo`` (one line per task). The read-outs
themselves come from ``models/readouts.py``; this module only builds the baselines and the scores:

- similar items: same-label precision@10 (the shop's truth: palette) vs item co-occurrence cosine and
  TF-IDF over title + tags;
- customer words: recall@5 of the item's truth words vs the catalogue tags and count x PMI of
  (search word, next item) pairs;
- churn: AUC of P(no event in 14 days) vs days since the last event, event count, and the
  simulator's exact probabilities (the Bayes-optimal AUC);
- search: NDCG@10 of the item engaged right after a search vs popularity within the items whose
  title or tags match the query;
- next item: HR/NDCG@10 vs popularity and item-kNN, seen items excluded and allowed.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np
import torch

from models.data import SequenceStore
from models.metrics import auc
from models.tokens import normalise_query

# ---- similar items --------------------------------------------------------------------------------

def cooccurrence_neighbours(store: SequenceStore, n_items: int, k: int = 10) -> np.ndarray:
    """(n_items, k) item ids (1-based) nearest by cosine of their user-incidence vectors; 0 = none."""
    sims = cooccurrence_similarity(store, n_items)
    sims.fill_diagonal_(float("-inf"))
    sims[sims.abs().sum(1) == 0] = float("-inf")
    top = sims.topk(min(k, n_items - 1), dim=1)
    return np.where(torch.isfinite(top.values).numpy() & (top.values.numpy() > 0), top.indices.numpy() + 1, 0)


def tfidf_neighbours(texts: Sequence[str], k: int = 10) -> np.ndarray:
    """(n, k) 1-based ids of the nearest texts by TF-IDF cosine (title + tags of each item)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer().fit_transform([t or "" for t in texts])
    sims = (x @ x.T).toarray()
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1, kind="stable")[:, :k] + 1


def same_label_precision(neighbours: Sequence[Sequence[int]], labels: Sequence, items: Sequence[int]) -> float:
    """Mean share of each query item's neighbours (1-based ids, 0 = none) that share its label."""
    scores = []
    for i in items:
        nb = [j for j in neighbours[i - 1] if j > 0]
        if nb:
            scores.append(np.mean([labels[j - 1] == labels[i - 1] for j in nb]))
    return float(np.mean(scores)) if scores else float("nan")


# ---- customer words -------------------------------------------------------------------------------

def search_item_pairs(store: SequenceStore, follow: int = 3) -> list[tuple[str, int]]:
    """(query word, item id) for the first ``follow`` item events after each search in a user's history."""
    pairs = []
    for u in range(store.n_users):
        s, e = store.offsets[u], store.offsets[u + 1]
        words: list[str] = []
        left = 0
        for j in range(s, e):
            q = store.query_ids[j]
            if q > 0:
                words = normalise_query(store.query_texts[q - 1]).split()
                left = follow
            elif store.items[j] > 0 and left > 0:
                pairs.extend((w, int(store.items[j])) for w in words)
                left -= 1
    return pairs


def pmi_words(pairs: Sequence[tuple[str, int]], k: int = 5) -> dict[int, list[str]]:
    """Per item, the k words with the highest count x PMI over (word, item) pairs."""
    n = len(pairs)
    joint = Counter(pairs)
    wc = Counter(w for w, _ in pairs)
    ic = Counter(i for _, i in pairs)
    by_item: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for (w, i), c in joint.items():
        by_item[i].append((c * math.log(c * n / (wc[w] * ic[i])), w))
    return {i: [w for _, w in sorted(v, key=lambda t: (-t[0], t[1]))[:k]] for i, v in by_item.items()}


def word_recall(predicted: dict, truth: dict, k: int = 5) -> float:
    """Mean over items with truth of |top-k predicted ∩ truth| / min(k, |truth|); no prediction = 0."""
    scores = [len(set(predicted.get(i, [])[:k]) & t) / min(k, len(t)) for i, t in truth.items() if t]
    return float(np.mean(scores)) if scores else float("nan")


# ---- churn ----------------------------------------------------------------------------------------

def churn_aucs(labels: np.ndarray, scores: dict[str, np.ndarray]) -> dict[str, float]:
    """AUC of each score against 0/1 churn labels (1 = no event in the horizon)."""
    y = torch.as_tensor(np.asarray(labels, np.int64))
    return {name: auc(torch.as_tensor(np.asarray(s, np.float64)), y) for name, s in scores.items()}


def expected_auc(scores: np.ndarray, probs: np.ndarray) -> float:
    """E[AUC] when user i churns with probability ``probs[i]`` (the simulator's exact truth): the
    share of (churner, stayer) pairs ranked right, each pair weighted p_i (1 - p_j), ties half.
    Lets the demo score churn without waiting 14 days for labels."""
    s, p = np.asarray(scores, np.float64), np.asarray(probs, np.float64)
    order = np.argsort(s, kind="stable")
    s, p = s[order], p[order]
    stay = 1 - p
    uniq, start = np.unique(s, return_index=True)
    group_stay = np.add.reduceat(stay, start)
    below = np.concatenate([[0.0], np.cumsum(group_stay)[:-1]])       # stayers scored strictly lower
    gid = np.repeat(np.arange(len(uniq)), np.diff(np.append(start, len(s))))
    same = group_stay[gid] - stay                                       # tied stayers, not i itself
    num = float((p * (below[gid] + 0.5 * same)).sum())
    den = float(p.sum() * stay.sum() - (p * stay).sum())
    return num / den if den > 0 else float("nan")


def brier(p: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, np.float64) - np.asarray(labels, np.float64)) ** 2))


def reliability(p: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[tuple[float, float, int]]:
    """(mean predicted, observed rate, count) per equal-width probability bin (the calibration curve)."""
    p, y = np.asarray(p, np.float64), np.asarray(labels, np.float64)
    b = np.minimum((p * bins).astype(int), bins - 1)
    return [(float(p[b == i].mean()), float(y[b == i].mean()), int((b == i).sum())) for i in range(bins) if (b == i).any()]


# ---- search ---------------------------------------------------------------------------------------

def matching_popularity_ranking(query: str, texts: Sequence[str], counts: np.ndarray, k: int = 10) -> list[int]:
    """Popularity within the query: items (1-based) whose title or tags hold a query word, most popular
    first; then the rest by popularity (what a shop's plain search box does)."""
    words = set(normalise_query(query).split())
    match = np.array([bool(words & set(normalise_query((t or "").replace(",", " ")).split())) for t in texts])
    pop = np.asarray(counts[1:len(texts) + 1], np.float64)
    order = np.lexsort((-pop, ~match))
    return (order[:k] + 1).tolist()


def ndcg_of_rankings(rankings: Sequence[Sequence], targets: Sequence, k: int = 10) -> float:
    gains = []
    for ranked, t in zip(rankings, targets, strict=True):
        ranked = list(ranked)[:k]
        gains.append(1 / math.log2(ranked.index(t) + 2) if t in ranked else 0.0)
    return float(np.mean(gains)) if gains else float("nan")


# ---- next item ------------------------------------------------------------------------------------

def item_knn_scores(store: SequenceStore, rows: np.ndarray, neighbours_sim: torch.Tensor) -> torch.Tensor:
    """(B, n_items) item-kNN scores: the sum of co-occurrence cosines to the items in each history."""
    n = neighbours_sim.shape[0]
    out = torch.zeros(len(rows), n)
    for b, r in enumerate(rows):
        it = store.items[store.offsets[r]:store.offsets[r + 1]]
        it = it[(it > 0) & (it <= n)]
        if len(it):
            out[b] = neighbours_sim[torch.as_tensor(it - 1)].sum(0)
    return out


def cooccurrence_similarity(store: SequenceStore, n_items: int) -> torch.Tensor:
    """(n_items, n_items) cosine of the items' user-incidence vectors, 0 on the diagonal."""
    rows = np.repeat(np.arange(store.n_users), store.lengths)
    keep = (store.items > 0) & (store.items <= n_items)
    m = torch.zeros(n_items, store.n_users)
    m[torch.as_tensor(store.items[keep] - 1), torch.as_tensor(rows[keep])] = 1.0
    m = torch.nn.functional.normalize(m, dim=1)
    sims = m @ m.T
    sims.fill_diagonal_(0.0)
    return sims
