"""The documented backfill command: a date range of raw_events is ONE run from the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from tests.ingest.helpers import good_events, write_jsonl


@pytest.mark.slow
def test_cli_partition_range_is_one_run(corebrain_home):
    for day in (date(2026, 1, 10), date(2026, 1, 11), date(2026, 1, 12)):
        write_jsonl(corebrain_home, "a.jsonl", good_events(5, day.isoformat(), day), day=day)
    dagster = Path(sys.executable).with_name("dagster")
    completed = subprocess.run(
        [str(dagster), "asset", "materialize", "-m", "pipelines.defs.ingest", "--select", "raw_events",
         "--partition-range", "2026-01-10...2026-01-12"],
        env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    lake = sorted(p.parent.name for p in corebrain_home.lake_events.rglob("landed=*.parquet"))
    assert lake == ["date=2026-01-10", "date=2026-01-11", "date=2026-01-12"]
    with dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"]) as instance:
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.SUCCESS
