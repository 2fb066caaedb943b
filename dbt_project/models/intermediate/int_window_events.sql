-- Events of the training window with their vocabulary index and event-type code, marked before or
-- after the holdout cutoff. Searches keep their query; every other event's query is null.
select
    e.user_id,
    e.event_id,
    e.ts,
    e.ts_unix,
    e.event_type,
    e.event_type_code,
    e.item_id,
    coalesce(v.item_idx, 0) as item_idx,
    case when e.event_type = 'search' then e."query" end as "query",
    e.ts < w.holdout_cutoff as before_cutoff
from {{ ref('fct_events') }} as e
cross join {{ ref('training_window') }} as w
left join {{ ref('item_vocab') }} as v on v.item_id = e.item_id
where e.event_date between w.window_start and w.window_end
  and e.event_type_code is not null
