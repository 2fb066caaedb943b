"""Event fields -> token ids: time-gap log buckets and hashed character n-grams of search queries.

Pure functions, used both when building training batches and at inference. Hashing is stable across
processes and machines (crc32, not Python's salted ``hash``), so a model trained tonight reads the same
n-gram ids tomorrow.
"""

from __future__ import annotations

import unicodedata
import zlib

import numpy as np

DAY = 86_400
# Upper edges (seconds) of the time-gap buckets; 14 days is an edge so that "no event in the next
# 14 days" is an exact sum of bucket probabilities.
GAP_EDGES = np.array([60, 600, 3_600, 6 * 3_600, DAY, 3 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 90 * DAY],
                     dtype=np.int64)
N_GAP_BUCKETS = len(GAP_EDGES) + 2   # 0 = unknown, 1 = [0, 60s), ..., last = [90 days, inf)


def gap_bucket(gap_seconds: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """Bucket id (1..N_GAP_BUCKETS-1) of each gap; 0 where unknown or negative (clock skew)."""
    gap = np.asarray(gap_seconds, dtype=np.int64)
    b = np.searchsorted(GAP_EDGES, gap, side="right").astype(np.int64) + 1
    bad = gap < 0
    if known is not None:
        bad |= ~np.asarray(known, dtype=bool)
    return np.where(bad, 0, b)


def buckets_at_least(days: float) -> list[int]:
    """Bucket ids whose gaps are all >= ``days`` (``days`` must be a bucket edge)."""
    secs = int(days * DAY)
    if secs not in set(GAP_EDGES.tolist()):
        raise ValueError(f"{days} days is not a gap-bucket edge; edges (days): {(GAP_EDGES / DAY).tolist()}")
    first = int(np.searchsorted(GAP_EDGES, secs, side="right")) + 1
    return list(range(first, N_GAP_BUCKETS))


def normalise_query(query: str) -> str:
    """NFKC, lower case, single spaces: 'Solnedgång  POSTER' -> 'solnedgång poster'."""
    return " ".join(unicodedata.normalize("NFKC", query).lower().split())


def query_ngrams(query: str | None, n_buckets: int, n: int = 3, max_ngrams: int = 32) -> list[int]:
    """Hashed character n-grams of each word (with boundary marks), ids in 1..n_buckets-1.

    Words share pieces across languages and typos: 'poster' and 'postr' share '<po', 'pos', 'ost'.
    """
    if not query:
        return []
    ids: list[int] = []
    for word in normalise_query(query).split():
        w = f"<{word}>"
        grams = [w[i:i + n] for i in range(max(1, len(w) - n + 1))]
        for g in grams:
            ids.append(1 + zlib.crc32(g.encode("utf-8")) % (n_buckets - 1))
            if len(ids) >= max_ngrams:
                return ids
    return ids
