"""Dedupe on ``event_id``: the first copy wins, by (landing day, file name, row).

Within the landing day it is a single pass in that order. Against earlier landing days it asks the
lake, with an in-memory DuckDB semi-join over the event_id column of the earlier days' files only
(never the warehouse file), so a rerun of day D depends only on days before D and is idempotent.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.ingest.lake import landed_event_files


def earlier_event_files(lake_events: Path, landing_day: date) -> list[Path]:
    return [path for _day, landed, path in landed_event_files(lake_events) if landed < landing_day]


def prior_event_ids(files: list[Path], candidate_ids: list[str]) -> dict[str, str]:
    """{event_id: 'source_file row N'} for the candidates already in the given lake files."""
    if not files or not candidate_ids:
        return {}
    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        con.register("candidates", pa.table({"event_id": pa.array(candidate_ids, pa.string())}))
        result = con.sql(
            "SELECT p.event_id, arg_min(p.source_file || ' row ' || p.source_row, "
            "p.source_file || lpad(CAST(p.source_row AS VARCHAR), 20, '0')) AS first_seen "
            "FROM read_parquet($files) AS p "
            "WHERE p.event_id IN (SELECT event_id FROM candidates) GROUP BY p.event_id",
            params={"files": [str(f) for f in files]},
        ).fetchall()
    finally:
        con.close()
    return dict(result)
