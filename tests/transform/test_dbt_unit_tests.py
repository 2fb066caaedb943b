"""The whole dbt project on an EMPTY lake, then its dbt unit tests.

Any business may start with no events, no quarantine and no catalogue: every model must build (and
every data test pass) on a lake folder that does not even exist, and the shards writer must then
refuse with a clear message. The dbt unit tests (``unit_tests:`` in the model .yml files) cover the
SQL that is easy to get subtly wrong (append-only vocabulary numbering, training window, holdout
cutoff and target); dbt needs their input relations to exist, which the empty build provides.
"""

import subprocess

import duckdb
import pytest

from pipelines.dbt_project import DBT_PROJECT_DIR, dbt_executable
from pipelines.shards import NoTrainingData, write_shards


def _dbt(*args, target):
    return subprocess.run(
        [dbt_executable(), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
         str(DBT_PROJECT_DIR), "--target-path", str(target), "--log-path", str(target)],
        capture_output=True, text=True)


def test_empty_lake_builds_then_dbt_unit_tests_pass(corebrain_home):
    paths = corebrain_home
    assert not paths.lake_events.exists()
    target = paths.home / "dbt-target"
    built = _dbt("build", "--exclude-resource-type", "unit_test", target=target)
    assert built.returncode == 0, built.stdout[-3000:]
    assert "ERROR=0" in built.stdout and "PASS=0 " not in built.stdout
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        for table in ("fct_events", "item_vocab", "user_sequences", "holdout", "quarantine", "dim_items"):
            assert con.sql(f"select count(*) from {table}").fetchall() == [(0,)], table
    with pytest.raises(NoTrainingData, match="no events"):
        write_shards(paths.warehouse, paths.shards)

    tested = _dbt("test", "--select", "test_type:unit", target=target)
    assert tested.returncode == 0, tested.stdout[-3000:]
    assert "PASS=6 " in tested.stdout
    for name in ("item_vocab_appends_new_items_and_keeps_old_ids",
                 "item_vocab_first_build_numbers_by_first_seen_then_id",
                 "holdout_target_is_first_item_event_after_cutoff", "holdout_new_item_target_skips_repeats",
                 "training_window_ends_at_latest_event_day", "training_window_explicit_end"):
        assert name in tested.stdout
