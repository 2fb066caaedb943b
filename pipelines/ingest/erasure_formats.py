"""Remove erased users' rows from one file, parsed in its own format, leaving a valid file.

Pure functions from the file's content to the new content (``None``: nothing to remove, leave the
file alone) and a :class:`Removal` count. Which rows are whose is decided in
:mod:`pipelines.ingest.erasure_match`.

- JSON Lines: a removed line becomes an empty line (readers skip blank lines), so every other line
  keeps its number and re-ingesting gives the other users' lake rows back unchanged.
- JSON arrays (``.json`` starting with ``[``): the array is parsed, the users' objects dropped and
  the array written back one-line or indented, as it was; a ``.json`` that is not a valid array is
  handled as JSON Lines (its broken lines by the "contains the id" rule).
- CSV: records are read with ``csv`` exactly as ingest reads them (quoted fields may span lines);
  every physical line of a removed record becomes empty; the header stays.
- Parquet (and the lake, quarantine, shards): a row filter on ``user_id``; quarantine rows that have
  no ``user_id`` are judged by their ``raw`` text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.ingest import reasons
from pipelines.ingest.erasure_match import IdMatcher, source_format

BOM = b"\xef\xbb\xbf"
# quarantine reasons of rows that were never parsed into fields: judged by "contains the id"
UNPARSED_REASONS = frozenset({reasons.BROKEN_JSON_LINE, reasons.BROKEN_CSV_ROW, reasons.INVALID_UTF8,
                              reasons.CORRUPT_FILE})


@dataclass
class Removal:
    removed: int = 0     # rows removed, all rules together
    unparsed: int = 0    # of which lines with no readable fields, removed because they contain an id
    kept: int = 0        # rows left

    def __iadd__(self, other: Removal) -> Removal:
        self.removed += other.removed
        self.unparsed += other.unparsed
        self.kept += other.kept
        return self


def _blank(line: bytes) -> bytes:
    """The line's ending only: an empty line in place of the removed one."""
    return line[len(line.rstrip(b"\r\n")):]


# --- JSON Lines -----------------------------------------------------------------------------------

def erase_jsonl_bytes(data: bytes, matcher: IdMatcher) -> tuple[bytes | None, Removal]:
    lines = data.split(b"\n")
    out: list[bytes] = []
    count = Removal()
    for number, line in enumerate(lines):
        body = line[len(BOM):] if number == 0 and line.startswith(BOM) else line
        body = body.rstrip(b"\r")
        if not body.strip():
            out.append(line)
            continue
        owned, unparsed = _judge_json_line(body, matcher)
        if owned:
            count.removed += 1
            count.unparsed += unparsed
            bom = BOM if number == 0 and line.startswith(BOM) else b""
            out.append(bom + (b"\r" if line.endswith(b"\r") else b""))
        else:
            count.kept += 1
            out.append(line)
    return (b"\n".join(out) if count.removed else None), count


def _judge_json_line(body: bytes, matcher: IdMatcher) -> tuple[bool, bool]:
    """(owned, judged as unparsed)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return matcher.owns_unparsed_json(body.decode("utf-8", "backslashreplace")), True
    try:
        obj = json.loads(text)
    except ValueError:
        return matcher.owns_unparsed_json(text), True
    if isinstance(obj, dict):
        return matcher.owns(obj.get("user_id")), False
    return matcher.owns_record(obj), True


# --- JSON arrays ----------------------------------------------------------------------------------

def erase_json_bytes(data: bytes, matcher: IdMatcher) -> tuple[bytes | None, Removal]:
    """A ``.json`` landing file: one array of objects, or JSON Lines (as ingest accepts both)."""
    bom = data.startswith(BOM)
    body = data[len(BOM):] if bom else data
    if not body.lstrip().startswith(b"["):
        return erase_jsonl_bytes(data, matcher)
    try:
        items = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        items = None
    if not isinstance(items, list):
        return erase_jsonl_bytes(data, matcher)  # a corrupt array: ingest rejects it; lines by the last-resort rule
    count = Removal()
    kept = []
    for obj in items:
        if matcher.owns_record(obj):
            count.removed += 1
            count.unparsed += not isinstance(obj, dict)
        else:
            kept.append(obj)
    count.kept = len(kept)
    if not count.removed:
        return None, count
    pretty = b"\n" in body.strip()
    text = json.dumps(kept, ensure_ascii=False, indent=_indent(body) if pretty else None)
    ending = b"\n" if body.endswith(b"\n") else b""
    return (BOM if bom else b"") + text.encode("utf-8") + ending, count


def _indent(body: bytes) -> int:
    """The indentation of the first indented line, so a pretty-printed array stays as it looked."""
    for line in body.split(b"\n")[1:]:
        stripped = line.lstrip(b" ")
        if stripped and len(line) > len(stripped):
            return len(line) - len(stripped)
    return 2


# --- CSV ------------------------------------------------------------------------------------------

def erase_csv_bytes(data: bytes, matcher: IdMatcher) -> tuple[bytes | None, Removal]:
    lines = data.splitlines(keepends=True)
    if not lines:
        return None, Removal()
    header_line = lines[0][len(BOM):] if lines[0].startswith(BOM) else lines[0]
    header = [name.strip() for name in next(csv.reader([header_line.decode("utf-8", "replace")]), [])]
    user_col = header.index("user_id") if "user_id" in header else None
    out = list(lines)
    count = Removal()
    for line_numbers, record, raw, broken in _csv_records(lines):
        if record is not None and not broken:
            if not record or (len(record) == 1 and not record[0].strip() and len(header) != 1):
                continue  # a blank line
            if len(record) == len(header):
                owned, unparsed = user_col is not None and matcher.owns(record[user_col]), False
            else:
                owned, unparsed = matcher.owns_unparsed_csv(raw), True
        else:
            owned, unparsed = matcher.contains(raw), True
        if owned:
            count.removed += 1
            count.unparsed += unparsed
            for i in line_numbers:
                out[i] = _blank(lines[i])
        else:
            count.kept += 1
    return (b"".join(out) if count.removed else None), count


def _csv_records(lines: list[bytes]) -> Iterator[tuple[list[int], list[str] | None, str, bool]]:
    """(line indexes, fields or None, raw text, broken) per record, as ingest's reader splits them;
    an undecodable line is a record of its own, as in ingest."""
    state: dict = {"buf": [], "numbers": []}
    undecodable: list[tuple[list[int], None, str, bool]] = []

    def text_lines() -> Iterator[str]:
        for i in range(1, len(lines)):
            try:
                text = lines[i].decode("utf-8")
            except UnicodeDecodeError:
                undecodable.append(([i], None, lines[i].decode("utf-8", "backslashreplace"), True))
                continue
            state["buf"].append(text)
            state["numbers"].append(i)
            yield text

    reader = csv.reader(text_lines())
    while True:
        try:
            record, broken = next(reader), False
        except StopIteration:
            break
        except csv.Error:
            record, broken = None, True
        numbers, raw = state["numbers"], "".join(state["buf"])
        state["buf"], state["numbers"] = [], []
        yield from undecodable
        undecodable.clear()
        yield numbers, record, raw, broken
    yield from undecodable


# --- Parquet / Arrow ------------------------------------------------------------------------------

def owned_rows(table: pa.Table, matcher: IdMatcher) -> tuple[pa.Array, int]:
    """(mask of rows to remove, how many of them were judged as unparsed) for a table with a
    ``user_id`` column and/or a quarantine ``raw`` column."""
    n = table.num_rows
    if "user_id" in table.column_names:
        mask = _user_id_mask(table.column("user_id"), matcher)
    else:
        mask = pa.array([False] * n, pa.bool_())
    if "raw" not in table.column_names:
        return mask, 0
    user_ids = table.column("user_id").to_pylist() if "user_id" in table.column_names else [None] * n
    raws = table.column("raw").to_pylist()
    kinds = (table.column("reason").to_pylist() if "reason" in table.column_names else [None] * n)
    files = (table.column("source_file").to_pylist() if "source_file" in table.column_names else [""] * n)
    flags = mask.to_pylist()
    unparsed = 0
    for i in range(n):
        if flags[i] or user_ids[i] is not None or not raws[i]:
            continue
        owned, by_text = _judge_quarantine_raw(raws[i], kinds[i], files[i] or "", matcher)
        if owned:
            flags[i] = True
            unparsed += by_text
    return pa.array(flags, pa.bool_()), unparsed


def _judge_quarantine_raw(raw: str, reason: str | None, source_file: str,
                          matcher: IdMatcher) -> tuple[bool, bool]:
    """A quarantine row with no ``user_id``: its raw text parsed if it is a JSON object; else, for a
    row that was never split into fields, the "contains the id" rule."""
    try:
        obj = json.loads(raw)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        return matcher.owns(obj.get("user_id")), False
    if reason is None or reason in UNPARSED_REASONS:
        return matcher.owns_unparsed(raw, source_format(source_file)), True
    return False, False


def _user_id_mask(column: pa.ChunkedArray, matcher: IdMatcher) -> pa.Array:
    ids = pa.array(sorted(matcher.ids), pa.string())
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        trimmed = pc.utf8_trim_whitespace(column.cast(pa.string()))
        return pc.fill_null(pc.is_in(trimmed, value_set=ids), False).combine_chunks()
    if pa.types.is_integer(kind):
        return pc.fill_null(pc.is_in(column.cast(pa.string()), value_set=ids), False).combine_chunks()
    return pa.array([matcher.owns(v) for v in column.to_pylist()], pa.bool_())


def erase_table(table: pa.Table, matcher: IdMatcher) -> tuple[pa.Table | None, Removal]:
    """The table without the users' rows (``None``: nothing to remove)."""
    if "user_id" not in table.column_names and "raw" not in table.column_names:
        return None, Removal(kept=table.num_rows)
    mask, unparsed = owned_rows(table, matcher)
    removed = pc.sum(mask).as_py() or 0
    count = Removal(removed=removed, unparsed=unparsed, kept=table.num_rows - removed)
    return (table.filter(pc.invert(mask)) if removed else None), count


# --- JSON documents (MLflow input examples) -------------------------------------------------------

def erase_json_document(data: bytes, matcher: IdMatcher) -> tuple[bytes | None, Removal]:
    """A JSON file that may be one document rather than rows, e.g. an MLflow input example:
    ``[{...}]`` records, ``{"columns": [...], "data": [[...]]}`` (pandas split), or either nested
    under a key (``{"dataframe_split": ...}``, ``{"inputs": ...}``). Rows whose ``user_id`` is
    erased are dropped wherever they sit; anything else is left as it is."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return erase_jsonl_bytes(data, matcher)
    count = Removal()
    pruned = _prune(doc, matcher, count)
    if not count.removed:
        return None, count
    count.kept = max(count.kept, 1)  # a document is never deleted for being emptied
    return json.dumps(pruned, ensure_ascii=False).encode("utf-8"), count


def _prune(node, matcher: IdMatcher, count: Removal):
    if isinstance(node, list):
        kept = []
        for element in node:
            if isinstance(element, dict) and "user_id" in element and matcher.owns(element["user_id"]):
                count.removed += 1
            else:
                kept.append(_prune(element, matcher, count))
        return kept
    if isinstance(node, dict):
        columns, rows = node.get("columns"), node.get("data")
        if isinstance(columns, list) and "user_id" in columns and isinstance(rows, list):
            at = columns.index("user_id")
            keep = [r for r in rows if not (isinstance(r, list) and len(r) > at and matcher.owns(r[at]))]
            count.removed += len(rows) - len(keep)
            node = {**node, "data": keep}
        return {key: (value if key == "data" and columns is not None else _prune(value, matcher, count))
                for key, value in node.items()}
    return node
