"""Manual alias moves through the real Dagster jobs and a real MLflow registry (SQLite in a tmp home).

The versions here are bare registry entries: these jobs move aliases and audit, they never load a model.
"""

import dagster as dg
import pytest

from pipelines.gate.aliases import CHAMPION, PREVIOUS_CHAMPION, promote, version_for_alias
from pipelines.resources.mlflow_tracking import MlflowTracking

NAME = "corebrain"


@pytest.fixture
def registry(corebrain_home):
    tracking = MlflowTracking()
    tracking.activate()
    client = tracking.client()
    client.create_registered_model(NAME)
    for _ in range(3):
        client.create_model_version(NAME, source=corebrain_home.home.as_uri())
    promote(client, NAME, "1")
    promote(client, NAME, "2")
    return client


def _run(job_name: str, op: str, config: dict):
    from pipelines.definitions import defs

    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def(job_name).execute_in_process(
            run_config={"ops": {op: {"config": config}}}, instance=instance, raise_on_error=False)
        mats = [e.event_specific_data.materialization for e in result.all_events
                if e.event_type_value == "ASSET_MATERIALIZATION"]
        return result, mats


def test_rollback_swaps_champion_and_previous_and_audits(registry):
    result, mats = _run("rollback", "rollback_champion", {"reason": "bad recs in DE", "requested_by": "ana"})
    assert result.success
    assert str(version_for_alias(registry, NAME, CHAMPION).version) == "1"
    assert str(version_for_alias(registry, NAME, PREVIOUS_CHAMPION).version) == "2"
    tags = registry.get_model_version(NAME, "1").tags
    assert tags["manual.rollback.reason"] == "bad recs in DE" and tags["manual.rollback.by"] == "ana"
    assert mats and mats[0].asset_key == dg.AssetKey("champion")
    assert mats[0].metadata["champion_after"].value == "1"


def test_promote_a_given_version(registry):
    result, _ = _run("promote", "promote_version", {"version": "3", "reason": "hotfix retrain"})
    assert result.success
    assert str(version_for_alias(registry, NAME, CHAMPION).version) == "3"
    assert str(version_for_alias(registry, NAME, PREVIOUS_CHAMPION).version) == "2"


def test_a_blank_reason_is_refused_and_nothing_moves(registry):
    result, _ = _run("rollback", "rollback_champion", {"reason": "  "})
    assert not result.success
    assert str(version_for_alias(registry, NAME, CHAMPION).version) == "2"


def test_promote_and_rollback_write_audit_rows_with_their_reasons(registry, corebrain_home):
    from pipelines.gate.audit import read_rows

    assert _run("promote", "promote_version", {"version": "3", "reason": "hotfix", "requested_by": "bo"})[0].success
    assert _run("rollback", "rollback_champion", {"reason": "hotfix broke DE", "requested_by": "ana"})[0].success
    rows = read_rows(corebrain_home.lake)
    assert [(r["kind"], r["verdict"], r["candidate_version"], r["incumbent_version"], r["champion_after"],
             r["reason"], r["requested_by"]) for r in rows] == [
        ("forced", "forced", "3", "2", "3", "hotfix", "bo"),
        ("rollback", "rollback", "2", "3", "2", "hotfix broke DE", "ana")]
    assert all(r["dagster_run_id"] and r["trigger"] for r in rows)


KILL_DURING_MOVE = """
import dagster as dg
from pipelines.definitions import defs
with dg.DagsterInstance.get() as instance:
    defs.resolve_job_def("promote").execute_in_process(
        run_config={"ops": {"promote_version": {"config": {"version": "3", "reason": "crash test"}}}},
        instance=instance)
"""


def test_kill_9_during_the_alias_move_leaves_a_consistent_state_and_a_rerun_completes_it(registry, corebrain_home,
                                                                                         tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from pipelines.gate.aliases import MARKER_ENV, PAUSE_ENV
    from pipelines.gate.audit import audit_dir, read_rows

    marker = tmp_path / "in-the-move"
    env = dict(os.environ, **{PAUSE_ENV: "120", MARKER_ENV: str(marker)})
    proc = subprocess.Popen([sys.executable, "-c", KILL_DURING_MOVE], env=env,
                            cwd=Path(__file__).resolve().parents[2])
    deadline = time.time() + 240
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert marker.exists(), "the promote job never reached the alias move"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    # between the two moves: champion still on the version that was champion, no audit row, no debris
    assert str(version_for_alias(registry, NAME, CHAMPION).version) == "2"
    assert str(version_for_alias(registry, NAME, PREVIOUS_CHAMPION).version) == "2"
    assert read_rows(corebrain_home.lake) == []
    assert not audit_dir(corebrain_home.lake).exists() or not list(audit_dir(corebrain_home.lake).iterdir())

    # the operator terminates the dead run (frees its pool slot), then reruns
    with dg.DagsterInstance.get() as instance:
        for run in instance.get_runs():
            if run.status == dg.DagsterRunStatus.STARTED:
                instance.report_run_canceled(run)
                instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        result = defs_job("promote").execute_in_process(
            run_config={"ops": {"promote_version": {"config": {"version": "3", "reason": "crash test"}}}},
            instance=instance, raise_on_error=False)
    assert result.success
    assert str(version_for_alias(registry, NAME, CHAMPION).version) == "3"
    assert str(version_for_alias(registry, NAME, PREVIOUS_CHAMPION).version) == "2"
    rows = read_rows(corebrain_home.lake)
    assert [(r["kind"], r["candidate_version"], r["incumbent_version"]) for r in rows] == [("forced", "3", "2")]


def defs_job(name: str):
    from pipelines.definitions import defs

    return defs.resolve_job_def(name)
