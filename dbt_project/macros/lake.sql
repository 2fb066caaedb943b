{#-
  Reading the lake (contracts.md section 2) without crashing on an empty or missing folder.

  Any business may start with no events yet, no quarantine and no catalogue. `lake_source` takes the
  dbt source (so lineage to the Dagster asset stays in the manifest) and reads its Parquet files
  through the target's `lake_read` (macros below), typed to the contract's columns; a file missing
  an optional column reads as NULLs. Paths come from COREBRAIN_LAKE (sources.yml: meta.lake_path).
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
    cast(null as {{ col_type(typ) }}) as {{ adapter.quote(col) }}{{ ", " if not loop.last }}
  {%- endfor %} where false)
{%- endmacro %}


{% macro lake_location(name) -%}
  {#- (absolute folder of lake table `name`, a file glob under it) from its source's meta -#}
  {%- set node = graph.sources.values() | selectattr('source_name', 'equalto', 'lake')
                 | selectattr('name', 'equalto', name) | first -%}
  {%- set meta = dict(node.meta or {}, **(node.config.meta or {})) if node else {} -%}
  {%- if not meta.get('lake_path') or not meta.get('lake_files') -%}
    {{ exceptions.raise_compiler_error("lake_location: source lake." ~ name ~ " needs meta lake_path and lake_files") }}
  {%- endif -%}
  {{ return((env_var('COREBRAIN_LAKE', '.corebrain/lake') ~ '/' ~ meta['lake_path'], meta['lake_files'])) }}
{%- endmacro %}


{% macro lake_source(name) -%}
  {%- set relation = source('lake', name) -%}
  {%- set columns = lake_columns(name) -%}
  {%- if execute -%}
    {%- set path, files = lake_location(name) -%}
    {%- set read = lake_read(name, path, files) -%}
  {%- endif -%}
  (select {% for col, typ in columns %}cast({{ adapter.quote(col) }} as {{ col_type(typ) }}) as {{ adapter.quote(col) }}{{ ", " if not loop.last }}{% endfor %}
   from {{ read if execute else lake_empty(name) }})
{%- endmacro %}


{% macro lake_read(name, path, files) -%}
  {#- a relation over the Parquet files of lake table `name` at `path` (`files`: a glob under it,
      with `date=` hive folders for events), with the contract's columns; empty when none exist -#}
  {{ return(adapter.dispatch('lake_read', 'corebrain')(name, path, files)) }}
{%- endmacro %}

{% macro duckdb__lake_read(name, path, files) -%}
  {#- read_parquet() fails on a glob that matches no file: check first, and union BY NAME with the
      empty typed relation so a file missing an optional column reads as NULLs -#}
  {%- set glob = path ~ '/' ~ files -%}
  {%- set options = 'hive_partitioning=true, union_by_name=true, filename=true' if name == 'events'
                    else ('union_by_name=true, filename=true' if name == 'quarantine' else 'union_by_name=true') -%}
  (
     select * from {{ lake_empty(name) }}
     {%- if lake_has_files(glob) %}
     union all by name
     select * from read_parquet('{{ glob | replace("'", "''") }}', {{ options }})
     {%- endif %}
   )
{%- endmacro %}

{% macro lake_has_files(glob) -%}
  {%- if not execute -%}{{ return(false) }}{%- endif -%}
  {%- set result = run_query("select count(*) from glob('" ~ glob | replace("'", "''") ~ "')") -%}
  {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}

{% macro spark__lake_read(name, path, files) -%}
  {#- an external Parquet table over the folder, re-created each run (the lake path may change),
      declared with the contract's columns: a missing folder reads as empty, a file missing an
      optional column as NULLs. Files are found recursively; `filename` is the file's URI and the
      events' `date` is read from its `date=` folder -#}
  {%- set table = this.schema ~ '.lake_' ~ name -%}
  {%- set stored = [] -%}
  {%- for col, typ in lake_columns(name) if col not in ('filename', 'date') -%}
    {%- do stored.append(adapter.quote(col) ~ ' ' ~ col_type(typ)) -%}
  {%- endfor -%}
  {%- do run_query('create database if not exists ' ~ this.schema) -%}
  {%- do run_query('drop table if exists ' ~ table) -%}
  {%- do run_query('create table ' ~ table ~ ' (' ~ stored | join(', ') ~ ") using parquet options (recursiveFileLookup 'true') location '" ~ path | replace("'", "\\'") ~ "'") -%}
  (select *, input_file_name() as `filename`
     {%- if name == 'events' %}, cast(regexp_extract(input_file_name(), 'date=([0-9]{4}-[0-9]{2}-[0-9]{2})', 1) as date) as `date`{% endif %}
   from {{ table }})
{%- endmacro %}
