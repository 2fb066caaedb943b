"""Ingest landing days: landing files -> validated lake Parquet + quarantine, as set operations in DuckDB.

Pure of Dagster: paths and settings in, files and a :class:`DayReport` out. One in-memory DuckDB
connection per run (``memory_limit``, spilling to ``$COREBRAIN_HOME/tmp``) holds the day's staged
rows; each file is read batch by batch (``pipelines.ingest.scan``) and checked by one query
(``pipelines.ingest.checks_sql``), so memory follows the batch, not the file. Then, in SQL: the
first copy of an event_id wins within the day (file name, row), then against earlier landing days
(the lake), and D's files are rewritten. Every data row read is either accepted or quarantined
(``rows_read == accepted + quarantined``); a file that cannot be read at all, or fails half way, is
one quarantine entry (``source_row = 0``, ``files_rejected``) and nothing of it is kept.

Files still being written are not read: one modified less than ``min_file_age_s`` ago, or whose
size or modification time changed while it was read, is left for the next run (``files_left``).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.ingest import reasons
from pipelines.ingest.checks_sql import MAX_RAW_CHARS, sql_params, validation_sql
from pipelines.ingest.contract import EVENT_COLUMNS, REQUIRED_COLUMNS, IngestSettings
from pipelines.ingest.lake import (
    EVENT_SCHEMA,
    QUARANTINE_SCHEMA,
    events_path,
    landed_event_files,
    quarantine_path,
    remove_stale_landing_day_files,
    remove_stale_temp_files,
    write_parquet_stream_atomic,
)
from pipelines.ingest.landing import list_landing_folder
from pipelines.ingest.report import DayReport
from pipelines.ingest.scan import FileRejected, Scanner, open_scanner
from pipelines.ingest.validate import Rejected, best_effort_user_id, validate_row

__all__ = ["DayReport", "IngestSession", "ingest_landing_day", "ingest_landing_days"]

OUT_BATCH_ROWS = 100_000
OUR_SQL_ERRORS = (duckdb.BinderException, duckdb.ParserException, duckdb.CatalogException)
ROW_KEY = 1 << 40  # (file, row) as one BIGINT: file_idx * ROW_KEY + source_row
EVENT_FIELDS = ("event_id", "ts", "user_id", "session_id", "event_type", "item_id", "query", "market", "price")
STAGED_OK = """CREATE OR REPLACE TEMP TABLE ok (
    file_idx INTEGER, source_row BIGINT, raw_off BIGINT, raw_len BIGINT, event_id VARCHAR, ts TIMESTAMP,
    user_id VARCHAR, session_id VARCHAR, event_type VARCHAR, item_id VARCHAR, "query" VARCHAR,
    market VARCHAR, price DOUBLE)"""
STAGED_BAD = """CREATE OR REPLACE TEMP TABLE bad (
    file_idx INTEGER, source_row BIGINT, reason VARCHAR, detail VARCHAR, raw VARCHAR, user_id VARCHAR,
    read_error BOOLEAN, file_level BOOLEAN)"""
FIX_SCHEMA = pa.schema([
    ("idx", pa.int64()), ("reason", pa.string()), ("detail", pa.string()), ("raw", pa.string()),
    ("best_user_id", pa.string()), ("read_error", pa.bool_()),
    ("event_id", pa.string()), ("ts", pa.timestamp("us")), ("user_id", pa.string()),
    ("session_id", pa.string()), ("event_type", pa.string()), ("item_id", pa.string()),
    ("query", pa.string()), ("market", pa.string()), ("price", pa.float64()),
])


def _params(sql: str, params: dict) -> dict:
    """Only the parameters the statement names (DuckDB refuses extra ones)."""
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}


def validate_python(values: dict | None, error: tuple[str, str] | None, landing_day: date,
                    settings: IngestSettings) -> tuple[str | None, str | None, tuple | None]:
    """The residue path: the row-by-row rules on one row, never raising. (reason, detail, event)."""
    if error is not None:
        return error[0], error[1], None
    try:
        event = validate_row(values or {}, landing_day, settings)
    except Rejected as rejected:
        return rejected.reason, rejected.detail, None
    except RecursionError:
        return reasons.WRONG_TYPE, "a value nested too deeply", None
    except Exception as exc:  # noqa: BLE001 - a hostile value must never fail the day
        return reasons.WRONG_TYPE, f"unreadable value: {type(exc).__name__}: {exc}"[:300], None
    return None, None, tuple(event)


class IngestSession:
    """One DuckDB connection for a run of landing days (in order, so earlier days win the dedupe)."""

    def __init__(self, paths, settings: IngestSettings):
        self.paths = paths
        self.settings = settings
        self.tmp = paths.home / "tmp" / f"ingest-{os.getpid()}"
        self._seen_loaded = False

    def __enter__(self) -> IngestSession:
        self._clean_stale()
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(config={"threads": int(os.environ.get("COREBRAIN_DUCKDB_THREADS") or 2),
                                          "memory_limit": self.settings.memory_limit,
                                          "temp_directory": str(self.tmp), "preserve_insertion_order": False})
        return self

    def __exit__(self, *exc) -> None:
        self.con.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _clean_stale(self) -> None:
        """Temp files of a killed ingest: lake ``.*.tmp-PID`` files and DuckDB spill folders."""
        remove_stale_temp_files(self.paths.lake)
        spill = self.paths.home / "tmp"
        if spill.is_dir():
            for folder in spill.glob("ingest-*"):
                pid = folder.name.removeprefix("ingest-")
                if pid.isdigit() and int(pid) != os.getpid():
                    try:
                        os.kill(int(pid), 0)
                    except ProcessLookupError:
                        shutil.rmtree(folder, ignore_errors=True)
                    except PermissionError:
                        pass

    # ---------------------------------------------------------------- one day

    def ingest_day(self, landing_day: date) -> DayReport:
        paths, con = self.paths, self.con
        report = DayReport(landing_day=landing_day)
        folder = paths.landing_events / f"date={landing_day.isoformat()}"
        report.landing_folder_found = folder.exists()
        entries, report.hidden_files = list_landing_folder(folder, paths.landing)
        con.execute(STAGED_OK)
        con.execute(STAGED_BAD)
        files: list[tuple[int, str]] = []
        scanners: dict[int, Scanner] = {}
        params = sql_params(landing_day, self.settings)
        now = time.time()
        for file_idx, entry in enumerate(entries):
            files.append((file_idx, entry.source_file))
            if entry.path is None:
                self._file_level(report, file_idx, entry.source_file, entry.reason or reasons.UNSAFE_PATH,
                                 entry.detail or "")
                continue
            before = entry.path.stat()
            age = now - before.st_mtime
            if age < self.settings.min_file_age_s:
                report.files_left[entry.source_file] = (
                    f"modified {age:.1f} s ago (< min_file_age_s {self.settings.min_file_age_s:g}): "
                    f"may still be written; left for the next run")
                continue
            try:
                scanner = open_scanner(entry.path)
                rows = self._scan_file(file_idx, scanner, landing_day, params)
                if rows == 0:
                    raise FileRejected(reasons.EMPTY_FILE, "the file holds no data rows")
            except FileRejected as rejected:
                self._drop_file(file_idx)
                self._file_level(report, file_idx, entry.source_file, rejected.reason, rejected.detail)
                continue
            except OUR_SQL_ERRORS:
                raise  # a bug in our SQL, not in the file: never hide it as a corrupt file
            except Exception as exc:  # noqa: BLE001 - whatever a file does, it fails that file, not the day
                self._drop_file(file_idx)
                self._file_level(report, file_idx, entry.source_file, reasons.CORRUPT_FILE,
                                 f"unreadable: {type(exc).__name__}: {exc}"[:1000])
                continue
            after = entry.path.stat()
            if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                self._drop_file(file_idx)
                report.files_left[entry.source_file] = (
                    f"changed while being read ({before.st_size} -> {after.st_size} bytes): still being "
                    f"written? left for the next run")
                continue
            scanners[file_idx] = scanner
            report.files_read += 1
            report.rows_read += rows
            columns = list(scanner.columns)
            extra = [c for c in columns if c not in EVENT_COLUMNS]
            if extra:
                report.schema_drift[entry.source_file] = extra
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                self._reject_whole_file(report, file_idx, entry.source_file, missing, scanner)
        con.register("files", pa.table({"file_idx": pa.array([f[0] for f in files], pa.int32()),
                                        "source_file": pa.array([f[1] for f in files], pa.string())}))
        self._dedupe(landing_day, scanners)
        self._write(report, landing_day)
        con.unregister("files")
        return report

    def _file_level(self, report: DayReport, file_idx: int, source_file: str, reason: str, detail: str) -> None:
        self.con.execute("INSERT INTO bad VALUES (?, 0, ?, ?, '', NULL, TRUE, TRUE)", [file_idx, reason, detail])
        report.files_rejected += 1
        report.file_errors[source_file] = f"{reason}: {detail}"

    def _drop_file(self, file_idx: int) -> None:
        self.con.execute("DELETE FROM ok WHERE file_idx = ?", [file_idx])
        self.con.execute("DELETE FROM bad WHERE file_idx = ?", [file_idx])

    def _scan_file(self, file_idx: int, scanner: Scanner, landing_day: date, params: dict) -> int:
        """Stage one file's rows (accepted candidates in ``ok``, rejects in ``bad``); rows read.

        Through the scanner's whole-file fast path where it has one (DuckDB reads the file itself);
        when DuckDB refuses the file's values there (a string that is not UTF-8), nothing of it
        stays staged and the file goes through the scanner's batches, which decide row by row."""
        whole = scanner.whole_file_batch(self._duckdb_types(scanner.path))
        if whole is not None:
            try:
                return self._stage_batches(file_idx, scanner, [whole], landing_day, params)
            except OUR_SQL_ERRORS:
                raise  # a bug in our SQL, not in the file
            except duckdb.Error:  # DuckDB refused a value (not UTF-8, a ragged line, out of range)
                self._drop_file(file_idx)
        return self._stage_batches(file_idx, scanner, scanner.batches(), landing_day, params)

    def _duckdb_types(self, path: Path) -> dict[str, str]:
        """DuckDB's column types of a Parquet file (from its footer); {} for other formats."""
        if path.suffix.lower() != ".parquet":
            return {}
        quoted = str(path).replace("'", "''")
        try:
            return {name: type_ for name, type_, *_ in
                    self.con.sql(f"DESCRIBE SELECT * FROM read_parquet('{quoted}')").fetchall()}
        except OUR_SQL_ERRORS:
            raise
        except duckdb.Error:  # a footer DuckDB cannot read: no fast path, the Arrow reader decides
            return {}

    def _stage_batches(self, file_idx: int, scanner: Scanner, batches, landing_day: date, params: dict) -> int:
        con = self.con
        rows = 0
        for batch in batches:
            if batch.table is not None:
                con.register("batch_in", batch.table)
            normalised = batch.sql.replace("{name}", "batch_in")
            extra = ("keys",) if batch.has_keys else ()
            query = f"CREATE OR REPLACE TEMP TABLE res AS {validation_sql('(' + normalised + ')', extra)}"
            if batch.ordered:
                con.execute("SET preserve_insertion_order = true")
            try:
                con.execute(query, _params(query, params))
            finally:
                if batch.ordered:
                    con.execute("SET preserve_insertion_order = false")
                if batch.table is not None:
                    con.unregister("batch_in")
            rows += con.sql("SELECT count(*) FROM res").fetchall()[0][0]
            if batch.has_keys:
                keys = con.sql("SELECT k FROM (SELECT unnest(keys) AS k, source_row, generate_subscripts(keys, 1) AS pos "
                               "FROM res WHERE keys IS NOT NULL) GROUP BY k ORDER BY min([source_row, pos])").fetchall()
                scanner.columns.update(dict.fromkeys(k for (k,) in keys))
            self._resolve_in_python(batch, landing_day, file_idx)
            con.execute(f"""INSERT INTO ok SELECT {file_idx}, source_row, raw_off, raw_len, {', '.join(
                '"query"' if f == 'query' else f for f in EVENT_FIELDS)} FROM res WHERE NOT residue AND reason IS NULL""")
            con.execute(f"""INSERT INTO bad SELECT {file_idx}, source_row, reason, detail, raw, best_user_id, read_error,
                FALSE FROM res WHERE NOT residue AND reason IS NOT NULL""")
        return rows

    def _resolve_in_python(self, batch, landing_day: date, file_idx: int) -> None:
        """Residue rows (validated by the Python rules) and the raw text of rejected rows DuckDB has
        no text for (Parquet rows, rendered as JSON): computed for those rows only."""
        con = self.con
        residue = con.sql("SELECT idx, source_row, raw_off, raw_len FROM res WHERE residue ORDER BY idx").fetchall()
        need_raw = [i for (i,) in con.sql(
            "SELECT idx FROM res WHERE NOT residue AND reason IS NOT NULL AND raw IS NULL ORDER BY idx").fetchall()]
        if need_raw:
            raws = [raw[:MAX_RAW_CHARS] for _v, raw, _e in batch.rows(need_raw)]
            con.register("raws", pa.table({"idx": pa.array(need_raw, pa.int64()), "raw": pa.array(raws, pa.string())}))
            con.execute("UPDATE res SET raw = raws.raw FROM raws WHERE res.idx = raws.idx")
            con.unregister("raws")
        if not residue:
            return
        idxs = [r[0] for r in residue]
        fixed: list[tuple] = []
        for idx, (values, raw, error) in zip(idxs, batch.rows(idxs), strict=True):
            reason, detail, event = validate_python(values, error, landing_day, self.settings)
            user = best_effort_user_id(values) if values is not None else None
            fixed.append((idx, reason, detail, raw[:MAX_RAW_CHARS] if reason else None,
                          event[2] if event else user, error is not None, *(event or (None,) * 9)))
        table = pa.table([pa.array(col, type=f.type) for col, f in zip(zip(*fixed, strict=True), FIX_SCHEMA,
                                                                        strict=True)], schema=FIX_SCHEMA)
        con.register("fix", table)
        fields = ", ".join(f'f."{c}"' for c in EVENT_FIELDS)
        con.execute(f"""INSERT INTO ok SELECT {file_idx}, r.source_row, r.raw_off, r.raw_len, {fields}
            FROM fix f JOIN (SELECT idx, source_row, raw_off, raw_len FROM res WHERE residue) r USING (idx)
            WHERE f.reason IS NULL""")
        con.execute(f"""INSERT INTO bad SELECT {file_idx}, r.source_row, f.reason, f.detail, f.raw, f.best_user_id,
                f.read_error, FALSE
            FROM fix f JOIN (SELECT idx, source_row FROM res WHERE residue) r USING (idx) WHERE f.reason IS NOT NULL""")
        con.unregister("fix")

    def _reject_whole_file(self, report: DayReport, file_idx: int, source_file: str, missing: list[str],
                           scanner: Scanner) -> None:
        """MISSING_COLUMNS: every row of the file is quarantined (reader errors keep their reason)."""
        con = self.con
        detail = f"file lacks required columns {missing}: whole file rejected"
        moved = con.sql("SELECT source_row, raw_off, raw_len, user_id FROM ok WHERE file_idx = ? ORDER BY source_row",
                        params=[file_idx]).fetchall()
        if moved:
            raws = scanner.raw_at([(off, n) for _r, off, n, _u in moved])
            for (row, _off, _n, user), raw in zip(moved, raws, strict=True):
                con.execute("INSERT INTO bad VALUES (?, ?, ?, ?, ?, ?, FALSE, FALSE)",
                            [file_idx, row, reasons.MISSING_COLUMNS, detail, raw[:MAX_RAW_CHARS], user])
            con.execute("DELETE FROM ok WHERE file_idx = ?", [file_idx])
        con.execute("UPDATE bad SET reason = ?, detail = ? WHERE file_idx = ? AND NOT read_error",
                    [reasons.MISSING_COLUMNS, detail, file_idx])
        n = con.sql("SELECT count(*) FROM bad WHERE file_idx = ? AND reason = ?",
                    params=[file_idx, reasons.MISSING_COLUMNS]).fetchall()[0][0]
        report.file_errors[source_file] = (f"{reasons.MISSING_COLUMNS}: required columns {missing} absent; whole "
                                           f"file rejected ({n} rows quarantined)")

    # ---------------------------------------------------------------- dedupe and write

    def _dedupe(self, landing_day: date, scanners: dict[int, Scanner]) -> None:
        """First copy wins: within the day by (file, row), then against earlier landing days' lake files.

        Within the day an aggregate over the ids met more than once (most are unique: a hash
        aggregate, no sort of the day). Against earlier days the session's id index (``seen``)
        names the few earlier landing days that may hold one of the day's ids; only their files
        are read, for the exact match and where it was first seen."""
        con = self.con
        con.execute(f"""CREATE OR REPLACE TEMP TABLE firsts AS
            SELECT event_id, min(file_idx * {ROW_KEY} + source_row) AS first_key
            FROM ok GROUP BY event_id HAVING count(*) > 1""")
        con.execute(f"""CREATE OR REPLACE TEMP TABLE dups AS
            SELECT o.file_idx, o.source_row, o.raw_off, o.raw_len, o.user_id,
                   'first seen in ' || f.source_file || ' row ' || (m.first_key % {ROW_KEY}) AS detail
            FROM ok o JOIN firsts m USING (event_id) JOIN files f ON f.file_idx = m.first_key // {ROW_KEY}
            WHERE o.file_idx * {ROW_KEY} + o.source_row <> m.first_key""")
        con.execute("DROP TABLE firsts")
        earlier = self._files_of(self._landed_matching("ok", "<", landing_day))
        if earlier:
            con.execute("""INSERT INTO dups
                SELECT r.file_idx, r.source_row, r.raw_off, r.raw_len, r.user_id,
                       'first seen in an earlier landing day: ' || p.first_seen
                FROM (SELECT * FROM ok ANTI JOIN dups USING (file_idx, source_row)) r JOIN (
                    SELECT event_id, arg_min(source_file || ' row ' || source_row,
                                             source_file || lpad(CAST(source_row AS VARCHAR), 20, '0')) AS first_seen
                    FROM read_parquet($files, union_by_name = true)
                    WHERE event_id IN (SELECT event_id FROM ok)
                    GROUP BY event_id) p ON p.event_id = r.event_id""", {"files": earlier})
        found = con.sql("SELECT file_idx, raw_off, raw_len, source_row FROM dups ORDER BY file_idx, source_row").fetchall()
        if found:
            raws: list[str] = []
            by_file: dict[int, list[tuple[int, int]]] = {}
            for file_idx, off, n, _row in found:
                by_file.setdefault(file_idx, []).append((off, n))
            for file_idx in sorted(by_file):
                raws += [raw[:MAX_RAW_CHARS] for raw in scanners[file_idx].raw_at(by_file[file_idx])]
            con.register("dup_raw", pa.table({"file_idx": pa.array([f[0] for f in found], pa.int32()),
                                              "source_row": pa.array([f[3] for f in found], pa.int64()),
                                              "raw": pa.array(raws, pa.string())}))
            con.execute(f"""INSERT INTO bad SELECT d.file_idx, d.source_row, '{reasons.DUPLICATE_EVENT_ID}', d.detail,
                    x.raw, d.user_id, FALSE, FALSE
                FROM dups d JOIN dup_raw x USING (file_idx, source_row)""")
            con.unregister("dup_raw")
        con.execute("""CREATE OR REPLACE TEMP TABLE accepted AS
            SELECT o.*, CAST(o.ts AS DATE) AS event_day FROM ok o ANTI JOIN dups d USING (file_idx, source_row)""")

    # ---------------------------------------------------------------- the id index

    def _ensure_seen(self) -> None:
        """``seen (h, landed)``: a hash of every event_id in the lake and its landing day, read once
        per session (not once per day of a backfill) and kept current as days are written. A
        superset is safe (a hash only names files to read), so erased rows may stay in it."""
        if self._seen_loaded:
            return
        self.con.execute("CREATE OR REPLACE TEMP TABLE seen (h UBIGINT, landed DATE)")
        files = [str(p) for _day, _landed, p in landed_event_files(self.paths.lake_events)]
        if files:
            self.con.execute(r"""INSERT INTO seen SELECT hash(event_id),
                    CAST(regexp_extract(filename, 'landed=(\d{4}-\d{2}-\d{2})\.parquet$', 1) AS DATE)
                FROM read_parquet($files, filename = true)""", {"files": files})
        self._seen_loaded = True

    def _landed_matching(self, table: str, op: str, landing_day: date) -> set[date]:
        """Landing days (before or after ``landing_day``) whose lake may hold an event_id of ``table``."""
        self._ensure_seen()
        rows = self.con.sql(f"""SELECT DISTINCT s.landed FROM seen s
            SEMI JOIN (SELECT hash(event_id) AS h FROM {table}) t ON t.h = s.h
            WHERE s.landed {op} $day""", params={"day": landing_day}).fetchall()
        return {landed for (landed,) in rows}

    def _files_of(self, landed_days: set[date]) -> list[str]:
        if not landed_days:
            return []
        return [str(p) for _day, landed, p in landed_event_files(self.paths.lake_events) if landed in landed_days]

    def _write(self, report: DayReport, landing_day: date) -> None:
        con, paths = self.con, self.paths
        days = con.sql("SELECT event_day, count(*) FROM accepted GROUP BY event_day ORDER BY event_day").fetchall()
        written: list[Path] = []
        fields = ", ".join(f'a."{c}"' for c in EVENT_FIELDS)
        for event_day, _n in days:
            path = events_path(paths.lake_events, event_day, landing_day)
            reader = con.sql(f"""SELECT {fields}, f.source_file, a.source_row FROM accepted a
                JOIN files f ON f.file_idx = a.file_idx WHERE a.event_day = $day
                ORDER BY a.file_idx, a.source_row""", params={"day": event_day}).to_arrow_reader(OUT_BATCH_ROWS)
            write_parquet_stream_atomic(reader, EVENT_SCHEMA, path)
            written.append(path)
        q_path = quarantine_path(paths.lake_quarantine, landing_day)
        reader = con.sql("""SELECT f.source_file, b.source_row, b.reason, b.detail, b.raw, $day AS landing_date,
                b.user_id FROM bad b JOIN files f ON f.file_idx = b.file_idx
            ORDER BY f.source_file, b.source_row, b.reason""", params={"day": landing_day}).to_arrow_reader(OUT_BATCH_ROWS)
        write_parquet_stream_atomic(reader, QUARANTINE_SCHEMA, q_path)
        written.append(q_path)
        remove_stale_landing_day_files(paths.lake_events, landing_day, set(written))
        counts = con.sql("SELECT reason, count(*), count(*) FILTER (WHERE NOT file_level) FROM bad GROUP BY reason").fetchall()
        report.reasons = Counter({reason: n for reason, n, _rows in counts})
        report.quarantined = sum(rows for _reason, _n, rows in counts)
        report.accepted = sum(n for _d, n in days)
        report.event_days = {d.isoformat(): n for d, n in days}
        report.written = [paths.state_name(p) for p in written]
        report.later_duplicates = self._later_duplicates(landing_day)
        self._ensure_seen()
        con.execute("DELETE FROM seen WHERE landed = $day", {"day": landing_day})
        con.execute("INSERT INTO seen SELECT hash(event_id), $day FROM accepted", {"day": landing_day})
        con.execute("DROP TABLE accepted")

    def _later_duplicates(self, landing_day: date) -> dict[str, dict[str, int]]:
        """{later landing day L: {event day E: rows}}: lake rows of landing days after D whose event_id
        D has just accepted. Only possible when D is ingested after L (out of order, or D re-delivered
        with new content); then D's copy is the first one and L must be re-ingested to drop its copy."""
        maybe = self._landed_matching("accepted", ">", landing_day)
        later = {str(p): (day.isoformat(), landed.isoformat())
                 for day, landed, p in landed_event_files(self.paths.lake_events) if landed in maybe}
        if not later:
            return {}
        found = self.con.sql("""SELECT filename, count(*) FROM read_parquet($files, filename = true)
            WHERE event_id IN (SELECT event_id FROM accepted) GROUP BY filename""",
                             params={"files": list(later)}).fetchall()
        out: dict[str, dict[str, int]] = {}
        for filename, n in found:
            event_day, landed = later[filename]
            out.setdefault(landed, {})[event_day] = n
        return {landed: dict(sorted(days.items())) for landed, days in sorted(out.items())}


def ingest_landing_days(paths, days: list[date], settings: IngestSettings,
                        reingested: list[DayReport] | None = None) -> list[DayReport]:
    """Days in order, so that within one backfill run earlier days win the dedupe.

    A day ingested after a later one (out of order) can hold the first copy of an event that the
    later day's lake files hold too: each such later day (outside ``days``) is then re-ingested from
    its landing files, in order, so that its copy becomes ``DUPLICATE_EVENT_ID`` exactly as if the
    days had come in order. Their reports are appended to ``reingested`` when given. A later day
    whose landing folder is gone cannot be re-read: it is left as it is, listed in the causing
    day's ``later_duplicates_unresolved`` (``stg_events`` still keeps one copy per lake day)."""
    requested = sorted(set(days))
    with IngestSession(paths, settings) as session:
        reports = [session.ingest_day(day) for day in requested]
        pending = {d for r in reports for d in r.later_duplicates} - {d.isoformat() for d in requested}
        done: set[str] = set()
        by_day = {r.landing_day.isoformat(): r for r in reports}
        while pending:
            later = min(pending)
            pending.discard(later)
            done.add(later)
            folder = paths.landing_events / f"date={later}"
            entries, _hidden = list_landing_folder(folder, paths.landing)
            if not entries:
                for report in by_day.values():
                    if later in report.later_duplicates:
                        report.later_duplicates_unresolved.append(later)
                continue
            report = session.ingest_day(date.fromisoformat(later))
            report.reingested_for_dedupe = True
            by_day[later] = report
            if reingested is not None:
                reingested.append(report)
            pending |= set(report.later_duplicates) - done - {d.isoformat() for d in requested}
        return reports


def ingest_landing_day(paths, landing_day: date, settings: IngestSettings) -> DayReport:
    """Read ``landing/events/date=D/``, validate, dedupe, and rewrite D's lake and quarantine files."""
    return ingest_landing_days(paths, [landing_day], settings)[0]
