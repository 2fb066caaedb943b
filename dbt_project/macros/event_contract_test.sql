{#- Generic test: the row rules stg_events must keep (event_id, ts and user_id not null; event_type
    one of the accepted values, nulls passing as in accepted_values) in ONE scan of the model. On a
    view that dedupes (stg_events) each separate not_null / accepted_values test re-ran the dedupe
    over the window: four scans of the lake for one answer. Standard SQL, any adapter. -#}
{% test event_contract(model, event_types) %}
select
    event_id,
    ts,
    user_id,
    event_type,
    case
        when event_id is null then 'event_id is null'
        when ts is null then 'ts is null'
        when user_id is null then 'user_id is null'
        else 'event_type not accepted'
    end as broken_rule
from {{ model }}
where event_id is null
   or ts is null
   or user_id is null
   or event_type not in ({% for value in event_types %}'{{ value }}'{% if not loop.last %}, {% endif %}{% endfor %})
{% endtest %}
