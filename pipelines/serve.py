"""``corebrain serve``: the champion's every read-out over HTTP on 127.0.0.1 (``mlflow models serve``).

``mlflow models serve`` shells out to ``uvicorn`` and finds it on PATH, which an unactivated venv
lacks; this puts the interpreter's own ``bin/`` first, points MLflow at this installation's registry,
and starts the server in its own process group so that Ctrl-C or SIGTERM always stops it.
The server has no authentication: keep it on 127.0.0.1 or put an authenticating proxy in front.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from pipelines.settings import REGISTERED_MODEL_NAME, prepare_environment
from pipelines.ui import _stop_on_signals, start_server, stop_server

DEFAULT_MODEL_URI = f"models:/{REGISTERED_MODEL_NAME}@champion"


def serve_command(model_uri: str, host: str, port: int, bin_dir: Path) -> list[str]:
    """The ``mlflow models serve`` command line (pure): this venv's mlflow, no new environment."""
    return [str(bin_dir / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local",
            "--host", host, "--port", str(port), "--workers", "1"]


def serve_environment(base: dict[str, str], bin_dir: Path, tracking_uri: str) -> dict[str, str]:
    """``base`` with the venv's bin/ first on PATH and the registry this installation uses (pure)."""
    return {**base, "PATH": f"{bin_dir}{os.pathsep}{base.get('PATH', '')}", "MLFLOW_TRACKING_URI": tracking_uri,
            "MLFLOW_DISABLE_TELEMETRY": "true"}


def run_serve(model_uri: str = DEFAULT_MODEL_URI, host: str = "127.0.0.1", port: int = 5001) -> int:
    _stop_on_signals()
    paths = prepare_environment()
    bin_dir = Path(sys.executable).parent
    tracking_uri = paths.mlflow_tracking_uri
    logs = paths.home / "logs"
    logs.mkdir(exist_ok=True)
    server = start_server(serve_command(model_uri, host, port, bin_dir), logs / "serve.log",
                          env=serve_environment(dict(os.environ), bin_dir, tracking_uri))
    print(f"serving {model_uri} on http://{host}:{port}/invocations   (log {logs / 'serve.log'})")
    print(f"  curl -s http://{host}:{port}/invocations -H 'Content-Type: application/json' "
          "-d '{\"dataframe_records\": [{\"history\": [\"item-00001\"]}], \"params\": {\"task\": \"recommend\", \"k\": 5}}'")
    print("Ctrl-C stops it.", flush=True)
    try:
        while server.poll() is None:
            time.sleep(1)
        print(f"the server stopped (exit {server.returncode}); see {logs / 'serve.log'}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop_server(server)
