"""The MovieLens importer on a tiny ml-100k-shaped fixture, and on the real ml-100k when present."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.ingest.contract import EVENT_COLUMNS, IngestSettings
from pipelines.ingest.day import ingest_landing_day
from pipelines.ingest.items import ingest_items
from pipelines.movielens import import_movielens
from pipelines.settings import CorebrainPaths

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ml-100k"

INTER = """user_id:token\titem_id:token\trating:float\ttimestamp:float
1\t10\t5\t874965758
1\t20\t3\t874965800
2\t10\t4\t875000000
2\t30\t1\t876000000
3\t20\t4\t880000000
"""
ITEMS = """item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq
10\tToy Story\t1995\tAnimation Children's Comedy
20\tMisérables, Les\t1995\tDrama Musical
30\tUntitled\t\tunknown
"""


@pytest.fixture
def tiny(tmp_path):
    src = tmp_path / "ml"
    src.mkdir()
    (src / "ml-100k.inter").write_text(INTER)
    (src / "ml-100k.item").write_text(ITEMS)
    return src


def test_ratings_become_views_and_good_ones_purchases(tiny, tmp_path):
    landing = tmp_path / "home" / "landing"
    summary = import_movielens(tiny, landing)
    assert (summary.ratings, summary.views, summary.purchases) == (5, 5, 3)
    assert summary.first_day == "1997-09-22" and summary.days == 4
    events = pq.read_table(landing / "events").to_pandas()
    assert len(events) == 8 and events.event_id.is_unique
    assert set(events[events.event_type == "purchase"].event_id) == {
        "ml-1-10-purchase", "ml-2-10-purchase", "ml-3-20-purchase"}
    view = events.set_index("event_id").loc["ml-1-10-view"]
    assert view.ts.timestamp() == 874965758 and view.user_id == "1" and view.item_id == "10"
    assert events.set_index("event_id").loc["ml-1-10-purchase"].ts.timestamp() == 874965759
    one_day = pq.read_table(landing / "events" / "date=1997-09-22" / "movielens.parquet")
    assert one_day.column_names == list(EVENT_COLUMNS) and one_day.num_rows == 3
    items = pq.read_table(landing / "items" / "movielens-items.parquet").to_pandas().set_index("item_id")
    assert items.loc["10"].title == "Toy Story (1995)"
    assert items.loc["10"].tags == "animation, children's, comedy"
    assert items.loc["20"].title == "Misérables, Les (1995)" and items.loc["30"].title == "Untitled"


def test_import_is_idempotent_and_max_days_cuts(tiny, tmp_path):
    landing = tmp_path / "landing"
    import_movielens(tiny, landing)
    first = {p: p.read_bytes() for p in landing.rglob("*.parquet")}
    import_movielens(tiny, landing)
    assert {p: p.read_bytes() for p in landing.rglob("*.parquet")} == first
    cut = import_movielens(tiny, tmp_path / "cut", max_days=1)
    assert cut.ratings == 2 and cut.days == 1


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="ml-100k.inter not found"):
        import_movielens(tmp_path / "nowhere", tmp_path / "landing")


def test_imported_files_pass_ingest(tiny, tmp_path):
    paths = CorebrainPaths(tmp_path / "home")
    import_movielens(tiny, paths.landing)
    # ingest's default floor (2000-01-01) would reject 1997: MovieLens needs an earlier one
    strict = ingest_landing_day(paths, date(1997, 9, 22), IngestSettings())
    assert strict.reasons == {"TS_BEFORE_FLOOR": 3}
    report = ingest_landing_day(paths, date(1997, 9, 22), IngestSettings(ts_floor=datetime(1990, 1, 1)))
    assert report.accepted == 3 and report.quarantined == 0
    items = ingest_items(paths)
    assert items.accepted == 3 and items.quarantined == 0


def test_real_ml_100k(tmp_path):
    if not (REAL / "ml-100k.inter").exists():
        pytest.skip(f"real MovieLens 100k not found at {REAL} (see ../shared/data/README.md)")
    summary = import_movielens(REAL, tmp_path / "landing")
    assert summary.ratings == summary.views == 100_000
    assert summary.users == 943 and summary.items == 1682 and summary.catalogue_items == 1682
    assert summary.first_day == "1997-09-20"
    n = sum(pq.read_metadata(p).num_rows for p in (tmp_path / "landing" / "events").rglob("*.parquet"))
    assert n == summary.views + summary.purchases
