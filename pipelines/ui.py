"""``corebrain ui``: the Dagster UI and the MLflow UI, both on 127.0.0.1, stopped together.

Servers started from a non-interactive shell may inherit SIGINT/SIGTERM as ignored (STACK.md), so
each starts in its own process group with default signal handlers and is stopped by group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipelines.profiles import PRODUCTION, current_profile
from pipelines.settings import prepare_environment


def own_process_group() -> None:
    """A child's preexec: default SIGINT/SIGTERM and its own process group (stopped by group)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.setsid()


def start_server(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    handle = log.open("ab")
    return subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env,
                            preexec_fn=own_process_group)


def stop_server(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM both end the wait below, so the servers are always stopped with us
    (a shell's background job may start with SIGINT ignored)."""
    def _raise(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, _raise)
    signal.signal(signal.SIGTERM, _raise)


def run_ui(dagster_port: int = 3000, mlflow_port: int = 5000) -> int:
    _stop_on_signals()
    paths = prepare_environment()
    bin_dir = Path(sys.executable).parent
    repo = Path(__file__).resolve().parent.parent
    logs = paths.home / "logs"
    logs.mkdir(exist_ok=True)
    mlflow_env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    servers = [
        start_server([str(bin_dir / "dagster"), "dev", "-w", str(repo / "workspace.yaml"),
                      "-h", "127.0.0.1", "-p", str(dagster_port)], logs / "dagster.log"),
    ]
    print(f"Dagster UI: http://127.0.0.1:{dagster_port}   (log {logs / 'dagster.log'})")
    if current_profile() == PRODUCTION:  # the tracking server is the MLflow UI
        print(f"MLflow UI:  {paths.mlflow_tracking_uri}   (the production tracking server)")
    else:
        servers.append(start_server(
            [str(bin_dir / "mlflow"), "ui", "--backend-store-uri", paths.local_mlflow_uri,
             "--default-artifact-root", paths.mlflow_artifacts.as_uri(),
             "--host", "127.0.0.1", "--port", str(mlflow_port), "--workers", "1"],
            logs / "mlflow.log", env=mlflow_env))
        print(f"MLflow UI:  http://127.0.0.1:{mlflow_port}   (log {logs / 'mlflow.log'})")
    print("Ctrl-C stops " + ("both." if len(servers) == 2 else "it."), flush=True)
    try:
        while all(s.poll() is None for s in servers):
            time.sleep(1)
        print("a server stopped; see the logs above", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for server in servers:
            stop_server(server)
