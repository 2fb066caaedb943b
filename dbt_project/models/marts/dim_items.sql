-- Every known item: the catalogue's when one was delivered, plus any item seen only in events
-- (any business may have no catalogue), with behaviour counts and the vocabulary index.
with stats as (
    select
        item_id,
        min(ts) as first_seen_ts,
        max(ts) as last_seen_ts,
        count(*) as n_events,
        count(*) filter (where event_type = 'purchase') as n_purchases,
        count(distinct user_id) as n_users
    from {{ ref('fct_events') }}
    where item_id is not null
    group by item_id
),

catalogue as (
    select * from {{ ref('stg_items') }}
),

items as (
    select coalesce(c.item_id, s.item_id) as item_id, c.title, c.category, c.tags,
           c.item_id is not null as in_catalogue,
           s.first_seen_ts, s.last_seen_ts,
           coalesce(s.n_events, 0) as n_events,
           coalesce(s.n_purchases, 0) as n_purchases,
           coalesce(s.n_users, 0) as n_users
    from catalogue as c
    full outer join stats as s on s.item_id = c.item_id
)

select v.item_idx, items.*
from items
left join {{ ref('item_vocab') }} as v on v.item_id = items.item_id
order by items.item_id
