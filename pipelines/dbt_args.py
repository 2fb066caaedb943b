"""Pure builders of dbt CLI arguments and vars from Dagster partition windows and configs.

Kept free of Dagster and dbt imports so the rules (inclusive day bounds, validated training window,
deterministic var order) are unit-tested on their own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"not a YYYY-MM-DD date: {value!r}") from exc


def partition_vars(start: date | datetime | str, end: date | datetime | str) -> dict[str, str]:
    """Dagster's half-open time window [start, end) -> dbt vars with inclusive event days.

    A one-day partition 2026-01-01 (start 2026-01-01 00:00, end 2026-01-02 00:00) gives
    ``{"min_date": "2026-01-01", "max_date": "2026-01-01"}``.
    """
    start_day = _as_date(start)
    end_exclusive = end if isinstance(end, datetime) else None
    end_day = _as_date(end)
    # an end at exactly midnight is exclusive; an end inside a day still covers that day
    if end_exclusive is None or (end_exclusive.hour, end_exclusive.minute, end_exclusive.second,
                                 end_exclusive.microsecond) == (0, 0, 0, 0):
        end_day = end_day - timedelta(days=1)
    if end_day < start_day:
        raise ValueError(f"empty partition window: start {start_day} end {end_day + timedelta(days=1)} (exclusive)")
    return {"min_date": start_day.isoformat(), "max_date": end_day.isoformat()}


def training_vars(window_days: int = 30, holdout_days: int = 1,
                  window_end: date | datetime | str | None = None) -> dict[str, Any]:
    """Vars of the training window: the last ``window_days`` event days ending at ``window_end``
    (None = the latest event day), the last ``holdout_days`` of them held out."""
    if not isinstance(window_days, int) or not isinstance(holdout_days, int):
        raise ValueError("window_days and holdout_days must be integers")
    if window_days < 2:
        raise ValueError(f"window_days must be at least 2, got {window_days}")
    if not 1 <= holdout_days < window_days:
        raise ValueError(f"holdout_days must be in [1, window_days), got {holdout_days} with window_days {window_days}")
    end = None if window_end in (None, "") else _as_date(window_end).isoformat()
    return {"window_days": window_days, "holdout_days": holdout_days, "window_end": end}


def vars_arg(dbt_vars: Mapping[str, Any]) -> str:
    """The ``--vars`` value: JSON (valid YAML) with sorted keys, so equal vars give equal args."""
    return json.dumps(dict(dbt_vars), sort_keys=True, separators=(",", ":"))


WINDOW_VARS: tuple[str, ...] = ("min_date", "max_date", "window_days", "holdout_days", "window_end")
ENV_PREFIX = "COREBRAIN_DBT_"


def env_for_vars(dbt_vars: Mapping[str, Any] | None) -> dict[str, str]:
    """The window as environment variables ``COREBRAIN_DBT_<NAME>`` (read by the ``window_var``
    macro). Every name is set, unset ones to '', so a value left from an earlier run never leaks in.
    Unlike ``--vars`` (any change re-parses the whole project), a changed env var re-parses only
    the files that read it: dbt's partial parsing survives a new partition window."""
    dbt_vars = dict(dbt_vars or {})
    unknown = sorted(set(dbt_vars) - set(WINDOW_VARS))
    if unknown:
        raise ValueError(f"not window vars: {unknown} (pass them with --vars)")
    return {ENV_PREFIX + name.upper(): "" if dbt_vars.get(name) is None else str(dbt_vars[name])
            for name in WINDOW_VARS}


def build_args(dbt_vars: Mapping[str, Any] | None = None, *, full_refresh: bool = False,
               extra: Sequence[str] = ()) -> list[str]:
    """``dbt build`` with vars; unit tests are left to CI (``dbt test --select test_type:unit``)."""
    args = ["build", "--exclude-resource-type", "unit_test"]
    if dbt_vars:
        args += ["--vars", vars_arg(dbt_vars)]
    if full_refresh:
        args.append("--full-refresh")
    return args + list(extra)
