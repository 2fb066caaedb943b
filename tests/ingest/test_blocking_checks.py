"""Blocking checks that mean it: a day whose every file was rejected, and a day that delivered nothing."""

from __future__ import annotations

from datetime import date

import dagster as dg

from pipelines.defs.ingest import raw_events
from pipelines.defs.partitions import daily_partitions
from tests.ingest.helpers import day_folder, good_events, write_jsonl

D1, D2 = "2026-01-10", "2026-01-11"


@dg.asset(partitions_def=daily_partitions, deps=["raw_events"], backfill_policy=dg.BackfillPolicy.single_run())
def after_raw_events() -> None:
    """Stands for the dbt models: must not run when raw_events is blocked."""


def _ran_downstream(result) -> bool:
    return dg.AssetKey("after_raw_events") in {e.asset_key for e in result.get_asset_materialization_events()}


def test_a_day_whose_only_file_is_corrupt_fails_the_blocking_check(corebrain_home):
    """Was 0/0 = a 0 % share: the day passed and downstream ran on nothing."""
    (day_folder(corebrain_home, date(2026, 1, 10)) / "a.parquet").write_bytes(b"PAR1 this is not parquet")
    result = dg.materialize([raw_events, after_raw_events], instance=dg.DagsterInstance.ephemeral(),
                            partition_key=D1, raise_on_error=False)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["quarantine_share"].passed
    assert checks["quarantine_share"].metadata["days_all_files_rejected"].value == [D1]
    assert not checks["landing_files_readable"].passed
    assert not _ran_downstream(result)


def test_a_day_without_landing_files_warns_by_default(corebrain_home):
    write_jsonl(corebrain_home, "a.jsonl", good_events(5), day=date(2026, 1, 10))
    result = dg.materialize([raw_events, after_raw_events], instance=dg.DagsterInstance.ephemeral(),
                            tags={"dagster/asset_partition_range_start": D1, "dagster/asset_partition_range_end": D2})
    assert result.success and _ran_downstream(result)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["landing_files_readable"].passed          # a warning, not a block
    assert checks["landing_files_readable"].metadata["days_without_landing_files"].value == [D2]
    metadata = next(e.materialization.metadata for e in result.get_asset_materialization_events()
                    if e.asset_key == dg.AssetKey("raw_events"))
    assert metadata["days_without_landing_files"].value == [D2]


def test_a_day_without_landing_files_fails_when_configured(corebrain_home):
    result = dg.materialize([raw_events, after_raw_events], instance=dg.DagsterInstance.ephemeral(),
                            partition_key=D2, raise_on_error=False,
                            run_config={"ops": {"raw_events": {"config": {"missing_day": "fail"}}}})
    assert not result.success and not _ran_downstream(result)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "delivered no landing files" in failure.event_specific_data.error.message
    # the day's (empty) quarantine is still written, and its metadata recorded
    assert (corebrain_home.lake_quarantine / f"landed={D2}.parquet").exists()
    assert result.get_asset_materialization_events()[0].materialization.metadata["days_without_landing_files"].value == [D2]
