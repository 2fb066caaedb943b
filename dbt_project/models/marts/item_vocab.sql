-- The item vocabulary: append-only, so an item_idx never changes meaning. An item gets the next
-- index (from 1) the first time it is seen; new items of one run are numbered by first-seen ts,
-- then item_id. full_refresh is off: `dbt build --full-refresh` keeps the existing ids.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='fail'
) }}

with seen as (
    select item_id, min(ts) as first_seen_ts
    from {{ ref('fct_events') }}
    where item_id is not null
    group by item_id
),

{% if is_incremental() %}
existing as (
    select item_id from {{ this }}
),

base as (
    select coalesce(max(item_idx), 0) as max_idx from {{ this }}
),
{% else %}
existing as (
    select cast(null as {{ col_type('varchar') }}) as item_id where false
),

base as (
    select 0 as max_idx
),
{% endif %}

new_items as (
    select seen.item_id, seen.first_seen_ts
    from seen
    where not exists (select 1 from existing where existing.item_id = seen.item_id)
)

select
    cast(base.max_idx + row_number() over (order by new_items.first_seen_ts, new_items.item_id) as integer)
        as item_idx,
    new_items.item_id,
    new_items.first_seen_ts
from new_items
cross join base
order by item_idx
