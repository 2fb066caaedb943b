"""Writing a table as a landing file: Parquet, JSON Lines or CSV (timestamps as ISO-8601 UTC text)."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

FORMATS: tuple[str, ...] = ("parquet", "jsonl", "csv")
SUFFIX = {"parquet": ".parquet", "jsonl": ".jsonl", "csv": ".csv"}


def _text_timestamps(table: pa.Table) -> pa.Table:
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type):
            text = pc.strftime(table.column(i).cast(pa.timestamp("us", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
            table = table.set_column(i, f.name, text)
    return table


def write_table(table: pa.Table, path: Path, fmt: str) -> Path:
    """Write atomically (temp name, then rename) so a watcher never sees half a file."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {FORMATS}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")  # hidden: ingest ignores dot-files
    if fmt == "parquet":
        pq.write_table(table, tmp)
    elif fmt == "csv":
        pcsv.write_csv(_text_timestamps(table), tmp)
    else:
        frame = _text_timestamps(table).to_pandas()
        frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
    os.replace(tmp, path)
    return path


def write_bytes(payload: bytes, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, path)
    return path
