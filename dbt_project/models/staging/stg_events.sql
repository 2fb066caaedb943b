-- Accepted lake events, typed and normalised, one row per event_id within a lake day (ingest already
-- dedupes across landing days, first copy wins; this keeps the marts safe if a landing day is
-- rewritten under another name). The dedupe is partitioned by the lake's hive day too, so that a
-- filter on `lake_date` (fct_events passes its partition window) prunes Parquet files below the
-- window function: a nightly run reads its day, not the whole history.
with source as (
    select * from {{ lake_source('events') }}
),

typed as (
    select
        trim(event_id) as event_id,
        ts,
        trim(user_id) as user_id,
        nullif(trim(session_id), '') as session_id,
        lower(trim(event_type)) as event_type,
        nullif(trim(item_id), '') as item_id,
        nullif({{ regexp_replace_all('trim(' ~ adapter.quote('query') ~ ')', '\s+', ' ') }}, '') as {{ adapter.quote('query') }},
        nullif(lower(trim(market)), '') as market,
        price,
        source_file,
        source_row,
        {{ adapter.quote('date') }} as lake_date,
        regexp_extract(filename, 'landed=([0-9]{4}-[0-9]{2}-[0-9]{2})', 1) as landed_date
    from source
)

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
from typed
qualify row_number() over (
    partition by lake_date, event_id order by landed_date, source_file, source_row, ts
) = 1
