-- Rows ingest rejected, with their reason code (pipelines/ingest/reasons.py), for the UI and audits.
select
    source_file,
    source_row,
    reason,
    detail,
    raw,
    coalesce(
        landing_date,
        try_cast(regexp_extract(filename, 'landed=([0-9]{4}-[0-9]{2}-[0-9]{2})', 1) as date)
    ) as landing_date
from {{ lake_source('quarantine') }}
