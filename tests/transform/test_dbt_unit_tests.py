"""The dbt unit tests (``unit_tests:`` in the model .yml files) pass, and catch what they claim to.

They cover the SQL that is easy to get subtly wrong: the append-only vocabulary numbering and the
holdout cutoff / target choice. dbt needs the input relations to exist, so the project is first
built ``--empty`` (and on an empty lake, which is itself a case to survive).
"""

import subprocess

from pipelines.dbt_project import DBT_PROJECT_DIR, dbt_executable


def _dbt(*args, target):
    return subprocess.run(
        [dbt_executable(), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
         str(DBT_PROJECT_DIR), "--target-path", str(target), "--log-path", str(target)],
        capture_output=True, text=True)


def test_dbt_unit_tests_pass(corebrain_home):
    target = corebrain_home.home / "dbt-target"
    built = _dbt("build", "--empty", "--exclude-resource-type", "unit_test", target=target)
    assert built.returncode == 0, built.stdout[-3000:]
    tested = _dbt("test", "--select", "test_type:unit", target=target)
    assert tested.returncode == 0, tested.stdout[-3000:]
    assert "PASS=5 " in tested.stdout
    for name in ("item_vocab_appends_new_items_and_keeps_old_ids",
                 "item_vocab_first_build_numbers_by_first_seen_then_id",
                 "holdout_target_is_first_item_event_after_cutoff",
                 "training_window_ends_at_latest_event_day", "training_window_explicit_end"):
        assert name in tested.stdout
