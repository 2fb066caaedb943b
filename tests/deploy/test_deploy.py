"""deploy/ without a cluster: the Helm values' instance config through Dagster's own schema (with
dagster-k8s and dagster-postgres installed), every manifest parsed and read into the Kubernetes
client's typed models, ``kubectl create --dry-run=client`` where it works offline, the Dockerfile's
install steps against ``make install``'s, and the training pod as dagster-k8s's PipesK8sClient builds it."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.chart_instance import UnreadValue, instance_config
from tests.deploy.install_steps import dockerfile_commands, make_install_pip_lines, pip_installs

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
VALUES = DEPLOY / "helm" / "dagster-values.yaml"
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))
# the env the chart sets on every Dagster pod, which the instance config reads
CHART_ENV = {"DAGSTER_HOME": "/opt/dagster/dagster_home", "DAGSTER_PG_PASSWORD": "from-the-secret",
             "DAGSTER_K8S_INSTANCE_CONFIG_MAP": "dagster-instance",
             "DAGSTER_K8S_PG_PASSWORD_SECRET": "corebrain-dagster-postgresql",
             "DAGSTER_K8S_PIPELINE_RUN_ENV_CONFIGMAP": "dagster-pipeline-env"}
CONFIGURABLE = ("scheduler", "schedule_storage", "run_launcher", "run_storage", "event_log_storage",
                "run_coordinator", "compute_logs")


def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def validate_instance(config: dict, tmp_path: Path) -> dict:
    """Dagster's instance schema on the whole file, then each configurable class's own config schema
    (what ``DagsterInstance.from_config`` checks before it builds them). Returns the processed values."""
    from dagster._config import process_config
    from dagster._core.errors import DagsterInvalidConfigError
    from dagster._core.instance.config import dagster_instance_config
    from dagster._serdes.config_class import class_from_code_pointer

    home = tmp_path / "instance"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    dagster_instance_config(str(home))                 # the top-level schema, incl. concurrency pools
    processed = {}
    for key in CONFIGURABLE:
        if key not in config:
            continue
        section = config[key]
        cls = class_from_code_pointer(section["module"], section["class"])
        result = process_config(cls.config_type(), section.get("config", {}))
        if not result.success:
            raise DagsterInvalidConfigError(f"{key} ({section['class']})", result.errors, section.get("config"))
        processed[key] = result.value
    return processed


@pytest.fixture
def chart_env(monkeypatch):
    for k, v in CHART_ENV.items():
        monkeypatch.setenv(k, v)


def test_the_helm_values_instance_config_loads_through_dagsters_schema(chart_env, tmp_path):
    config = instance_config(values())
    processed = validate_instance(config, tmp_path)
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
    launcher = processed["run_launcher"]
    assert launcher["env_secrets"] == ["corebrain-env"] and launcher["load_incluster_config"] is True
    assert "COREBRAIN_TRAINING_LAUNCHER=k8s" in launcher["env_vars"]
    assert {m["mountPath"] for m in launcher["volume_mounts"]} == {"/data/corebrain"}
    for storage in ("run_storage", "event_log_storage", "schedule_storage"):
        db = processed[storage]["postgres_db"]
        assert db["hostname"] == "postgres.corebrain.svc.cluster.local"
        assert db["password"] == "from-the-secret"                 # from the environment, never a value
        assert db["scheme"] == "postgresql+psycopg2"              # SQLAlchemy 2.1's default is psycopg 3
    assert "postgresqlPassword" not in VALUES.read_text()
    assert config["concurrency"]["pools"] == {"default_limit": 1}
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 12
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_a_wrong_value_in_the_helm_values_is_refused(chart_env, tmp_path):
    from dagster._core.errors import DagsterInvalidConfigError
    from dagster_shared.check import CheckError

    bad = values()
    bad["runLauncher"]["config"]["k8sRunLauncher"]["loadInclusterConfig"] = "sometimes"
    with pytest.raises(DagsterInvalidConfigError, match="run_launcher"):
        validate_instance(instance_config(bad), tmp_path)
    typo = values()
    typo["runLauncher"]["config"]["k8sRunLauncher"]["envSecret"] = [{"name": "x"}]
    with pytest.raises(UnreadValue, match="envSecret"):
        instance_config(typo)
    bad_pool = values()
    bad_pool["additionalInstanceConfig"]["concurrency"]["pools"]["default_limit"] = "one"
    with pytest.raises((DagsterInvalidConfigError, CheckError), match="one"):
        validate_instance(instance_config(bad_pool), tmp_path)


def _documents() -> list[tuple[Path, dict]]:
    docs = []
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append((path, doc))
    return docs


def test_every_manifest_parses_into_the_kubernetes_models():
    import kubernetes.client as k8s
    from dagster_k8s.models import k8s_model_from_dict, k8s_snake_case_dict

    docs = _documents()
    assert {d["kind"] for _, d in docs} >= {"Deployment", "Service", "Pod", "PersistentVolumeClaim", "Secret"}
    for path, doc in docs:
        assert doc.get("apiVersion") and doc.get("kind"), path
        model = getattr(k8s, f"{doc['apiVersion'].split('/')[-1].capitalize()}{doc['kind']}")
        # unknown fields (a typo'd key) raise here
        k8s_model_from_dict(model, k8s_snake_case_dict(model, doc))
        assert doc["metadata"].get("namespace", "corebrain") == "corebrain", path
    mlflow = next(d for _, d in docs if d["kind"] == "Deployment")
    args = mlflow["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--serve-artifacts" in args and any(a.startswith("--artifacts-destination=") for a in args)
    assert "--backend-store-uri=$(MLFLOW_BACKEND_STORE_URI)" in args        # Postgres URI from a secret


def test_a_typo_in_a_manifest_is_refused():
    import kubernetes.client as k8s
    from dagster_k8s.models import k8s_model_from_dict, k8s_snake_case_dict

    pod = copy.deepcopy(next(d for _, d in _documents() if d["kind"] == "Pod"))
    pod["spec"]["contianers"] = pod["spec"].pop("containers")
    with pytest.raises(Exception, match="contianers"):
        k8s_model_from_dict(k8s.V1Pod, k8s_snake_case_dict(k8s.V1Pod, pod))


def _kubectl_dry_run(files: list[Path]) -> subprocess.CompletedProcess:
    kubectl = shutil.which("kubectl") or "/usr/bin/kubectl"
    if not Path(kubectl).exists():
        pytest.skip("no kubectl on this machine")
    args = [kubectl, "create", "--dry-run=client", "--validate=false", "-o", "name"]
    for f in files:
        args += ["-f", str(f)]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if p.returncode != 0 and ("connection refused" in p.stderr or "couldn't get current server" in p.stderr
                              or "unable to recognize" in p.stderr):
        pytest.skip("kubectl create --dry-run=client needs an API server's discovery to map kinds; "
                    f"there is none here ({p.stderr.strip().splitlines()[-1][:200]})")
    return p


def test_kubectl_client_dry_run(tmp_path):
    pod = tmp_path / "built-training-pod.yaml"      # the pod PipesK8sClient would create, too
    pod.write_text(yaml.safe_dump(built_training_pod_manifest()))
    p = _kubectl_dry_run([*MANIFESTS, pod])
    assert p.returncode == 0, p.stderr
    assert "deployment.apps/corebrain-mlflow" in p.stdout and "pod/corebrain-training-abc" in p.stdout


def test_the_dockerfile_installs_as_make_install_does():
    make = make_install_pip_lines(REPO / "Makefile")
    docker = pip_installs(dockerfile_commands((DEPLOY / "Dockerfile").read_text()))
    assert make, "no pip install line found in the Makefile's install target"
    assert docker == make
    assert any("-e" in c and any(".[" in t for t in c) for c in make)     # the extras travel with the line


def test_the_install_line_parsers_read_what_they_are_given(tmp_path):
    mk = tmp_path / "Makefile"
    mk.write_text("V ?= env\nV ?= other\nPY := $(V)/bin/python\ninstall: $(V)/.ok\n\n$(V)/.ok: x\n"
                  "\ttest -x $(PY) || python3 -m venv $(V)\n\t$(PY) -m pip install -e '.[a,b]'\n")
    assert make_install_pip_lines(mk) == [["env/bin/python", "-m", "pip", "install", "-e", ".[a,b]"]]
    docker = "FROM x\nRUN apt-get update \\\n  && env/bin/python -m pip install -e '.[a,b]'\nCMD [\"x\"]\n"
    assert pip_installs(dockerfile_commands(docker)) == make_install_pip_lines(mk)


def built_training_pod(nproc: int = 4):
    """The V1Pod dagster-k8s's PipesK8sClient.run builds for the training step (its own build_pod_body)."""
    from dagster_k8s.pipes import build_pod_body

    from pipelines.training.k8s_pod import base_pod_spec, pod_command, pod_env, training_pod_spec

    spec = training_pod_spec(base_pod_spec(), nproc_per_node=nproc)
    env = pod_env({"COREBRAIN_TRAIN_CONFIG": "{}", "MLFLOW_RUN_ID": "r", "PYTHONPATH": "/laptop/repo",
                   "DAGSTER_PIPES_CONTEXT": "ctx", "DAGSTER_PIPES_MESSAGES": "msgs"})
    return build_pod_body("corebrain-training-abc", "registry.example.com/corebrain:0.1.0", pod_command(nproc),
                          env, None, spec)


def built_training_pod_manifest() -> dict:
    import kubernetes.client as k8s

    return {"apiVersion": "v1", "kind": "Pod", **k8s.ApiClient().sanitize_for_serialization(built_training_pod())}


def test_the_training_pod_builds_through_pipes_k8s_client():
    import kubernetes.client as k8s

    pod = built_training_pod(4)
    assert isinstance(pod, k8s.V1Pod) and pod.spec.restart_policy == "Never"
    container = pod.spec.containers[0]
    assert container.command[0] == "/app/.venv/bin/torchrun" and "--nproc-per-node=4" in container.command
    assert container.command[-2:] == ["-m", "pipelines.training.pipes_entry"]
    assert container.resources.requests["cpu"] == "4"
    names = {e.name: e.value for e in container.env}
    assert names["PYTHONPATH"] == "/app" and names["DAGSTER_PIPES_CONTEXT"] == "ctx"
    assert names["COREBRAIN_HOME"] == "/data/corebrain"
    assert {m.mount_path for m in container.volume_mounts} == {"/data/corebrain", "/dev/shm"}
    body = built_training_pod_manifest()
    assert body["spec"]["containers"][0]["envFrom"][0]["secretRef"]["name"] == "corebrain-env"
    assert body["metadata"]["name"] == "corebrain-training-abc"
