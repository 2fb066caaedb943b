"""Does a nightly run cost what the NEW day costs, or does it grow with the history underneath it?

    .venv/bin/python benchmarks/nightly_cost.py                         # 30k events/day, 31 days
    .venv/bin/python benchmarks/nightly_cost.py --events-per-day 100000

The sample shop is simulated for 31 days at equal daily volume: day 1 is Monday 2025-12-01 and day 31
Wednesday 2025-12-31, two days with the same weekday factor and, symmetric around the simulator's
seasonal peak (day of year 350), the same seasonal factor. Then, in one tmp ``COREBRAIN_HOME``, each
in its own process and one Dagster run, as the ``nightly`` job runs them (raw_events -> dbt_partitioned
-> dbt_marts -> training_shards; training and the gate are left out, they scale with the model):

1. the nightly run of day 1 on an empty warehouse;
2. a backfill of days 2 .. probe-1 (one run), the nightly run of the probe day (default day 8, when
   the training window of ``--window-days`` 7 is just full), a backfill up to day 30;
3. the nightly run of day 31 on top of 30 days.

Per-day work (ingest of one landing day, staging, fct_events) should cost the same on day 31 as on
day 1. Marts over the training window grow until the window is full (day 8) and should then stay
flat: day 31 / probe day isolates growth with history from growth with the window. Prints per-step
and per-dbt-model seconds for the three nights with the ratios, and writes
``benchmarks/results/pipeline_nightly_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pipeline_throughput as pt  # noqa: E402

DAY1 = date(2025, 12, 1)  # Monday; day 31 = Wednesday 2025-12-31: equal weekday and seasonal factors
DAYS = 31
STEPS = ("raw_events", "dbt_partitioned", "dbt_marts", "training_shards")
# what a model reads by design: the new day only, the training window, or all history
SCOPE = {"raw_events": "day", "dbt_partitioned": "day", "stg_events": "day", "fct_events": "day",
         "dbt_marts": "window", "training_shards": "window", "training_window": "window",
         "int_training_window": "window",
         "int_window_events": "window", "user_sequences": "window", "holdout": "window",
         "item_vocab": "history", "dim_items": "history", "dim_users": "history",
         "stg_quarantine": "history", "quarantine": "history", "stg_items": "catalogue"}


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def night_rows(nights: dict[str, dict]) -> list[dict]:
    """One row per step and per dbt model/test: seconds on each night and the ratios (pure)."""
    names = list(STEPS) + sorted({k for n in nights.values() for k in n["dbt_s"]})
    rows = []
    for name in names:
        secs = {label: (n["steps_s"] if name in STEPS else n["dbt_s"]).get(name) for label, n in nights.items()}
        rows.append({"name": name, "kind": "step" if name in STEPS else "dbt", "scope": SCOPE.get(name, ""),
                     **secs, "day31_over_day1": ratio(secs.get("day31"), secs.get("day1")),
                     "day31_over_probe": ratio(secs.get("day31"), secs.get("probe"))})
    return rows


def markdown(result: dict) -> str:
    nights = result["nights"]
    head = ["| night | events ingested | run wall s | sum of steps s | ms per 1k events |", "|---|---:|---:|---:|---:|"]
    for label, n in nights.items():
        steps = sum(v for k, v in n["steps_s"].items() if k in STEPS)
        events = n["ingest"].get("accepted", 0)
        head.append(f"| {label} ({n['day']}) | {events:,} | {n['wall_s']:.1f} | {steps:.1f} | "
                    f"{1e6 * steps / events if events else float('nan'):.0f} |")
    probe = result["probe_day_number"]
    lines = head + ["", f"| step / dbt model | scope | day 1 s | day {probe} s | day 31 s | day31/day1 | "
                        f"day31/day{probe} |", "|---|---|---:|---:|---:|---:|---:|"]
    for row in result["rows"]:
        if row["kind"] == "dbt" and row["name"].startswith("test ") and not (row["day31_over_day1"] or 0) > 1.5:
            continue  # flat dbt tests are left out of the table (all are in the JSON)
        cells = [f"{row[k]:.2f}" if row.get(k) is not None else "-" for k in ("day1", "probe", "day31")]
        ratios = [f"{row[k]}" if row[k] is not None else "-" for k in ("day31_over_day1", "day31_over_probe")]
        name = f"**{row['name']}**" if row["kind"] == "step" else row["name"]
        lines.append(f"| {name} | {row['scope']} | {' | '.join(cells)} | {' | '.join(ratios)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events-per-day", type=int, default=30_000)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--window-days", type=int, default=7, help="training window of dbt_marts")
    parser.add_argument("--probe-day", type=int, default=8, help="day number timed mid-backfill (window just full)")
    parser.add_argument("--home", help="keep the installation here (default: a tmp folder, deleted)")
    parser.add_argument("--out", default=str(pt.RESULTS / "pipeline_nightly_cost.json"))
    args = parser.parse_args()
    if not 2 < args.probe_day < DAYS:
        parser.error(f"--probe-day must be within 3..{DAYS - 1}")

    day = {k: DAY1 + timedelta(days=k - 1) for k in range(1, DAYS + 1)}
    home = Path(args.home).resolve() if args.home else Path(tempfile.mkdtemp(prefix="corebrain-nightly-"))
    common = ["--window-days", str(args.window_days), "--shards"]

    def run(first: int, last: int) -> dict:
        label = f"day {first}" if first == last else f"days {first}..{last}"
        print(f"  {label} ...", flush=True)
        out = pt.run_child(["--child", "pipeline", "--first", day[first].isoformat(),
                            "--last", day[last].isoformat(), *common], home)
        out["day"] = day[first].isoformat() if first == last else f"{day[first]}..{day[last]}"
        if not out["success"]:
            print(f"    FAILED: steps {out['failed_steps']}, checks {out['failed_checks']}", flush=True)
        print(f"    {out['wall_s']} s, steps {out['steps_s']}", flush=True)
        return out

    git_at_start = pt.git_state()
    try:
        print(f"simulating {DAYS} days x ~{args.events_per_day:,} events into {home} ...", flush=True)
        sim = pt.simulate(home, args.events_per_day * DAYS, DAYS, args.items, args.seed, DAY1, "parquet")
        nights, backfills = {}, {}
        nights["day1"] = run(1, 1)
        backfills["before_probe"] = run(2, args.probe_day - 1)
        nights["probe"] = run(args.probe_day, args.probe_day)
        backfills["after_probe"] = run(args.probe_day + 1, DAYS - 1)
        nights["day31"] = run(DAYS, DAYS)
        lake_mb = pt.dir_mb(home / "lake")
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)

    rows = night_rows(nights)
    n1, n31 = nights["day1"], nights["day31"]
    steps1 = sum(v for k, v in n1["steps_s"].items() if k in STEPS)
    steps31 = sum(v for k, v in n31["steps_s"].items() if k in STEPS)
    result = {"benchmark": "pipeline_nightly_cost",
              "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "command": " ".join(["benchmarks/nightly_cost.py", *sys.argv[1:]]),
              "git": git_at_start, "simulation": sim, "window_days": args.window_days, "probe_day_number": args.probe_day,
              "lake_mb_after_day31": lake_mb, "nights": nights, "backfills": backfills, "rows": rows,
              "day31_over_day1": {"steps": ratio(steps31, steps1), "run_wall": ratio(n31["wall_s"], n1["wall_s"]),
                                  "events": ratio(n31["ingest"].get("accepted"), n1["ingest"].get("accepted"))}}
    result["table_markdown"] = markdown(result)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(result["table_markdown"])
    print(f"day 31 / day 1: steps {result['day31_over_day1']['steps']}x, run wall "
          f"{result['day31_over_day1']['run_wall']}x, events {result['day31_over_day1']['events']}x")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
