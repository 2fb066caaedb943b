"""``corebrain import-movielens``: a real event log (MovieLens 100k) written as landing files.

Every rating becomes a ``view`` at its real timestamp; a rating of 4 or more is also a ``purchase``
one second later (so a strong signal follows the view in time order). Event ids are deterministic
(``ml-<user>-<item>-view`` / ``-purchase``), so re-importing never creates duplicates. Files land in
``landing/events/date=<day of the rating>/movielens.parquet`` (arrival day = event day) and the
catalogue, when ``ml-100k.item`` is present, in ``landing/items/movielens-items.parquet``: title
(with the release year), category (the first genre) and tags (all genres, lower case).

The data is read from wherever the user keeps it (e.g. ``../shared/data/ml-100k``) and never copied
into the repository: MovieLens is research-use-only (F. M. Harper and J. A. Konstan, ACM TiiS 2015).
"""

from __future__ import annotations

import csv
import os
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

INTER_FILE = "ml-100k.inter"
ITEM_FILE = "ml-100k.item"
PURCHASE_MIN_RATING = 4
EVENTS_FILE = "movielens.parquet"
ITEMS_FILE = "movielens-items.parquet"
TS_FLOOR = "1995-01-01"  # what ingest's COREBRAIN_INGEST_TS_FLOOR must allow for ml-100k (1997-98)

EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("user_id", pa.string()),
    ("session_id", pa.string()), ("event_type", pa.string()), ("item_id", pa.string()),
    ("query", pa.string()), ("market", pa.string()), ("price", pa.float64()),
])


@dataclass
class MovieLensSummary:
    source: str
    landing: str
    ratings: int
    views: int
    purchases: int
    users: int
    items: int
    catalogue_items: int
    first_day: str
    last_day: str
    days: int
    files: int

    def __str__(self) -> str:
        return (f"imported {self.ratings} MovieLens ratings from {self.source}: {self.views} views + "
                f"{self.purchases} purchases of {self.users} users on {self.items} items, "
                f"{self.days} day(s) {self.first_day}..{self.last_day} in {self.files} files under "
                f"{self.landing}/events; {self.catalogue_items} catalogue items. Set "
                f"COREBRAIN_START_DATE={self.first_day} (daily partitions) and "
                f"COREBRAIN_INGEST_TS_FLOOR={TS_FLOOR} (ingest's default floor is 2000-01-01).")

    def as_dict(self) -> dict:
        return asdict(self)


def _column_name(header: str) -> str:
    """RecBole's typed header: ``user_id:token`` -> ``user_id``."""
    return header.split(":", 1)[0].strip()


def read_ratings(path: Path) -> dict[str, np.ndarray]:
    """The ``.inter`` file as numpy arrays: user, item (strings), rating (float), ts (unix seconds)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = [_column_name(h) for h in next(reader)]
        rows = [r for r in reader if r]
    needed = ("user_id", "item_id", "rating", "timestamp")
    missing = [c for c in needed if c not in header]
    if missing:
        raise ValueError(f"{path}: columns {missing} missing from the header {header}")
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(header)
    by_name = dict(zip(header, cols, strict=True))
    return {
        "user": np.array(by_name["user_id"], dtype=object),
        "item": np.array(by_name["item_id"], dtype=object),
        "rating": np.array(by_name["rating"], dtype=np.float64),
        "ts": np.array([int(float(t)) for t in by_name["timestamp"]], dtype=np.int64),
    }


def read_catalogue(path: Path) -> pa.Table:
    """``ml-100k.item`` -> the landing items contract (item_id, title, category, tags)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = [_column_name(h) for h in next(reader)]
        rows = [dict(zip(header, r, strict=False)) for r in reader if r]
    ids, titles, categories, tags = [], [], [], []
    for row in rows:
        genres = [g for g in (row.get("class") or "").split() if g]
        year = (row.get("release_year") or "").strip()
        title = (row.get("movie_title") or "").strip()
        ids.append(row["item_id"].strip())
        titles.append(f"{title} ({year})" if year else title)
        categories.append(genres[0].lower() if genres else None)
        tags.append(", ".join(g.lower() for g in genres) if genres else None)
    return pa.table({"item_id": ids, "title": titles, "category": categories, "tags": tags},
                    schema=pa.schema([("item_id", pa.string()), ("title", pa.string()),
                                      ("category", pa.string()), ("tags", pa.string())]))


def ratings_to_events(ratings: dict[str, np.ndarray]) -> pa.Table:
    """One view per rating, plus a purchase (1 s later) for ratings >= 4; sorted by time, then id."""
    user = pa.array(ratings["user"].tolist(), pa.string())
    item = pa.array(ratings["item"].tolist(), pa.string())
    ts_us = ratings["ts"] * 1_000_000
    liked = np.flatnonzero(ratings["rating"] >= PURCHASE_MIN_RATING)
    base = pc.binary_join_element_wise("ml", user, item, "-")
    views = pa.table({
        "event_id": pc.binary_join_element_wise(base, "view", "-"),
        "ts": pa.array(ts_us, pa.timestamp("us", tz="UTC")),
        "user_id": user, "event_type": pa.array(np.full(len(ts_us), "view", dtype=object), pa.string()),
        "item_id": item,
    })
    liked_idx = pa.array(liked)
    purchases = pa.table({
        "event_id": pc.binary_join_element_wise(base.take(liked_idx), "purchase", "-"),
        "ts": pa.array(ts_us[liked] + 1_000_000, pa.timestamp("us", tz="UTC")),
        "user_id": user.take(liked_idx),
        "event_type": pa.array(np.full(len(liked), "purchase", dtype=object), pa.string()),
        "item_id": item.take(liked_idx),
    })
    events = pa.concat_tables([views, purchases])
    n = events.num_rows
    for name in ("session_id", "query", "market"):
        events = events.append_column(name, pa.nulls(n, pa.string()))
    events = events.append_column("price", pa.nulls(n, pa.float64()))
    return events.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA).sort_by([("ts", "ascending"),
                                                                         ("event_id", "ascending")])


def _write_parquet(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def import_movielens(source: str | Path, landing_dir: str | Path, max_days: int | None = None) -> MovieLensSummary:
    """Write the MovieLens folder ``source`` as landing files under ``landing_dir`` (idempotent)."""
    source, landing_dir = Path(source), Path(landing_dir)
    inter = source / INTER_FILE
    if not inter.exists():
        raise FileNotFoundError(
            f"{inter} not found: pass a folder holding {INTER_FILE} (e.g. ../shared/data/ml-100k); "
            "MovieLens is not shipped with the project")
    if max_days is not None and max_days < 1:
        raise ValueError(f"max_days must be >= 1, got {max_days}")
    ratings = read_ratings(inter)
    if len(ratings["ts"]) == 0:
        raise ValueError(f"{inter} holds no ratings")
    day_of = ratings["ts"] // 86_400
    if max_days is not None:
        keep = day_of < day_of.min() + max_days
        ratings = {k: v[keep] for k, v in ratings.items()}
        day_of = day_of[keep]
    events = ratings_to_events(ratings)

    event_day = pc.cast(pc.divide(pc.cast(events.column("ts").cast(pa.timestamp("us")), pa.int64()),
                                  86_400_000_000), pa.int64()).to_numpy()
    bounds = np.flatnonzero(np.diff(event_day)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(event_day)]])
    files = 0
    for lo, hi in zip(starts, ends, strict=True):
        day = datetime.fromtimestamp(int(event_day[lo]) * 86_400, tz=UTC).date()
        _write_parquet(events.slice(lo, hi - lo), landing_dir / "events" / f"date={day.isoformat()}" / EVENTS_FILE)
        files += 1

    catalogue_items = 0
    item_file = source / ITEM_FILE
    if item_file.exists():
        catalogue = read_catalogue(item_file)
        _write_parquet(catalogue, landing_dir / "items" / ITEMS_FILE)
        catalogue_items = catalogue.num_rows

    first = date.fromordinal(date(1970, 1, 1).toordinal() + int(event_day.min()))
    last = date.fromordinal(date(1970, 1, 1).toordinal() + int(event_day.max()))
    n_purchases = int((ratings["rating"] >= PURCHASE_MIN_RATING).sum())
    return MovieLensSummary(
        source=str(source), landing=str(landing_dir), ratings=len(ratings["ts"]),
        views=len(ratings["ts"]), purchases=n_purchases, users=len(set(ratings["user"].tolist())),
        items=len(set(ratings["item"].tolist())), catalogue_items=catalogue_items,
        first_day=first.isoformat(), last_day=last.isoformat(), days=files, files=files)
