"""The production profile for real, in a temporary world: Postgres databases of its own on 127.0.0.1:5432,
an MLflow tracking server on one of them (artifacts proxied), ``dagster-daemon run`` on the other, and
asset backfills submitted to the daemon. Used by the production tests and ``benchmarks/production_load.py``.

Every server starts in its own process group (``pipelines.ui.start_server``) and is stopped as a group;
the databases get unique names and are dropped afterwards (never ``postgres``, ``root`` or ``test``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import dagster as dg

REPO_ROOT = Path(__file__).resolve().parents[2]
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
# what a lock problem looks like in any run's log: DuckDB's file lock, Postgres, SQLite
LOCK_PATTERNS = ("Could not set lock", "Conflicting lock", "deadlock detected", "could not obtain lock",
                 "LockNotAvailable", "database is locked")


def pg_url(db: str) -> str:
    return f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}"


def postgres_available() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=2):
            return True
    except OSError:
        return False


def _admin():
    import psycopg2

    con = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    con.autocommit = True
    return con


@contextlib.contextmanager
def postgres_databases(*roles: str) -> Iterator[dict[str, str]]:
    """{role: URL} of fresh databases ``corebrain_<role>_<random>``, dropped (with their sessions) after."""
    names = {role: f"corebrain_{role}_{uuid.uuid4().hex[:10]}" for role in roles}
    con = _admin()
    try:
        with con.cursor() as cur:
            for name in names.values():
                cur.execute(f'create database "{name}"')
        yield {role: pg_url(name) for role, name in names.items()}
    finally:
        with con.cursor() as cur:
            for name in names.values():
                cur.execute(f'drop database if exists "{name}" with (force)')
        con.close()


def query(url: str, sql: str) -> list[tuple]:
    import psycopg2

    with contextlib.closing(psycopg2.connect(url.replace("+psycopg2", ""))) as con, con.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mlflow_server(backend_uri: str, artifacts: Path, log: Path) -> Iterator[str]:
    """``mlflow server`` on Postgres with proxied artifacts, one worker, on a free 127.0.0.1 port."""
    from pipelines.mlflow_server import server_command, server_environment, wait_until_healthy
    from pipelines.ui import start_server, stop_server

    port = free_port()
    server = start_server(server_command(backend_uri, str(artifacts), port, Path(sys.executable).parent),
                          log, env=server_environment(os.environ))
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, server, timeout_s=180)
        yield url
    finally:
        stop_server(server)


def production_env(home: Path, dagster_pg: str, tracking_uri: str, max_runs: int = 10) -> dict[str, str]:
    """The environment of the production profile for a home (set on os.environ by the caller)."""
    return {"COREBRAIN_PROFILE": "production", "COREBRAIN_HOME": str(home),
            "COREBRAIN_DAGSTER_PG_URL": dagster_pg, "COREBRAIN_MLFLOW_TRACKING_URI": tracking_uri,
            "COREBRAIN_MAX_CONCURRENT_RUNS": str(max_runs)}


@contextlib.contextmanager
def dagster_daemon(log: Path) -> Iterator[object]:
    """``dagster-daemon run`` on this repo's workspace with the current environment (and this worktree
    first on the path); waits for the backfill daemon's first heartbeat."""
    from pipelines.ui import start_server, stop_server

    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    daemon = start_server([str(Path(sys.executable).with_name("dagster-daemon")), "run",
                           "-w", str(REPO_ROOT / "workspace.yaml")], log, env=env)
    try:
        with dg.DagsterInstance.get() as instance:
            deadline = time.monotonic() + 180
            while "BACKFILL" not in instance.get_daemon_heartbeats():
                if daemon.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dagster-daemon did not start: {log.read_text()[-3000:]}")
                time.sleep(1)
        yield daemon
    finally:
        stop_server(daemon, grace_s=30)


def days(first: dt.date, count: int) -> list[str]:
    return [(first + dt.timedelta(days=i)).isoformat() for i in range(count)]


def submit_asset_backfill(instance: dg.DagsterInstance, defs: dg.Definitions, keys: Sequence[dg.AssetKey],
                          partitions: Sequence[str], title: str) -> str:
    """An asset backfill of ``keys`` over ``partitions``, as the UI submits it; the daemon runs it
    (one run for the range: the dated assets have ``BackfillPolicy.single_run()``)."""
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(), asset_graph=defs.resolve_asset_graph(), partition_names=list(partitions),
        asset_selection=list(keys), backfill_timestamp=time.time(), tags={}, dynamic_partitions_store=instance,
        all_partitions=False, title=title, description=None, run_config=None)
    instance.add_backfill(backfill)
    return backfill.backfill_id


def wait_for_backfills(instance: dg.DagsterInstance, backfill_ids: Sequence[str], timeout_s: float) -> dict:
    """{backfill id: final status}; raises when any is still going after ``timeout_s``."""
    from dagster._core.execution.backfill import BulkActionStatus

    done = {BulkActionStatus.COMPLETED, BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED_FAILED,
            BulkActionStatus.FAILED, BulkActionStatus.CANCELED}
    deadline = time.monotonic() + timeout_s
    while True:
        statuses = {b: instance.get_backfill(b).status for b in backfill_ids}
        if all(s in done for s in statuses.values()):
            return statuses
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfills still running after {timeout_s:.0f} s: {statuses}")
        time.sleep(2)


def lock_errors(instance: dg.DagsterInstance, run_ids: Sequence[str]) -> list[str]:
    """Every event-log message of these runs that reports a lock problem."""
    found = []
    for run_id in run_ids:
        for record in instance.all_logs(run_id):
            text = record.user_message or ""
            if record.dagster_event is not None and record.dagster_event.event_specific_data is not None:
                text += repr(record.dagster_event.event_specific_data)
            found += [f"{run_id[:8]}: {text[:300]}" for p in LOCK_PATTERNS if p in text]
    return found
