"""Where every piece of local state lives.

All state sits under one folder, ``$COREBRAIN_HOME`` (default ``./.corebrain``), so that setting it
to a temporary directory gives a fully independent installation: tests and benchmarks rely on that.
This module is pure (no imports of Dagster, dbt or MLflow) so that anything may use it cheaply.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = ".corebrain"
REGISTERED_MODEL_NAME = "corebrain"


@dataclass(frozen=True)
class CorebrainPaths:
    home: Path

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def landing_events(self) -> Path:
        return self.landing / "events"

    @property
    def landing_items(self) -> Path:
        return self.landing / "items"

    @property
    def lake(self) -> Path:
        return self.home / "lake"

    @property
    def lake_events(self) -> Path:
        return self.lake / "events"

    @property
    def lake_quarantine(self) -> Path:
        return self.lake / "quarantine"

    @property
    def lake_items(self) -> Path:
        return self.lake / "items"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def shards(self) -> Path:
        return self.home / "shards"

    @property
    def training_runs(self) -> Path:
        return self.home / "training"

    @property
    def mlflow_db(self) -> Path:
        return self.home / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.home / "mlartifacts"

    @property
    def mlflow_tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_db}"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster_home"

    def ensure(self) -> CorebrainPaths:
        for folder in (self.landing_events, self.landing_items, self.lake, self.shards,
                       self.training_runs, self.mlflow_artifacts, self.dagster_home):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def corebrain_home() -> Path:
    """The state folder, absolute: ``$COREBRAIN_HOME`` or ``./.corebrain``."""
    return Path(os.environ.get("COREBRAIN_HOME") or DEFAULT_HOME).expanduser().resolve()


def current_paths() -> CorebrainPaths:
    return CorebrainPaths(corebrain_home())


_EXPORTED: dict[str, str] = {}


class DagsterHomeConflict(RuntimeError):
    """``COREBRAIN_DAGSTER_HOME`` and ``DAGSTER_HOME`` name different folders."""


def dagster_home(paths: CorebrainPaths) -> Path:
    """The folder Dagster will read: ``COREBRAIN_DAGSTER_HOME``, else an exported ``DAGSTER_HOME``,
    else ``$COREBRAIN_HOME/dagster_home``. Both set to different folders is an error: Dagster reads
    ``DAGSTER_HOME`` while corebrain would configure the other, and the settings would drop silently."""
    ours = os.environ.get("COREBRAIN_DAGSTER_HOME")
    theirs = os.environ.get("DAGSTER_HOME")
    if theirs and theirs == _EXPORTED.get("DAGSTER_HOME"):
        theirs = None  # what an earlier call in this process set, not an operator's choice
    if ours and theirs and Path(ours).expanduser().resolve() != Path(theirs).expanduser().resolve():
        raise DagsterHomeConflict(
            f"COREBRAIN_DAGSTER_HOME={ours} but DAGSTER_HOME={theirs}: Dagster reads DAGSTER_HOME. "
            "Set them to the same folder, or unset one.")
    chosen = ours or theirs
    return Path(chosen).expanduser().resolve() if chosen else paths.dagster_home


def prepare_environment(paths: CorebrainPaths | None = None) -> CorebrainPaths:
    """Create the folders, write ``dagster.yaml`` and export the environment every tool reads.

    Idempotent; called by the CLI, the Dagster definitions and the tests. ``dagster.yaml`` goes to
    the folder Dagster reads (:func:`dagster_home`), written once: an operator's file is kept, only
    missing keys are added (``pipelines.instance_config``).
    """
    from pipelines.instance_config import ensure_dagster_yaml

    paths = (paths or current_paths()).ensure()
    home = dagster_home(paths)
    ensure_dagster_yaml(home)
    os.environ["COREBRAIN_HOME"] = str(paths.home)
    os.environ["DAGSTER_HOME"] = _EXPORTED["DAGSTER_HOME"] = str(home)
    os.environ["COREBRAIN_LAKE"] = str(paths.lake)
    os.environ["COREBRAIN_WAREHOUSE"] = str(paths.warehouse)
    # production swaps in a server (e.g. Postgres-backed) through COREBRAIN_MLFLOW_TRACKING_URI
    os.environ["MLFLOW_TRACKING_URI"] = (os.environ.get("COREBRAIN_MLFLOW_TRACKING_URI")
                                         or paths.mlflow_tracking_uri)
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ.setdefault("DO_NOT_TRACK", "1")
    return paths
