"""Search's baseline: popularity within the query (pure).

What a shop without a model would show for a search: the items that most often came right after a
search for the same (normalised) query in the training histories, ties and unknown queries broken by
overall popularity. The gate's search floor is the paired lower bound of (model - this) per user.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from models.tokens import normalise_query

SEARCH_CODE = 2  # event_type code of a search (docs/contracts.md)


def query_item_counts(item_lists: Sequence[Sequence[int]], type_lists: Sequence[Sequence[int]],
                      query_lists: Sequence[Sequence[str | None]]) -> dict[str, Counter]:
    """{normalised query: Counter(item_idx)} of the item event right after each search."""
    out: dict[str, Counter] = {}
    for items, types, queries in zip(item_lists, type_lists, query_lists, strict=True):
        for j in range(len(items) - 1):
            q = queries[j]
            if types[j] != SEARCH_CODE or not q or not str(q).strip():
                continue
            nxt = items[j + 1]
            if nxt and int(nxt) > 0 and types[j + 1] != SEARCH_CODE:
                out.setdefault(normalise_query(str(q)), Counter())[int(nxt)] += 1
    return out


def query_popularity_scores(queries: Sequence[str], counts: dict[str, Counter], popularity: np.ndarray,
                            n_items: int) -> np.ndarray:
    """(len(queries), n_items) scores of items 1..n_items: the count after that query, plus overall
    popularity scaled into (0, 1) so it only breaks ties (and ranks an unknown query alone)."""
    pop = np.zeros(n_items, dtype=np.float64)
    m = min(n_items, max(len(popularity) - 1, 0))
    pop[:m] = np.asarray(popularity, dtype=np.float64)[1:m + 1]
    tie = pop / (pop.max() + 1.0) if len(pop) else pop
    out = np.tile(tie, (len(queries), 1))
    for row, q in enumerate(queries):
        for item, c in counts.get(normalise_query(str(q or "")), Counter()).items():
            if 1 <= item <= n_items:
                out[row, item - 1] += c
    return out
