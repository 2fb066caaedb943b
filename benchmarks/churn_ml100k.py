"""Zero-shot 14-day churn on MovieLens-100k (real timestamps): the time-gap head vs days since last event.

    .venv/bin/python benchmarks/churn_ml100k.py [--seed N] [--set key=value ...] [--results FILE]
    # the run before the censored gap term (results/churn_ml100k.json):
    .venv/bin/python benchmarks/churn_ml100k.py --set censored_gap_weight=0 --results benchmarks/results/churn_ml100k.json

For each cutoff T, the model trains (through ``models.train``, on shards in the contract format) only
on events before T, with no churn labels. Label: a user with history before T has no event in
[T, T + 14 days). Scores: the model's P(no event in the next 14 days | silent since the last event)
and the recency baseline, days since the last event. Prints AUC for all users and for users active in
the 30 days before T (where recency alone says less), and next-item HR@10 on the first event after T
beside popularity; writes benchmarks/results/churn_ml100k_censored.json. Training includes the censored
gap term (``censored_gap_weight`` 1.0, the exact right-censored likelihood; models/churn.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_DATA = REPO.parent / "shared" / "data" / "ml-100k" / "ml-100k.inter"
CUTOFFS = ["1998-01-01", "1998-02-01", "1998-03-01"]
CONFIG = {"epochs": 12, "batch_size": 32, "lr": 2e-3, "max_len": 100, "d_model": 64, "n_layers": 2, "dropout": 0.2,
          "gap_loss_weight": 1.0, "censored_gap_weight": 1.0, "patience": 3, "threads": 1, "log_every": 0, "feature_dropout": 0.0}
DAY = 86_400


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def load_inter(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user, item, ts) sorted by user then time (stable on file order)."""
    a = np.loadtxt(path, skiprows=1, dtype=np.int64, usecols=(0, 1, 3))
    order = np.lexsort((a[:, 2], a[:, 0]))
    a = a[order]
    return a[:, 0], a[:, 1], a[:, 2]


def write_shards(users, items, ts, cutoff: int, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    n_items = int(items.max())
    before = ts < cutoff
    rows, hold = [], []
    for u in np.unique(users[before]):
        m = users == u
        b = m & before
        hist_items, hist_ts = items[b].tolist(), ts[b].tolist()
        row = {"user_id": str(u), "item_idx": hist_items, "event_type": [1] * len(hist_items), "ts": hist_ts,
               "query": None}
        rows.append(row)
        after = np.flatnonzero(m & ~before)
        if len(after):
            j = after[0]
            hold.append({**row, "target_item_idx": int(items[j]), "target_item_id": str(items[j]),
                         "target_ts": int(ts[j])})
    schema = pa.schema([("user_id", pa.string()), ("item_idx", pa.list_(pa.int32())),
                        ("event_type", pa.list_(pa.int8())), ("ts", pa.list_(pa.int64())),
                        ("query", pa.list_(pa.string()))])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), out / "train-00000.parquet")
    hschema = schema.append(pa.field("target_item_idx", pa.int32())).append(pa.field("target_item_id", pa.string())) \
        .append(pa.field("target_ts", pa.int64()))
    pq.write_table(pa.Table.from_pylist(hold, schema=hschema), out / "holdout.parquet")
    pq.write_table(pa.table({"item_idx": pa.array(range(1, n_items + 1), pa.int32()),
                             "item_id": [str(i) for i in range(1, n_items + 1)]}), out / "items.parquet")
    files = [{"path": n, "role": r, "rows": pq.read_metadata(out / n).num_rows, "sha256": _sha(out / n)}
             for n, r in (("train-00000.parquet", "train"), ("holdout.parquet", "holdout"), ("items.parquet", "items"))]
    iso = datetime.fromtimestamp(cutoff, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    manifest = {"format": "corebrain-shards/1", "window": {"start": None, "end": iso[:10], "holdout_cutoff": iso},
                "vocab": {"n_items": n_items, "version": _sha(out / "items.parquet")},
                "event_types": {"view": 1, "search": 2, "add_to_cart": 3, "purchase": 4}, "files": files,
                "lineage": {"source": "ml-100k.inter"}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out


def parse_overrides(pairs: list[str]) -> dict:
    """``["censored_gap_weight=0", "crop=random"]`` -> TrainConfig overrides (JSON values, else strings)."""
    out = {}
    for kv in pairs:
        k, v = kv.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def run_cutoff(users, items, ts, day: str, work: Path, seed: int, config: dict) -> dict:
    import torch

    from models.checkpoint import load_model
    from models.churn import churn_scores
    from models.data import load_train_store, open_shards
    from models.evaluate import evaluate_holdout
    from models.metrics import auc
    from models.train import train

    cutoff = int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())
    shards = write_shards(users, items, ts, cutoff, work / day / "shards")
    t0 = time.time()
    res = train({**config, "seed": seed, "shards_dir": str(shards), "out_dir": str(work / day / "model"),
                 "resume": False})
    train_s = time.time() - t0
    model, _ = load_model(res.best_path)
    store = load_train_store(open_shards(shards))
    uid = np.array([int(u) for u in store.user_ids])
    in_window = (ts >= cutoff) & (ts < cutoff + 14 * DAY)
    active = set(users[in_window].tolist())
    labels = torch.tensor([u not in active for u in uid])
    rows = np.arange(store.n_users)
    model_score = churn_scores(model, store, rows, cutoff, 14)
    # the gap head alone, ignoring the time already elapsed: P(next gap >= 14 days)
    from models.churn import churn_probability
    from models.data import make_batch
    with torch.no_grad():
        probs = torch.cat([model.gap_probs(model.last_hidden(make_batch(store, rows[s:s + 256], model.cfg.max_len,
                                                                        train=False)))
                           for s in range(0, len(rows), 256)])
    head_only = churn_probability(probs, torch.zeros(len(rows)), 14)
    days_since = torch.as_tensor((cutoff - store.extra["last_ts"]) / DAY, dtype=torch.float64)
    recent = days_since <= 30
    ev = evaluate_holdout(model, shards)
    return {"cutoff": day, "users": int(len(uid)), "churn_rate": float(labels.float().mean()),
            "auc_model": auc(model_score, labels), "auc_recency": auc(days_since, labels),
            "auc_head_only": auc(head_only, labels), "auc_head_only_recent": auc(head_only[recent], labels[recent]),
            "recent_users": int(recent.sum()), "recent_churn_rate": float(labels[recent].float().mean()),
            "auc_model_recent": auc(model_score[recent], labels[recent]),
            "auc_recency_recent": auc(days_since[recent], labels[recent]),
            "next_item_hr@10": ev["hr@10"], "next_item_ndcg@10": ev["ndcg@10"], "pop_hr@10": ev["pop_hr@10"],
            "best_epoch": res.best_epoch, "train_seconds": train_s}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--work", default="/tmp/corebrain-churn100k")
    ap.add_argument("--cutoffs", nargs="+", default=CUTOFFS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--results", default=str(REPO / "benchmarks" / "results" / "churn_ml100k_censored.json"))
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="override CONFIG keys (JSON values), e.g. censored_gap_weight=0")
    args = ap.parse_args(argv)
    config = {**CONFIG, **parse_overrides(args.set)}
    data = Path(args.data)
    if not data.exists():
        print(f"[churn] SKIP: {data} not found (the MovieLens files live in ../shared/data, see its README; "
              "pass --data PATH)")
        return 0
    users, items, ts = load_inter(data)
    rows = [run_cutoff(users, items, ts, d, Path(args.work), args.seed, config) for d in args.cutoffs]
    print("\nML-100k zero-shot 14-day inactivity (no churn labels in training); AUC, higher is better")
    print("model = P(no event in 14 days | silent since the last event); head = P(next gap >= 14 days), elapsed ignored")
    print(f"{'cutoff':12s} {'users':>6s} {'churn':>6s} {'model':>7s} {'head':>6s} {'recency':>8s} | {'recent':>6s} "
          f"{'churn':>6s} {'model':>7s} {'head':>6s} {'recency':>8s} | {'HR@10':>6s} {'pop':>6s}")
    for r in rows:
        print(f"{r['cutoff']:12s} {r['users']:6d} {r['churn_rate']:6.3f} {r['auc_model']:7.3f} {r['auc_head_only']:6.3f} "
              f"{r['auc_recency']:8.3f} | {r['recent_users']:6d} {r['recent_churn_rate']:6.3f} "
              f"{r['auc_model_recent']:7.3f} {r['auc_head_only_recent']:6.3f} {r['auc_recency_recent']:8.3f} | "
              f"{r['next_item_hr@10']:6.3f} {r['pop_hr@10']:6.3f}")
    mean = {k: float(np.mean([r[k] for r in rows])) for k in
            ("auc_model", "auc_recency", "auc_head_only", "auc_model_recent", "auc_recency_recent", "auc_head_only_recent",
             "next_item_hr@10", "pop_hr@10")}
    print("mean         " + "  ".join(f"{k} {v:.3f}" for k, v in mean.items()))
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(json.dumps({"config": config, "cutoffs": rows, "mean": mean}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
