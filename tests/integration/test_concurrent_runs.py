"""A backfill and the nightly day at the same time, in two OS processes on one instance (issue 4, item 3).

Both must succeed (no "Could not set lock on file" from DuckDB) and every day must be in
``fct_events`` with the lake's row count. What makes it safe: every step that opens the warehouse
(the dbt assets, ``training_shards``, the erasure's warehouse op) is in Dagster pool ``duckdb``, and
``$DAGSTER_HOME/dagster.yaml`` sets ``concurrency: pools: default_limit: 1``; the executor (in-process
and multiprocess alike) claims the pool's one slot in the instance's storage before it starts such a
step, so the other run's warehouse step waits instead of failing.

The two-process test runs the dated chain (``raw_events`` -> ``fct_events``: the partitions that could
be lost) to stay within a couple of minutes; the fast tests pin that every other warehouse step is in
the same pool and that the instance enforces it. The slow test also checks that the two runs really
overlapped and their warehouse steps never did, so it fails if the pool limit goes away (verified
once with a dagster.yaml without ``concurrency``: the second dbt failed on the DuckDB lock).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from tests.integration.helpers_state import events_per_day_lake, events_per_day_warehouse

START, DAYS = dt.date(2026, 4, 1), 6
LAST = START + dt.timedelta(days=DAYS - 1)
WAREHOUSE_STEPS = {"dbt_partitioned"}  # the step of the dated chain in pool "duckdb"
REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK_ERROR = "Could not set lock"


def _start(args: list[str], log: Path) -> subprocess.Popen:
    handle = open(log, "w")  # noqa: SIM115 - closed with the process below
    proc = subprocess.Popen([sys.executable, "-m", "tests.integration._run_warehouse_process", *args],
                            cwd=REPO_ROOT, env=dict(os.environ), stdout=handle, stderr=subprocess.STDOUT)
    proc.log_handle = handle  # type: ignore[attr-defined]
    return proc


def _finish(proc: subprocess.Popen, log: Path) -> tuple[int, str]:
    try:
        code = proc.wait(timeout=600)
    finally:
        proc.log_handle.close()  # type: ignore[attr-defined]
    return code, log.read_text()


def _step_intervals(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
    """{step key: (start, end)} of the run's steps that finished."""
    starts: dict[str, float] = {}
    out: dict[str, tuple[float, float]] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[event.step_key] = record.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            out[event.step_key] = (starts[event.step_key], record.timestamp)
    return out


def _overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


@pytest.mark.slow
def test_a_backfill_and_the_nightly_day_at_once_both_succeed_and_lose_no_partition(corebrain_home, tmp_path):
    from pipelines.simulate import simulate_shop

    simulate_shop(corebrain_home.home, days=DAYS, users=150, items=80, seed=5, start_date=START)
    # an installed instance (the daemon or `dagster dev` has opened it): two processes creating the
    # SQLite storage of a fresh $DAGSTER_HOME at the same instant race ("table runs already exists")
    dg.DagsterInstance.get().dispose()
    backfill = _start(["--dated", START.isoformat(), LAST.isoformat()], tmp_path / "backfill.log")
    nightly = _start(["--dated", LAST.isoformat()], tmp_path / "nightly.log")
    (backfill_code, backfill_log), (nightly_code, nightly_log) = (
        _finish(backfill, tmp_path / "backfill.log"), _finish(nightly, tmp_path / "nightly.log"))

    assert LOCK_ERROR not in backfill_log + nightly_log
    assert backfill_code == 0, backfill_log[-4000:]
    assert nightly_code == 0, nightly_log[-4000:]

    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert len(runs) == 2 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        stats = {r.run_id: instance.get_run_stats(r.run_id) for r in runs}
        first, second = (stats[r.run_id] for r in runs)
        # the two runs were really in flight together, else this test would prove nothing
        assert _overlaps((first.start_time, first.end_time), (second.start_time, second.end_time))
        steps = [_step_intervals(instance, r.run_id) for r in runs]
    for name in WAREHOUSE_STEPS:
        assert name in steps[0] and name in steps[1], (name, steps)
    for a in WAREHOUSE_STEPS:
        for b in WAREHOUSE_STEPS:
            assert not _overlaps(steps[0][a], steps[1][b]), f"{a} and {b} held the warehouse at once"

    lake = events_per_day_lake(corebrain_home.lake_events)
    assert sorted(lake) == [(START + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]
    assert events_per_day_warehouse(corebrain_home.warehouse) == lake


def test_every_step_that_opens_the_warehouse_is_in_pool_duckdb(corebrain_home):
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    transform = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "transform"]
    assert dg.AssetKey("fct_events") in transform and dg.AssetKey("training_shards") in transform
    for key in transform:  # every dbt model and the shards writer
        assert graph.get(key).pools == {"duckdb"}, key
    erase = {node.name: node.pool for node in defs.resolve_job_def("erase_users").graph.node_defs}
    assert erase["erase_user_warehouse"] == "duckdb"
    # ingest never opens the warehouse but has its own pool (cross-day dedupe order)
    assert graph.get(dg.AssetKey("raw_events")).pools == {"ingest"}


def test_the_instance_enforces_one_slot_per_pool_for_every_run(corebrain_home):
    """What prepare_environment writes makes the executor itself claim slots (not only the daemon's
    run queue): SQLite storage supports the slots table, limit 1, op granularity (not "run")."""
    from dagster._core.instance.config import PoolGranularity

    with dg.DagsterInstance.get() as instance:
        assert instance.event_log_storage.supports_global_concurrency_limits
        pools = instance.get_concurrency_config().pool_config
        assert pools.default_pool_limit == 1
        assert pools.pool_granularity != PoolGranularity.RUN


def test_a_slot_left_by_a_killed_run_is_freed_by_the_daemon_once_the_run_has_ended(corebrain_home, monkeypatch):
    """A run killed with -9 keeps its ``duckdb`` slot; once it is marked ended (UI: terminate), the
    daemon's monitoring frees the slot (``run_monitoring.free_slots_after_run_end_seconds``)."""
    from types import SimpleNamespace

    from dagster._daemon.monitoring import concurrency as slots_daemon
    from dagster._time import get_current_datetime

    with dg.DagsterInstance.get() as instance:
        assert instance.run_monitoring_enabled
        delay = instance.run_monitoring_settings["free_slots_after_run_end_seconds"]
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default("duckdb")
        dead = instance.add_run(dg.DagsterRun(job_name="nightly", run_id="deadbeef-run",
                                              status=dg.DagsterRunStatus.STARTED))
        assert storage.claim_concurrency_slot("duckdb", dead.run_id, "dbt_partitioned").is_claimed
        assert not storage.claim_concurrency_slot("duckdb", "other-run", "dbt_partitioned").is_claimed
        storage.free_concurrency_slot_for_step("other-run", "dbt_partitioned")  # drop the pending claim

        instance.report_run_canceled(dead)  # what terminating the dead run in the UI records
        later = get_current_datetime() + dt.timedelta(seconds=delay + 60)
        monkeypatch.setattr(slots_daemon, "get_current_datetime", lambda: later)
        list(slots_daemon.execute_concurrency_slots_iteration(
            SimpleNamespace(instance=instance), logging.getLogger(__name__)))
        assert storage.claim_concurrency_slot("duckdb", "other-run", "dbt_partitioned").is_claimed
