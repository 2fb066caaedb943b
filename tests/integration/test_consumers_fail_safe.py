"""A consumer batch that cannot finish leaves the previous complete table (issue 10, item 2).

Real processes: a writer killed with SIGKILL in the middle of writing a table, and the real
``consumers`` job on a registry without a champion.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.consumers import store

BIG_WRITE = """
import sys
import pyarrow as pa
from pipelines.consumers import store
n = 5_000_000
table = store.stamp(pa.table({"user_id": pa.array([f"user-{i:09d}" for i in range(n)])}), "2", "run-b")
store.write_swap(table, __import__("pathlib").Path(sys.argv[1]))
"""


def test_a_writer_killed_mid_write_leaves_the_previous_table_readable_and_complete(tmp_path):
    path = tmp_path / "lake" / "consumers" / "recommendations" / "recommendations.parquet"
    store.write_swap(store.stamp(pa.table({"user_id": ["a", "b", "c"]}), "1", "run-a"), path)
    before = path.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", BIG_WRITE, str(path)],
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    deadline = time.time() + 120
    tmp = path.with_name(f".{path.name}.tmp-{proc.pid}")
    while not tmp.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert tmp.exists(), "the writer never started writing aside"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert path.read_bytes() == before
    table = pq.read_table(path)
    assert table.column("user_id").to_pylist() == ["a", "b", "c"]
    assert store.versions_in(path) == {"1"}


def test_no_champion_fails_the_batch_with_what_to_do_and_writes_nothing(corebrain_home):
    from pipelines.definitions import defs

    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("consumers").execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "no `champion` alias yet" in str(failure.event_specific_data.error.message)
    assert not store.consumers_root(corebrain_home.lake).exists()
