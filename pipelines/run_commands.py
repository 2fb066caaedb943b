"""``corebrain nightly`` and ``corebrain backfill``: the documented Dagster commands, after the home
is prepared.

``dagster job execute`` checks ``$DAGSTER_HOME`` before it imports the code location, so on a fresh
``$COREBRAIN_HOME`` the bare command fails ("$DAGSTER_HOME ... is not a directory"): these commands
prepare the home (folders, ``dagster.yaml`` where Dagster reads it, the environment) and then run
the same Dagster command in a child process. The argument lists are pure functions (tested).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

MODULE = "pipelines.definitions"
WAREHOUSE_DATED = "raw_events,stg_events,fct_events"


def _dagster() -> str:
    return str(Path(sys.executable).with_name("dagster"))


def yesterday_utc(now: dt.datetime | None = None) -> dt.date:
    return ((now or dt.datetime.now(dt.UTC)).date() - dt.timedelta(days=1))


def nightly_args(day: dt.date, extra: list[str] | None = None) -> list[str]:
    """The ``nightly`` job for one day, as the schedule runs it."""
    return [_dagster(), "job", "execute", "-m", MODULE, "-j", "nightly",
            "--tags", json.dumps({"dagster/partition": day.isoformat()}), *(extra or [])]


def backfill_args(start: dt.date, end: dt.date, warehouse_only: bool = False,
                  extra: list[str] | None = None) -> list[str]:
    """A date range as ONE run: the whole ``nightly`` job, or only the dated warehouse chain."""
    if end < start:
        raise ValueError(f"backfill end {end} is before start {start}")
    if warehouse_only:
        return [_dagster(), "asset", "materialize", "-m", MODULE, "--select", WAREHOUSE_DATED,
                "--partition-range", f"{start.isoformat()}...{end.isoformat()}", *(extra or [])]
    tags = {"dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat()}
    return [_dagster(), "job", "execute", "-m", MODULE, "-j", "nightly", "--tags", json.dumps(tags),
            *(extra or [])]


def run_prepared(args: list[str]) -> int:
    """Prepare ``$COREBRAIN_HOME`` and run ``args`` with its environment; returns the exit code."""
    from pipelines.settings import prepare_environment

    paths = prepare_environment()
    repo = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(repo), env.get("PYTHONPATH", "")) if p)
    print(f"corebrain: COREBRAIN_HOME={paths.home} DAGSTER_HOME={env['DAGSTER_HOME']}", file=sys.stderr)
    print("corebrain: " + " ".join(args), file=sys.stderr)
    return subprocess.run(args, env=env, cwd=repo).returncode
