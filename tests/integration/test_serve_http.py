"""`corebrain serve` for real: the champion over HTTP on 127.0.0.1, every task, bad requests, stop.

The server is started the way a user starts it (the CLI, with the venv's bin/ *not* on PATH), so the
test fails if serving depends on an activated venv."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import mlflow
import pytest

from models.pyfunc import log_core_model
from models.train import train
from pipelines.serve import serve_command, serve_environment
from tests.models.conftest import tiny_config
from tests.models.synth import write_shards


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_serve_command_and_environment_are_pure(tmp_path):
    cmd = serve_command("models:/m@champion", "127.0.0.1", 5001, tmp_path)
    assert cmd[:3] == [str(tmp_path / "mlflow"), "models", "serve"]
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1" and "--env-manager" in cmd
    env = serve_environment({"PATH": "/usr/bin"}, tmp_path, "sqlite:///x.db")
    assert env["PATH"].split(os.pathsep)[0] == str(tmp_path) and env["MLFLOW_TRACKING_URI"] == "sqlite:///x.db"


@pytest.mark.slow
def test_every_task_over_http_and_bad_requests_get_400(corebrain_home, tmp_path):
    paths = corebrain_home
    mlflow.set_tracking_uri(paths.mlflow_tracking_uri)
    exp = mlflow.create_experiment("serve-test", artifact_location=paths.mlflow_artifacts.as_uri())
    with mlflow.start_run(experiment_id=exp):
        res = train(tiny_config(write_shards(tmp_path / "shards"), tmp_path / "out", epochs=3))
        mv = log_core_model(res.out_dir, "corebrain")
    mlflow.MlflowClient().set_registered_model_alias("corebrain", "champion", mv.version)

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if os.path.dirname(sys.executable) != p)
    log = (tmp_path / "serve.out").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "serve", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            assert proc.poll() is None, (tmp_path / "serve.out").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.time() < deadline, "server did not answer /ping in 180 s"
            time.sleep(1)

        history = {"items": ["i3", "", "i4", "i5"], "event_types": ["view", "search", "view", "purchase"],
                   "ts": [1.7e9, 1.7e9 + 30, 1.7e9 + 90, 1.7e9 + 300], "queries": ["", "sunset poster", "", ""],
                   "market": "se", "query": "sunset postr", "item_id": "i3", "at": 1.7e9 + 86400}
        url = f"{base}/invocations"
        answers = {}
        for task in ("recommend", "search", "similar", "words", "churn", "embed"):
            status, body = _post(url, {"dataframe_records": [history], "params": {"task": task, "k": 3}})
            assert status == 200, (task, body)
            answers[task] = body["predictions"][0]
        assert answers["recommend"]["items"][0] == "i6" and len(answers["recommend"]["items"]) == 3
        assert len(answers["search"]["items"]) == 3
        assert "i3" not in answers["similar"]["items"] and len(answers["similar"]["scores"]) == 3
        assert answers["words"]["words"]
        assert 0 <= answers["churn"]["churn_probability"] <= 1
        assert len(answers["embed"]["vector"]) == 16
        # the original input still works
        status, body = _post(url, {"dataframe_records": [{"history": ["i3", "i4", "i5"]}], "params": {"k": 2}})
        assert status == 200 and body["predictions"][0]["items"][0] == "i6"

        bad = {
            "unknown task": {"dataframe_records": [history], "params": {"task": "teleport"}},
            "needs a column 'query'": {"dataframe_records": [{"history": ["i3"]}], "params": {"task": "search"}},
            "unknown event type": {"dataframe_records": [{**history, "event_types": ["fly", "view", "view", "view"]}]},
            "k must be at least 1": {"dataframe_records": [history], "params": {"k": 0}},
        }
        for message, body in bad.items():
            status, answer = _post(url, body)
            assert 400 <= status < 500, (message, status, answer)
            assert message in answer.get("message", ""), (message, answer)
        status, answer = _post(url, b"{not json")
        assert 400 <= status < 500
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode is not None
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{base}/ping", timeout=2)
