-- Quarantined rows for the UI: a view, so it is always current, newest landing day first.
{{ config(materialized='view') }}

select landing_date, reason, source_file, source_row, detail, raw
from {{ ref('stg_quarantine') }}
order by landing_date desc, source_file, source_row
