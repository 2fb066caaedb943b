"""Reason codes for quarantined landing rows (event contract v1).

Every rejected row lands in ``lake/quarantine/landed=<day>.parquet`` with one of these codes in its
``reason`` column. They are plain strings so that the simulator, dbt tests and humans can use them
without importing anything. A code never changes meaning; new ones are only appended.
"""

from __future__ import annotations

# --- row-level: identity -------------------------------------------------------------------------
MISSING_EVENT_ID = "MISSING_EVENT_ID"          # event_id is null, empty or only whitespace
MISSING_USER_ID = "MISSING_USER_ID"            # user_id is null, empty or only whitespace
DUPLICATE_EVENT_ID = "DUPLICATE_EVENT_ID"      # event_id seen before (same file, other file, earlier landing day); first wins

# --- row-level: time ----------------------------------------------------------------------------
MISSING_TS = "MISSING_TS"                      # ts is null or empty
BAD_TS = "BAD_TS"                              # ts cannot be parsed as an ISO-8601 / Parquet timestamp
TS_IN_FUTURE = "TS_IN_FUTURE"                  # ts later than the end of the landing day plus the allowed skew
TS_BEFORE_FLOOR = "TS_BEFORE_FLOOR"            # ts earlier than the configured floor (default 2000-01-01)

# --- row-level: event semantics -----------------------------------------------------------------
MISSING_EVENT_TYPE = "MISSING_EVENT_TYPE"      # event_type is null or empty
UNKNOWN_EVENT_TYPE = "UNKNOWN_EVENT_TYPE"      # event_type not one of view, search, add_to_cart, purchase
MISSING_ITEM_ID = "MISSING_ITEM_ID"            # an item event (view, add_to_cart, purchase) or an item row without item_id
MISSING_QUERY = "MISSING_QUERY"                # a search event without a (non-empty) query
DUPLICATE_ITEM_ID = "DUPLICATE_ITEM_ID"        # catalogue: item_id already delivered in an earlier file or row; first wins

# --- row-level: values --------------------------------------------------------------------------
STRING_TOO_LONG = "STRING_TOO_LONG"            # an id over 128 chars, a query over 512, any other string over 4096
INVALID_UTF8 = "INVALID_UTF8"                  # a text value (or a CSV/JSONL line) is not valid UTF-8
WRONG_TYPE = "WRONG_TYPE"                      # a value of the wrong type (e.g. price not a number, an id that is a list)

# --- line-level (JSONL) -------------------------------------------------------------------------
BROKEN_JSON_LINE = "BROKEN_JSON_LINE"          # a JSONL line that is not valid JSON, or not a JSON object
BROKEN_CSV_ROW = "BROKEN_CSV_ROW"              # a CSV row with a different number of fields than the header

# --- file-level (source_row = 0 unless stated) --------------------------------------------------
EMPTY_FILE = "EMPTY_FILE"                      # a file with no bytes or no rows (one quarantine row, counts as 0 rows read)
CORRUPT_FILE = "CORRUPT_FILE"                  # a truncated or corrupt Parquet file, or unreadable file (one quarantine row)
MISSING_COLUMNS = "MISSING_COLUMNS"            # required columns absent: the whole file is rejected, one quarantine row per data row
UNSAFE_PATH = "UNSAFE_PATH"                    # a file name that escapes the landing folder (symlink, '..', odd characters): not read
UNSUPPORTED_FILE = "UNSUPPORTED_FILE"          # a file whose extension is not .parquet, .jsonl, .json or .csv: not read
DUPLICATE_COLUMNS = "DUPLICATE_COLUMNS"        # a CSV header or Parquet schema names a column twice: which value is meant is ambiguous (one quarantine row)

ALL_REASONS: tuple[str, ...] = (
    MISSING_EVENT_ID, MISSING_USER_ID, DUPLICATE_EVENT_ID,
    MISSING_TS, BAD_TS, TS_IN_FUTURE, TS_BEFORE_FLOOR,
    MISSING_EVENT_TYPE, UNKNOWN_EVENT_TYPE, MISSING_ITEM_ID, MISSING_QUERY, DUPLICATE_ITEM_ID,
    STRING_TOO_LONG, INVALID_UTF8, WRONG_TYPE,
    BROKEN_JSON_LINE, BROKEN_CSV_ROW,
    EMPTY_FILE, CORRUPT_FILE, MISSING_COLUMNS, UNSAFE_PATH, UNSUPPORTED_FILE, DUPLICATE_COLUMNS,
)

# File-level codes describe a whole file, not a data row: their quarantine row has ``source_row = 0``
# and they are counted as ``files_rejected``, not as rows read (the file's rows cannot be counted).
FILE_LEVEL_REASONS: frozenset[str] = frozenset({EMPTY_FILE, CORRUPT_FILE, UNSAFE_PATH, UNSUPPORTED_FILE,
                                                DUPLICATE_COLUMNS})
