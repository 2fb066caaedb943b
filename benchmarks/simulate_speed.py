"""How fast the sample shop generates events: wall time and events/s for about 1M and 10M events.

Writes Parquet landing files and the truth tables into a temporary folder (deleted afterwards), the
way ``corebrain simulate`` does. Run on an idle machine (it is CPU bound; numpy uses one core for
almost all of it):

    .venv/bin/python benchmarks/simulate_speed.py            # 1M and 10M
    .venv/bin/python benchmarks/simulate_speed.py --sizes 1  # 1M only
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
from datetime import date
from pathlib import Path

from pipelines.simulate import simulate_shop

EVENTS_PER_USER_DAY = 1.34  # measured with 5,000 items (1.43 on the default 300-item world)
DAYS = 30


def run(millions: float, items: int, truth: bool) -> dict:
    users = int(millions * 1e6 / (EVENTS_PER_USER_DAY * DAYS))
    home = Path(tempfile.mkdtemp(prefix="corebrain-simbench-"))
    try:
        s = simulate_shop(home, DAYS, users=users, items=items, seed=7, start_date=date(2026, 1, 1),
                          write_truth=truth)
        size = sum(p.stat().st_size for p in home.rglob("*") if p.is_file())
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return {"target": f"{millions:g}M", "users": users, "items": items, "days": DAYS, "events": s.events,
            "truth": truth, "seconds": s.seconds, "events_per_s": s.events / s.seconds,
            "mb_written": size / 1e6,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 10], help="millions of events")
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--no-truth", action="store_true")
    args = parser.parse_args()
    rows = [run(m, args.items, not args.no_truth) for m in args.sizes]
    print(f"{'target':>6} {'users':>8} {'items':>6} {'days':>4} {'events':>11} {'truth':>5} "
          f"{'wall s':>7} {'events/s':>11} {'MB out':>7} {'peak RSS MB':>11}")
    for r in rows:
        print(f"{r['target']:>6} {r['users']:>8} {r['items']:>6} {r['days']:>4} {r['events']:>11,} "
              f"{r['truth']!s:>5} {r['seconds']:>7.1f} {r['events_per_s']:>11,.0f} {r['mb_written']:>7.1f} "
              f"{r['peak_rss_mb']:>11.0f}")


if __name__ == "__main__":
    main()
