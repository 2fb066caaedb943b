-- The floor for benchmarks/pipeline_throughput.py: raw landing files to training shards, as plain
-- DuckDB SQL in one process, on one connection:
--   ingest (the event contract's checks, first copy of an event_id wins, lake Parquet by event day)
--   -> stg_events -> fct_events -> item_vocab -> training_window -> int_window_events -> user_sequences
--   -> holdout -> training shards (4 train shards by md5 of user_id, holdout, items; as pipelines/shards)
-- The ingest steps are what a data engineer would write in bare DuckDB for the landing files the
-- benchmark simulates (well-formed Parquet): no row-level reader errors, no residue, no quarantine
-- raw text. The chain is the same logic as the dbt models (dbt_project/models), first build (no
-- incremental branch), no dbt tests, no dims / quarantine marts; it reads the floor's own lake. The
-- holdout computes every column of the real one (target_query, target_new_item_idx, market; the
-- market carried on int_window_events).
-- The runner fills {landing}, {floor_lake}, {floor_shards}, {ts_floor}, {window_days_minus_1} and
-- {holdout_days_minus_1}, and times each statement under its `-- step:` label.

-- step: ingest_read
create or replace temp table landed as
select
    event_id, ts, user_id, session_id, event_type, item_id, "query", market, price,
    filename as source_file,
    file_row_number + 1 as source_row,
    cast("date" as date) as landing_date
from read_parquet('{landing}/events/date=*/*.parquet', hive_partitioning = true, union_by_name = true,
                  filename = true, file_row_number = true);

-- step: ingest_check
create or replace temp table checked as
with typed as (
    select
        nullif(trim(event_id), '') as event_id,
        cast(ts as timestamp) as ts,
        nullif(trim(user_id), '') as user_id,
        nullif(trim(session_id), '') as session_id,
        nullif(lower(trim(event_type)), '') as event_type,
        nullif(trim(item_id), '') as item_id,
        case when trim("query") <> '' then "query" end as "query",
        nullif(trim(market), '') as market,
        case when isnan(price) then null else price end as price,
        source_file, source_row, landing_date
    from landed
)
select
    *,
    case
        when event_id is null then 'MISSING_EVENT_ID'
        when user_id is null then 'MISSING_USER_ID'
        when ts is null then 'MISSING_TS'
        when isinf(price) then 'WRONG_TYPE'
        when ts < timestamp '{ts_floor}' then 'TS_BEFORE_FLOOR'
        when ts >= landing_date + interval 2 day then 'TS_IN_FUTURE'
        when event_type is null then 'MISSING_EVENT_TYPE'
        when event_type not in ('view', 'search', 'add_to_cart', 'purchase') then 'UNKNOWN_EVENT_TYPE'
        when event_type <> 'search' and item_id is null then 'MISSING_ITEM_ID'
        when event_type = 'search' and "query" is null then 'MISSING_QUERY'
        when length(event_id) > 128 or length(user_id) > 128 or length(session_id) > 128
             or length(item_id) > 128 or length(market) > 128 or length("query") > 512 then 'STRING_TOO_LONG'
    end as reason
from typed;

-- step: ingest_dedupe
create or replace temp table accepted as
with dup_ids as (
    select event_id from checked where reason is null group by event_id having count(*) > 1
),

later_copies as (
    select landing_date, source_file, source_row
    from checked
    where reason is null and event_id in (select event_id from dup_ids)
    qualify row_number() over (partition by event_id order by landing_date, source_file, source_row) > 1
)

select c.* exclude (reason)
from checked as c
anti join later_copies as l
    on l.landing_date = c.landing_date and l.source_file = c.source_file and l.source_row = c.source_row
where c.reason is null;

-- step: ingest_write
copy (
    select
        event_id, ts, user_id, session_id, event_type, item_id, "query", market, price, source_file,
        source_row, cast(ts as date) as "date", landing_date as landed
    from accepted
    order by landing_date, source_file, source_row
) to '{floor_lake}/events' (format parquet, partition_by ("date", landed), compression zstd);

-- step: ingest_quarantine
copy (
    select source_file, source_row, reason, landing_date from checked where reason is not null
) to '{floor_lake}/quarantine.parquet' (format parquet, compression zstd);

-- step: fct_events
create or replace table fct_events as
with source as (
    select * from read_parquet('{floor_lake}/events/*/*/*.parquet', hive_partitioning = true,
                               union_by_name = true, filename = true)
),

typed as (
    select
        trim(event_id) as event_id,
        cast(ts as timestamp) as ts,
        trim(user_id) as user_id,
        nullif(trim(session_id), '') as session_id,
        lower(trim(event_type)) as event_type,
        nullif(trim(item_id), '') as item_id,
        nullif(regexp_replace(trim("query"), '\s+', ' ', 'g'), '') as "query",
        nullif(lower(trim(market)), '') as market,
        cast(price as double) as price,
        source_file,
        cast(source_row as bigint) as source_row,
        cast("date" as date) as lake_date,
        regexp_extract(filename, 'landed=([0-9]{4}-[0-9]{2}-[0-9]{2})', 1) as landed_date
    from source
),

stg_events as (
    select
        event_id,
        ts,
        cast(epoch_ms(ts) // 1000 as bigint) as ts_unix,
        cast(ts as date) as event_date,
        user_id,
        session_id,
        event_type,
        cast(case event_type when 'view' then 1 when 'search' then 2 when 'add_to_cart' then 3
             when 'purchase' then 4 end as tinyint) as event_type_code,
        item_id,
        "query",
        market,
        price,
        source_file,
        source_row,
        nullif(landed_date, '') as landed_date
    from typed
    qualify row_number() over (
        partition by lake_date, event_id order by landed_date, source_file, source_row, ts
    ) = 1
)

select
    event_id, ts, ts_unix, event_date, user_id, session_id, event_type, event_type_code, item_id,
    "query", market, price, source_file, source_row, landed_date
from stg_events
order by event_date, ts, event_id;

-- step: item_vocab
create or replace table item_vocab as
with seen as (
    select item_id, min(ts) as first_seen_ts
    from fct_events
    where item_id is not null
    group by item_id
)

select
    cast(row_number() over (order by first_seen_ts, item_id) as integer) as item_idx,
    item_id,
    first_seen_ts
from seen
order by item_idx;

-- step: training_window
create or replace table training_window as
select
    cast(window_end - {window_days_minus_1} as date) as window_start,
    window_end,
    cast(window_end - {holdout_days_minus_1} as timestamp) as holdout_cutoff
from (select max(event_date) as window_end from fct_events)
where window_end is not null;

-- step: int_window_events
create or replace view int_window_events as
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
    e.market,
    e.ts < w.holdout_cutoff as before_cutoff
from fct_events as e
cross join training_window as w
left join item_vocab as v on v.item_id = e.item_id
where e.event_date between w.window_start and w.window_end
  and e.event_type_code is not null;

-- step: user_sequences
create or replace table user_sequences as
select
    user_id,
    list(cast(item_idx as integer) order by ts, event_id) as item_idx,
    list(cast(event_type_code as tinyint) order by ts, event_id) as event_type,
    list(cast(ts_unix as bigint) order by ts, event_id) as ts,
    list("query" order by ts, event_id) as "query",
    count(*) as n_events
from int_window_events
where before_cutoff
group by user_id
order by user_id;

-- step: holdout
create or replace table holdout as
with after_cutoff as (
    select
        user_id, event_id, ts, ts_unix, event_type, item_id, item_idx,
        lag(event_type) over (partition by user_id order by ts, event_id) as previous_type,
        lag("query") over (partition by user_id order by ts, event_id) as previous_query
    from int_window_events
    where not before_cutoff
),

item_events as (
    select * from after_cutoff where item_id is not null and event_type <> 'search'
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
    select distinct h.user_id, h.item_id
    from int_window_events as h
    inner join (select distinct user_id, item_id from item_events) as p
        on p.user_id = h.user_id and p.item_id = h.item_id
    where h.before_cutoff
),

new_targets as (
    select i.user_id, cast(i.item_idx as integer) as target_new_item_idx
    from item_events as i
    anti join seen as s on s.user_id = i.user_id and s.item_id = i.item_id
    qualify row_number() over (partition by i.user_id order by i.ts, i.event_id) = 1
),

main_market as (
    select user_id, market
    from (
        select user_id, market, count(*) as n
        from int_window_events
        where before_cutoff and market is not null
        group by user_id, market
    )
    qualify row_number() over (partition by user_id order by n desc, market) = 1
)

select
    s.user_id, s.item_idx, s.event_type, s.ts, s."query",
    t.target_item_idx, t.target_item_id, t.target_ts, t.target_query,
    n.target_new_item_idx, m.market
from user_sequences as s
inner join targets as t on t.user_id = s.user_id
left join new_targets as n on n.user_id = s.user_id
left join main_market as m on m.user_id = s.user_id
order by s.user_id;

-- step: shards
copy (select user_id, item_idx, event_type, ts, "query" from user_sequences
      where md5_number(user_id) % 4 = 0 order by user_id) to '{floor_shards}/train-00000.parquet' (format parquet);
copy (select user_id, item_idx, event_type, ts, "query" from user_sequences
      where md5_number(user_id) % 4 = 1 order by user_id) to '{floor_shards}/train-00001.parquet' (format parquet);
copy (select user_id, item_idx, event_type, ts, "query" from user_sequences
      where md5_number(user_id) % 4 = 2 order by user_id) to '{floor_shards}/train-00002.parquet' (format parquet);
copy (select user_id, item_idx, event_type, ts, "query" from user_sequences
      where md5_number(user_id) % 4 = 3 order by user_id) to '{floor_shards}/train-00003.parquet' (format parquet);
copy (select user_id, item_idx, event_type, ts, "query", target_item_idx, target_item_id, target_ts, target_query,
             target_new_item_idx, market
      from holdout order by user_id) to '{floor_shards}/holdout.parquet' (format parquet);
copy (select item_idx, item_id from item_vocab order by item_idx) to '{floor_shards}/items.parquet' (format parquet);
