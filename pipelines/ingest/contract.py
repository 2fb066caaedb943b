"""Event contract v1 in code: columns, allowed values, limits and the ingest settings.

See docs/contracts.md section 1. Kept free of Dagster so every stage (and the simulator) can read it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EVENT_COLUMNS: tuple[str, ...] = (
    "event_id", "ts", "user_id", "session_id", "event_type", "item_id", "query", "market", "price",
)
# Without one of these a file cannot be read at all: it is rejected whole (MISSING_COLUMNS).
# item_id / query are required per row (by event type), so a search-only file may lack item_id.
REQUIRED_COLUMNS: tuple[str, ...] = ("event_id", "ts", "user_id", "event_type")
ID_COLUMNS: frozenset[str] = frozenset({"event_id", "user_id", "session_id", "item_id"})
STRING_COLUMNS: tuple[str, ...] = ("event_id", "user_id", "session_id", "event_type", "item_id", "query", "market")

EVENT_TYPES: frozenset[str] = frozenset({"view", "search", "add_to_cart", "purchase"})
ITEM_EVENT_TYPES: frozenset[str] = frozenset({"view", "add_to_cart", "purchase"})

MAX_ID_CHARS = 128
MAX_QUERY_CHARS = 512
MAX_OTHER_CHARS = 128  # event_type, market

ITEM_COLUMNS: tuple[str, ...] = ("item_id", "title", "category", "tags")
MAX_ITEM_TEXT_CHARS = 4096  # title, category, tags

LANDING_SUFFIXES: frozenset[str] = frozenset({".parquet", ".jsonl", ".json", ".csv"})


def max_chars(column: str) -> int:
    if column == "query":
        return MAX_QUERY_CHARS
    if column in ID_COLUMNS:
        return MAX_ID_CHARS
    return MAX_OTHER_CHARS


@dataclass(frozen=True)
class IngestSettings:
    """How strict ingest is. Defaults from the environment so that CLI, sensor and tests agree.

    ``future_skew``: an event may be stamped up to this long after the end of its landing day
    (collector clocks drift); later is TS_IN_FUTURE. Measured against the landing day, never the wall
    clock, so a rerun gives the same answer. ``ts_floor``: earlier is TS_BEFORE_FLOOR.
    ``quarantine_threshold``: the asset check fails when quarantined / read exceeds it.
    ``min_file_age_s``: a landing file modified less than this long ago is left for the next run
    (for collectors that write in place instead of writing under a ``.``/``_`` name and renaming).
    ``missing_day``: a day with no landing files is reported; ``warn`` or ``fail`` the check.
    ``memory_limit``: DuckDB's budget while validating (it spills to disk beyond it).
    """

    future_skew: timedelta = timedelta(days=1)
    ts_floor: datetime = datetime(2000, 1, 1)
    quarantine_threshold: float = 0.05
    min_file_age_s: float = 0.0
    missing_day: str = "warn"
    memory_limit: str = "1GB"

    @classmethod
    def from_env(cls, future_skew_hours: float | None = None, ts_floor: str | None = None,
                 quarantine_threshold: float | None = None, min_file_age_s: float | None = None,
                 missing_day: str | None = None) -> IngestSettings:
        """Explicit arguments win, then ``COREBRAIN_INGEST_*`` variables, then the defaults."""
        env = os.environ
        age = min_file_age_s if min_file_age_s is not None else float(env.get("COREBRAIN_INGEST_MIN_FILE_AGE_S") or 0)
        missing = (missing_day or env.get("COREBRAIN_INGEST_MISSING_DAY") or "warn").lower()
        if missing not in ("warn", "fail"):
            raise ValueError(f"missing_day must be 'warn' or 'fail', got {missing!r}")
        if age < 0:
            raise ValueError(f"min file age must be >= 0 seconds, got {age}")
        memory = env.get("COREBRAIN_INGEST_MEMORY") or "1GB"
        skew = future_skew_hours if future_skew_hours is not None else float(
            env.get("COREBRAIN_INGEST_FUTURE_SKEW_HOURS") or 24)
        floor = ts_floor or env.get("COREBRAIN_INGEST_TS_FLOOR") or "2000-01-01"
        threshold = quarantine_threshold if quarantine_threshold is not None else float(
            env.get("COREBRAIN_INGEST_QUARANTINE_THRESHOLD") or 0.05)
        if skew < 0:
            raise ValueError(f"future skew must be >= 0 hours, got {skew}")
        if not 0 <= threshold <= 1:
            raise ValueError(f"quarantine threshold must be within [0, 1], got {threshold}")
        parsed_floor = datetime.fromisoformat(floor)
        if parsed_floor.tzinfo is not None:
            parsed_floor = parsed_floor.astimezone(UTC).replace(tzinfo=None)
        return cls(future_skew=timedelta(hours=skew), ts_floor=parsed_floor,
                   quarantine_threshold=threshold, min_file_age_s=age, missing_day=missing, memory_limit=memory)
