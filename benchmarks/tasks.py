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


def shard_histories(reader, shards: Path) -> list[dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from models.data import open_shards

    table = pa.concat_tables([pq.read_table(f) for f in open_shards(shards).train_files], promote_options="default")
    return [{"items": [reader.item_id(i) if i > 0 else "" for i in r["item_idx"]], "event_types": r["event_type"],
             "ts": r["ts"], "queries": [q or "" for q in r["query"]]} for r in table.to_pylist()]


def readout_speed(reader, histories: list, n_batch: int = 1000, n_single: int = 200) -> dict:
    """Histories/s per task over a batch of ``n_batch`` 100-event histories, and the single-request
    latency (p50 / p99, ms) of the pyfunc's predict for one 100-event history, in process."""
    import pandas as pd

    from models import readouts
    from models.pyfunc import CoreModelPyfunc

    long = [h for h in histories if len(h["items"]) >= 100][:n_batch] or histories[:n_batch]
    batch = [{k: (v[-100:] if isinstance(v, list) else v) for k, v in h.items()} for h in long]
    items = [reader.item_id(i) for i in range(1, min(reader.n_items, len(batch)) + 1)]
    runs = {"recommend": lambda: readouts.recommend(reader, batch, 10),
            "search": lambda: readouts.search(reader, batch, ["sunset poster"] * len(batch), 10),
            "similar": lambda: readouts.similar_items(reader, items, 10),
            "words": lambda: readouts.item_words(reader, items, 5),
            "churn": lambda: readouts.churn(reader, batch, 1_800_000_000),
            "embed": lambda: readouts.embed(reader, batch)}
    out = {"history_events": int(np.mean([len(h["items"]) for h in batch])), "batch": len(batch)}
    for task, fn in runs.items():
        t0 = time.perf_counter()
        fn()
        n = len(items) if task in ("similar", "words") else len(batch)
        out[f"{task}_per_s"] = n / (time.perf_counter() - t0)
    model = CoreModelPyfunc()
    model.reader = reader
    one = batch[0]
    frame = pd.DataFrame({"items": [one["items"]], "event_types": [[str(e) for e in one["event_types"]]],
                          "ts": [[float(t) for t in one["ts"]]], "queries": [one["queries"]]})
    lat = []
    for _ in range(n_single):
        t0 = time.perf_counter()
        model.predict(None, frame, {"task": "recommend", "k": 10})
        lat.append((time.perf_counter() - t0) * 1000)
    out["predict_ms_p50"], out["predict_ms_p99"] = float(np.percentile(lat, 50)), float(np.percentile(lat, 99))
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
        if "speed" in r:
            sp = r["speed"]
            lines.append(f"{'read-outs per second (batch of ' + str(sp['batch']) + ')':<44} {variant:<12}          "
                         + ", ".join(f"{t} {sp[t + '_per_s']:,.0f}" for t in ("recommend", "search", "similar", "words",
                                                                                "churn", "embed")))
            lines.append(f"{'predict latency, one ' + str(sp['history_events']) + '-event history':<44} {variant:<12}"
                         f"          p50 {sp['predict_ms_p50']:.1f} ms, p99 {sp['predict_ms_p99']:.1f} ms")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--sparse", action="store_true", help="keep 3%% of users: few events per item")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--name", default=None)
    ap.add_argument("--variants", default="before,new",
                    help="comma list of: before (defaults before issue 9), fixed_dropout (today's without auto dropout), "
                         "new (today's), new_churn (+ gap weights 1)")
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
    from pipelines.quality import score_readouts

    variants = {"before": {"tie_items": False, "crop": "last", "select_on_all_tasks": False, "auto_dropout": False},
                "fixed_dropout": {"auto_dropout": False}, "new": {},
                "new_churn": {"gap_loss_weight": 1.0, "censored_gap_weight": 1.0}}
    variants = {k: variants[k] for k in args.variants.split(",")}
    results = {"name": name, "users": users, "items": args.items, "seed": args.seed, "variants": {}}
    for variant, overrides in variants.items():
        best, secs = train_variant(shards, home / "training" / variant, epochs=args.epochs, **overrides)
        reader = CoreReader.from_checkpoint(best)
        r = score_readouts(reader, shards, home, cutoff, FUTURE_DAYS)
        r["train_seconds"] = secs
        r["speed"] = readout_speed(reader, shard_histories(reader, shards))
        results["variants"][variant] = r
        print(f"{variant}: trained in {secs:.0f} s", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"tasks_{name}.json").write_text(json.dumps(results, indent=2, default=float))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
