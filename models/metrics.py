"""Ranking metrics over the full catalogue (HR@K, NDCG@K, MRR) and AUC, vectorised in torch.

Ranks are 1-based and pessimistic on ties (an item scored equal to the target ranks above it), so an
untrained model with constant scores gets no credit. Items the user has already seen are removed
from the candidates; a target that is itself in the seen set can never be recommended (the product
removes history from its lists) and counts as a miss.
"""

from __future__ import annotations

import torch

MISS = float("inf")


def seen_mask(histories: torch.Tensor, n_items: int) -> torch.Tensor:
    """(B, n_items) bool from padded item ids (B, L) in 0..n_items (0 = padding); column j = item j+1."""
    m = torch.zeros(histories.shape[0], n_items + 1, dtype=torch.bool, device=histories.device)
    m.scatter_(1, histories.long(), True)
    return m[:, 1:]


def target_ranks(scores: torch.Tensor, targets: torch.Tensor, seen: torch.Tensor | None = None) -> torch.Tensor:
    """Rank of each target (item ids 1..n_items) among the unseen items: scores (B, n_items) for items
    1..n_items, targets (B,). Returns float ranks, ``inf`` for a target that is seen or out of range."""
    scores = scores.float()
    n = scores.shape[1]
    ok = (targets >= 1) & (targets <= n)
    t = (targets.clamp(1, n) - 1).long()
    tgt = scores.gather(1, t[:, None])
    better = scores >= tgt
    if seen is not None:
        better &= ~seen
        ok &= ~seen.gather(1, t[:, None]).squeeze(1)
    # the target itself satisfies >=, so the count is already 1-based
    rank = better.sum(1).float()
    return torch.where(ok, rank, torch.full_like(rank, MISS))


def hit_rate(ranks: torch.Tensor, k: int) -> float:
    return float((ranks <= k).float().mean()) if len(ranks) else 0.0


def ndcg(ranks: torch.Tensor, k: int) -> float:
    """NDCG@K with one relevant item: 1 / log2(rank + 1) when rank <= K."""
    if not len(ranks):
        return 0.0
    gain = torch.where(ranks <= k, 1.0 / torch.log2(ranks.clamp(max=1e9) + 1.0), torch.zeros_like(ranks))
    return float(gain.mean())


def mrr(ranks: torch.Tensor, k: int | None = None) -> float:
    """Mean reciprocal rank (cut at K when given)."""
    if not len(ranks):
        return 0.0
    rr = 1.0 / ranks
    if k is not None:
        rr = torch.where(ranks <= k, rr, torch.zeros_like(rr))
    return float(rr.mean())


def ranking_report(ranks: torch.Tensor, ks: tuple[int, ...] = (1, 5, 10, 20)) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in ks:
        out[f"hr@{k}"] = hit_rate(ranks, k)
        out[f"ndcg@{k}"] = ndcg(ranks, k)
    out["mrr"] = mrr(ranks)
    out["n"] = int(len(ranks))
    return out


def auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted as half). NaN without both classes."""
    scores = torch.as_tensor(scores, dtype=torch.float64).flatten()
    labels = torch.as_tensor(labels).flatten().bool()
    n_pos = int(labels.sum())
    n_neg = int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = torch.argsort(scores)
    s = scores[order]
    # average ranks (1-based) over ties
    ranks = torch.empty_like(s)
    uniq, inverse, counts = torch.unique_consecutive(s, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    avg = ends - (counts.double() - 1) / 2
    ranks = avg[inverse]
    r = torch.empty_like(ranks)
    r[order] = ranks
    u = r[labels].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))
