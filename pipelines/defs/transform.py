"""The transform stage in Dagster: the dbt project as two ``@dbt_assets``.

- ``dbt_partitioned``: ``fct_events`` and everything upstream of it, daily partitions (event days).
  A range is ONE dbt run (``BackfillPolicy.single_run``): the window goes to dbt as vars
  ``min_date`` / ``max_date`` and ``fct_events`` replaces exactly those days, so reruns are idempotent.
- ``dbt_marts``: every other model (item vocabulary, training window, sequences, holdout, dims,
  quarantine), unpartitioned; run config ``window_days`` / ``holdout_days`` / ``window_end`` sets the
  training window.

Both are in pool ``duckdb`` (one writer per warehouse file). dbt tests become asset checks; dbt unit
tests are not run here (``dbt test --select test_type:unit`` in CI/tests). Each run's
``target/<op>-<run>-<hash>`` folder is removed when the run ends (dbt's messages are in the event log).
"""

import os
import shutil
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from pipelines.dbt_args import build_args, env_for_vars, partition_vars, training_vars
from pipelines.dbt_project import dbt_executable, dbt_project, ensure_manifest
from pipelines.defs.ingest import rebuild_on_upstream_change
from pipelines.defs.partitions import daily_partitions
from pipelines.settings import prepare_environment

PARTITIONED_SELECT = "+fct_events"
GROUP = "transform"


class CorebrainDbtTranslator(DagsterDbtTranslator):
    """Asset keys stay the model names (``fct_events``, ``item_vocab``...); one group."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return GROUP


class PartitionedDbtTranslator(CorebrainDbtTranslator):
    """Daily models rebuild any day whose ``raw_events`` changed, late data included (needs the
    automation sensor, on under ``dagster dev`` / the daemon), but never a day whose upstream
    blocking checks failed (e.g. ``raw_events`` over its quarantine threshold): a run stops there,
    and so does the automation."""

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> dg.AutomationCondition | None:
        return daily_model_condition()


def daily_model_condition() -> dg.AutomationCondition:
    """``rebuild_on_upstream_change`` unless an upstream blocking check failed. Dagster 1.13 keeps one
    (unpartitioned) result per check, so the latest ingest's verdict gates every day: a failed day
    holds back all automation rebuilds until a passing ingest (docs/reruns.md, limits)."""
    return (rebuild_on_upstream_change()
            & dg.AutomationCondition.all_deps_blocking_checks_passed()
            ).with_label("rebuild_on_upstream_change, upstream blocking checks passed")


class TrainingWindowConfig(dg.Config):
    """The training window the marts are built for (see ``training_window`` in dbt)."""

    window_days: int = 30
    holdout_days: int = 1
    window_end: str | None = None  # YYYY-MM-DD; default: the latest event day


def _stream(dbt: DbtCliResource, args: list[str], context: dg.AssetExecutionContext,
            dbt_vars: Mapping[str, Any] | None = None) -> Iterator[Any]:
    # dbt reads COREBRAIN_LAKE / COREBRAIN_WAREHOUSE: derive them from COREBRAIN_HOME here too, so
    # dbt writes the same warehouse that training_shards reads, whoever loaded this module
    prepare_environment()
    # the window goes as COREBRAIN_DBT_* env vars, not --vars, so dbt's partial parsing survives
    # (dagster-dbt hands dbt a copy of this process's environment)
    os.environ.update(env_for_vars(dbt_vars))
    invocation = dbt.cli(args, context=context)
    try:
        yield from invocation.stream()
    finally:
        # dagster-dbt gives every invocation its own target/<op>-<run>-<hash> folder (a copy of
        # partial_parse.msgpack, logs, run results): dbt's messages are already in the Dagster
        # event log, so the folder goes, also after a failure
        shutil.rmtree(invocation.target_path, ignore_errors=True)


ensure_manifest()
_translator = CorebrainDbtTranslator()
_partitioned_translator = PartitionedDbtTranslator()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select=PARTITIONED_SELECT,
    name="dbt_partitioned",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=_partitioned_translator,
    pool="duckdb",
)
def dbt_partitioned(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    window = context.partition_time_window
    dbt_vars = partition_vars(window.start, window.end)
    context.log.info(f"dbt partition window {dbt_vars['min_date']} .. {dbt_vars['max_date']}")
    yield from _stream(dbt, build_args(), context, dbt_vars)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=PARTITIONED_SELECT,
    name="dbt_marts",
    dagster_dbt_translator=_translator,
    pool="duckdb",
)
def dbt_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: TrainingWindowConfig):
    dbt_vars = training_vars(config.window_days, config.holdout_days, config.window_end)
    yield from _stream(dbt, build_args(), context, dbt_vars)


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())


defs = dg.Definitions(assets=[dbt_partitioned, dbt_marts], resources={"dbt": dbt_resource()})
