"""Build the dbt project on one lake with DuckDB and with Spark, and read every mart back.

Shared by tests/transform/test_dbt_spark.py (the marts must match) and
benchmarks/dbt_spark_vs_duckdb.py (build times). Spark runs through dbt-spark's session method in
the dbt process (pyspark local mode), so one ``dbt build`` is one Spark start-up.
"""

from __future__ import annotations

import math
import os
import subprocess
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from pipelines.dbt_project import DBT_PROJECT_DIR, dbt_executable
from tests.transform.lake_fixtures import ev, shop_events, write_events, write_items, write_quarantine

# every model dbt_marts and dbt_partitioned publish (views included)
MARTS = ("fct_events", "item_vocab", "training_window", "user_sequences", "holdout", "dim_items",
         "dim_users", "quarantine")


def write_small_lake(lake: Path, days: int = 3, users: int = 5) -> None:
    """A tiny lake with every feature the SQL handles: several days and landing days, a late event,
    a catalogue (with an item never seen and padded ids), quarantine rows, odd whitespace."""
    for d in range(days):
        day = f"2026-01-{d + 1:02d}"
        write_events(lake, day, shop_events(day, users=users, items=6))
    write_events(lake, "2026-01-03", [ev("late-1", "2026-01-01T23:59:59", "u9", "purchase", "i7", market=None,
                                         price=3.25),
                                      ev("dup-x", "2026-01-02T05:00:00", "u1", "View", "i2", market=" DE ")])
    write_items(lake, [{"item_id": " i0 ", "title": "Red poster", "category": "Posters", "tags": "red"},
                       {"item_id": "never-seen", "title": "Blue", "category": None, "tags": None}])
    write_quarantine(lake, "2026-01-02", [{"source_file": "events/date=2026-01-02/a.csv", "source_row": 7,
                                           "reason": "BAD_TS", "detail": "x", "raw": "{}"}])


@dataclass(frozen=True)
class Build:
    target: str
    seconds: float
    stdout: str
    returncode: int


def dbt_build(target: str, home: Path) -> Build:
    """``dbt build`` of every model and data test on ``target`` (unit tests need the built
    relations: :func:`dbt_unit_tests` after it)."""
    return run_dbt(target, home, "build", "--exclude-resource-type", "unit_test")


def dbt_unit_tests(target: str, home: Path) -> Build:
    return run_dbt(target, home, "test", "--select", "test_type:unit")


def run_dbt(target: str, home: Path, *args: str) -> Build:
    """One dbt command on ``target`` against the lake and warehouses under ``home``."""
    env = {**os.environ, "COREBRAIN_TARGET": target, "COREBRAIN_LAKE": str(home / "lake"),
           "COREBRAIN_WAREHOUSE": str(home / "warehouse.duckdb"),
           "COREBRAIN_SPARK_WAREHOUSE": str(home / "spark-warehouse")}
    out = home / f"dbt-{target}"
    started = time.perf_counter()
    proc = subprocess.run(
        [dbt_executable(), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
         str(DBT_PROJECT_DIR), "--target", target, "--target-path", str(out), "--log-path", str(out)],
        capture_output=True, text=True, env=env, cwd=home)
    return Build(target, time.perf_counter() - started, proc.stdout + proc.stderr, proc.returncode)


def normalise(value):
    """One comparable Python value whatever engine produced it: lists stay lists, numbers compare
    as floats rounded to 9 digits, timestamps lose their zone (both engines store UTC)."""
    if isinstance(value, (list, tuple)):
        return tuple(normalise(v) for v in value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)):
        f = float(value)
        return None if math.isnan(f) else round(f, 9)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def canonical(rows: list[dict]) -> list[tuple]:
    """Rows as sorted tuples of (column, normalised value): order-independent."""
    return sorted((tuple(sorted((k, normalise(v)) for k, v in row.items())) for row in rows), key=repr)


def type_family(arrow_type) -> str:
    """An Arrow type without what differs between the engines' writers: string views / large
    strings, the time unit and zone of timestamps, the nullability and name of list elements."""
    import pyarrow as pa

    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"list<{type_family(arrow_type.value_type)}>"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return "string"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    return str(arrow_type)


def read_marts(warehouse) -> dict[str, tuple[dict[str, str], list[dict]]]:
    """{mart: ({column: type family}, rows)} through a pipelines.warehouse.Warehouse."""
    out = {}
    for mart in MARTS:
        table = warehouse.read_arrow(f"select * from {mart}")
        out[mart] = ({f.name: type_family(f.type) for f in table.schema}, table.to_pylist())
    return out
