"""Bad rows and bad files, injected on purpose, each recorded with the reason ingest should give.

Three places a bad row can live:

- the day's main events file: rows that still fit the typed schema (null ids, duplicates, times out
  of range, unknown event types, missing item/query, over-long strings), appended after the clean rows;
- ``extra-rows.jsonl`` in the same folder: rows only text can carry (an unparseable ts, a price that
  is not a number, invalid UTF-8, a broken JSON line), a duplicate of a main-file row (across files),
  and one row with an unknown extra column that must be *accepted* (expected reason null);
- one bad file per day, rotating through the file-level classes (empty file, truncated Parquet,
  missing required columns, wrong column types, broken CSV rows).

``source_row`` follows ingest's numbering (``pipelines/ingest/readers.py``): 1-based Parquet rows and
JSONL lines, CSV lines counting the header as line 1, and 0 for a file-level entry. The expected
reasons are the constants of ``pipelines.ingest.reasons``.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.ingest import reasons
from pipelines.simulate.day import EVENT_SCHEMA

BAD_STREAM = 2

# kind -> expected reason, for rows appended to the main file (schema-compatible)
MAIN_FILE_KINDS: dict[str, str] = {
    "missing_event_id": reasons.MISSING_EVENT_ID,
    "missing_user_id": reasons.MISSING_USER_ID,
    "duplicate_in_file": reasons.DUPLICATE_EVENT_ID,
    "duplicate_across_days": reasons.DUPLICATE_EVENT_ID,
    "missing_ts": reasons.MISSING_TS,
    "ts_in_future": reasons.TS_IN_FUTURE,
    "ts_before_floor": reasons.TS_BEFORE_FLOOR,
    "missing_event_type": reasons.MISSING_EVENT_TYPE,
    "unknown_event_type": reasons.UNKNOWN_EVENT_TYPE,
    "missing_item_id": reasons.MISSING_ITEM_ID,
    "missing_query": reasons.MISSING_QUERY,
    "long_query": reasons.STRING_TOO_LONG,
    "long_id": reasons.STRING_TOO_LONG,
}
# kind -> expected reason, for rows of extra-rows.jsonl (None: the row must be accepted)
EXTRA_FILE_KINDS: dict[str, str | None] = {
    "bad_ts": reasons.BAD_TS,
    "wrong_type": reasons.WRONG_TYPE,
    "invalid_utf8": reasons.INVALID_UTF8,
    "broken_json_line": reasons.BROKEN_JSON_LINE,
    "duplicate_across_files": reasons.DUPLICATE_EVENT_ID,
    "extra_column": None,
}
ROW_KINDS: tuple[str, ...] = tuple(MAIN_FILE_KINDS) + tuple(EXTRA_FILE_KINDS)
FILE_KINDS: tuple[str, ...] = ("empty_file", "corrupt_parquet", "missing_columns", "wrong_column_types",
                               "broken_csv_rows")
FILE_KIND_ROWS = 3  # data rows in a bad file that has rows

INJECTED_SCHEMA = pa.schema([
    ("generated_for", pa.string()), ("landing_date", pa.string()), ("source_file", pa.string()),
    ("source_row", pa.int64()), ("event_id", pa.string()), ("kind", pa.string()),
    ("expected_reason", pa.string()),
])


@dataclass
class BadFile:
    name: str                   # file name inside the day's landing folder
    payload: bytes


@dataclass
class Injection:
    main: pa.Table                               # the day's main table with bad rows appended
    files: list[BadFile] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)  # INJECTED_SCHEMA rows, source_file relative


def row_kinds_for_day(n_bad: int, day_index: int) -> list[str]:
    """Round-robin over the row classes, starting at a day-dependent offset (all appear over days)."""
    start = day_index * 7 % len(ROW_KINDS)
    return [ROW_KINDS[(start + j) % len(ROW_KINDS)] for j in range(n_bad)]


def file_kind_for_day(day_index: int) -> str:
    return FILE_KINDS[day_index % len(FILE_KINDS)]


def _iso(ts_us: int) -> str:
    return datetime.fromtimestamp(ts_us / 1e6, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _json_row(row: dict) -> dict:
    out = dict(row)
    if isinstance(out.get("ts"), datetime):
        out["ts"] = out["ts"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
    return out


def inject_day(main: pa.Table, prev_day_rows: pa.Table | None, rate: float, seed: int, day_index: int,
               landing_day: date, folder: str, main_name: str, main_fmt: str) -> Injection:
    """Append bad rows to ``main`` and build the day's bad files; ``folder`` is relative to landing/."""
    rng = np.random.default_rng([seed, BAD_STREAM, day_index])
    n_clean = main.num_rows
    out = Injection(main=main)
    if rate <= 0 or n_clean == 0:
        return out
    n_bad = max(1, int(round(rate * n_clean)))
    kinds = row_kinds_for_day(n_bad, day_index)
    day_start = datetime(landing_day.year, landing_day.month, landing_day.day, tzinfo=UTC)
    stamp = landing_day.strftime("%Y%m%d")

    def pick() -> dict:  # one clean row, as a dict (never the whole table: days can be large)
        return main.slice(int(rng.integers(0, n_clean)), 1).to_pylist()[0]

    def record(file: str, row: int, event_id, kind: str, reason: str | None) -> None:
        out.records.append({"landing_date": landing_day.isoformat(), "source_file": f"{folder}/{file}",
                            "source_row": row, "event_id": event_id, "kind": kind,
                            "expected_reason": reason})

    appended: list[dict] = []
    extra_lines: list[bytes] = []
    for j, kind in enumerate(kinds):
        row = pick()
        row["event_id"] = f"ev-{stamp}-bad-{j:05d}"
        if kind in MAIN_FILE_KINDS:
            if kind == "missing_event_id":
                row["event_id"] = None if j % 2 else ""
            elif kind == "missing_user_id":
                row["user_id"] = None if j % 2 else "  "
            elif kind == "duplicate_in_file":
                row = pick()
            elif kind == "duplicate_across_days":
                if prev_day_rows is not None and prev_day_rows.num_rows:
                    row = prev_day_rows.slice(int(rng.integers(0, prev_day_rows.num_rows)), 1).to_pylist()[0]
                else:
                    row = pick()  # no earlier day: a duplicate within the file instead
            elif kind == "missing_ts":
                row["ts"] = None
            elif kind == "ts_in_future":
                row["ts"] = day_start + timedelta(days=30)
            elif kind == "ts_before_floor":
                row["ts"] = datetime(1990, 6, 1, 12, tzinfo=UTC)
            elif kind == "missing_event_type":
                row["event_type"] = None if j % 2 else ""
            elif kind == "unknown_event_type":
                row["event_type"] = "wishlist"
            elif kind == "missing_item_id":
                row.update(event_type="view", item_id=None, query=None)
            elif kind == "missing_query":
                row.update(event_type="search", item_id=None, query=None if j % 2 else "", price=None)
            elif kind == "long_query":
                row.update(event_type="search", item_id=None, price=None, query="sunset poster " * 45)
            elif kind == "long_id":
                row["user_id"] = "user-" + "x" * 200
            appended.append(row)
            number = n_clean + len(appended) + (1 if main_fmt == "csv" else 0)
            record(main_name, number, row["event_id"] or None, kind, MAIN_FILE_KINDS[kind])
        else:
            reason = EXTRA_FILE_KINDS[kind]
            event_id = row["event_id"]
            if kind == "bad_ts":
                line = json.dumps({**_json_row(row), "ts": "yesterday at noon"}, ensure_ascii=False).encode()
            elif kind == "wrong_type":
                line = json.dumps({**_json_row(row), "price": "cheap"}, ensure_ascii=False).encode()
            elif kind == "invalid_utf8":
                text = json.dumps({**_json_row(row), "query": "QQQ", "event_type": "search",
                                   "item_id": None}, ensure_ascii=False).encode()
                line = text.replace(b"QQQ", b"sol\xffnedg\xe5ng")
            elif kind == "broken_json_line":
                line = json.dumps(_json_row(row), ensure_ascii=False).encode()[:-12]
            elif kind == "duplicate_across_files":
                row = pick()
                event_id = row["event_id"]
                line = json.dumps(_json_row(row), ensure_ascii=False).encode()
            else:  # extra_column: a valid new event with a column the contract does not know
                line = json.dumps({**_json_row(row), "coupon_code": "WINTER10"}, ensure_ascii=False).encode()
            extra_lines.append(line)
            record("extra-rows.jsonl", len(extra_lines), event_id, kind, reason)

    if appended:
        out.main = pa.concat_tables([main, pa.Table.from_pylist(appended, schema=EVENT_SCHEMA)])
    if extra_lines:
        out.files.append(BadFile("extra-rows.jsonl", b"\n".join(extra_lines) + b"\n"))
    _add_bad_file(out, file_kind_for_day(day_index), main.slice(0, FILE_KIND_ROWS).to_pylist(), stamp, record)
    return out


def _add_bad_file(out: Injection, kind: str, rows: list[dict], stamp: str, record) -> None:
    rows = [dict(r, event_id=f"ev-{stamp}-badfile-{k}") for k, r in enumerate(rows)]
    if kind == "empty_file":
        out.files.append(BadFile("zz-empty.jsonl", b""))
        record("zz-empty.jsonl", 0, None, kind, reasons.EMPTY_FILE)
    elif kind == "corrupt_parquet":
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA), buf)
        data = buf.getvalue()
        out.files.append(BadFile("zz-truncated.parquet", data[: len(data) // 2]))
        record("zz-truncated.parquet", 0, None, kind, reasons.CORRUPT_FILE)
    elif kind == "missing_columns":
        table = pa.Table.from_pylist(rows, schema=EVENT_SCHEMA).drop_columns(["user_id"])
        buf = io.BytesIO()
        pq.write_table(table, buf)
        out.files.append(BadFile("zz-missing-columns.parquet", buf.getvalue()))
        for k, r in enumerate(rows, start=1):
            record("zz-missing-columns.parquet", k, r["event_id"], kind, reasons.MISSING_COLUMNS)
    elif kind == "wrong_column_types":
        table = pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)
        ts = table.column("ts").cast(pa.int64())  # epoch microseconds: a number, not a timestamp
        table = table.set_column(table.schema.get_field_index("ts"), "ts", ts)
        buf = io.BytesIO()
        pq.write_table(table, buf)
        out.files.append(BadFile("zz-wrong-types.parquet", buf.getvalue()))
        for k, r in enumerate(rows, start=1):
            record("zz-wrong-types.parquet", k, r["event_id"], kind, reasons.WRONG_TYPE)
    elif kind == "broken_csv_rows":
        header = ",".join(EVENT_SCHEMA.names)
        lines = [header] + [f"{r['event_id']},{_iso(int(r['ts'].timestamp() * 1e6))},{r['user_id']},"
                            f"extra,field,too,many,fields,here,and,more" for r in rows]
        out.files.append(BadFile("zz-broken.csv", ("\n".join(lines) + "\n").encode()))
        for k, r in enumerate(rows, start=2):
            record("zz-broken.csv", k, r["event_id"], kind, reasons.BROKEN_CSV_ROW)
    else:  # pragma: no cover
        raise ValueError(f"unknown bad file kind {kind!r}")
