"""``corebrain backfill`` and ``corebrain nightly`` on an empty folder (issue 13, item 3).

The defect: the documented ``export COREBRAIN_HOME=... DAGSTER_HOME=...; dagster job execute ...``
failed at once on a fresh home ("$DAGSTER_HOME ... is not a directory"), because the folder was
only made when the code location was imported, after Dagster had checked it.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.run_commands import backfill_args, nightly_args

REPO_ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 1, 10)


def _corebrain(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "COREBRAIN_DAGSTER_HOME",
                                                            "MLFLOW_TRACKING_URI", "COREBRAIN_LAKE",
                                                            "COREBRAIN_WAREHOUSE")}
    env.update(COREBRAIN_HOME=str(home), DAGSTER_HOME=str(home / "dagster_home"), PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_commands_are_the_documented_dagster_commands():
    assert nightly_args(DAY)[1:] == ["job", "execute", "-m", "pipelines.definitions", "-j", "nightly", "--tags",
                                     '{"dagster/partition": "2026-01-10"}']
    assert backfill_args(DAY, DAY + dt.timedelta(days=2), warehouse_only=True)[-2:] == [
        "--partition-range", "2026-01-10...2026-01-12"]
    with pytest.raises(ValueError, match="before start"):
        backfill_args(DAY, DAY - dt.timedelta(days=1))


@pytest.mark.slow
def test_backfill_on_an_empty_folder_prepares_the_home_and_runs_once(tmp_path):
    home = tmp_path / "fresh"            # does not exist; DAGSTER_HOME points inside it, as documented
    done = _corebrain(home, "backfill", "2026-01-10", "2026-01-11", "--warehouse-only")
    assert "is not a directory" not in done.stderr
    assert done.returncode == 0, done.stderr[-3000:]
    assert (home / "dagster_home" / "dagster.yaml").is_file()
    with dg.DagsterInstance.from_config(str(home / "dagster_home")) as instance:
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.SUCCESS
        assert runs[0].tags["dagster/asset_partition_range_start"] == "2026-01-10"


@pytest.mark.slow
def test_nightly_on_an_empty_folder_prepares_the_home_and_runs_the_job(tmp_path):
    home = tmp_path / "fresh"
    done = _corebrain(home, "nightly", "--date", "2026-01-10")
    assert "is not a directory" not in done.stderr
    with dg.DagsterInstance.from_config(str(home / "dagster_home")) as instance:
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].job_name == "nightly"
        assert runs[0].tags["dagster/partition"] == "2026-01-10"
    # an empty home has no events: the run gets as far as the shards, which say so in words
    assert done.returncode != 0 and "no events" in (done.stdout + done.stderr)
