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
