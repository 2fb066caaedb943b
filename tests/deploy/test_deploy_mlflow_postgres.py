"""deploy/k8s/mlflow.yaml's container, run here: the Deployment's own command, args and env (the
backend store URI pointed at a database of its own on 127.0.0.1:5432, the port and the artifact
folder local), then a client that knows only the tracking URI logs a run and an artifact: the run
lands in Postgres and the artifact in the server's destination folder (proxied, mlflow-artifacts:/)."""

from __future__ import annotations

import os
import re
import socket
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from pipelines.ui import start_server, stop_server
from tests.deploy.test_deploy import DEPLOY

pytestmark = pytest.mark.production


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(container: dict, env: dict[str, str], port: int, artifacts: Path) -> list[str]:
    """The container's command + args with ``$(VAR)`` from ``env``, listening on 127.0.0.1:``port``."""
    local = {"--host": "127.0.0.1", "--port": str(port), "--artifacts-destination": str(artifacts)}
    out = []
    for arg in [*container["command"], *container["args"]]:
        arg = re.sub(r"\$\(([A-Z_]+)\)", lambda m: env[m.group(1)], arg)
        key = arg.split("=", 1)[0]
        out.append(f"{key}={local[key]}" if key in local else arg)
    out[0] = str(Path(sys.executable).with_name(out[0]))
    return out


def test_the_mlflow_deployment_serves_runs_on_postgres_and_proxies_artifacts(database, tmp_path):
    import mlflow
    import psycopg2

    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "mlflow.yaml").read_text()))
    container = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    uri = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}"
    env = {e["name"]: (uri if "valueFrom" in e else e["value"]) for e in container["env"]}
    port, artifacts = _free_port(), tmp_path / "artifacts"
    command = server_command(container, env, port, artifacts)
    assert f"--backend-store-uri={uri}" in command
    server = start_server(command, tmp_path / "mlflow.log", env={**os.environ, **env})
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, (tmp_path / "mlflow.log").read_text()[-3000:]
            assert time.time() < deadline, "mlflow server did not answer /health in 120 s"
            time.sleep(1)
        client = mlflow.MlflowClient(tracking_uri=url)
        experiment = client.create_experiment("deploy-check")
        run = client.create_run(experiment)
        client.log_metric(run.info.run_id, "x", 1.0)
        note = tmp_path / "note.txt"
        note.write_text("proxied")
        mlflow.set_tracking_uri(url)
        try:
            client.log_artifact(run.info.run_id, str(note))
        finally:
            mlflow.set_tracking_uri(None)
        assert client.get_run(run.info.run_id).info.artifact_uri.startswith("mlflow-artifacts:")
        assert [p.read_text() for p in artifacts.rglob("note.txt")] == ["proxied"]
        with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=database) as con, con.cursor() as cur:
            cur.execute("select count(*) from runs where run_uuid = %s", (run.info.run_id,))
            assert cur.fetchone()[0] == 1
        con.close()
    finally:
        stop_server(server)
