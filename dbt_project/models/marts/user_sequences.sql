-- One row per user: the user's events before the holdout cutoff, in time order (ties by event_id),
-- as parallel lists (contracts.md section 3, train shards).
select
    user_id,
    list(cast(item_idx as integer) order by ts, event_id) as item_idx,
    list(cast(event_type_code as tinyint) order by ts, event_id) as event_type,
    list(cast(ts_unix as bigint) order by ts, event_id) as ts,
    list("query" order by ts, event_id) as "query",
    count(*) as n_events
from {{ ref('int_window_events') }}
where before_cutoff
group by user_id
order by user_id
