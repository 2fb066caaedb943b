"""The gate's rules as data: ``rules.yaml`` beside this module, a launchpad override, and their hash.

The hash is taken over the effective rules (file + override, canonical JSON), so two decisions with
the same hash were judged by exactly the same rule, whatever file or override produced it.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

RULES_FILE = Path(__file__).with_name("rules.yaml")


class RulesError(ValueError):
    """The rules (file or override) are malformed; the message says which key."""


def merge(base: dict, override: dict, where: str = "") -> dict:
    """``base`` with ``override`` merged key by key; an unknown key is an error (a typo must not be
    silently ignored by a gate)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in out:
            raise RulesError(f"unknown rules key {path!r}; known here: {sorted(out)}")
        if isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = merge(out[key], value, path)
        elif isinstance(out[key], dict):
            raise RulesError(f"rules key {path!r} is a mapping, got {value!r}")
        else:
            out[key] = value
    return out


def parse_override(text: str) -> dict:
    """The launchpad's override: YAML or JSON text of a mapping ('' = none)."""
    if not text or not text.strip():
        return {}
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError(f"rules_override is not valid YAML/JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise RulesError(f"rules_override must be a mapping, got {type(value).__name__}")
    return value


def load_rules(override: dict | str | None = None, path: Path = RULES_FILE) -> dict:
    """The effective rules: the YAML file with ``override`` (a mapping or YAML text) merged in."""
    try:
        base = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"cannot read the gate rules {path}: {exc}") from exc
    if not isinstance(base, dict):
        raise RulesError(f"{path}: the rules must be a mapping")
    extra = parse_override(override) if isinstance(override, str) else (override or {})
    rules = merge(base, extra)
    validate(rules)
    return rules


def validate(rules: dict) -> None:
    """Refuse values the rule cannot mean (a negative margin, a confidence outside (0.5, 1))."""
    conf = rules["bootstrap"]["confidence"]
    if not 0.5 < float(conf) < 1:
        raise RulesError(f"bootstrap.confidence must be in (0.5, 1), got {conf}")
    if int(rules["bootstrap"]["resamples"]) < 100:
        raise RulesError("bootstrap.resamples must be at least 100")
    for name, task in rules["tasks"].items():
        floor_conf = (task.get("floor") or {}).get("confidence")
        if floor_conf is not None and not 0.5 < float(floor_conf) < 1:
            raise RulesError(f"tasks.{name}.floor.confidence must be in (0.5, 1), got {floor_conf}")
        if float(task["non_inferiority_margin"]) < 0:
            raise RulesError(f"tasks.{name}.non_inferiority_margin must be >= 0")
    if float(rules["segments"]["non_inferiority_margin"]) < 0:
        raise RulesError("segments.non_inferiority_margin must be >= 0")
    if float(rules["infra"]["latency_budget_s"]) < 0 or int(rules["infra"]["batch_histories"]) < 1:
        raise RulesError("infra.latency_budget_s must be >= 0 and infra.batch_histories >= 1")
    if int(rules["ratchet"]["last_n"]) < 0:
        raise RulesError("ratchet.last_n must be >= 0")


def rules_hash(rules: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the effective rules."""
    return hashlib.sha256(json.dumps(rules, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
