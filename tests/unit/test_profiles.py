"""The two profiles (issue 14, item 1): ``local`` unchanged by default, ``production`` configured only
from the environment, with clear errors for what is missing, and every setting in the README's one table."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pipelines.instance_config import (
    DAGSTER_YAML,
    InstanceConfigError,
    ensure_dagster_yaml,
    env_references,
    has_postgres_storage,
    missing_keys,
    production_problems,
    template,
)
from pipelines.mlflow_server import backend_store_uri, server_command
from pipelines.profiles import (
    DAGSTER_PG_ENV,
    MLFLOW_URI_ENV,
    PRODUCTION,
    SETTINGS,
    ProfileError,
    current_profile,
    max_concurrent_runs,
)
from pipelines.profiles import production_problems as env_problems

REPO_ROOT = Path(__file__).resolve().parents[2]
PG = "postgresql+psycopg2://dagster:s3cret@db:5432/dagster"
PRODUCTION_ENV = {"COREBRAIN_PROFILE": "production", DAGSTER_PG_ENV: PG, MLFLOW_URI_ENV: "http://mlflow:5000"}


def test_local_is_the_default_and_an_unknown_profile_names_the_choices():
    assert current_profile({}) == "local" and current_profile({"COREBRAIN_PROFILE": " Production "}) == PRODUCTION
    with pytest.raises(ProfileError, match="local, production"):
        current_profile({"COREBRAIN_PROFILE": "prod"})


def test_production_says_what_to_set():
    assert env_problems(PRODUCTION_ENV) == []
    missing = " ".join(env_problems({"COREBRAIN_PROFILE": "production"}))
    assert DAGSTER_PG_ENV in missing and MLFLOW_URI_ENV in missing
    sqlite = env_problems({**PRODUCTION_ENV, MLFLOW_URI_ENV: "sqlite:///x.db"})
    assert len(sqlite) == 1 and "tracking server" in sqlite[0]
    plain = env_problems({**PRODUCTION_ENV, DAGSTER_PG_ENV: "postgresql://u:pw@db/dagster"})
    assert len(plain) == 1 and "postgresql+psycopg2://" in plain[0] and "pw" not in plain[0]
    assert env_problems({**PRODUCTION_ENV, "COREBRAIN_MAX_CONCURRENT_RUNS": "0"})
    assert max_concurrent_runs({"COREBRAIN_MAX_CONCURRENT_RUNS": "4"}) == 4 and max_concurrent_runs({}) == 10


def test_the_production_instance_loads_through_dagsters_schema_with_no_secret_in_it(tmp_path, monkeypatch):
    from dagster._core.instance.config import dagster_instance_config

    for key, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COREBRAIN_MAX_CONCURRENT_RUNS", "7")
    ensure_dagster_yaml(tmp_path, profile=PRODUCTION)
    text = (tmp_path / "dagster.yaml").read_text()
    assert "s3cret" not in text and "db:5432" not in text
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["storage"] == {"postgres": {"postgres_url": {"env": DAGSTER_PG_ENV}}}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"] == {"runs": {"max_concurrent_runs": 7}, "pools": {"default_limit": 1}}
    assert env_references(config) == {DAGSTER_PG_ENV}


def test_production_refuses_sqlite_storage_a_written_password_and_an_unset_env_name(tmp_path, monkeypatch):
    for key, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(key, value)
    assert production_problems({"storage": {"sqlite": {"base_dir": "/x"}}})[0].startswith("storage is 'sqlite'")
    assert "environment" in production_problems({"storage": {"postgres": {"postgres_url": PG}}})[0]
    assert production_problems({"storage": {"postgres": {"postgres_db": {"password": "pw"}}}})
    (tmp_path / "dagster.yaml").write_text("storage:\n  sqlite:\n    base_dir: /tmp/x\n")
    with pytest.raises(InstanceConfigError, match="not postgres"):
        ensure_dagster_yaml(tmp_path, profile=PRODUCTION)
    (tmp_path / "dagster.yaml").write_text("storage:\n  postgres:\n    postgres_url:\n      env: OTHER_PG_URL\n")
    with pytest.raises(InstanceConfigError, match="OTHER_PG_URL is not set"):
        ensure_dagster_yaml(tmp_path, profile=PRODUCTION)


def _split_storage(**overrides) -> dict:
    """The storage the Helm chart renders: run, event log and schedule storage on dagster-postgres."""
    db = {"postgres_db": {"username": "dagster", "password": {"env": "DAGSTER_PG_PASSWORD"}, "hostname": "db",
                          "db_name": "dagster", "port": 5432}}
    config = {key: {"module": f"dagster_postgres.{module}", "class": cls, "config": db}
              for key, module, cls in (("run_storage", "run_storage", "PostgresRunStorage"),
                                       ("event_log_storage", "event_log", "PostgresEventLogStorage"),
                                       ("schedule_storage", "schedule_storage", "PostgresScheduleStorage"))}
    config.update(overrides)
    return config


def test_the_charts_split_postgres_storage_counts_as_postgres_storage():
    assert has_postgres_storage(_split_storage()) and production_problems(_split_storage()) == []
    sqlite_runs = _split_storage(run_storage={"module": "dagster.core.storage.runs", "class": "SqliteRunStorage",
                                              "config": {"base_dir": "/x"}})
    assert not has_postgres_storage(sqlite_runs) and "run_storage is not on dagster-postgres" in \
        production_problems(sqlite_runs)[0]
    partial = {"run_storage": _split_storage()["run_storage"]}
    assert not has_postgres_storage(partial)
    assert "event_log_storage, schedule_storage are not" in production_problems(partial)[0]
    both = _split_storage(storage={"postgres": {"postgres_url": {"env": DAGSTER_PG_ENV}}})
    assert "both storage and" in production_problems(both)[0]
    written = _split_storage()
    written["event_log_storage"]["config"] = {"postgres_db": {"password": "pw"}}
    assert production_problems(written) == ["event_log_storage.postgres_db.password is written into the file: "
                                            "use password: env: NAME"]


def test_every_template_holds_every_required_key_and_local_is_unchanged():
    """The defect: the production template lacked ``nux`` (required since issue 10), so every production
    install rewrote its dagster.yaml on the second start."""
    assert template("local") == DAGSTER_YAML
    for profile in ("local", PRODUCTION):
        assert missing_keys(yaml.safe_load(template(profile, PRODUCTION_ENV))) == {}, profile


def test_a_production_dagster_yaml_written_by_corebrain_is_not_rewritten_on_the_second_prepare(tmp_path, monkeypatch):
    from pipelines.settings import prepare_environment

    monkeypatch.setenv("COREBRAIN_HOME", str(tmp_path / "home"))
    for var in ("DAGSTER_HOME", "COREBRAIN_DAGSTER_HOME", "COREBRAIN_LAKE", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)
    for key, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(key, value)
    warnings: list[str] = []
    paths = prepare_environment()
    path = paths.dagster_home / "dagster.yaml"
    first = path.read_text()
    assert ensure_dagster_yaml(paths.dagster_home, warn=warnings.append, profile=PRODUCTION) == []
    prepare_environment()
    assert path.read_text() == first and warnings == []
    assert not (paths.dagster_home / "dagster.yaml.before-corebrain").exists()


def test_a_file_that_lacks_a_key_and_cannot_be_written_names_the_key(tmp_path, monkeypatch):
    """The chart's ConfigMap is read-only: corebrain says what to add there instead of crashing."""
    from pathlib import Path as _Path

    for key, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "from-the-secret")
    config = {**_split_storage(), "telemetry": {"enabled": False},
              "concurrency": {"pools": {"default_limit": 1}},
              "run_monitoring": {"enabled": True, "free_slots_after_run_end_seconds": 300}}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))

    def read_only(self, *args, **kwargs):          # root ignores file modes; a ConfigMap mount is EROFS
        raise OSError(30, "Read-only file system", str(self))

    monkeypatch.setattr(_Path, "write_text", read_only)
    with pytest.raises(InstanceConfigError, match=r"lacks nux\.enabled .*Read-only file system.*additionalInstanceConfig"):
        ensure_dagster_yaml(tmp_path, profile=PRODUCTION)


def test_a_local_file_switched_to_production_gets_postgres_storage_and_keeps_the_operators_keys(tmp_path, monkeypatch):
    for key, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(key, value)
    ensure_dagster_yaml(tmp_path)                                    # the local profile's file
    assert "storage" not in yaml.safe_load((tmp_path / "dagster.yaml").read_text())
    added = ensure_dagster_yaml(tmp_path, profile=PRODUCTION, warn=lambda _: None)
    config = yaml.safe_load((tmp_path / "dagster.yaml").read_text())
    assert added == ["storage"] and config["storage"]["postgres"]["postgres_url"] == {"env": DAGSTER_PG_ENV}
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert yaml.safe_load(template("local")) == yaml.safe_load((tmp_path / "dagster.yaml.before-corebrain").read_text())


def test_prepare_environment_in_production(tmp_path, monkeypatch):
    from pipelines.resources.mlflow_tracking import MlflowTracking, mlflow_tracking_resource
    from pipelines.settings import current_paths, prepare_environment

    monkeypatch.setenv("COREBRAIN_HOME", str(tmp_path / "home"))
    for var in ("DAGSTER_HOME", "COREBRAIN_DAGSTER_HOME", "COREBRAIN_LAKE", MLFLOW_URI_ENV, "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COREBRAIN_PROFILE", "production")
    with pytest.raises(ProfileError, match=DAGSTER_PG_ENV):
        prepare_environment()
    for key, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COREBRAIN_LAKE", str(tmp_path / "shared" / "lake"))
    paths = prepare_environment()
    assert paths.lake == (tmp_path / "shared" / "lake").resolve() and paths.lake.is_dir()
    assert paths.home == (tmp_path / "home").resolve()
    # one way to the tracking URI: the resource, the paths (demo, serve) and the exported variable agree
    assert MlflowTracking().resolved_tracking_uri() == current_paths().mlflow_tracking_uri == "http://mlflow:5000"
    import os

    assert os.environ["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert MlflowTracking().resolved_artifact_root() is None          # the server proxies artifacts
    resource = mlflow_tracking_resource()
    assert isinstance(resource.tracking_uri, dg.EnvVar) and resource.tracking_uri.env_var_name == MLFLOW_URI_ENV


def test_local_ignores_an_exported_lake_and_keeps_its_own_mlflow_store(tmp_path, monkeypatch):
    from pipelines.resources.mlflow_tracking import MlflowTracking
    from pipelines.settings import current_paths

    monkeypatch.setenv("COREBRAIN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COREBRAIN_PROFILE", raising=False)
    monkeypatch.delenv(MLFLOW_URI_ENV, raising=False)
    monkeypatch.setenv("COREBRAIN_LAKE", str(tmp_path / "elsewhere"))
    paths = current_paths()
    assert paths.lake == (tmp_path / "home").resolve() / "lake"
    assert MlflowTracking().resolved_tracking_uri() == paths.mlflow_tracking_uri == paths.local_mlflow_uri
    assert MlflowTracking().resolved_artifact_root() == paths.mlflow_artifacts.as_uri()


def test_the_mlflow_server_command_uses_the_installed_driver_and_stays_on_localhost(tmp_path):
    command = server_command("postgresql://m@db:5432/mlflow", "/srv/artifacts", 5005, tmp_path)
    assert command[:2] == [str(tmp_path / "mlflow"), "server"]
    assert command[command.index("--backend-store-uri") + 1] == "postgresql+psycopg2://m@db:5432/mlflow"
    assert command[command.index("--artifacts-destination") + 1] == "/srv/artifacts"
    assert command[command.index("--host") + 1] == "127.0.0.1" and command[command.index("--workers") + 1] == "1"
    assert backend_store_uri("postgresql+psycopg2://x/y") == "postgresql+psycopg2://x/y"


def _readme_settings() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("\n## Production\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(COREBRAIN_[A-Z0-9_]+)` \|", section, flags=re.MULTILINE)


def test_every_setting_is_in_the_one_readme_table():
    """Every COREBRAIN_* variable the code or the dbt project reads is in SETTINGS, and the README's
    Production table lists exactly SETTINGS (internal hand-overs excepted)."""
    internal_prefixes = ("COREBRAIN_DBT_", "COREBRAIN_TEST_")  # the dbt window, test hooks
    internal = {"COREBRAIN_DBT", "COREBRAIN_INGEST", "COREBRAIN_TRAIN_CONFIG"}  # prefixes, the Pipes hand-over
    read = set()
    for path in [*(REPO_ROOT / "pipelines").rglob("*.py"), *(REPO_ROOT / "dbt_project").rglob("*.yml"),
                 *(REPO_ROOT / "dbt_project").rglob("*.sql")]:
        if not path.is_file() or {"target", "logs", "dbt_packages"} & set(path.relative_to(REPO_ROOT).parts):
            continue  # dbt's generated output (a folder may be named like a model file)
        read |= set(re.findall(r"COREBRAIN_[A-Z0-9_]*[A-Z0-9]", path.read_text()))
    names = [s.name for s in SETTINGS]
    undocumented = sorted(n for n in read - internal - set(names) if not n.startswith(internal_prefixes))
    assert undocumented == [], f"add these to pipelines/profiles.py SETTINGS and the README table: {undocumented}"
    assert _readme_settings() == names, "the README's Production table must list pipelines/profiles.py SETTINGS"
