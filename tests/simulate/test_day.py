"""One simulated day: contract-shaped, deterministic, and behaving like shoppers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from pipelines.ingest.contract import EVENT_COLUMNS, EVENT_TYPES
from pipelines.simulate.day import EVENT_SCHEMA, DayGenerator
from pipelines.simulate.world import build_world

DAY = date(2026, 1, 10)


@pytest.fixture(scope="module")
def frame():
    gen = DayGenerator(build_world(11, 400, 120))
    return gen.generate(9, DAY).table.to_pandas()


def test_schema_matches_the_event_contract():
    table = DayGenerator(build_world(11, 50, 20)).generate(0, DAY).table
    assert table.schema == EVENT_SCHEMA
    assert tuple(table.column_names) == EVENT_COLUMNS


def test_same_day_is_identical_and_other_days_differ():
    a = DayGenerator(build_world(5, 200, 60)).generate(3, DAY).table
    b = DayGenerator(build_world(5, 200, 60)).generate(3, DAY).table
    c = DayGenerator(build_world(5, 200, 60)).generate(4, DAY + timedelta(days=1)).table
    assert a.equals(b)
    assert not a.equals(c)


def test_events_are_valid_and_inside_their_day(frame):
    assert frame.event_id.is_unique
    assert set(frame.event_type) == EVENT_TYPES
    start = datetime(2026, 1, 10, tzinfo=UTC)
    assert (frame.ts >= start).all() and (frame.ts < start + timedelta(days=1)).all()
    searches = frame[frame.event_type == "search"]
    assert searches["query"].str.len().gt(0).all() and searches.item_id.isna().all()
    item_events = frame[frame.event_type != "search"]
    assert item_events.item_id.notna().all() and item_events["query"].isna().all()
    assert item_events.price.gt(0).all()
    assert set(frame.market) <= {"se", "de", "uk"}


def test_sessions_look_like_shopping(frame):
    per_session = frame.groupby("session_id").size()
    assert per_session.mean() > 3                      # sessions of several events
    assert frame.groupby("session_id").user_id.nunique().eq(1).all()
    for _sid, s in frame.groupby("session_id"):
        s = s.sort_values("ts", kind="stable")
        viewed: set[str] = set()
        carted: set[str] = set()
        for row in s.itertuples():
            if row.event_type == "view":
                viewed.add(row.item_id)
            elif row.event_type == "add_to_cart":
                assert row.item_id in viewed            # carts follow views
                carted.add(row.item_id)
            elif row.event_type == "purchase":
                assert row.item_id in carted            # purchases follow carts
    views = frame[frame.event_type == "view"]
    # popularity skew: the top 10% of items take a large share of views
    counts = views.item_id.value_counts()
    assert counts.iloc[: max(1, len(counts) // 10)].sum() / counts.sum() > 0.25
    # repeated views exist
    assert views.duplicated(["session_id", "item_id"]).any()


def test_queries_mix_english_into_local_languages(frame):
    queries = frame[frame.event_type == "search"]
    se = " ".join(queries[queries.market == "se"]["query"])
    de = " ".join(queries[queries.market == "de"]["query"])
    english = ("sunset", "ocean", "forest", "black", "gold", "lavender", "mint", "pastel", "poster")
    assert any(w in se for w in ("solnedgång", "hav", "skogsgrön", "svartvit", "guld", "mintgrön", "tapet"))
    assert any(w in de for w in ("sonnenuntergang", "meer", "waldgrün", "schwarz", "tapete", "mintgrün"))
    assert any(w in se for w in english) and any(w in de for w in english)


def test_a_day_before_the_origin_is_refused():
    with pytest.raises(ValueError, match="origin"):
        DayGenerator(build_world(1, 10, 10)).generate(-1, DAY)


def test_empty_day_is_a_valid_empty_table():
    world = build_world(2, 5, 5)
    object.__setattr__(world, "user_rate", np.zeros(5))
    table = DayGenerator(world).generate(0, DAY).table
    assert table.num_rows == 0 and table.schema == EVENT_SCHEMA
    assert isinstance(table, pa.Table)
