"""``corebrain demo``: the whole product on a laptop in a few minutes.

Simulates the sample shop, runs the ``nightly`` job over the first days as ONE backfill run (the
same job the schedule runs, over a partition range), then two more nightly cycles each with a new
day of data, so that the gate decides three times. Runs go through the real Dagster instance under
``$COREBRAIN_HOME/dagster_home``, so they appear in ``make ui`` afterwards.
"""

from __future__ import annotations

import datetime as dt
import time

from pipelines.settings import REGISTERED_MODEL_NAME, prepare_environment


def demo_dates(days: int, extra_cycles: int, today: dt.date) -> tuple[dt.date, dt.date, list[dt.date]]:
    """(first day, last day of the initial range, the extra nightly days); the last one is yesterday."""
    if days < 2:
        raise ValueError("the demo needs at least 2 days of data (a training window and a holdout)")
    last_nightly = today - dt.timedelta(days=1)
    extra = [last_nightly - dt.timedelta(days=i) for i in reversed(range(extra_cycles))]
    initial_end = last_nightly - dt.timedelta(days=extra_cycles)
    start = initial_end - dt.timedelta(days=days - 1)
    return start, initial_end, extra


def _run_nightly(defs, instance, first: dt.date, last: dt.date, colour_by: str = "") -> dict:
    job = defs.resolve_job_def("nightly")
    tags = ({} if first == last else {"dagster/asset_partition_range_start": first.isoformat(),
                                       "dagster/asset_partition_range_end": last.isoformat()})
    started = time.perf_counter()
    result = job.execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}},
                    **({"ops": {"consumer_pictures": {"config": {"colour_by": colour_by}}}} if colour_by else {})},
        instance=instance,
        partition_key=first.isoformat() if first == last else None,
        tags=tags,
        raise_on_error=False,
    )
    seconds = time.perf_counter() - started
    gate = _gate_metadata(result)
    # a rejection is a decision, not a breakage: the run stops at the blocking gate check on purpose
    rejected = gate.get("decision") == "fail" and _only_the_gate_failed(result)
    return {"run_id": result.run_id, "success": result.success or rejected, "seconds": seconds, "gate": gate}


def _gate_metadata(result) -> dict:
    """The gate check's verdict on this run's challenger (``passes_gate`` on ``core_model``)."""
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION" and event.event_specific_data.check_name == "passes_gate":
            return {key: getattr(value, "value", value) for key, value in event.event_specific_data.metadata.items()}
    return {}


def _only_the_gate_failed(result) -> bool:
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return failed == ["core_model_passes_gate"]


def _print_cycle(label: str, cycle: dict) -> None:
    gate = cycle["gate"]
    status = "ok" if cycle["success"] else "FAILED"
    print(f"\n== {label}: run {cycle['run_id'][:8]} {status} in {cycle['seconds']:.0f} s")
    if not gate:
        print("   (no gate decision recorded; see the run in the Dagster UI)")
        return
    print(f"   challenger v{gate.get('candidate_version')} vs champion v{gate.get('incumbent_version')}: "
          f"{gate.get('decision')} (audit row {str(gate.get('audit_id'))[:8]}, rules {str(gate.get('rules_sha256'))[:8]})")
    if gate.get("notes") and gate.get("notes") != "none":
        print(f"     {gate['notes']}")
    for line in str(gate.get("decision_table", "")).splitlines():
        print(f"     {line}")


def run_demo(days: int = 30, users: int = 600, items: int = 300, seed: int = 7,
             extra_cycles: int = 2, today: dt.date | None = None) -> int:
    paths = prepare_environment()
    today = today or dt.datetime.now(dt.UTC).date()
    start, initial_end, extra = demo_dates(days, extra_cycles, today)

    from pipelines.simulate import simulate_shop

    print(f"corebrain demo in {paths.home}")
    print(f"simulating the poster shop: {users} users, {items} items, {start} .. {extra[-1] if extra else initial_end}")
    sim = simulate_shop(paths.home, days=days + extra_cycles, users=users, items=items, seed=seed,
                        start_date=start)
    print(f"   {sim}")

    import dagster as dg

    from pipelines.definitions import defs

    # the item map coloured by the sample shop's truth palette (what its users follow)
    colour_by = f"{paths.home / 'truth' / 'items.parquet'}:palette"
    wall = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        cycles = [("backfill " + f"{start} .. {initial_end} (one run)",
                   _run_nightly(defs, instance, start, initial_end, colour_by))]
        for day in extra:
            cycles.append((f"nightly {day}", _run_nightly(defs, instance, day, day, colour_by)))
        audience = _run_audience(defs, instance)
    for label, cycle in cycles:
        _print_cycle(label, cycle)

    ok = all(cycle["success"] for _, cycle in cycles)
    print(f"\npipeline wall time: {time.perf_counter() - wall:.0f} s")
    _print_champion(paths)
    _print_readouts(paths)
    _print_consumers(paths, audience)
    return 0 if ok else 1


AUDIENCE_TAG = "blue"    # a palette tag of the sample shop's catalogue


def _run_audience(defs, instance) -> bool:
    """The `audiences` job for one tag, as marketing would launch it."""
    result = defs.resolve_job_def("audiences").execute_in_process(
        instance=instance, raise_on_error=False,
        run_config={"ops": {"audience_users": {"config": {"tag": AUDIENCE_TAG, "top_n": 50}}}})
    return result.success


def _print_consumers(paths, audience_ok: bool = True) -> None:
    from pipelines.consumers.summary import audience_lines, quality_lines, summary_lines
    from pipelines.defs.pictures import pictures_dir

    print("\nconsumer tables (docs/consumers.md), each from one champion version:")
    for line in summary_lines(paths.lake) + audience_lines(paths.lake):
        print(f"   {line}")
    if not audience_ok:
        print(f"   (the audiences job for tag {AUDIENCE_TAG!r} failed: see its run in the Dagster UI)")
    print("\ntheir quality beside a baseline on the sample shop's truth:")
    for line in quality_lines(paths.lake, paths.home / "truth" / "items.parquet"):
        print(f"   {line}")
    folder = pictures_dir(paths.lake)
    pngs = sorted(p.name for p in folder.glob("*.png")) if folder.is_dir() else []
    print(f"\npictures: {folder} ({', '.join(pngs) or 'none yet'}); also MLflow artifacts `pictures/` of the "
          "champion's run, and on the asset pages `champion` and `consumer_pictures` in the Dagster UI (make ui)")


def _print_readouts(paths) -> None:
    """One line per task: the champion's read-out beside its baseline on the sample shop's truth."""
    import json
    from pathlib import Path

    import mlflow
    import mlflow.pyfunc

    from pipelines.gate.aliases import CHAMPION, version_for_alias
    from pipelines.quality import score_readouts, task_lines

    client = mlflow.MlflowClient(paths.mlflow_tracking_uri)
    champion = version_for_alias(client, REGISTERED_MODEL_NAME, CHAMPION)
    shards = Path(champion.tags.get("shards_dir", "")) if champion is not None else None
    if champion is None or not shards or not (shards / "manifest.json").exists() or not (paths.home / "truth").exists():
        print("\n(read-outs not scored: no champion, shards or simulator truth)")
        return
    cutoff = dt.date.fromisoformat(json.loads((shards / "manifest.json").read_text())["window"]["holdout_cutoff"][:10])
    reader = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL_NAME}@{CHAMPION}").unwrap_python_model().reader
    started = time.perf_counter()
    result = score_readouts(reader, shards, paths.home, cutoff)
    print(f"\nthe champion's read-outs beside their baselines on the shop's truth ({time.perf_counter() - started:.0f} s;"
          " benchmarks/tasks.py for the full table):")
    for line in task_lines(result):
        print(f"   {line}")


def _print_champion(paths) -> None:
    import mlflow
    import mlflow.pyfunc
    import pandas as pd

    from pipelines.gate.aliases import CHAMPION, version_for_alias

    client = mlflow.MlflowClient(paths.mlflow_tracking_uri)
    champion = version_for_alias(client, REGISTERED_MODEL_NAME, CHAMPION)
    if champion is None:
        print("no champion: every challenger failed the gate (see the reasons above)")
        return
    tags = champion.tags
    print(f"\nchampion: {REGISTERED_MODEL_NAME} version {champion.version} (MLflow run {champion.run_id[:8]}, "
          f"window {tags.get('window_start')} .. {tags.get('window_end')}, gate {tags.get('gate.decision')}, "
          f"audit row {tags.get('gate.audit_id', '')[:8]}; every decision: "
          f"duckdb {paths.home / 'audit.duckdb'} 'select * from promotions')")
    history = _sample_history(paths)
    if history:
        model = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL_NAME}@{CHAMPION}")
        top = model.predict(pd.DataFrame({"history": [history]}), params={"k": 10})["items"][0]
        print(f"sample recommendation for a history ending {history[-5:]}:\n   {list(top)}")
    print("\nsee it all in the UIs: make ui (Dagster runs, asset metadata; MLflow runs, versions, aliases)")


def _sample_history(paths) -> list[str]:
    import pyarrow.parquet as pq

    from pipelines.shards import latest_shards_dir

    shards = latest_shards_dir(paths)
    if shards is None or not (shards / "holdout.parquet").exists():
        return []
    table = pq.read_table(shards / "holdout.parquet", columns=["item_idx"]).slice(0, 1).to_pylist()
    items = pq.read_table(shards / "items.parquet").to_pylist()
    names = {row["item_idx"]: row["item_id"] for row in items}
    return [names[i] for i in table[0]["item_idx"] if i in names] if table else []
