"""The ``promotions`` audit table: one row per decision (gate pass or fail, forced, rollback).

Each row is its own Parquet file under ``$COREBRAIN_HOME/lake/promotions/``, written to a temporary
name and renamed into place, so a crash leaves either the whole row or none (never half a row);
``audit.duckdb`` holds the DuckDB view ``promotions`` over them (a separate file, so the gate never
needs the warehouse's one write lock). ``results`` holds every rule with its estimate and interval;
``scores`` every task x segment x model value.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

KINDS = ("gate", "forced", "rollback")
RESULT_TYPE = pa.struct([
    ("rule", pa.string()), ("task", pa.string()), ("segment", pa.string()), ("passed", pa.bool_()),
    ("gated", pa.bool_()), ("estimate", pa.float64()), ("lower", pa.float64()), ("upper", pa.float64()),
    ("threshold", pa.float64()), ("n", pa.int64()), ("compared_to", pa.string()), ("detail", pa.string()),
])
SCORE_TYPE = pa.struct([("task", pa.string()), ("segment", pa.string()), ("model", pa.string()),
                        ("metric", pa.string()), ("value", pa.float64()), ("n", pa.int64())])
SCHEMA = pa.schema([
    ("decision_id", pa.string()), ("decided_at", pa.timestamp("us", tz="UTC")), ("kind", pa.string()),
    ("verdict", pa.string()), ("dagster_run_id", pa.string()), ("root_run_id", pa.string()),
    ("trigger", pa.string()), ("requested_by", pa.string()), ("reason", pa.string()),
    ("candidate_version", pa.string()), ("incumbent_version", pa.string()), ("champion_after", pa.string()),
    ("evaluation_sha256", pa.string()), ("rules_sha256", pa.string()), ("first_model", pa.bool_()),
    ("failed_rules", pa.list_(pa.string())), ("notes", pa.list_(pa.string())),
    ("results", pa.list_(RESULT_TYPE)), ("scores", pa.list_(SCORE_TYPE)),
])
VIEW = "promotions"


def audit_dir(lake: Path) -> Path:
    return Path(lake) / "promotions"


def audit_db(home: Path) -> Path:
    return Path(home) / "audit.duckdb"


def new_row(*, kind: str, verdict: str, run_id: str, root_run_id: str, trigger: str, candidate: str | None,
            incumbent: str | None, champion_after: str | None, evaluation_sha256: str = "", rules_sha256: str = "",
            first_model: bool = False, failed_rules: list[str] | None = None, notes: list[str] | None = None,
            results: list[dict] | None = None, scores: list[dict] | None = None, requested_by: str = "",
            reason: str = "", now: dt.datetime | None = None) -> dict:
    """One audit row (pure); ``decision_id`` is fresh."""
    if kind not in KINDS:
        raise ValueError(f"unknown decision kind {kind!r}; expected one of {KINDS}")
    clean = lambda rows: [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}  # noqa: E731
                          for r in rows or []]
    return {"decision_id": uuid.uuid4().hex, "decided_at": now or dt.datetime.now(dt.UTC), "kind": kind,
            "verdict": verdict, "dagster_run_id": run_id, "root_run_id": root_run_id, "trigger": trigger,
            "requested_by": requested_by, "reason": reason, "candidate_version": candidate,
            "incumbent_version": incumbent, "champion_after": champion_after,
            "evaluation_sha256": evaluation_sha256, "rules_sha256": rules_sha256, "first_model": first_model,
            "failed_rules": failed_rules or [], "notes": notes or [], "results": clean(results),
            "scores": clean(scores)}


def write_row(lake: Path, home: Path, row: dict) -> Path:
    """Append ``row`` atomically (tmp file + rename) and refresh the DuckDB view."""
    folder = audit_dir(lake)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = row["decided_at"].strftime("%Y%m%dT%H%M%S%f")
    final = folder / f"row-{stamp}-{row['decision_id']}.parquet"
    tmp = folder / f".tmp-{row['decision_id']}.partial"  # outside the view's glob until renamed
    pq.write_table(pa.Table.from_pylist([row], schema=SCHEMA), tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    ensure_view(lake, home)
    return final


def ensure_view(lake: Path, home: Path) -> None:
    import duckdb

    glob = str(audit_dir(lake) / "row-*.parquet").replace("'", "''")
    with duckdb.connect(str(audit_db(home))) as con:
        con.execute(f"create or replace view {VIEW} as select * from read_parquet('{glob}', union_by_name = true)")


def read_rows(lake: Path) -> list[dict]:
    """Every complete row, oldest first (temporary files of an interrupted write are ignored)."""
    folder = audit_dir(lake)
    files = sorted(folder.glob("row-*.parquet")) if folder.is_dir() else []
    if not files:
        return []
    rows = pa.concat_tables([pq.read_table(p, schema=SCHEMA) for p in files]).to_pylist()
    return sorted(rows, key=lambda r: r["decided_at"])


def gate_row_for(lake: Path, root_run_id: str, candidate: str) -> dict | None:
    """The gate decision already taken for this run chain and candidate (a rerun reuses it)."""
    for row in reversed(read_rows(lake)):
        if row["kind"] == "gate" and row["root_run_id"] == root_run_id and row["candidate_version"] == candidate:
            return row
    return None


def recent_champions(rows: list[dict], last_n: int) -> list[str]:
    """Versions that were champion at some point during the last ``last_n`` decisions (newest
    first, no repeats): each row's incumbent, and what it left as champion (pure)."""
    seen: list[str] = []
    for row in reversed(rows[-last_n:] if last_n else []):
        for version in (row.get("champion_after"), row.get("incumbent_version")):
            if version and version not in seen:
                seen.append(version)
    return seen


def trigger_of(tags: dict) -> str:
    """Who or what started the run, from Dagster's run tags."""
    for tag, label in (("dagster/schedule_name", "schedule"), ("dagster/sensor_name", "sensor"),
                       ("dagster/backfill", "backfill"), ("dagster/user", "user")):
        if tags.get(tag):
            return f"{label} {tags[tag]}"
    return "manual run"


def rows_as_json(rows: list[dict]) -> str:
    return json.dumps(rows, default=str, indent=1)
