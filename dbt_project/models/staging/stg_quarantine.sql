-- Rows ingest rejected, with their reason code (pipelines/ingest/reasons.py), for the UI and audits.
-- Event rows come from quarantine/landed=<day>.parquet, catalogue rows from quarantine/items.parquet.
select
    case when filename like '%/items.parquet' then 'items' else 'events' end as kind,
    source_file,
    source_row,
    reason,
    detail,
    raw,
    user_id,
    coalesce(
        landing_date,
        try_cast(regexp_extract(filename, 'landed=([0-9]{4}-[0-9]{2}-[0-9]{2})', 1) as date)
    ) as landing_date
from {{ lake_source('quarantine') }}
