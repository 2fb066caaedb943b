"""Reading one landing file into raw rows, whatever state it is in.

Each reader returns a :class:`FileRead`: the file's column names and its rows, each with its line
(text files, 1-based, the CSV header is line 1) or row number (Parquet, 1-based), the values as found
and, for a row that could not even be parsed, a reason. A file that cannot be read at all (empty,
truncated, corrupt) has ``error`` set and no rows: a file is read whole before any row is handed
on, so nothing is ever half-loaded.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.ingest import reasons


@dataclass(slots=True)
class RawRow:
    source_row: int
    values: dict[str, Any] | None
    raw: str | None = None                  # None: render from values when needed (Parquet)
    error: tuple[str, str] | None = None    # (reason, detail) when the row could not be parsed

    def raw_text(self) -> str:
        if self.raw is not None:
            return self.raw
        return render_raw(self.values or {})


@dataclass
class FileRead:
    columns: list[str] = field(default_factory=list)
    rows: list[RawRow] = field(default_factory=list)
    error: tuple[str, str] | None = None    # file-level (reason, detail): the file yielded no rows


def render_raw(values: dict[str, Any]) -> str:
    """A row as one line of JSON text, for the quarantine's ``raw`` column (bytes shown escaped)."""
    def default(value: Any) -> str:
        if isinstance(value, bytes):
            return value.decode("utf-8", "backslashreplace")
        return str(value)
    return json.dumps(values, default=default, ensure_ascii=False)


def read_landing_file(path: Path) -> FileRead:
    """Dispatch on the suffix; any unexpected failure is a CORRUPT_FILE, never an exception."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return read_parquet(path)
        data = path.read_bytes()
        if suffix == ".csv":
            return read_csv_bytes(data)
        return read_json_bytes(data, allow_array=suffix == ".json")
    except Exception as exc:  # noqa: BLE001 - the file is untrusted; the reason is recorded
        return FileRead(error=(reasons.CORRUPT_FILE, f"{type(exc).__name__}: {exc}"[:1000]))


# --- JSON Lines ---------------------------------------------------------------------------------

def read_json_bytes(data: bytes, allow_array: bool = False) -> FileRead:
    """JSON Lines; a ``.json`` file holding one JSON array of objects is accepted too."""
    if not data.strip():
        return FileRead(error=(reasons.EMPTY_FILE, "the file holds no data"))
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if allow_array and data.lstrip().startswith(b"["):
        return _read_json_array(data)
    out = FileRead()
    seen: dict[str, None] = {}
    for number, line in enumerate(data.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue  # blank lines carry nothing (documented): not rows
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            out.rows.append(RawRow(number, None, line.decode("utf-8", "backslashreplace"),
                                   (reasons.INVALID_UTF8, f"byte {exc.start}: {exc.reason}")))
            continue
        try:
            obj = json.loads(text)
        except ValueError as exc:
            out.rows.append(RawRow(number, None, text, (reasons.BROKEN_JSON_LINE, str(exc)[:200])))
            continue
        if not isinstance(obj, dict):
            out.rows.append(RawRow(number, None, text,
                                   (reasons.BROKEN_JSON_LINE, f"a JSON {type(obj).__name__}, not an object")))
            continue
        seen.update(dict.fromkeys(obj))
        out.rows.append(RawRow(number, obj, text))
    out.columns = list(seen)
    if not out.rows:
        return FileRead(error=(reasons.EMPTY_FILE, "the file holds only blank lines"))
    return out


def _read_json_array(data: bytes) -> FileRead:
    try:
        items = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return FileRead(error=(reasons.CORRUPT_FILE, f"not a valid JSON array: {exc}"[:1000]))
    if not isinstance(items, list):
        return FileRead(error=(reasons.CORRUPT_FILE, "a .json file must be JSON Lines or one array"))
    if not items:
        return FileRead(error=(reasons.EMPTY_FILE, "an empty JSON array"))
    out = FileRead()
    seen: dict[str, None] = {}
    for number, obj in enumerate(items, start=1):
        text = json.dumps(obj, ensure_ascii=False)
        if isinstance(obj, dict):
            seen.update(dict.fromkeys(obj))
            out.rows.append(RawRow(number, obj, text))
        else:
            out.rows.append(RawRow(number, None, text,
                                   (reasons.BROKEN_JSON_LINE, f"element is a JSON {type(obj).__name__}")))
    out.columns = list(seen)
    return out


# --- CSV ----------------------------------------------------------------------------------------

def read_csv_bytes(data: bytes) -> FileRead:
    """CSV with a header line; empty fields are nulls; lines that are not UTF-8 are rows of their own."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        return FileRead(error=(reasons.EMPTY_FILE, "the file holds no data"))
    lines = data.splitlines(keepends=True)
    header_text = lines[0].decode("utf-8", "replace")
    header = [name.strip() for name in next(csv.reader([header_text]), [])]
    out = FileRead(columns=header)
    state: dict[str, Any] = {"start": None, "buf": []}

    def text_lines() -> Iterator[str]:
        for number, line in enumerate(lines[1:], start=2):
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                out.rows.append(RawRow(number, None, line.decode("utf-8", "backslashreplace").rstrip("\r\n"),
                                       (reasons.INVALID_UTF8, f"byte {exc.start}: {exc.reason}")))
                continue
            if state["start"] is None:
                state["start"] = number
            state["buf"].append(text)
            yield text

    reader = csv.reader(text_lines())
    width = len(header)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            start = state["start"] or 0
            out.rows.append(RawRow(start, None, "".join(state["buf"]).rstrip("\r\n"),
                                   (reasons.BROKEN_CSV_ROW, str(exc)[:200])))
            state["start"], state["buf"] = None, []
            continue
        start, raw = state["start"] or 0, "".join(state["buf"]).rstrip("\r\n")
        state["start"], state["buf"] = None, []
        if not record or (len(record) == 1 and not record[0].strip() and width != 1):
            continue  # blank line
        if len(record) != width:
            out.rows.append(RawRow(start, None, raw, (reasons.BROKEN_CSV_ROW,
                                                      f"{len(record)} fields, the header has {width}")))
            continue
        out.rows.append(RawRow(start, {name: (value if value != "" else None)
                                       for name, value in zip(header, record, strict=True)}, raw))
    out.rows.sort(key=lambda row: row.source_row)
    if not out.rows:
        return FileRead(columns=header, error=(reasons.EMPTY_FILE, "a header but no data rows"))
    return out


# --- Parquet ------------------------------------------------------------------------------------

def read_parquet(path: Path) -> FileRead:
    """Parquet read whole (a truncated file fails here, before any row is handed on).

    String columns are read as bytes so that invalid UTF-8 becomes a row-level INVALID_UTF8 rather
    than failing the file; timestamps are cut to microseconds.
    """
    try:
        parquet_file = pq.ParquetFile(path)
        schema = parquet_file.schema_arrow
        read_schema = pa.schema([_binary_if_string(f) for f in schema])
        table = parquet_file.read().cast(read_schema) if read_schema != schema else parquet_file.read()
    except Exception as exc:  # noqa: BLE001
        return FileRead(error=(reasons.CORRUPT_FILE, f"unreadable Parquet: {type(exc).__name__}: {exc}"[:1000]))
    columns = table.column_names
    if table.num_rows == 0:
        return FileRead(columns=columns, error=(reasons.EMPTY_FILE, "a Parquet file with 0 rows"))
    arrays = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type) and column.type.unit == "ns":
            column = column.cast(pa.timestamp("us", tz=column.type.tz), safe=False)
        arrays.append(column.to_pylist())
    rows = [RawRow(number, dict(zip(columns, values, strict=True)))
            for number, values in enumerate(zip(*arrays, strict=True), start=1)]
    return FileRead(columns=columns, rows=rows)


def _binary_if_string(field_: pa.Field) -> pa.Field:
    if pa.types.is_string(field_.type) or pa.types.is_large_string(field_.type):
        return field_.with_type(pa.binary())
    if pa.types.is_dictionary(field_.type) and (pa.types.is_string(field_.type.value_type)
                                                or pa.types.is_large_string(field_.type.value_type)):
        return field_.with_type(pa.binary())
    return field_
