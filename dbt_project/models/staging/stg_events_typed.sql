{{ config(materialized='ephemeral') }}
-- The lake's events typed and normalised, every row as the lake holds it (no dedupe): what stg_events
-- dedupes, and what its event_contract test reads (macros/event_contract_test.sql). Ephemeral: no
-- relation of its own and no Dagster asset; dbt inlines it as a CTE where it is referenced.
with source as (
    select * from {{ lake_source('events') }}
)

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
