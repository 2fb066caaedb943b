-- One row per user seen in the events: activity span, counts and most frequent market.
with markets as (
    select user_id, market, count(*) as n
    from {{ ref('fct_events') }}
    where market is not null
    group by user_id, market
),

main_market as (
    select user_id, market
    from markets
    qualify row_number() over (partition by user_id order by n desc, market) = 1
)

select
    e.user_id,
    min(e.ts) as first_seen_ts,
    max(e.ts) as last_seen_ts,
    count(*) as n_events,
    count(distinct e.event_date) as n_active_days,
    count(*) filter (where e.event_type = 'purchase') as n_purchases,
    count(*) filter (where e.event_type = 'search') as n_searches,
    any_value(m.market) as market
from {{ ref('fct_events') }} as e
left join main_market as m on m.user_id = e.user_id
group by e.user_id
order by e.user_id
