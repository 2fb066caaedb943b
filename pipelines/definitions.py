"""The Dagster code location: composes the stages in ``pipelines/defs`` and the shared resources.

landing -> raw_events -> dbt (staging, fct_events, marts) -> training_shards -> core_model -> champion -> consumers
"""

import os  # noqa: I001 - the environment must be prepared before dagster is imported

from pipelines.instance_config import require_single_writer_pool
from pipelines.settings import prepare_environment

prepare_environment()
# refuse to load against an instance that would let two steps write the DuckDB file at once
require_single_writer_pool(os.environ["DAGSTER_HOME"])

import dagster as dg  # noqa: E402

from pipelines.defs import (  # noqa: E402
    audiences,
    consumers,
    erasure,
    gate,
    ingest,
    pictures,
    promotion,
    schedules,
    sensors,
    shards,
    training,
    transform,
)
from pipelines.resources.mlflow_tracking import mlflow_tracking_resource  # noqa: E402


def shared_resources() -> dg.Definitions:
    """A function, not a module-level object: ``dagster ... -m pipelines.definitions`` refuses a module
    with more than one ``Definitions`` at module scope."""
    return dg.Definitions(resources={
        "mlflow_tracking": mlflow_tracking_resource(),
        "pipes_subprocess_client": dg.PipesSubprocessClient(),
    })


defs = dg.Definitions.merge(
    ingest.defs,
    transform.defs,
    shards.defs,
    training.defs,
    gate.defs,
    schedules.defs,
    sensors.defs,
    erasure.defs,
    promotion.defs,
    consumers.defs,
    audiences.defs,
    pictures.defs,
    shared_resources(),
)
