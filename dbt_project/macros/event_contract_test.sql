{#- Generic test: the row rules stg_events must keep (event_id, ts and user_id not null; event_type
    one of the accepted values, nulls passing as in accepted_values) in ONE scan. On a view that
    dedupes (stg_events) each separate not_null / accepted_values test re-ran the dedupe over the
    window: four scans of the lake for one answer.

    `rows` (optional): the relation the model's rows come from before its dedupe (for stg_events:
    the ephemeral stg_events_typed). The rules are then checked there, with the test's `where`, and
    the dedupe (a window function over the whole partition window, most of the test's cost) does not
    run at all. This is the same test, never a weaker one: every rule reads only the row's own values,
    which the dedupe copies unchanged, and the dedupe only drops rows (one row kept per lake day and
    event_id). So every row of the model is a row of `rows` with the same values: the test fails
    whenever it would fail on the model. It can only be stricter: a dropped duplicate copy that
    breaks a rule fails it too, and the failing-row count counts every copy (e.g. every null
    event_id of a day, where the model keeps one). Standard SQL, any adapter. -#}
{% test event_contract(model, event_types, rows=none) %}
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
from {{ get_where_subquery(rows) if rows is not none else model }}
where event_id is null
   or ts is null
   or user_id is null
   or event_type not in ({% for value in event_types %}'{{ value }}'{% if not loop.last %}, {% endif %}{% endfor %})
{% endtest %}
