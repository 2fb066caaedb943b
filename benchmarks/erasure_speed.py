"""How fast erasure rewrites landing files, per format, beside two baselines measured in the same run.

For each landing format a file of ``--rows`` events from ``--users`` users is written into a temporary
folder, then ``--erase`` users are erased from it with the real code
(``pipelines.ingest.erasure.erase_file``: parse in the format, drop the rows whose ``user_id``
equals an erased id, write the file back atomically). Beside it:

- ``read floor``: the ingest reader reading the same file into rows (``read_landing_file``): what
  parsing the format costs at all;
- ``old scan``: the pre-issue-13 rule for text files (blank every line in which an id occurs as a
  token, one regex search per line), which was fast and wrong (it also removed other users' rows).

The removed-row count is checked against an independent count. Run:

    .venv/bin/python benchmarks/erasure_speed.py                  # 200k rows per format
    .venv/bin/python benchmarks/erasure_speed.py --rows 1000000
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.ingest.erasure import erase_file
from pipelines.ingest.erasure_match import IdMatcher, token_pattern
from pipelines.ingest.readers import read_landing_file

COLUMNS = ["event_id", "ts", "user_id", "event_type", "item_id", "query", "price"]


def _rows(n: int, users: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        search = rng.random() < 0.2
        out.append({"event_id": f"e{i}", "ts": f"2026-01-10T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z",
                    "user_id": str(rng.randrange(users)), "event_type": "search" if search else "view",
                    "item_id": None if search else str(rng.randrange(5000)),
                    "query": f"poster {rng.randrange(users)}" if search else None,
                    "price": float(rng.randrange(100))})
    return out


def _write(folder: Path, fmt: str, rows: list[dict]) -> Path:
    path = folder / f"events.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif fmt == "json":
        path.write_text(json.dumps(rows))
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
        path.write_text(buffer.getvalue())
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _old_scan(path: Path, ids: list[str]) -> int:
    pattern = token_pattern(ids)
    removed = 0
    out = []
    for line in path.read_bytes().splitlines(keepends=True):
        if pattern.search(line.decode("utf-8", "replace")):
            removed += 1
            out.append(line[len(line.rstrip(b"\r\n")):])
        else:
            out.append(line)
    path.with_suffix(".old").write_bytes(b"".join(out))
    return removed


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def run(fmt: str, rows: list[dict], ids: list[str], folder: Path) -> dict:
    expected = sum(r["user_id"] in set(ids) for r in rows)
    path = _write(folder, fmt, rows)
    mb = path.stat().st_size / 1e6
    read_s, _ = _timed(lambda: read_landing_file(path).rows)
    old_s, old_removed = _timed(lambda: _old_scan(path, ids)) if fmt in ("jsonl", "csv") else (None, None)
    erase_s, count = _timed(lambda: erase_file(path, IdMatcher(ids)))
    assert count.removed == expected, (fmt, count, expected)
    return {"format": fmt, "rows": len(rows), "mb": mb, "removed": count.removed, "erase_s": erase_s,
            "rows_per_s": len(rows) / erase_s, "read_s": read_s, "old_s": old_s, "old_removed": old_removed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--erase", type=int, default=10)
    args = parser.parse_args()
    rows = _rows(args.rows, args.users)
    ids = [str(i) for i in range(0, args.users, max(1, args.users // args.erase))][: args.erase]
    folder = Path(tempfile.mkdtemp(prefix="corebrain-erasebench-"))
    try:
        results = [run(fmt, rows, ids, folder) for fmt in ("jsonl", "json", "csv", "parquet")]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{'format':>8} {'rows':>9} {'MB':>6} {'removed':>8} {'erase s':>8} {'rows/s':>10} "
          f"{'read floor s':>12} {'erase/read':>10} {'old scan s':>10} {'old removed':>11}")
    for r in results:
        old = f"{r['old_s']:>10.2f} {r['old_removed']:>11,}" if r["old_s"] is not None else f"{'-':>10} {'-':>11}"
        print(f"{r['format']:>8} {r['rows']:>9,} {r['mb']:>6.1f} {r['removed']:>8,} {r['erase_s']:>8.2f} "
              f"{r['rows_per_s']:>10,.0f} {r['read_s']:>12.2f} {r['erase_s'] / r['read_s']:>10.2f} {old}")


if __name__ == "__main__":
    main()
