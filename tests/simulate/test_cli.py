"""``corebrain simulate`` flags: which days, the recorded origin, clear errors."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from pipelines.cli import main
from pipelines.simulate.cli import DEFAULT_START, parse_day, resolve_days


def test_resolve_days():
    d = date(2026, 3, 10)
    assert resolve_days(d, None, 5, None) == (d, 5)
    assert resolve_days(None, d, 5, None) == (date(2026, 3, 6), 5)
    assert resolve_days(date(2026, 3, 1), d, None, None) == (date(2026, 3, 1), 10)
    assert resolve_days(None, None, None, None) == (DEFAULT_START, 30)
    assert resolve_days(None, None, 2, date(2025, 5, 5)) == (date(2025, 5, 5), 2)
    with pytest.raises(ValueError, match="before"):
        resolve_days(d, date(2026, 3, 1), None, None)
    with pytest.raises(ValueError, match="--days says"):
        resolve_days(date(2026, 3, 1), d, 3, None)


def test_parse_day_keywords():
    today = datetime.now(UTC).date()
    assert parse_day("yesterday") == today - timedelta(days=1)
    assert parse_day("2026-02-03") == date(2026, 2, 3)


def test_simulate_command_end_yesterday_then_add_a_day(corebrain_home, capsys):
    home = corebrain_home.home
    assert main(["simulate", "--days", "3", "--users", "80", "--items", "30", "--end", "yesterday"]) == 0
    assert "simulated 3 day(s)" in capsys.readouterr().out
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    world = json.loads((home / "truth" / "world.json").read_text())
    assert world["origin"] == (yesterday - timedelta(days=2)).isoformat()
    assert (home / "landing" / "events" / f"date={yesterday.isoformat()}" / "events.parquet").exists()
    today = yesterday + timedelta(days=1)
    assert main(["simulate", "--days", "1", "--users", "80", "--items", "30", "--start", today.isoformat()]) == 0
    assert (home / "landing" / "events" / f"date={today.isoformat()}" / "events.parquet").exists()
    # another world in the same home is a clear error, not a traceback
    assert main(["simulate", "--days", "1", "--seed", "8", "--users", "80", "--items", "30"]) == 2
    assert "already holds" in capsys.readouterr().out
