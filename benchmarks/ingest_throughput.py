"""Ingest throughput, printed as a table (``ingest_landing_day`` alone, without Dagster).

    .venv/bin/python benchmarks/ingest_throughput.py --rows 200000 --days 10

Writes synthetic landing days (rotating JSONL / Parquet / CSV, 1 % bad rows, 1 % duplicates of
earlier days) into a temporary COREBRAIN_HOME and times ``ingest_landing_day`` per day, so the
table also shows what the cross-day dedupe costs as the lake grows.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.ingest.contract import IngestSettings
from pipelines.ingest.day import ingest_landing_day
from pipelines.settings import CorebrainPaths

FORMATS = ("jsonl", "parquet", "csv")


def _rows(day: date, n: int, rng: random.Random, prefix: str) -> list[dict]:
    rows = []
    for i in range(n):
        row = {"event_id": f"{prefix}-{i}", "ts": f"{day.isoformat()}T{i % 24:02d}:{i % 60:02d}:00Z",
               "user_id": f"u{rng.randrange(100_000)}", "session_id": f"s{i // 20}", "event_type": "view",
               "item_id": f"i{rng.randrange(5_000)}", "market": "se", "price": 9.5}
        roll = rng.random()
        if roll < 0.01:
            row["ts"] = "not a time"
        elif roll < 0.02 and day.day > 1:
            row["event_id"] = f"{(day - timedelta(days=1)).isoformat()}-{i}"
        rows.append(row)
    return rows


def _write(folder: Path, fmt: str, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        (folder / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), folder / "a.parquet")
    else:
        with (folder / "a.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per landing day")
    parser.add_argument("--days", type=int, default=6)
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = CorebrainPaths(Path(tmp)).ensure()
        print("| day | format | rows read | accepted | quarantined | seconds | rows/s |")
        print("|---|---|---:|---:|---:|---:|---:|")
        total_rows, total_s = 0, 0.0
        for k in range(args.days):
            day = date(2026, 1, 1) + timedelta(days=k)
            fmt = FORMATS[k % len(FORMATS)]
            _write(paths.landing_events / f"date={day.isoformat()}", fmt, _rows(day, args.rows, rng, day.isoformat()))
            start = time.perf_counter()
            report = ingest_landing_day(paths, day, IngestSettings())
            seconds = time.perf_counter() - start
            total_rows, total_s = total_rows + report.rows_read, total_s + seconds
            print(f"| {day} | {fmt} | {report.rows_read:,} | {report.accepted:,} | {report.quarantined:,} | "
                  f"{seconds:.2f} | {report.rows_read / seconds:,.0f} |")
        print(f"| all | | {total_rows:,} | | | {total_s:.2f} | {total_rows / total_s:,.0f} |")


if __name__ == "__main__":
    main()
