"""Training shards (contracts.md section 3) -> flat arrays -> padded batches, with no per-token Python.

A ``SequenceStore`` holds every user's events as flat numpy arrays plus row offsets (CSR); batches
are gathered from it with vectorised index arithmetic. Missing fields (no timestamps, no event types,
no searches) become id 0, "unknown", so any business's shards load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

from models.model import Batch
from models.shards import SHARDS_FORMAT, ShardError, Shards, open_shards  # noqa: F401 (re-exported)
from models.tokens import gap_bucket, query_ngrams


@dataclass
class SequenceStore:
    user_ids: list[str]
    offsets: np.ndarray          # (U+1,) int64
    items: np.ndarray            # (E,) int64, 0 = no item
    types: np.ndarray            # (E,) int64, 0 = unknown
    gaps: np.ndarray             # (E,) int64, bucket of the gap from the user's previous event, 0 = unknown
    query_ids: np.ndarray        # (E,) int64 row of ``ngram_table``, 0 = no query
    ngram_table: np.ndarray      # (Q+1, G) int64 hashed n-gram ids, row 0 = none
    extra: dict = field(default_factory=dict)
    query_texts: list = field(default_factory=list)  # query text of ngram_table row q + 1
    ts: np.ndarray | None = None     # (E,) int64 unix seconds, 0 where unknown
    ts_known: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def take(self, rows: np.ndarray) -> SequenceStore:
        """A new store with only the given users (in that order)."""
        rows = np.asarray(rows, dtype=np.int64)
        lens = self.lengths[rows]
        idx = _ranges(self.offsets[rows], lens)
        offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        return SequenceStore([self.user_ids[r] for r in rows], offsets, self.items[idx], self.types[idx],
                             self.gaps[idx], self.query_ids[idx], self.ngram_table,
                             {k: v[rows] for k, v in self.extra.items()}, self.query_texts,
                             _pick(self.ts, idx), _pick(self.ts_known, idx))

    def truncate(self, new_lengths: np.ndarray) -> SequenceStore:
        """Keep the first ``new_lengths[u]`` events of each user."""
        new_lengths = np.asarray(new_lengths, dtype=np.int64)
        idx = _ranges(self.offsets[:-1], new_lengths)
        offsets = np.concatenate([[0], np.cumsum(new_lengths)]).astype(np.int64)
        return SequenceStore(self.user_ids, offsets, self.items[idx], self.types[idx], self.gaps[idx],
                             self.query_ids[idx], self.ngram_table, dict(self.extra), self.query_texts,
                             _pick(self.ts, idx), _pick(self.ts_known, idx))

    def item_counts(self, n_items: int) -> np.ndarray:
        """How often each item id occurs (index 0 unused): the popularity baseline."""
        c = np.bincount(self.items, minlength=n_items + 1)[: n_items + 1].astype(np.int64)
        c[0] = 0
        return c


def _pick(a: np.ndarray | None, idx: np.ndarray) -> np.ndarray | None:
    return None if a is None else a[idx]


def _ranges(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + n) for each (s, n), vectorised."""
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    row_start = np.repeat(np.cumsum(lens) - lens, lens)
    return np.repeat(starts, lens) + (np.arange(total) - row_start)


# ---- reading shards ------------------------------------------------------------------------------

def _flat_list(table: pa.Table, name: str, lengths: np.ndarray, default, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Flatten list column ``name`` aligned with the item lists; (values, known) with defaults where
    the column, a row's list or an element is null."""
    total = int(lengths.sum())
    out = np.full(total, default, dtype=dtype)
    known = np.zeros(total, dtype=bool)
    if name not in table.column_names:
        return out, known
    arr = table[name].combine_chunks()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    row_valid = arr.is_valid().to_numpy(zero_copy_only=False)
    lens = pc.fill_null(pc.list_value_length(arr), 0).to_numpy().astype(np.int64)
    bad = row_valid & (lens != lengths)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise ShardError(f"column {name!r} row {r}: list length {lens[r]} != item_idx length {lengths[r]}")
    values = arr.flatten()
    pos = np.repeat(row_valid, lengths)
    elem_known = values.is_valid().to_numpy(zero_copy_only=False)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        vals = np.array(values.to_pylist(), dtype=object)
        vals[~elem_known] = default
    else:
        vals = pc.fill_null(values, default).to_numpy(zero_copy_only=False).astype(dtype)
    out[pos] = vals
    known[pos] = elem_known
    return out, known


def store_from_table(table: pa.Table, n_ngram_buckets: int = 4096) -> SequenceStore:
    """One row per user with list columns item_idx, event_type, ts, query (all but item_idx optional)."""
    if "item_idx" not in table.column_names or "user_id" not in table.column_names:
        raise ShardError(f"shard needs columns user_id and item_idx, has {table.column_names}")
    item_arr = table["item_idx"].combine_chunks()
    if item_arr.null_count:
        raise ShardError(f"item_idx is null in {item_arr.null_count} rows")
    lengths = pc.list_value_length(item_arr).to_numpy().astype(np.int64)
    items, _ = _flat_list(table, "item_idx", lengths, 0, np.int64)
    if (items < 0).any():
        raise ShardError("negative item_idx")
    types, _ = _flat_list(table, "event_type", lengths, 0, np.int64)
    types = np.where((types >= 0) & (types <= 4), types, 0)
    ts, ts_known = _flat_list(table, "ts", lengths, 0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    first = np.zeros(len(items), dtype=bool)
    first[offsets[:-1][lengths > 0]] = True
    prev_ts = np.concatenate([[0], ts[:-1]])
    prev_known = np.concatenate([[False], ts_known[:-1]])
    gaps = gap_bucket(ts - prev_ts, ts_known & prev_known & ~first)
    queries, q_known = _flat_list(table, "query", lengths, "", object)
    query_ids = np.zeros(len(items), dtype=np.int64)
    ngram_table = np.zeros((1, 0), dtype=np.int64)
    has_q = q_known & (queries != "")
    if has_q.any():
        uniq, inv = np.unique(queries[has_q].astype(str), return_inverse=True)
        grams = [query_ngrams(q, n_ngram_buckets) for q in uniq]
        g = max(1, max(len(x) for x in grams))
        ngram_table = np.zeros((len(uniq) + 1, g), dtype=np.int64)
        for i, x in enumerate(grams):
            ngram_table[i + 1, : len(x)] = x
        query_ids[has_q] = inv + 1
    extra = {}
    for col in ("target_item_idx", "target_ts"):
        if col in table.column_names:
            extra[col] = pc.fill_null(table[col], 0).to_numpy().astype(np.int64)
    extra["last_ts"] = np.where(lengths > 0, ts[np.maximum(offsets[1:] - 1, 0)], 0) if len(ts) else np.zeros(0)
    extra["last_ts_known"] = (np.where(lengths > 0, ts_known[np.maximum(offsets[1:] - 1, 0)], False)
                              if len(ts) else np.zeros(0, dtype=bool))
    user_ids = [str(u) for u in table["user_id"].to_pylist()]
    texts = uniq.tolist() if has_q.any() else []
    return SequenceStore(user_ids, offsets, items, types, gaps, query_ids, ngram_table, extra, texts, ts, ts_known)


def query_vocabulary(store: SequenceStore, min_count: int = 2, max_words: int = 5000) -> tuple[list[str], list[int]]:
    """The words of the store's search queries (normalised, split on spaces) that occur at least
    ``min_count`` times, most frequent first (ties by word), with their counts: the words
    ``models.readouts.item_words`` can answer with."""
    from collections import Counter

    from models.tokens import normalise_query

    per_query = np.bincount(store.query_ids, minlength=len(store.query_texts) + 1)
    counts: Counter = Counter()
    for q, n in zip(store.query_texts, per_query[1:].tolist(), strict=True):
        for w in normalise_query(q).split():
            counts[w] += n
    ranked = sorted(((w, c) for w, c in counts.items() if c >= min_count), key=lambda wc: (-wc[1], wc[0]))
    ranked = ranked[:max_words]
    return [w for w, _ in ranked], [c for _, c in ranked]


def concat_tables(paths: list[Path]) -> pa.Table:
    tables = [pq.read_table(p) for p in paths]
    return pa.concat_tables(tables, promote_options="default") if tables else pa.table({})


def observation_end(manifest: dict, store: SequenceStore | None = None) -> int | None:
    """Unix time (s) the training histories were cut at, for censored gaps: the manifest's window
    ``holdout_cutoff``, else the day after its window ``end``, else the latest known timestamp in
    ``store``; None when nothing says. Naive ISO times are UTC (the warehouse's timestamps)."""
    window = manifest.get("window") or {}
    for key, extra in (("holdout_cutoff", timedelta(0)), ("end", timedelta(days=1))):
        text = window.get(key)
        if text:
            try:
                t = datetime.fromisoformat(str(text))
            except ValueError:
                raise ShardError(f"manifest window {key!r} is {text!r}, not an ISO date or time; "
                                 "rewrite the shards (the training_shards asset writes it)") from None
            t = t.replace(tzinfo=UTC) if t.tzinfo is None else t
            return int((t + extra).timestamp())
    if store is not None and store.extra.get("last_ts_known") is not None and store.extra["last_ts_known"].any():
        return int(store.extra["last_ts"][store.extra["last_ts_known"]].max())
    return None


def load_train_store(shards: Shards, rank: int = 0, world_size: int = 1, n_ngram_buckets: int = 4096) -> SequenceStore:
    """This rank's users: its own files when there are enough, else every ``world_size``-th row."""
    files = shards.train_files
    if world_size > 1 and len(files) >= world_size:
        return store_from_table(concat_tables(files[rank::world_size]), n_ngram_buckets)
    store = store_from_table(concat_tables(files), n_ngram_buckets)
    if world_size > 1:
        store = store.take(np.arange(rank, store.n_users, world_size))
    return store


def split_last_item(store: SequenceStore) -> tuple[SequenceStore, np.ndarray, np.ndarray]:
    """Leave-last-out validation: (store cut before each user's last item event, rows with a target,
    their target items). Users with fewer than 2 item events keep their whole history, no target."""
    n = store.lengths
    is_item = store.items > 0
    # index of the last item event of each user, -1 if none; count of item events
    pos = np.where(is_item, np.arange(len(store.items)), -1)
    row_of = np.repeat(np.arange(store.n_users), n)
    last = np.full(store.n_users, -1, dtype=np.int64)
    np.maximum.at(last, row_of, pos)
    count = np.bincount(row_of, weights=is_item, minlength=store.n_users)
    has = (count >= 2) & (last >= 0)
    new_len = np.where(has, last - store.offsets[:-1], n)
    targets = np.where(has, store.items[np.maximum(last, 0)], 0)
    rows = np.flatnonzero(has)
    return store.truncate(new_len), rows, targets[rows]


# ---- batches -------------------------------------------------------------------------------------

def make_batch(store: SequenceStore, rows: np.ndarray, max_len: int, train: bool,
               ends: np.ndarray | None = None) -> Batch:
    """Left-padded batch of the users ``rows``. Training: inputs are the last ``max_len`` events
    before each user's final one and targets the next event; inference: the last ``max_len`` events.
    ``ends`` (optional) cuts each user's sequence at that length first (random crops)."""
    rows = np.asarray(rows, dtype=np.int64)
    starts = store.offsets[rows]
    stop = store.offsets[rows + 1] if ends is None else starts + ends
    n = stop - starts
    window = np.minimum(n, max_len + 1) if train else np.minimum(n, max_len)
    last = stop - 1 if train else stop          # exclusive end of the inputs
    L = max(int((window - 1).max()) if train else int(window.max()), 1)
    p = last[:, None] - L + np.arange(L)[None, :]
    valid = p >= (stop - window)[:, None]
    pc_ = np.where(valid, p, 0)
    items = np.where(valid, store.items[pc_], 0)
    b = Batch(
        items=torch.from_numpy(items),
        types=torch.from_numpy(np.where(valid, store.types[pc_], 0)),
        gaps=torch.from_numpy(np.where(valid, store.gaps[pc_], 0)),
        ngrams=torch.from_numpy(store.ngram_table[np.where(valid, store.query_ids[pc_], 0)]),
        valid=torch.from_numpy(valid),
    )
    if train:
        tp = np.where(valid, p + 1, 0)
        b.target_items = torch.from_numpy(np.where(valid, store.items[tp], 0))
        b.target_gaps = torch.from_numpy(np.where(valid, store.gaps[tp], 0))
    return b


def length_bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                            chunk_batches: int = 32) -> list[np.ndarray]:
    """Shuffle users, sort by length within chunks of ``chunk_batches`` batches (less padding),
    then shuffle the batch order. Deterministic given ``rng``."""
    perm = rng.permutation(len(lengths))
    chunk = batch_size * chunk_batches
    batches: list[np.ndarray] = []
    for s in range(0, len(perm), chunk):
        c = perm[s:s + chunk]
        c = c[np.argsort(lengths[c], kind="stable")]
        batches.extend(c[i:i + batch_size] for i in range(0, len(c), batch_size))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]
