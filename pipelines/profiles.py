"""The two profiles (``COREBRAIN_PROFILE``) and every setting corebrain reads from the environment.

``local`` (the default) is the embedded product: a Dagster instance on SQLite, MLflow on SQLite with
local artifacts, the DuckDB warehouse and the lake under ``$COREBRAIN_HOME``. ``production`` swaps
configuration, not code: Dagster's run, event and schedule storage on Postgres with a run queue,
MLflow through a tracking server (Postgres backend, proxied artifacts), the dbt target and the lake
from the environment. Secrets (database URLs with passwords) come only from the environment:
``dagster.yaml`` names them with ``env:`` keys and the resources take ``dg.EnvVar``.

``SETTINGS`` is the one list of settings; the README's "Production" table is checked against it
(``tests/unit/test_profiles.py``). Pure: no Dagster, dbt or MLflow imports.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

PROFILE_ENV = "COREBRAIN_PROFILE"
LOCAL, PRODUCTION = "local", "production"
PROFILES = (LOCAL, PRODUCTION)
DAGSTER_PG_ENV = "COREBRAIN_DAGSTER_PG_URL"
MLFLOW_URI_ENV = "COREBRAIN_MLFLOW_TRACKING_URI"
MAX_RUNS_ENV = "COREBRAIN_MAX_CONCURRENT_RUNS"
DEFAULT_MAX_RUNS = 10
PG_DRIVER = "postgresql+psycopg2"  # the driver the production extra installs (psycopg2-binary)


class ProfileError(RuntimeError):
    """The profile is unknown, or the production profile lacks a setting it needs."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    what: str


SETTINGS: tuple[Setting, ...] = (
    Setting(PROFILE_ENV, "`local`", "`local`: everything embedded under `$COREBRAIN_HOME`; `production`: "
            "Dagster on Postgres with a run queue, MLflow through a tracking server, the lake from "
            "`COREBRAIN_LAKE`; refuses to start while a production setting below is missing"),
    Setting("COREBRAIN_HOME", "`./.corebrain`", "the state folder: landing files, lake, warehouse, shards, "
            "local MLflow store, Dagster home"),
    Setting("COREBRAIN_LAKE", "`$COREBRAIN_HOME/lake`", "production: the lake folder (a shared volume); "
            "local: always under the home"),
    Setting("COREBRAIN_WAREHOUSE", "`$COREBRAIN_HOME/warehouse.duckdb`", "the DuckDB warehouse file (set by "
            "corebrain from the home; dbt's `local` target reads it)"),
    Setting("COREBRAIN_TARGET", "`local`", "the dbt target in `dbt_project/profiles.yml`: `local` = the "
            "DuckDB file, `spark` = dbt-spark (also picks the warehouse Python reads, `pipelines/warehouse`)"),
    Setting("COREBRAIN_DUCKDB_THREADS", "`2`", "DuckDB threads for dbt and ingest"),
    Setting("COREBRAIN_DUCKDB_MEMORY", "`2GB`", "DuckDB memory limit for dbt"),
    Setting("COREBRAIN_DAGSTER_HOME", "`$DAGSTER_HOME`, else `$COREBRAIN_HOME/dagster_home`",
            "the folder with `dagster.yaml` (written once per profile; an operator's keys are kept)"),
    Setting(DAGSTER_PG_ENV, "none (production: required)", "production: Postgres URL of the Dagster run, "
            "event and schedule storage (`postgresql+psycopg2://user:password@host:5432/db`: name the driver); a secret, named in "
            "`dagster.yaml` as `env:`, never written there"),
    Setting(MAX_RUNS_ENV, f"`{DEFAULT_MAX_RUNS}`", "production: the run queue's `max_concurrent_runs`, "
            "written into `dagster.yaml` when corebrain creates it"),
    Setting(MLFLOW_URI_ENV, "`sqlite:///$COREBRAIN_HOME/mlflow.db`", "the MLflow tracking URI every part "
            "uses (pipeline, demo, serve); production: required, the tracking server's `http(s)://` URL"),
    Setting("COREBRAIN_MLFLOW_ARTIFACT_ROOT", "local: `$COREBRAIN_HOME/mlartifacts`; production: the "
            "server's (proxied)", "artifact location of a new experiment"),
    Setting("COREBRAIN_MLFLOW_BACKEND_URI", "none", "`corebrain mlflow-server`: the server's backend store "
            "(`postgresql://...`); a secret"),
    Setting("COREBRAIN_MLFLOW_ARTIFACTS_DESTINATION", "`$COREBRAIN_HOME/mlartifacts`",
            "`corebrain mlflow-server`: where the server stores the artifacts it proxies (a folder or "
            "`s3://...`)"),
    Setting("COREBRAIN_START_DATE", "`2025-01-01`", "the first daily partition"),
    Setting("COREBRAIN_LANDING_SENSOR", "off", "`on`: the landing sensor starts running"),
    Setting("COREBRAIN_INGEST_MIN_FILE_AGE_S", "`0`", "ingest skips landing files younger than this"),
    Setting("COREBRAIN_INGEST_MISSING_DAY", "`warn`", "`warn` or `fail` on a day without landing files"),
    Setting("COREBRAIN_INGEST_MEMORY", "`1GB`", "DuckDB memory limit of one ingest"),
    Setting("COREBRAIN_INGEST_FUTURE_SKEW_HOURS", "`24`", "events further in the future are quarantined"),
    Setting("COREBRAIN_INGEST_TS_FLOOR", "`2000-01-01`", "events before this are quarantined"),
    Setting("COREBRAIN_INGEST_QUARANTINE_THRESHOLD", "`0.05`", "a day with a larger quarantined share "
            "fails ingest's blocking check"),
    Setting("COREBRAIN_SPARK_MASTER", "`local[2]`", "Spark master (`local[N]`, or a cluster's)"),
    Setting("COREBRAIN_SPARK_WAREHOUSE", "`$COREBRAIN_HOME/spark-warehouse`", "Spark's table files and the "
            "embedded Derby catalog"),
    Setting("COREBRAIN_SPARK_SCHEMA", "`corebrain`", "the Spark database the models go to"),
    Setting("COREBRAIN_SPARK_SHUFFLE_PARTITIONS", "`4`", "`spark.sql.shuffle.partitions` (1 for tiny lakes)"),
    Setting("COREBRAIN_SPARK_DRIVER_MEMORY", "`2g`", "`spark.driver.memory`"),
    Setting("COREBRAIN_NPROC_PER_NODE", "`1`", "training processes per node (torchrun, DDP on gloo; "
            "`batch_size` is the global batch) when the launchpad's `nproc_per_node` is 0"),
    Setting("COREBRAIN_TRAINING_LAUNCHER", "`subprocess`", "`k8s`: `core_model` trains in its own pod "
            "through dagster-k8s's `PipesK8sClient` (docs/production-kubernetes.md)"),
    Setting("COREBRAIN_TRAINING_IMAGE", "none (needed with `k8s`)", "the training pod's image"),
    Setting("COREBRAIN_TRAINING_POD_FILE", "`deploy/k8s/training-pod.yaml`", "the Pod manifest whose spec "
            "is the base of the training pod"),
)


def current_profile(env: Mapping[str, str] | None = None) -> str:
    """``COREBRAIN_PROFILE`` (default ``local``); an unknown name is an error that lists the choices."""
    env = os.environ if env is None else env
    name = (env.get(PROFILE_ENV) or LOCAL).strip().lower()
    if name not in PROFILES:
        raise ProfileError(f"{PROFILE_ENV}={env.get(PROFILE_ENV)!r} is not a profile: use one of "
                           f"{', '.join(PROFILES)} (unset means {LOCAL})")
    return name


def production_problems(env: Mapping[str, str]) -> list[str]:
    """What the production profile lacks in ``env``: one line per setting, saying what to set."""
    problems = []
    pg = env.get(DAGSTER_PG_ENV) or ""
    if not pg:
        problems.append(f"{DAGSTER_PG_ENV} is not set: the Postgres URL of the Dagster instance, e.g. "
                        f"{PG_DRIVER}://dagster:PASSWORD@db:5432/dagster")
    elif pg.startswith(("postgresql://", "postgres://")):
        problems.append(f"{DAGSTER_PG_ENV} must name the driver: {PG_DRIVER}://... (SQLAlchemy 2.1 reads a plain "
                        "postgresql:// as psycopg 3, which is not installed; psycopg2 is)")
    uri = env.get(MLFLOW_URI_ENV) or ""
    if not uri:
        problems.append(f"{MLFLOW_URI_ENV} is not set: the MLflow tracking server, e.g. http://mlflow:5000 "
                        "(`corebrain mlflow-server` starts one on Postgres)")
    elif not uri.startswith(("http://", "https://")):
        problems.append(f"{MLFLOW_URI_ENV}={uri.split('@')[-1]!r} is not a tracking server: production "
                        "tracks to `http(s)://` (a server with a Postgres backend and proxied artifacts), "
                        "so that every run and pod reads one registry")
    max_runs = env.get(MAX_RUNS_ENV)
    if max_runs is not None and not _is_run_limit(max_runs):
        problems.append(f"{MAX_RUNS_ENV}={max_runs!r} must be a whole number >= 1 (or -1: no limit)")
    return problems


def _is_run_limit(value: str) -> bool:
    try:
        number = int(value)
    except ValueError:
        return False
    return number >= 1 or number == -1


def require_profile_environment(profile: str, env: Mapping[str, str]) -> None:
    if profile == PRODUCTION and (problems := production_problems(env)):
        raise ProfileError(f"{PROFILE_ENV}=production needs: " + "; ".join(problems)
                           + " (every setting: README, Production)")


def max_concurrent_runs(env: Mapping[str, str]) -> int:
    value = env.get(MAX_RUNS_ENV)
    return int(value) if value and _is_run_limit(value) else DEFAULT_MAX_RUNS
