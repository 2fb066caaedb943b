"""``raw_events`` materialised for real with ``dagster.materialize`` on fixture landing files."""

from __future__ import annotations

import hashlib

import dagster as dg
import pytest

from pipelines.defs.ingest import defs as ingest_defs
from pipelines.defs.ingest import raw_events, raw_items
from pipelines.defs.partitions import daily_partitions
from pipelines.ingest import reasons
from tests.ingest.helpers import event, good_events, write_csv, write_jsonl

D1, D2, D3 = "2026-01-10", "2026-01-11", "2026-01-12"


@dg.asset(partitions_def=daily_partitions, deps=["raw_events"], backfill_policy=dg.BackfillPolicy.single_run())
def downstream_of_raw_events() -> None:
    """Stands for the dbt models: must not run when a blocking check on raw_events fails."""


def _range_tags(start: str, end: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}


def _lake_digest(paths) -> dict[str, str]:
    return {p.relative_to(paths.home).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(paths.lake.rglob("*.parquet"))}


@pytest.fixture
def landing(corebrain_home):
    from datetime import date
    write_jsonl(corebrain_home, "a.jsonl", good_events(40, "a", date(2026, 1, 10)), day=date(2026, 1, 10))
    write_csv(corebrain_home, "b.csv", good_events(40, "b", date(2026, 1, 11)) + [event("a1", ts="2026-01-11")],
              day=date(2026, 1, 11))
    write_jsonl(corebrain_home, "c.jsonl", good_events(40, "c", date(2026, 1, 12))
                + [event("late1", ts="2026-01-10T09:00:00Z"), event("x", ts="garbage")], day=date(2026, 1, 12))
    return corebrain_home


def test_backfill_range_is_one_run_and_reconciles(landing):
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([raw_events], instance=instance, tags=_range_tags(D1, D3))
    assert result.success
    materialized = sorted(e.partition for e in result.get_asset_materialization_events())
    assert materialized == [D1, D2, D3]
    metadata = result.get_asset_materialization_events()[-1].materialization.metadata
    assert metadata["rows_read"].value == 123
    assert metadata["accepted"].value == 121 and metadata["quarantined"].value == 2
    assert metadata["reconcile"].value.endswith("ok")
    assert metadata["quarantined_by_reason"].value == {reasons.BAD_TS: 1, reasons.DUPLICATE_EVENT_ID: 1}
    assert {c.check_name: c.passed for c in result.get_asset_check_evaluations()} == {
        "quarantine_share": True, "counts_reconcile": True, "landing_files_readable": True}
    first = _lake_digest(landing)
    assert "lake/events/date=2026-01-10/landed=2026-01-12.parquet" in first
    # the same range again: byte-identical lake
    assert dg.materialize([raw_events], instance=instance, tags=_range_tags(D1, D3)).success
    assert _lake_digest(landing) == first


def test_late_rows_mark_their_earlier_partition(landing):
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([raw_events], instance=instance, partition_key=D3)
    assert result.success
    events = {e.partition: e.materialization for e in result.get_asset_materialization_events()}
    assert set(events) == {D1, D3}
    assert events[D1].metadata["late_rows"].value == 1
    assert events[D3].metadata["late_event_days"].value == {D3: {D1: 1}}
    assert events[D3].metadata["other_partitions_marked"].value == {D1: {D3: 1}}
    assert instance.get_latest_materialization_event(dg.AssetKey("raw_events")) is not None


def test_blocking_check_fails_partition_and_blocks_downstream(landing):
    from datetime import date
    write_jsonl(landing, "bad.jsonl", [event(f"bad{i}", ts="nope") for i in range(10)], day=date(2026, 1, 10))
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([raw_events, downstream_of_raw_events], instance=instance, partition_key=D1,
                            raise_on_error=False)
    assert not result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["quarantine_share"].passed
    assert checks["quarantine_share"].metadata["days_over_threshold"].value == {D1: 0.2}
    assert dg.AssetKey("downstream_of_raw_events") not in {
        e.asset_key for e in result.get_asset_materialization_events()}
    # a higher threshold (launchpad config) lets it through
    ok = dg.materialize([raw_events, downstream_of_raw_events], instance=instance, partition_key=D1,
                        run_config={"ops": {"raw_events": {"config": {"quarantine_threshold": 0.25}}}})
    assert ok.success
    assert dg.AssetKey("downstream_of_raw_events") in {e.asset_key for e in ok.get_asset_materialization_events()}


def test_raw_items_and_definitions_load(corebrain_home):
    (corebrain_home.landing_items / "a.csv").write_text("item_id,title\ni1,x\n,missing\n")
    result = dg.materialize([raw_items], instance=dg.DagsterInstance.ephemeral())
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert (metadata["accepted"].value, metadata["quarantined"].value) == (1, 1)
    dg.Definitions.validate_loadable(ingest_defs)
    assert ingest_defs.resolve_job_def("ingest_job") is not None


def test_late_rows_trigger_rebuild_of_the_earlier_downstream_partition(landing):
    from pipelines.defs.ingest import rebuild_on_upstream_change

    @dg.asset(partitions_def=daily_partitions, deps=["raw_events"], backfill_policy=dg.BackfillPolicy.single_run(),
              automation_condition=rebuild_on_upstream_change())
    def stg_like() -> None:
        """Stands for a partitioned dbt model."""

    defs = dg.Definitions(assets=[raw_events, stg_like])
    instance = dg.DagsterInstance.ephemeral()
    for day in (D1, D2):
        assert dg.materialize([raw_events, stg_like], instance=instance, partition_key=day).success
    baseline = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert baseline.total_requested == 0
    # D3 holds a late event of D1: ingesting D3 alone must bring D1 (and D3) of the model back
    assert dg.materialize([raw_events, stg_like], instance=instance, selection=[raw_events],
                          partition_key=D3).success
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=baseline.cursor)
    assert after.get_requested_partitions(dg.AssetKey("stg_like")) == {D1, D3}
    # a run that rebuilds the upstream day and the model's day together (the nightly job) asks for nothing more
    assert dg.materialize([raw_events, stg_like], instance=instance, partition_key=D2).success
    again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
    assert again.total_requested == 0
