"""The Helm values' instance, built for real: ``DagsterInstance.from_config`` on the dagster.yaml the
chart renders (tests/deploy/chart_instance.py), pointed at the Postgres on 127.0.0.1:5432 (a database
of its own, dropped afterwards) and a kubeconfig file instead of the in-cluster config: the Postgres
storages migrate and answer, the K8sRunLauncher and the run queue are built, the pools have one slot."""

from __future__ import annotations

import pytest
import yaml

from tests.deploy.chart_instance import instance_config
from tests.deploy.test_deploy import CHART_ENV, values

pytestmark = pytest.mark.production

KUBECONFIG = {"apiVersion": "v1", "kind": "Config", "current-context": "test",
              "clusters": [{"name": "test", "cluster": {"server": "https://127.0.0.1:6443"}}],
              "users": [{"name": "test", "user": {"token": "not-a-secret"}}],
              "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}]}


def test_the_helm_values_instance_builds_on_postgres(database, tmp_path, monkeypatch):
    import dagster as dg
    from dagster_k8s import K8sRunLauncher
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    for k, v in {**CHART_ENV, "DAGSTER_PG_PASSWORD": ""}.items():
        monkeypatch.setenv(k, v)
    v = values()
    v["postgresql"].update(postgresqlHost="127.0.0.1", postgresqlUsername="postgres", postgresqlDatabase=database)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(KUBECONFIG))
    v["runLauncher"]["config"]["k8sRunLauncher"].update(loadInclusterConfig=False, kubeconfigFile=str(kubeconfig))
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_config(v)))

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert isinstance(instance.run_launcher, K8sRunLauncher)
        assert instance.run_launcher.env_secrets == ["corebrain-env"]
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert instance.get_runs() == []                                   # the schema migrated and answers
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 12
    finally:
        instance.dispose()
