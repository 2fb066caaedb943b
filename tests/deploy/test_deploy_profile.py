"""The Helm deploy against ``COREBRAIN_PROFILE=production`` (review of 14a + 14c): the code location and
its run workers get exactly the settings the production profile requires (from the values and the
secret example), and ``prepare_environment()`` (what importing ``pipelines.definitions`` runs) accepts
the read-only ``dagster.yaml`` the chart renders without raising and without writing to it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines.instance_config import missing_keys, production_problems, require_single_writer_pool
from pipelines.profiles import production_problems as env_problems
from pipelines.settings import prepare_environment
from tests.deploy.chart_instance import UnreadValue, instance_config
from tests.deploy.test_deploy import CHART_ENV, VALUES, values

SECRETS = VALUES.parents[1] / "k8s" / "secrets.example.yaml"
ENV_SECRET = "corebrain-env"
# what prepare_environment exports: restored after each test
EXPORTED = ("DAGSTER_HOME", "COREBRAIN_HOME", "COREBRAIN_LAKE", "COREBRAIN_WAREHOUSE", "MLFLOW_TRACKING_URI",
            "MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "COREBRAIN_DAGSTER_HOME")


def secret_env(name: str) -> dict[str, str]:
    for doc in yaml.safe_load_all(SECRETS.read_text()):
        if doc and doc.get("kind") == "Secret" and doc["metadata"]["name"] == name:
            return dict(doc.get("stringData") or {})
    raise AssertionError(f"{SECRETS} has no Secret {name}")


def code_location_env() -> dict[str, str]:
    """The env of the code location pod: the chart's, the values' ``env`` and its ``envSecrets``."""
    (deployment,) = values()["dagster-user-deployments"]["deployments"]
    env = dict(CHART_ENV)
    for secret in deployment.get("envSecrets", []):
        env.update(secret_env(secret["name"]))
    env.update({item["name"]: item["value"] for item in deployment.get("env", [])})
    return env


def run_worker_env() -> dict[str, str]:
    """The env of a run worker Job: the chart's, the launcher's ``envSecrets`` and ``envVars``."""
    launcher = values()["runLauncher"]["config"]["k8sRunLauncher"]
    env = dict(CHART_ENV)
    for secret in launcher.get("envSecrets", []):
        env.update(secret_env(secret["name"]))
    env.update(dict(item.split("=", 1) for item in launcher.get("envVars", [])))
    return env


def test_the_secret_example_holds_what_the_production_profile_requires():
    for env in (code_location_env(), run_worker_env()):
        assert env["COREBRAIN_PROFILE"] == "production"
        assert env_problems(env) == []
        # corebrain exports MLFLOW_TRACKING_URI from COREBRAIN_MLFLOW_TRACKING_URI: one source, not two
        assert "MLFLOW_TRACKING_URI" not in env
    assert ENV_SECRET in {s["name"] for s in values()["dagster-user-deployments"]["deployments"][0]["envSecrets"]}


def test_the_charts_instance_config_satisfies_the_production_profile():
    config = instance_config(values())
    assert "storage" not in config and production_problems(config) == []
    assert missing_keys(config) == {}


@pytest.mark.parametrize("pod_env", [code_location_env, run_worker_env], ids=["code-location", "run-worker"])
def test_prepare_environment_accepts_the_charts_read_only_dagster_yaml(pod_env, tmp_path, monkeypatch):
    """The defect: the profile refused to start (the secret lacked its settings), then corebrain added
    a ``storage:`` key to the chart's file, which Dagster rejects next to run_storage & co., and which
    is a read-only ConfigMap in the cluster."""
    for name in EXPORTED:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "dagster_home"
    home.mkdir()
    path = home / "dagster.yaml"
    path.write_text(yaml.safe_dump(instance_config(values())))
    before = path.read_bytes()
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)       # as the chart mounts its ConfigMap
    home.chmod(stat.S_IRUSR | stat.S_IXUSR)
    env = {**pod_env(), "DAGSTER_HOME": str(home),
           "COREBRAIN_HOME": str(tmp_path / pod_env()["COREBRAIN_HOME"].lstrip("/"))}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        paths = prepare_environment()
        assert path.read_bytes() == before                                   # never rewritten
        assert sorted(p.name for p in home.iterdir()) == ["dagster.yaml"]   # no backup either
        assert os.environ["DAGSTER_HOME"] == str(home)
        assert os.environ["MLFLOW_TRACKING_URI"] == env["COREBRAIN_MLFLOW_TRACKING_URI"]
        assert paths.home == Path(env["COREBRAIN_HOME"]).resolve()
        require_single_writer_pool(home)
    finally:
        home.chmod(stat.S_IRWXU)
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_the_code_location_imports_under_the_charts_env_and_instance(tmp_path):
    """What the chart's gRPC server does: ``python -m ... -m pipelines.definitions`` in a fresh process
    with the pod's env and the chart's read-only dagster.yaml (about 7 s: one import of the definitions)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    path = home / "dagster.yaml"
    path.write_text(yaml.safe_dump(instance_config(values())))
    before = path.read_bytes()
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    home.chmod(stat.S_IRUSR | stat.S_IXUSR)
    base = {k: v for k, v in os.environ.items() if k not in EXPORTED and not k.startswith("COREBRAIN_")}
    env = {**base, **code_location_env(), "DAGSTER_HOME": str(home), "COREBRAIN_HOME": str(tmp_path / "data"),
           "PYTHONPATH": str(VALUES.parents[2])}
    try:
        done = subprocess.run([sys.executable, "-c", "import pipelines.definitions as d; "
                               "print(len(list(d.defs.resolve_all_asset_specs())))"],
                              env=env, capture_output=True, text=True, timeout=300, cwd=VALUES.parents[2])
        assert done.returncode == 0, done.stderr[-3000:]
        assert int(done.stdout.split()[-1]) > 0
        assert path.read_bytes() == before and sorted(p.name for p in home.iterdir()) == ["dagster.yaml"]
    finally:
        home.chmod(stat.S_IRWXU)
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_a_key_the_chart_renders_twice_is_refused():
    twice = values()
    twice["dagsterDaemon"]["runMonitoring"]["enabled"] = True      # chart's block + additionalInstanceConfig's
    with pytest.raises(UnreadValue, match="run_monitoring"):
        instance_config(twice)
