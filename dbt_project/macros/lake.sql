{#-
  Reading the lake (contracts.md section 2) without crashing on an empty or missing folder.

  DuckDB's read_parquet() fails on a glob that matches no file, and any business may start with no
  events yet, no quarantine and no catalogue. `lake_source` takes the dbt source (so lineage to the
  Dagster asset stays in the manifest), checks at run time whether its glob matches a file, and
  otherwise reads an empty relation with the contract's columns. Either way the result is unioned
  BY NAME with that empty typed relation, so a file missing an optional column reads as NULLs.
-#}

{% macro lake_columns(name) -%}
  {%- set columns = {
    'events': [
      ('event_id', 'varchar'), ('ts', 'timestamp'), ('user_id', 'varchar'), ('session_id', 'varchar'),
      ('event_type', 'varchar'), ('item_id', 'varchar'), ('query', 'varchar'), ('market', 'varchar'),
      ('price', 'double'), ('source_file', 'varchar'), ('source_row', 'bigint'),
      ('filename', 'varchar'), ('date', 'date')],
    'quarantine': [
      ('source_file', 'varchar'), ('source_row', 'bigint'), ('reason', 'varchar'), ('detail', 'varchar'),
      ('raw', 'varchar'), ('landing_date', 'date'), ('user_id', 'varchar'), ('filename', 'varchar')],
    'items': [
      ('item_id', 'varchar'), ('title', 'varchar'), ('category', 'varchar'), ('tags', 'varchar')],
  } -%}
  {%- if name not in columns -%}
    {{ exceptions.raise_compiler_error("lake_columns: unknown lake table '" ~ name ~ "'") }}
  {%- endif -%}
  {{ return(columns[name]) }}
{%- endmacro %}


{% macro lake_empty(name) -%}
  (select {% for col, typ in lake_columns(name) -%}
    cast(null as {{ typ }}) as "{{ col }}"{{ ", " if not loop.last }}
  {%- endfor %} where false)
{%- endmacro %}


{% macro lake_glob(relation) -%}
  {#- the path inside read_parquet('<glob>', ...) of a source with an external_location -#}
  {%- set rendered = relation.render() -%}
  {%- if "'" not in rendered -%}
    {{ exceptions.raise_compiler_error("lake_glob: source " ~ rendered ~ " has no quoted external_location") }}
  {%- endif -%}
  {{ return(rendered.split("'")[1]) }}
{%- endmacro %}


{% macro lake_has_files(glob) -%}
  {%- if not execute -%}{{ return(false) }}{%- endif -%}
  {%- set result = run_query("select count(*) from glob('" ~ glob | replace("'", "''") ~ "')") -%}
  {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}


{% macro lake_source(name) -%}
  {%- set relation = source('lake', name) -%}
  {%- set columns = lake_columns(name) -%}
  (select {% for col, typ in columns %}cast("{{ col }}" as {{ typ }}) as "{{ col }}"{{ ", " if not loop.last }}{% endfor %}
   from (
     select * from {{ lake_empty(name) }}
     {%- if execute and lake_has_files(lake_glob(relation)) %}
     union all by name
     select * from {{ relation }}
     {%- endif %}
   ))
{%- endmacro %}
