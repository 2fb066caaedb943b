"""Tiny generated training shards in the contract format (contracts.md section 3), written with pyarrow."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DAY = 86_400


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def write_shards(root: Path, n_users: int = 60, n_items: int = 30, length: int = 12, n_train_files: int = 2,
                 seed: int = 0, with_clickstream: bool = True, extra_items: int = 0) -> Path:
    """Users walk the catalogue in steps of 1 (item i -> i+1, mod n_items) from a random start, so the
    next item is learnable. Clickstream extras: event types, timestamps, some searches with queries.
    ``extra_items`` appends new items to the vocabulary (a grown catalogue) without using them."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    t0 = 1_700_000_000
    rows, hold = [], []
    for u in range(n_users):
        start = int(rng.integers(0, n_items))
        seq = [1 + (start + j) % n_items for j in range(length + 1)]
        items, types, ts, queries = [], [], [], []
        t = t0 + int(rng.integers(0, DAY))
        for j, it in enumerate(seq[:-1]):
            if with_clickstream and j == 3:
                items.append(0)
                types.append(2)
                ts.append(t)
                queries.append(str(rng.choice(["solnedgång poster", "sunset postr"])))
                t += 30
            items.append(it)
            types.append(1 if not with_clickstream else int(rng.choice([1, 1, 3, 4])))
            ts.append(t)
            queries.append(None)
            t += int(rng.integers(60, 3 * DAY))
        row = {"user_id": f"u{u}", "item_idx": items, "event_type": types,
               "ts": ts if with_clickstream else None, "query": queries}
        rows.append(row)
        hold.append({**row, "target_item_idx": seq[-1], "target_item_id": f"i{seq[-1]}", "target_ts": t})
    schema = pa.schema([("user_id", pa.string()), ("item_idx", pa.list_(pa.int32())), ("event_type", pa.list_(pa.int8())),
                        ("ts", pa.list_(pa.int64())), ("query", pa.list_(pa.string()))])
    files = []
    per = int(np.ceil(n_users / n_train_files))
    for f in range(n_train_files):
        p = root / f"train-{f:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows[f * per:(f + 1) * per], schema=schema), p)
        files.append({"path": p.name, "role": "train", "rows": len(rows[f * per:(f + 1) * per]), "sha256": _sha(p)})
    hschema = schema.append(pa.field("target_item_idx", pa.int32())).append(pa.field("target_item_id", pa.string())) \
        .append(pa.field("target_ts", pa.int64()))
    p = root / "holdout.parquet"
    pq.write_table(pa.Table.from_pylist(hold, schema=hschema), p)
    files.append({"path": p.name, "role": "holdout", "rows": len(hold), "sha256": _sha(p)})
    n_vocab = n_items + extra_items
    p = root / "items.parquet"
    pq.write_table(pa.table({"item_idx": pa.array(range(1, n_vocab + 1), pa.int32()),
                             "item_id": [f"i{i}" for i in range(1, n_vocab + 1)]}), p)
    files.append({"path": p.name, "role": "items", "rows": n_vocab, "sha256": _sha(p)})
    manifest = {"format": "corebrain-shards/1",
                "window": {"start": "2023-11-14", "end": "2023-12-30", "holdout_cutoff": "2023-12-30T00:00:00"},
                "vocab": {"n_items": n_vocab, "version": _sha(p)},
                "event_types": {"view": 1, "search": 2, "add_to_cart": 3, "purchase": 4},
                "files": files, "lineage": {"dbt_manifest_sha256": "test", "partitions": []}}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return root


COLOUR_WORDS = {0: ["red", "röd"], 1: ["blue", "blå"]}


def write_colour_shards(root: Path, n_users: int = 120, n_items: int = 20, sessions: int = 4, seed: int = 0,
                        p_other: float = 0.25) -> Path:
    """Two colours of items (1..n/2 red, the rest blue); each user likes one colour. A session is a
    search for a colour (English or Swedish; the other colour with probability ``p_other``) followed by
    three views of items of that colour (one view in a third of the users' last sessions, so their
    held-out item follows a search), so search, similar items and customer words all have a truth:
    the colour."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    half = n_items // 2
    t0 = 1_700_000_000
    rows = []
    for u in range(n_users):
        items, types, ts, queries = [], [], [], []
        t = t0 + int(rng.integers(0, DAY))
        for _ in range(sessions if u % 4 else 2):          # every fourth user goes quiet early
            colour = (u + int(rng.random() < p_other)) % 2
            pool = np.arange(1, half + 1) if colour == 0 else np.arange(half + 1, n_items + 1)
            items.append(0)
            types.append(2)
            ts.append(t)
            queries.append(str(rng.choice(COLOUR_WORDS[colour])))
            for it in rng.choice(pool, 3 if _ < sessions - 1 or u % 3 else 1, replace=False):
                t += 60
                items.append(int(it))
                types.append(1)
                ts.append(t)
                queries.append(None)
            t += int(rng.integers(DAY, 4 * DAY))
        rows.append({"user_id": f"u{u}", "item_idx": items, "event_type": types, "ts": ts, "query": queries})
    schema = pa.schema([("user_id", pa.string()), ("item_idx", pa.list_(pa.int32())), ("event_type", pa.list_(pa.int8())),
                        ("ts", pa.list_(pa.int64())), ("query", pa.list_(pa.string()))])
    p = root / "train-00000.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), p)
    files = [{"path": p.name, "role": "train", "rows": len(rows), "sha256": _sha(p)}]
    from datetime import UTC, datetime

    cutoff = datetime.fromtimestamp(max(max(r["ts"]) for r in rows) + DAY, UTC).replace(tzinfo=None)
    p = root / "items.parquet"
    pq.write_table(pa.table({"item_idx": pa.array(range(1, n_items + 1), pa.int32()),
                             "item_id": [f"{'red' if i <= half else 'blue'}-{i}" for i in range(1, n_items + 1)]}), p)
    files.append({"path": p.name, "role": "items", "rows": n_items, "sha256": _sha(p)})
    manifest = {"format": "corebrain-shards/1",
                "window": {"start": "2023-11-14", "end": cutoff.date().isoformat(),
                           "holdout_cutoff": cutoff.isoformat(timespec="seconds")},
                "vocab": {"n_items": n_items, "version": _sha(p)},
                "event_types": {"view": 1, "search": 2, "add_to_cart": 3, "purchase": 4},
                "files": files, "lineage": {"dbt_manifest_sha256": "test", "partitions": []}}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return root
