"""One day of shop behaviour, generated in a handful of vectorised numpy steps.

A day's events depend only on the world and the day's own random stream (``seed``, day number), so
day N is identical whether it is generated alone or as part of a range.

Per active user: a Poisson number of sessions (rate x weekly rhythm x season). Per session: a focus
(a palette, or a place for place-minded users), maybe a search first (words in the market's language
with English mixed in), then a run of views mostly from the focus group (popularity-weighted, with
re-views), carts on some views and purchases of some carted items at the end of the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.simulate import vocab
from pipelines.simulate.calendar import HOUR_WEIGHTS, activity_multiplier
from pipelines.simulate.sampling import GroupedSampler, sample_rows
from pipelines.simulate.world import NEVER, TASTE_PLACE, World, item_ids, user_ids

DAY_STREAM = 1
EVENT_TYPES: tuple[str, ...] = ("search", "view", "add_to_cart", "purchase")
SEARCH, VIEW, CART, PURCHASE = 0, 1, 2, 3

SEARCH_SHARE = 0.35          # sessions that start with a search
MEAN_VIEWS = 4.5             # views per session (geometric)
MAX_VIEWS = 25
FOCUS_SHARE = 0.85           # views from the session's focus group; the rest follow popularity
REVIEW_SHARE = 0.12          # a view that goes back to the previous item
CART_PROB = 0.09             # per view, times the user's buy propensity
PURCHASE_PROB = 0.45         # per cart
MEAN_GAP_S = 45.0
US = 1_000_000

EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("user_id", pa.string()),
    ("session_id", pa.string()), ("event_type", pa.string()), ("item_id", pa.string()),
    ("query", pa.string()), ("market", pa.string()), ("price", pa.float64()),
])


@dataclass(frozen=True)
class DayEvents:
    table: pa.Table            # EVENT_SCHEMA, sorted by session then time
    session_index: np.ndarray  # per row: session number within the day (for late-file selection)
    n_sessions: int


class DayGenerator:
    """Holds the per-world precomputation (samplers, id strings, word table) shared by all days."""

    def __init__(self, world: World):
        self.world = world
        self.palette_sampler = GroupedSampler(world.item_palette, world.item_popularity,
                                              len(vocab.PALETTE_NAMES))
        self.place_sampler = GroupedSampler(world.item_place, world.item_popularity,
                                            len(vocab.PLACE_NAMES))
        always = (world.item_launch_day == 0) & (world.item_retire_day >= NEVER)
        self.fallback_sampler = GroupedSampler(np.zeros(world.n_items, dtype=np.int64),
                                           world.item_popularity * always, 1)
        self.palette_cum = np.cumsum(world.user_palette_pref, axis=1)
        self.place_cum = np.cumsum(world.user_place_pref, axis=1)
        self.item_id_arr = pa.array(item_ids(world.n_items), pa.string())
        self.user_id_arr = pa.array(user_ids(world.n_users), pa.string())
        self.market_arr = pa.array(list(vocab.MARKET_NAMES), pa.string())
        self.type_arr = pa.array(list(EVENT_TYPES), pa.string())
        self.price_arr = world.item_price
        # word table: concept (palettes, places, types, motifs) x language
        concepts = (list(vocab.PALETTES.values()) + list(vocab.PLACES.values())
                    + list(vocab.PRODUCT_TYPES.values()) + list(vocab.MOTIFS.values()))
        self.n_concepts = len(concepts)
        self.place_offset = len(vocab.PALETTES)
        self.type_offset = self.place_offset + len(vocab.PLACES)
        self.motif_offset = self.type_offset + len(vocab.PRODUCT_TYPES)
        self.words = pa.array([c[lang] for lang in range(len(vocab.LANGUAGES)) for c in concepts])
        self.market_lang = np.array([vocab.LANGUAGES.index(vocab.MARKETS[m]["language"])
                                     for m in vocab.MARKET_NAMES])
        self.market_mix = np.array([vocab.MARKETS[m]["english_mix"] for m in vocab.MARKET_NAMES])

    def generate(self, day_index: int, day: date) -> DayEvents:
        if day_index < 0:
            raise ValueError(f"day {day} is before the world's origin")
        w = self.world
        rng = np.random.default_rng([w.seed, DAY_STREAM, day_index])
        day_start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * US
        day_end = day_start + 86_400 * US

        # --- sessions ------------------------------------------------------------------------------
        active = (w.user_join_day <= day_index) & (day_index < w.user_quiet_day)
        n_sess = rng.poisson(w.user_rate * activity_multiplier(day) * active)
        s_user = np.repeat(np.arange(w.n_users), n_sess)
        n_s = len(s_user)
        place_minded = w.user_taste_axis[s_user] == TASTE_PLACE
        focus_palette = sample_rows(self.palette_cum, s_user, rng.random(n_s))
        focus_place = sample_rows(self.place_cum, s_user, rng.random(n_s))
        is_search = rng.random(n_s) < SEARCH_SHARE
        n_views = np.minimum(rng.geometric(1.0 / MEAN_VIEWS, size=n_s), MAX_VIEWS)
        hour = rng.choice(24, size=n_s, p=HOUR_WEIGHTS)
        start = day_start + hour * 3600 * US + rng.integers(0, 3600 * US, size=n_s)

        # --- views ---------------------------------------------------------------------------------
        v_sess = np.repeat(np.arange(n_s), n_views)
        n_v = len(v_sess)
        first = np.cumsum(n_views) - n_views
        pos = np.arange(n_v) - first[v_sess]
        u = rng.random(n_v)
        from_focus = rng.random(n_v) < FOCUS_SHARE
        by_palette = self.palette_sampler.sample(focus_palette[v_sess], u)
        by_place = self.place_sampler.sample(focus_place[v_sess], u)
        by_pop = self.palette_sampler.sample_global(u)
        item = np.where(from_focus, np.where(place_minded[v_sess], by_place, by_palette), by_pop)
        # not on sale (yet, or any more): a popular item that always is, instead
        off_sale = (w.item_launch_day[item] > day_index) | (w.item_retire_day[item] <= day_index)
        if off_sale.any():
            item[off_sale] = self.fallback_sampler.sample_global(u[off_sale])
        review = (rng.random(n_v) < REVIEW_SHARE) & (pos > 0)
        prev = np.flatnonzero(review) - 1
        item[review] = item[prev]
        gaps = rng.exponential(MEAN_GAP_S * US, size=n_v).astype(np.int64) + US
        csum = np.cumsum(gaps)
        v_ts = start[v_sess] + 5 * US * is_search[v_sess] + csum - (csum[first] - gaps[first])[v_sess]

        # --- carts and purchases -------------------------------------------------------------------
        v_user = s_user[v_sess]
        cart = rng.random(n_v) < CART_PROB * w.user_buy_propensity[v_user]
        c_idx = np.flatnonzero(cart)
        c_ts = v_ts[c_idx] + rng.integers(5 * US, 60 * US, size=len(c_idx))
        buy = rng.random(len(c_idx)) < PURCHASE_PROB * np.minimum(w.user_buy_propensity[v_user[c_idx]], 2.0)
        p_idx = c_idx[buy]
        sess_end = np.maximum.reduceat(v_ts, first) if n_v else np.zeros(0, np.int64)
        p_ts = sess_end[v_sess[p_idx]] + 60 * US + rng.integers(30 * US, 300 * US, size=len(p_idx))

        # --- search queries ------------------------------------------------------------------------
        q_sess = np.flatnonzero(is_search)
        q_user = s_user[q_sess]
        q_market = w.user_market[q_user]
        local = self.market_lang[q_market]
        lang1 = np.where(rng.random(len(q_sess)) < self.market_mix[q_market], 0, local)
        lang2 = np.where(rng.random(len(q_sess)) < self.market_mix[q_market], 0, local)
        concept1 = np.where(place_minded[q_sess], self.place_offset + focus_place[q_sess],
                            focus_palette[q_sess])
        first_item = item[first[q_sess]] if n_v else np.zeros(0, np.int64)
        second_kind = rng.choice(3, size=len(q_sess), p=[0.45, 0.4, 0.15])  # none, type, motif
        concept2 = np.where(second_kind == 1, self.type_offset + w.item_type[first_item],
                            self.motif_offset + w.item_motif[first_item])
        word1 = self.words.take(pa.array(lang1 * self.n_concepts + concept1))
        word2 = self.words.take(pa.array(lang2 * self.n_concepts + concept2, mask=second_kind == 0))
        queries = pc.binary_join_element_wise(word1, word2, " ", null_handling="skip")

        # --- assemble, order by session then time --------------------------------------------------
        kind = np.concatenate([np.full(len(q_sess), SEARCH), np.full(n_v, VIEW),
                               np.full(len(c_idx), CART), np.full(len(p_idx), PURCHASE)])
        sess = np.concatenate([q_sess, v_sess, v_sess[c_idx], v_sess[p_idx]])
        ts = np.concatenate([start[q_sess], v_ts, c_ts, p_ts])
        ts = np.minimum(ts, day_end - US)            # every event stays inside its day
        ts = ts - ts % 1000                          # millisecond clock
        items = np.concatenate([np.zeros(len(q_sess), np.int64), item, item[c_idx], item[p_idx]])
        q_row = np.concatenate([np.arange(len(q_sess)), np.full(n_v + len(c_idx) + len(p_idx), -1)])
        order = np.lexsort((kind, ts, sess))
        kind, sess, ts, items, q_row = kind[order], sess[order], ts[order], items[order], q_row[order]
        is_q = kind == SEARCH
        user = s_user[sess]

        n = len(order)
        stamp = day.strftime("%Y%m%d")
        seq = pc.utf8_lpad(pc.cast(pa.array(np.arange(n)), pa.string()), 7, "0")
        s_seq = pc.utf8_lpad(pc.cast(pa.array(sess), pa.string()), 6, "0")
        table = pa.table({
            "event_id": pc.binary_join_element_wise(f"ev-{stamp}", seq, "-"),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "user_id": self.user_id_arr.take(pa.array(user)),
            "session_id": pc.binary_join_element_wise(f"s-{stamp}", s_seq, "-"),
            "event_type": self.type_arr.take(pa.array(kind)),
            "item_id": self.item_id_arr.take(pa.array(items, mask=is_q)),
            "query": queries.take(pa.array(np.maximum(q_row, 0), mask=~is_q)),
            "market": self.market_arr.take(pa.array(w.user_market[user])),
            "price": pa.array(self.price_arr[items], mask=is_q),
        }, schema=EVENT_SCHEMA)
        return DayEvents(table=table, session_index=sess, n_sessions=n_s)
