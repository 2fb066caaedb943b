"""One consumer batch: the champion resolved once to a version, its model and its own histories.

Histories come from the shards the champion trained on (the version's ``shards_dir`` tag), so every
table of a batch reads the same users through the same vocabulary as the model itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from models.shards import ShardError, open_shards
from models.tokens import DAY


class NoChampion(RuntimeError):
    """There is no usable champion to build consumer tables from; the message says what to do."""


@dataclass(frozen=True)
class Champion:
    version: str
    model_uri: str
    shards_dir: Path


def resolve_champion(client, name: str, alias: str = "champion") -> Champion:
    """The alias read ONCE: every table of the batch uses this version (never the alias again)."""
    from pipelines.gate.aliases import version_for_alias

    mv = version_for_alias(client, name, alias)
    if mv is None:
        raise NoChampion(f"model {name} has no `{alias}` alias yet: run the nightly job (or `promote`) first")
    shards = (mv.tags or {}).get("shards_dir")
    if not shards:
        raise NoChampion(f"{name} v{mv.version} has no `shards_dir` tag: it predates lineage tags; "
                         "retrain and promote a new version")
    if not (Path(shards) / "manifest.json").exists():
        raise NoChampion(f"{name} v{mv.version} trained on {shards}, which is gone: rematerialise "
                         "training_shards and retrain, or promote a version whose shards exist")
    return Champion(str(mv.version), f"models:/{name}/{mv.version}", Path(shards))


@dataclass
class Histories:
    """Aligned per-user lists: ids, the read-outs' history dicts, last event time (unix s or None)."""
    user_ids: list[str]
    histories: list[dict]
    last_ts: list[int | None]
    scored_at: int                       # the end of the shards' window: "now" for this batch


def window_end_ts(manifest: dict) -> int:
    """Unix seconds of the midnight (UTC) after the shards' last day: the time the batch scores at."""
    end = dt.date.fromisoformat(manifest["window"]["end"]) + dt.timedelta(days=1)
    return int(dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC).timestamp())


def rows_to_histories(table: pa.Table, item_ids: list) -> tuple[list[str], list[dict], list[int | None]]:
    """Shard rows (item_idx lists) -> the read-outs' history dicts (item ids, event codes, ts, queries)."""
    cols = {c: table[c].to_pylist() if c in table.column_names else [None] * table.num_rows
            for c in ("user_id", "item_idx", "event_type", "ts", "query")}
    users, hist, last = [], [], []
    for u, items, types, ts, queries in zip(cols["user_id"], cols["item_idx"], cols["event_type"], cols["ts"],
                                            cols["query"], strict=True):
        items = items or []
        ids = [item_ids[i] if i and 0 < i < len(item_ids) else None for i in items]
        known_ts = [t for t in (ts or []) if t is not None]
        users.append(str(u))
        hist.append({"items": ids, "event_types": types, "ts": ts, "queries": queries})
        last.append(max(known_ts) if known_ts else None)
    return users, hist, last


def read_histories(shards_dir: Path) -> Histories:
    """Every user of the champion's training shards (sha256-verified against their manifest)."""
    shards = open_shards(shards_dir)
    users: list[str] = []
    hist: list[dict] = []
    last: list[int | None] = []
    for path in shards.train_files:
        u, h, t = rows_to_histories(pq.read_table(path), shards.item_ids)
        users += u
        hist += h
        last += t
    if len(set(users)) != len(users):
        raise ShardError(f"{shards_dir}: a user appears in more than one row; the shards contract is one row "
                         "per user: rematerialise training_shards")
    return Histories(users, hist, last, window_end_ts(shards.manifest))


def active_rows(last_ts: list[int | None], scored_at: int, active_days: float) -> np.ndarray:
    """Indices of users with an event in the ``active_days`` before ``scored_at`` (no timestamp: kept,
    as the model treats them as just seen)."""
    since = scored_at - active_days * DAY
    return np.asarray([i for i, t in enumerate(last_ts) if t is None or t >= since], dtype=np.int64)


def risk_band(p: float, high: float = 0.7, medium: float = 0.4) -> str:
    """``high`` / ``medium`` / ``low`` churn risk from P(no event in the horizon)."""
    if not (0.0 <= medium <= high <= 1.0):
        raise ValueError(f"risk thresholds must satisfy 0 <= medium ({medium}) <= high ({high}) <= 1")
    return "high" if p >= high else "medium" if p >= medium else "low"
