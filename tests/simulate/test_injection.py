"""Injected bad rows: the recorded count is what was written, and real ingest gives each its reason."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pyarrow.parquet as pq

from pipelines.ingest import reasons
from pipelines.ingest.contract import IngestSettings
from pipelines.ingest.day import ingest_landing_days
from pipelines.settings import CorebrainPaths
from pipelines.simulate import simulate_shop
from pipelines.simulate.inject import FILE_KINDS, ROW_KINDS, file_kind_for_day, row_kinds_for_day

START = date(2026, 2, 1)


def test_round_robin_covers_every_class():
    assert set(row_kinds_for_day(len(ROW_KINDS), 5)) == set(ROW_KINDS)
    assert {file_kind_for_day(d) for d in range(len(FILE_KINDS))} == set(FILE_KINDS)


def test_default_is_clean(tmp_path):
    summary = simulate_shop(tmp_path, 2, users=100, items=40, seed=1, start_date=START)
    assert summary.injected_rows == 0
    assert pq.read_table(tmp_path / "truth" / "injected.parquet").num_rows == 0
    names = {p.name for p in (tmp_path / "landing" / "events").rglob("*") if p.is_file()}
    assert names == {"events.parquet"}


def test_injected_rows_reconcile_with_real_ingest(tmp_path):
    days = len(FILE_KINDS)
    summary = simulate_shop(tmp_path, days, users=120, items=50, seed=5, start_date=START, fmt="mixed",
                            bad_rate=0.05, late_rate=0.05)
    injected = pq.read_table(tmp_path / "truth" / "injected.parquet").to_pandas()
    expected = injected[injected.expected_reason.notna()]
    assert len(expected) == summary.injected_rows > 0
    assert set(injected.kind) == set(ROW_KINDS) | set(FILE_KINDS)   # every class at least once
    assert set(expected.expected_reason) <= set(reasons.ALL_REASONS)

    paths = CorebrainPaths(tmp_path)
    reports = ingest_landing_days(paths, [START + timedelta(days=k) for k in range(days)], IngestSettings())
    assert all(r.reconciles for r in reports)
    quarantine = pd.concat([pq.read_table(p).to_pandas() for p in paths.lake_quarantine.glob("*.parquet")])
    got = set(zip(quarantine.source_file, quarantine.source_row, quarantine.reason, strict=True))
    want = set(zip(expected.source_file, expected.source_row, expected.expected_reason, strict=True))
    assert got == want
    # every clean row that landed in the ingested days was accepted, plus the rows meant to pass
    landed = pq.read_table(tmp_path / "truth" / "landing_files.parquet").to_pandas()
    in_range = landed[landed.landing_date <= (START + timedelta(days=days - 1)).isoformat()]
    passing = injected[injected.expected_reason.isna()]
    assert sum(r.accepted for r in reports) == in_range.clean_rows.sum() + len(passing)
    accepted = pq.read_table(paths.lake_events).to_pandas()
    for event_id in passing.event_id:
        assert (accepted.event_id == event_id).sum() == 1
