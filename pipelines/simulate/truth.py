"""The hidden truth the pipeline never reads: tables that tests and benchmarks score against.

- ``items.parquet``: each item's latent attributes (type, palette, motif, place), popularity, price;
- ``item_words.parquet``: the words customers search with for each item, per language, and whether
  the merchandiser's ``tags`` hold that word (often not: the palette is the usual gap);
- ``users.parquet``: market, taste axis (palette or place), favourite palette / place, activity rate,
  daily hazard, join date and the date the user goes quiet for good;
- ``markets.parquet``: language, share of English words in queries, favoured palettes;
- ``churn/date=D.parquet``: at cutoff D (00:00 UTC), for each user who joined before D, the exact
  probabilities of quitting and of having no event in the next 14 days.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import pyarrow as pa

from pipelines.simulate import vocab
from pipelines.simulate.churn import HORIZON_DAYS, quiet_probabilities
from pipelines.simulate.world import NEVER, TASTE_PLACE, World, item_ids, user_ids


def _title(name: str) -> str:
    return name.replace("_", " ").title()


def catalogue_table(world: World) -> pa.Table:
    """The landing items file: what a merchandiser exports (title, category, English tags)."""
    titles, tags = [], []
    for i in range(world.n_items):
        place = vocab.PLACE_NAMES[world.item_place[i]]
        motif = vocab.MOTIF_NAMES[world.item_motif[i]]
        ptype = vocab.TYPE_NAMES[world.item_type[i]]
        titles.append(f"{_title(place)} {_title(motif)} {_title(ptype)} No. {i % 97 + 1}")
        parts = [vocab.MOTIF_TAGS[motif], vocab.PLACE_TAGS[place]]
        if world.item_palette_tag[i] >= 0:
            parts.append(vocab.PALETTE_TAGS[vocab.PALETTE_NAMES[world.item_palette_tag[i]]])
        tags.append(", ".join(parts))
    return pa.table({
        "item_id": item_ids(world.n_items), "title": titles,
        "category": [vocab.TYPE_NAMES[t] for t in world.item_type], "tags": tags,
    })


def items_truth(world: World, origin: date) -> pa.Table:
    return pa.table({
        "item_id": item_ids(world.n_items),
        "product_type": [vocab.TYPE_NAMES[t] for t in world.item_type],
        "palette": [vocab.PALETTE_NAMES[p] for p in world.item_palette],
        "motif": [vocab.MOTIF_NAMES[m] for m in world.item_motif],
        "place": [vocab.PLACE_NAMES[p] for p in world.item_place],
        "popularity": world.item_popularity,
        "price": world.item_price,
        "palette_in_tags": world.item_palette_tag == world.item_palette,
        "tagged_palette": [vocab.PALETTE_NAMES[p] if p >= 0 else None for p in world.item_palette_tag],
        "catalogue_error": (world.item_palette_tag >= 0) & (world.item_palette_tag != world.item_palette),
        "launch_date": pa.array([origin + timedelta(days=int(d)) for d in world.item_launch_day], pa.date32()),
        "retire_date": pa.array([origin + timedelta(days=int(d)) if d < NEVER else None
                                 for d in world.item_retire_day], pa.date32()),
    })


def item_words_truth(world: World, catalogue: pa.Table) -> pa.Table:
    """One row per (item, word): the customers' words for the item's palette, place, type, motif."""
    ids = item_ids(world.n_items)
    tag_lists = [{t.strip() for t in tags.split(",")} for tags in catalogue.column("tags").to_pylist()]
    rows: dict[str, list] = {"item_id": [], "word": [], "languages": [], "attribute": [], "value": [],
                             "in_tags": []}
    for i in range(world.n_items):
        attrs = (("palette", vocab.PALETTE_NAMES[world.item_palette[i]], vocab.PALETTES),
                 ("place", vocab.PLACE_NAMES[world.item_place[i]], vocab.PLACES),
                 ("product_type", vocab.TYPE_NAMES[world.item_type[i]], vocab.PRODUCT_TYPES),
                 ("motif", vocab.MOTIF_NAMES[world.item_motif[i]], vocab.MOTIFS))
        for attribute, value, table in attrs:
            by_word: dict[str, list[str]] = {}
            for lang, word in zip(vocab.LANGUAGES, table[value], strict=True):
                by_word.setdefault(word, []).append(lang)
            for word, langs in by_word.items():
                rows["item_id"].append(ids[i])
                rows["word"].append(word)
                rows["languages"].append(",".join(langs))
                rows["attribute"].append(attribute)
                rows["value"].append(value)
                rows["in_tags"].append(word in tag_lists[i])
    return pa.table(rows)


def users_truth(world: World, origin: date) -> pa.Table:
    top_palette = world.user_palette_pref.argmax(axis=1)
    top_place = world.user_place_pref.argmax(axis=1)
    return pa.table({
        "user_id": user_ids(world.n_users),
        "market": [vocab.MARKET_NAMES[m] for m in world.user_market],
        "taste_axis": np.where(world.user_taste_axis == TASTE_PLACE, "place", "palette").tolist(),
        "top_palette": [vocab.PALETTE_NAMES[p] for p in top_palette],
        "top_palette_share": world.user_palette_pref.max(axis=1),
        "top_place": [vocab.PLACE_NAMES[p] for p in top_place],
        "palette_pref": pa.FixedSizeListArray.from_arrays(
            pa.array(world.user_palette_pref.ravel()), world.user_palette_pref.shape[1]),
        "activity_rate": world.user_rate,
        "buy_propensity": world.user_buy_propensity,
        "daily_hazard": world.user_hazard,
        "join_date": pa.array([origin + timedelta(days=int(d)) for d in world.user_join_day], pa.date32()),
        "quiet_from": pa.array([origin + timedelta(days=int(d)) for d in world.user_quiet_day], pa.date32()),
    })


def markets_truth(world: World) -> pa.Table:
    """Per market; ``mean_palette_pref`` (users' average taste) makes market-to-market similarity
    checkable: markets favouring the same palettes are alike."""
    names = list(vocab.MARKET_NAMES)
    mean_pref = np.stack([world.user_palette_pref[world.user_market == m].mean(axis=0)
                          if (world.user_market == m).any() else np.zeros(len(vocab.PALETTE_NAMES))
                          for m in range(len(names))])
    return pa.table({
        "market": names,
        "language": [vocab.MARKETS[m]["language"] for m in names],
        "english_mix": [vocab.MARKETS[m]["english_mix"] for m in names],
        "user_share": [vocab.MARKETS[m]["share"] for m in names],
        "favoured_palettes": [list(vocab.MARKETS[m]["palette_boost"]) for m in names],
        "mean_palette_pref": pa.FixedSizeListArray.from_arrays(pa.array(mean_pref.ravel()), mean_pref.shape[1]),
        "palettes": [list(vocab.PALETTE_NAMES)] * len(names),
    })


@lru_cache(maxsize=4)
def _user_id_array(n_users: int) -> pa.Array:
    return pa.array(user_ids(n_users), pa.string())


def churn_truth(world: World, cutoff_index: int, origin: date) -> pa.Table:
    """Users who joined before the cutoff, with the oracle's probabilities (see churn.py)."""
    probs = quiet_probabilities(world, cutoff_index, origin, HORIZON_DAYS)
    keep = world.user_join_day < cutoff_index
    cutoff = origin + timedelta(days=cutoff_index)
    n = int(keep.sum())
    return pa.table({
        "cutoff": pa.array(np.full(n, cutoff), pa.date32()),
        "user_id": _user_id_array(world.n_users).take(pa.array(np.flatnonzero(keep))),
        "horizon_days": pa.array(np.full(n, HORIZON_DAYS), pa.int32()),
        "already_quiet": probs["gone"][keep],
        "p_quit": probs["p_quit"][keep],
        "p_inactive": probs["p_inactive"][keep],
        "quits_within_horizon": probs["quits_within"][keep],
    })
