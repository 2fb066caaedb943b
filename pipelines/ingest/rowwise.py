"""The first ingest path, row by row in Python: kept as the benchmark baseline and the reference the
DuckDB path (``pipelines.ingest.day``) is tested against. Not used by the pipeline.

Pure of Dagster: paths and settings in, files and a :class:`DayReport` out. Every data row read is
either accepted or quarantined (``rows_read == accepted + quarantined``); files that cannot be read
at all are one quarantine entry each (``source_row = 0``) and counted as ``files_rejected``.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from pipelines.ingest import reasons
from pipelines.ingest.contract import EVENT_COLUMNS, REQUIRED_COLUMNS, IngestSettings
from pipelines.ingest.dedupe import earlier_event_files, prior_event_ids
from pipelines.ingest.lake import EVENT_SCHEMA, QUARANTINE_SCHEMA, replace_landing_day, table_from_rows
from pipelines.ingest.landing import list_landing_folder
from pipelines.ingest.readers import FileStream, RawRow, open_landing_file
from pipelines.ingest.report import DayReport
from pipelines.ingest.validate import Event, Rejected, best_effort_user_id, validate_row
from pipelines.settings import CorebrainPaths

MAX_RAW_CHARS = 1_000_000


def _quarantine_row(source_file: str, row: int, reason: str, detail: str, raw: str, landing_day: date,
                    user_id: str | None) -> tuple:
    return (source_file, row, reason, detail, raw[:MAX_RAW_CHARS], landing_day, user_id)


def ingest_landing_day(paths: CorebrainPaths, landing_day: date, settings: IngestSettings) -> DayReport:
    """Read ``landing/events/date=D/``, validate, dedupe, and rewrite D's lake and quarantine files."""
    report = DayReport(landing_day=landing_day)
    folder = paths.landing_events / f"date={landing_day.isoformat()}"
    report.landing_folder_found = folder.exists()
    entries, report.hidden_files = list_landing_folder(folder, paths.landing)
    quarantine: list[tuple] = []
    candidates: list[tuple[Event, str, int, RawRow]] = []

    def reject(source_file: str, row: RawRow, reason: str, detail: str, user_id: str | None = None) -> None:
        quarantine.append(_quarantine_row(source_file, row.source_row, reason, detail, row.raw_text(),
                                          landing_day, user_id or best_effort_user_id(row.values)))

    for entry in entries:
        if entry.path is None:
            quarantine.append(_quarantine_row(entry.source_file, 0, entry.reason or reasons.UNSAFE_PATH,
                                              entry.detail or "", "", landing_day, None))
            report.files_rejected += 1
            report.file_errors[entry.source_file] = f"{entry.reason}: {entry.detail}"
            continue
        stream = open_landing_file(entry.path)
        if stream.error is not None:
            reason, detail = stream.error
            quarantine.append(_quarantine_row(entry.source_file, 0, reason, detail, "", landing_day, None))
            report.files_rejected += 1
            report.file_errors[entry.source_file] = f"{reason}: {detail}"
            continue
        report.files_read += 1
        candidates.extend(_validate_file(entry.source_file, stream, landing_day, settings, report, reject))

    accepted = _dedupe(paths, landing_day, candidates, reject)
    by_day: dict[date, list[tuple]] = {}
    for event, source_file, source_row, _row in accepted:
        by_day.setdefault(event.ts.date(), []).append(
            (event.event_id, event.ts, event.user_id, event.session_id, event.event_type, event.item_id,
             event.query, event.market, event.price, source_file, source_row))
    quarantine.sort(key=lambda q: (q[0], q[1], q[2]))
    written = replace_landing_day(
        paths.lake_events, paths.lake_quarantine, landing_day,
        {day: table_from_rows(rows, EVENT_SCHEMA) for day, rows in by_day.items()},
        table_from_rows(quarantine, QUARANTINE_SCHEMA))
    report.accepted = len(accepted)
    report.quarantined = len(quarantine) - report.files_rejected
    report.reasons = Counter(q[2] for q in quarantine)
    report.event_days = {day.isoformat(): len(rows) for day, rows in sorted(by_day.items())}
    report.written = [paths.state_name(p) for p in written]
    return report


def _validate_file(source_file: str, stream: FileStream, landing_day: date, settings: IngestSettings,
                   report: DayReport, reject) -> list[tuple[Event, str, int, RawRow]]:
    """Validate one readable file's rows; returns its accepted candidates (before dedupe).

    Rejections go through ``reject`` once the file is fully read: a file found to lack a required
    column is then rejected whole (MISSING_COLUMNS), so nothing of it is half-loaded.
    """
    file_rejects: list[tuple[RawRow, str, str, str | None]] = []
    file_candidates: list[tuple[Event, str, int, RawRow]] = []
    for row in stream.rows:
        report.rows_read += 1
        if row.error is not None:
            reject(source_file, row, *row.error)
            continue
        # keep the row's text (or, for Parquet, its values) only: the parsed dict is dropped
        slim = RawRow(row.source_row, None if row.raw is not None else row.values, row.raw)
        try:
            event = validate_row(row.values or {}, landing_day, settings)
        except Rejected as rejected:
            file_rejects.append((slim, rejected.reason, rejected.detail, best_effort_user_id(row.values)))
        else:
            file_candidates.append((event, source_file, row.source_row, slim))
    # the columns are known once the file is read (JSON Lines has no header)
    columns = stream.columns
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    extra = [c for c in columns if c not in EVENT_COLUMNS]
    if extra:
        report.schema_drift[source_file] = extra
    if missing:
        detail = f"file lacks required columns {missing}: whole file rejected"
        file_rejects = [(slim, reasons.MISSING_COLUMNS, detail, uid) for slim, _r, _d, uid in file_rejects]
        file_rejects += [(slim, reasons.MISSING_COLUMNS, detail, event.user_id)
                         for event, _f, _n, slim in file_candidates]
        file_candidates = []
        report.file_errors[source_file] = (
            f"{reasons.MISSING_COLUMNS}: required columns {missing} absent; whole file rejected "
            f"({len(file_rejects)} rows quarantined)")
    for slim, reason, detail, uid in file_rejects:
        reject(source_file, slim, reason, detail, uid)
    return file_candidates


def _dedupe(paths: CorebrainPaths, landing_day: date, candidates: list[tuple], reject) -> list[tuple]:
    """First copy wins within the day (file name, row), then against earlier landing days."""
    seen: dict[str, tuple[str, int]] = {}
    firsts: list[tuple] = []
    for candidate in candidates:
        event, source_file, source_row, row = candidate
        first = seen.get(event.event_id)
        if first is not None:
            reject(source_file, row, reasons.DUPLICATE_EVENT_ID, f"first seen in {first[0]} row {first[1]}",
                   event.user_id)
        else:
            seen[event.event_id] = (source_file, source_row)
            firsts.append(candidate)
    prior = prior_event_ids(earlier_event_files(paths.lake_events, landing_day),
                            [c[0].event_id for c in firsts])
    if not prior:
        return firsts
    kept = []
    for candidate in firsts:
        event, source_file, _source_row, row = candidate
        if event.event_id in prior:
            reject(source_file, row, reasons.DUPLICATE_EVENT_ID,
                   f"first seen in an earlier landing day: {prior[event.event_id]}", event.user_id)
        else:
            kept.append(candidate)
    return kept


def ingest_landing_days(paths: CorebrainPaths, days: list[date], settings: IngestSettings) -> list[DayReport]:
    """Days in order, so that within one backfill run earlier days win the dedupe."""
    return [ingest_landing_day(paths, day, settings) for day in sorted(set(days))]
