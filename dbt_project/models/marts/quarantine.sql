-- Quarantined rows for the UI: a view, so it is always current, newest landing day first.
{{ config(materialized='view') }}

select landing_date, kind, reason, source_file, source_row, detail, raw, user_id
from {{ ref('stg_quarantine') }}
order by landing_date desc nulls last, kind, source_file, source_row
