"""A lake outside the home (production ``COREBRAIN_LAKE``): ingest reports its files without crashing,
and erasure finds the users in lake events, quarantine and consumer tables there, not only in the home.

The production profile's path logic (``current_paths``) is used as is; no server is started, and the
environment is not prepared (that checks the Postgres / MLflow settings, which paths do not need).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.ingest.contract import IngestSettings
from pipelines.ingest.day import ingest_landing_day
from pipelines.ingest.erasure import erase_from_files, token_pattern
from pipelines.ingest.rowwise import ingest_landing_day as rowwise_day
from pipelines.settings import CorebrainPaths, current_paths
from tests.ingest.helpers import DAY
from tests.ingest.test_erasure import GONE, _build_world

WRITTEN = ["lake/events/date=2026-01-10/landed=2026-01-10.parquet", "lake/quarantine/landed=2026-01-10.parquet"]


@pytest.fixture
def lake_outside(tmp_path, monkeypatch) -> CorebrainPaths:
    monkeypatch.setenv("COREBRAIN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COREBRAIN_PROFILE", "production")
    monkeypatch.setenv("COREBRAIN_LAKE", str(tmp_path / "lake"))
    for var in ("DAGSTER_HOME", "COREBRAIN_WAREHOUSE", "COREBRAIN_DAGSTER_HOME"):
        monkeypatch.delenv(var, raising=False)
    paths = current_paths().ensure()
    assert paths.lake == (tmp_path / "lake").resolve() and not paths.lake.is_relative_to(paths.home)
    return paths


def _owned(row: dict, pattern) -> bool:
    """The erasure rule: the row's user_id is the id; a row without one (quarantine) by its raw text."""
    if row.get("user_id") is not None:
        return row["user_id"] == GONE
    return bool(row.get("raw") and pattern.search(row["raw"]))


def _lake_rows(lake: Path) -> dict[str, list[dict]]:
    return {p.relative_to(lake).as_posix(): pq.read_table(p).to_pylist() for p in sorted(lake.rglob("*.parquet"))}


def test_state_roots_and_names():
    home = Path("/srv/corebrain")
    inside, outside = CorebrainPaths(home), CorebrainPaths(home, Path("/srv/lake"))
    assert inside.state_roots == (home,)
    assert outside.state_roots == (home, Path("/srv/lake"))
    for paths in (inside, outside):      # the same name under every profile
        assert paths.state_name(paths.lake_events / "date=x" / "a.parquet") == "lake/events/date=x/a.parquet"
        assert paths.state_name(paths.shards / "s" / "t.parquet") == "shards/s/t.parquet"
    assert outside.state_name(Path("/elsewhere/f")) == "/elsewhere/f"


def test_local_profile_reports_written_relative_to_home(corebrain_home):
    _build_world(corebrain_home)
    assert ingest_landing_day(corebrain_home, DAY, IngestSettings()).written == WRITTEN
    assert rowwise_day(corebrain_home, DAY, IngestSettings()).written == WRITTEN


def test_erasure_reaches_a_lake_outside_the_home(lake_outside):
    paths = lake_outside
    _build_world(paths)              # ingest a day, plant shards, a warehouse and a consumer table
    assert ingest_landing_day(paths, DAY, IngestSettings()).written == WRITTEN       # a rerun: reported
    assert rowwise_day(paths, DAY, IngestSettings()).written == WRITTEN
    assert not (paths.home / "lake").exists()
    pattern = token_pattern([GONE])
    before = _lake_rows(paths.lake)
    gone_before = {name: sum(_owned(r, pattern) for r in rows) for name, rows in before.items()}
    consumer = next(name for name in before if name.startswith("consumers/"))
    assert gone_before["events/date=2026-01-10/landed=2026-01-10.parquet"] == 3
    assert gone_before["quarantine/landed=2026-01-10.parquet"] == 2
    assert gone_before[consumer] == 2

    killed = paths.lake_events / "date=2026-01-10" / ".landed=2026-01-10.parquet.tmp-4242"
    killed.write_bytes(b"a killed writer's rows")       # a lake temp file: swept too

    result = erase_from_files(paths, [GONE])

    after = _lake_rows(paths.lake)
    assert after.keys() == before.keys()
    for name, rows in before.items():       # the user is gone, every other row is kept, in order
        assert after[name] == [r for r in rows if not _owned(r, pattern)], name
    removed = Counter()
    for place in ("lake", "quarantine", "consumers"):
        for name, n in result[place].items():
            assert name.startswith("lake/") and (paths.lake / name.removeprefix("lake/")).is_file()
            removed[name.removeprefix("lake/")] += n
    assert removed == +Counter(gone_before)
    assert {place: sum(result[place].values()) for place in ("landing", "lake", "quarantine", "shards",
                                                              "consumers")} == {
        "landing": 5, "lake": 3, "quarantine": 2, "shards": 2, "consumers": 2}   # as with the lake inside
    assert result["unreadable"] == {}
    assert result["temp_files"] == {"lake/events/date=2026-01-10/.landed=2026-01-10.parquet.tmp-4242": 1}
    assert not killed.exists()
