"""Row validation against event contract v1: one raw row in, an accepted event or a reason out.

Checks run in a fixed order and the first failure is the row's reason, so a row always has exactly
one reason and reruns give the same one: types / UTF-8, identity, time, event semantics, lengths.
Duplicates are decided later, over accepted rows only (see ``dedupe``), so an invalid first copy
never shadows a valid second one.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from pipelines.ingest import reasons
from pipelines.ingest.contract import (
    EVENT_TYPES,
    ID_COLUMNS,
    ITEM_EVENT_TYPES,
    STRING_COLUMNS,
    IngestSettings,
    max_chars,
)


class Rejected(Exception):
    """Raised inside coercion; carries the reason code and a human detail."""

    def __init__(self, reason: str, detail: str):
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


class Event(NamedTuple):
    event_id: str
    ts: datetime
    user_id: str
    session_id: str | None
    event_type: str
    item_id: str | None
    query: str | None
    market: str | None
    price: float | None


def coerce_text(column: str, value: Any) -> str | None:
    """A text value or None; ints are accepted for ids (e.g. MovieLens user ids), bytes must be UTF-8."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Rejected(reasons.INVALID_UTF8, f"{column}: byte {exc.start}: {exc.reason}") from None
    elif isinstance(value, int) and not isinstance(value, bool) and column in ID_COLUMNS:
        text = str(value)
    elif isinstance(value, float) and math.isnan(value):
        return None  # a null as written by pandas
    else:
        raise Rejected(reasons.WRONG_TYPE, f"{column}: expected a string, got {type(value).__name__}")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise Rejected(reasons.INVALID_UTF8, f"{column}: lone surrogate escape, not UTF-8 text") from None
    if column != "query":
        text = text.strip()
    return text if text.strip() else None


def coerce_price(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise Rejected(reasons.WRONG_TYPE, "price: expected a number, got bool")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise Rejected(reasons.WRONG_TYPE, "price: too large for a number") from None
    elif isinstance(value, str | bytes):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if not text.strip():
            return None
        try:
            number = float(text)
        except ValueError:
            raise Rejected(reasons.WRONG_TYPE, f"price: {text[:40]!r} is not a number") from None
    else:
        raise Rejected(reasons.WRONG_TYPE, f"price: expected a number, got {type(value).__name__}")
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise Rejected(reasons.WRONG_TYPE, "price: infinite")
    return number


def parse_ts(value: Any) -> datetime:
    """UTC, naive, microseconds. ISO-8601 text (``Z`` or an offset allowed; no offset means UTC),
    a datetime or a date (midnight)."""
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            return _as_utc(parsed, value)
    if value is None:
        raise Rejected(reasons.MISSING_TS, "ts is null")
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, str | bytes):
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise Rejected(reasons.INVALID_UTF8, f"ts: byte {exc.start}: {exc.reason}") from None
        text = value.strip()
        if not text:
            raise Rejected(reasons.MISSING_TS, "ts is empty")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise Rejected(reasons.BAD_TS, f"ts {text[:60]!r} is not an ISO-8601 timestamp") from None
    else:
        raise Rejected(reasons.WRONG_TYPE, f"ts: expected an ISO-8601 string or a timestamp, got "
                                           f"{type(value).__name__}")
    return _as_utc(parsed, value)


def _as_utc(parsed: datetime, value: Any) -> datetime:
    """Naive UTC; an offset that moves it outside years 1-9999 (``0001-01-01T00:00:00+01:00``) is BAD_TS."""
    if parsed.tzinfo is None:
        return parsed
    try:
        return parsed.astimezone(UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):
        raise Rejected(reasons.BAD_TS, f"ts {str(value)[:60]!r} is outside years 1-9999 in UTC") from None


LIMITS: dict[str, int] = {column: max_chars(column) for column in STRING_COLUMNS}


@lru_cache(maxsize=64)
def _latest_allowed(landing_day: date, future_skew: timedelta) -> datetime:
    return datetime.combine(landing_day + timedelta(days=1), time()) + future_skew


def _texts(values: dict[str, Any]) -> dict[str, str | None]:
    """All string columns coerced; plain ASCII strings (the common case) take a fast path."""
    text: dict[str, str | None] = {}
    get = values.get
    for column in STRING_COLUMNS:
        value = get(column)
        if type(value) is str and value.isascii():
            stripped = value.strip()
            text[column] = (value if column == "query" else stripped) if stripped else None
        else:
            text[column] = coerce_text(column, value)
    return text


def validate_row(values: dict[str, Any], landing_day: date, settings: IngestSettings) -> Event:
    """The accepted event, or :class:`Rejected` with the first failing check's reason."""
    text = _texts(values)
    ts = parse_ts(values.get("ts"))
    price = coerce_price(values.get("price"))
    if text["event_id"] is None:
        raise Rejected(reasons.MISSING_EVENT_ID, "event_id is null or empty")
    if text["user_id"] is None:
        raise Rejected(reasons.MISSING_USER_ID, "user_id is null or empty")
    if ts < settings.ts_floor:
        raise Rejected(reasons.TS_BEFORE_FLOOR, f"ts {ts.isoformat()} is before the floor "
                                                f"{settings.ts_floor.isoformat()}")
    if ts >= _latest_allowed(landing_day, settings.future_skew):
        raise Rejected(reasons.TS_IN_FUTURE, f"ts {ts.isoformat()} is after the landing day "
                                             f"{landing_day.isoformat()} plus the allowed skew")
    event_type = text["event_type"]
    if event_type is None:
        raise Rejected(reasons.MISSING_EVENT_TYPE, "event_type is null or empty")
    if event_type not in EVENT_TYPES:
        event_type = event_type.lower()
        if event_type not in EVENT_TYPES:
            raise Rejected(reasons.UNKNOWN_EVENT_TYPE, f"event_type {event_type[:40]!r} is not one of "
                                                       f"{sorted(EVENT_TYPES)}")
    if event_type in ITEM_EVENT_TYPES and text["item_id"] is None:
        raise Rejected(reasons.MISSING_ITEM_ID, f"a {event_type} event needs item_id")
    if event_type == "search" and text["query"] is None:
        raise Rejected(reasons.MISSING_QUERY, "a search event needs a non-empty query")
    for column, value in text.items():
        if value is not None and len(value) > LIMITS[column]:
            raise Rejected(reasons.STRING_TOO_LONG, f"{column} has {len(value)} chars, the limit is "
                                                    f"{LIMITS[column]}")
    return Event(text["event_id"], ts, text["user_id"], text["session_id"], event_type, text["item_id"],
                 text["query"], text["market"], price)


def best_effort_user_id(values: dict[str, Any] | None) -> str | None:
    """The row's user id if one can be read at all: kept in quarantine so erasure can find it."""
    if not values:
        return None
    try:
        return coerce_text("user_id", values.get("user_id"))
    except Rejected:
        return None
