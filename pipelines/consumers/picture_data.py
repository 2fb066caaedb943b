"""What the pictures show, gathered from the pipeline's own records (pure where it can be).

- ``history_series``: from the promotions audit rows, per gate decision the score of the version that
  was champion afterwards (the challenger's on a pass, the incumbent's on a fail), per task / metric;
- ``gate_scores``: the scores of one gate decision (what ``pictures.gate_chart`` draws);
- ``calibration_bins``: the churn read-out on the champion's own frozen holdout against its labels;
- ``colour_labels``: per item, the label to colour the item map by (``dim_items.category`` by default,
  or a column of a Parquet file with ``item_id``, e.g. the sample shop's truth palette).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow.parquet as pq

from pipelines.gate.decision import CHALLENGER, INCUMBENT  # the model names the audit rows' scores use

SEGMENT = "overall"


def _night(row: Mapping) -> str:
    return f"v{row['champion_after']} {row['decided_at']:%m-%d %H:%M}" if row.get("decided_at") else f"v{row['champion_after']}"


def history_series(rows: Sequence[Mapping]) -> dict[str, list[tuple[str, float]]]:
    """{"task metric": [(night label, the champion's score after that decision)]}, oldest first."""
    out: dict[str, list[tuple[str, float]]] = {}
    for row in rows:
        if row.get("kind") != "gate" or not row.get("champion_after"):
            continue
        model = CHALLENGER if row.get("verdict") == "pass" else INCUMBENT
        for s in row.get("scores") or []:
            if s.get("segment") == SEGMENT and s.get("model") == model:
                out.setdefault(f"{s['task']} {s['metric']}", []).append((_night(row), float(s["value"])))
    return out


def latest_gate_row(rows: Sequence[Mapping], candidate: str | None = None) -> Mapping | None:
    """The newest gate decision (for ``candidate`` when given)."""
    gates = [r for r in rows if r.get("kind") == "gate" and (candidate is None or r.get("candidate_version") == candidate)]
    return gates[-1] if gates else None


def colour_labels(item_ids: Sequence[str], categories: Mapping[str, str | None], colour_by: str = "") -> tuple[list, str]:
    """(label per item, what the labels are). ``colour_by`` = "PATH:COLUMN" of a Parquet file with
    ``item_id`` (missing file or column: a clear ValueError); empty: the catalogue category."""
    if not colour_by:
        return [categories.get(i) for i in item_ids], "category"
    path, _, column = colour_by.rpartition(":")
    if not path or not column or not Path(path).exists():
        raise ValueError(f"colour_by {colour_by!r}: give PATH:COLUMN of an existing Parquet file with item_id")
    table = pq.read_table(path)
    if "item_id" not in table.column_names or column not in table.column_names:
        raise ValueError(f"colour_by {colour_by!r}: the file needs columns item_id and {column}")
    by = dict(zip(table.column("item_id").to_pylist(), table.column(column).to_pylist(), strict=True))
    return [by.get(i) for i in item_ids], column


def calibration_bins(reader, evaluations: Path, row: Mapping | None, bins: int = 10) -> list[tuple[float, float, int]]:
    """Reliability of the champion's churn read-out on the frozen holdout of its gate decision
    (empty when that decision or its evaluation set is gone)."""
    if row is None or not row.get("evaluation_sha256"):
        return []
    folder = Path(evaluations) / row["evaluation_sha256"][:16]
    if not (folder / "evaluation.json").exists():
        return []
    from pipelines.gate.evaluation_set import open_evaluation_set
    from pipelines.gate.rules import load_rules
    from pipelines.gate.tasks import EvaluationData
    from pipelines.quality import reliability

    data = EvaluationData(open_evaluation_set(folder), load_rules())
    scores = data.score(reader)
    if "churn" not in scores or not len(data.churned):
        return []
    return reliability(scores["churn"], data.churned.astype(float), bins)
