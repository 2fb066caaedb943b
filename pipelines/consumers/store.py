"""Where consumer tables live and how a batch swaps them in.

``lake/consumers/<table>/<table>.parquet``: one file per table, written aside (``.<name>.tmp-<pid>``,
the lake's temp-file convention, swept by erasure) and moved over the old one with ``os.replace``,
so a reader (or the DuckDB view) sees the previous complete table or the new one, never a mix.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.ingest.lake import WRITE_OPTIONS
from pipelines.warehouse import DuckDBWarehouse, Warehouse

TABLES = ("recommendations", "similar_items", "item_words", "churn_scores", "market_map", "catalogue_anomalies",
          "demand_outlook")
VIEW_SCHEMA = "consumers"
STAMP_COLUMNS = ("model_version", "dagster_run_id")
VERSION_KEY = b"corebrain.model_version"     # Parquet schema metadata: the version of an empty table


def consumers_root(lake: Path) -> Path:
    return Path(lake) / "consumers"


def table_path(lake: Path, name: str) -> Path:
    return consumers_root(lake) / name / f"{name}.parquet"


def stamp(table: pa.Table, version: str, run_id: str) -> pa.Table:
    """Every row carries the one model version it came from and the Dagster run that wrote it."""
    n = table.num_rows
    stamped = (table.append_column("model_version", pa.array([str(version)] * n, pa.string()))
                    .append_column("dagster_run_id", pa.array([run_id] * n, pa.string())))
    # the file says its version too, so an empty table (no anomalies, no searches) is current as well
    meta = {**(stamped.schema.metadata or {}), VERSION_KEY: str(version).encode()}
    return stamped.replace_schema_metadata(meta)


def write_swap(table: pa.Table, path: Path) -> None:
    """Write aside, fsync, then ``os.replace``: a kill at any point leaves the previous file intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(table, tmp, **WRITE_OPTIONS)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def versions_in(path: Path) -> set[str]:
    """The model versions a table's rows carry; for a table without rows, the version its file was
    stamped with (empty set: no table, or no stamp)."""
    if not path.exists():
        return set()
    schema = pq.read_schema(path)
    if "model_version" not in schema.names:
        return set()
    column = pq.read_table(path, columns=["model_version"]).column("model_version")
    if len(column) == 0:
        stamped = (schema.metadata or {}).get(VERSION_KEY)
        return {stamped.decode()} if stamped else set()
    return {v for v in pc.unique(column).to_pylist() if v is not None}


def is_current(path: Path, version: str) -> bool:
    """True when the table exists and every row already comes from ``version``: no rebuild needed."""
    return versions_in(path) == {str(version)}


def create_views(warehouse: Path, lake: Path, names=TABLES) -> list[str]:
    """``consumers.<table>`` views over the Parquet files (absolute paths). Opens the warehouse
    read-write: call only from a step in pool ``duckdb``."""
    made = []
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {VIEW_SCHEMA}")
        for name in names:
            path = table_path(lake, name)
            if not path.exists():
                continue
            literal = str(path.resolve()).replace("'", "''")
            con.execute(f"CREATE OR REPLACE VIEW {VIEW_SCHEMA}.{name} AS SELECT * FROM read_parquet('{literal}')")
            made.append(f"{VIEW_SCHEMA}.{name}")
    return made


def read_catalogue(warehouse: Path | Warehouse) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """({item_id: tags} for catalogue items, {user_id: market}) from dim_items / dim_users (DuckDB:
    read-only); empty where the warehouse or a table is missing (a business without a catalogue or
    markets). ``warehouse``: a :class:`~pipelines.warehouse.Warehouse` or a DuckDB file's path."""
    tags: dict[str, str | None] = {}
    markets: dict[str, str | None] = {}
    if not isinstance(warehouse, Warehouse):
        warehouse = DuckDBWarehouse(Path(warehouse))
    if not warehouse.exists():
        return tags, markets
    present = warehouse.tables()
    if "dim_items" in present:
        rows = warehouse.read_arrow("SELECT item_id, tags FROM dim_items WHERE in_catalogue").to_pylist()
        tags = {r["item_id"]: r["tags"] for r in rows}
    if "dim_users" in present:
        rows = warehouse.read_arrow("SELECT user_id, market FROM dim_users").to_pylist()
        markets = {r["user_id"]: r["market"] for r in rows}
    return tags, markets


def read_categories(warehouse: Path) -> dict[str, str | None]:
    """{item_id: category} for catalogue items (read-only); empty without a warehouse or ``dim_items``."""
    if not Path(warehouse).exists():
        return {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        present = {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables "
                                         "WHERE table_schema = current_schema()").fetchall()}
        if "dim_items" not in present:
            return {}
        return dict(con.sql("SELECT item_id, category FROM dim_items WHERE in_catalogue").fetchall())


def read_purchases(warehouse: Path, since_s: float, until_s: float) -> dict[str, int] | None:
    """{item_id: purchases in [since, until)} from ``fct_events`` (read-only): the warehouse's own
    count, every event (shards may hold shorter histories); None without a warehouse or fct_events."""
    import datetime as dt

    if not Path(warehouse).exists():
        return None
    with duckdb.connect(str(warehouse), read_only=True) as con:
        present = {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables "
                                         "WHERE table_schema = current_schema()").fetchall()}
        if "fct_events" not in present:
            return None
        since, until = (dt.datetime.fromtimestamp(t, dt.UTC).replace(tzinfo=None) for t in (since_s, until_s))
        return dict(con.sql("SELECT item_id, count(*) FROM fct_events WHERE event_type = 'purchase' AND "
                            "item_id IS NOT NULL AND ts >= ? AND ts < ? GROUP BY item_id",
                            params=[since, until]).fetchall())
