"""The landing sensor: new, changed or deleted landing files -> ingest runs for the days they touch.

The cursor maps each landing day (and ``items``) to a fingerprint of its folder listing (names,
sizes, mtimes; no file is opened, DuckDB is never touched). A day that is not a partition yet
(today) stays out of the cursor and is requested once it becomes one. Late events inside a landing
day are routed by ``raw_events`` itself, which marks their earlier event days as re-materialised.
Off by default (turn it on in the UI, or set ``COREBRAIN_LANDING_SENSOR=on``).
"""

import json
import os

import dagster as dg

from pipelines.defs.ingest import ingest_items_job, ingest_job
from pipelines.defs.partitions import daily_partitions, start_date
from pipelines.ingest.watch import ITEMS_KEY, changed_keys, landing_fingerprints
from pipelines.settings import current_paths

MAX_RUNS_PER_TICK = 50


def _default_status() -> dg.DefaultSensorStatus:
    on = os.environ.get("COREBRAIN_LANDING_SENSOR", "").lower() in {"1", "on", "true", "yes"}
    return dg.DefaultSensorStatus.RUNNING if on else dg.DefaultSensorStatus.STOPPED


@dg.sensor(name="landing_sensor", jobs=[ingest_job, ingest_items_job], minimum_interval_seconds=60,
           default_status=_default_status(),
           description="Requests raw_events for landing days with new/changed files, raw_items for the catalogue.")
def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    previous: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    current = landing_fingerprints(current_paths().landing)
    cursor = dict(previous)
    requests: list[dg.RunRequest] = []
    valid = set(daily_partitions.get_partition_keys())
    for key in changed_keys(previous, current):
        if len(requests) >= MAX_RUNS_PER_TICK:
            break  # the rest stay out of the cursor: next tick
        fingerprint = current.get(key, "deleted")
        if key == ITEMS_KEY:
            requests.append(dg.RunRequest(run_key=f"items:{fingerprint}", job_name=ingest_items_job.name))
        elif key in valid:
            requests.append(dg.RunRequest(run_key=f"raw_events:{key}:{fingerprint}", partition_key=key,
                                          job_name=ingest_job.name))
        elif key < start_date():
            context.log.warning(f"landing day {key} is before the first partition {start_date()}: not ingested")
        else:
            continue  # not a partition yet (today): not in the cursor, requested once it is one
        if key in current:
            cursor[key] = current[key]
        else:
            cursor.pop(key, None)
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))


defs = dg.Definitions(sensors=[landing_sensor])
