"""Landing files -> batches of *normalised* rows for the DuckDB contract check (``checks_sql``).

One scanner per format, each reading its file in bounded pieces (``BLOCK_BYTES`` of text, or
``BATCH_ROWS`` Parquet rows), so memory does not grow with the file:

- JSON Lines: lines are split by bytes (C speed) and handed to DuckDB as one BLOB column; DuckDB's
  JSON functions parse each line once (``json_extract`` of all contract paths) and name each value's
  kind. Lines DuckDB cannot judge exactly like the contract's Python rules (not UTF-8, not valid
  JSON, control characters, NaN / Infinity, trailing commas) are marked for the Python validator.
- CSV: Python's C ``csv`` reader over lines decoded one by one (a line that is not UTF-8 is a row of
  its own), header once; columns handed on as Arrow arrays. ``DUPLICATE_COLUMNS``: a header naming a
  column twice is rejected as a file.
- Parquet: ``pyarrow`` batches (strings read as bytes so that bad UTF-8 is a row reason, not a file
  failure), each column's kind decided once from its Arrow type, its values in DuckDB.

Parquet files whose columns both readers see alike and well-formed CSV files also have a fast path,
``whole_file_batch``: one batch whose SQL has DuckDB read the whole file itself (``read_parquet`` /
``read_csv``), no Arrow round trip. Where DuckDB refuses a value there, the caller falls back to
``batches``.

Each batch knows how to give a row back to Python (``values``, for the residue rows
``checks_sql`` does not decide) and each scanner how to fetch the raw text of rows again
(``raw_at``, for rows found to be duplicates after the file was read). A failure in the middle of
a file raises :class:`FileRejected`: the caller drops what it staged of that file.
"""

from __future__ import annotations

import bisect
import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.ingest import reasons
from pipelines.ingest.checks_sql import MAX_US, MIN_US, NORMALISED_COLUMNS
from pipelines.ingest.contract import STRING_COLUMNS
from pipelines.ingest.readers import render_raw

BLOCK_BYTES = 32 * 1024 * 1024
BATCH_ROWS = 200_000
BOM = b"\xef\xbb\xbf"
# values DuckDB's JSON reader accepts but Python's json does not (or parses differently)
JSON_RESIDUE = r"[\x00-\x1f]|,\s*[}\]]|[:,\[]\s*[-+]?(?i:nan|inf)"


class FileRejected(Exception):
    """A whole file fails (corrupt, empty, duplicate columns): one file-level quarantine entry."""

    def __init__(self, reason: str, detail: str):
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail[:1000]


@dataclass
class Batch:
    """``sql``: a SELECT over the registered Arrow ``table`` (name ``{name}``) giving the normalised
    relation; ``rows(idxs)``: (values, raw, reader error) of those rows, for the Python validator."""

    table: pa.Table | None   # None: ``sql`` reads the file itself (``ParquetScanner.whole_file_batch``)
    sql: str
    rows: Callable[[list[int]], list[tuple[dict | None, str, tuple[str, str] | None]]]
    has_keys: bool = False   # JSON Lines: the relation has ``keys`` (the file's columns are their union)
    ordered: bool = False    # ``idx`` is ``row_number() OVER ()``: run with insertion order preserved


@dataclass
class Scanner:
    path: Path
    columns: dict[str, None] = field(default_factory=dict)

    def batches(self) -> Iterator[Batch]:
        raise NotImplementedError

    def whole_file_batch(self, duckdb_types: dict[str, str]) -> Batch | None:
        """One batch of the whole file read by DuckDB itself, where the format has such a fast path."""
        return None

    def raw_at(self, refs: list[tuple[int, int]]) -> list[str]:
        """Raw text of rows by their (raw_off, raw_len) reference."""
        out = []
        with self.path.open("rb") as f:
            for off, length in refs:
                f.seek(off)
                out.append(f.read(length).decode("utf-8", "backslashreplace").rstrip("\r\n"))
        return out


def open_scanner(path: Path) -> Scanner:
    """The scanner for the file's suffix; FileRejected when it cannot be read at all."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return ParquetScanner(path)
    if suffix == ".csv":
        return CsvScanner(path)
    return JsonScanner(path, allow_array=suffix == ".json")


def _first_bytes(path: Path, n: int = 4096) -> bytes:
    with path.open("rb") as f:
        return f.read(n)


# --- JSON Lines ---------------------------------------------------------------------------------

def _json_kind(j: str) -> str:
    """SQL: the Python type name of the JSON fragment ``j`` from its first character (NULL = key
    absent). NaN / Infinity never get here: such lines go to the Python path (``JSON_RESIDUE``)."""
    return (f"CASE WHEN {j} IS NULL THEN 'null' ELSE CASE left({j}, 1) WHEN '\"' THEN 'str' WHEN '{{' THEN 'dict' "
            f"WHEN '[' THEN 'list' WHEN 't' THEN 'bool' WHEN 'f' THEN 'bool' WHEN 'n' THEN 'null' "
            f"ELSE CASE WHEN regexp_matches({j}, '^-?[0-9]+$') THEN 'int' ELSE 'float' END END END")


def _json_text(j: str) -> str:
    """SQL: the text of a string fragment (unescaped only when it has escapes) or of an integer."""
    return (f"CASE left({j}, 1) WHEN '\"' THEN CASE WHEN contains({j}, '\\') THEN {j}->>'$' ELSE {j}[2:-2] END "
            f"WHEN '{{' THEN NULL WHEN '[' THEN NULL ELSE {j} END")


def json_lines_sql(table: str, base_row: int) -> str:
    """Normalised relation of a batch of JSON lines (``idx``, ``line``, ``line_no``, ``off``)."""
    paths = ", ".join(f"'$.\"{c}\"'" for c in NORMALISED_COLUMNS)
    per_col = []
    for i, column in enumerate(NORMALISED_COLUMNS, start=1):
        j = f"CAST(v[{i}] AS VARCHAR)"
        per_col.append(f"CASE WHEN is_obj THEN {_json_kind(j)} ELSE 'null' END AS {column}_k")
        per_col.append(f"CASE WHEN is_obj THEN {_json_text(j)} END AS {column}_s")
    cols = ",\n    ".join(per_col)
    return f"""
WITH d AS (
    SELECT idx, line_no AS source_row, off AS raw_off, octet_length(line) AS raw_len,
           CASE WHEN suffix(try(decode(line)), chr(13)) THEN rtrim(try(decode(line)), chr(13))
                ELSE try(decode(line)) END AS txt
    FROM {table}
),
j AS (
    SELECT *, txt IS NOT NULL AND NOT regexp_matches(txt, '{JSON_RESIDUE}') AND json_valid(txt) AS ok
    FROM d
    WHERE txt IS NULL OR NOT regexp_matches(txt, '^[ \\t\\n\\r\\x0b\\x0c]*$')
),
o AS (SELECT *, CASE WHEN ok THEN json_type(txt) END AS jt FROM j),
k AS (
    SELECT *, CASE WHEN jt = 'OBJECT' THEN json_keys(txt) END AS keys,
           CASE WHEN jt = 'OBJECT' THEN json_extract(txt, [{paths}]) END AS v
    FROM o
),
m AS (SELECT *, keys IS NOT NULL AND len(keys) = list_unique(keys) AS is_obj FROM k)
SELECT idx, source_row, raw_off, raw_len, txt AS raw, NOT ok AS residue_hint, keys,
    CASE WHEN ok AND NOT is_obj THEN '{reasons.BROKEN_JSON_LINE}' END AS parse_reason,
    CASE WHEN ok AND jt <> 'OBJECT' THEN 'a JSON ' || CASE jt WHEN 'ARRAY' THEN 'list' WHEN 'VARCHAR' THEN 'str'
              WHEN 'BIGINT' THEN 'int' WHEN 'UBIGINT' THEN 'int' WHEN 'DOUBLE' THEN 'float'
              WHEN 'BOOLEAN' THEN 'bool' WHEN 'NULL' THEN 'NoneType' ELSE lower(jt) END || ', not an object'
         WHEN ok AND NOT is_obj THEN 'a key appears more than once in the object (ambiguous)' END AS parse_detail,
    {cols},
    CASE WHEN is_obj AND regexp_matches(CAST(v[9] AS VARCHAR), '^-?[0-9]') THEN TRY_CAST(CAST(v[9] AS VARCHAR) AS DOUBLE) END AS price_v,
    CAST(NULL AS BIGINT) AS ts_us
FROM m
"""


def _loads(text: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            raise ValueError("a key appears more than once in the object (ambiguous)")
        return obj
    return json.loads(text, object_pairs_hook=no_duplicates)


def parse_json_line(line: bytes) -> tuple[dict | None, str, tuple[str, str] | None]:
    """One JSON line the Python way (the residue path): (object, raw text, reader error)."""
    line = line.rstrip(b"\r")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, line.decode("utf-8", "backslashreplace"), (reasons.INVALID_UTF8, f"byte {exc.start}: {exc.reason}")
    try:
        obj = _loads(text)
    except RecursionError:
        return None, text, (reasons.BROKEN_JSON_LINE, "nested too deeply to be an event")
    except ValueError as exc:
        return None, text, (reasons.BROKEN_JSON_LINE, str(exc)[:200])
    if not isinstance(obj, dict):
        return None, text, (reasons.BROKEN_JSON_LINE, f"a JSON {type(obj).__name__}, not an object")
    return obj, text, None


class JsonScanner(Scanner):
    def __init__(self, path: Path, allow_array: bool = False):
        super().__init__(path)
        self.allow_array = allow_array
        self._array_lines: list[bytes] | None = None
        head = _first_bytes(path)
        if head.startswith(BOM):
            head = head[3:]
        if allow_array and head.lstrip().startswith(b"["):
            self._array_lines = self._read_array()
        elif not head.strip() and not self._has_data():
            raise FileRejected(reasons.EMPTY_FILE, "the file holds no data (or only blank lines)")

    def _has_data(self) -> bool:
        with self.path.open("rb") as f:
            while block := f.read(BLOCK_BYTES):
                if block.strip(b" \t\n\r\x0b\x0c" + BOM):
                    return True
        return False

    def _read_array(self) -> list[bytes]:
        data = self.path.read_bytes()
        try:
            items = json.loads(data.removeprefix(BOM).decode("utf-8"))
        except RecursionError:
            raise FileRejected(reasons.CORRUPT_FILE, "a JSON array nested too deeply") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise FileRejected(reasons.CORRUPT_FILE, f"not a valid JSON array: {exc}") from None
        if not isinstance(items, list):
            raise FileRejected(reasons.CORRUPT_FILE, "a .json file must be JSON Lines or one array")
        if not items:
            raise FileRejected(reasons.EMPTY_FILE, "an empty JSON array")
        return [json.dumps(obj, ensure_ascii=False).encode() for obj in items]

    def _pieces(self) -> Iterator[tuple[list[bytes], int, int]]:
        """(lines, number of the first line, byte offset of the first line)."""
        if self._array_lines is not None:
            for start in range(0, len(self._array_lines), BATCH_ROWS):
                yield self._array_lines[start:start + BATCH_ROWS], start + 1, start
            return
        line_no, offset, carry = 1, 0, b""
        with self.path.open("rb") as f:
            first = True
            while True:
                block = f.read(BLOCK_BYTES)
                if first:
                    first = False
                    if block.startswith(BOM):
                        block, offset = block[3:], 3
                data = carry + block
                if block:
                    cut = data.rfind(b"\n")
                    if cut < 0:
                        carry = data
                        continue
                    carry, data = data[cut + 1:], data[:cut]
                elif not data:
                    return
                else:
                    carry = b""
                lines = data.split(b"\n")
                yield lines, line_no, offset
                line_no += len(lines)
                offset += len(data) + 1
                if not block:
                    return

    def batches(self) -> Iterator[Batch]:
        is_array = self._array_lines is not None
        for lines, first_no, first_off in self._pieces():
            line_array = pa.array(lines, pa.binary())
            if is_array:
                offs = pa.array(range(first_off, first_off + len(lines)), pa.int64())
            else:
                steps = pc.add(pc.binary_length(line_array).cast(pa.int64()), 1)
                offs = pc.add(pc.subtract(pc.cumulative_sum(steps), steps), first_off)
            table = pa.table({
                "idx": pa.array(range(len(lines)), pa.int64()),
                "line": line_array,
                "line_no": pa.array(range(first_no, first_no + len(lines)), pa.int64()),
                "off": offs,
            })

            def rows(idxs: list[int], lines: list[bytes] = lines) -> list[tuple]:
                out = [parse_json_line(lines[i]) for i in idxs]
                for obj, _raw, _error in out:
                    if obj is not None:
                        self.columns.update(dict.fromkeys(obj))
                return out
            yield Batch(table, json_lines_sql("{name}", first_no), rows, has_keys=True)

    def raw_at(self, refs: list[tuple[int, int]]) -> list[str]:
        if self._array_lines is not None:
            return [self._array_lines[off].decode() for off, _n in refs]
        return super().raw_at(refs)


# --- CSV ----------------------------------------------------------------------------------------

def csv_sql(table: str, present: list[str]) -> str:
    parts = []
    for column in NORMALISED_COLUMNS:
        if column in present:
            parts.append(f"CASE WHEN \"{column}\" IS NULL THEN 'null' ELSE 'str' END AS {column}_k")
            parts.append(f"\"{column}\" AS {column}_s")
        else:
            parts.append(f"'null' AS {column}_k")
            parts.append(f"CAST(NULL AS VARCHAR) AS {column}_s")
    cols = ",\n    ".join(parts)
    return f"""
SELECT idx, source_row, raw_off, raw_len, raw, FALSE AS residue_hint, parse_reason, parse_detail,
    {cols},
    CAST(NULL AS DOUBLE) AS price_v, CAST(NULL AS BIGINT) AS ts_us
FROM {table}
"""


def well_formed_lines(data: bytes) -> bool:
    """Whole CSV lines (the data ends at a line end or the file's end) in the shape the fast path
    reads exactly: LF or CRLF line ends (no lone CR), no NUL, no blank line, and every quote one of
    a pair on one line, opening at a field start and closing at a field end (no quote inside a field)."""
    if b"\x00" in data or data.startswith((b"\n", b"\r\n")) or b"\n\n" in data or b"\n\r\n" in data:
        return False
    if data.count(b"\r") != data.count(b"\r\n"):
        return False
    if b'"' not in data:
        return True
    arr = np.frombuffer(data, np.uint8)
    marks = np.flatnonzero((arr == 34) | (arr == 10))    # quotes and line ends, in file order
    ranks = np.flatnonzero(arr[marks] == 34)
    if len(ranks) % 2 or not (ranks[1::2] == ranks[0::2] + 1).all():
        return False  # an odd quote, or a quoted field running over a line end
    quotes = marks[ranks]
    opens, closes = quotes[0::2], quotes[1::2]
    before = np.where(opens > 0, arr[np.maximum(opens - 1, 0)], 10)
    after = np.where(closes + 1 < len(arr), arr[np.minimum(closes + 1, len(arr) - 1)], 10)
    return bool(((before == 10) | (before == 44)).all() and ((after == 10) | (after == 44) | (after == 13)).all())


class CsvScanner(Scanner):
    """CSV with a header line; empty fields are nulls; a line that is not UTF-8 is a row of its own."""

    def __init__(self, path: Path):
        super().__init__(path)
        with path.open("rb") as f:
            first = f.readline()
            while first and not first.endswith((b"\n", b"\r")) and (more := f.readline()):
                first += more
        head = first.removeprefix(BOM)
        header_line = head.splitlines()[0] if head.splitlines() else b""
        self.header_bytes = len(first) - len(head) + len(header_line)
        header_text = header_line.decode("utf-8", "replace")
        self.header = [name.strip() for name in next(csv.reader([header_text]), [])]
        self.columns = dict.fromkeys(self.header)
        if not header_line.strip() and not self._rest_has_data(0):
            raise FileRejected(reasons.EMPTY_FILE, "the file holds no data")
        dupes = sorted({c for c in self.header if self.header.count(c) > 1})
        if dupes:
            raise FileRejected(reasons.DUPLICATE_COLUMNS, f"the header names {dupes} more than once: "
                                                          f"which value is meant is ambiguous")

    def _well_formed(self) -> bool:
        """True when every data line is one record that DuckDB's reader and Python's ``csv`` split
        alike: each field plain (no quote, comma or line break) or wholly quoted (no quote or line
        break inside), lines ending in LF or CRLF, no NUL, no blank line, at least one data line.
        Then record k is line k + 2. Checked on whole blocks with numpy (C speed), not line by line."""
        if len({name.lower() for name in self.header}) != len(self.header):
            return False
        with self.path.open("rb") as f:
            f.seek(self.header_bytes)
            ending = f.read(2)
            if not ending.startswith(b"\n") and ending != b"\r\n":
                return False  # a lone CR after the header, or no data line at all
            f.seek(self.header_bytes + (1 if ending.startswith(b"\n") else 2))
            carry, seen_data = b"", False
            while True:
                block = f.read(BLOCK_BYTES)
                data = carry + block
                if block:
                    cut = data.rfind(b"\n")
                    carry, data = (data, b"") if cut < 0 else (data[cut + 1:], data[:cut + 1])
                else:
                    carry = b""
                if data and not well_formed_lines(data):
                    return False
                seen_data = seen_data or bool(data)
                if not block:
                    return seen_data

    def whole_file_batch(self, duckdb_types: dict[str, str]) -> Batch | None:
        """The fast path: DuckDB's CSV reader over the whole file, when it is well formed
        (:meth:`_well_formed`). DuckDB refuses (``InvalidInputException``) a line with another number
        of fields than the header, or bytes that are not UTF-8: the caller then reads the file
        through :meth:`batches`, which gives those lines their row reasons. Raw text is fetched by
        line number for the few rows that need it (rejected, residue, duplicates)."""
        if not self._well_formed():
            return None
        width = len(self.header)
        positional = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width))
        path = str(self.path).replace("'", "''")
        present = [c for c in NORMALISED_COLUMNS if c in self.header]
        picked = "".join(f', c{self.header.index(c)} AS "{c}"' for c in present)
        source = (f"(SELECT row_number() OVER () - 1 AS idx{picked} FROM read_csv('{path}', header = false, "
                  f"skip = 1, delim = ',', quote = '\"', escape = '\"', all_varchar = true, auto_detect = false, "
                  f"strict_mode = true, null_padding = false, allow_quoted_nulls = true, "  # "" is None in Python's reader too
                  f"columns = {{{positional}}}))")
        relation = (f"(SELECT *, idx + 2 AS source_row, idx + 2 AS raw_off, -1 AS raw_len, "
                    f"CAST(NULL AS VARCHAR) AS raw, CAST(NULL AS VARCHAR) AS parse_reason, "
                    f"CAST(NULL AS VARCHAR) AS parse_detail FROM {source})")

        def rows(idxs: list[int]) -> list[tuple]:
            texts = self.raw_at([(i + 2, -1) for i in idxs])
            return [({name: (v if v != "" else None) for name, v in zip(self.header, next(csv.reader([text])),
                                                                          strict=True)}, text, None)
                    for text in texts]
        return Batch(None, csv_sql(relation, present), rows, ordered=True)

    def raw_at(self, refs: list[tuple[int, int]]) -> list[str]:
        """Raw text by (byte offset, length), or by (line number, -1) for rows of the fast path."""
        by_line = sorted({off for off, n in refs if n == -1})
        spans = self._line_spans(by_line) if by_line else {}
        resolved = [spans[off] if n == -1 else (off, n) for off, n in refs]
        return super().raw_at(resolved)

    def _line_spans(self, numbers: list[int]) -> dict[int, tuple[int, int]]:
        """{line number: (byte offset, length)} of the wanted lines (1-based) of a plain file, from
        the positions of its LFs (found in blocks at C speed; 8 bytes a line, only when asked)."""
        chunks, size = [], 0
        with self.path.open("rb") as f:
            while block := f.read(BLOCK_BYTES):
                chunks.append(np.flatnonzero(np.frombuffer(block, np.uint8) == 10) + size)
                size += len(block)
        lf = np.concatenate(chunks) if chunks else np.empty(0, np.int64)
        out: dict[int, tuple[int, int]] = {}
        for k in sorted(set(numbers)):
            start = 0 if k == 1 else int(lf[k - 2]) + 1
            end = int(lf[k - 1]) if k - 1 < len(lf) else size
            out[k] = (start, end - start)
        return out

    def _rest_has_data(self, start: int) -> bool:
        with self.path.open("rb") as f:
            f.seek(start)
            while block := f.read(BLOCK_BYTES):
                if block.strip(b" \t\n\r\x0b\x0c" + BOM):
                    return True
        return False

    def _lines(self) -> Iterator[tuple[int, int, bytes]]:
        """(line number, byte offset, line with its ending) after the header; CR, LF, CRLF end lines."""
        offset = self.header_bytes
        number = 1
        carry = b""
        with self.path.open("rb") as f:
            f.seek(offset)
            while True:
                block = f.read(BLOCK_BYTES)
                data = carry + block
                if block:
                    cut = data.rfind(b"\n")
                    if cut < 0:
                        cut = data.rfind(b"\r", 0, len(data) - 1)
                    if cut < 0:
                        carry = data
                        continue
                    carry, data = data[cut + 1:], data[:cut + 1]
                elif not data:
                    return
                else:
                    carry = b""
                lines = data.splitlines(keepends=True)
                if number == 1 and lines:  # the rest of the header line (its line ending)
                    if not lines[0].strip(b"\r\n"):
                        offset += len(lines[0])
                        lines = lines[1:]
                    number = 2
                for line in lines:
                    yield number, offset, line
                    number += 1
                    offset += len(line)
                if not block:
                    return

    def batches(self) -> Iterator[Batch]:
        header, width = self.header, len(self.header)
        present = [c for c in NORMALISED_COLUMNS if c in header]
        positions = [header.index(c) for c in present]
        state = {"start": None, "off": 0, "end": 0, "quotes": 0}
        pending: list[tuple] = []    # rows of undecodable lines met while csv asked for the next line

        def text_lines() -> Iterator[str]:
            for number, off, line in self._lines():
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    pending.append((number, off, len(line), line.decode("utf-8", "backslashreplace").rstrip("\r\n"),
                                    reasons.INVALID_UTF8, f"byte {exc.start}: {exc.reason}", None))
                    continue
                if state["start"] is None:
                    state["start"], state["off"], state["quotes"] = number, off, 0
                state["end"] = off + len(line)
                state["quotes"] += text.count('"')
                yield text

        reader = csv.reader(text_lines())
        rows: list[tuple] = []   # (line, off, len, raw|None, reason|None, detail|None, record|None)
        while True:
            try:
                record, error = next(reader), None
            except StopIteration:
                break
            except csv.Error as exc:
                record, error = None, str(exc)[:200]
            start, off, end, quotes = state["start"] or 0, state["off"], state["end"], state["quotes"]
            state["start"] = None
            if pending:
                rows.extend(pending)
                pending.clear()
            if error is not None:
                rows.append((start, off, end - off, None, reasons.BROKEN_CSV_ROW, error, None))
            elif not record or (len(record) == 1 and not record[0].strip() and width != 1):
                pass  # a blank line
            elif quotes % 2:
                rows.append((start, off, end - off, None, reasons.BROKEN_CSV_ROW,
                             "unbalanced quotes (a quoted field never closed swallows the lines after it)", None))
            elif len(record) != width:
                rows.append((start, off, end - off, None, reasons.BROKEN_CSV_ROW,
                             f"{len(record)} fields, the header has {width}", None))
            else:
                rows.append((start, off, end - off, None, None, None, record))
            if len(rows) >= BATCH_ROWS:
                yield self._batch(rows, present, positions)
                rows = []
        rows.extend(pending)
        if rows:
            yield self._batch(rows, present, positions)

    def _batch(self, rows: list[tuple], present: list[str], positions: list[int]) -> Batch:
        rows.sort(key=lambda r: r[0])
        n = len(rows)
        numbers, offs, lens, raws, reasons_, details, records = zip(*rows, strict=True)
        need_raw = [i for i in range(n) if reasons_[i] is not None and raws[i] is None]
        raws = list(raws)
        for i, text in zip(need_raw, self.raw_at([(offs[i], lens[i]) for i in need_raw]), strict=True):
            raws[i] = text
        columns: dict[str, pa.Array] = {
            "idx": pa.array(range(n), pa.int64()), "source_row": pa.array(numbers, pa.int64()),
            "raw_off": pa.array(offs, pa.int64()), "raw_len": pa.array(lens, pa.int64()),
            "raw": pa.array(raws, pa.string()),
            "parse_reason": pa.array(reasons_, pa.string()), "parse_detail": pa.array(details, pa.string()),
        }
        for column, pos in zip(present, positions, strict=True):
            columns[column] = pa.array([(r[pos] or None) if r is not None else None for r in records], pa.string())
        table = pa.table(columns)

        def rows_of(idxs: list[int]) -> list[tuple]:
            texts = self.raw_at([(offs[i], lens[i]) for i in idxs])
            out = []
            for i, text in zip(idxs, texts, strict=True):
                record = records[i]
                raw = raws[i] if raws[i] is not None else text
                if record is None:
                    out.append((None, raw, (reasons_[i], details[i])))
                else:
                    out.append(({name: (v if v != "" else None) for name, v in zip(self.header, record, strict=True)},
                                raw, None))
            return out
        return Batch(table, csv_sql("{name}", present), rows_of)


# --- Parquet ------------------------------------------------------------------------------------

def _arrow_kind(column: str, type_: pa.DataType) -> str:
    """How a Parquet column of this type reads, decided once per column: the SQL kind class."""
    if pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_binary(type_) \
            or pa.types.is_large_binary(type_) or pa.types.is_string_view(type_) or pa.types.is_binary_view(type_) \
            or (pa.types.is_dictionary(type_) and (pa.types.is_string(type_.value_type)
                                                   or pa.types.is_large_string(type_.value_type)
                                                   or pa.types.is_binary(type_.value_type))):
        return "bytes"
    if pa.types.is_integer(type_):
        return "int"
    if pa.types.is_floating(type_):
        return "float"
    if pa.types.is_boolean(type_):
        return "bool"
    if pa.types.is_null(type_):
        return "null"
    if pa.types.is_timestamp(type_):
        return "datetime"
    if pa.types.is_date(type_):
        return "date"
    if pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_fixed_size_list(type_) \
            or pa.types.is_map(type_):
        return "list"
    if pa.types.is_struct(type_):
        return "dict"
    if pa.types.is_decimal(type_):
        return "Decimal"
    return str(type_).split("[")[0]


def _prepare_column(kind: str, array: pa.ChunkedArray | pa.Array, type_: pa.DataType) -> pa.Array:
    """The Arrow array handed to DuckDB for one column of one kind class."""
    if kind == "bytes":
        if pa.types.is_dictionary(type_):
            array = array.cast(type_.value_type)
        return array.cast(pa.binary())
    if kind in ("int", "float", "bool"):
        return array
    if kind == "datetime":
        return array.cast(pa.int64())
    if kind == "date":
        days = array.cast(pa.date32()).cast(pa.int32()) if pa.types.is_date64(type_) else array.cast(pa.int32())
        return days
    return pc.is_valid(array)  # any other type: only whether a value is there matters


def _parquet_col_sql(column: str, kind: str | None, unit: int = 1) -> list[str]:
    c = f'"{column}"'
    if kind is None:
        return [f"'null' AS {column}_k", f"CAST(NULL AS VARCHAR) AS {column}_s"]
    if kind == "bytes":
        return [f"CASE WHEN {c} IS NULL THEN 'null' WHEN try(decode({c})) IS NULL THEN 'bytes!' ELSE 'str' END AS {column}_k",
                f"try(decode({c})) AS {column}_s"]
    if kind == "int":
        return [f"CASE WHEN {c} IS NULL THEN 'null' ELSE 'int' END AS {column}_k", f"CAST({c} AS VARCHAR) AS {column}_s"]
    if kind == "float":
        nan = f" OR isnan({c})" if column in STRING_COLUMNS else ""
        return [f"CASE WHEN {c} IS NULL{nan} THEN 'null' ELSE 'float' END AS {column}_k", f"NULL AS {column}_s"]
    if kind == "bool":
        return [f"CASE WHEN {c} IS NULL THEN 'null' ELSE 'bool' END AS {column}_k", f"NULL AS {column}_s"]
    if kind == "null":
        return [f"'null' AS {column}_k", f"CAST(NULL AS VARCHAR) AS {column}_s"]
    if kind == "datetime" and column == "ts":
        # unit: microseconds per stored unit (ns: -1000, divide); checked before multiplying
        if unit > 0:
            lo, hi = -(-MIN_US // unit), (MAX_US - 1) // unit
            ok, us = f"{c} BETWEEN {lo} AND {hi}", f"{c} * {unit}"
        else:
            ok, us = "TRUE", f"{c} // 1000"
        return [f"CASE WHEN {c} IS NULL THEN 'null' WHEN {ok} THEN 'datetime' ELSE 'bad_ts' END AS {column}_k",
                f"NULL AS {column}_s", f"CASE WHEN {ok} THEN {us} END AS ts_us"]
    if kind == "date" and column == "ts":
        return [f"CASE WHEN {c} IS NULL THEN 'null' ELSE 'date' END AS {column}_k", f"NULL AS {column}_s",
                f"CAST({c} AS BIGINT) * 86400000000 AS ts_us"]
    if kind in ("datetime", "date"):
        return [f"CASE WHEN {c} IS NULL THEN 'null' ELSE '{kind}' END AS {column}_k", f"NULL AS {column}_s"]
    # other types: the array is is_valid booleans
    return [f"CASE WHEN {c} THEN '{kind}' ELSE 'null' END AS {column}_k", f"NULL AS {column}_s"]


# DuckDB's own types for the Arrow types the fast path takes, per kind (anything else: the Arrow path)
NATIVE_TYPES = {
    "str": {"VARCHAR"},
    "int": {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"},
    "float": {"FLOAT", "DOUBLE"},
    "bool": {"BOOLEAN"},
    "datetime": {"TIMESTAMP", "TIMESTAMP WITH TIME ZONE"},
}


def native_kind(column: str, type_: pa.DataType, duckdb_type: str) -> str | None:
    """The kind of a Parquet column read by DuckDB directly, or None where only the Arrow path reads
    it exactly like the row-by-row rules: binary and nested values, dates, decimals, and timestamps
    other than microseconds (DuckDB would convert units, the Arrow path range-checks the raw value)."""
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        kind = "str"
    elif pa.types.is_integer(type_):
        kind = "int"
    elif pa.types.is_floating(type_) and not pa.types.is_float16(type_):
        kind = "float"
    elif pa.types.is_boolean(type_):
        kind = "bool"
    elif pa.types.is_timestamp(type_) and type_.unit == "us" and column == "ts":
        kind = "datetime"
    else:
        return None
    return kind if duckdb_type in NATIVE_TYPES[kind] else None


def native_parquet_sql(source: str, kinds: dict[str, str]) -> str:
    """Normalised relation of a Parquet file read by DuckDB (``source`` has ``idx``, 0-based): the
    same columns as :func:`parquet_sql` gives for the Arrow path, for the kinds of ``native_kind``."""
    parts: list[str] = []
    for column in NORMALISED_COLUMNS:
        kind = kinds.get(column)
        c = f'"{column}"'
        if kind == "str":
            parts += [f"CASE WHEN {c} IS NULL THEN 'null' ELSE 'str' END AS {column}_k", f"{c} AS {column}_s"]
        elif kind == "datetime":
            us = f"epoch_us({c})"
            parts += [f"CASE WHEN {c} IS NULL THEN 'null' WHEN {us} BETWEEN {MIN_US} AND {MAX_US - 1} THEN 'datetime' "
                      f"ELSE 'bad_ts' END AS {column}_k", f"NULL AS {column}_s",
                      f"CASE WHEN {us} BETWEEN {MIN_US} AND {MAX_US - 1} THEN {us} END AS ts_us"]
        else:
            parts += _parquet_col_sql(column, kind)
    if not any(p.endswith(" AS ts_us") for p in parts):
        parts.append("CAST(NULL AS BIGINT) AS ts_us")
    parts.append('CAST("price" AS DOUBLE) AS price_v' if kinds.get("price") in ("int", "float")
                 else "CAST(NULL AS DOUBLE) AS price_v")
    cols = ",\n    ".join(parts)
    return f"""
SELECT idx, idx + 1 AS source_row, idx AS raw_off, -1 AS raw_len,
    CAST(NULL AS VARCHAR) AS raw, FALSE AS residue_hint,
    CAST(NULL AS VARCHAR) AS parse_reason, CAST(NULL AS VARCHAR) AS parse_detail,
    {cols}
FROM {source}
"""


def parquet_sql(table: str, kinds: dict[str, str], units: dict[str, int], first_row: int) -> str:
    parts: list[str] = []
    for column in NORMALISED_COLUMNS:
        parts += _parquet_col_sql(column, kinds.get(column), units.get(column, 1))
    if not any(p.endswith(" AS ts_us") for p in parts):
        parts.append("CAST(NULL AS BIGINT) AS ts_us")
    price_kind = kinds.get("price")
    parts.append('CAST("price" AS DOUBLE) AS price_v' if price_kind in ("int", "float")
                 else "CAST(NULL AS DOUBLE) AS price_v")
    cols = ",\n    ".join(parts)
    return f"""
SELECT idx, idx + {first_row} AS source_row, idx + {first_row - 1} AS raw_off, -1 AS raw_len,
    CAST(NULL AS VARCHAR) AS raw, FALSE AS residue_hint,
    CAST(NULL AS VARCHAR) AS parse_reason, CAST(NULL AS VARCHAR) AS parse_detail,
    {cols}
FROM {table}
"""


def python_rows(batch: pa.RecordBatch | pa.Table, idxs: list[int]) -> list[dict]:
    """Parquet rows as the row-by-row reader gave them (strings as bytes, ns cut to us); a value
    Python cannot hold (a timestamp in year 300000) becomes an :class:`_Unreadable`."""
    taken = batch.take(pa.array(idxs, pa.int64()))
    columns: dict[str, list] = {}
    for name, column in zip(taken.column_names, taken.columns, strict=True):
        if pa.types.is_timestamp(column.type) and column.type.unit == "ns":
            column = column.cast(pa.timestamp("us", tz=column.type.tz), safe=False)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = column.cast(pa.binary())
        try:
            columns[name] = column.to_pylist()
        except (ValueError, OverflowError, pa.ArrowException):
            values = []
            for i in range(len(column)):
                try:
                    values.append(column.slice(i, 1).to_pylist()[0])
                except (ValueError, OverflowError, pa.ArrowException) as exc:
                    values.append(_Unreadable(f"{type(exc).__name__}: {exc}"))
            columns[name] = values
    return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)] \
        if columns else [{} for _ in idxs]


class _Unreadable:
    """A Parquet value Python cannot represent (e.g. a timestamp in year 300000)."""

    def __init__(self, why: str):
        self.why = why

    def __str__(self) -> str:
        return f"<unreadable: {self.why}>"


class ParquetScanner(Scanner):
    def __init__(self, path: Path):
        super().__init__(path)
        try:
            self.file = pq.ParquetFile(path)
            self.schema = self.file.schema_arrow
        except Exception as exc:  # noqa: BLE001 - untrusted file; the reason is recorded
            raise FileRejected(reasons.CORRUPT_FILE, f"unreadable Parquet: {type(exc).__name__}: {exc}") from None
        names = self.schema.names
        self.columns = dict.fromkeys(names)
        dupes = sorted({c for c in names if names.count(c) > 1})
        if dupes:
            raise FileRejected(reasons.DUPLICATE_COLUMNS, f"the schema names {dupes} more than once: "
                                                          f"which value is meant is ambiguous")
        if self.file.metadata.num_rows == 0:
            raise FileRejected(reasons.EMPTY_FILE, "a Parquet file with 0 rows")
        self.kinds = {name: _arrow_kind(name, self.schema.field(name).type)
                      for name in names if name in NORMALISED_COLUMNS}
        self.units = {name: {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": -1_000}[self.schema.field(name).type.unit]
                      for name, kind in self.kinds.items() if kind == "datetime"}

    def batches(self) -> Iterator[Batch]:
        first = 1
        try:
            for record_batch in self.file.iter_batches(batch_size=BATCH_ROWS, use_threads=False):
                n = record_batch.num_rows
                arrays = {"idx": pa.array(range(n), pa.int64())}
                for name, kind in self.kinds.items():
                    field_type = self.schema.field(name).type
                    arrays[name] = _prepare_column(kind, record_batch.column(name), field_type)
                table = pa.table(arrays)

                def rows(idxs: list[int], rb: pa.RecordBatch = record_batch) -> list[tuple]:
                    return [(row, render_raw(row), None) for row in python_rows(rb, idxs)]
                yield Batch(table, parquet_sql("{name}", self.kinds, self.units, first), rows)
                first += n
        except FileRejected:
            raise
        except Exception as exc:  # noqa: BLE001
            raise FileRejected(reasons.CORRUPT_FILE, f"unreadable Parquet: {type(exc).__name__}: {exc}") from None

    def whole_file_batch(self, duckdb_types: dict[str, str]) -> Batch | None:
        """The fast path: the whole file through DuckDB's own Parquet reader (no Arrow round trip,
        no decode), when every contract column has a type both readers see alike (``native_kind``;
        ``duckdb_types``: DuckDB's column types of the file). None otherwise: use :meth:`batches`.
        A string that is not UTF-8 makes DuckDB fail the statement (``InvalidInputException``); the
        caller then drops what it staged and reads the file through :meth:`batches`, which makes it
        a row reason."""
        names = list(self.columns)
        if len({n.lower() for n in names}) != len(names):
            return None  # DuckDB binds names case-insensitively: "Event_ID" and "event_id" would collide
        kinds: dict[str, str] = {}
        for name in NORMALISED_COLUMNS:
            if name not in self.columns:
                continue
            kind = native_kind(name, self.schema.field(name).type, duckdb_types.get(name, ""))
            if kind is None:
                return None
            kinds[name] = kind
        path = str(self.path).replace("'", "''")
        source = f"(SELECT *, file_row_number AS idx FROM read_parquet('{path}', file_row_number = true))"

        def rows(idxs: list[int]) -> list[tuple]:
            return [(row, render_raw(row), None) for row in self.rows_at(idxs)]
        return Batch(None, native_parquet_sql(source, kinds), rows)

    def rows_at(self, offsets: list[int]) -> list[dict]:
        """Rows by 0-based file index as the row-by-row reader gave them (``python_rows``), each row
        group read once."""
        starts, total = [], 0
        for g in range(self.file.metadata.num_row_groups):
            starts.append(total)
            total += self.file.metadata.row_group(g).num_rows
        by_group: dict[int, list[int]] = {}
        for off in sorted(set(offsets)):
            by_group.setdefault(bisect.bisect_right(starts, off) - 1, []).append(off)
        got: dict[int, dict] = {}
        for g, offs in by_group.items():
            group = self.file.read_row_group(g)
            for off, row in zip(offs, python_rows(group, [o - starts[g] for o in offs]), strict=True):
                got[off] = row
        return [got[off] for off in offsets]

    def raw_at(self, refs: list[tuple[int, int]]) -> list[str]:
        """Rows by 0-based index (``raw_off``), rendered as the row-by-row reader did."""
        return [render_raw(row) for row in self.rows_at([off for off, _n in refs])]
