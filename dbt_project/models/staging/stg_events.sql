-- Accepted lake events, typed and normalised, one row per event_id within a lake day (ingest already
-- dedupes across landing days, first copy wins; this keeps the marts safe if a landing day is
-- rewritten under another name). The dedupe is partitioned by the lake's hive day too, so that a
-- filter on `lake_date` (fct_events passes its partition window) prunes Parquet files below the
-- window function: a nightly run reads its day, not the whole history.
select
    event_id,
    ts,
    {{ epoch_seconds('ts') }} as ts_unix,
    cast(ts as date) as event_date,
    user_id,
    session_id,
    event_type,
    cast({{ event_type_code('event_type') }} as tinyint) as event_type_code,
    item_id,
    {{ adapter.quote('query') }},
    market,
    price,
    source_file,
    source_row,
    lake_date,
    nullif(landed_date, '') as landed_date
-- the lake's rows typed and normalised (an ephemeral model, inlined here)
from {{ ref('stg_events_typed') }} as typed
qualify row_number() over (
    partition by lake_date, event_id order by landed_date, source_file, source_row, ts
) = 1
