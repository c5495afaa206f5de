{#- Asking the warehouse what exists, as dbt's macros of these names do.
    Each returns an agate-like table (rows of the query); adapters supply
    the queries (`templates/<adapter>/macros/metadata.sql`). -#}

{#- A query's rows as an agate-like table (none while parsing, when
    statements do not run). -#}
{% macro run_query(sql) -%}
  {%- call statement("run_query_statement", fetch_result=true, auto_begin=false) -%}
    {{ sql }}
  {%- endcall -%}
  {%- set result = load_result("run_query_statement") -%}
  {{ return(result.table if result else none) }}
{%- endmacro %}

{#- Relations of one schema: rows of (database, name, schema, type). -#}
{% macro list_relations_without_caching(schema_relation) -%}
  {{ return(adapter.dispatch('list_relations_without_caching', 'dbt')(schema_relation)) }}
{%- endmacro %}

{% macro default__list_relations_without_caching(schema_relation) -%}
  {{ exceptions.raise_not_implemented('list_relations_without_caching macro not implemented for adapter ' ~ adapter.type()) }}
{%- endmacro %}

{#- Schemas of a database: one column, one row each. -#}
{% macro list_schemas(database) -%}
  {{ return(adapter.dispatch('list_schemas', 'dbt')(database)) }}
{%- endmacro %}

{% macro default__list_schemas(database) -%}
  {%- set sql -%}
    select distinct schema_name
    from {{ information_schema_name(database) }}.SCHEMATA
    where catalog_name ilike '{{ database }}'
  {%- endset -%}
  {{ return(run_query(sql)) }}
{%- endmacro %}

{#- One row with one count: 1 when the schema exists. -#}
{% macro check_schema_exists(information_schema, schema) -%}
  {{ return(adapter.dispatch('check_schema_exists', 'dbt')(information_schema, schema)) }}
{%- endmacro %}

{% macro default__check_schema_exists(information_schema, schema) -%}
  {%- set sql -%}
    select count(*)
    from {{ information_schema_name(information_schema.database) }}.SCHEMATA
    where catalog_name = '{{ information_schema.database }}'
      and schema_name = '{{ schema }}'
  {%- endset -%}
  {{ return(run_query(sql)) }}
{%- endmacro %}

{% macro information_schema_name(database) -%}
  {{ return(adapter.dispatch('information_schema_name', 'dbt')(database)) }}
{%- endmacro %}

{% macro default__information_schema_name(database) -%}
  {%- if database -%}
    {{ database }}.INFORMATION_SCHEMA
  {%- else -%}
    INFORMATION_SCHEMA
  {%- endif -%}
{%- endmacro %}
