"""The one daily partitioning every dated asset shares.

A partition is a landing day (``landing/events/date=YYYY-MM-DD/``) and, downstream, an event day.
The first day is configuration (``COREBRAIN_START_DATE``), so that any business's history fits:
the default covers the sample shop; real datasets set it (ml-100k starts in 1997).
"""

from __future__ import annotations

import os

import dagster as dg

DEFAULT_START_DATE = "2025-01-01"


def start_date() -> str:
    return os.environ.get("COREBRAIN_START_DATE") or DEFAULT_START_DATE


daily_partitions = dg.DailyPartitionsDefinition(start_date=start_date(), timezone="UTC")
