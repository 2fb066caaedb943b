"""Reading one landing file into raw rows, whatever state it is in.

:func:`open_landing_file` returns a :class:`FileStream`: a file-level ``error`` (empty, truncated,
corrupt: decided before any row is handed on) or a lazy stream of rows, each with its line (text
files, 1-based, the CSV header is line 1) or row number (Parquet, 1-based), the values as found and,
for a row that could not even be parsed, a reason. Rows stream so that a large file is never held
as Python objects all at once; ``columns`` is complete once the rows are exhausted (JSON Lines has
no header: its columns are the union of the keys seen). Ingest writes nothing before a file is fully
read, so nothing is ever half-loaded. :func:`read_landing_file` is the materialised form.
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

PARQUET_BATCH_ROWS = 65_536


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
class FileStream:
    rows: Iterator[RawRow] = field(default_factory=lambda: iter(()))
    error: tuple[str, str] | None = None    # file-level (reason, detail): the file yields no rows
    seen_columns: dict[str, None] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return list(self.seen_columns)


@dataclass
class FileRead:
    columns: list[str] = field(default_factory=list)
    rows: list[RawRow] = field(default_factory=list)
    error: tuple[str, str] | None = None


def render_raw(values: dict[str, Any]) -> str:
    """A row as one line of JSON text, for the quarantine's ``raw`` column (bytes shown escaped)."""
    def default(value: Any) -> str:
        if isinstance(value, bytes):
            return value.decode("utf-8", "backslashreplace")
        return str(value)
    return json.dumps(values, default=default, ensure_ascii=False)


def open_landing_file(path: Path) -> FileStream:
    """Dispatch on the suffix; any failure to open is a CORRUPT_FILE, never an exception."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return stream_parquet(path)
        data = path.read_bytes()
        if suffix == ".csv":
            return stream_csv_bytes(data)
        return stream_json_bytes(data, allow_array=suffix == ".json")
    except Exception as exc:  # noqa: BLE001 - the file is untrusted; the reason is recorded
        return FileStream(error=(reasons.CORRUPT_FILE, f"{type(exc).__name__}: {exc}"[:1000]))


def materialise(stream: FileStream) -> FileRead:
    rows = list(stream.rows)
    return FileRead(columns=stream.columns, rows=rows, error=stream.error)


def read_landing_file(path: Path) -> FileRead:
    return materialise(open_landing_file(path))


def read_json_bytes(data: bytes, allow_array: bool = False) -> FileRead:
    return materialise(stream_json_bytes(data, allow_array))


def read_csv_bytes(data: bytes) -> FileRead:
    return materialise(stream_csv_bytes(data))


# --- JSON Lines ---------------------------------------------------------------------------------

def stream_json_bytes(data: bytes, allow_array: bool = False) -> FileStream:
    """JSON Lines; a ``.json`` file holding one JSON array of objects is accepted too."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        return FileStream(error=(reasons.EMPTY_FILE, "the file holds no data (or only blank lines)"))
    if allow_array and data.lstrip().startswith(b"["):
        return _json_array(data)
    stream = FileStream()
    stream.rows = _json_lines(data, stream.seen_columns)
    return stream


def _json_lines(data: bytes, seen: dict[str, None]) -> Iterator[RawRow]:
    for number, line in enumerate(data.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue  # blank lines carry nothing (documented): not rows
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield RawRow(number, None, line.decode("utf-8", "backslashreplace"),
                         (reasons.INVALID_UTF8, f"byte {exc.start}: {exc.reason}"))
            continue
        try:
            obj = json.loads(text)
        except RecursionError:
            yield RawRow(number, None, text, (reasons.BROKEN_JSON_LINE, "nested too deeply to be an event"))
            continue
        except ValueError as exc:
            yield RawRow(number, None, text, (reasons.BROKEN_JSON_LINE, str(exc)[:200]))
            continue
        if not isinstance(obj, dict):
            yield RawRow(number, None, text,
                         (reasons.BROKEN_JSON_LINE, f"a JSON {type(obj).__name__}, not an object"))
            continue
        for key in obj:
            if key not in seen:
                seen[key] = None
        yield RawRow(number, obj, text)


def _json_array(data: bytes) -> FileStream:
    try:
        items = json.loads(data.decode("utf-8"))
    except RecursionError:
        return FileStream(error=(reasons.CORRUPT_FILE, "a JSON array nested too deeply"))
    except (UnicodeDecodeError, ValueError) as exc:
        return FileStream(error=(reasons.CORRUPT_FILE, f"not a valid JSON array: {exc}"[:1000]))
    if not isinstance(items, list):
        return FileStream(error=(reasons.CORRUPT_FILE, "a .json file must be JSON Lines or one array"))
    if not items:
        return FileStream(error=(reasons.EMPTY_FILE, "an empty JSON array"))
    stream = FileStream()
    for obj in items:
        if isinstance(obj, dict):
            stream.seen_columns.update(dict.fromkeys(obj))

    def rows() -> Iterator[RawRow]:
        for number, obj in enumerate(items, start=1):
            text = json.dumps(obj, ensure_ascii=False)
            if isinstance(obj, dict):
                yield RawRow(number, obj, text)
            else:
                yield RawRow(number, None, text,
                             (reasons.BROKEN_JSON_LINE, f"element is a JSON {type(obj).__name__}"))
    stream.rows = rows()
    return stream


# --- CSV ----------------------------------------------------------------------------------------

def stream_csv_bytes(data: bytes) -> FileStream:
    """CSV with a header line; empty fields are nulls; lines that are not UTF-8 are rows of their own."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        return FileStream(error=(reasons.EMPTY_FILE, "the file holds no data"))
    lines = data.splitlines(keepends=True)
    if not any(line.strip() for line in lines[1:]):
        return FileStream(error=(reasons.EMPTY_FILE, "a header but no data rows"))
    header_text = lines[0].decode("utf-8", "replace")
    header = [name.strip() for name in next(csv.reader([header_text]), [])]
    stream = FileStream(seen_columns=dict.fromkeys(header))
    stream.rows = _csv_rows(lines, header)
    return stream


def _csv_rows(lines: list[bytes], header: list[str]) -> Iterator[RawRow]:
    state: dict[str, Any] = {"start": None, "buf": []}
    pending: list[RawRow] = []   # undecodable lines met while csv.reader asked for the next line

    def text_lines() -> Iterator[str]:
        for number, line in enumerate(lines[1:], start=2):
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                pending.append(RawRow(number, None, line.decode("utf-8", "backslashreplace").rstrip("\r\n"),
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
            error = None
        except StopIteration:
            break
        except csv.Error as exc:
            record, error = None, str(exc)[:200]
        start, raw = state["start"] or 0, "".join(state["buf"]).rstrip("\r\n")
        state["start"], state["buf"] = None, []
        rows: list[RawRow] = pending[:]
        pending.clear()
        if error is not None:
            rows.append(RawRow(start, None, raw, (reasons.BROKEN_CSV_ROW, error)))
        elif not record or (len(record) == 1 and not record[0].strip() and width != 1):
            pass  # blank line
        elif len(record) != width:
            rows.append(RawRow(start, None, raw, (reasons.BROKEN_CSV_ROW,
                                                  f"{len(record)} fields, the header has {width}")))
        else:
            rows.append(RawRow(start, {name: (value if value != "" else None)
                                       for name, value in zip(header, record, strict=True)}, raw))
        yield from sorted(rows, key=lambda r: r.source_row)
    yield from pending


# --- Parquet ------------------------------------------------------------------------------------

def stream_parquet(path: Path) -> FileStream:
    """Parquet read whole into Arrow first (a truncated file fails here, before any row is handed
    on), then handed on in batches. String columns are read as bytes so that invalid UTF-8 becomes a
    row-level INVALID_UTF8 rather than failing the file; timestamps are cut to microseconds."""
    try:
        parquet_file = pq.ParquetFile(path)
        schema = parquet_file.schema_arrow
        read_schema = pa.schema([_binary_if_string(f) for f in schema])
        table = parquet_file.read()
        if read_schema != schema:
            table = table.cast(read_schema)
    except Exception as exc:  # noqa: BLE001
        return FileStream(error=(reasons.CORRUPT_FILE, f"unreadable Parquet: {type(exc).__name__}: {exc}"[:1000]))
    if table.num_rows == 0:
        return FileStream(error=(reasons.EMPTY_FILE, "a Parquet file with 0 rows"),
                          seen_columns=dict.fromkeys(table.column_names))
    stream = FileStream(seen_columns=dict.fromkeys(table.column_names))
    stream.rows = _parquet_rows(table)
    return stream


def _parquet_rows(table: pa.Table) -> Iterator[RawRow]:
    columns = table.column_names
    number = 0
    for batch in table.to_batches(max_chunksize=PARQUET_BATCH_ROWS):
        arrays = []
        for column in batch.columns:
            if pa.types.is_timestamp(column.type) and column.type.unit == "ns":
                column = column.cast(pa.timestamp("us", tz=column.type.tz), safe=False)
            arrays.append(column.to_pylist())
        for values in zip(*arrays, strict=True):
            number += 1
            yield RawRow(number, dict(zip(columns, values, strict=True)))


def _binary_if_string(field_: pa.Field) -> pa.Field:
    if pa.types.is_string(field_.type) or pa.types.is_large_string(field_.type):
        return field_.with_type(pa.binary())
    if pa.types.is_dictionary(field_.type) and (pa.types.is_string(field_.type.value_type)
                                                or pa.types.is_large_string(field_.type.value_type)):
        return field_.with_type(pa.binary())
    return field_
