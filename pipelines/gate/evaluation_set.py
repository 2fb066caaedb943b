"""The frozen evaluation set of one decision: built from the run's own shards, content-addressed.

One row per evaluated user (every user with history before the cutoff, sampled above
``max_eval_users``): the history lists (the holdout's for its users, the train shards' for the rest), the next-item targets from the
holdout (``target_item_idx`` repeat-aware, ``target_new_item_idx`` seen-excluded), the search label
(``search_query`` / ``search_ts``: the query of the search right before ``target_item_idx``), ``churned`` (no
item event in the holdout days) and the segment columns. Written once under
``$COREBRAIN_HOME/evaluations/<sha256[:16]>/`` (``evaluation.parquet`` + ``items.parquet`` with the
training item counts + ``evaluation.json``); its sha256 is recorded on the model version and in the
audit row, so a decision can be re-scored on exactly the users and targets it was made on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DAY = 86400
HISTORY_COLUMNS = ["user_id", "item_idx", "event_type", "ts", "query"]


class EvaluationSetError(ValueError):
    """The shards cannot give an evaluation set (no holdout, mismatching files); says what to do."""


@dataclass(frozen=True)
class EvaluationSet:
    folder: Path
    sha256: str
    meta: dict

    @property
    def table_path(self) -> Path:
        return self.folder / "evaluation.parquet"

    def table(self) -> pa.Table:
        return pq.read_table(self.table_path)

    def items(self) -> pa.Table:
        return pq.read_table(self.folder / "items.parquet")


def _stable_sample(user_ids: list[str], limit: int) -> np.ndarray:
    """Rows of at most ``limit`` users, chosen by md5 of the id (the same users every night)."""
    if len(user_ids) <= limit:
        return np.arange(len(user_ids))
    keys = np.array([int(hashlib.md5(u.encode()).hexdigest()[:12], 16) for u in user_ids])
    return np.sort(np.argsort(keys, kind="stable")[:limit])


def activity_levels(n_events: np.ndarray) -> np.ndarray:
    """light / medium / heavy by the tertiles of the users' event counts (any business's scale)."""
    if not len(n_events):
        return np.array([], dtype=object)
    lo, hi = np.quantile(n_events, [1 / 3, 2 / 3])
    return np.where(n_events <= lo, "light", np.where(n_events <= hi, "medium", "heavy")).astype(object)


def first_seen_ts(item_lists: list[list[int]], ts_lists: list[list[int | None]], n_items: int) -> np.ndarray:
    """Earliest timestamp of each item idx in the histories (int64 max when never seen or unknown)."""
    first = np.full(n_items + 1, np.iinfo(np.int64).max, dtype=np.int64)
    items = np.fromiter((i for row in item_lists for i in row), dtype=np.int64)
    ts = np.fromiter((t if t is not None else np.iinfo(np.int64).max for row in ts_lists for t in row),
                     dtype=np.int64)
    keep = (items >= 1) & (items <= n_items)
    np.minimum.at(first, items[keep], ts[keep])
    return first


def build_table(train: pa.Table, holdout: pa.Table, items: pa.Table, *, cutoff_ts: int, rules: dict) -> pa.Table:
    """The evaluation rows (pure: tables in, table out)."""
    seg = rules["segments"]
    cols = [c for c in HISTORY_COLUMNS if c in train.column_names]
    # the holdout's own history lists for its users (the evaluation contract), the train shards' for
    # the rest (users with no item event after the cutoff: churn's positives)
    in_holdout = pa.array(sorted(str(u) for u in holdout["user_id"].to_pylist()))
    rest = train.select(cols).filter(pc.invert(pc.is_in(train["user_id"], value_set=in_holdout)))
    hold_cols = [c for c in cols if c in holdout.column_names]
    train = pa.concat_tables([rest.select(hold_cols), holdout.select(hold_cols).cast(rest.select(hold_cols).schema)])
    train = train.sort_by("user_id")
    users = [str(u) for u in train["user_id"].to_pylist()]
    rows = _stable_sample(users, int(rules["max_eval_users"]))
    train = train.take(pa.array(rows, pa.int64()))
    users = [users[i] for i in rows]

    hold = {str(r["user_id"]): r for r in holdout.select(
        [c for c in ("user_id", "target_item_idx", "target_new_item_idx", "target_ts", "target_query", "market")
         if c in holdout.column_names]
    ).to_pylist()}
    n_items = int(pc.max(items["item_idx"]).as_py() or 0) if len(items) else 0
    item_lists = train["item_idx"].to_pylist()
    ts_lists = train["ts"].to_pylist() if "ts" in train.column_names else [[None] * len(r) for r in item_lists]
    first = first_seen_ts(item_lists, ts_lists, n_items)

    def target(u, key):
        v = hold.get(u, {}).get(key)
        return int(v) if v else None

    t_all = [target(u, "target_item_idx") for u in users]
    t_new = [target(u, "target_new_item_idx") for u in users]
    protocol = t_new if rules["tasks"]["next_item"]["exclude_seen"] else t_all
    launched_after = cutoff_ts - int(seg["new_item_days"]) * DAY
    n_events = np.array([len(r) for r in item_lists], dtype=np.int64)
    first_ts = np.array([min((t for t in r if t is not None), default=cutoff_ts) for r in ts_lists], dtype=np.int64)
    out = train.append_column("target_item_idx", pa.array(t_all, pa.int32()))
    out = out.append_column("target_new_item_idx", pa.array(t_new, pa.int32()))
    out = out.append_column("target", pa.array(protocol, pa.int32()))
    queries = [(hold.get(u, {}).get("target_query") or None) for u in users]
    searched = [q is not None and t is not None for q, t in zip(queries, t_all, strict=True)]
    out = out.append_column("search_query", pa.array([q if ok else None for q, ok in zip(queries, searched, strict=True)],
                                                     pa.string()))
    out = out.append_column("search_ts", pa.array(
        [hold[u].get("target_ts") if ok else None for u, ok in zip(users, searched, strict=True)], pa.int64()))
    out = out.append_column("churned", pa.array([u not in hold for u in users], pa.bool_()))
    out = out.append_column("market", pa.array([hold.get(u, {}).get("market") for u in users], pa.string()))
    out = out.append_column("n_events", pa.array(n_events, pa.int64()))
    out = out.append_column("activity", pa.array(activity_levels(n_events).tolist(), pa.string()))
    out = out.append_column("new_user", pa.array(first_ts >= cutoff_ts - int(seg["new_user_days"]) * DAY,
                                                 pa.bool_()))
    out = out.append_column("target_launched", pa.array(
        [None if t is None else bool(first[t] >= launched_after if t <= n_items else True) for t in protocol],
        pa.bool_()))
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def freeze(shards_dir: Path, root: Path, rules: dict) -> EvaluationSet:
    """Build the evaluation set of ``shards_dir`` and write it content-addressed under ``root``
    (a rerun on the same shards finds the same folder and hash; nothing is written twice)."""
    from models.data import open_shards

    try:
        shards = open_shards(shards_dir)      # verifies every file's sha256 against the manifest
    except ValueError as exc:
        raise EvaluationSetError(f"{exc}; rematerialise training_shards and rerun the gate") from exc
    if shards.holdout_file is None:
        raise EvaluationSetError(f"{shards_dir} has no holdout.parquet: rematerialise training_shards")
    cutoff = datetime.fromisoformat(shards.manifest["window"]["holdout_cutoff"])
    cutoff = cutoff.replace(tzinfo=UTC) if cutoff.tzinfo is None else cutoff
    end = datetime.fromisoformat(shards.manifest["window"]["end"]).replace(tzinfo=UTC)
    cutoff_ts = int(cutoff.timestamp())
    horizon_days = max(1.0, (end.timestamp() + DAY - cutoff_ts) / DAY)

    from models.data import concat_tables, load_train_store

    train = concat_tables(shards.train_files)
    holdout = pq.read_table(shards.holdout_file)
    items = pq.read_table(shards.root / "items.parquet", columns=["item_idx", "item_id"]).sort_by("item_idx")
    counts = load_train_store(shards).item_counts(shards.n_items)
    items = items.append_column("train_count", pa.array(
        [int(counts[i]) if i < len(counts) else 0 for i in items["item_idx"].to_pylist()], pa.int64()))
    table = build_table(train, holdout, items, cutoff_ts=cutoff_ts, rules=rules)

    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        pq.write_table(table, tmp / "evaluation.parquet")
        pq.write_table(items, tmp / "items.parquet")
        digest = hashlib.sha256((_sha256(tmp / "evaluation.parquet") + _sha256(tmp / "items.parquet")).encode())
        sha = digest.hexdigest()
        meta = {"sha256": sha, "cutoff_ts": cutoff_ts, "horizon_days": horizon_days,
                "window": shards.manifest["window"], "shards_dir": str(shards_dir),
                "shards_manifest_sha256": hashlib.sha256((shards.root / "manifest.json").read_bytes()).hexdigest(),
                "n_users": table.num_rows, "n_items": shards.n_items,
                "next_item_users": int(pc.sum(pc.is_valid(table["target"])).as_py() or 0),
                "protocol": "seen-excluded" if rules["tasks"]["next_item"]["exclude_seen"] else "repeat-aware"}
        (tmp / "evaluation.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        final = root / sha[:16]
        if final.exists():
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return EvaluationSet(final, sha, json.loads((final / "evaluation.json").read_text()))


def open_evaluation_set(folder: Path) -> EvaluationSet:
    """A frozen set, its files re-hashed: refuses one that changed after it was written."""
    folder = Path(folder)
    meta = json.loads((folder / "evaluation.json").read_text())
    sha = hashlib.sha256((_sha256(folder / "evaluation.parquet") + _sha256(folder / "items.parquet")).encode())
    if sha.hexdigest() != meta["sha256"]:
        raise EvaluationSetError(f"{folder}: its files no longer match the recorded sha256 {meta['sha256'][:16]}")
    return EvaluationSet(folder, meta["sha256"], meta)
