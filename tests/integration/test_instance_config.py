"""One instance config, enforced (issue 13, item 3): dagster.yaml where Dagster reads it, never
overwriting an operator's edit, and a code location that refuses to load without the pool limit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines.instance_config import InstanceConfigError, require_single_writer_pool
from pipelines.settings import DagsterHomeConflict, prepare_environment

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_dagster_yaml_goes_where_dagster_reads_it(corebrain_home, tmp_path, monkeypatch):
    """The defect: with COREBRAIN_DAGSTER_HOME set, the file went to $COREBRAIN_HOME/dagster_home
    while Dagster read the other folder, and the pool limit silently vanished."""
    elsewhere = tmp_path / "ops" / "dagster"
    monkeypatch.setenv("COREBRAIN_DAGSTER_HOME", str(elsewhere))
    prepare_environment()
    assert os.environ["DAGSTER_HOME"] == str(elsewhere.resolve())
    config = yaml.safe_load((elsewhere / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1
    require_single_writer_pool(Path(os.environ["DAGSTER_HOME"]))

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "other"))
    with pytest.raises(DagsterHomeConflict, match="Dagster reads DAGSTER_HOME"):
        prepare_environment()
    monkeypatch.delenv("COREBRAIN_DAGSTER_HOME")
    prepare_environment()                    # an exported DAGSTER_HOME alone is where Dagster reads
    assert (tmp_path / "other" / "dagster.yaml").is_file()


def test_an_operators_edit_is_kept_and_missing_keys_are_added_with_a_warning(corebrain_home, capsys):
    path = corebrain_home.dagster_home / "dagster.yaml"
    path.write_text("# ops team\nrun_queue:\n  max_concurrent_runs: 3\nrun_monitoring:\n  enabled: true\n"
                    "  free_slots_after_run_end_seconds: 60\n")
    prepare_environment()
    config = yaml.safe_load(path.read_text())
    assert config["run_queue"] == {"max_concurrent_runs": 3}
    assert config["run_monitoring"]["free_slots_after_run_end_seconds"] == 60      # theirs, not ours
    assert config["concurrency"]["pools"]["default_limit"] == 1 and config["telemetry"]["enabled"] is False
    assert "lacked" in capsys.readouterr().err
    assert "# ops team" in (path.parent / "dagster.yaml.before-corebrain").read_text()
    edited = path.read_text() + "# a later edit\n"
    path.write_text(edited)
    prepare_environment()                   # nothing missing now: never rewritten again
    assert path.read_text() == edited


@pytest.mark.parametrize("pools", ["", "concurrency:\n  pools:\n    default_limit: 2\n",
                                   "concurrency:\n  pools:\n    default_limit: 1\n    granularity: run\n"])
def test_the_guard_refuses_an_instance_without_the_pool_limit(tmp_path, pools):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n" + pools)
    with pytest.raises(InstanceConfigError, match="default_limit: 1"):
        require_single_writer_pool(tmp_path)


@pytest.mark.slow
def test_the_code_location_refuses_to_load_against_such_an_instance(corebrain_home):
    path = corebrain_home.dagster_home / "dagster.yaml"
    path.write_text("telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 4\n")
    done = subprocess.run([sys.executable, "-c", "import pipelines.definitions"], cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode != 0
    assert "corebrain refuses to load" in done.stderr and "default_limit: 1" in done.stderr
    assert "default_limit: 4" in path.read_text()           # the operator's value was not overwritten


def test_the_first_run_community_pop_up_is_off_in_the_instance_dagster_reads(corebrain_home):
    """The UI's first-run "join the community" dialog covers the asset graph on a new install: the
    generated dagster.yaml switches it off (``nux: enabled: false``), and Dagster itself reads it so."""
    import dagster as dg

    prepare_environment()
    assert yaml.safe_load((corebrain_home.dagster_home / "dagster.yaml").read_text())["nux"] == {"enabled": False}
    with dg.DagsterInstance.get() as instance:
        assert instance.nux_enabled is False
