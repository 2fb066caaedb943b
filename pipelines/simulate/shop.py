"""``simulate_shop``: write the sample shop's landing files and its hidden truth for a range of days.

Layout under ``out_home`` (contracts.md section 1):

- ``landing/events/date=D/events.<fmt>``: day D's events (file = the day it arrived);
- ``landing/events/date=D+k/late-from-D.<fmt>``: day D's late sessions, arriving k = 1..2 days late;
- ``landing/events/date=D/extra-rows.jsonl``, ``zz-*``: injected bad rows and files (opt-in);
- ``landing/items/items.<fmt>``: the catalogue;
- ``truth/``: see ``truth.py``; plus ``world.json`` (the world's parameters and origin),
  ``injected.parquet`` (every injected row with its expected reason), ``landing_files.parquet``
  (every file written, its rows and kind) and ``days/date=D.json`` (per-day counts).

The world's day 0 (``origin``) is stored in ``truth/world.json``: a later call on the same home with
the same seed/users/items reuses it, so days can be added one at a time (day N is identical whether it
was generated alone or within a range). Rewriting a day replaces exactly the files that day owns.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.simulate.calendar import activity_multiplier
from pipelines.simulate.day import DayGenerator
from pipelines.simulate.inject import INJECTED_SCHEMA, inject_day
from pipelines.simulate.truth import (
    catalogue_table,
    churn_truth,
    item_words_truth,
    items_truth,
    markets_truth,
    users_truth,
)
from pipelines.simulate.world import build_world
from pipelines.simulate.writer import FORMATS, SUFFIX, write_bytes, write_table

SIMULATOR_VERSION = 1
LATE_STREAM = 3
MAX_LATE_DAYS = 2
FORMAT_CHOICES: tuple[str, ...] = FORMATS + ("mixed",)

LANDING_FILES_SCHEMA = pa.schema([
    ("generated_for", pa.string()), ("landing_date", pa.string()), ("source_file", pa.string()),
    ("kind", pa.string()), ("rows", pa.int64()), ("clean_rows", pa.int64()),
])


class WorldMismatch(ValueError):
    """The home already holds a different world (other seed / users / items / origin)."""


@dataclass
class SimulationSummary:
    home: str
    seed: int
    users: int
    items: int
    origin: str
    days: list[str]
    events: int = 0              # clean events generated (including those delivered late)
    late_events: int = 0
    injected_rows: int = 0       # injected rows with an expected reason (should be quarantined)
    files: int = 0
    seconds: float = 0.0
    per_day: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        span = f"{self.days[0]}..{self.days[-1]}" if self.days else "no days"
        rate = self.events / self.seconds if self.seconds else 0.0
        return (f"simulated {len(self.days)} day(s) {span} of the sample shop (seed {self.seed}, "
                f"{self.users} users, {self.items} items, origin {self.origin}): {self.events} events "
                f"({self.late_events} late, {self.injected_rows} injected bad rows) in {self.files} files "
                f"under {self.home}/landing, truth in {self.home}/truth; {self.seconds:.1f} s "
                f"({rate:,.0f} events/s)")

    def as_dict(self) -> dict:
        return asdict(self)


def day_format(fmt: str, day_index: int) -> str:
    """``mixed`` rotates parquet, jsonl, csv by day; otherwise the one format."""
    if fmt == "mixed":
        return FORMATS[day_index % len(FORMATS)]
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {FORMAT_CHOICES}")
    return fmt


def resolve_origin(truth_dir: Path, seed: int, users: int, items: int, start: date,
                   origin: date | None) -> date:
    """The world's day 0: explicit, else the one recorded in this home, else ``start``."""
    world_file = truth_dir / "world.json"
    if world_file.exists():
        recorded = json.loads(world_file.read_text())
        same = (recorded.get("seed"), recorded.get("users"), recorded.get("items"),
                recorded.get("simulator_version")) == (seed, users, items, SIMULATOR_VERSION)
        recorded_origin = date.fromisoformat(recorded["origin"])
        if not same or (origin is not None and origin != recorded_origin):
            raise WorldMismatch(
                f"{truth_dir.parent} already holds a simulated world (seed {recorded.get('seed')}, "
                f"{recorded.get('users')} users, {recorded.get('items')} items, origin "
                f"{recorded['origin']}); use the same parameters to add days, or a fresh COREBRAIN_HOME")
        return recorded_origin
    return origin or start


def _late_split(seed: int, day_index: int, n_sessions: int, session_index: np.ndarray,
                late_rate: float) -> tuple[np.ndarray, int]:
    """Rows of the day delivered late, and how many days late this day's late file arrives."""
    rng = np.random.default_rng([seed, LATE_STREAM, day_index])
    late_sessions = rng.random(n_sessions) < late_rate
    delay = int(rng.integers(1, MAX_LATE_DAYS + 1))
    return late_sessions[session_index], delay


def _remove_owned_files(landing_events: Path, day: date) -> None:
    """Files that generating ``day`` writes: its own folder's files and its late files further on."""
    folder = landing_events / f"date={day.isoformat()}"
    if folder.exists():
        for path in folder.iterdir():
            if path.is_file() and not path.name.startswith("late-from-"):
                path.unlink()
    for k in range(1, MAX_LATE_DAYS + 1):
        later = landing_events / f"date={(day + timedelta(days=k)).isoformat()}"
        for path in later.glob(f"late-from-{day.isoformat()}.*"):
            path.unlink()


def _merge_truth(path: Path, new_rows: list[dict], schema: pa.Schema, days: set[str]) -> None:
    """Replace the rows generated for ``days`` in a truth table, keep the others."""
    new = pa.Table.from_pylist(new_rows, schema=schema)
    if path.exists():
        old = pq.read_table(path).cast(schema)
        keep = np.array([d not in days for d in old.column("generated_for").to_pylist()], dtype=bool)
        new = pa.concat_tables([old.filter(pa.array(keep)), new])
    keys = [k for k in ("generated_for", "source_file", "source_row") if k in schema.names]
    new = new.sort_by([(k, "ascending") for k in keys])
    write_table(new, path, "parquet")


def simulate_shop(out_home: Path, days: int, users: int, items: int, seed: int, start_date: date, *,
                  origin: date | None = None, fmt: str = "parquet", bad_rate: float = 0.0,
                  late_rate: float = 0.0, write_truth: bool = True) -> SimulationSummary:
    """Write ``days`` days from ``start_date`` into ``out_home/landing`` and ``out_home/truth``.

    Deterministic: the same (seed, users, items, origin) gives byte-identical data for a day,
    whichever range it is generated in. ``origin`` (day 0 of the world) defaults to the one
    recorded in ``out_home/truth/world.json``, else ``start_date``.
    """
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    if not 0.0 <= bad_rate < 1.0 or not 0.0 <= late_rate < 1.0:
        raise ValueError(f"rates must be within [0, 1): bad_rate={bad_rate} late_rate={late_rate}")
    day_format(fmt, 0)
    t0 = time.perf_counter()
    out_home = Path(out_home)
    landing, truth_dir = out_home / "landing", out_home / "truth"
    landing_events = landing / "events"
    origin = resolve_origin(truth_dir, seed, users, items, start_date, origin)
    if start_date < origin:
        raise ValueError(f"start {start_date} is before the world's origin {origin}")

    world = build_world(seed, users, items)
    generator = DayGenerator(world)
    catalogue = catalogue_table(world)
    write_table(catalogue, landing / "items" / f"items{SUFFIX[day_format(fmt, 0)]}", day_format(fmt, 0))
    for stale in (landing / "items").glob("items.*"):
        if stale.suffix != SUFFIX[day_format(fmt, 0)]:
            stale.unlink()
    if write_truth:
        truth_dir.mkdir(parents=True, exist_ok=True)
        write_table(items_truth(world, origin), truth_dir / "items.parquet", "parquet")
        write_table(item_words_truth(world, catalogue), truth_dir / "item_words.parquet", "parquet")
        write_table(users_truth(world, origin), truth_dir / "users.parquet", "parquet")
        write_table(markets_truth(world), truth_dir / "markets.parquet", "parquet")
    truth_dir.mkdir(parents=True, exist_ok=True)  # world.json anchors day 0 even without the rest
    (truth_dir / "world.json").write_text(json.dumps({
        "simulator_version": SIMULATOR_VERSION, "seed": seed, "users": users, "items": items,
        "origin": origin.isoformat()}, indent=2) + "\n")

    dates = [start_date + timedelta(days=k) for k in range(days)]
    summary = SimulationSummary(home=str(out_home), seed=seed, users=users, items=items,
                                origin=origin.isoformat(), days=[d.isoformat() for d in dates])
    injected: list[dict] = []
    files: list[dict] = []
    prev: tuple[int, pa.Table] | None = None
    for day in dates:
        day_index = (day - origin).days
        fmt_day = day_format(fmt, day_index)
        generated = generator.generate(day_index, day)
        late_rows, delay = _late_split(seed, day_index, generated.n_sessions, generated.session_index,
                                       late_rate)
        on_time = generated.table.filter(pa.array(~late_rows))
        _remove_owned_files(landing_events, day)
        folder = f"events/date={day.isoformat()}"
        main_name = f"events{SUFFIX[fmt_day]}"
        tag = day.isoformat()

        if bad_rate > 0:
            prev_rows = None
            if day_index > 0:
                if prev is not None and prev[0] == day_index - 1:
                    prev_rows = prev[1]
                else:  # regenerate the previous day (cheap) to copy one of its on-time rows
                    p = generator.generate(day_index - 1, day - timedelta(days=1))
                    p_late, _ = _late_split(seed, day_index - 1, p.n_sessions, p.session_index, late_rate)
                    prev_rows = p.table.filter(pa.array(~p_late))
            injection = inject_day(on_time, prev_rows, bad_rate, seed, day_index, day, folder, main_name,
                                   fmt_day)
            for rec in injection.records:
                rec["generated_for"] = tag
            injected.extend(injection.records)
            summary.injected_rows += sum(r["expected_reason"] is not None for r in injection.records)
            main_table = injection.main
            for bad in injection.files:
                write_bytes(bad.payload, landing / folder / bad.name)
                n_rec = sum(1 for r in injection.records if r["source_file"] == f"{folder}/{bad.name}")
                files.append({"generated_for": tag, "landing_date": tag, "source_file": f"{folder}/{bad.name}",
                              "kind": "bad", "rows": n_rec, "clean_rows": 0})
        else:
            main_table = on_time
        prev = (day_index, on_time)

        write_table(main_table, landing / folder / main_name, fmt_day)
        files.append({"generated_for": tag, "landing_date": tag, "source_file": f"{folder}/{main_name}",
                      "kind": "events", "rows": main_table.num_rows, "clean_rows": on_time.num_rows})
        n_late = int(late_rows.sum())
        if n_late:
            arrival = day + timedelta(days=delay)
            late_name = f"late-from-{day.isoformat()}{SUFFIX[fmt_day]}"
            late_folder = f"events/date={arrival.isoformat()}"
            write_table(generated.table.filter(pa.array(late_rows)), landing / late_folder / late_name, fmt_day)
            files.append({"generated_for": tag, "landing_date": arrival.isoformat(),
                          "source_file": f"{late_folder}/{late_name}", "kind": "late", "rows": n_late,
                          "clean_rows": n_late})

        summary.events += generated.table.num_rows
        summary.late_events += n_late
        summary.per_day[tag] = generated.table.num_rows
        if write_truth:
            write_table(churn_truth(world, day_index, origin), truth_dir / "churn" / f"date={tag}.parquet",
                        "parquet")
            days_dir = truth_dir / "days"
            days_dir.mkdir(parents=True, exist_ok=True)
            (days_dir / f"date={tag}.json").write_text(json.dumps({
                "date": tag, "day_index": day_index, "format": fmt_day,
                "activity_multiplier": round(activity_multiplier(day), 6),
                "sessions": generated.n_sessions, "events": generated.table.num_rows,
                "late_events": n_late, "injected_rows": sum(
                    1 for r in injected if r["generated_for"] == tag and r["expected_reason"] is not None),
            }, indent=2) + "\n")

    written = {d.isoformat() for d in dates}
    if write_truth:
        _merge_truth(truth_dir / "injected.parquet", injected, INJECTED_SCHEMA, written)
        _merge_truth(truth_dir / "landing_files.parquet", files, LANDING_FILES_SCHEMA, written)
    summary.files = len(files)
    summary.seconds = time.perf_counter() - t0
    return summary
