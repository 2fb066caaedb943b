"""dbt's fixed cost per invocation: parsing with the window as --vars (before) or as env vars (now).

    .venv/bin/python benchmarks/dbt_parse_cost.py [--repeats 2]

Parses the project once (the saved ``partial_parse.msgpack`` the pipeline starts every dbt
invocation from), then times ``dbt parse`` for a new partition window each repeat: passed as
``--vars`` (dbt: "config vars changed", a full re-parse) and as ``COREBRAIN_DBT_*`` environment
variables (only the files that read them are re-parsed). Both in the same run, alternating.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"


def parse(target: Path, extra: list[str], env: dict[str, str]) -> tuple[float, bool]:
    start = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).with_name("dbt")), "parse", "--project-dir", str(PROJECT),
                           "--profiles-dir", str(PROJECT), "--target-path", str(target), *extra],
                          capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(proc.stdout[-2000:])
    return time.perf_counter() - start, "Unable to do partial parsing" not in proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="corebrain-parse-"))
    env = {**os.environ, "COREBRAIN_LAKE": str(tmp / "lake"), "COREBRAIN_WAREHOUSE": str(tmp / "w.duckdb")}
    try:
        parse(tmp / "base", [], env)
        rows = []
        for k in range(args.repeats):
            day = f"2026-01-{k + 10:02d}"
            for how in ("--vars", "env"):
                target = tmp / f"{how.strip('-')}-{k}"
                target.mkdir()
                shutil.copy(tmp / "base" / "partial_parse.msgpack", target)
                if how == "--vars":
                    seconds, partial = parse(target, ["--vars", json.dumps({"min_date": day, "max_date": day})], env)
                else:
                    seconds, partial = parse(target, [], {**env, "COREBRAIN_DBT_MIN_DATE": day,
                                                          "COREBRAIN_DBT_MAX_DATE": day})
                rows.append((how, day, seconds, partial))
        print("| window passed as | day | dbt parse s | partial parse kept |")
        print("|---|---|---:|---|")
        for how, day, seconds, partial in rows:
            print(f"| {how} | {day} | {seconds:.1f} | {'yes' if partial else 'no (full re-parse)'} |")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
