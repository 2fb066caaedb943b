"""Ingest throughput per landing format: the DuckDB path beside the old row-by-row path, one run.

    .venv/bin/python benchmarks/ingest_throughput.py --rows 1000000 --days 3
    .venv/bin/python benchmarks/ingest_throughput.py --rows 200000 --days 3 --paths duckdb
    .venv/bin/python benchmarks/ingest_throughput.py --paths duckdb,before --before-repo /tmp/old-checkout

For each format (JSON Lines, Parquet, CSV) it writes ``--days`` synthetic landing days of ``--rows``
rows each (1 % bad timestamps, 1 % duplicates of the previous day) into its own temporary
COREBRAIN_HOME, then times ``ingest_landing_days`` (``pipelines.ingest.day``, the pipeline's path)
and ``pipelines.ingest.rowwise`` (the first, row-by-row implementation) on the same files, each in
a fresh child process so peak RSS (``ru_maxrss``) is its own. Both must give the same counts.
``--before-repo`` adds the path ``before``: the DuckDB path of another checkout (e.g. ``git archive``
of an older commit), on the same files in the same run, for before / after tables.
Prints a markdown table; ``--out`` writes the JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

FORMATS = ("jsonl", "parquet", "csv")
PATHS = ("duckdb", "rowwise", "before")
RESULT_PREFIX = "INGEST-RESULT "
START = date(2026, 1, 1)


def _rows(day: date, n: int, rng: random.Random, prefix: str) -> list[dict]:
    rows = []
    for i in range(n):
        row = {"event_id": f"{prefix}-{i}", "ts": f"{day.isoformat()}T{i % 24:02d}:{i % 60:02d}:00Z",
               "user_id": f"u{rng.randrange(100_000)}", "session_id": f"s{i // 20}", "event_type": "view",
               "item_id": f"i{rng.randrange(5_000)}", "market": "se", "price": 9.5}
        roll = rng.random()
        if roll < 0.01:
            row["ts"] = "not a time"
        elif roll < 0.02 and day > START:
            row["event_id"] = f"{(day - timedelta(days=1)).isoformat()}-{i}"
        rows.append(row)
    return rows


def write_days(home: Path, fmt: str, rows: int, days: int) -> None:
    """The landing days of one format (the same rows for every format: one seed per format)."""
    rng = random.Random(0)
    for k in range(days):
        day = START + timedelta(days=k)
        write_day(home / "landing" / "events" / f"date={day.isoformat()}", fmt, _rows(day, rows, rng, day.isoformat()))


def write_day(folder: Path, fmt: str, rows: list[dict]) -> None:
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


def child(home: Path, path: str, days: int) -> dict:
    """Ingest the days in this process with one implementation; its time and peak RSS."""
    from pipelines.ingest.contract import IngestSettings
    from pipelines.settings import CorebrainPaths

    if path in ("duckdb", "before"):
        from pipelines.ingest.day import ingest_landing_days
    else:
        from pipelines.ingest.rowwise import ingest_landing_days
    paths = CorebrainPaths(home)
    shutil.rmtree(paths.lake, ignore_errors=True)
    paths.ensure()
    day_list = [START + timedelta(days=k) for k in range(days)]
    start = time.perf_counter()
    reports = ingest_landing_days(paths, day_list, IngestSettings())
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 3), "rows_read": sum(r.rows_read for r in reports),
            "accepted": sum(r.accepted for r in reports), "quarantined": sum(r.quarantined for r in reports),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def run_child(home: Path, path: str, days: int, before_repo: str | None = None) -> dict:
    repo = Path(before_repo).resolve() if path == "before" else Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.run([sys.executable, __file__, "--child", path, "--home", str(home), "--days", str(days)],
                          capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{path} child failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len(RESULT_PREFIX):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows per landing day")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--paths", default="duckdb,rowwise", help="duckdb,rowwise (the baseline),before")
    parser.add_argument("--before-repo", help="checkout whose DuckDB path runs as 'before'")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--child", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--write", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(RESULT_PREFIX + json.dumps(child(Path(args.home), args.child, args.days)))
        return
    if args.write:
        write_days(Path(args.home), args.write, args.rows, args.days)
        return
    results = []
    print(f"{args.rows:,} rows x {args.days} landing days per format (1 % bad ts, 1 % duplicates)")
    print("| format | path | rows read | accepted | quarantined | seconds | events/s | peak RSS MB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for fmt in args.formats.split(","):
        home = Path(tempfile.mkdtemp(prefix=f"corebrain-ingestbench-{fmt}-"))
        try:
            # in a child process: the rows built in Python would otherwise stay in this process's
            # heap, and each ingest child would start (and report its peak RSS) from that size
            subprocess.run([sys.executable, __file__, "--write", fmt, "--home", str(home), "--rows",
                            str(args.rows), "--days", str(args.days)], check=True)
            for path in args.paths.split(","):
                r = run_child(home, path, args.days, args.before_repo)
                r.update(format=fmt, path=path, events_per_s=round(r["rows_read"] / r["seconds"]))
                results.append(r)
                print(f"| {fmt} | {path} | {r['rows_read']:,} | {r['accepted']:,} | {r['quarantined']:,} | "
                      f"{r['seconds']:.2f} | {r['events_per_s']:,} | {r['peak_rss_mb']:,.0f} |", flush=True)
        finally:
            shutil.rmtree(home, ignore_errors=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"rows_per_day": args.rows, "days": args.days,
                                              "before_repo": args.before_repo,
                                              "load_avg": os.getloadavg(), "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
