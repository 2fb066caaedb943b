"""Scoring any model the way consumers see it: top-k item ids for a history, against a held-out item.

The gate compares champion, challenger and the popularity baseline through this one path, so a
champion trained on an older vocabulary is judged on the same footing as the new challenger.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence


def topk_metrics(targets: Sequence[str], rankings: Sequence[Sequence[str]], k: int = 10) -> dict[str, float]:
    """HR@k and NDCG@k (one relevant item per user: NDCG = 1/log2(rank + 1) when ranked within k)."""
    if len(targets) != len(rankings):
        raise ValueError(f"{len(targets)} targets but {len(rankings)} rankings")
    if not targets:
        return {f"hr@{k}": 0.0, f"ndcg@{k}": 0.0}
    hits, gain = 0, 0.0
    for target, ranked in zip(targets, rankings, strict=True):
        ranked = list(ranked)[:k]
        if target in ranked:
            hits += 1
            gain += 1.0 / math.log2(ranked.index(target) + 2)
    n = len(targets)
    return {f"hr@{k}": hits / n, f"ndcg@{k}": gain / n}


def popularity_rankings(train_histories: Iterable[Sequence[str]], histories: Sequence[Sequence[str]],
                        k: int = 10) -> list[list[str]]:
    """The k most frequent training items that each user has not seen (ties broken by id)."""
    counts = Counter(item for history in train_histories for item in history)
    ordered = [item for item, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    rankings = []
    for history in histories:
        seen = set(history)
        rankings.append([item for item in ordered[: k + len(seen)] if item not in seen][:k])
    return rankings
