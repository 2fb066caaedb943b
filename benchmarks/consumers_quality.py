"""Consumer tables on the sample shop: quality against the truth and the shop's real future, and the
rows / build time per table.

    .venv/bin/python benchmarks/consumers_quality.py                     # demo size: 600 users, 300 items, 30 days
    .venv/bin/python benchmarks/consumers_quality.py --users 4000 --items 1000 --days 30

The shop is simulated for ``--days`` + 7 days; ONE real ``nightly`` run (Dagster, dbt, DuckDB, torch,
MLflow) covers only the first ``--days`` and builds every consumer table from its champion. Then:

- ``catalogue_anomalies``: the items flagged against the truth's ``catalogue_error`` (wrong palette
  tags the simulator planted), precision / recall beside flagging as many items at random
  (``pipelines.quality.anomaly_quality``);
- ``demand_outlook``: expected purchases per item vs the 7-day moving average, both against the
  purchases of the 7 simulated days the pipeline never saw (MAE per item, WAPE, bias);
- rows and build seconds per table from the run's materialisation metadata.

Writes ``benchmarks/results/consumers_quality.json``. Prints the load (``os.getloadavg``).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HORIZON = 7


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=600)
    ap.add_argument("--items", type=int, default=300)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=None, help="core_model epochs (default: the asset's)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "consumers_quality.json")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="consumers-quality-"))
    os.environ["COREBRAIN_HOME"] = str(tmp / "corebrain")
    for var in ("DAGSTER_HOME", "MLFLOW_TRACKING_URI", "COREBRAIN_LAKE", "COREBRAIN_WAREHOUSE"):
        os.environ.pop(var, None)
    import dagster as dg
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from pipelines import quality
    from pipelines.consumers import store
    from pipelines.settings import prepare_environment
    from pipelines.simulate import simulate_shop

    paths = prepare_environment()
    start = dt.date(2026, 5, 1)
    end = start + dt.timedelta(days=args.days - 1)
    simulate_shop(paths.home, days=args.days + HORIZON, users=args.users, items=args.items, seed=args.seed,
                  start_date=start)
    from pipelines.definitions import defs

    config = {"ops": {"core_model": {"config": {"epochs": args.epochs}}}} if args.epochs else {}
    wall = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        run = defs.resolve_job_def("nightly").execute_in_process(
            instance=instance, raise_on_error=False, run_config=config,
            tags={"dagster/asset_partition_range_start": str(start), "dagster/asset_partition_range_end": str(end)})
    wall = time.perf_counter() - wall
    if not run.success:
        print("the nightly run failed:", [e.message for e in run.all_events if e.is_failure])
        return 1
    mats = {e.event_specific_data.materialization.asset_key.path[-1]:
            {k: v.value for k, v in e.event_specific_data.materialization.metadata.items()}
            for e in run.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}
    events = quality.landing_events(paths.home, start, end)
    truth = pq.read_table(paths.home / "truth" / "items.parquet").to_pandas()

    anomalies = pq.read_table(store.table_path(paths.lake, "catalogue_anomalies")).to_pandas()
    universe = set(truth.item_id) & set(pc.unique(events.column("item_id")).to_pylist())
    aq = quality.anomaly_quality(set(anomalies.item_id), set(truth.item_id[truth.catalogue_error]), universe)

    future = quality.landing_events(paths.home, end + dt.timedelta(days=1), end + dt.timedelta(days=HORIZON))
    fut = future.filter(pc.equal(future.column("event_type"), "purchase")).to_pandas()
    actual = fut.groupby("item_id").size()
    demand = pq.read_table(store.table_path(paths.lake, "demand_outlook")).to_pandas()
    a = demand.item_id.map(actual).fillna(0).to_numpy()
    dq = {"demand_outlook": quality.forecast_errors(demand.expected_purchases.to_numpy(), a),
          "moving_average_7d": quality.forecast_errors(demand.moving_average_forecast.to_numpy(), a),
          "items": len(demand), "actual_purchases": float(a.sum()),
          "unseen_item_purchases": int(len(fut) - a.sum())}

    load = os.getloadavg()
    print(f"sample shop: {args.users} users, {args.items} items, {args.days} days ({len(events)} events) "
          f"+ {HORIZON} unseen days; nightly run {wall:.0f} s; load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print("\ncatalogue_anomalies vs the planted catalogue errors (items with events)")
    print(f"  {'':18}{'precision':>10}{'recall':>8}{'flagged':>9}{'hits':>6}{'errors':>8}")
    print(f"  {'flagged items':18}{aq['precision']:>10.3f}{aq['recall']:>8.3f}{aq['flagged']:>9}{aq['hits']:>6}{aq['errors']:>8}")
    print(f"  {'random, same n':18}{aq['chance_precision']:>10.3f}{aq['chance_recall']:>8.3f}"
          f"   P(at least {aq['hits']} hits by luck) = {aq['p_luck']:.2g}")
    print(f"\ndemand over the next {HORIZON} days ({dq['items']} items, {dq['actual_purchases']:.0f} purchases)")
    print(f"  {'forecast':20}{'MAE/item':>10}{'WAPE':>8}{'bias':>8}")
    for name in ("demand_outlook", "moving_average_7d"):
        e = dq[name]
        print(f"  {name:20}{e['mae']:>10.3f}{e['wape']:>8.3f}{e['bias']:>+8.3f}")
    print("\nrows and build time per table (materialisation metadata of the nightly run)")
    sizes = {}
    for name in store.TABLES:
        m = mats.get(name, {})
        sizes[name] = {"rows": m.get("rows"), "build_seconds": m.get("build_seconds")}
        print(f"  {name:22}{m.get('rows', 0):>9} rows {m.get('build_seconds', float('nan')):>8.2f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"users": args.users, "items": args.items, "days": args.days,
                                    "events": len(events), "nightly_seconds": wall, "load": load,
                                    "anomalies": aq, "demand": dq, "tables": sizes}, indent=2, default=float))
    print(f"\nwrote {args.out}; home {tmp} (delete it when done)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
