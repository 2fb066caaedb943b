"""Row validation against event contract v1: one raw row in, an accepted event or a reason out.

Checks run in a fixed order and the first failure is the row's reason, so a row always has exactly
one reason and reruns give the same one: types / UTF-8, identity, time, event semantics, lengths.
Duplicates are decided later, over accepted rows only (see ``dedupe``), so an invalid first copy
never shadows a valid second one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

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


@dataclass(frozen=True, slots=True)
class Event:
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
        number = float(value)
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
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def validate_row(values: dict[str, Any], landing_day: date, settings: IngestSettings) -> Event:
    """The accepted event, or :class:`Rejected` with the first failing check's reason."""
    get = values.get
    text = {column: coerce_text(column, get(column)) for column in STRING_COLUMNS}
    ts = parse_ts(get("ts"))
    price = coerce_price(get("price"))
    if text["event_id"] is None:
        raise Rejected(reasons.MISSING_EVENT_ID, "event_id is null or empty")
    if text["user_id"] is None:
        raise Rejected(reasons.MISSING_USER_ID, "user_id is null or empty")
    if ts < settings.ts_floor:
        raise Rejected(reasons.TS_BEFORE_FLOOR, f"ts {ts.isoformat()} is before the floor "
                                                f"{settings.ts_floor.isoformat()}")
    latest = datetime.combine(landing_day + timedelta(days=1), time()) + settings.future_skew
    if ts >= latest:
        raise Rejected(reasons.TS_IN_FUTURE, f"ts {ts.isoformat()} is after the landing day "
                                             f"{landing_day.isoformat()} plus the allowed skew")
    event_type = text["event_type"]
    if event_type is None:
        raise Rejected(reasons.MISSING_EVENT_TYPE, "event_type is null or empty")
    event_type = event_type.lower()
    if event_type not in EVENT_TYPES:
        raise Rejected(reasons.UNKNOWN_EVENT_TYPE, f"event_type {event_type[:40]!r} is not one of "
                                                   f"{sorted(EVENT_TYPES)}")
    if event_type in ITEM_EVENT_TYPES and text["item_id"] is None:
        raise Rejected(reasons.MISSING_ITEM_ID, f"a {event_type} event needs item_id")
    if event_type == "search" and text["query"] is None:
        raise Rejected(reasons.MISSING_QUERY, "a search event needs a non-empty query")
    for column in STRING_COLUMNS:
        value = text[column]
        if value is not None and len(value) > max_chars(column):
            raise Rejected(reasons.STRING_TOO_LONG, f"{column} has {len(value)} chars, the limit is "
                                                    f"{max_chars(column)}")
    return Event(event_id=text["event_id"], ts=ts, user_id=text["user_id"], session_id=text["session_id"],
                 event_type=event_type, item_id=text["item_id"], query=text["query"],
                 market=text["market"], price=price)


def best_effort_user_id(values: dict[str, Any] | None) -> str | None:
    """The row's user id if one can be read at all: kept in quarantine so erasure can find it."""
    if not values:
        return None
    try:
        return coerce_text("user_id", values.get("user_id"))
    except Rejected:
        return None
