"""Flags of ``corebrain simulate`` and the command itself (wired in ``pipelines/cli.py``).

Which days: ``--start D --days N`` (N days from D), ``--end D --days N`` (N days ending on D; the demo
passes ``--end yesterday`` so the nightly partitions line up), or ``--start`` and ``--end``. Without
either, the days start at the world's recorded origin (or 2026-01-01 in a fresh home). Adding days to
an existing home: same seed/users/items and ``--start`` on the new days; the origin is reused.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime, timedelta

from pipelines.settings import CorebrainPaths
from pipelines.simulate.shop import FORMAT_CHOICES, WorldMismatch, simulate_shop

DEFAULT_START = date(2026, 1, 1)
DEFAULT_DAYS = 30


def parse_day(text: str) -> date:
    """``YYYY-MM-DD``, ``today`` or ``yesterday`` (UTC)."""
    today = datetime.now(UTC).date()
    keywords = {"today": today, "yesterday": today - timedelta(days=1)}
    if text.lower() in keywords:
        return keywords[text.lower()]
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD, today or yesterday)") from None


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"a rate must be within [0, 1), got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=_positive, default=None,
                        help=f"number of days to write (default {DEFAULT_DAYS}, or from --start..--end)")
    parser.add_argument("--users", type=_positive, default=600)
    parser.add_argument("--items", type=_positive, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", type=parse_day, default=None, help="first day written (YYYY-MM-DD)")
    parser.add_argument("--end", type=parse_day, default=None,
                        help="last day written (YYYY-MM-DD, today or yesterday)")
    parser.add_argument("--origin", type=parse_day, default=None,
                        help="day 0 of the world (default: recorded in truth/world.json, else the first day)")
    parser.add_argument("--format", dest="fmt", choices=FORMAT_CHOICES, default="parquet",
                        help="landing file format; mixed rotates parquet/jsonl/csv by day")
    parser.add_argument("--bad-rate", type=_rate, default=0.0,
                        help="share of injected bad rows per day (plus one bad file per day); 0 = clean")
    parser.add_argument("--late-rate", type=_rate, default=0.0,
                        help="share of sessions delivered 1-2 days late in a late-from-<day> file")
    parser.add_argument("--no-truth", action="store_true", help="skip the truth/ tables (faster)")


def resolve_days(start: date | None, end: date | None, days: int | None,
                 recorded_origin: date | None) -> tuple[date, int]:
    """(first day, number of days) from the flags; raises ValueError on a contradiction."""
    if start and end:
        if end < start:
            raise ValueError(f"--end {end} is before --start {start}")
        span = (end - start).days + 1
        if days is not None and days != span:
            raise ValueError(f"--start {start} .. --end {end} is {span} days, but --days says {days}")
        return start, span
    n = days or DEFAULT_DAYS
    if end:
        return end - timedelta(days=n - 1), n
    return start or recorded_origin or DEFAULT_START, n


def run_simulate(args: argparse.Namespace, paths: CorebrainPaths) -> int:
    world_file = paths.home / "truth" / "world.json"
    recorded = date.fromisoformat(json.loads(world_file.read_text())["origin"]) if world_file.exists() else None
    try:
        start, n_days = resolve_days(args.start, args.end, args.days, recorded)
        summary = simulate_shop(paths.home, days=n_days, users=args.users, items=args.items, seed=args.seed,
                                start_date=start, origin=args.origin, fmt=args.fmt, bad_rate=args.bad_rate,
                                late_rate=args.late_rate, write_truth=not args.no_truth)
    except (ValueError, WorldMismatch) as exc:
        print(f"corebrain simulate: {exc}")
        return 2
    print(summary)
    return 0
