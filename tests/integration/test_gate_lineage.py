"""Two full nightly runs started together on one instance never cross (issue 11, item 1).

Each run's ``core_model`` must train on the shards ITS ``training_shards`` step wrote, and its gate
must judge the version ITS ``core_model`` registered, on an evaluation set frozen from those shards,
whatever the other run did meanwhile; training and the gate are in pools (limit 1), so the two
runs' retrains and decisions never overlap. Fails with the old code, which read "the latest
training_shards materialisation" and the ``challenger`` alias.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.settings import REGISTERED_MODEL_NAME
from tests.integration.test_concurrent_runs import _overlaps, _step_intervals

REPO_ROOT = Path(__file__).resolve().parents[2]
START, DAYS = dt.date(2026, 5, 1), 7
LAST = START + dt.timedelta(days=DAYS - 1)


def _start(args: list[str], log: Path) -> subprocess.Popen:
    handle = open(log, "w")  # noqa: SIM115 - closed with the process below
    proc = subprocess.Popen([sys.executable, "-m", "tests.integration._run_nightly_process", *args],
                            cwd=REPO_ROOT, env=dict(os.environ), stdout=handle, stderr=subprocess.STDOUT)
    proc.log_handle = handle  # type: ignore[attr-defined]
    return proc


def _finish(proc: subprocess.Popen, log: Path) -> str:
    try:
        assert proc.wait(timeout=900) == 0, log.read_text()[-4000:]
    finally:
        proc.log_handle.close()  # type: ignore[attr-defined]
    return log.read_text()


def _materialization(instance, run_id: str, key: str) -> dict:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    found = [r.event_log_entry.asset_materialization for r in records
             if r.event_log_entry.asset_materialization.asset_key == dg.AssetKey(key)]
    assert len(found) == 1, (run_id, key, len(found))
    return {k: getattr(v, "value", v) for k, v in found[0].metadata.items()}


def _gate_evaluation(instance, run_id: str) -> dict:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    found = [r.event_log_entry.dagster_event.event_specific_data for r in records]
    found = [e for e in found if e.check_name == "passes_gate"]
    assert len(found) == 1, (run_id, found)
    return {"passed": found[0].passed, **{k: getattr(v, "value", v) for k, v in found[0].metadata.items()}}


@pytest.mark.slow
def test_two_nightly_runs_at_once_each_gate_their_own_model_on_their_own_shards(corebrain_home, tmp_path):
    import mlflow

    from pipelines.gate.audit import read_rows
    from pipelines.simulate import simulate_shop

    simulate_shop(corebrain_home.home, days=DAYS, users=160, items=80, seed=11, start_date=START)
    dg.DagsterInstance.get().dispose()  # create the instance storage once, before two processes race for it
    backfill = _start([START.isoformat(), (LAST - dt.timedelta(days=1)).isoformat()], tmp_path / "a.log")
    nightly = _start([LAST.isoformat()], tmp_path / "b.log")
    logs = [_finish(backfill, tmp_path / "a.log"), _finish(nightly, tmp_path / "b.log")]

    client = mlflow.MlflowClient(corebrain_home.mlflow_tracking_uri)
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert len(runs) == 2, logs
        stats = [instance.get_run_stats(r.run_id) for r in runs]
        assert _overlaps((stats[0].start_time, stats[0].end_time), (stats[1].start_time, stats[1].end_time))
        steps = [_step_intervals(instance, r.run_id) for r in runs]
        seen_versions = set()
        for run in runs:
            shards = _materialization(instance, run.run_id, "training_shards")
            model = _materialization(instance, run.run_id, "core_model")
            gate = _gate_evaluation(instance, run.run_id)
            # the model trained on this run's shards...
            assert model["shards_dir"] == shards["shards_dir"]
            assert model["shards_manifest_sha256"] == shards["manifest_sha256"]
            version = client.get_model_version(REGISTERED_MODEL_NAME, model["model_version"])
            assert version.tags["dagster_run_id"] == run.run_id
            assert version.tags["shards_manifest_sha256"] == shards["manifest_sha256"]
            # ...and the gate judged that version on an evaluation set frozen from those shards
            assert gate["candidate_version"] == model["model_version"], gate
            assert version.tags["gate.audit_id"] == gate["audit_id"]
            evaluation = json.loads((corebrain_home.home / "evaluations" / gate["evaluation_sha256"][:16]
                                     / "evaluation.json").read_text())
            assert evaluation["shards_manifest_sha256"] == shards["manifest_sha256"]
            seen_versions.add(model["model_version"])
        assert len(seen_versions) == 2
    rows = [r for r in read_rows(corebrain_home.lake) if r["kind"] == "gate"]
    assert sorted(r["dagster_run_id"] for r in rows) == sorted(r.run_id for r in runs)
    assert sorted(r["candidate_version"] for r in rows) == sorted(seen_versions)
    # one retrain and one decision at a time (pools "training" and "gate", limit 1)
    for step in ("core_model", "core_model_passes_gate"):
        assert step in steps[0] and step in steps[1], (step, steps)
        assert not _overlaps(steps[0][step], steps[1][step]), f"two {step} steps at once"
