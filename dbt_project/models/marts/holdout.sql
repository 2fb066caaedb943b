-- Time-based holdout: every user with history before the cutoff and an item event (not a search)
-- after it; the target is that user's first item event after the cutoff (ties by event_id).
-- target_new_item_idx is the first item after the cutoff the user had NOT touched before it (null
-- when every later item is a repeat): the target under the seen-excluded protocol, where the
-- ranking may not return history items. market: the user's most frequent market before the cutoff
-- (null when the events carry none); the gate reports per market. target_query: the query of the
-- search right before the target (the event just before it after the cutoff), null otherwise: the
-- search read-out's label (the item that came right after a search).
--
-- Cost: the window's history (every event before the cutoff) is read twice, each time by one
-- streaming pass: once probing the few (user, item) pairs seen after the cutoff (a user's history
-- is never deduplicated as a whole) and once counting markets per user (int_window_events carries
-- the market: no join back to fct_events). Only the events after the cutoff are sorted per user
-- and joined to the vocabulary.
with after_cutoff as (
    select
        user_id,
        event_id,
        ts,
        ts_unix,
        event_type,
        item_id,
        lag(event_type) over (partition by user_id order by ts, event_id) as previous_type,
        lag({{ adapter.quote('query') }}) over (partition by user_id order by ts, event_id) as previous_query
    from {{ ref('int_window_events') }}
    where not before_cutoff
),

item_events as (
    -- the candidates: item events (not searches) after the cutoff, with their vocabulary index
    select a.*, coalesce(v.item_idx, 0) as item_idx
    from after_cutoff as a
    left join {{ ref('item_vocab') }} as v on v.item_id = a.item_id
    where a.item_id is not null
      and a.event_type <> 'search'
),

targets as (
    select
        user_id,
        cast(item_idx as integer) as target_item_idx,
        item_id as target_item_id,
        cast(ts_unix as bigint) as target_ts,
        case when previous_type = 'search' and trim(coalesce(previous_query, '')) <> ''
             then previous_query end as target_query
    from item_events
    qualify row_number() over (partition by user_id order by ts, event_id) = 1
),

seen as (
    -- the candidates' (user, item) pairs the user also touched before the cutoff
    select distinct h.user_id, h.item_id
    from {{ ref('int_window_events') }} as h
    inner join (select distinct user_id, item_id from item_events) as p
        on p.user_id = h.user_id and p.item_id = h.item_id
    where h.before_cutoff
),

new_targets as (
    select
        i.user_id,
        cast(i.item_idx as integer) as target_new_item_idx
    from item_events as i
    anti join seen as s on s.user_id = i.user_id and s.item_id = i.item_id
    qualify row_number() over (partition by i.user_id order by i.ts, i.event_id) = 1
),

markets as (
    select user_id, market, count(*) as n
    from {{ ref('int_window_events') }}
    where before_cutoff and market is not null
    group by user_id, market
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
