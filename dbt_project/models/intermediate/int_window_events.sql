-- Events of the training window with their event-type code, marked before or after the holdout
-- cutoff. Searches keep their query; every other event's query is null. market is carried so the
-- holdout's per-user market needs no join back to fct_events. The vocabulary index is joined in the
-- marts (item_vocab is a mart: intermediate models never read marts).
select
    e.user_id,
    e.event_id,
    e.ts,
    e.ts_unix,
    e.event_type,
    e.event_type_code,
    e.item_id,
    case when e.event_type = 'search' then e.{{ adapter.quote('query') }} end as {{ adapter.quote('query') }},
    e.market,
    e.ts < w.holdout_cutoff as before_cutoff
from {{ ref('fct_events') }} as e
cross join {{ ref('int_training_window') }} as w
where e.event_date between w.window_start and w.window_end
  and e.event_type_code is not null
