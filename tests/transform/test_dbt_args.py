"""The pure builders of dbt CLI args / vars (pipelines/dbt_args.py)."""

import json
from datetime import UTC, date, datetime

import pytest

from pipelines.dbt_args import build_args, partition_vars, training_vars, vars_arg


def test_one_day_partition_window_is_inclusive_day():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2026, 1, 2, tzinfo=UTC)
    assert partition_vars(start, end) == {"min_date": "2026-01-01", "max_date": "2026-01-01"}


def test_range_window_and_plain_dates():
    assert partition_vars(date(2026, 1, 1), date(2026, 1, 8)) == {"min_date": "2026-01-01",
                                                                   "max_date": "2026-01-07"}
    assert partition_vars("2026-02-27", "2026-03-01") == {"min_date": "2026-02-27", "max_date": "2026-02-28"}


def test_end_inside_a_day_still_covers_that_day():
    end = datetime(2026, 1, 3, 12, tzinfo=UTC)
    assert partition_vars(datetime(2026, 1, 1, tzinfo=UTC), end)["max_date"] == "2026-01-03"


def test_empty_or_bad_window_is_a_clear_error():
    with pytest.raises(ValueError, match="empty partition window"):
        partition_vars("2026-01-02", "2026-01-02")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        partition_vars("yesterday", "2026-01-02")


def test_training_vars_defaults_and_validation():
    assert training_vars() == {"window_days": 30, "holdout_days": 1, "window_end": None}
    assert training_vars(7, 2, date(2026, 1, 30))["window_end"] == "2026-01-30"
    assert training_vars(7, 2, "")["window_end"] is None
    for bad in [(1, 1), (5, 0), (5, 5), (5, 9)]:
        with pytest.raises(ValueError):
            training_vars(*bad)
    with pytest.raises(ValueError):
        training_vars(30, 1, "30/01/2026")


def test_build_args_excludes_unit_tests_and_passes_sorted_json_vars():
    args = build_args({"max_date": "2026-01-02", "min_date": "2026-01-01"})
    assert args[:3] == ["build", "--exclude-resource-type", "unit_test"]
    assert args[args.index("--vars") + 1] == '{"max_date":"2026-01-02","min_date":"2026-01-01"}'
    assert json.loads(vars_arg({"b": None, "a": 1})) == {"a": 1, "b": None}
    assert "--full-refresh" in build_args({}, full_refresh=True)
    assert "--vars" not in build_args(None)
    assert build_args({}, extra=["--fail-fast"])[-1] == "--fail-fast"


def test_env_for_vars_sets_every_window_name():
    """The window as COREBRAIN_DBT_* env vars (partial parsing survives, unlike --vars); every name
    is set, unset ones to '', so a value from an earlier invocation never leaks into the next."""
    from pipelines.dbt_args import env_for_vars

    env = env_for_vars(partition_vars("2026-01-01", "2026-01-03"))
    assert env == {"COREBRAIN_DBT_MIN_DATE": "2026-01-01", "COREBRAIN_DBT_MAX_DATE": "2026-01-02",
                   "COREBRAIN_DBT_WINDOW_DAYS": "", "COREBRAIN_DBT_HOLDOUT_DAYS": "", "COREBRAIN_DBT_WINDOW_END": ""}
    env = env_for_vars(training_vars(7, 2))
    assert (env["COREBRAIN_DBT_WINDOW_DAYS"], env["COREBRAIN_DBT_HOLDOUT_DAYS"], env["COREBRAIN_DBT_MIN_DATE"]) == (
        "7", "2", "")
    with pytest.raises(ValueError):
        env_for_vars({"something_else": 1})
