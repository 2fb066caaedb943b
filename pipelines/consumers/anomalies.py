"""Catalogue anomalies: labels (tags, category) an item carries that its behaviour neighbours do not.

Pure logic over the ``similar_items`` read-out (the model's behaviour neighbours) and the catalogue:

1. An item's labels are its tags (comma-separated, normalised) plus ``category`` where it has one.
2. A label is *behavioural* when behaviour follows it: the items carrying it have neighbours that
   carry it too, ``min_lift`` times more often than a random catalogue item does (its ``lift``).
   Labels behaviour ignores (a motif nobody shops by, a category that cuts across tastes) are never
   judged: there, disagreement with the neighbours says nothing about the catalogue.
3. An item's behavioural label is an anomaly when its neighbours look more like random catalogue
   items than like the label's other carriers: with h of its n neighbours carrying the label, the
   binomial log likelihood ratio log P(h | typical share) - log P(h | catalogue share) is <= 0
   (``max_llr``), the typical share taken over the label's OTHER carriers.
4. The evidence: the neighbour ids, the disagreeing label, the shares, and the label the neighbours
   carry most (by lift) that the item lacks, of the same kind (the likely right one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa

from models.tokens import normalise_query

KIND_TAG, KIND_CATEGORY = "tag", "category"


def labels_of(tags: str | None, category: str | None = None) -> set[tuple[str, str]]:
    """{(kind, label)}: each comma-separated tag normalised (case, accents, spacing), and the category."""
    out = {(KIND_TAG, t) for t in (normalise_query(p) for p in (tags or "").split(",")) if t}
    if category is not None and str(category).strip():
        out.add((KIND_CATEGORY, normalise_query(str(category))))
    return out


@dataclass(frozen=True)
class LabelStats:
    catalogue_share: float        # share of catalogue items carrying the label
    typical_share: float          # mean share of neighbours carrying it, over the items carrying it
    n_items: int
    n_shared: int = 0             # carriers with known neighbours (the typical share's denominator)

    @property
    def lift(self) -> float:
        return self.typical_share / self.catalogue_share if self.catalogue_share > 0 else 0.0


def label_stats(labels: Mapping[str, set], neighbours: Mapping[str, Sequence[str]]) -> dict[tuple, LabelStats]:
    """Per label: its catalogue share and how often the neighbours of its items carry it too."""
    n = len(labels)
    carriers: dict[tuple, list[str]] = {}
    for item, ls in labels.items():
        for label in ls:
            carriers.setdefault(label, []).append(item)
    out = {}
    for label, items in carriers.items():
        shares = [_share(label, neighbours.get(i, ()), labels) for i in items]
        shares = [s for s in shares if s is not None]
        out[label] = LabelStats(len(items) / n, sum(shares) / len(shares) if shares else 0.0, len(items), len(shares))
    return out


def _share(label, neigh: Sequence[str], labels: Mapping[str, set]) -> float | None:
    known = [n for n in neigh if n in labels]
    return sum(label in labels[n] for n in known) / len(known) if known else None


def log_likelihood_ratio(hits: int, n: int, typical: float, base: float) -> float:
    """log P(hits of n | the item carries the label: neighbours carry it at ``typical``) minus
    log P(hits of n | the label is as good as random: ``base``); negative: the neighbours look like
    random items, not like the label's other carriers."""
    eps = 1e-6
    t, b = min(max(typical, eps), 1 - eps), min(max(base, eps), 1 - eps)
    return hits * math.log(t / b) + (n - hits) * math.log((1 - t) / (1 - b))


def find_anomalies(labels: Mapping[str, set], neighbours: Mapping[str, Sequence[str]], *, min_lift: float = 1.5,
                   min_items: int = 3, max_llr: float = 0.0) -> list[dict]:
    """One dict per (item, disagreeing label), most certain first (lowest ``log_likelihood_ratio``);
    see the module doc. ``labels``: {item: labels_of(...)} for catalogue items; ``neighbours``:
    {item: neighbour ids}. A behavioural label is flagged where its log likelihood ratio is at most
    ``max_llr`` (0: the neighbours are likelier under "random" than under "carries it")."""
    stats = label_stats(labels, neighbours)
    judged = {lb for lb, s in stats.items() if s.n_items >= min_items and s.lift >= min_lift}
    rows = []
    for item, ls in labels.items():
        neigh = [n for n in neighbours.get(item, ()) if n in labels]
        if not neigh:
            continue
        for label in sorted(ls & judged):
            st = stats[label]
            hits = sum(label in labels[n] for n in neigh)
            share = hits / len(neigh)
            # the label's typical share without this item (its own disagreement must not hide itself)
            others = (st.typical_share * st.n_shared - share) / max(st.n_shared - 1, 1)
            llr = log_likelihood_ratio(hits, len(neigh), others, st.catalogue_share)
            if llr > max_llr:
                continue
            suggested, suggested_share = _suggestion(label[0], ls, neigh, labels, stats, judged)
            rows.append({"item_id": item, "label_kind": label[0], "disagreeing_label": label[1],
                         "neighbour_share": share, "typical_share": others,
                         "catalogue_share": st.catalogue_share, "log_likelihood_ratio": llr,
                         "n_neighbours": len(neigh), "neighbour_ids": list(neigh), "suggested_label": suggested,
                         "suggested_share": suggested_share})
    rows.sort(key=lambda r: (r["log_likelihood_ratio"], r["item_id"], r["disagreeing_label"]))
    return rows


def _suggestion(kind: str, own: set, neigh: Sequence[str], labels: Mapping[str, set], stats: Mapping,
                judged: set) -> tuple[str | None, float | None]:
    """The behavioural label of ``kind`` the neighbours carry most above its catalogue share, that the
    item lacks: (label, share of neighbours carrying it), or (None, None)."""
    counts: dict[tuple, int] = {}
    for n in neigh:
        for label in labels[n]:
            if label[0] == kind and label in judged and label not in own:
                counts[label] = counts.get(label, 0) + 1
    scored = [(c / len(neigh) / stats[lb].catalogue_share, c, lb) for lb, c in counts.items()
              if c / len(neigh) > stats[lb].catalogue_share]
    if not scored:
        return None, None
    _, c, lb = max(scored, key=lambda t: (t[0], t[1], t[2]))
    return lb[1], c / len(neigh)


SCHEMA = pa.schema([("item_id", pa.string()), ("label_kind", pa.string()), ("disagreeing_label", pa.string()),
                    ("neighbour_share", pa.float64()), ("typical_share", pa.float64()),
                    ("catalogue_share", pa.float64()), ("log_likelihood_ratio", pa.float64()), ("n_neighbours", pa.int32()),
                    ("neighbour_ids", pa.list_(pa.string())), ("suggested_label", pa.string()),
                    ("suggested_share", pa.float64())])


def anomalies_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)
