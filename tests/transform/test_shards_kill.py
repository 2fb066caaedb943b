"""kill -9 of the shards writer, for real, during the COPY and during the swap (issue 13, item 6).

The defect: the swap renamed the old folder aside and then the new one in: a kill between the two
left ``shards/<day>/`` missing. Now one atomic exchange swaps the folders: at every instant a reader
finds a complete set (old or new, verified against its manifest), and the next write completes and
sweeps what the killed one left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.shards import latest_shards_dir, verify_shards, write_shards
from tests.transform.test_shards_writer import _warehouse

REPO_ROOT = Path(__file__).resolve().parents[2]


def _kill_at(point: str, warehouse: Path, shards: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tests.transform._kill_shards_writer", str(warehouse),
                             str(shards), point], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, start_new_session=True)
    try:
        line = proc.stdout.readline().strip()
        assert line == f"AT {point}", line
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("point", ["copy", "swap"])
def test_a_writer_killed_mid_write_leaves_a_complete_set_and_the_rerun_completes(tmp_path, point):
    warehouse = _warehouse(tmp_path / "wh.duckdb")
    shards = tmp_path / "shards"
    first = write_shards(warehouse, shards, n_shards=3)

    _kill_at(point, warehouse, shards)

    folder = shards / "2026-01-05"
    assert latest_shards_dir(shards) == folder, sorted(p.name for p in shards.iterdir())
    manifest = verify_shards(folder)             # complete: every file matches the manifest
    trains = sorted(p.name for p in folder.glob("train-*.parquet"))
    assert trains in (["train-00000.parquet", "train-00001.parquet", "train-00002.parquet"],   # old
                      ["train-00000.parquet", "train-00001.parquet"])                          # new
    assert sum(f["rows"] for f in manifest["files"] if f["role"] == "train") == 10   # no user lost
    if point == "copy":
        assert manifest == first.manifest    # the old set, untouched

    again = write_shards(warehouse, shards, n_shards=2)
    verify_shards(again.folder)
    assert [p.name for p in shards.iterdir()] == ["2026-01-05"]     # the killed writer's leftovers swept
    users = [u for f in sorted(again.folder.glob("train-*.parquet")) for u in pq.read_table(f).column("user_id")
             .to_pylist()]
    assert sorted(users) == sorted(f"u{i}" for i in range(10))


def test_without_the_exchange_a_kill_between_the_two_renames_is_repaired(tmp_path, monkeypatch):
    """The fallback (no renameat2): the old folder set aside by a killed writer is put back."""
    from pipelines.shards import writer

    warehouse = _warehouse(tmp_path / "wh.duckdb")
    shards = tmp_path / "shards"
    write_shards(warehouse, shards, n_shards=3)
    os.replace(shards / "2026-01-05", shards / ".old-2026-01-05-deadbeef")   # where the kill left it
    assert writer.sweep_leftovers(shards) == ["restored 2026-01-05"]
    verify_shards(shards / "2026-01-05")
    monkeypatch.setattr(writer, "exchange_dirs", lambda a, b: False)
    again = write_shards(warehouse, shards, n_shards=2)
    verify_shards(again.folder)
    assert [p.name for p in shards.iterdir()] == ["2026-01-05"]
