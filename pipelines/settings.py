"""Where every piece of state lives, and which profile the installation runs.

All local state sits under one folder, ``$COREBRAIN_HOME`` (default ``./.corebrain``), so that setting
it to a temporary directory gives a fully independent installation: tests and benchmarks rely on that.
``COREBRAIN_PROFILE`` picks ``local`` (the default: SQLite-backed Dagster and MLflow under that folder)
or ``production`` (Dagster on Postgres with a run queue, an MLflow tracking server, the lake where
``COREBRAIN_LAKE`` says): same code, configuration only (``pipelines.profiles``). This module is pure
(no imports of Dagster, dbt or MLflow) so that anything may use it cheaply.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipelines.profiles import MLFLOW_URI_ENV, PRODUCTION, current_profile, require_profile_environment

DEFAULT_HOME = ".corebrain"
REGISTERED_MODEL_NAME = "corebrain"


@dataclass(frozen=True)
class CorebrainPaths:
    home: Path
    lake_root: Path | None = None  # production: ``COREBRAIN_LAKE``; else ``home / "lake"``

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
        return self.lake_root or self.home / "lake"

    @property
    def state_roots(self) -> tuple[Path, ...]:
        """Every folder that holds corebrain state: the home, and the lake when it lives outside the
        home (production ``COREBRAIN_LAKE``). Whatever must see all state (erasure) walks these."""
        return (self.home,) if self.lake.is_relative_to(self.home) else (self.home, self.lake)

    def state_name(self, path: Path) -> str:
        """How reports name a state file: relative to the home; a file of a lake outside the home as
        ``lake/<path in the lake>``, the name it has when the lake is ``$COREBRAIN_HOME/lake``, so
        reports read the same under every profile. A path outside every root stays absolute."""
        if path.is_relative_to(self.home):
            return path.relative_to(self.home).as_posix()
        if path.is_relative_to(self.lake):
            return (Path("lake") / path.relative_to(self.lake)).as_posix()
        return path.as_posix()

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
    def local_mlflow_uri(self) -> str:
        """The embedded store of the local profile (SQLite under the home)."""
        return f"sqlite:///{self.mlflow_db}"

    @property
    def mlflow_tracking_uri(self) -> str:
        """The one way every part reads the tracking URI: ``COREBRAIN_MLFLOW_TRACKING_URI`` (production:
        a tracking server), else the local SQLite store."""
        return os.environ.get(MLFLOW_URI_ENV) or self.local_mlflow_uri

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


_EXPORTED: dict[str, str] = {}


def _operator_set(name: str) -> str | None:
    """An environment variable as the operator set it: not a value an earlier call in this process
    exported (a test or the CLI may then point ``COREBRAIN_HOME`` elsewhere)."""
    value = os.environ.get(name)
    return None if not value or value == _EXPORTED.get(name) else value


def current_paths() -> CorebrainPaths:
    """The paths of the installation this environment names; the lake moves only in production."""
    lake = _operator_set("COREBRAIN_LAKE") if current_profile() == PRODUCTION else None
    return CorebrainPaths(corebrain_home(), Path(lake).expanduser().resolve() if lake else None)


class DagsterHomeConflict(RuntimeError):
    """``COREBRAIN_DAGSTER_HOME`` and ``DAGSTER_HOME`` name different folders."""


def dagster_home(paths: CorebrainPaths) -> Path:
    """The folder Dagster will read: ``COREBRAIN_DAGSTER_HOME``, else an exported ``DAGSTER_HOME``,
    else ``$COREBRAIN_HOME/dagster_home``. Both set to different folders is an error: Dagster reads
    ``DAGSTER_HOME`` while corebrain would configure the other, and the settings would drop silently."""
    ours = os.environ.get("COREBRAIN_DAGSTER_HOME")
    theirs = _operator_set("DAGSTER_HOME")
    if ours and theirs and Path(ours).expanduser().resolve() != Path(theirs).expanduser().resolve():
        raise DagsterHomeConflict(
            f"COREBRAIN_DAGSTER_HOME={ours} but DAGSTER_HOME={theirs}: Dagster reads DAGSTER_HOME. "
            "Set them to the same folder, or unset one.")
    chosen = ours or theirs
    return Path(chosen).expanduser().resolve() if chosen else paths.dagster_home


def prepare_environment(paths: CorebrainPaths | None = None) -> CorebrainPaths:
    """Create the folders, write ``dagster.yaml`` and export the environment every tool reads.

    Idempotent; called by the CLI, the Dagster definitions and the tests. ``dagster.yaml`` goes to
    the folder Dagster reads (:func:`dagster_home`), written once for the profile: an operator's file
    is kept, only missing keys are added (``pipelines.instance_config``). The production profile
    first checks its environment and says what is missing (``pipelines.profiles``).
    """
    from pipelines.instance_config import ensure_dagster_yaml

    profile = current_profile()
    require_profile_environment(profile, os.environ)
    paths = (paths or current_paths()).ensure()
    home = dagster_home(paths)
    ensure_dagster_yaml(home, profile=profile)
    os.environ["COREBRAIN_HOME"] = str(paths.home)
    os.environ["DAGSTER_HOME"] = _EXPORTED["DAGSTER_HOME"] = str(home)
    os.environ["COREBRAIN_LAKE"] = _EXPORTED["COREBRAIN_LAKE"] = str(paths.lake)
    os.environ["COREBRAIN_WAREHOUSE"] = str(paths.warehouse)
    # absolute, under the home: dbt runs from dbt_project/ and Python from the repo, so a relative
    # default sent them to two different Spark catalogs
    os.environ.setdefault("COREBRAIN_SPARK_WAREHOUSE", str(paths.home / "spark-warehouse"))
    os.environ["MLFLOW_TRACKING_URI"] = paths.mlflow_tracking_uri
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ.setdefault("DO_NOT_TRACK", "1")
    return paths
