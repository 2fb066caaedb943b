"""A few rows of each consumer table with its version stamp: the end of ``corebrain demo``."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from pipelines.consumers.store import TABLES, VIEW_SCHEMA, table_path, versions_in


def summary_lines(lake: Path, rows: int = 3) -> list[str]:
    """Per table: path, row count, the model version(s) its rows carry, then ``rows`` sample rows."""
    lines = []
    for name in TABLES:
        path = table_path(lake, name)
        if not path.exists():
            lines.append(f"{name}: not built (no champion yet, or the consumers job has not run)")
            continue
        table = pq.read_table(path)
        versions = ", ".join(f"v{v}" for v in sorted(versions_in(path))) or "none"
        lines.append(f"{name}: {table.num_rows} rows from {versions} ({VIEW_SCHEMA}.{name}, {path})")
        cols = [c for c in table.column_names if c not in ("model_version", "dagster_run_id")]
        for row in table.slice(0, rows).select(cols).to_pylist():
            lines.append("    " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                            for k, v in row.items()))
    return lines
