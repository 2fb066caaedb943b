"""Raw landing files to training shards: the real pipeline beside a bare DuckDB floor, in one run.

    .venv/bin/python benchmarks/pipeline_throughput.py                      # about 1M events
    .venv/bin/python benchmarks/pipeline_throughput.py --events 10000000    # about 10M events

1. ``simulate_shop`` writes ~``--events`` events over ``--days`` days into a tmp ``COREBRAIN_HOME``
   (not timed as pipeline work; reported apart).
2. A child process runs ONE in-process Dagster run (``dg.materialize``) of ``raw_events`` +
   ``dbt_partitioned`` (staging -> fct_events) + ``dbt_marts`` (vocab, window, sequences, holdout,
   dims, quarantine) + ``training_shards`` over the whole partition range, with their asset checks
   (dbt tests, the shards manifest check): the assets the ``nightly`` job runs. Each stage's time is
   Dagster's own step duration; each dbt model's time is the ``Execution Duration`` dagster-dbt reports.
3. Before and after it, a child process runs ``benchmarks/bare_duckdb.sql``: the same work from the
   same landing files in plain DuckDB SQL on one connection (its own ingest: the contract's checks,
   first copy wins, lake Parquet; then the chain; then the shards), with the dbt profile's threads
   and memory limit: the floor. The end-to-end ratio is the pipeline run's wall time over the mean of
   the two floor runs. Row counts of both warehouses are compared, so the floor is known to do the
   same work.

Peak memory is ``ru_maxrss`` of each child (Python: Dagster + ingest + DuckDB in process) and of its
own children (the dbt CLI processes dagster-dbt starts). Prints a markdown table and writes
``benchmarks/results/pipeline_throughput_<N>.json``. Machines here are shared: compare the pipeline
with the floor of the same run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BARE_SQL = Path(__file__).with_name("bare_duckdb.sql")
RESULTS = Path(__file__).with_name("results")
EVENTS_PER_USER_DAY = 1.34  # measured on the simulator with 5,000 items (benchmarks/simulate_speed.py)
STAGES = ("raw_events", "dbt_partitioned", "dbt_marts", "training_shards")
CHAIN = ("stg_events", "fct_events", "item_vocab", "int_training_window", "training_window", "int_window_events",
         "user_sequences", "holdout")
COUNT_SQL = {
    "fct_events": "select count(*) from fct_events",
    "item_vocab": "select count(*) from item_vocab",
    "user_sequences": "select count(*) from user_sequences",
    "sequence_events": "select coalesce(sum(len(item_idx)), 0) from user_sequences",
    "holdout": "select count(*) from holdout",
    # the holdout's optional columns too, so the floor is known to compute them as well
    "holdout_target_query": "select count(target_query) from holdout",
    "holdout_target_new_item": "select count(target_new_item_idx) from holdout",
    "holdout_market": "select count(market) from holdout",
}
ENV_DERIVED_FROM_HOME = ("DAGSTER_HOME", "MLFLOW_TRACKING_URI", "COREBRAIN_LAKE", "COREBRAIN_WAREHOUSE",
                         "COREBRAIN_DAGSTER_HOME", "COREBRAIN_MLFLOW_TRACKING_URI")
RESULT_PREFIX = "BENCH-RESULT "


# ---------------------------------------------------------------- pure helpers

def users_for(events: int, days: int) -> int:
    """Simulated users that give about ``events`` events over ``days`` days."""
    return max(1, round(events / (EVENTS_PER_USER_DAY * days)))


def peak_rss_mb() -> dict[str, float]:
    """High-water RSS of this process and of its largest waited-for descendant, in MB (Linux: KB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"python_mb": round(own, 1), "subprocess_mb": round(children, 1)}


def bare_statements(sql: str, landing: Path, floor_lake: Path, window_days: int,
                    holdout_days: int) -> list[tuple[str, str]]:
    """``[(step label, statement)]`` of bare_duckdb.sql with its placeholders filled."""
    from pipelines.ingest.contract import IngestSettings

    filled = (sql.replace("{landing}", str(landing).replace("'", "''"))
              .replace("{floor_lake}", str(floor_lake).replace("'", "''"))
              .replace("{floor_shards}", str(floor_lake.parent / "floor_shards").replace("'", "''"))
              .replace("{ts_floor}", IngestSettings.from_env().ts_floor.isoformat(sep=" "))
              .replace("{window_days_minus_1}", str(window_days - 1))
              .replace("{holdout_days_minus_1}", str(holdout_days - 1)))
    steps = []
    for chunk in re.split(r"^-- step: ", filled, flags=re.M)[1:]:
        label, _, body = chunk.partition("\n")
        steps.append((label.strip(), body.strip().rstrip(";")))
    return steps


def git_state() -> dict:
    """The commit and the uncommitted files under dbt_project/ and pipelines/: what was measured."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return ""
    dirty = [line[3:] for line in git("status", "--porcelain", "--", "dbt_project/models", "dbt_project/macros",
                                      "dbt_project/profiles.yml", "pipelines").splitlines()]
    return {"sha": git("rev-parse", "HEAD").strip() or "unknown", "uncommitted": dirty}


def rate(events: int, seconds: float | None) -> float | None:
    return round(events / seconds) if seconds else None


def dir_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6, 1)


def child_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_DERIVED_FROM_HOME}
    env.update({"COREBRAIN_HOME": str(home), "PYTHONPATH": str(REPO), "MLFLOW_DISABLE_TELEMETRY": "true"})
    env.update(extra or {})
    return env


def run_child(args: list[str], home: Path, extra_env: dict[str, str] | None = None) -> dict:
    """Run this script in a child mode in a fresh process; its last BENCH-RESULT line is the answer."""
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], cwd=REPO,
                          env=child_env(home, extra_env), capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child {args[:2]} failed (rc {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len(RESULT_PREFIX):])


# ---------------------------------------------------------------- child: the real pipeline

def _step_durations(result) -> dict[str, float]:
    import dagster as dg

    return {ev.step_key: round(ev.event_specific_data.duration_ms / 1000, 3) for ev in result.all_events
            if ev.event_type == dg.DagsterEventType.STEP_SUCCESS}


def _dbt_durations(result) -> dict[str, float]:
    """Per dbt model (materialisations) and per dbt test (asset check evaluations), in seconds."""
    import dagster as dg

    out: dict[str, float] = {}
    for ev in result.all_events:
        if ev.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            mat = ev.event_specific_data.materialization
            name, metadata = mat.asset_key.to_user_string(), mat.metadata
        elif ev.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            check = ev.event_specific_data
            name, metadata = f"test {check.asset_key.to_user_string()}.{check.check_name}", check.metadata
        else:
            continue
        value = metadata.get("Execution Duration")
        if value is not None:
            out[name] = round(float(getattr(value, "value", value)), 3)
    return out


def _ingest_rows(result) -> dict[str, int]:
    for ev in result.all_events:
        if ev.event_type.value == "ASSET_MATERIALIZATION":
            mat = ev.event_specific_data.materialization
            if mat.asset_key.to_user_string() == "raw_events" and "rows_read" in mat.metadata:
                return {k: int(mat.metadata[k].value) for k in ("rows_read", "accepted", "quarantined")}
    return {}


def child_pipeline(first: str, last: str, window_days: int, shards: bool) -> dict:
    """One Dagster run of ingest + dbt (+ shards) over first..last in this process's COREBRAIN_HOME."""
    from pipelines.settings import prepare_environment

    paths = prepare_environment()
    import dagster as dg
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from pipelines.defs.ingest import raw_events
    from pipelines.defs.shards import training_shards
    from pipelines.defs.transform import dbt_marts, dbt_partitioned, dbt_resource

    assets = [raw_events, dbt_partitioned, dbt_marts] + ([training_shards] if shards else [])
    config = {"ops": {"dbt_marts": {"config": {"window_days": window_days}}}}
    instance = dg.DagsterInstance.get()
    start = time.perf_counter()
    result = dg.materialize(assets, instance=instance, resources={"dbt": dbt_resource()}, run_config=config,
                            raise_on_error=False,
                            tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last})
    wall = time.perf_counter() - start
    failed = [ev.step_key for ev in result.all_events if ev.event_type == dg.DagsterEventType.STEP_FAILURE]
    checks_failed = [f"{ev.event_specific_data.asset_key.to_user_string()}.{ev.event_specific_data.check_name}"
                     for ev in result.all_events
                     if ev.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
                     and not ev.event_specific_data.passed]
    instance.dispose()
    return {"success": result.success, "failed_steps": failed, "failed_checks": checks_failed,
            "wall_s": round(wall, 3), "steps_s": _step_durations(result), "dbt_s": _dbt_durations(result),
            "ingest": _ingest_rows(result), "counts": warehouse_counts(paths.warehouse),
            "peak_rss": peak_rss_mb()}


def warehouse_counts(warehouse: Path) -> dict[str, int | None]:
    import duckdb

    out: dict[str, int | None] = {}
    if not warehouse.exists():
        return dict.fromkeys(COUNT_SQL)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for name, sql in COUNT_SQL.items():
            try:
                out[name] = int(con.sql(sql).fetchall()[0][0])
            except duckdb.Error:
                out[name] = None
    return out


# ---------------------------------------------------------------- child: the bare DuckDB floor

def child_bare(window_days: int, holdout_days: int) -> dict:
    """bare_duckdb.sql on one connection, with the dbt profile's DuckDB settings."""
    import duckdb

    from pipelines.settings import current_paths

    paths = current_paths()
    target = paths.home / "bare.duckdb"
    target.unlink(missing_ok=True)
    floor_lake = paths.home / "floor_lake"
    for folder in (floor_lake, paths.home / "floor_shards"):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    steps = bare_statements(BARE_SQL.read_text(), paths.landing, floor_lake, window_days, holdout_days)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    con = duckdb.connect(str(target))
    try:
        con.execute(f"SET threads = {int(os.environ.get('COREBRAIN_DUCKDB_THREADS', '2'))}")
        con.execute(f"SET memory_limit = '{os.environ.get('COREBRAIN_DUCKDB_MEMORY', '2GB')}'")
        con.execute("SET preserve_insertion_order = true")
        con.execute("SET TimeZone = 'UTC'")
        for label, statement in steps:
            t0 = time.perf_counter()
            con.execute(statement)
            timings[label] = round(time.perf_counter() - t0, 3)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    wall = time.perf_counter() - start
    return {"wall_s": round(wall, 3), "steps_s": timings, "counts": warehouse_counts(target),
            "peak_rss": peak_rss_mb()}


# ---------------------------------------------------------------- the benchmark

def simulate(home: Path, events: int, days: int, items: int, seed: int, start: date, fmt: str) -> dict:
    from pipelines.settings import CorebrainPaths
    from pipelines.simulate import simulate_shop

    CorebrainPaths(home).ensure()
    summary = simulate_shop(home, days, users=users_for(events, days), items=items, seed=seed,
                            start_date=start, fmt=fmt, write_truth=False)
    return {"events": summary.events, "users": summary.users, "items": items, "days": days,
            "format": fmt, "seconds": round(summary.seconds, 2), "landing_mb": dir_mb(home / "landing")}


def floor_split(bare: dict) -> dict[str, float]:
    """A floor run's seconds: its ingest steps (``ingest_*``), the rest (chain + shards), its wall time."""
    steps = bare["steps_s"]
    ingest = sum(v for k, v in steps.items() if k.startswith("ingest_"))
    return {"ingest": round(ingest, 3), "chain": round(sum(steps.values()) - ingest, 3), "wall": bare["wall_s"]}


def summarise(sim: dict, pipe: dict, floors: list[dict]) -> dict:
    """Events/s per stage and end to end; the floor is the mean of its runs (before and after the
    pipeline, so that a load change during the run shows as a spread rather than a bias)."""
    n = pipe["ingest"].get("accepted") or sim["events"]
    steps = pipe["steps_s"]
    dbt_s = (steps.get("dbt_partitioned") or 0) + (steps.get("dbt_marts") or 0)
    ingest_dbt = (steps.get("raw_events") or 0) + dbt_s + (steps.get("training_shards") or 0)
    chain_models = {m: pipe["dbt_s"].get(m) for m in CHAIN}
    chain_s = sum(v for v in chain_models.values() if v)
    splits = [floor_split(b) for b in floors]
    floor = {k: round(sum(s[k] for s in splits) / len(splits), 3) for k in ("ingest", "chain", "wall")}

    def over(x: float | None, y: float) -> float | None:
        return round(x / y, 2) if x and y else None
    return {
        "events": n,
        "stages": {
            "ingest (raw_events)": {"seconds": steps.get("raw_events"), "events_per_s": rate(n, steps.get("raw_events"))},
            "dbt staging + fct_events (dbt_partitioned)": {"seconds": steps.get("dbt_partitioned"),
                                                           "events_per_s": rate(n, steps.get("dbt_partitioned"))},
            "dbt marts (dbt_marts)": {"seconds": steps.get("dbt_marts"), "events_per_s": rate(n, steps.get("dbt_marts"))},
            "training shards (training_shards)": {"seconds": steps.get("training_shards"),
                                                  "events_per_s": rate(n, steps.get("training_shards"))},
            "ingest + dbt + shards (sum of steps)": {"seconds": round(ingest_dbt, 3), "events_per_s": rate(n, ingest_dbt)},
            "whole Dagster run (wall)": {"seconds": pipe["wall_s"], "events_per_s": rate(n, pipe["wall_s"])},
            "dbt chain models only (sum of model times)": {"seconds": round(chain_s, 3), "events_per_s": rate(n, chain_s)},
            "bare DuckDB floor: ingest steps": {"seconds": floor["ingest"], "events_per_s": rate(n, floor["ingest"])},
            "bare DuckDB floor: chain + shards steps": {"seconds": floor["chain"], "events_per_s": rate(n, floor["chain"])},
            "bare DuckDB floor: raw files to shards (wall)": {"seconds": floor["wall"],
                                                            "events_per_s": rate(n, floor["wall"])},
        },
        "floor_runs_wall_s": [s["wall"] for s in splits],
        "end_to_end_over_floor": over(pipe["wall_s"], floor["wall"]),
        "ingest_over_floor_ingest": over(steps.get("raw_events"), floor["ingest"]),
        "dbt_over_floor_chain": over(dbt_s, floor["chain"]),
        "chain_models_over_floor_chain": over(chain_s, floor["chain"]),
        "counts_match": all(pipe["counts"] == b["counts"] for b in floors),
    }


def markdown(result: dict) -> str:
    s, sim = result["summary"], result["simulation"]
    pipe, bare = result["pipeline"], result["bare_duckdb"][-1]
    lines = [f"{s['events']:,} events ({sim['users']:,} users, {sim['items']:,} items, {sim['days']} days, "
             f"{sim['format']} landing files, {sim['landing_mb']} MB; lake {result['lake_mb']} MB)",
             "", "| stage | seconds | events/s |", "|---|---:|---:|"]
    for name, row in s["stages"].items():
        secs = f"{row['seconds']:.1f}" if row["seconds"] is not None else "-"
        ev = f"{row['events_per_s']:,}" if row["events_per_s"] is not None else "-"
        lines.append(f"| {name} | {secs} | {ev} |")
    runs = " and ".join(f"{w:.1f} s" for w in s["floor_runs_wall_s"])
    lines += ["", f"end to end (the whole run's wall time) / floor (raw files to shards; runs before and after the "
              f"pipeline: {runs}): **{s['end_to_end_over_floor']}x**",
              f"ingest / the floor's ingest steps: {s['ingest_over_floor_ingest']}x; dbt (both assets) / the floor's "
              f"chain: {s['dbt_over_floor_chain']}x; dbt chain models / the floor's chain: "
              f"{s['chain_models_over_floor_chain']}x; warehouse counts equal to the floor's: {s['counts_match']}",
              f"peak RSS: pipeline Python {pipe['peak_rss']['python_mb']:,.0f} MB, dbt subprocess "
              f"{pipe['peak_rss']['subprocess_mb']:,.0f} MB; bare DuckDB {bare['peak_rss']['python_mb']:,.0f} MB",
              "", "| dbt model / floor step | dbt s | floor s |", "|---|---:|---:|"]
    floor = bare["steps_s"]
    for step in [k for k in floor if k.startswith("ingest_")]:
        lines.append(f"| (raw_events) / {step} | - | {floor[step]} |")
    for model in CHAIN:
        f = floor.get(model) if model != "stg_events" else None
        d = pipe["dbt_s"].get(model)
        lines.append(f"| {model} | {d if d is not None else '-'} | {f if f is not None else '-'} |")
    others = {k: v for k, v in pipe["dbt_s"].items() if k not in CHAIN}
    lines.append(f"| other dbt models and tests ({len(others)}) | {round(sum(others.values()), 2)} | - |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="about this many simulated events")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--start", default="2026-01-01")
    parser.add_argument("--format", default="parquet", help="landing format: parquet, jsonl, csv or mixed")
    parser.add_argument("--home", help="keep the installation here (default: a tmp folder, deleted)")
    parser.add_argument("--out", help="JSON path (default benchmarks/results/pipeline_throughput_<N>.json)")
    parser.add_argument("--child", choices=("pipeline", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--first", help=argparse.SUPPRESS)
    parser.add_argument("--last", help=argparse.SUPPRESS)
    parser.add_argument("--window-days", type=int, default=30, help=argparse.SUPPRESS)
    parser.add_argument("--shards", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "pipeline":
        print(RESULT_PREFIX + json.dumps(child_pipeline(args.first, args.last, args.window_days, args.shards)))
        return
    if args.child == "bare":
        print(RESULT_PREFIX + json.dumps(child_bare(args.window_days, 1)))
        return

    start = date.fromisoformat(args.start)
    last = start + timedelta(days=args.days - 1)
    home = Path(args.home).resolve() if args.home else Path(tempfile.mkdtemp(prefix="corebrain-pipebench-"))
    git_at_start = git_state()
    try:
        print(f"simulating about {args.events:,} events into {home} ...", flush=True)
        sim = simulate(home, args.events, args.days, args.items, args.seed, start, args.format)
        print(f"  {sim['events']:,} events in {sim['seconds']} s; running the bare DuckDB floor ...", flush=True)
        floors = [run_child(["--child", "bare", "--window-days", str(args.days)], home)]
        print(f"  floor: {floors[0]['wall_s']} s; running the pipeline ...", flush=True)
        pipe = run_child(["--child", "pipeline", "--first", start.isoformat(), "--last", last.isoformat(),
                          "--window-days", str(args.days), "--shards"], home)
        print(f"  pipeline: success {pipe['success']}, {pipe['wall_s']} s; running the floor again ...", flush=True)
        floors.append(run_child(["--child", "bare", "--window-days", str(args.days)], home))
        result = {"benchmark": "pipeline_throughput", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "command": " ".join(["benchmarks/pipeline_throughput.py", *sys.argv[1:]]),
                  "machine": {"cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg()}, "git": git_at_start,
                  "simulation": sim, "lake_mb": dir_mb(home / "lake"), "pipeline": pipe, "bare_duckdb": floors,
                  "summary": summarise(sim, pipe, floors)}
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)
    table = markdown(result)
    result["table_markdown"] = table
    out = Path(args.out) if args.out else RESULTS / f"pipeline_throughput_{round(args.events / 1e6, 2):g}M.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(table)
    if not pipe["success"]:
        print(f"PIPELINE RUN FAILED: steps {pipe['failed_steps']}, checks {pipe['failed_checks']}")
    print(f"written {out}")


if __name__ == "__main__":
    main()
