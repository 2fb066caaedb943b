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

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
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


# ---- everything at once ----------------------------------------------------------------------------

def landing_events(home: Path, first: dt.date, last: dt.date) -> pa.Table:
    files = [home / "landing" / "events" / f"date={(first + dt.timedelta(days=i)).isoformat()}" / "events.parquet"
             for i in range((last - first).days + 1)]
    return pa.concat_tables([pq.read_table(f) for f in files if f.exists()], promote_options="default")


def score_readouts(reader, shards: Path, home: Path, cutoff: dt.date, future_days: int = 14) -> dict:
    """Every read-out of ``reader`` beside its baselines on a simulated shop's home (landing files and
    truth/): next item on the shards' holdout, similar items and words against the truth, search on the
    cutoff day's searches, churn at the cutoff (labels from the next ``future_days`` of landing files
    when they all exist, else the expected AUC under the truth's exact probabilities)."""
    from models import readouts
    from models.data import load_train_store, open_shards, store_from_table
    from models.evaluate import rank_targets
    from models.inference import seen_matrix
    from models.metrics import ranking_report, target_ranks

    sh = open_shards(shards)
    train = load_train_store(sh)
    n = sh.n_items
    out: dict = {}
    truth_items = pq.read_table(home / "truth" / "items.parquet").to_pandas().set_index("item_id")
    catalogue = pq.read_table(home / "landing" / "items" / "items.parquet").to_pandas().set_index("item_id")
    ids = sh.item_ids[1:]
    palettes = [truth_items.loc[i, "palette"] for i in ids]

    # next item (holdout day), both protocols
    hold = store_from_table(pq.read_table(sh.holdout_file))
    rows = np.flatnonzero((hold.lengths > 0) & (hold.extra["target_item_idx"] > 0))
    targets = hold.extra["target_item_idx"][rows]
    counts = train.item_counts(n)
    sims = cooccurrence_similarity(train, n)
    for excl in (True, False):
        tag = "seen_excluded" if excl else "repeat_aware"
        m = ranking_report(rank_targets(reader.core, hold, rows, targets, n, exclude_seen=excl))
        p = ranking_report(rank_targets(None, hold, rows, targets, n, item_counts=counts, exclude_seen=excl))
        knn_ranks = []
        for s in range(0, len(rows), 256):
            r = rows[s:s + 256]
            sc = item_knn_scores(hold, r, sims)
            knn_ranks.append(target_ranks(sc, torch.as_tensor(hold.extra["target_item_idx"][r]),
                                          seen_matrix(hold, r, n) if excl else None))
        k = ranking_report(torch.cat(knn_ranks))
        out[f"next_{tag}"] = {"model": m["ndcg@10"], "model_hr@10": m["hr@10"], "popularity": p["ndcg@10"],
                              "popularity_hr@10": p["hr@10"], "item_knn": k["ndcg@10"], "item_knn_hr@10": k["hr@10"],
                              "n": int(len(rows))}
    seen_share = float(np.mean([t in set(hold.items[hold.offsets[r]:hold.offsets[r + 1]].tolist())
                                for r, t in zip(rows, targets, strict=True)]))
    out["next_seen_share"] = seen_share

    # similar items: same-palette precision@10, all items with >= 5 training events and the newest
    active = [i + 1 for i in range(n) if counts[i + 1] >= 5]
    launch = truth_items["launch_date"]
    def _launched(i: int):   # i is 1-based, like ``active``; ids is 0-based
        day = launch.loc[ids[i - 1]]
        return day.date() if hasattr(day, "date") else day

    new = [i for i in active if (cutoff - _launched(i)).days <= 7]
    nb_model, _ = readouts.similar_items(reader, ids, 10)
    nb_model = [[reader.index[j] for j in row] for row in nb_model]
    nb_co = cooccurrence_neighbours(train, n, 10)
    texts = [f"{catalogue.loc[i, 'title']} {catalogue.loc[i, 'tags']}" if i in catalogue.index else "" for i in ids]
    nb_tf = tfidf_neighbours(texts, 10)
    out["similar"] = {name: same_label_precision(nb, palettes, active)
                      for name, nb in (("model", nb_model), ("cooccurrence", nb_co), ("tfidf", nb_tf))}
    out["similar"]["chance"] = float(np.mean([np.mean(np.array(palettes) == p) for p in palettes]))
    out["similar"]["n"] = len(active)
    out["similar_new_items"] = {name: same_label_precision(nb, palettes, new)
                                for name, nb in (("model", nb_model), ("cooccurrence", nb_co), ("tfidf", nb_tf))}
    out["similar_new_items"]["n"] = len(new)

    # customer words: recall@5 of the truth's palette and place words
    words_truth = pq.read_table(home / "truth" / "item_words.parquet").to_pandas()
    focus = words_truth[words_truth.attribute.isin(["palette", "place"])]
    truth = {reader.index[i]: set(g.word) for i, g in focus.groupby("item_id") if i in reader.index}
    truth = {i: t for i, t in truth.items() if i in active}
    probs = readouts.word_item_probs(reader)
    w_model, _ = readouts.item_words(reader, [ids[i - 1] for i in truth], 5, probs=probs)
    pred_model = dict(zip(truth, w_model, strict=True))
    pred_tags = {i: [t.strip() for t in str(catalogue.loc[ids[i - 1], "tags"]).split(",")] for i in truth}
    pred_pmi = pmi_words(search_item_pairs(train), 5)
    out["words"] = {"model": word_recall(pred_model, truth), "tags": word_recall(pred_tags, truth),
                    "count_x_pmi": word_recall(pred_pmi, truth), "n": len(truth),
                    "vocabulary": len(reader.words)}

    # churn at the cutoff: no event in the next 14 days
    cutoff_ts = int(dt.datetime.combine(cutoff, dt.time(), dt.UTC).timestamp())
    users = train.user_ids
    table = pa.concat_tables([pq.read_table(f) for f in sh.train_files], promote_options="default")
    hist = [{"items": [ids[i - 1] if i > 0 else "" for i in r["item_idx"]], "event_types": r["event_type"],
             "ts": r["ts"], "queries": [q or "" for q in r["query"]]} for r in table.to_pylist()]
    order = {u: j for j, u in enumerate(table["user_id"].to_pylist())}
    hist = [hist[order[u]] for u in users]
    p_model = readouts.churn(reader, hist, cutoff_ts)
    scores = {"model": p_model, "recency": (cutoff_ts - train.extra["last_ts"]) / 86_400,
              "frequency": -train.lengths.astype(np.float64)}
    future = [home / "landing" / "events" / f"date={(cutoff + dt.timedelta(days=i)).isoformat()}"
              for i in range(future_days)]
    churn_file = home / "truth" / "churn" / f"date={cutoff.isoformat()}.parquet"
    oracle = (pq.read_table(churn_file).to_pandas().set_index("user_id")["p_inactive"]
              if churn_file.exists() else None)
    if all(d.exists() for d in future):
        back = set(landing_events(home, cutoff, cutoff + dt.timedelta(days=future_days - 1))["user_id"].to_pylist())
        labels = np.array([u not in back for u in users], dtype=np.int64)
        known = np.array([oracle is None or u in oracle.index for u in users])
        scored = {k: v[known] for k, v in scores.items()}
        if oracle is not None:
            scored["bayes_optimal"] = oracle.loc[[u for u, ok in zip(users, known, strict=True) if ok]].to_numpy()
        out["churn"] = {**churn_aucs(labels[known], scored), "n": int(known.sum()), "labels": "observed",
                        "brier_model": brier(p_model, labels), "rate": float(labels.mean()),
                        "brier_base_rate": brier(np.full(len(labels), labels.mean()), labels),
                        "reliability": reliability(p_model, labels)}
    elif oracle is not None:
        known = np.array([u in oracle.index for u in users])
        p_true = oracle.loc[[u for u, ok in zip(users, known, strict=True) if ok]].to_numpy()
        out["churn"] = {**{k: expected_auc(v[known], p_true) for k, v in scores.items()},
                        "bayes_optimal": expected_auc(p_true, p_true), "n": int(known.sum()),
                        "labels": "expected under the truth", "rate": float(p_true.mean()),
                        "brier_model": float(np.mean(p_model[known] ** 2 - 2 * p_model[known] * p_true + p_true)),
                        "brier_base_rate": float(np.mean(p_true.mean() ** 2 - 2 * p_true.mean() * p_true + p_true))}
    out["churn"]["readout"] = reader.churn_readout.get("kind")

    # search on the holdout day: the first item event right after each search, history before the cutoff
    day = landing_events(home, cutoff, cutoff).to_pandas().sort_values(["user_id", "ts", "event_id"])
    queries, targets_s, hs = [], [], []
    by_user = {u: j for j, u in enumerate(users)}
    for _, g in day.groupby("user_id"):
        ev = g.to_dict("records")
        for a, b in zip(ev, ev[1:], strict=False):
            if a["event_type"] == "search" and b["event_type"] != "search" and b["item_id"] in reader.index \
                    and a["user_id"] in by_user:
                queries.append(a["query"])
                targets_s.append(b["item_id"])
                hs.append(hist[by_user[a["user_id"]]])
    if queries:
        ranked, _ = readouts.search(reader, hs, queries, 10, exclude_seen=False)
        base = [[ids[i - 1] for i in matching_popularity_ranking(q, texts, counts, 10)] for q in queries]
        out["search"] = {"model": ndcg_of_rankings(ranked, targets_s),
                         "popularity_within_query": ndcg_of_rankings(base, targets_s), "n": len(queries)}
    return out


def task_lines(r: dict) -> list[str]:
    """One line per task: the read-out beside its baselines (what ``corebrain demo`` prints)."""
    def fmt(d: dict, keys) -> str:
        return ", ".join(f"{k} {d[k]:.3f}" for k in keys if k in d and d[k] == d[k])

    lines = []
    x = r["next_seen_excluded"]
    lines.append(f"next item   NDCG@10 {x['model']:.3f} (seen excluded; popularity {x['popularity']:.3f}, "
                 f"item-kNN {x['item_knn']:.3f}; {x['n']} users)")
    x = r["next_repeat_aware"]
    lines.append(f"next item   NDCG@10 {x['model']:.3f} (repeats allowed; popularity {x['popularity']:.3f}, "
                 f"item-kNN {x['item_knn']:.3f}; {r['next_seen_share']:.0%} of targets were seen before)")
    if "search" in r:
        x = r["search"]
        lines.append(f"search      NDCG@10 {x['model']:.3f} (popularity within query {x['popularity_within_query']:.3f}; "
                     f"{x['n']} searches)")
    x = r["similar"]
    lines.append(f"similar     same-palette P@10 {x['model']:.3f} ({fmt(x, ('cooccurrence', 'tfidf', 'chance'))})")
    x = r["words"]
    lines.append(f"words       recall@5 {x['model']:.3f} (tags {x['tags']:.3f}, count x PMI {x['count_x_pmi']:.3f})")
    x = r["churn"]
    lines.append(f"churn 14d   AUC {x['model']:.3f} ({x['readout']} read-out; {fmt(x, ('recency', 'frequency', 'bayes_optimal'))}; "
                 f"labels {x['labels']})")
    return lines



# ---- catalogue anomalies and demand (issue 10) ------------------------------------------------------

def hypergeom_sf(hits: int, population: int, positives: int, drawn: int) -> float:
    """P(X >= hits) when ``drawn`` of ``population`` items are picked at random and ``positives`` of
    them are true: the chance of doing at least this well by luck."""
    comb = math.comb
    total = comb(population, drawn)
    top = min(positives, drawn)
    return sum(comb(positives, k) * comb(population - positives, drawn - k) for k in range(max(hits, 0), top + 1)) / total


def anomaly_quality(flagged: set, errors: set, universe: set) -> dict:
    """Precision / recall of the flagged items against the truth's catalogue errors, beside chance:
    flagging the same number of items at random has precision = error share and recall = flagged share;
    ``p_luck`` is the hypergeometric chance of at least as many hits at random."""
    flagged, errors = set(flagged) & set(universe), set(errors) & set(universe)
    hits, n = len(flagged & errors), len(universe)
    return {"items": n, "errors": len(errors), "flagged": len(flagged), "hits": hits,
            "precision": hits / len(flagged) if flagged else 0.0,
            "recall": hits / len(errors) if errors else 0.0,
            "chance_precision": len(errors) / n if n else 0.0,
            "chance_recall": len(flagged) / n if n else 0.0,
            "p_luck": hypergeom_sf(hits, n, len(errors), len(flagged)) if n else 1.0}


def forecast_errors(predicted: np.ndarray, actual: np.ndarray) -> dict:
    """MAE per item, WAPE (sum |error| / sum actual) and bias (sum predicted / sum actual - 1)."""
    p, a = np.asarray(predicted, np.float64), np.asarray(actual, np.float64)
    err = np.abs(p - a)
    total = a.sum()
    return {"mae": float(err.mean()) if len(a) else 0.0, "wape": float(err.sum() / total) if total else float("nan"),
            "bias": float(p.sum() / total - 1) if total else float("nan")}
