"""The production MLflow tracking server: a Postgres backend store and proxied artifacts.

``corebrain mlflow-server`` runs ``mlflow server --backend-store-uri postgresql://...
--artifacts-destination ...`` on 127.0.0.1, so that clients (the pipeline's runs, the training
process, the gate, consumers, ``mlflow models serve``) need only the server's ``http://`` URL
(``COREBRAIN_MLFLOW_TRACKING_URI``): they never hold the database password or the artifact store's
credentials. One worker and no job execution keep it at two processes (STACK.md); it runs in its own
process group and stops with it.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

BACKEND_ENV = "COREBRAIN_MLFLOW_BACKEND_URI"
ARTIFACTS_ENV = "COREBRAIN_MLFLOW_ARTIFACTS_DESTINATION"


def backend_store_uri(uri: str) -> str:
    """A plain ``postgresql://`` URL with the driver corebrain installs (psycopg2): MLflow's SQLAlchemy
    would otherwise pick psycopg 3, which the production extra does not install (pure)."""
    return "postgresql+psycopg2://" + uri.removeprefix("postgresql://") if uri.startswith("postgresql://") else uri


def server_command(backend_uri: str, artifacts_destination: str, port: int, bin_dir: Path,
                   host: str = "127.0.0.1", workers: int = 1) -> list[str]:
    """The ``mlflow server`` command line (pure)."""
    return [str(bin_dir / "mlflow"), "server", "--backend-store-uri", backend_store_uri(backend_uri),
            "--artifacts-destination", artifacts_destination, "--serve-artifacts",
            "--host", host, "--port", str(port), "--workers", str(workers)]


def server_environment(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` without the job runner (13 extra processes) or telemetry (pure)."""
    return {**base, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}


def wait_until_healthy(url: str, process, timeout_s: float = 120.0) -> None:
    """Block until ``url``/health answers 200; raise with what to look at if the server exits or is slow."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the MLflow server exited ({process.returncode}) before answering at {url}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the MLflow server did not answer at {url}/health within {timeout_s:.0f} s")


def run_mlflow_server(port: int = 5000) -> int:
    from pipelines.settings import current_paths
    from pipelines.ui import _stop_on_signals, start_server, stop_server

    backend = os.environ.get(BACKEND_ENV)
    if not backend:
        print(f"corebrain mlflow-server: set {BACKEND_ENV} (e.g. postgresql://mlflow:PASSWORD@db:5432/mlflow)",
              file=sys.stderr)
        return 2
    _stop_on_signals()
    paths = current_paths().ensure()
    artifacts = os.environ.get(ARTIFACTS_ENV) or str(paths.mlflow_artifacts)
    logs = paths.home / "logs"
    logs.mkdir(exist_ok=True)
    server = start_server(server_command(backend, artifacts, port, Path(sys.executable).parent),
                          logs / "mlflow-server.log", env=server_environment(os.environ))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server)
        print(f"MLflow tracking server: {url}   (artifacts proxied to {artifacts}; log {logs / 'mlflow-server.log'})")
        print(f"point corebrain at it: COREBRAIN_MLFLOW_TRACKING_URI={url}.  Ctrl-C stops it.", flush=True)
        while server.poll() is None:
            time.sleep(1)
        return 1
    except RuntimeError as exc:
        print(f"corebrain mlflow-server: {exc}; see {logs / 'mlflow-server.log'}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop_server(server)
