"""How long the transform stage takes: dbt through Dagster (in-process) and the shards writer.

Builds a synthetic lake that follows contracts.md section 2 with DuckDB (no simulator, no ingest),
then times, in a temporary COREBRAIN_HOME (deleted afterwards):

- a backfill of every day in ONE run (``dbt_partitioned``, single-run backfill policy),
- a rerun of the last day only (what the nightly run does for one new day),
- the unpartitioned marts (``dbt_marts``: vocabulary, window, sequences, holdout, dims),
- ``training_shards`` (DuckDB COPY to Parquet + manifest with sha256).

Wall seconds and CPU seconds (this process + dbt subprocesses). Run on an idle machine::

    .venv/bin/python benchmarks/transform_speed.py                        # 30 days x 20k events
    .venv/bin/python benchmarks/transform_speed.py --days 30 --events-per-day 200000
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path


def write_lake(lake: Path, days: int, per_day: int, users: int, items: int, start: date) -> int:
    import duckdb

    con = duckdb.connect()
    for d in range(days):
        day = start + timedelta(days=d)
        folder = lake / "events" / f"date={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        con.execute(f"""
            copy (
              select 'e{d}-' || i as event_id,
                     timestamp '{day.isoformat()}' + to_microseconds(cast(hash(i, {d}) % 86400000000 as bigint)) as ts,
                     'u' || (hash(i, {d}, 'u') % {users}) as user_id,
                     's' || (hash(i, {d}, 's') % {users * 3}) as session_id,
                     case when hash(i, {d}, 't') % 20 = 0 then 'search'
                          when hash(i, {d}, 't') % 20 < 3 then 'add_to_cart'
                          when hash(i, {d}, 't') % 20 = 3 then 'purchase' else 'view' end as event_type,
                     case when hash(i, {d}, 't') % 20 = 0 then null
                          else 'i' || (hash(i, {d}, 'i') % {items}) end as item_id,
                     case when hash(i, {d}, 't') % 20 = 0 then 'poster ' || (i % 50) end as query,
                     'se' as market, cast(null as double) as price,
                     'events/date={day.isoformat()}/part-0.parquet' as source_file, i as source_row
              from range({per_day}) t(i)
            ) to '{folder / f"landed={day.isoformat()}.parquet"}' (format parquet)""")
    return days * per_day


def cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(label: str, fn, rows: list) -> None:
    c0, t0 = cpu(), time.perf_counter()
    result = fn()
    ok = getattr(result, "success", True)
    rows.append((label, time.perf_counter() - t0, cpu() - c0, "ok" if ok else "FAILED"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--events-per-day", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--items", type=int, default=2_000)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="corebrain-txbench-"))
    os.environ["COREBRAIN_HOME"] = str(home)
    try:
        from pipelines.settings import prepare_environment

        paths = prepare_environment()
        start = date(2026, 1, 1)
        t0 = time.perf_counter()
        events = write_lake(paths.lake, args.days, args.events_per_day, args.users, args.items, start)
        lake_s = time.perf_counter() - t0

        import dagster as dg
        from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

        from pipelines.defs.shards import training_shards
        from pipelines.defs.transform import dbt_marts, dbt_partitioned, dbt_resource
        from pipelines.shards import latest_shards_dir, read_manifest

        first, last = start.isoformat(), (start + timedelta(days=args.days - 1)).isoformat()
        resources = {"dbt": dbt_resource()}
        rows: list = []
        with dg.DagsterInstance.ephemeral() as instance:
            def part(a, b):
                tags = {ASSET_PARTITION_RANGE_START_TAG: a, ASSET_PARTITION_RANGE_END_TAG: b}
                return dg.materialize([dbt_partitioned], instance=instance, resources=resources, tags=tags)

            timed(f"backfill {args.days} days, one run", lambda: part(first, last), rows)
            timed("rerun the last day", lambda: part(last, last), rows)
            timed("marts (vocab, window, sequences, holdout, dims)",
                  lambda: dg.materialize([dbt_marts], instance=instance, resources=resources), rows)
            timed("training_shards (4 shards)",
                  lambda: dg.materialize([training_shards], instance=instance), rows)
        manifest = read_manifest(latest_shards_dir(paths))
        counts = {f["role"]: 0 for f in manifest["files"]}
        for f in manifest["files"]:
            counts[f["role"]] += f["rows"]
    finally:
        shutil.rmtree(home, ignore_errors=True)

    print(f"\nlake: {events:,} events over {args.days} days, {args.users:,} users, {args.items:,} items "
          f"(written in {lake_s:.1f} s); shards: {counts}; load average {os.getloadavg()[0]:.1f}\n")
    print("| step | wall s | cpu s | status |")
    print("|---|---:|---:|---|")
    for label, wall, cpu_s, status in rows:
        print(f"| {label} | {wall:.1f} | {cpu_s:.1f} | {status} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
