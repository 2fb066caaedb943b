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

Start-up cost per dbt step (measured at 300k events, ``benchmarks/pipeline_throughput.py``): dbt's
parse state is kept per installation (:func:`partial_parse_cache`), so a step re-parses only what
changed instead of the whole project (the shipped ``target/partial_parse.msgpack`` was parsed for
another warehouse path, which dbt counts as a changed profile); and :class:`CorebrainDbtCliResource`
skips two things dagster-dbt does before each command that this project never uses.
"""

import importlib.metadata
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from packaging import version

from pipelines.dbt_args import build_args, env_for_vars, partition_vars, training_vars
from pipelines.dbt_project import dbt_executable, dbt_project, ensure_manifest
from pipelines.defs.ingest import rebuild_on_upstream_change
from pipelines.defs.partitions import daily_partitions
from pipelines.settings import CorebrainPaths, prepare_environment

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


PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def partial_parse_cache(paths: CorebrainPaths) -> Path:
    """dbt's parse state for this installation (``$COREBRAIN_HOME/dbt/``), one per dbt target.

    dbt re-parses the whole project (2-3 s, more on a loaded machine) whenever its saved state was
    made for another profile, and the profile includes the warehouse path: the state dagster-dbt
    copies from ``dbt_project/target/`` (parsed at install time) never matches an installation. Each
    dbt step starts from this installation's own last state instead and saves the new one, so dbt
    re-parses only the files whose inputs changed (e.g. those reading the window's env vars). dbt
    checks the state itself (project files, profile, vars, env vars, its own version) and parses
    afresh whenever it does not match: a stale or broken file costs a full parse, never a wrong one.
    """
    return paths.home / "dbt" / f"partial_parse-{os.environ.get('COREBRAIN_TARGET') or 'local'}.msgpack"


def _seed_partial_parse(cache: Path, target_path: Path, log) -> None:
    """Start the invocation from the saved state; without one dagster-dbt copies the project's."""
    if not cache.is_file():
        return
    try:
        target_path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache, target_path / PARTIAL_PARSE_FILE)
    except OSError as exc:  # only a speed-up: dbt then parses the whole project
        (target_path / PARTIAL_PARSE_FILE).unlink(missing_ok=True)
        log.warning(f"dbt parse state not reused ({exc}): dbt parses the whole project")


def _save_partial_parse(target_path: Path, cache: Path, log) -> None:
    """Keep the invocation's new state for the next step. Never fails the step (it runs in a
    ``finally``): a state that cannot be saved only costs the next step a full parse."""
    state = target_path / PARTIAL_PARSE_FILE
    if not state.is_file():
        return
    partial = cache.with_name(f".{cache.name}.{uuid.uuid4().hex[:8]}")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(state, partial)
        os.replace(partial, cache)  # atomic: a concurrent reader sees the old state or the new one
    except OSError as exc:
        partial.unlink(missing_ok=True)
        log.warning(f"dbt parse state not saved ({exc}): the next dbt step parses the whole project")


def _stream(dbt: DbtCliResource, args: list[str], context: dg.AssetExecutionContext,
            dbt_vars: Mapping[str, Any] | None = None) -> Iterator[Any]:
    # dbt reads COREBRAIN_LAKE / COREBRAIN_WAREHOUSE: derive them from COREBRAIN_HOME here too, so
    # dbt writes the same warehouse that training_shards reads, whoever loaded this module
    paths = prepare_environment()
    # the window goes as COREBRAIN_DBT_* env vars, not --vars, so dbt's partial parsing survives
    # (dagster-dbt hands dbt a copy of this process's environment)
    os.environ.update(env_for_vars(dbt_vars))
    # the folder dagster-dbt would pick (target/<op>-<run>-<hash>), named here so it can start from
    # this installation's parse state (dagster-dbt then leaves it be) and hand the new one back
    target_path = (Path(dbt.project_dir) / "target"
                   / f"{context.op_execution_context.op.name}-{context.run.run_id[:7]}-{uuid.uuid4().hex[:7]}")
    cache = partial_parse_cache(paths)
    _seed_partial_parse(cache, target_path, context.log)
    invocation = dbt.cli(args, context=context, target_path=target_path)
    try:
        yield from invocation.stream()
    finally:
        _save_partial_parse(target_path, cache, context.log)
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


class CorebrainDbtCliResource(DbtCliResource):
    """``DbtCliResource`` without two things dagster-dbt 0.29 does before every dbt command that
    this project never uses (about 5 s per step process on 2 cores, measured):

    - it runs ``dbt --version`` in a subprocess (a dbt start-up, 2-3 s) to learn the version: when
      the executable is this interpreter's own ``dbt`` (``dbt_executable()``), that version is the
      installed dbt-core's, read from the package metadata;
    - it loads the dbt project, profile and base macros in this process (1-2 s) for an adapter that
      only ``fetch_row_counts()`` / ``fetch_column_metadata()`` use, and no asset here calls them.
      An asset that starts calling them needs ``DbtCliResource``'s adapter back (with no adapter
      they add nothing).
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) == Path(dbt_executable()):
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def dbt_resource() -> DbtCliResource:
    # --no-write-json: no manifest.json / run_results.json per command (about 0.5 s each): the
    # invocation's folder is deleted when the step ends and nothing here reads them (the compiled SQL
    # and partial_parse.msgpack are still written)
    return CorebrainDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable(),
                                   global_config_flags=["--no-write-json"])


defs = dg.Definitions(assets=[dbt_partitioned, dbt_marts], resources={"dbt": dbt_resource()})
