"""Running the warehouse half of the ``nightly`` job (ingest -> dbt -> shards) as real Dagster runs.

Training, the gate and the consumers are left out (``core_model``, ``champion``, group ``consumers``): they read the shards only, and
the reruns/concurrency tests are about the state every run rewrites in the lake and the warehouse.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import dagster as dg

TRAINING_KEYS = {dg.AssetKey("core_model"), dg.AssetKey("champion")}
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def range_tags(first: dt.date | str, last: dt.date | str) -> dict[str, str]:
    """Run tags that make one run cover the inclusive partition range (a single-run backfill)."""
    return {RANGE_START_TAG: str(first), RANGE_END_TAG: str(last)}


def warehouse_keys(defs: dg.Definitions) -> list[dg.AssetKey]:
    """Every asset of the nightly job except training, the gate and the consumers (they need a champion)."""
    job = defs.resolve_job_def("nightly")
    graph = job.asset_layer.asset_graph
    keys = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name != "consumers"}
    return sorted(keys - TRAINING_KEYS, key=lambda k: k.to_user_string())


def dated_keys(defs: dg.Definitions) -> list[dg.AssetKey]:
    """The daily-partitioned assets of the nightly job: ``raw_events`` and the dbt chain to ``fct_events``."""
    graph = defs.resolve_asset_graph()
    return [k for k in warehouse_keys(defs) if graph.get(k).partitions_def is not None]


def run_warehouse(defs: dg.Definitions, instance: dg.DagsterInstance, *, first: dt.date | str,
                  last: dt.date | str | None = None, dated_only: bool = False) -> dg.ExecuteInProcessResult:
    """One run of the nightly job's warehouse assets (or only its dated ones): a single day
    (``last`` None) or a range."""
    job = defs.resolve_job_def("nightly")
    kwargs: dict = {"partition_key": str(first)} if last is None else {"tags": range_tags(first, last)}
    keys = dated_keys(defs) if dated_only else warehouse_keys(defs)
    return job.execute_in_process(instance=instance, asset_selection=keys, raise_on_error=False, **kwargs)


@contextlib.contextmanager
def nightly_world(tmp_path_factory, name: str, core_model_config: dict, *, start: dt.date, days: int,
                  users: int = 400, items: int = 150, seed: int = 21, holdout_days: int = 1):
    """A fresh home with ``days`` of the sample shop and ONE real nightly run over them (Dagster, dbt,
    DuckDB, torch, MLflow), for module-scoped fixtures: yields the paths, the MLflow client, the
    definitions, the run result and the champion it made; the environment is restored afterwards."""
    import mlflow
    import pytest

    from pipelines.gate.aliases import CHAMPION, version_for_alias
    from pipelines.resources.mlflow_tracking import MlflowTracking
    from pipelines.settings import REGISTERED_MODEL_NAME, prepare_environment
    from pipelines.simulate import simulate_shop

    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp(name) / "corebrain"
    mp.setenv("COREBRAIN_HOME", str(home))
    for var in ("DAGSTER_HOME", "MLFLOW_TRACKING_URI", "COREBRAIN_LAKE", "COREBRAIN_WAREHOUSE"):
        mp.delenv(var, raising=False)
    try:
        paths = prepare_environment()
        simulate_shop(paths.home, days=days, users=users, items=items, seed=seed, start_date=start)
        from pipelines.definitions import defs

        with dg.DagsterInstance.get() as instance:
            nightly = defs.resolve_job_def("nightly").execute_in_process(
                instance=instance, raise_on_error=False, tags=range_tags(start, start + dt.timedelta(days=days - 1)),
                run_config={"ops": {"core_model": {"config": core_model_config},
                                    "dbt_marts": {"config": {"holdout_days": holdout_days}}}})
        assert nightly.success
        MlflowTracking().activate()
        client = mlflow.MlflowClient(paths.mlflow_tracking_uri)
        yield {"paths": paths, "client": client, "defs": defs, "nightly": nightly,
               "champion": version_for_alias(client, REGISTERED_MODEL_NAME, CHAMPION)}
    finally:
        mp.undo()
