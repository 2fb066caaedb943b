-- Time-based holdout: every user with history before the cutoff and an item event (not a search)
-- after it; the target is that user's first item event after the cutoff (ties by event_id).
-- target_new_item_idx is the first item after the cutoff the user had NOT touched before it (null
-- when every later item is a repeat): the target under the seen-excluded protocol, where the
-- ranking may not return history items. market: the user's most frequent market before the cutoff
-- (null when the events carry none); the gate reports per market. target_query: the query of the
-- search right before the target (the event just before it after the cutoff), null otherwise: the
-- search read-out's label (the item that came right after a search).
with events as (
    select e.*, coalesce(v.item_idx, 0) as item_idx
    from {{ ref('int_window_events') }} as e
    left join {{ ref('item_vocab') }} as v on v.item_id = e.item_id
),

after_cutoff as (
    select
        *,
        lag(event_type) over (partition by user_id order by ts, event_id) as previous_type,
        lag({{ adapter.quote('query') }}) over (partition by user_id order by ts, event_id) as previous_query
    from events
    where not before_cutoff
),

targets as (
    select
        user_id,
        cast(item_idx as integer) as target_item_idx,
        item_id as target_item_id,
        cast(ts_unix as bigint) as target_ts,
        case when previous_type = 'search' and trim(coalesce(previous_query, '')) <> ''
             then previous_query end as target_query
    from after_cutoff
    where item_id is not null
      and event_type <> 'search'
    qualify row_number() over (partition by user_id order by ts, event_id) = 1
),

seen as (
    select distinct user_id, item_id
    from events
    where before_cutoff and item_id is not null
),

new_targets as (
    select
        e.user_id,
        cast(e.item_idx as integer) as target_new_item_idx
    from events as e
    anti join seen as s on s.user_id = e.user_id and s.item_id = e.item_id
    where not e.before_cutoff
      and e.item_id is not null
      and e.event_type <> 'search'
    qualify row_number() over (partition by e.user_id order by e.ts, e.event_id) = 1
),

markets as (
    select e.user_id, f.market, count(*) as n
    from {{ ref('int_window_events') }} as e
    inner join {{ ref('fct_events') }} as f on f.event_id = e.event_id
    where e.before_cutoff and f.market is not null
    group by e.user_id, f.market
),

main_market as (
    select user_id, market
    from markets
    qualify row_number() over (partition by user_id order by n desc, market) = 1
)

select
    s.user_id,
    s.item_idx,
    s.event_type,
    s.ts,
    s.{{ adapter.quote('query') }},
    t.target_item_idx,
    t.target_item_id,
    t.target_ts,
    t.target_query,
    n.target_new_item_idx,
    m.market
from {{ ref('user_sequences') }} as s
inner join targets as t on t.user_id = s.user_id
left join new_targets as n on n.user_id = s.user_id
left join main_market as m on m.user_id = s.user_id
order by s.user_id
