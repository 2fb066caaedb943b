"""Consumer tables: what downstream teams read, built from exactly one champion version per batch.

``batch``   the champion resolved once (version, model, the shards it trained on) and its histories;
``tables``  one pure builder per table, each a thin loop over ``models.readouts`` (one way to score);
``store``   where the tables live (``lake/consumers/<table>/<table>.parquet``), the atomic swap, the
            version a table already carries, and the DuckDB views over them.
The Dagster side is ``pipelines/defs/consumers.py``.
"""
