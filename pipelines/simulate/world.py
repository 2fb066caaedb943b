"""The hidden world of the sample shop: items with latent attributes and users with persistent taste.

Built from ``(seed, n_users, n_items)`` alone, so the same seed gives the same world whichever days
are generated. Everything here is numpy arrays indexed by item / user number; nothing is written.

Users mostly care about palette (a "sunset" user views sunset posters of any city); a minority care
about place instead. Each user has an activity rate (expected sessions per average day), a join day
and a daily hazard of going quiet for good; the quiet day is drawn here, once, so the churn truth is
known exactly. Items launch (new arrivals) and retire over time, and a few carry a wrong palette tag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.simulate import vocab

WORLD_STREAM = 0  # seed stream ids: the world and each day draw from independent streams
TASTE_PALETTE, TASTE_PLACE = 0, 1
BASE_HAZARD = 0.0015        # daily probability that an ordinary user goes quiet for good
FRAGILE_HAZARD = 0.02       # ... a fragile one (less engaged, buys less)
FRAGILE_SHARE = 0.12
PLACE_TASTE_SHARE = 0.2
LATE_JOINER_SHARE = 0.25
LATE_JOIN_MAX_DAY = 45
PALETTE_CONCENTRATION = 0.5  # Dirichlet total: small = each user loves one or two palettes
POPULARITY_SIGMA = 1.0      # log-normal spread of item popularity (the long tail)
TAG_ERROR_SHARE = 0.08      # of palette-tagged items, tagged with a wrong palette (catalogue errors)
NEW_ITEM_SHARE = 0.12       # items launched after day 0 (new arrivals: the vocabulary grows)
NEW_ITEM_MAX_DAY = 60
RETIRED_ITEM_SHARE = 0.06   # items taken off sale (they vanish from behaviour, not from the catalogue)
RETIRE_FROM_DAY, RETIRE_TO_DAY = 10, 90
NEVER = 1 << 40


@dataclass(frozen=True)
class World:
    seed: int
    # items
    item_type: np.ndarray      # int, index into vocab.TYPE_NAMES
    item_palette: np.ndarray   # int, index into vocab.PALETTE_NAMES
    item_motif: np.ndarray     # int, index into vocab.MOTIF_NAMES
    item_place: np.ndarray     # int, index into vocab.PLACE_NAMES
    item_popularity: np.ndarray  # float, sums to 1
    item_price: np.ndarray     # float
    item_palette_tagged: np.ndarray  # bool: the merchandiser put the palette in the tags
    item_palette_tag: np.ndarray  # int: the palette the tags name (-1: none); wrong for a few items
    item_launch_day: np.ndarray  # first day (from the origin) the item can be seen
    item_retire_day: np.ndarray  # first day it is off sale (NEVER for most)
    # users
    user_market: np.ndarray    # int, index into vocab.MARKET_NAMES
    user_taste_axis: np.ndarray  # TASTE_PALETTE or TASTE_PLACE
    user_palette_pref: np.ndarray  # (U, P) rows sum to 1
    user_place_pref: np.ndarray    # (U, L) rows sum to 1
    user_rate: np.ndarray      # expected sessions on an average day while active
    user_buy_propensity: np.ndarray  # multiplies cart and purchase probabilities
    user_hazard: np.ndarray    # daily probability of going quiet for good
    user_join_day: np.ndarray  # first day (from the origin) the user can be active
    user_quiet_day: np.ndarray  # first day the user is quiet for good (active on join..quiet-1)

    @property
    def n_items(self) -> int:
        return len(self.item_type)

    @property
    def n_users(self) -> int:
        return len(self.user_market)


def item_ids(n_items: int) -> list[str]:
    return [f"item-{i:05d}" for i in range(n_items)]


def user_ids(n_users: int) -> list[str]:
    return [f"user-{u:06d}" for u in range(n_users)]


def _dirichlet_rows(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    """Row-wise Dirichlet draws for a (rows, k) matrix of concentrations (vectorised)."""
    g = rng.standard_gamma(alpha)
    g = np.maximum(g, 1e-12)
    return g / g.sum(axis=1, keepdims=True)


def build_world(seed: int, n_users: int, n_items: int) -> World:
    if n_users < 1 or n_items < 1:
        raise ValueError(f"need at least one user and one item, got users={n_users} items={n_items}")
    rng = np.random.default_rng([seed, WORLD_STREAM])
    n_types, n_pal, n_motif, n_place = (len(vocab.TYPE_NAMES), len(vocab.PALETTE_NAMES),
                                        len(vocab.MOTIF_NAMES), len(vocab.PLACE_NAMES))

    # --- items ---------------------------------------------------------------------------------
    item_type = rng.choice(n_types, size=n_items, p=[0.4, 0.2, 0.15, 0.15, 0.1])
    item_palette = rng.integers(0, n_pal, size=n_items)
    item_motif = rng.integers(0, n_motif, size=n_items)
    item_place = rng.integers(0, n_place, size=n_items)
    popularity = rng.lognormal(mean=0.0, sigma=POPULARITY_SIGMA, size=n_items)
    popularity /= popularity.sum()
    base_price = np.array([vocab.PRODUCT_TYPE_PRICE[t] for t in vocab.TYPE_NAMES])
    price = np.round(base_price[item_type] * rng.lognormal(0.0, 0.25, size=n_items), 0) - 0.01
    palette_tagged = rng.random(n_items) < 0.35
    is_new = rng.random(n_items) < NEW_ITEM_SHARE
    is_new[np.argmax(popularity)] = False  # at least one item on sale from day 0
    launch_day = np.where(is_new, rng.integers(1, NEW_ITEM_MAX_DAY + 1, size=n_items), 0)

    # --- users ---------------------------------------------------------------------------------
    shares = np.array([vocab.MARKETS[m]["share"] for m in vocab.MARKET_NAMES])
    market = rng.choice(len(shares), size=n_users, p=shares / shares.sum())
    market_palette_base = np.ones((len(shares), n_pal))
    for m, name in enumerate(vocab.MARKET_NAMES):
        for pal in vocab.MARKETS[name]["palette_boost"]:
            market_palette_base[m, vocab.PALETTE_NAMES.index(pal)] = 3.0
    market_palette_base /= market_palette_base.sum(axis=1, keepdims=True)
    # small concentration: each user loves one or two palettes
    palette_pref = _dirichlet_rows(rng, PALETTE_CONCENTRATION * market_palette_base[market])
    place_pref = _dirichlet_rows(rng, np.full((n_users, n_place), 0.15))
    taste_axis = np.where(rng.random(n_users) < PLACE_TASTE_SHARE, TASTE_PLACE, TASTE_PALETTE)

    fragile = rng.random(n_users) < FRAGILE_SHARE
    rate = rng.lognormal(mean=np.log(0.22), sigma=0.6, size=n_users) * np.where(fragile, 0.6, 1.0)
    buy = rng.lognormal(0.0, 0.4, size=n_users) * np.where(fragile, 0.5, 1.0)
    hazard = np.where(fragile, FRAGILE_HAZARD, BASE_HAZARD) * rng.lognormal(0.0, 0.2, size=n_users)
    late = rng.random(n_users) < LATE_JOINER_SHARE
    join_day = np.where(late, rng.integers(1, LATE_JOIN_MAX_DAY + 1, size=n_users), 0)
    # geometric: P(quiet on join + k) = (1 - h)^k h, k >= 0 (the hazard applies from the join day)
    quiet_day = join_day + rng.geometric(hazard) - 1

    # catalogue errors, drawn last so the rest of the world does not depend on them
    wrong = palette_tagged & (rng.random(n_items) < TAG_ERROR_SHARE)
    shift = rng.integers(1, n_pal, size=n_items)
    palette_tag = np.where(palette_tagged, np.where(wrong, (item_palette + shift) % n_pal, item_palette), -1)

    retired = (rng.random(n_items) < RETIRED_ITEM_SHARE) & ~is_new
    retired[np.argmax(popularity)] = False
    retire_day = np.where(retired, rng.integers(RETIRE_FROM_DAY, RETIRE_TO_DAY + 1, size=n_items), NEVER)

    return World(
        seed=seed, item_type=item_type, item_palette=item_palette, item_motif=item_motif,
        item_place=item_place, item_popularity=popularity, item_price=price,
        item_palette_tagged=palette_tagged, item_palette_tag=palette_tag.astype(np.int64),
        item_launch_day=launch_day.astype(np.int64), item_retire_day=retire_day.astype(np.int64),
        user_market=market, user_taste_axis=taste_axis,
        user_palette_pref=palette_pref, user_place_pref=place_pref, user_rate=rate,
        user_buy_propensity=buy, user_hazard=hazard, user_join_day=join_day.astype(np.int64),
        user_quiet_day=quiet_day.astype(np.int64),
    )
