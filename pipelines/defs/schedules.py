"""The nightly job and its schedule, plus the range job that backfills and retrains in one run.

``nightly`` ingests and transforms yesterday's partition, then rebuilds the shards, retrains the
challenger and runs the gate. The same job over a partition range (``BackfillPolicy.single_run()``
on every dated asset) is a backfill in one run: see the README for the command.
"""

from __future__ import annotations

import dagster as dg

# every asset: landing -> lake -> dbt -> shards -> model -> gate -> consumers; not ``audiences``, which
# needs a target from the launchpad (its own job)
NIGHTLY_SELECTION = dg.AssetSelection.all() - dg.AssetSelection.assets("audiences")

nightly_job = dg.define_asset_job(
    "nightly",
    selection=NIGHTLY_SELECTION,  # partitioned by daily_partitions, inferred from the dated assets
    description="Yesterday's landing files -> lake -> dbt -> shards -> retrain -> gate.",
)

nightly_schedule = dg.build_schedule_from_partitioned_job(
    nightly_job,
    hour_of_day=2,
    minute_of_hour=0,
    description="02:00 UTC: the previous day's partition, then retrain and gate.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

defs = dg.Definitions(jobs=[nightly_job], schedules=[nightly_schedule])
