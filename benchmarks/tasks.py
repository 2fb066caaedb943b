"""Every read-out of the core model beside its baseline, on the sample shop with its hidden truth.

    .venv/bin/python benchmarks/tasks.py                                  # 5,000 users, 1,000 items, 30 + 14 days
    .venv/bin/python benchmarks/tasks.py --users 1500 --items 400         # quicker
    .venv/bin/python benchmarks/tasks.py --sparse                         # few events per item (3% of users)

The shop is simulated into a temporary home, the first 30 days go through the real pipeline (ingest,
dbt on DuckDB, training shards) and the core model trains twice through the pipeline's own config:
today's defaults before issue 9 (separate output table, newest window only, epoch chosen on next item)
and the new ones (tied table, whole-history windows, epoch chosen on every task). Then each read-out
(models/readouts.py) is scored beside its baseline (pipelines/quality.py) on the holdout day and the
14 days after the cutoff. Writes benchmarks/results/tasks_<name>.json and prints one table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results"
START = dt.date(2026, 1, 1)
WINDOW_DAYS, FUTURE_DAYS = 30, 14


def build_shards(home: Path, days: int) -> Path:
    """Ingest, dbt and shards for the first ``days`` days, through Dagster in process."""
    import dagster as dg
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from pipelines.defs.ingest import raw_events, raw_items
    from pipelines.defs.shards import training_shards
    from pipelines.defs.transform import dbt_marts, dbt_partitioned, dbt_resource

    last = START + dt.timedelta(days=days - 1)
    tags = {ASSET_PARTITION_RANGE_START_TAG: START.isoformat(), ASSET_PARTITION_RANGE_END_TAG: last.isoformat()}
    with dg.DagsterInstance.ephemeral() as instance:
        dg.materialize([raw_events, dbt_partitioned], instance=instance, resources={"dbt": dbt_resource()}, tags=tags)
        dg.materialize([raw_items], instance=instance)
        res = dg.materialize([dbt_marts, training_shards], instance=instance, resources={"dbt": dbt_resource()},
                             run_config={"ops": {"dbt_marts": {"config": {"window_days": days, "holdout_days": 1}},
                                                 "training_shards": {"config": {"n_shards": 2}}}})
    for event in res.get_asset_materialization_events():
        md = event.event_specific_data.materialization.metadata
        if "shards_dir" in md:
            return Path(md["shards_dir"].value)
    raise RuntimeError("training_shards wrote no shards_dir")


def train_variant(shards: Path, out: Path, **overrides) -> tuple[Path, float]:
    from models.train import train
    from pipelines.defs.training import CoreModelConfig, train_config

    cfg = train_config(CoreModelConfig(**overrides), shards, out, None)
    cfg["log_every"] = 0
    t0 = time.perf_counter()
    res = train(cfg)
    return Path(res.best_path), time.perf_counter() - t0


def landing_events(home: Path, first: dt.date, last: dt.date) -> pa.Table:
    files = [home / "landing" / "events" / f"date={(first + dt.timedelta(days=i)).isoformat()}" / "events.parquet"
             for i in range((last - first).days + 1)]
    return pa.concat_tables([pq.read_table(f) for f in files if f.exists()], promote_options="default")


def evaluate(reader, shards: Path, home: Path, cutoff: dt.date, label: str) -> dict:
    from models import readouts
    from models.data import load_train_store, open_shards, store_from_table
    from models.evaluate import rank_targets
    from models.metrics import ranking_report
    from pipelines import quality

    sh = open_shards(shards)
    train = load_train_store(sh)
    n = sh.n_items
    out: dict = {}
    truth_items = pq.read_table(home / "truth" / "items.parquet").to_pandas().set_index("item_id")
    catalogue = pq.read_table(home / "landing" / "items" / "items.parquet").to_pandas().set_index("item_id")
    ids = sh.item_ids[1:]
    palettes = [truth_items.loc[i, "palette"] for i in ids]

    # next item (holdout day), both protocols
    hold = store_from_table(pq.read_table(sh.holdout_file))
    rows = np.flatnonzero((hold.lengths > 0) & (hold.extra["target_item_idx"] > 0))
    targets = hold.extra["target_item_idx"][rows]
    counts = train.item_counts(n)
    sims = quality.cooccurrence_similarity(train, n)
    for excl in (True, False):
        tag = "seen_excluded" if excl else "repeat_aware"
        m = ranking_report(rank_targets(reader.core, hold, rows, targets, n, exclude_seen=excl))
        p = ranking_report(rank_targets(None, hold, rows, targets, n, item_counts=counts, exclude_seen=excl))
        knn_ranks = []
        from models.inference import seen_matrix
        from models.metrics import target_ranks
        for s in range(0, len(rows), 256):
            r = rows[s:s + 256]
            sc = quality.item_knn_scores(hold, r, sims)
            knn_ranks.append(target_ranks(sc, torch.as_tensor(hold.extra["target_item_idx"][r]),
                                          seen_matrix(hold, r, n) if excl else None))
        k = ranking_report(torch.cat(knn_ranks))
        out[f"next_{tag}"] = {"model": m["ndcg@10"], "model_hr@10": m["hr@10"], "popularity": p["ndcg@10"],
                              "popularity_hr@10": p["hr@10"], "item_knn": k["ndcg@10"], "item_knn_hr@10": k["hr@10"],
                              "n": int(len(rows))}
    seen_share = float(np.mean([t in set(hold.items[hold.offsets[r]:hold.offsets[r + 1]].tolist())
                                for r, t in zip(rows, targets, strict=True)]))
    out["next_seen_share"] = seen_share

    # similar items: same-palette precision@10, all items with >= 5 training events and the newest
    active = [i + 1 for i in range(n) if counts[i + 1] >= 5]
    launch = truth_items["launch_date"]
    new = [i + 1 for i in active if (cutoff - launch.loc[ids[i]].date() if hasattr(launch.loc[ids[i]], "date")
                                     else cutoff - launch.loc[ids[i]]).days <= 7]
    nb_model, _ = readouts.similar_items(reader, ids, 10)
    nb_model = [[reader.index[j] for j in row] for row in nb_model]
    nb_co = quality.cooccurrence_neighbours(train, n, 10)
    texts = [f"{catalogue.loc[i, 'title']} {catalogue.loc[i, 'tags']}" if i in catalogue.index else "" for i in ids]
    nb_tf = quality.tfidf_neighbours(texts, 10)
    out["similar"] = {name: quality.same_label_precision(nb, palettes, active)
                      for name, nb in (("model", nb_model), ("cooccurrence", nb_co), ("tfidf", nb_tf))}
    out["similar"]["chance"] = float(np.mean([np.mean(np.array(palettes) == p) for p in palettes]))
    out["similar"]["n"] = len(active)
    out["similar_new_items"] = {name: quality.same_label_precision(nb, palettes, new)
                                for name, nb in (("model", nb_model), ("cooccurrence", nb_co), ("tfidf", nb_tf))}
    out["similar_new_items"]["n"] = len(new)

    # customer words: recall@5 of the truth's palette and place words
    words_truth = pq.read_table(home / "truth" / "item_words.parquet").to_pandas()
    focus = words_truth[words_truth.attribute.isin(["palette", "place"])]
    truth = {reader.index[i]: set(g.word) for i, g in focus.groupby("item_id") if i in reader.index}
    truth = {i: t for i, t in truth.items() if i in active}
    probs = readouts.word_item_probs(reader)
    w_model, _ = readouts.item_words(reader, [ids[i - 1] for i in truth], 5, probs=probs)
    pred_model = dict(zip(truth, w_model, strict=True))
    pred_tags = {i: [t.strip() for t in str(catalogue.loc[ids[i - 1], "tags"]).split(",")] for i in truth}
    pred_pmi = quality.pmi_words(quality.search_item_pairs(train), 5)
    out["words"] = {"model": quality.word_recall(pred_model, truth), "tags": quality.word_recall(pred_tags, truth),
                    "count_x_pmi": quality.word_recall(pred_pmi, truth), "n": len(truth),
                    "vocabulary": len(reader.words)}

    # churn at the cutoff: no event in the next 14 days
    cutoff_ts = int(dt.datetime.combine(cutoff, dt.time(), dt.UTC).timestamp())
    future = landing_events(home, cutoff, cutoff + dt.timedelta(days=FUTURE_DAYS - 1))
    back = set(future["user_id"].to_pylist())
    users = train.user_ids
    labels = np.array([u not in back for u in users], dtype=np.int64)
    table = pq.read_table(sh.train_files[0]) if len(sh.train_files) == 1 else pa.concat_tables(
        [pq.read_table(f) for f in sh.train_files])
    hist = [{"items": [ids[i - 1] if i > 0 else "" for i in r["item_idx"]], "event_types": r["event_type"],
             "ts": r["ts"], "queries": [q or "" for q in r["query"]]} for r in table.to_pylist()]
    order = {u: j for j, u in enumerate(table["user_id"].to_pylist())}
    hist = [hist[order[u]] for u in users]
    p_model = readouts.churn(reader, hist, cutoff_ts)
    recency = (cutoff_ts - train.extra["last_ts"]) / 86_400
    frequency = -train.lengths.astype(np.float64)
    scores = {"model": p_model, "recency": recency, "frequency": frequency}
    churn_file = home / "truth" / "churn" / f"date={cutoff.isoformat()}.parquet"
    if churn_file.exists():
        oracle = pq.read_table(churn_file).to_pandas().set_index("user_id")["p_inactive"]
        known = np.array([u in oracle.index for u in users])
        scores_k = {k: v[known] for k, v in scores.items()}
        scores_k["bayes_optimal"] = oracle.loc[[u for u, ok in zip(users, known, strict=True) if ok]].to_numpy()
        out["churn"] = quality.churn_aucs(labels[known], scores_k)
        out["churn"]["n"] = int(known.sum())
    else:
        out["churn"] = quality.churn_aucs(labels, scores)
        out["churn"]["n"] = len(users)
    out["churn"]["brier_model"] = quality.brier(p_model, labels)
    out["churn"]["brier_base_rate"] = quality.brier(np.full(len(labels), labels.mean()), labels)
    out["churn"]["reliability"] = quality.reliability(p_model, labels)
    out["churn"]["readout"] = reader.churn_readout.get("kind")
    out["churn"]["rate"] = float(labels.mean())

    # search on the holdout day: the first item event right after each search, history before the cutoff
    day = landing_events(home, cutoff, cutoff).to_pandas().sort_values(["user_id", "ts", "event_id"])
    queries, targets_s, hs = [], [], []
    by_user = {u: j for j, u in enumerate(users)}
    for _, g in day.groupby("user_id"):
        ev = g.to_dict("records")
        for a, b in zip(ev, ev[1:], strict=False):
            if a["event_type"] == "search" and b["event_type"] != "search" and b["item_id"] in reader.index \
                    and a["user_id"] in by_user:
                queries.append(a["query"])
                targets_s.append(b["item_id"])
                hs.append(hist[by_user[a["user_id"]]])
    if queries:
        ranked, _ = readouts.search(reader, hs, queries, 10, exclude_seen=False)
        base = [[ids[i - 1] for i in quality.matching_popularity_ranking(q, texts, counts, 10)] for q in queries]
        out["search"] = {"model": quality.ndcg_of_rankings(ranked, targets_s),
                         "popularity_within_query": quality.ndcg_of_rankings(base, targets_s), "n": len(queries)}
    out["label"] = label
    return out


def table(results: dict) -> str:
    lines = [f"{'task (metric)':<44} {'variant':<12} {'model':>7}  baselines"]
    for variant, r in results["variants"].items():
        def row(name, model, base, variant=variant):
            lines.append(f"{name:<44} {variant:<12} {model:>7.4f}  " + ", ".join(f"{k} {v:.4f}" for k, v in base.items()))
        for tag in ("seen_excluded", "repeat_aware"):
            x = r[f"next_{tag}"]
            row(f"next item NDCG@10 ({tag})", x["model"], {"popularity": x["popularity"], "item-kNN": x["item_knn"]})
            row(f"next item HR@10 ({tag})", x["model_hr@10"],
                {"popularity": x["popularity_hr@10"], "item-kNN": x["item_knn_hr@10"]})
        for key, name in (("similar", "similar items same-palette P@10"),
                          ("similar_new_items", "  ... items launched in the last 7 days")):
            x = r[key]
            row(f"{name} (n={x['n']})", x["model"], {k: x[k] for k in ("cooccurrence", "tfidf", "chance") if k in x})
        x = r["words"]
        row(f"customer words recall@5 (n={x['n']})", x["model"], {"tags": x["tags"], "count x PMI": x["count_x_pmi"]})
        x = r["churn"]
        row(f"churn 14d AUC (n={x['n']}, {x['readout']})", x["model"],
            {k: x[k] for k in ("recency", "frequency", "bayes_optimal") if k in x})
        row("churn 14d Brier", x["brier_model"], {"base rate": x["brier_base_rate"]})
        if "search" in r:
            x = r["search"]
            row(f"search NDCG@10 (n={x['n']})", x["model"], {"popularity within query": x["popularity_within_query"]})
        lines.append(f"{'train seconds':<44} {variant:<12} {r['train_seconds']:>7.0f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--sparse", action="store_true", help="keep 3%% of users: few events per item")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--name", default=None)
    ap.add_argument("--keep", default=None, help="folder to keep the home in (default: a temp folder)")
    args = ap.parse_args(argv)
    name = args.name or (f"shop{args.users}" + ("_sparse" if args.sparse else ""))
    home = Path(args.keep or tempfile.mkdtemp(prefix="cb-tasks-"))
    os.environ["COREBRAIN_HOME"] = str(home)
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    from pipelines.settings import prepare_environment
    from pipelines.simulate import simulate_shop

    prepare_environment()
    users = max(50, int(args.users * 0.03)) if args.sparse else args.users
    t0 = time.perf_counter()
    simulate_shop(home, days=WINDOW_DAYS + FUTURE_DAYS, users=users, items=args.items, seed=args.seed, start_date=START)
    shards = build_shards(home, WINDOW_DAYS)
    print(f"simulated and built shards in {time.perf_counter() - t0:.0f} s: {shards}", flush=True)
    cutoff = START + dt.timedelta(days=WINDOW_DAYS - 1)

    from models.inference import CoreReader

    variants = {"before": {"tie_items": False, "crop": "last", "select_on_all_tasks": False},
                "new": {}}
    results = {"name": name, "users": users, "items": args.items, "seed": args.seed, "variants": {}}
    for variant, overrides in variants.items():
        best, secs = train_variant(shards, home / "training" / variant, epochs=args.epochs, **overrides)
        r = evaluate(CoreReader.from_checkpoint(best), shards, home, cutoff, variant)
        r["train_seconds"] = secs
        results["variants"][variant] = r
        print(f"{variant}: trained in {secs:.0f} s", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"tasks_{name}.json").write_text(json.dumps(results, indent=2, default=float))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
