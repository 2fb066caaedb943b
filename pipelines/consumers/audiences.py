"""Audiences: which items a launchpad target names, and where each target's table lives.

A target is exactly one of an item id, a category or a tag (matched as the catalogue's normalised
labels, ``pipelines.consumers.anomalies.labels_of``). Each target gets its own table
``lake/consumers/audiences/<kind>-<value>.parquet`` (one version per file, swapped in like the
others); the view ``consumers.audiences`` unions them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from models.tokens import normalise_query
from pipelines.consumers.anomalies import KIND_CATEGORY, KIND_TAG, labels_of
from pipelines.consumers.store import consumers_root

KINDS = ("item", "category", "tag")


class BadTarget(ValueError):
    """The launchpad target is missing, ambiguous or names no item; the message says what to give."""


def target_of(item_id: str | None, category: str | None, tag: str | None) -> tuple[str, str]:
    """(kind, value) of the one target given."""
    given = [(k, v) for k, v in zip(KINDS, (item_id, category, tag), strict=True) if v is not None and str(v).strip()]
    if len(given) != 1:
        raise BadTarget(f"give exactly one of item_id, category or tag in the launchpad config (got "
                        f"{', '.join(k for k, _ in given) or 'none'})")
    kind, value = given[0]
    return kind, str(value).strip() if kind == "item" else normalise_query(str(value))


def target_items(kind: str, value: str, tags: Mapping[str, str | None], categories: Mapping[str, str | None],
                 known: set[str]) -> list[str]:
    """The items the target names that the champion knows (``known``), sorted; raises BadTarget for none."""
    if kind == "item":
        items = [value] if value in known else []
        hint = "an item id the champion has seen (dim_items.item_id with events in its window)"
    else:
        label = (KIND_CATEGORY if kind == "category" else KIND_TAG, value)
        items = sorted(i for i in tags.keys() | categories.keys()
                       if i in known and label in labels_of(tags.get(i), categories.get(i)))
        hint = f"a {kind} of dim_items ({'category' if kind == 'category' else 'tags, comma-separated'})"
    if not items:
        raise BadTarget(f"{kind} {value!r} names no item the champion knows: give {hint}")
    return items


def audience_path(lake: Path, kind: str, value: str) -> Path:
    """``lake/consumers/audiences/<kind>-<value>.parquet`` with a filesystem-safe value."""
    slug = re.sub(r"[^a-z0-9._-]+", "_", value.lower()).strip("_.") or "_"
    return consumers_root(lake) / "audiences" / f"{kind}-{slug}.parquet"
