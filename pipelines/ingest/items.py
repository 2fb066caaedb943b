"""Ingest the optional item catalogue: ``landing/items/*`` -> ``lake/items/items.parquet``.

Same rules as events: files read whole, one reason per rejected row, the first copy of an item_id
wins (by file name, row). Rejected rows go to ``lake/quarantine/items.parquet`` (same columns as the
event quarantine, ``landing_date`` null). No catalogue delivered: both files are removed, because
a business without a catalogue is a supported case and stale files would lie.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pipelines.ingest import reasons
from pipelines.ingest.contract import ITEM_COLUMNS, MAX_ID_CHARS, MAX_ITEM_TEXT_CHARS
from pipelines.ingest.lake import ITEM_SCHEMA, QUARANTINE_SCHEMA, table_from_rows, write_parquet_atomic
from pipelines.ingest.landing import list_landing_folder
from pipelines.ingest.readers import read_landing_file
from pipelines.ingest.validate import Rejected, coerce_text
from pipelines.settings import CorebrainPaths


@dataclass
class ItemsReport:
    files_read: int = 0
    files_rejected: int = 0
    rows_read: int = 0
    accepted: int = 0
    quarantined: int = 0
    reasons: Counter = field(default_factory=Counter)
    file_errors: dict[str, str] = field(default_factory=dict)
    schema_drift: dict[str, list[str]] = field(default_factory=dict)

    @property
    def reconciles(self) -> bool:
        return self.rows_read == self.accepted + self.quarantined

    def as_dict(self) -> dict[str, Any]:
        return {"files_read": self.files_read, "files_rejected": self.files_rejected,
                "rows_read": self.rows_read, "accepted": self.accepted, "quarantined": self.quarantined,
                "reconciles": self.reconciles, "quarantined_by_reason": dict(sorted(self.reasons.items())),
                "file_errors": self.file_errors, "schema_drift": self.schema_drift}


def validate_item(values: dict[str, Any]) -> tuple[str, str | None, str | None, str | None]:
    """(item_id, title, category, tags) or :class:`Rejected`; a list of tags is joined with commas."""
    item_id = coerce_text("item_id", values.get("item_id"))
    title = coerce_text("title", values.get("title"))
    category = coerce_text("category", values.get("category"))
    raw_tags = values.get("tags")
    if isinstance(raw_tags, list) and all(isinstance(t, str) for t in raw_tags):
        raw_tags = ",".join(raw_tags)
    tags = coerce_text("tags", raw_tags)
    if item_id is None:
        raise Rejected(reasons.MISSING_ITEM_ID, "item_id is null or empty")
    if len(item_id) > MAX_ID_CHARS:
        raise Rejected(reasons.STRING_TOO_LONG, f"item_id has {len(item_id)} chars, the limit is {MAX_ID_CHARS}")
    for name, value in (("title", title), ("category", category), ("tags", tags)):
        if value is not None and len(value) > MAX_ITEM_TEXT_CHARS:
            raise Rejected(reasons.STRING_TOO_LONG, f"{name} has {len(value)} chars, the limit is "
                                                    f"{MAX_ITEM_TEXT_CHARS}")
    return item_id, title, category, tags


def ingest_items(paths: CorebrainPaths) -> ItemsReport:
    report = ItemsReport()
    items_path = paths.lake_items / "items.parquet"
    quarantine_path = paths.lake_quarantine / "items.parquet"
    entries, _hidden = list_landing_folder(paths.landing_items, paths.landing)
    if not entries:
        for stale in (items_path, quarantine_path):
            stale.unlink(missing_ok=True)
        return report
    accepted: list[tuple] = []
    quarantine: list[tuple] = []
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.path is None:
            quarantine.append((entry.source_file, 0, entry.reason, entry.detail or "", "", None, None))
            report.files_rejected += 1
            report.file_errors[entry.source_file] = f"{entry.reason}: {entry.detail}"
            continue
        read = read_landing_file(entry.path)
        if read.error is not None:
            quarantine.append((entry.source_file, 0, read.error[0], read.error[1], "", None, None))
            report.files_rejected += 1
            report.file_errors[entry.source_file] = f"{read.error[0]}: {read.error[1]}"
            continue
        report.files_read += 1
        extra = [c for c in read.columns if c not in ITEM_COLUMNS]
        if extra:
            report.schema_drift[entry.source_file] = extra
        missing = "item_id" not in read.columns
        for row in read.rows:
            report.rows_read += 1
            try:
                if row.error is not None:
                    raise Rejected(*row.error)
                if missing:
                    raise Rejected(reasons.MISSING_COLUMNS, "file lacks the item_id column: whole file rejected")
                item = validate_item(row.values or {})
                if item[0] in seen:
                    raise Rejected(reasons.DUPLICATE_ITEM_ID, f"first seen in {seen[item[0]]}")
            except Rejected as rejected:
                quarantine.append((entry.source_file, row.source_row, rejected.reason, rejected.detail,
                                   row.raw_text(), None, None))
                continue
            seen[item[0]] = f"{entry.source_file} row {row.source_row}"
            accepted.append((*item, entry.source_file, row.source_row))
    quarantine.sort(key=lambda q: (q[0], q[1], q[2]))
    write_parquet_atomic(table_from_rows(accepted, ITEM_SCHEMA), items_path)
    write_parquet_atomic(table_from_rows(quarantine, QUARANTINE_SCHEMA), quarantine_path)
    report.accepted = len(accepted)
    report.quarantined = len(quarantine) - report.files_rejected
    report.reasons = Counter(q[2] for q in quarantine)
    return report
