"""The Dagster instance settings corebrain depends on: written once where Dagster reads them, never
overwriting an operator's edit, and checked before the code location loads.

What must hold (``REQUIRED``): pool ``duckdb`` (every step that opens the warehouse) runs one step at
a time (``concurrency: pools: default_limit: 1``), with op granularity (``run`` would leave the
executor unlimited); run monitoring frees the slots of runs that ended without releasing them;
telemetry and the UI's first-run community pop-up (``nux``) are off. ``ensure_dagster_yaml`` writes the file when there is none, adds only the keys
an existing one lacks (with a warning) and never changes a value an operator set;
``require_single_writer_pool`` refuses to load the code location when the instance would let two
steps write the DuckDB file at once, saying what to add.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

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


def ensure_dagster_yaml(dagster_home: Path, warn=None) -> list[str]:
    """Write ``dagster.yaml`` if absent; else add only what it lacks. Returns the keys added."""
    warn = warn or (lambda message: print(f"corebrain: {message}", file=sys.stderr))
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    if not path.exists():
        path.write_text(DAGSTER_YAML)
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
    if not missing:
        return []
    added = [".".join(p) for p in missing]
    backup = path.with_name("dagster.yaml.before-corebrain")
    if not backup.exists():
        backup.write_text(text)
    path.write_text("# keys added by corebrain: " + ", ".join(added) + f" (your file as it was: {backup.name})\n"
                    + yaml.safe_dump(merged(config, missing), sort_keys=False))
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
