"""The Dagster instance settings corebrain depends on: written once where Dagster reads them, never
overwriting an operator's edit, and checked before the code location loads.

What must hold (``REQUIRED``): pool ``duckdb`` (every step that opens the warehouse) runs one step at
a time (``concurrency: pools: default_limit: 1``), with op granularity (``run`` would leave the
executor unlimited); run monitoring frees the slots of runs that ended without releasing them;
telemetry and the UI's first-run community pop-up (``nux``) are off. ``ensure_dagster_yaml`` writes the file when there is none, adds only the keys
an existing one lacks (with a warning) and never changes a value an operator set;
``require_single_writer_pool`` refuses to load the code location when the instance would let two
steps write the DuckDB file at once, saying what to add.

The production profile (``pipelines.profiles``) writes ``PRODUCTION_DAGSTER_YAML`` instead: run, event
and schedule storage on Postgres (``dagster-postgres``; the URL only as ``env: COREBRAIN_DAGSTER_PG_URL``),
the ``QueuedRunCoordinator`` with ``concurrency.runs.max_concurrent_runs``, and the same pools: every
pool the code uses (``duckdb``, ``ingest``, ``training``, ``gate``) gets ``default_limit`` 1, which
``duckdb`` must keep. An existing file must then use Postgres storage, and may not hold a password:
``storage: postgres:`` or the form Dagster's Helm chart renders (``run_storage``, ``event_log_storage``
and ``schedule_storage`` all on dagster-postgres). A file that already holds everything is never
written (the chart's is a read-only ConfigMap); one that lacks a key and cannot be written is an error
that names the key.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from pipelines.profiles import DAGSTER_PG_ENV, LOCAL, PRODUCTION, max_concurrent_runs

DAGSTER_YAML = """\
# written by corebrain once; edit freely: corebrain adds missing keys, never changes yours
# one writer per DuckDB file: every step that touches it is in pool "duckdb"
telemetry:
  enabled: false
# no first-run community pop-up in the UI (it covers the asset graph on a new install)
nux:
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

PRODUCTION_DAGSTER_YAML = """\
# written by corebrain once for COREBRAIN_PROFILE=production; edit freely: corebrain adds missing
# keys, never changes yours. Secrets come from the environment (env: keys), never from this file.
telemetry:
  enabled: false
# no first-run community pop-up in the UI (it covers the asset graph on a new install)
nux:
  enabled: false
storage:
  postgres:
    postgres_url:
      env: {pg_env}
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
concurrency:
  runs:
    max_concurrent_runs: {max_runs}
  # one writer per DuckDB file: every step that touches it is in pool "duckdb"; pools "ingest",
  # "training" and "gate" get the same default (raise one with `dagster instance concurrency set`)
  pools:
    default_limit: 1
run_monitoring:
  enabled: true
  free_slots_after_run_end_seconds: 300
"""

REQUIRED: dict[tuple[str, ...], Any] = {
    ("telemetry", "enabled"): False,
    ("nux", "enabled"): False,
    ("concurrency", "pools", "default_limit"): 1,
    ("run_monitoring", "enabled"): True,
    ("run_monitoring", "free_slots_after_run_end_seconds"): 300,
}

POOL_FIX = "concurrency:\n  pools:\n    default_limit: 1"


class InstanceConfigError(RuntimeError):
    """The Dagster instance's settings would break the single-writer guarantee."""


def _get(config: dict, path: tuple[str, ...]) -> Any:
    node: Any = config
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return KeyError
        node = node[key]
    return node


def missing_keys(config: dict) -> dict[tuple[str, ...], Any]:
    """The required keys the config does not set at all (a key set to another value is not missing)."""
    return {path: value for path, value in REQUIRED.items() if _get(config, path) is KeyError}


def merged(config: dict, missing: dict[tuple[str, ...], Any]) -> dict:
    out = dict(config)
    for path, value in missing.items():
        node = out
        for key in path[:-1]:
            child = node.get(key)
            node[key] = dict(child) if isinstance(child, dict) else {}
            node = node[key]
        node[path[-1]] = value
    return out


def production_storage() -> dict:
    return {"postgres": {"postgres_url": {"env": DAGSTER_PG_ENV}}}


def template(profile: str, env: Mapping[str, str] | None = None) -> str:
    """The ``dagster.yaml`` corebrain writes for a profile."""
    if profile != PRODUCTION:
        return DAGSTER_YAML
    return PRODUCTION_DAGSTER_YAML.format(pg_env=DAGSTER_PG_ENV,
                                          max_runs=max_concurrent_runs(os.environ if env is None else env))


def env_references(config: Any) -> set[str]:
    """Every environment variable the config reads through an ``env:`` key."""
    if isinstance(config, dict):
        if set(config) == {"env"} and isinstance(config["env"], str):
            return {config["env"]}
        return set().union(*(env_references(v) for v in config.values())) if config else set()
    if isinstance(config, list):
        return set().union(*(env_references(v) for v in config)) if config else set()
    return set()


SPLIT_STORAGE = ("run_storage", "event_log_storage", "schedule_storage")


def _is_postgres_section(section: Any) -> bool:
    """A ``run_storage``/``event_log_storage``/``schedule_storage`` block of dagster-postgres (the
    Helm chart's form: ``module: dagster_postgres.run_storage``, ``class: PostgresRunStorage``)."""
    if not isinstance(section, dict):
        return False
    if "postgres" in section:  # the short form: run_storage: postgres: ...
        return True
    return str(section.get("module", "")).startswith("dagster_postgres") or \
        str(section.get("class", "")).startswith("Postgres")


def _postgres_settings(section: Any) -> dict:
    """The Postgres settings (``postgres_url`` / ``postgres_db``) of one storage block, either form."""
    if not isinstance(section, dict):
        return {}
    inner = section.get("postgres", section.get("config"))
    return inner if isinstance(inner, dict) else {}


def _secret_problems(where: str, pg: dict) -> list[str]:
    problems = []
    if isinstance(pg.get("postgres_url"), str) and "@" in pg["postgres_url"]:
        problems.append(f"{where}.postgres_url is written into the file: read it from the environment "
                        f"(postgres_url: env: {DAGSTER_PG_ENV})")
    db = pg.get("postgres_db")
    password = db.get("password") if isinstance(db, dict) else None
    if isinstance(password, str) and password:
        problems.append(f"{where}.postgres_db.password is written into the file: use password: env: NAME")
    return problems


def has_postgres_storage(config: dict) -> bool:
    """Runs, events and schedules are kept in Postgres: ``storage: postgres:`` (corebrain's form) or
    all three of ``run_storage``, ``event_log_storage``, ``schedule_storage`` on dagster-postgres
    (the form Dagster's Helm chart renders)."""
    storage = config.get("storage")
    if isinstance(storage, dict) and "postgres" in storage:
        return True
    return all(_is_postgres_section(config.get(key)) for key in SPLIT_STORAGE)


def production_problems(config: dict) -> list[str]:
    """Why this instance config is not a production one: storage other than Postgres, or a secret
    written into the file instead of read from the environment."""
    storage = config.get("storage")
    split = [key for key in SPLIT_STORAGE if key in config]
    if storage is None and not split:
        return []  # missing: corebrain adds Postgres storage
    if storage is not None and split:
        return [f"it sets both storage and {', '.join(split)}: Dagster accepts one form, keep one"]
    if split:
        not_pg = [key for key in SPLIT_STORAGE if not _is_postgres_section(config.get(key))]
        if not_pg:
            return [f"{', '.join(not_pg)} {'is' if len(not_pg) == 1 else 'are'} not on dagster-postgres: the "
                    "production profile keeps runs, events and schedules in Postgres (set all three to "
                    "dagster_postgres, or use storage: postgres: postgres_url: env: " + DAGSTER_PG_ENV + ")"]
        return [p for key in SPLIT_STORAGE for p in _secret_problems(key, _postgres_settings(config[key]))]
    if not isinstance(storage, dict) or "postgres" not in storage:
        kind = next(iter(storage), storage) if isinstance(storage, dict) else storage
        return [f"storage is {kind!r}, not postgres: the production profile keeps runs and events in Postgres "
                f"(storage: postgres: postgres_url: env: {DAGSTER_PG_ENV})"]
    return _secret_problems("storage.postgres", storage["postgres"] or {})


def missing_environment(config: dict, env: Mapping[str, str]) -> list[str]:
    """The ``env:`` variables the config names that are not set (Dagster would fail on them later)."""
    return sorted(name for name in env_references(config) if name not in env)


def _check_production(path: Path, config: dict) -> None:
    problems = production_problems(config) + [
        f"{name} is not set (dagster.yaml reads it)" for name in missing_environment(config, os.environ)]
    if problems:
        raise InstanceConfigError(f"{path} cannot serve COREBRAIN_PROFILE=production: " + "; ".join(problems))


def ensure_dagster_yaml(dagster_home: Path, warn=None, profile: str = LOCAL) -> list[str]:
    """Write ``dagster.yaml`` if absent; else add only what it lacks. Returns the keys added.

    Production also requires Postgres storage (added when the file sets none, in either form) and
    refuses secrets in the file or ``env:`` names that are not set. A complete file is left untouched."""
    warn = warn or (lambda message: print(f"corebrain: {message}", file=sys.stderr))
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    if not path.exists():
        text = template(profile)
        if profile == PRODUCTION:
            _check_production(path, yaml.safe_load(text))
        path.write_text(text)
        return []
    text = path.read_text()
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InstanceConfigError(f"{path} is not valid YAML ({exc}); fix it or delete it to get corebrain's "
                                  "defaults") from None
    if not isinstance(config, dict):
        raise InstanceConfigError(f"{path} must be a YAML mapping; fix it or delete it to get corebrain's defaults")
    missing = missing_keys(config)
    if profile == PRODUCTION:
        _check_production(path, config)
        if not has_postgres_storage(config):
            missing[("storage",)] = production_storage()
    if not missing:
        return []  # the file already satisfies the profile: never rewritten (it may be a read-only ConfigMap)
    added = [".".join(p) for p in missing]
    backup = path.with_name("dagster.yaml.before-corebrain")
    try:
        if not backup.exists():
            backup.write_text(text)
        path.write_text("# keys added by corebrain: " + ", ".join(added) + f" (your file as it was: {backup.name})\n"
                        + yaml.safe_dump(merged(config, missing), sort_keys=False))
    except OSError as exc:
        raise InstanceConfigError(
            f"{path} lacks {', '.join(added)} and corebrain cannot add them ({exc.strerror}; a read-only "
            "ConfigMap?): add them where the file comes from (Helm: additionalInstanceConfig, "
            "docs/production-kubernetes.md)") from None
    warn(f"{path} lacked {', '.join(added)}: added them (nothing you set was changed; before: {backup})")
    return added


def pool_problem(config: dict) -> str | None:
    """Why this instance config does not limit pool ``duckdb`` to one step at a time, or None."""
    pools = _get(config, ("concurrency", "pools"))
    limit = _get(config, ("concurrency", "pools", "default_limit"))
    if limit is KeyError or limit is None:
        return "it sets no concurrency.pools.default_limit (pools are unlimited)"
    if limit != 1:
        return f"concurrency.pools.default_limit is {limit!r}, not 1"
    granularity = pools.get("granularity") if isinstance(pools, dict) else None
    if granularity == "run":
        return "concurrency.pools.granularity is 'run' (the executor would not limit steps)"
    return None


def require_single_writer_pool(dagster_home: Path) -> None:
    """Refuse to load the code location unless the instance at ``dagster_home`` runs pool
    ``duckdb`` one step at a time: without it two runs' dbt steps fail on DuckDB's file lock."""
    path = Path(dagster_home) / "dagster.yaml"
    try:
        config = yaml.safe_load(path.read_text()) if path.exists() else None
    except yaml.YAMLError as exc:
        raise InstanceConfigError(f"{path} is not valid YAML: {exc}") from None
    problem = "there is no dagster.yaml" if config is None else pool_problem(config if isinstance(config, dict)
                                                                             else {})
    if problem:
        raise InstanceConfigError(
            f"corebrain refuses to load: the Dagster instance at {dagster_home} ($DAGSTER_HOME) would let two "
            f"steps write the DuckDB warehouse at once: {problem}. Add to {path}:\n{POOL_FIX}\n"
            "(op granularity, the default), or run any `corebrain` command once, which writes it.")
