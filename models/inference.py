"""One inference path: event histories in, the model's states and score tables out.

Training validation, the gate, the pyfunc, the batch consumers and the benchmarks all reach the model
through here, so tokenisation and scoring exist once. A history is what a shop knows about a user:

    {"items": ["item-1", None, "item-7"], "event_types": ["view", "search", "purchase"],
     "ts": [1767225600, 1767225630, 1767226000], "queries": [None, "sunset poster", None],
     "market": "se"}

Every field but ``items`` may be missing (or None), and ``items`` may be None in a search-only
history. Inside a list, None or "" marks an unknown value (MLflow's schema enforcement mangles None
inside string arrays, so HTTP clients send ""). Histories are turned into the same columns as a training shard and tokenised by
``models.data.store_from_table``: the exact code the model was trained through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from models.data import SequenceStore, _ranges, make_batch, store_from_table
from models.model import CoreModel
from models.shards import EVENT_TYPES, SEARCH

HISTORY_FIELDS = ("items", "event_types", "ts", "queries")


class BadRequest(ValueError):
    """A request the read-outs cannot answer; the message says what to send instead."""


# ---- scoring primitives (the only copies) -----------------------------------------------------------

def seen_matrix(store: SequenceStore, rows: np.ndarray, n_items: int) -> torch.Tensor:
    """(B, n_items) bool: item j+1 occurs anywhere in user rows[b]'s history (not only the window)."""
    rows = np.asarray(rows, dtype=np.int64)
    lens = store.lengths[rows]
    idx = _ranges(store.offsets[rows], lens)
    r = np.repeat(np.arange(len(rows)), lens)
    it = store.items[idx]
    keep = (it >= 1) & (it <= n_items)
    m = torch.zeros(len(rows), n_items, dtype=torch.bool)
    m[torch.from_numpy(r[keep]), torch.from_numpy(it[keep] - 1)] = True
    return m


def inference_batch(model: CoreModel, store: SequenceStore, rows: np.ndarray):
    """The inference batch of ``rows`` for ``model``: items the model has no embedding for (appended
    to the vocabulary after it was trained, e.g. the champion scored on tonight's shards) read as
    0, an event with no known item, instead of failing the embedding lookup."""
    b = make_batch(store, np.asarray(rows, dtype=np.int64), model.cfg.max_len, train=False)
    b.items = torch.where(b.items > model.cfg.n_items, torch.zeros_like(b.items), b.items)
    return b


@torch.no_grad()
def last_hidden(model: CoreModel, store: SequenceStore, rows: np.ndarray) -> torch.Tensor:
    """(B, d) state after each user's most recent event, in eval mode (training mode restored)."""
    was = model.training
    model.eval()
    h = model.last_hidden(inference_batch(model, store, rows))
    model.train(was)
    return h.float()


@torch.no_grad()
def score_next(model: CoreModel, store: SequenceStore, rows: np.ndarray, n_items: int | None = None) -> torch.Tensor:
    """(B, n_items) next-item scores after each user's history; items beyond the model's vocabulary
    (added after it was trained) score -inf."""
    n_items = n_items or model.cfg.n_items
    s = model.item_logits(last_hidden(model, store, rows)).float()
    if n_items > s.shape[1]:
        s = torch.cat([s, torch.full((len(s), n_items - s.shape[1]), float("-inf"))], 1)
    return s[:, :n_items]


# ---- histories -> shard columns ---------------------------------------------------------------------

def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, float) and np.isnan(value):
        return []
    if isinstance(value, str | bytes):
        raise BadRequest(f"expected a list, got the string {value[:40]!r}")
    try:
        return list(value)
    except TypeError:
        raise BadRequest(f"expected a list, got {type(value).__name__}") from None


def _event_code(value) -> int:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return 0
    if isinstance(value, int | np.integer):
        return int(value) if 0 <= int(value) <= 4 else 0
    text = str(value).strip().lower()
    if not text:
        return 0
    if text.isdigit() and int(text) <= 4:      # the shards' own codes, as text
        return int(text)
    code = EVENT_TYPES.get(text)
    if code is None:
        raise BadRequest(f"unknown event type {str(value)[:40]!r}; use one of {sorted(EVENT_TYPES)}")
    return code


def _unix(value) -> int | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return int(value)
    if isinstance(value, datetime):
        return int(value.timestamp())
    try:
        return int(float(value))
    except (TypeError, ValueError):
        pass
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"ts {str(value)[:40]!r} is neither unix seconds nor an ISO-8601 time") from None
    if t.tzinfo is None:
        from datetime import UTC

        t = t.replace(tzinfo=UTC)
    return int(t.timestamp())


def normalise_history(h) -> dict:
    """A history given as a mapping, a plain list of item ids (the old pyfunc input), or None -> a dict
    with aligned lists ``items``, ``event_types``, ``ts``, ``queries`` and ``market``."""
    if h is None or isinstance(h, float | int):
        h = {}
    elif not isinstance(h, Mapping):
        h = {"items": _as_list(h)}
    lists = {f: _as_list(h.get(f)) for f in HISTORY_FIELDS}
    n = max((len(v) for v in lists.values()), default=0)
    for f, v in lists.items():
        if v and len(v) != n:
            raise BadRequest(f"history field {f!r} has {len(v)} entries but another field has {n}; "
                             "give each event one entry in every field you send (None where unknown)")
        if not v:
            lists[f] = [None] * n
    market = h.get("market")
    return {**lists, "market": None if market is None or (isinstance(market, float) and np.isnan(market))
            else str(market)}


def histories_table(histories: Sequence, index: Mapping[str, int], n_items: int) -> pa.Table:
    """The shards' columns (user_id, item_idx, event_type, ts, query) for ``histories``.

    An event on an item the model has never seen carries nothing it can read and is dropped (a search
    is kept: its words are readable); timestamps are unix seconds or ISO-8601."""
    cols = {"user_id": [], "item_idx": [], "event_type": [], "ts": [], "query": []}
    for u, raw in enumerate(histories):
        h = normalise_history(raw)
        items, types, ts, queries = [], [], [], []
        for item, etype, t, q in zip(h["items"], h["event_types"], h["ts"], h["queries"], strict=True):
            code = _event_code(etype)
            q = None if q is None or (isinstance(q, float) and np.isnan(q)) else str(q)
            idx = index.get(str(item)) if item is not None else None
            if idx is not None and idx > n_items:
                idx = None
            if idx is None and not q:
                continue
            if idx is None:
                code = SEARCH
            items.append(int(idx or 0))
            types.append(code)
            ts.append(_unix(t))
            queries.append(q if code == SEARCH else None)
        cols["user_id"].append(str(u))
        cols["item_idx"].append(items)
        cols["event_type"].append(types)
        cols["ts"].append(ts)
        cols["query"].append(queries)
    return pa.table({"user_id": pa.array(cols["user_id"], pa.string()),
                     "item_idx": pa.array(cols["item_idx"], pa.list_(pa.int32())),
                     "event_type": pa.array(cols["event_type"], pa.list_(pa.int8())),
                     "ts": pa.array(cols["ts"], pa.list_(pa.int64())),
                     "query": pa.array(cols["query"], pa.list_(pa.string()))})


# ---- the loaded model ---------------------------------------------------------------------------

@dataclass
class CoreReader:
    """A trained core model with its vocabularies: what every read-out needs.

    ``item_ids[i]`` is the id of item_idx i (``[0]`` is None); ``item_counts`` the training counts (the
    popularity fallback for empty histories); ``words`` / ``word_counts`` the query-word vocabulary
    seen in training (for ``item_words``); ``churn_readout`` how churn is read out (models/readouts.py).
    """
    core: CoreModel
    item_ids: list
    item_counts: np.ndarray
    words: list[str] = field(default_factory=list)
    word_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    churn_readout: dict = field(default_factory=dict)
    batch_size: int = 256

    def __post_init__(self):
        self.core.eval()
        self.index = {str(s): i for i, s in enumerate(self.item_ids) if s is not None}
        counts = np.asarray(self.item_counts, dtype=np.float64)
        self.popularity = torch.zeros(self.n_items)
        m = min(self.n_items, max(len(counts) - 1, 0))
        self.popularity[:m] = torch.as_tensor(counts[1:m + 1], dtype=torch.float32)

    @property
    def n_items(self) -> int:
        return self.core.cfg.n_items

    @classmethod
    def from_checkpoint(cls, ckpt_or_path) -> CoreReader:
        from models.checkpoint import load_model, model_from_checkpoint

        if isinstance(ckpt_or_path, str | Path):
            core, ckpt = load_model(ckpt_or_path)
        else:
            ckpt = ckpt_or_path
            core = model_from_checkpoint(ckpt)
        words = ckpt.get("query_words") or {}
        return cls(core, list(ckpt["item_ids"]), np.asarray(ckpt["item_counts"]),
                   list(words.get("words", [])), np.asarray(words.get("counts", []), dtype=np.int64),
                   dict(ckpt.get("churn_readout") or {}))

    def item_id(self, idx: int) -> str:
        return self.item_ids[idx]

    def encode(self, histories: Sequence) -> SequenceStore:
        """Histories -> the token store the model reads (the training path's tokenisation)."""
        return store_from_table(histories_table(histories, self.index, self.n_items),
                                self.core.cfg.n_ngram_buckets)

    def states(self, store: SequenceStore) -> torch.Tensor:
        """(U, d) state after each user's last event; zeros for an empty history."""
        out = torch.zeros(store.n_users, self.core.cfg.d_model)
        known = np.flatnonzero(store.lengths > 0)
        for s in range(0, len(known), self.batch_size):
            r = known[s:s + self.batch_size]
            out[torch.as_tensor(r)] = last_hidden(self.core, store, r)
        return out

    def next_scores(self, store: SequenceStore) -> torch.Tensor:
        """(U, n_items) next-item scores; an empty history gets the popularity scores."""
        scores = self.popularity[None].expand(store.n_users, self.n_items).clone()
        known = np.flatnonzero(store.lengths > 0)
        for s in range(0, len(known), self.batch_size):
            r = known[s:s + self.batch_size]
            scores[torch.as_tensor(r)] = score_next(self.core, store, r, self.n_items)
        return scores

    def item_table(self) -> torch.Tensor:
        """(n_items, d) the learned item vectors that next items are scored against."""
        return self.core.output_items()[1:self.n_items + 1].detach().float()
