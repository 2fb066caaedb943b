"""kill -9 of a real run during dbt's build of ``fct_events``, then the slot it held, then a rerun
(issue 13, item 6).

A run of the dated chain (``raw_events`` -> ``stg_events`` -> ``fct_events``) over a 6-day shop is
started as its own OS process (as ``dagster job execute`` or the daemon's run worker would be) and
its whole process group (the run and its dbt child) is killed with SIGKILL while dbt is inside
``fct_events``'s build: right after its pre-hook has deleted the window's rows and before the insert
(``tests/integration/_pause_sql`` holds the dbt process there, so the kill lands at that point every
time; the SQL that ran is dbt's own).

- Nothing half-written is visible: ``fct_events`` holds, per day, exactly what it held before (the
  model's delete and insert are one DuckDB transaction, rolled back when the file is next opened).
- The dead run still holds pool ``duckdb``'s only slot, so any later warehouse step would wait for
  ever. Marking the run ended (what "Terminate" in the UI records) and one pass of the daemon's real
  slot-freeing code (``run_monitoring.free_slots_after_run_end_seconds`` later) frees it; this is the
  run-slot test with a really killed run instead of a fake one.
- The rerun completes, and ``fct_events`` equals the lake, day by day, without duplicates.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.integration.helpers_state import events_per_day_lake, events_per_day_warehouse

START, DAYS = dt.date(2026, 4, 1), 6
LAST = START + dt.timedelta(days=DAYS - 1)
REPO_ROOT = Path(__file__).resolve().parents[2]


PAUSE_DIR = Path(__file__).resolve().parent / "_pause_sql"
FCT_DELETE = r"delete\s+from\s+\S*fct_events"


def _start_run(log: Path, pause_marker: Path | None = None) -> subprocess.Popen:
    handle = open(log, "w")  # noqa: SIM115 - closed after the process ends
    env = dict(os.environ)
    if pause_marker is not None:
        env.update(COREBRAIN_TEST_PAUSE_SQL=FCT_DELETE, COREBRAIN_TEST_PAUSE_MARKER=str(pause_marker),
                   PYTHONPATH=os.pathsep.join([str(PAUSE_DIR), str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "tests.integration._run_warehouse_process", "--dated",
                             START.isoformat(), LAST.isoformat()], cwd=REPO_ROOT, env=env,
                            stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    proc.log_handle = handle  # type: ignore[attr-defined]
    return proc


def _materialized(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    return {r.dagster_event.asset_key.to_user_string() for r in instance.all_logs(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)}


def _kill_during_fct_events(proc: subprocess.Popen, marker: Path, timeout: float = 400) -> str:
    """Wait until dbt has run fct_events' pre-hook delete, then SIGKILL the process group."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert proc.poll() is None, "the run ended before it reached fct_events"
        assert time.monotonic() < deadline, "the run never reached fct_events"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    with dg.DagsterInstance.get() as instance:
        run_id = instance.get_runs(limit=1)[0].run_id
        assert "fct_events" not in _materialized(instance, run_id)
        assert "stg_events" in _materialized(instance, run_id)
    return run_id


def _fct_rows(warehouse: Path) -> tuple[int, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql("select count(*), count(distinct event_id) from fct_events").fetchall()[0]


@pytest.mark.slow
def test_kill_9_during_fct_events_then_the_slot_then_a_rerun(corebrain_home, tmp_path, monkeypatch):
    from dagster._daemon.monitoring import concurrency as slots_daemon
    from dagster._time import get_current_datetime

    from pipelines.simulate import simulate_shop

    simulate_shop(corebrain_home.home, days=DAYS, users=150, items=80, seed=5, start_date=START)
    dg.DagsterInstance.get().dispose()        # create the instance's storage once, before the runs
    first = _start_run(tmp_path / "first.log")
    assert first.wait(timeout=600) == 0, (tmp_path / "first.log").read_text()[-3000:]
    before = events_per_day_warehouse(corebrain_home.warehouse)
    assert sorted(before) == [(START + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]

    marker = tmp_path / "paused"
    killed = _start_run(tmp_path / "killed.log", pause_marker=marker)
    run_id = _kill_during_fct_events(killed, marker)
    assert "fct_events" in marker.read_text()
    killed.log_handle.close()  # type: ignore[attr-defined]
    assert killed.returncode == -signal.SIGKILL

    # nothing half-written: the day rows fct_events held before, no duplicates
    assert events_per_day_warehouse(corebrain_home.warehouse) == before
    rows, distinct = _fct_rows(corebrain_home.warehouse)
    assert rows == distinct == sum(before.values())

    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        held = storage.get_concurrency_info("duckdb")
        assert [s.run_id for s in held.claimed_slots] == [run_id]          # the dead run keeps the slot
        assert not storage.claim_concurrency_slot("duckdb", "probe", "probe").is_claimed
        storage.free_concurrency_slot_for_step("probe", "probe")
        instance.report_run_canceled(instance.get_run_by_id(run_id))       # what "Terminate" records
        delay = instance.run_monitoring_settings["free_slots_after_run_end_seconds"]
        later = get_current_datetime() + dt.timedelta(seconds=delay + 60)
        monkeypatch.setattr(slots_daemon, "get_current_datetime", lambda: later)
        list(slots_daemon.execute_concurrency_slots_iteration(
            _DaemonContext(instance),
            logging.getLogger(__name__)))
        assert storage.get_concurrency_info("duckdb").claimed_slots == []

    rerun = _start_run(tmp_path / "rerun.log")
    assert rerun.wait(timeout=600) == 0, (tmp_path / "rerun.log").read_text()[-3000:]
    rerun.log_handle.close()  # type: ignore[attr-defined]
    lake = events_per_day_lake(corebrain_home.lake_events)
    assert events_per_day_warehouse(corebrain_home.warehouse) == lake == before
    rows, distinct = _fct_rows(corebrain_home.warehouse)
    assert rows == distinct == sum(lake.values())


class _DaemonContext:
    """What the daemon hands its iteration: only ``.instance`` is read."""

    def __init__(self, instance: dg.DagsterInstance):
        self.instance = instance
