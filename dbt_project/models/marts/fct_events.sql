-- One row per accepted event, incremental by event day. Dagster passes the partition window as
-- vars min_date / max_date; the pre-hook clears exactly that window and delete+insert (keyed on
-- event_date) refills it, so rerunning a day or a backfill range never duplicates and a day that
-- became empty (e.g. erased data) is emptied too.
{{ config(
    materialized='incremental',
    on_schema_change='append_new_columns',
    pre_hook="{% if is_incremental() %}{{ clear_partition_window(this, 'event_date') }}{% endif %}",
    **partition_config()
) }}

select
    event_id,
    ts,
    ts_unix,
    event_date,
    user_id,
    session_id,
    event_type,
    event_type_code,
    item_id,
    {{ adapter.quote('query') }},
    market,
    price,
    source_file,
    source_row,
    landed_date
from {{ ref('stg_events') }}
-- lake_date (the hive folder, = the event day) prunes files; event_date is the contract
where {{ partition_filter('lake_date') }} and {{ partition_filter('event_date') }}
order by event_date, ts, event_id
