"""Complete files only (a collector mid-write), and kill -9 during ingest: the rerun's lake is the
uninterrupted run's, byte for byte, with no temp file left."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.ingest.contract import IngestSettings
from pipelines.ingest.day import ingest_landing_day, ingest_landing_days
from pipelines.settings import CorebrainPaths
from tests.ingest.helpers import DAY, day_folder, event, good_events, read_events, write_jsonl

REPO = Path(__file__).resolve().parents[2]


class SlowWriter(threading.Thread):
    """A collector that writes a JSON Lines file in place, a line at a time."""

    def __init__(self, path: Path, lines: int, pause_s: float):
        super().__init__(daemon=True)
        self.path, self.lines, self.pause_s = path, lines, pause_s

    def run(self) -> None:
        with self.path.open("w") as f:
            for i in range(self.lines):
                f.write(json.dumps(event(f"w{i}", f"{DAY.isoformat()}T01:00:00Z")) + "\n")
                f.flush()
                time.sleep(self.pause_s)


def test_a_file_younger_than_min_age_is_left_for_the_next_run(corebrain_home):
    write_jsonl(corebrain_home, "done.jsonl", good_events(3))
    os.utime(day_folder(corebrain_home) / "done.jsonl", (time.time() - 60, time.time() - 60))
    writer = SlowWriter(day_folder(corebrain_home) / "writing.jsonl", lines=40, pause_s=0.02)
    writer.start()
    time.sleep(0.2)
    settings = IngestSettings(min_file_age_s=2)
    report = ingest_landing_day(corebrain_home, DAY, settings)
    assert list(report.files_left) == ["events/date=2026-01-10/writing.jsonl"]
    assert "left for the next run" in report.files_left["events/date=2026-01-10/writing.jsonl"]
    assert (report.rows_read, report.accepted, report.quarantined) == (3, 3, 0)
    writer.join()
    time.sleep(2.1)
    report = ingest_landing_day(corebrain_home, DAY, settings)
    assert report.files_left == {} and report.accepted == 43 and report.quarantined == 0


def test_a_file_growing_while_read_is_left_for_the_next_run(corebrain_home, monkeypatch):
    """A collector that ignores the convention and the age guard: the file grows during the read."""
    import pipelines.ingest.day as day_module

    path = day_folder(corebrain_home) / "writing.jsonl"
    write_jsonl(corebrain_home, "writing.jsonl", good_events(5))
    real_scan = day_module.IngestSession._scan_file

    def scan_while_the_collector_appends(self, file_idx, scanner, landing_day, params):
        rows = real_scan(self, file_idx, scanner, landing_day, params)
        with path.open("a") as f:          # the collector writes its next line meanwhile
            f.write(json.dumps(event("late-line")) + "\n")
        return rows

    monkeypatch.setattr(day_module.IngestSession, "_scan_file", scan_while_the_collector_appends)
    report = ingest_landing_day(corebrain_home, DAY, IngestSettings())
    assert "changed while being read" in report.files_left["events/date=2026-01-10/writing.jsonl"]
    assert report.rows_read == report.accepted == 0 and read_events(corebrain_home) == []
    monkeypatch.undo()
    report = ingest_landing_day(corebrain_home, DAY, IngestSettings())
    assert report.accepted == 6 and report.files_left == {}


def _landing(home: CorebrainPaths, days: int, rows: int) -> list[date]:
    out = []
    for k in range(days):
        day = DAY + timedelta(days=k)
        folder = home.landing_events / f"date={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.table({
            "event_id": [f"{day}-{i}" if i % 50 else f"{day - timedelta(days=1)}-{i}" for i in range(rows)],
            "ts": [f"{(day - timedelta(days=i % 3)).isoformat()}T{i % 24:02d}:00:00Z" for i in range(rows)],
            "user_id": [f"u{i % 997}" for i in range(rows)], "event_type": ["view"] * rows,
            "item_id": [f"i{i % 101}" for i in range(rows)]})
        pq.write_table(table, folder / "a.parquet")
        write_jsonl(home, "b.jsonl", good_events(200, prefix=f"j{k}-", day=day) + ["broken"], day=day)
        out.append(day)
    return out


def _digest(paths: CorebrainPaths) -> dict[str, str]:
    return {p.relative_to(paths.lake).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(paths.lake.rglob("*")) if p.is_file()}


def test_kill_minus_9_during_ingest_then_rerun_gives_the_uninterrupted_lake(tmp_path):
    clean = CorebrainPaths(tmp_path / "clean").ensure()
    days = _landing(clean, days=6, rows=60_000)
    ingest_landing_days(clean, days, IngestSettings())
    expected = _digest(clean)

    killed = CorebrainPaths(tmp_path / "killed").ensure()
    shutil.copytree(clean.landing, killed.landing, dirs_exist_ok=True)
    # a temp file of an earlier ingest that was killed (its process is gone)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = killed.lake_events / f"date={DAY.isoformat()}" / f".landed={DAY.isoformat()}.parquet.tmp-{dead.pid}"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a file")
    code = ("import sys; from datetime import date; from pipelines.settings import CorebrainPaths; "
            "from pipelines.ingest.contract import IngestSettings; from pipelines.ingest.day import ingest_landing_days; "
            "days = [date.fromisoformat(d) for d in sys.argv[2:]]; "
            "ingest_landing_days(CorebrainPaths(__import__('pathlib').Path(sys.argv[1])), days, IngestSettings())")
    child = subprocess.Popen([sys.executable, "-c", code, str(killed.home), *[d.isoformat() for d in days]],
                             cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        written = [p for p in killed.lake.rglob("*landed=*") if p != stale]
        if len(written) >= 4:      # part of the way through: some days written, others not
            break
        time.sleep(0.002)
    assert child.poll() is None, "ingest finished before it could be killed: make the landing bigger"
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    assert _digest(killed) != expected          # the kill left a partial lake

    ingest_landing_days(killed, days, IngestSettings())   # the rerun
    assert _digest(killed) == expected
    assert not list(killed.lake.rglob("*.tmp-*"))
    assert not list((killed.home / "tmp").glob("ingest-*"))
