"""Vectorised sampling helpers (no per-event Python loops)."""

from __future__ import annotations

import numpy as np


def sample_rows(cum: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """For each i, a category drawn from row ``rows[i]`` of the row-wise cumulative matrix ``cum``."""
    picked = (cum[rows] < u[:, None]).sum(axis=1)
    return np.minimum(picked, cum.shape[1] - 1)


class GroupedSampler:
    """Draws an item from a chosen group (e.g. palette) in proportion to item weights (popularity).

    All groups live in one array of cumulative weights shifted by the group number, so a batch of
    draws is one ``searchsorted``. A group without items falls back to the whole catalogue.
    """

    def __init__(self, group_of_item: np.ndarray, weights: np.ndarray, n_groups: int):
        order = np.argsort(group_of_item, kind="stable")
        groups = group_of_item[order]
        w = weights[order].astype(np.float64)
        totals = np.bincount(groups, weights=w, minlength=n_groups)
        self.counts = np.bincount(groups, minlength=n_groups)
        cum_in_group = np.cumsum(w) - np.repeat(np.cumsum(totals) - totals, self.counts)
        self.order = order
        self.cum = groups + cum_in_group / np.where(totals[groups] > 0, totals[groups], 1.0)
        self.global_cum = np.cumsum(weights) / weights.sum()

    def sample(self, groups: np.ndarray, u: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.cum, groups + u, side="left")
        idx = np.minimum(idx, len(self.order) - 1)
        items = self.order[idx]
        empty = self.counts[groups] == 0
        if empty.any():
            items[empty] = self.sample_global(u[empty])
        return items

    def sample_global(self, u: np.ndarray) -> np.ndarray:
        return np.minimum(np.searchsorted(self.global_cum, u, side="left"), len(self.global_cum) - 1)
