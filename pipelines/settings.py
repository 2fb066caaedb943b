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


DAGSTER_YAML = """\
# written by corebrain; one writer per DuckDB file: every step that touches it is in pool "duckdb"
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
# the daemon frees pool slots still held by a run that ended (e.g. its process was killed and the run
# was then terminated in the UI); without this a dead run blocks pool "duckdb" for good
run_monitoring:
  enabled: true
  free_slots_after_run_end_seconds: 300
"""


def prepare_environment(paths: CorebrainPaths | None = None) -> CorebrainPaths:
    """Create the folders, write ``dagster.yaml`` and export the environment every tool reads.

    Idempotent; called by the CLI, the Dagster definitions and the tests.
    """
    paths = (paths or current_paths()).ensure()
    dagster_yaml = paths.dagster_home / "dagster.yaml"
    if not dagster_yaml.exists() or dagster_yaml.read_text() != DAGSTER_YAML:
        dagster_yaml.write_text(DAGSTER_YAML)
    os.environ["COREBRAIN_HOME"] = str(paths.home)
    os.environ["DAGSTER_HOME"] = os.environ.get("COREBRAIN_DAGSTER_HOME") or str(paths.dagster_home)
    os.environ["COREBRAIN_LAKE"] = str(paths.lake)
    os.environ["COREBRAIN_WAREHOUSE"] = str(paths.warehouse)
    # production swaps in a server (e.g. Postgres-backed) through COREBRAIN_MLFLOW_TRACKING_URI
    os.environ["MLFLOW_TRACKING_URI"] = (os.environ.get("COREBRAIN_MLFLOW_TRACKING_URI")
                                         or paths.mlflow_tracking_uri)
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ.setdefault("DO_NOT_TRACK", "1")
    return paths
