-- Time-based holdout: every user with history before the cutoff and an item event (not a search)
-- after it; the target is that user's first item event after the cutoff (ties by event_id).
with targets as (
    select
        user_id,
        cast(item_idx as integer) as target_item_idx,
        item_id as target_item_id,
        cast(ts_unix as bigint) as target_ts
    from {{ ref('int_window_events') }}
    where not before_cutoff
      and item_id is not null
      and event_type <> 'search'
    qualify row_number() over (partition by user_id order by ts, event_id) = 1
)

select
    s.user_id,
    s.item_idx,
    s.event_type,
    s.ts,
    s."query",
    t.target_item_idx,
    t.target_item_id,
    t.target_ts
from {{ ref('user_sequences') }} as s
inner join targets as t on t.user_id = s.user_id
order by s.user_id
