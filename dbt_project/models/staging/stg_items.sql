-- The item catalogue when one was delivered (lake/items/items.parquet); empty otherwise.
select
    trim(item_id) as item_id,
    nullif(trim(title), '') as title,
    nullif(lower(trim(category)), '') as category,
    nullif(trim(tags), '') as tags
from {{ lake_source('items') }}
where nullif(trim(item_id), '') is not null
qualify row_number() over (partition by trim(item_id) order by title, category, tags) = 1
