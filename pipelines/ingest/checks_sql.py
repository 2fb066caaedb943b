"""Event contract v1 as one DuckDB query over a batch of normalised rows (set operations, no row loop).

A reader (``pipelines.ingest.scan``) turns each landing file, batch by batch, into the same
*normalised* relation: ``source_row``, an optional reader ``parse_reason`` / ``parse_detail``,
``raw``, and per contract column ``<col>_k`` (the value's kind, named like the Python type the
row-by-row validator would have seen: ``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``,
``null``, ``datetime``, ``date``; ``bytes!`` = bytes that are not UTF-8; ``bad_ts`` = a Parquet
timestamp outside years 1-9999) and ``<col>_s`` (its text), plus ``ts_us`` (a timestamp as UTC
microseconds) and ``price_v`` (a number).

:func:`validation_sql` runs the checks of :func:`pipelines.ingest.validate.validate_row` in the same
order, so each row gets the same one reason. A few rare shapes are not decided here but flagged
``residue`` and handed to that Python function (exactly the old rules, on a handful of rows):
ts text outside the common ISO-8601 shapes (week dates, basic format, odd offsets), price text that
is not a plain decimal, a non-ASCII event_type (Unicode case folding differs), and any row the
reader flagged (a JSON line DuckDB cannot parse, control characters). Rows with a reason or
residue carry their ``raw``; accepted rows carry only the typed event columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from pipelines.ingest import reasons
from pipelines.ingest.contract import (
    EVENT_TYPES,
    ID_COLUMNS,
    ITEM_EVENT_TYPES,
    STRING_COLUMNS,
    IngestSettings,
    max_chars,
)

# str.strip() strips these (Unicode whitespace): trimmed the same way so ' u1\u3000' == 'u1'
PY_WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
MAX_RAW_CHARS = 1_000_000
# Python's datetime range: years 1..9999, as UTC microseconds since the epoch
MIN_US = -62_135_596_800_000_000
MAX_US = 253_402_300_800_000_000  # exclusive: 10000-01-01
TS_FAST = (r"^(000[1-9]|00[1-9]\d|0[1-9]\d\d|[1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
           r"(?:[T ]([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(\.\d{1,6})?)?(Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?)?$")
PRICE_FAST = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?$"
NORMALISED_COLUMNS: tuple[str, ...] = (*STRING_COLUMNS, "ts", "price")


@dataclass(frozen=True)
class Check:
    """One rule of the contract: where ``condition`` holds (and no earlier check did), ``reason``."""

    condition: str
    reason: str
    detail: str  # a SQL expression


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# any whitespace str.strip() removes other than the space: rare, so trim(x, $ws) (slow) runs only then
ODD_WHITESPACE = "[" + "".join(f"\\x{{{ord(c):04x}}}" for c in PY_WHITESPACE if c != " ") + "]"


def _offset_us(text: str) -> str:
    """The UTC offset of a ts that matched TS_FAST, in microseconds (DuckDB's TIMESTAMP cast reads
    the local time and drops the offset; TIMESTAMPTZ would need the ICU extension)."""
    return (f"CASE WHEN length({text}) > 16 AND substr({text}, -6, 1) IN ('+', '-') THEN "
            f"(CASE WHEN substr({text}, -6, 1) = '-' THEN -1 ELSE 1 END) * "
            f"(CAST(substr({text}, -5, 2) AS BIGINT) * 3600 + CAST(substr({text}, -2, 2) AS BIGINT) * 60) * 1000000 "
            f"ELSE 0 END")


def _trimmed(column: str) -> str:
    return f"CASE WHEN odd_ws THEN trim({column}_s, $ws) ELSE trim({column}_s) END"


def _text_expr(column: str) -> str:
    """The value as the Python validator coerces it: stripped (not the query), '' -> null."""
    kinds = "('str', 'int')" if column in ID_COLUMNS else "('str')"
    keep = f"{column}_s" if column == "query" else f"{column}_t"
    return f"CASE WHEN {column}_k IN {kinds} AND {column}_t <> '' THEN {keep} END"


def checks() -> list[Check]:
    """The contract's checks in ``validate_row``'s order: types / UTF-8, time parse, price, identity,
    time range, event semantics, lengths."""
    out: list[Check] = [Check("parse_reason IS NOT NULL", "parse_reason", "parse_detail")]
    for column in STRING_COLUMNS:
        allowed = "('str', 'int', 'null')" if column in ID_COLUMNS else "('str', 'null')"
        out.append(Check(f"{column}_k = 'bytes!'", reasons.INVALID_UTF8, _q(f"{column}: not valid UTF-8")))
        out.append(Check(f"{column}_k NOT IN {allowed}", reasons.WRONG_TYPE,
                         f"{_q(column + ': expected a string, got ')} || {column}_k"))
    out += [
        Check("ts_k = 'bytes!'", reasons.INVALID_UTF8, _q("ts: not valid UTF-8")),
        Check("ts_k = 'null'", reasons.MISSING_TS, _q("ts is null")),
        Check("ts_k = 'str' AND ts_txt = ''", reasons.MISSING_TS, _q("ts is empty")),
        Check("ts_k NOT IN ('str', 'datetime', 'date', 'bad_ts')", reasons.WRONG_TYPE,
              f"{_q('ts: expected an ISO-8601 string or a timestamp, got ')} || ts_k"),
        Check("ts_k = 'bad_ts' OR (ts_k = 'str' AND ts_us IS NULL)", reasons.BAD_TS,
              f"'ts ' || coalesce(left(ts_txt, 60), '(a Parquet timestamp)') || "
              f"{_q(' is not an ISO-8601 timestamp within years 1-9999')}"),
        Check("price_k NOT IN ('str', 'int', 'float', 'null')", reasons.WRONG_TYPE,
              f"{_q('price: expected a number, got ')} || replace(price_k, '!', '')"),
        Check("price_k = 'str' AND price_t <> '' AND price_num IS NULL", reasons.WRONG_TYPE,
              f"'price: ' || left(price_s, 40) || {_q(' is not a number')}"),
        Check("isinf(price_num)", reasons.WRONG_TYPE, _q("price: infinite")),
        Check("event_id IS NULL", reasons.MISSING_EVENT_ID, _q("event_id is null or empty")),
        Check("user_id IS NULL", reasons.MISSING_USER_ID, _q("user_id is null or empty")),
        Check("ts_us < $floor_us", reasons.TS_BEFORE_FLOOR, "'ts ' || strftime(make_timestamp(ts_us), '%Y-%m-%dT%H:%M:%S') "
              "|| ' is before the floor ' || $floor_text"),
        Check("ts_us >= $latest_us", reasons.TS_IN_FUTURE, "'ts ' || strftime(make_timestamp(ts_us), '%Y-%m-%dT%H:%M:%S') "
              "|| ' is after the landing day ' || $day_text || ' plus the allowed skew'"),
        Check("event_type IS NULL", reasons.MISSING_EVENT_TYPE, _q("event_type is null or empty")),
        Check(f"event_type_l NOT IN {tuple(sorted(EVENT_TYPES))}", reasons.UNKNOWN_EVENT_TYPE,
              f"'event_type ' || left(event_type_l, 40) || {_q(' is not one of ' + str(sorted(EVENT_TYPES)))}"),
        Check(f"event_type_l IN {tuple(sorted(ITEM_EVENT_TYPES))} AND item_id IS NULL", reasons.MISSING_ITEM_ID,
              "'a ' || event_type_l || ' event needs item_id'"),
        Check("event_type_l = 'search' AND query IS NULL", reasons.MISSING_QUERY,
              _q("a search event needs a non-empty query")),
    ]
    for column in STRING_COLUMNS:
        limit = max_chars(column)
        out.append(Check(f"length({column}) > {limit}", reasons.STRING_TOO_LONG,
                         f"'{column} has ' || length({column}) || ' chars, the limit is {limit}'"))
    return out


def residue_condition() -> str:
    """Rows decided by the Python validator instead (rare shapes where DuckDB and Python differ)."""
    # ts text that does not start with four ASCII digits never parses (fromisoformat): BAD_TS here
    return ("(parse_reason IS NULL AND (residue_hint"
            " OR (ts_k = 'str' AND ts_txt <> '' AND NOT ts_ok AND regexp_matches(ts_txt, '^[0-9]{4}'))"
            " OR (price_k = 'str' AND price_t <> '' AND NOT price_ok)"
            " OR (event_type_k = 'str' AND NOT event_type_s ~ '^[\\x20-\\x7e]*$')))")


def validation_sql(source: str, extra: tuple[str, ...] = ()) -> str:
    """SELECT over the normalised relation ``source``: reason, detail, residue flag, typed event
    (plus the ``extra`` columns of the source, passed through)."""
    text_cols = ",\n        ".join(f"{_text_expr(c)} AS {c}" for c in STRING_COLUMNS)
    all_checks = checks()
    # each condition is evaluated once: the first failing check's number, then its reason and detail
    check_case = " ".join(f"WHEN {c.condition} THEN {i}" for i, c in enumerate(all_checks))
    reason_case = " ".join(
        f"WHEN {i} THEN {c.reason if c.reason == 'parse_reason' else _q(c.reason)}" for i, c in enumerate(all_checks))
    detail_case = " ".join(f"WHEN {i} THEN {c.detail}" for i, c in enumerate(all_checks))
    trims = ",\n        ".join(f"{_trimmed(c)} AS {c}_t" for c in NORMALISED_COLUMNS)
    all_text = ", ".join(f"{c}_s" for c in NORMALISED_COLUMNS)
    return _inline_constants(f"""
WITH n AS (SELECT * FROM {source}),
ws AS (SELECT n.*, coalesce(regexp_matches(concat_ws('', {all_text}), $odd_ws), FALSE) AS odd_ws FROM n),
trimmed AS (SELECT ws.*, {trims} FROM ws),
texts AS (
    SELECT trimmed.*,
        {text_cols},
        CASE WHEN ts_k = 'str' THEN ts_t END AS ts_txt,
        coalesce(regexp_matches(price_t, $price_fast), FALSE) AS price_ok
    FROM trimmed
),
fast AS (
    SELECT texts.*, coalesce(regexp_matches(ts_txt, $ts_fast), FALSE) AS ts_ok,
        CASE WHEN price_k IN ('int', 'float') THEN price_v
             WHEN price_k = 'str' AND price_ok THEN try_cast(price_t AS DOUBLE) END AS price_num
    FROM texts
),
local_ts AS (
    SELECT fast.* EXCLUDE (ts_us),
        lower(event_type) AS event_type_l,
        CASE WHEN ts_k IN ('datetime', 'date') THEN ts_us
             WHEN ts_ok THEN epoch_us(try_cast(ts_txt AS TIMESTAMP)) - {_offset_us("ts_txt")}
        END AS ts_us0
    FROM fast
),
ranged AS (
    SELECT * EXCLUDE (ts_us0), CASE WHEN ts_us0 >= {MIN_US} AND ts_us0 < {MAX_US} THEN ts_us0 END AS ts_us
    FROM local_ts
),
checked AS (
    SELECT ranged.*,
        {residue_condition()} AS residue,
        CASE {check_case} END AS check_no
    FROM ranged
),
decided AS (
    SELECT checked.*,
        CASE check_no {reason_case} END AS reason,
        CASE check_no {detail_case} END AS detail
    FROM checked
)
SELECT
    idx, source_row, raw_off, raw_len,{''.join(' ' + c + ',' for c in extra)}
    parse_reason IS NOT NULL AS read_error,
    residue,
    CASE WHEN residue THEN NULL ELSE reason END AS reason,
    CASE WHEN residue THEN NULL ELSE detail END AS detail,
    CASE WHEN residue OR reason IS NOT NULL THEN left(raw, {MAX_RAW_CHARS}) END AS raw,
    user_id AS best_user_id,
    event_id,
    make_timestamp(ts_us) AS ts,
    user_id, session_id,
    event_type_l AS event_type,
    item_id, "query", market,
    CASE WHEN isnan(price_num) THEN NULL ELSE price_num END AS price
FROM decided
""")


def _inline_constants(sql: str) -> str:
    """Patterns and the whitespace set as literals: DuckDB compiles a constant regex once, a
    parameter once per row."""
    return (sql.replace("$ws", _sql_literal(PY_WHITESPACE)).replace("$ts_fast", _sql_literal(TS_FAST))
            .replace("$odd_ws", _sql_literal(ODD_WHITESPACE))
            .replace("$price_fast", _sql_literal(PRICE_FAST)))


def _sql_literal(text: str) -> str:
    """A SQL string literal; characters below 0x20 spelled with chr() so the statement stays one line each."""
    parts, plain = [], ""
    for ch in text:
        if ord(ch) < 0x20:
            if plain:
                parts.append(_q(plain))
                plain = ""
            parts.append(f"chr({ord(ch)})")
        else:
            plain += ch
    if plain:
        parts.append(_q(plain))
    return "(" + " || ".join(parts) + ")"


def sql_params(landing_day: date, settings: IngestSettings) -> dict:
    """The query's parameters: the landing day's time bounds and the fixed patterns."""
    epoch = datetime(1970, 1, 1)
    latest = datetime.combine(landing_day + timedelta(days=1), time()) + settings.future_skew
    return {
        "floor_us": (settings.ts_floor - epoch) // timedelta(microseconds=1),
        "latest_us": (latest - epoch) // timedelta(microseconds=1),
        "floor_text": settings.ts_floor.isoformat(), "day_text": landing_day.isoformat(),
    }
