{#-
  Every SQL difference between the engines lives here, behind adapter.dispatch: a `duckdb__` and a
  `spark__` implementation each (the models call only these, dbt's cross-database macros and SQL
  both engines accept: qualify, filter (where ...), any_value, try_cast). Add a `<adapter>__`
  implementation here to run the project on another engine.
-#}

{% macro col_type(name) -%}
  {#- a contract type name (DuckDB spelling: varchar, integer[], ...) in the target's dialect -#}
  {{ return(adapter.dispatch('col_type', 'corebrain')(name)) }}
{%- endmacro %}

{% macro default__col_type(name) -%}
  {{ return(name) }}
{%- endmacro %}

{% macro spark__col_type(name) -%}
  {%- set scalar = {'varchar': 'string', 'integer': 'int', 'tinyint': 'tinyint', 'bigint': 'bigint',
                    'double': 'double', 'timestamp': 'timestamp', 'date': 'date', 'boolean': 'boolean'} -%}
  {%- if name.endswith('[]') -%}
    {{ return('array<' ~ spark__col_type(name[:-2]) ~ '>') }}
  {%- endif -%}
  {{ return(scalar.get(name, name)) }}
{%- endmacro %}


{% macro epoch_seconds(ts) -%}
  {#- unix seconds (bigint) of a UTC timestamp without zone -#}
  {{ return(adapter.dispatch('epoch_seconds', 'corebrain')(ts)) }}
{%- endmacro %}

{% macro duckdb__epoch_seconds(ts) -%}
  cast(epoch_ms({{ ts }}) // 1000 as bigint)
{%- endmacro %}

{% macro spark__epoch_seconds(ts) -%}
  {#- the session time zone is UTC (profiles.yml), so a timestamp's instant is its wall clock -#}
  cast(floor(unix_micros(cast({{ ts }} as timestamp)) / 1000000) as bigint)
{%- endmacro %}


{% macro ordered_list(expr, order_by) -%}
  {#- an aggregate: the values of `expr` as a list ordered by the columns in `order_by` (a list of
      column names, ascending), nulls in `expr` kept -#}
  {{ return(adapter.dispatch('ordered_list', 'corebrain')(expr, order_by)) }}
{%- endmacro %}

{% macro duckdb__ordered_list(expr, order_by) -%}
  list({{ expr }} order by {{ order_by | join(', ') }})
{%- endmacro %}

{% macro spark__ordered_list(expr, order_by) -%}
  {#- collect_list drops nulls, so collect (keys..., value) structs (never null), sort, project -#}
  transform(
    array_sort(collect_list(struct({% for col in order_by %}{{ col }} as k{{ loop.index }}, {% endfor %}{{ expr }} as v))),
    x -> x.v)
{%- endmacro %}


{% macro regexp_replace_all(expr, pattern, replacement) -%}
  {#- replace every match of `pattern` (a regex, given as plain text) -#}
  {{ return(adapter.dispatch('regexp_replace_all', 'corebrain')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro duckdb__regexp_replace_all(expr, pattern, replacement) -%}
  regexp_replace({{ expr }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(expr, pattern, replacement) -%}
  {#- Spark string literals take backslash escapes: double them; regexp_replace replaces all -#}
  regexp_replace({{ expr }}, '{{ pattern | replace("\\", "\\\\") }}', '{{ replacement }}')
{%- endmacro %}


{% macro days_before(day, n) -%}
  {#- the date `n` days before the date `day` -#}
  cast({{ dbt.dateadd('day', -n, day) }} as date)
{%- endmacro %}


{% macro partition_config() -%}
  {#- fct_events' incremental config: replace exactly the partition window's days -#}
  {{ return(adapter.dispatch('partition_config', 'corebrain')()) }}
{%- endmacro %}

{% macro default__partition_config() -%}
  {{ return({'incremental_strategy': 'delete+insert', 'unique_key': 'event_date'}) }}
{%- endmacro %}

{% macro spark__partition_config() -%}
  {#- Parquet tables on Spark have no DELETE: the table is partitioned by day and a run overwrites
      the days it writes (spark.sql.sources.partitionOverwriteMode=dynamic in profiles.yml) -#}
  {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': ['event_date'], 'file_format': 'parquet'}) }}
{%- endmacro %}


{% macro clear_partition_window(relation, column) -%}
  {#- fct_events' pre-hook: empty the window's days, so a day that became empty is emptied too -#}
  {{ return(adapter.dispatch('clear_partition_window', 'corebrain')(relation, column)) }}
{%- endmacro %}

{% macro default__clear_partition_window(relation, column) -%}
  delete from {{ relation }} where {{ partition_filter(column) }}
{%- endmacro %}

{% macro spark__clear_partition_window(relation, column) -%}
  {#- no DELETE on Parquet: insert_overwrite replaces the days the run writes; a day that became
      empty keeps its old rows (README, dbt on Spark) -#}
{%- endmacro %}
