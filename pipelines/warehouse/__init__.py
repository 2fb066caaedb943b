"""The warehouse as Python sees it: one small interface, a DuckDB and a Spark implementation.

The dbt marts live in the warehouse of the dbt target (``COREBRAIN_TARGET``: ``local`` = the DuckDB
file, ``spark`` = Spark tables). Python reads them (the shards writer, the consumers), exports them
to Parquet and erases users from them only through :class:`Warehouse`, so the same code runs on
either engine. DuckDB as an in-process compute engine over landing files (ingest) is not the
warehouse and does not go through here.
"""

from pipelines.warehouse.base import MissingTable, Warehouse, warehouse_for_target
from pipelines.warehouse.duckdb_warehouse import DuckDBWarehouse

__all__ = ["DuckDBWarehouse", "MissingTable", "Warehouse", "warehouse_for_target"]
