"""``event_contract`` (one dbt test for stg_events' row rules, macros/event_contract_test.sql): it
passes on a good window and fails, as a failed asset check, on each broken rule; rows outside the
run's window are not looked at."""

import dagster as dg
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipelines.defs.transform import dbt_partitioned, dbt_resource
from tests.transform.lake_fixtures import ev, shop_events, write_events

CHECK = "event_contract_stg_events_view__search__add_to_cart__purchase"


def run_partitions(instance, day: str):
    tags = {ASSET_PARTITION_RANGE_START_TAG: day, ASSET_PARTITION_RANGE_END_TAG: day}
    return dg.materialize([dbt_partitioned], instance=instance, resources={"dbt": dbt_resource()}, tags=tags,
                          raise_on_error=False)


def _check(result) -> dg.AssetCheckEvaluation:
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == CHECK]
    return evaluation


@pytest.mark.slow
def test_event_contract_fails_on_each_broken_rule_in_the_window_only(corebrain_home):
    lake = corebrain_home.lake
    write_events(lake, "2026-01-01", shop_events("2026-01-01"))
    write_events(lake, "2026-01-02", shop_events("2026-01-02")
                 + [ev("b1", "2026-01-02T10:00:00", None, "view", "i1"),
                    ev("b2", "2026-01-02T11:00:00", "u1", "click", "i1"),
                    ev(None, "2026-01-02T12:00:00", "u1", "view", "i1")])
    with dg.DagsterInstance.ephemeral() as instance:
        good = run_partitions(instance, "2026-01-01")
        assert good.success and _check(good).passed
        bad = run_partitions(instance, "2026-01-02")
        evaluation = _check(bad)
        assert not bad.success and not evaluation.passed
        assert evaluation.metadata["dagster_dbt/failed_row_count"].value == 3
