-- The training window, one row: the last `window_days` event days ending at `window_end` (var, or
-- the latest event day), and the holdout cutoff at the start of its last `holdout_days`. The mart
-- `training_window` publishes it; intermediate models read it here, never from the marts.
{%- set window_days, holdout_days, window_end = training_window_vars() %}

with bounds as (
    select
    {%- if window_end %}
        cast('{{ window_end }}' as date) as window_end
    {%- else %}
        (select max(event_date) from {{ ref('fct_events') }}) as window_end
    {%- endif %}
)

select
    {{ days_before('window_end', window_days - 1) }} as window_start,
    window_end,
    cast({{ days_before('window_end', holdout_days - 1) }} as timestamp) as holdout_cutoff,
    {{ window_days }} as window_days,
    {{ holdout_days }} as holdout_days
from bounds
where window_end is not null
