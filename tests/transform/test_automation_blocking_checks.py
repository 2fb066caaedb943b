"""The daily dbt models' automation respects blocking checks (issue 13, item 4).

The defect: their automation condition lacked ``all_deps_blocking_checks_passed``, so the
automation sensor could rebuild ``stg_events`` / ``fct_events`` for a day whose blocking ingest check
(``quarantine_share``) had failed. A clean landing day is ingested, then a mostly bad one; one
automation tick is then evaluated for real against the instance: the bad day is not requested.
Dagster 1.13 keeps one (unpartitioned) result per check, so the clean day waits too until a passing
ingest; the control tick after that shows the condition does fire.
"""

from __future__ import annotations

import dagster as dg

from tests.ingest.helpers import event, good_events, write_jsonl

GOOD, BAD = "2026-01-10", "2026-01-11"


def _requested(result, key: str) -> set[str]:
    return set(result.get_requested_partitions(dg.AssetKey(key)))


def test_a_failed_blocking_check_stops_the_automation_rebuild(corebrain_home):
    from datetime import date

    from pipelines.defs import ingest, transform

    defs = dg.Definitions.merge(ingest.defs, transform.defs)
    write_jsonl(corebrain_home, "a.jsonl", good_events(20, "g", date(2026, 1, 10)), day=date(2026, 1, 10))
    bad_rows = [event(f"b{i}", f"{BAD}T10:00:00Z", "u1", "view", None) for i in range(8)]   # no item_id
    write_jsonl(corebrain_home, "a.jsonl", good_events(4, "h", date(2026, 1, 11)) + bad_rows,
                day=date(2026, 1, 11))
    with dg.DagsterInstance.ephemeral() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert not _requested(first, "stg_events")
        for day in (GOOD, BAD):
            run = dg.materialize([ingest.raw_events], instance=instance, partition_key=day,
                                 raise_on_error=False)
            checks = {e.check_name: e.passed for e in run.get_asset_check_evaluations()}
            assert checks[ingest.QUARANTINE_CHECK] is (day == GOOD), (day, checks)
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert BAD not in _requested(tick, "stg_events") | _requested(tick, "fct_events")
        # control: the clean day ingested again passes the check, and the automation fires for it
        dg.materialize([ingest.raw_events], instance=instance, partition_key=GOOD)
        control = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert GOOD in _requested(control, "stg_events")


def test_the_daily_models_carry_the_condition():
    from pipelines.defs import transform

    condition = transform.daily_model_condition()
    labels = [getattr(c, "label", None) or getattr(c, "name", "") for c in condition.children]
    assert "rebuild_on_upstream_change" in labels and "all_deps_blocking_checks_passed" in labels, labels
