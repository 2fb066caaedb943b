"""Peak memory of ingesting ONE big landing file, at several sizes: it must not grow with the file.

    .venv/bin/python benchmarks/ingest_memory.py --mb 100,500          # files generated under /tmp
    .venv/bin/python benchmarks/ingest_memory.py --mb 2000             # the issue's 2 GB file
    .venv/bin/python benchmarks/ingest_memory.py --mb 2000 --format csv  # the CSV fast path

Each size: a landing day holding one JSON Lines (or CSV) file of about that many MB (1 % bad timestamps),
ingested by ``pipelines.ingest.day`` in a fresh child process; prints its peak RSS (``ru_maxrss``),
seconds and events/s. DuckDB's budget is ``COREBRAIN_INGEST_MEMORY`` (default 1GB; it spills to
``$COREBRAIN_HOME/tmp`` beyond it). The files are deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

DAY = date(2026, 1, 1)
PREFIX = "MEMORY-RESULT "


CSV_COLUMNS = ("event_id", "ts", "user_id", "session_id", "event_type", "item_id", "market", "price")


def write_file(path: Path, megabytes: int, fmt: str = "jsonl") -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows, size, limit = 0, 0, megabytes * 1_000_000
    with path.open("w") as f:
        if fmt == "csv":
            f.write(",".join(CSV_COLUMNS) + "\n")
        while size < limit:
            chunk = []
            for i in range(rows, rows + 10_000):
                ts = "not a time" if i % 100 == 7 else f"2026-01-01T{i % 24:02d}:{i % 60:02d}:00Z"
                row = {"event_id": f"e{i}", "ts": ts, "user_id": f"u{i % 99_991}", "session_id": f"s{i // 20}",
                       "event_type": "view", "item_id": f"i{i % 5_003}", "market": "se", "price": 9.5}
                chunk.append(",".join(str(row[c]) for c in CSV_COLUMNS) if fmt == "csv" else json.dumps(row))
            text = "\n".join(chunk) + "\n"
            f.write(text)
            size += len(text)
            rows += 10_000
    return rows


def child(home: Path) -> dict:
    from pipelines.ingest.contract import IngestSettings
    from pipelines.ingest.day import ingest_landing_day
    from pipelines.settings import CorebrainPaths

    start = time.perf_counter()
    report = ingest_landing_day(CorebrainPaths(home).ensure(), DAY, IngestSettings.from_env())
    return {"seconds": round(time.perf_counter() - start, 2), "rows_read": report.rows_read,
            "accepted": report.accepted, "quarantined": report.quarantined,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", default="100,500", help="file sizes in MB, comma-separated")
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(PREFIX + json.dumps(child(Path(args.child))))
        return
    print(f"{args.format} landing file")
    print("| file MB | rows | seconds | events/s | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|")
    for mb in (int(x) for x in args.mb.split(",")):
        home = Path(tempfile.mkdtemp(prefix="corebrain-memory-"))
        try:
            write_file(home / "landing" / "events" / f"date={DAY.isoformat()}" / f"big.{args.format}", mb, args.format)
            proc = subprocess.run([sys.executable, __file__, "--child", str(home)], capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith(PREFIX)]
            if proc.returncode or not line:
                raise RuntimeError(proc.stderr[-3000:])
            r = json.loads(line[-1][len(PREFIX):])
            print(f"| {mb:,} | {r['rows_read']:,} | {r['seconds']} | {r['rows_read'] / r['seconds']:,.0f} | "
                  f"{r['peak_rss_mb']:,} |", flush=True)
        finally:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
