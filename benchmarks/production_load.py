"""Load on the production profile: 10 backfills at once through the daemon plus the nightly job.

    .venv/bin/python benchmarks/production_load.py                       # production, then local
    .venv/bin/python benchmarks/production_load.py --profiles production --backfills 10 --users 150

For each profile, in a fresh tmp ``COREBRAIN_HOME`` (production: Dagster and MLflow databases of its
own on the Postgres at 127.0.0.1:5432, an MLflow tracking server on one with proxied artifacts;
local: SQLite instance and MLflow store under the home), the sample shop is simulated for
``--backfills + 2`` days; ``dagster-daemon run`` starts; then at once the ``nightly`` job runs days
1-2 as one run in its own process (ingest, dbt, shards, retrain, gate, consumers; ``--epochs``) and
``--backfills`` asset backfills of the dated assets (``raw_events`` -> ``fct_events``), one day each
(days 3..), are submitted to the daemon, which runs them as queued runs (``max_concurrent_runs``) whose
warehouse steps queue on pool ``duckdb``.

Reported per profile: runs and how they ended (a gate rejection of the nightly's first model is a
decision, counted apart), lock errors in any run's log (DuckDB's file lock, Postgres, SQLite), days
materialised and whether ``fct_events`` matches the lake day by day (no lost partition), the peak of
runs in flight at once, and wall time from submission until every run ended. The local profile is
the baseline of the same run. Prints a markdown table and writes
``benchmarks/results/production_load.json``; the machine load goes with it (``os.getloadavg``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.helpers_production import (  # noqa: E402
    LOCK_PATTERNS,
    dagster_daemon,
    days,
    lock_errors,
    mlflow_server,
    postgres_databases,
    production_env,
    submit_asset_backfill,
    wait_for_backfills,
)

RESULTS = Path(__file__).with_name("results")
START = dt.date(2026, 7, 1)
NIGHTLY_DAYS = 2
DERIVED = ("DAGSTER_HOME", "MLFLOW_TRACKING_URI", "COREBRAIN_LAKE", "COREBRAIN_WAREHOUSE", "COREBRAIN_DAGSTER_HOME",
           "COREBRAIN_MLFLOW_TRACKING_URI", "COREBRAIN_DAGSTER_PG_URL", "COREBRAIN_PROFILE")


def peak_in_flight(intervals: list[tuple[float, float]]) -> int:
    """The most intervals that overlap at one instant (pure)."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def _environment(profile: str, home: Path, stack: contextlib.ExitStack, work: Path, max_runs: int) -> dict[str, str]:
    if profile == "local":
        return {"COREBRAIN_PROFILE": "local", "COREBRAIN_HOME": str(home)}
    dbs = stack.enter_context(postgres_databases("dagster", "mlflow"))
    url = stack.enter_context(mlflow_server(dbs["mlflow"], work / "artifacts", work / "mlflow.log"))
    return production_env(home, dbs["dagster"], url, max_runs=max_runs)


def run_profile(profile: str, args: argparse.Namespace, work: Path) -> dict:
    import dagster as dg

    work.mkdir(parents=True)
    home = work / "corebrain"
    all_days = days(START, NIGHTLY_DAYS + args.backfills)
    with contextlib.ExitStack() as stack:
        env = _environment(profile, home, stack, work, max_runs=args.backfills + 1)
        for var in DERIVED:
            os.environ.pop(var, None)
        os.environ.update(env)
        from pipelines.settings import prepare_environment
        from pipelines.simulate import simulate_shop

        paths = prepare_environment()
        simulate_shop(paths.home, days=len(all_days), users=args.users, items=args.items, seed=5, start_date=START)
        from pipelines.definitions import defs
        from tests.integration.helpers_runs import dated_keys

        dg.DagsterInstance.get().dispose()  # the storage exists before the processes race to create it
        stack.enter_context(dagster_daemon(work / "daemon.log"))
        instance = stack.enter_context(dg.DagsterInstance.get())
        started = time.perf_counter()
        with open(work / "nightly.log", "w") as log:
            nightly = subprocess.Popen(
                [sys.executable, "-m", "tests.integration._run_nightly_process", all_days[0],
                 all_days[NIGHTLY_DAYS - 1], str(args.epochs)],
                cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log, stderr=subprocess.STDOUT)
            backfills = [submit_asset_backfill(instance, defs, dated_keys(defs), [day], f"load {day}")
                         for day in all_days[NIGHTLY_DAYS:]]
            statuses = wait_for_backfills(instance, backfills, timeout_s=args.timeout)
            nightly.wait(timeout=args.timeout)
        wall = time.perf_counter() - started
        return _measure(profile, instance, defs, dated_keys(defs), paths, all_days, backfills, statuses, wall, work)


def _measure(profile, instance, defs, keys, paths, all_days, backfills, statuses, wall, work) -> dict:
    import dagster as dg

    from tests.integration.helpers_state import events_per_day_lake, events_per_day_warehouse

    runs = instance.get_runs()
    nightly_log = (work / "nightly.log").read_text()
    ended = {}
    for run in runs:
        failed = [r.dagster_event.step_key for r in instance.all_logs(run.run_id)
                  if r.dagster_event is not None and r.dagster_event.event_type == dg.DagsterEventType.STEP_FAILURE]
        kind = ("success" if run.status == dg.DagsterRunStatus.SUCCESS else
                "gate rejected" if failed == ["core_model_passes_gate"] else f"FAILED {failed}")
        ended[kind] = ended.get(kind, 0) + 1
        if kind.startswith("FAILED"):
            errors = [r.dagster_event.message or "" for r in instance.all_logs(run.run_id)
                      if r.dagster_event is not None and r.dagster_event.is_failure]
            print(f"run {run.run_id[:8]} {run.status.value}: {errors[:2]}", file=sys.stderr)
    stats = [instance.get_run_stats(r.run_id) for r in runs]
    materialised = set.intersection(*(set(instance.get_materialized_partitions(k)) for k in keys))
    logs_with_locks = [p.name for p in work.glob("*.log") if any(pat in p.read_text() for pat in LOCK_PATTERNS)]
    lake = events_per_day_lake(paths.lake_events)
    return {
        "profile": profile, "runs": len(runs), "ended": ended,
        "backfills_succeeded": sum(s.value == "COMPLETED_SUCCESS" for s in statuses.values()),
        "backfills": len(backfills),
        "lock_errors": len(lock_errors(instance, [r.run_id for r in runs])) + len(logs_with_locks),
        "days_materialised": len(materialised & set(all_days)), "days": len(all_days),
        "warehouse_matches_lake": sorted(lake) == all_days and events_per_day_warehouse(paths.warehouse) == lake,
        "peak_runs_in_flight": peak_in_flight([(s.start_time, s.end_time) for s in stats
                                               if s.start_time and s.end_time]),
        "nightly_run": next((line for line in nightly_log.splitlines() if line.startswith("RUN ")), "no RUN line"),
        "wall_s": round(wall, 1),
    }


def table(rows: list[dict]) -> str:
    head = ("| profile | runs | ended | backfills ok | lock errors | days materialised | fct_events = lake "
            "| peak in flight | wall s |\n|---|---|---|---|---|---|---|---|---|")
    lines = [f"| {r['profile']} | {r['runs']} | {', '.join(f'{k} {v}' for k, v in sorted(r['ended'].items()))} "
             f"| {r['backfills_succeeded']}/{r['backfills']} | {r['lock_errors']} | {r['days_materialised']}/{r['days']} "
             f"| {'yes' if r['warehouse_matches_lake'] else 'NO'} | {r['peak_runs_in_flight']} | {r['wall_s']} |"
             for r in rows]
    return "\n".join([head, *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="production,local")
    parser.add_argument("--backfills", type=int, default=10)
    parser.add_argument("--users", type=int, default=120)
    parser.add_argument("--items", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args(argv)
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="corebrain-load-"))
    for profile in args.profiles.split(","):
        load_before = os.getloadavg()
        row = run_profile(profile, args, tmp / profile)
        row["load_before"], row["load_after"] = [round(x, 1) for x in load_before], [
            round(x, 1) for x in os.getloadavg()]
        rows.append(row)
        print("BENCH-ROW " + json.dumps(row), flush=True)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "production_load.json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2) + "\n")
    print(table(rows))
    ok = all(r["lock_errors"] == 0 and r["days_materialised"] == r["days"] and r["warehouse_matches_lake"]
             and r["backfills_succeeded"] == r["backfills"] for r in rows)
    if ok:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept the logs of the failed benchmark in {tmp}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
