"""A few rows of each consumer table with its version stamp: the end of ``corebrain demo``."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from pipelines.consumers.store import TABLES, VIEW_SCHEMA, table_path, versions_in


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, list) and len(v) > 3:
        return "[" + ", ".join(map(str, v[:3])) + f", ... {len(v)} in all]"
    return str(v)


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
            lines.append("    " + ", ".join(f"{k}={_fmt(v)}" for k, v in row.items()))
    return lines


def audience_lines(lake: Path, rows: int = 3) -> list[str]:
    """Each audience target's file: rows, version, the top ``rows`` users."""
    folder = lake / "consumers" / "audiences"
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return ["audiences: none built (run the `audiences` job with an item_id, category or tag)"]
    lines = []
    for path in files:
        table = pq.read_table(path)
        versions = ", ".join(f"v{v}" for v in sorted(versions_in(path))) or "none"
        lines.append(f"audiences ({path.stem}): {table.num_rows} users from {versions} ({VIEW_SCHEMA}.audiences, {path})")
        for row in table.slice(0, rows).select(["user_id", "rank", "propensity", "p_active"]).to_pylist():
            lines.append("    " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    return lines


def quality_lines(lake: Path, truth_items: Path) -> list[str]:
    """The new tables' quality beside their baselines on a simulated shop's truth (``truth/items.parquet``)."""
    from pipelines.quality import anomaly_quality

    lines = []
    path = table_path(lake, "catalogue_anomalies")
    if path.exists() and truth_items.exists():
        truth = pq.read_table(truth_items, columns=["item_id", "catalogue_error"]).to_pylist()
        universe = set(pq.read_table(table_path(lake, "similar_items"), columns=["item_id"]).column("item_id")
                       .to_pylist()) if table_path(lake, "similar_items").exists() else {r["item_id"] for r in truth}
        q = anomaly_quality(set(pq.read_table(path, columns=["item_id"]).column("item_id").to_pylist()),
                            {r["item_id"] for r in truth if r["catalogue_error"]}, universe)
        lines.append(f"catalogue_anomalies vs the planted wrong palette tags: precision {q['precision']:.3f} "
                     f"(random: {q['chance_precision']:.3f}), recall {q['recall']:.3f} (random: "
                     f"{q['chance_recall']:.3f}); {q['hits']} of {q['errors']} errors in {q['flagged']} flagged "
                     f"items, P(as good by luck) {q['p_luck']:.2g}")
    lines.append("demand_outlook vs its 7-day moving average needs the days after the window: "
                 "benchmarks/consumers_quality.py simulates them (README, Consumers)")
    lines.append("recommendations, similar_items, item_words, churn_scores, market_map: the read-outs' lines above "
                 "(the same functions these tables call)")
    return lines
