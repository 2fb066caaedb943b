"""Rerunning a partition or a whole backfill leaves every table and file identical (issue 4, item 3).

A small simulated shop in a tmp ``$COREBRAIN_HOME``; the nightly job's ingest + transform + shards
assets run over the range as ONE run; then one day is rerun, then the whole range: the checksum of
every warehouse table/view (sorted rows), of every lake file and of every shard file must not move.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.integration.helpers_runs import RANGE_END_TAG, RANGE_START_TAG, run_warehouse
from tests.integration.helpers_state import (
    diff_checksums,
    events_per_day_lake,
    events_per_day_warehouse,
    state_checksums,
    table_checksums,
)

START, DAYS = dt.date(2026, 3, 1), 5
LAST = START + dt.timedelta(days=DAYS - 1)
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A tmp installation after one single-run backfill of the warehouse assets over 5 days."""
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("reruns") / "corebrain"
    mp.setenv("COREBRAIN_HOME", str(home))
    for var in ("DAGSTER_HOME", "MLFLOW_TRACKING_URI", "COREBRAIN_LAKE", "COREBRAIN_WAREHOUSE",
                "COREBRAIN_DAGSTER_HOME"):
        mp.delenv(var, raising=False)
    from pipelines.settings import prepare_environment
    from pipelines.simulate import simulate_shop

    paths = prepare_environment()
    # late rows make a landing day touch an earlier event day: the hardest case for reruns
    simulate_shop(paths.home, days=DAYS, users=150, items=80, seed=11, start_date=START, late_rate=0.05)

    from pipelines.definitions import defs

    instance = dg.DagsterInstance.get()
    result = run_warehouse(defs, instance, first=START, last=LAST)
    yield {"paths": paths, "defs": defs, "instance": instance, "result": result,
           "before": state_checksums(paths) if result.success else {}}
    instance.dispose()
    mp.undo()


@pytest.mark.slow
def test_the_backfill_is_one_run_that_fills_every_day(shop):
    assert shop["result"].success
    runs = shop["instance"].get_runs()
    assert len(runs) == 1
    paths = shop["paths"]
    lake = events_per_day_lake(paths.lake_events)
    assert sorted(lake) == [(START + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]
    assert events_per_day_warehouse(paths.warehouse) == lake
    before = shop["before"]
    assert any(k.startswith("table:main.fct_events") for k in before)
    assert any(k.startswith("shards:") for k in before) and any(k.startswith("lake:") for k in before)


@pytest.mark.slow
def test_rerunning_one_partition_changes_no_table_and_no_file(shop):
    assert shop["result"].success
    result = run_warehouse(shop["defs"], shop["instance"], first=START + dt.timedelta(days=2))
    assert result.success
    assert diff_checksums(shop["before"], state_checksums(shop["paths"])) == []


@pytest.mark.slow
def test_rerunning_the_whole_range_changes_no_table_and_no_file(shop):
    assert shop["result"].success
    result = run_warehouse(shop["defs"], shop["instance"], first=START, last=LAST)
    assert result.success
    assert diff_checksums(shop["before"], state_checksums(shop["paths"])) == []


def test_the_checksums_see_a_changed_value_a_changed_row_count_and_a_new_table(tmp_path):
    """The fingerprint is not blind: one changed value, one duplicated row or a new table shows."""
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table t as select i, cast(x as double) as x, s "
                    "from (values (1, 0.1, 'a'), (2, 0.2, 'b')) v(i, x, s)")
    base = table_checksums(warehouse)
    assert list(base) == ["table:main.t"] and base["table:main.t"].startswith("2:")

    with duckdb.connect(str(warehouse)) as con:
        con.execute("update t set x = 0.2 + 5e-17 where i = 2")  # the next double up
    assert diff_checksums(base, table_checksums(warehouse)) == [
        f"changed: table:main.t {base['table:main.t']} -> {table_checksums(warehouse)['table:main.t']}"]

    with duckdb.connect(str(warehouse)) as con:
        con.execute("update t set x = 0.2 where i = 2")
        con.execute("create view v as select * from t")
    assert table_checksums(warehouse)["table:main.t"] == base["table:main.t"]  # order-free, exact
    assert diff_checksums(base, table_checksums(warehouse)) == ["new after: view:main.v"]

    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into t select * from t where i = 1")
    assert table_checksums(warehouse)["table:main.t"].startswith("3:")


def test_the_code_location_loads_from_the_module_the_documented_commands_name(corebrain_home):
    """``dagster ... -m pipelines.definitions`` needs exactly one ``Definitions`` at module scope."""
    from dagster._core.workspace.autodiscovery import loadable_targets_from_python_module

    targets = loadable_targets_from_python_module("pipelines.definitions", None)
    assert [t.attribute for t in targets] == ["defs"]


@pytest.mark.slow
def test_the_documented_cli_backfill_of_the_dated_chain_is_one_run(corebrain_home):
    """docs/reruns.md: ``dagster asset materialize ... --partition-range`` over the dated chain."""
    from pipelines.simulate import simulate_shop

    first, last = dt.date(2026, 6, 1), dt.date(2026, 6, 3)
    simulate_shop(corebrain_home.home, days=3, users=60, items=40, seed=2, start_date=first)
    dagster = Path(sys.executable).with_name("dagster")
    completed = subprocess.run(
        [str(dagster), "asset", "materialize", "-m", "pipelines.definitions",
         "--select", "raw_events,stg_events,fct_events", "--partition-range", f"{first}...{last}"],
        cwd=REPO_ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.SUCCESS
        assert runs[0].tags[RANGE_START_TAG] == str(first) and runs[0].tags[RANGE_END_TAG] == str(last)
    lake = events_per_day_lake(corebrain_home.lake_events)
    assert sorted(lake) == [str(first + dt.timedelta(days=i)) for i in range(3)]
    assert events_per_day_warehouse(corebrain_home.warehouse) == lake
