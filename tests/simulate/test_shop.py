"""simulate_shop end to end: files on disk, determinism across runs and ranges, truth consistency."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.ingest.contract import EVENT_COLUMNS, ITEM_COLUMNS
from pipelines.ingest.items import ingest_items
from pipelines.ingest.readers import read_landing_file
from pipelines.settings import CorebrainPaths
from pipelines.simulate import WorldMismatch, simulate_shop
from pipelines.simulate.vocab import PALETTE_TAGS

START = date(2026, 1, 1)
SMALL = {"users": 150, "items": 60, "seed": 3}


def _files(home: Path) -> dict[str, bytes]:
    return {p.relative_to(home).as_posix(): p.read_bytes()
            for p in sorted((home / "landing").rglob("*")) if p.is_file()}


def _truth(home: Path) -> dict[str, bytes]:
    return {p.relative_to(home).as_posix(): p.read_bytes()
            for p in sorted((home / "truth").rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files(tmp_path):
    a = simulate_shop(tmp_path / "a", 4, start_date=START, fmt="mixed", late_rate=0.05, bad_rate=0.02, **SMALL)
    b = simulate_shop(tmp_path / "b", 4, start_date=START, fmt="mixed", late_rate=0.05, bad_rate=0.02, **SMALL)
    assert a.events == b.events > 0
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert _truth(tmp_path / "a") == _truth(tmp_path / "b")
    simulate_shop(tmp_path / "c", 4, start_date=START, users=150, items=60, seed=4)
    assert _files(tmp_path / "c")["landing/events/date=2026-01-01/events.parquet"] != \
        _files(tmp_path / "a")["landing/events/date=2026-01-01/events.parquet"]


def test_a_day_is_the_same_alone_or_in_a_range(tmp_path):
    opts = {"fmt": "parquet", "late_rate": 0.05, "bad_rate": 0.02, **SMALL}
    simulate_shop(tmp_path / "range", 5, start_date=START, **opts)
    simulate_shop(tmp_path / "steps", 3, start_date=START, **opts)
    # the origin is reused from truth/world.json: days 4 and 5 added one at a time
    simulate_shop(tmp_path / "steps", 1, start_date=date(2026, 1, 5), **opts)
    simulate_shop(tmp_path / "steps", 1, start_date=date(2026, 1, 4), **opts)
    assert _files(tmp_path / "range") == _files(tmp_path / "steps")
    assert _truth(tmp_path / "range") == _truth(tmp_path / "steps")
    # rewriting a day is idempotent
    simulate_shop(tmp_path / "steps", 2, start_date=date(2026, 1, 2), **opts)
    assert _files(tmp_path / "range") == _files(tmp_path / "steps")


def test_a_different_world_in_the_same_home_is_refused(tmp_path):
    simulate_shop(tmp_path, 1, start_date=START, **SMALL)
    with pytest.raises(WorldMismatch, match="already holds"):
        simulate_shop(tmp_path, 1, start_date=START, users=150, items=60, seed=99)
    with pytest.raises(ValueError, match="before the world's origin"):
        simulate_shop(tmp_path, 1, start_date=date(2025, 12, 31), **SMALL)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_every_format_meets_the_event_contract(tmp_path, fmt):
    simulate_shop(tmp_path, 1, start_date=START, fmt=fmt, **SMALL)
    events = tmp_path / "landing" / "events" / "date=2026-01-01" / f"events.{fmt}"
    read = read_landing_file(events)
    assert read.error is None
    assert tuple(read.columns) == EVENT_COLUMNS
    assert len(read.rows) > 100 and all(r.error is None for r in read.rows)
    items = read_landing_file(next((tmp_path / "landing" / "items").iterdir()))
    assert tuple(items.columns) == ITEM_COLUMNS and len(items.rows) == 60
    report = ingest_items(CorebrainPaths(tmp_path))
    assert report.accepted == 60 and report.quarantined == 0


def test_truth_is_consistent_with_the_landing_files(tmp_path):
    summary = simulate_shop(tmp_path, 3, start_date=START, **SMALL)
    truth = tmp_path / "truth"
    items = pq.read_table(truth / "items.parquet").to_pandas()
    catalogue = pq.read_table(tmp_path / "landing" / "items" / "items.parquet").to_pandas()
    assert set(items.item_id) == set(catalogue.item_id)
    events = pq.read_table(tmp_path / "landing" / "events").to_pandas()
    assert len(events) == summary.events
    assert set(events.item_id.dropna()) <= set(items.item_id)
    users = pq.read_table(truth / "users.parquet").to_pandas()
    assert set(events.user_id) <= set(users.user_id)
    words = pq.read_table(truth / "item_words.parquet").to_pandas()
    assert set(words.item_id) == set(items.item_id)
    palette_words = words[words.attribute == "palette"]
    # the merchandiser often forgets the palette: customers' words missing from the tags
    assert (~palette_words.in_tags).any() and palette_words.in_tags.any()
    for row in palette_words[palette_words.in_tags].itertuples():
        assert row.word in catalogue.set_index("item_id").tags[row.item_id]
    churn = pq.read_table(truth / "churn" / "date=2026-01-03.parquet").to_pandas()
    assert set(churn.user_id) <= set(users.user_id) and len(churn) > 0
    assert churn.p_inactive.between(0, 1).all() and churn.p_quit.between(0, 1).all()
    world = json.loads((truth / "world.json").read_text())
    assert world["origin"] == "2026-01-01" and world["seed"] == 3
    day = json.loads((truth / "days" / "date=2026-01-02.json").read_text())
    assert day["events"] == summary.per_day["2026-01-02"]


def test_late_sessions_arrive_in_a_later_folder_and_nothing_is_lost(tmp_path):
    summary = simulate_shop(tmp_path, 4, start_date=START, late_rate=0.2, **SMALL)
    assert summary.late_events > 0
    landed = pq.read_table(tmp_path / "truth" / "landing_files.parquet").to_pandas()
    late = landed[landed.kind == "late"]
    assert (late.landing_date > late.generated_for).all()
    for row in late.itertuples():
        assert (tmp_path / "landing" / row.source_file).exists()
        assert row.source_file.endswith(f"late-from-{row.generated_for}.parquet")
    per_day = landed.groupby("generated_for").clean_rows.sum().to_dict()
    assert per_day == summary.per_day
    events = pq.read_table(tmp_path / "landing" / "events").to_pandas()
    assert events.event_id.is_unique and len(events) == summary.events


def test_items_appear_at_launch_and_vanish_when_retired(tmp_path):
    simulate_shop(tmp_path, 20, start_date=START, users=300, items=200, seed=10)
    items = pq.read_table(tmp_path / "truth" / "items.parquet").to_pandas().set_index("item_id")
    assert (items.launch_date > START).any() and (items.launch_date == START).any()
    events = pq.read_table(tmp_path / "landing" / "events").to_pandas()
    events = events[events.item_id.notna()]
    launch = events.item_id.map(items.launch_date)
    assert (events.ts.dt.date >= launch).all()
    retire = events.item_id.map(items.retire_date)
    assert (retire.isna() | (events.ts.dt.date < retire)).all()
    retired = set(items[items.retire_date <= date(2026, 1, 20)].index)
    seen_before = set(events[events.ts < "2026-01-13"].item_id)
    assert retired and retired & seen_before   # seen, then gone
    late_items = set(items[(items.launch_date > START) & (items.launch_date <= date(2026, 1, 15))].index)
    assert late_items & set(events.item_id)   # new arrivals do get seen


def test_catalogue_errors_are_recorded(tmp_path):
    simulate_shop(tmp_path, 1, start_date=START, users=20, items=400, seed=4)
    items = pq.read_table(tmp_path / "truth" / "items.parquet").to_pandas()
    catalogue = pq.read_table(tmp_path / "landing" / "items" / "items.parquet").to_pandas()
    tags = catalogue.set_index("item_id").tags
    errors = items[items.catalogue_error]
    assert 0 < len(errors) < items.tagged_palette.notna().sum() / 4
    assert (errors.tagged_palette != errors.palette).all()
    assert not (items.palette_in_tags & items.catalogue_error).any()
    for row in errors.itertuples():
        assert PALETTE_TAGS[row.tagged_palette] in tags[row.item_id]


def test_markets_truth_reflects_market_taste(tmp_path):
    simulate_shop(tmp_path, 1, start_date=START, users=900, items=30, seed=6)
    markets = pq.read_table(tmp_path / "truth" / "markets.parquet").to_pylist()
    for m in markets:
        pref = dict(zip(m["palettes"], m["mean_palette_pref"], strict=True))
        favoured = sum(pref[p] for p in m["favoured_palettes"])
        assert favoured > 0.5          # 4 of 10 palettes take most of the market's taste
        assert abs(sum(pref.values()) - 1.0) < 1e-9
