"""dbt build times on Spark (dbt-spark session, pyspark local mode) and on DuckDB, same lake.

Writes the small lake of tests/transform/engines.py (or a bigger one: ``--days``, ``--users``) in a
temporary folder (deleted afterwards), then times ``dbt build`` (every model and data test, no unit
tests) on each target, in turn, in the same run, and checks every mart holds the same rows. Wall
seconds include dbt's start-up (and Spark's JVM start-up for the Spark target)::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/dbt_spark_vs_duckdb.py [--days 3 --users 5] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.warehouse import DuckDBWarehouse  # noqa: E402
from tests.transform.engines import MARTS, canonical, dbt_build, read_marts, write_small_lake  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=1, help="builds per target (each from scratch)")
    args = parser.parse_args()
    rows = []
    root = Path(tempfile.mkdtemp(prefix="bench-spark-duckdb-"))
    try:
        for r in range(args.repeat):
            home = root / f"run{r}"
            home.mkdir()
            write_small_lake(home / "lake", days=args.days, users=args.users)
            os.environ.update({"COREBRAIN_LAKE": str(home / "lake"),
                               "COREBRAIN_WAREHOUSE": str(home / "warehouse.duckdb"),
                               "COREBRAIN_SPARK_WAREHOUSE": str(home / "spark-warehouse"),
                               "COREBRAIN_SPARK_SHUFFLE_PARTITIONS": os.environ.get(
                                   "COREBRAIN_SPARK_SHUFFLE_PARTITIONS", "1")})
            for target in ("local", "spark"):
                build = dbt_build(target, home)
                if build.returncode != 0:
                    print(build.stdout[-3000:])
                    raise SystemExit(f"dbt build on {target} failed")
                rows.append((r, target, build.seconds))
            from pipelines.warehouse.spark_warehouse import SparkWarehouse

            spark = SparkWarehouse.from_environment()
            try:
                theirs = read_marts(spark)
            finally:
                spark.session.stop()
            ours = read_marts(DuckDBWarehouse(home / "warehouse.duckdb"))
            same = all(canonical(ours[m][1]) == canonical(theirs[m][1]) for m in MARTS)
            n_events = len(ours["fct_events"][1])
            print(f"run {r}: {n_events} events, marts equal: {same}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (1 min), {os.cpu_count()} cores")
    print(f"{'run':>3}  {'target':<8} {'dbt build s':>12}")
    for r, target, seconds in rows:
        print(f"{r:>3}  {'duckdb' if target == 'local' else 'spark':<8} {seconds:>12.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
