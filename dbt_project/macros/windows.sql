{#- Partition windows and the training window. Dagster passes them as environment variables
    COREBRAIN_DBT_<NAME> (pipelines/dbt_args.py: env_for_vars), not as --vars: dbt re-parses the whole
    project whenever --vars change, but only the files that read a changed env var. `--vars` still
    works for a run by hand and wins over the environment. -#}

{% macro window_var(name, default=none) -%}
  {%- set value = var(name, none) -%}
  {%- if value is none or (value | string) == '' -%}
    {%- set value = env_var('COREBRAIN_DBT_' ~ (name | upper), '') -%}
  {%- endif -%}
  {{ return(default if value is none or (value | string) == '' else value) }}
{%- endmacro %}


{% macro partition_filter(column) -%}
  {%- set min_date = window_var('min_date') -%}
  {%- set max_date = window_var('max_date') -%}
  {%- if min_date and max_date and (min_date | string) > (max_date | string) -%}
    {{ exceptions.raise_compiler_error("partition window: min_date " ~ min_date ~ " is after max_date " ~ max_date) }}
  {%- endif -%}
  {%- if min_date %}{{ column }} >= cast('{{ min_date }}' as date){% else %}true{% endif %}
  and {% if max_date %}{{ column }} <= cast('{{ max_date }}' as date){% else %}true{% endif %}
{%- endmacro %}


{% macro event_type_code(column) -%}
  {#- contracts.md section 3: 1 view, 2 search, 3 add_to_cart, 4 purchase -#}
  case {{ column }} when 'view' then 1 when 'search' then 2 when 'add_to_cart' then 3
    when 'purchase' then 4 end
{%- endmacro %}


{% macro training_window_vars() -%}
  {#- validated (window_days, holdout_days, window_end) -#}
  {%- set window_days = window_var('window_days', 30) | int -%}
  {%- set holdout_days = window_var('holdout_days', 1) | int -%}
  {%- if window_days < 2 or holdout_days < 1 or holdout_days >= window_days -%}
    {{ exceptions.raise_compiler_error("training window: need window_days >= 2 and 1 <= holdout_days < window_days, got "
       ~ window_days ~ " / " ~ holdout_days) }}
  {%- endif -%}
  {{ return((window_days, holdout_days, window_var('window_end'))) }}
{%- endmacro %}
