-- One row per user: the user's events before the holdout cutoff, in time order (ties by event_id),
-- as parallel lists (contracts.md section 3, train shards). item_idx: the vocabulary index, 0 = no item.
with events as (
    select e.*, coalesce(v.item_idx, 0) as item_idx
    from {{ ref('int_window_events') }} as e
    left join {{ ref('item_vocab') }} as v on v.item_id = e.item_id
    where e.before_cutoff
)

select
    user_id,
    {{ ordered_list('cast(item_idx as integer)', ['ts', 'event_id']) }} as item_idx,
    {{ ordered_list('cast(event_type_code as tinyint)', ['ts', 'event_id']) }} as event_type,
    {{ ordered_list('cast(ts_unix as bigint)', ['ts', 'event_id']) }} as ts,
    {{ ordered_list(adapter.quote('query'), ['ts', 'event_id']) }} as {{ adapter.quote('query') }},
    count(*) as n_events
from events
group by user_id
order by user_id
