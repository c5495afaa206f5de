{#- dbt-postgres's catalog queries: a connection sees one database, whose
    schemas are in `pg_namespace`. -#}

{% macro postgres__list_relations_without_caching(schema_relation) -%}
  {%- call statement('list_relations_without_caching', fetch_result=True) -%}
    select '{{ schema_relation.database }}' as database, tablename as name, schemaname as schema, 'table' as type
    from pg_tables
    where schemaname ilike '{{ schema_relation.schema }}'
    union all
    select '{{ schema_relation.database }}' as database, viewname as name, schemaname as schema, 'view' as type
    from pg_views
    where schemaname ilike '{{ schema_relation.schema }}'
    union all
    select '{{ schema_relation.database }}' as database, matviewname as name, schemaname as schema, 'materialized_view' as type
    from pg_matviews
    where schemaname ilike '{{ schema_relation.schema }}'
  {%- endcall -%}
  {{ return(load_result('list_relations_without_caching').table) }}
{%- endmacro %}

{% macro postgres__list_schemas(database) -%}
  {%- call statement('list_schemas', fetch_result=True, auto_begin=False) -%}
    select distinct nspname from pg_namespace
  {%- endcall -%}
  {{ return(load_result('list_schemas').table) }}
{%- endmacro %}

{% macro postgres__check_schema_exists(information_schema, schema) -%}
  {%- call statement('check_schema_exists', fetch_result=True, auto_begin=False) -%}
    select count(*) from pg_namespace where nspname = '{{ schema }}'
  {%- endcall -%}
  {{ return(load_result('check_schema_exists').table) }}
{%- endmacro %}

{% macro postgres__information_schema_name(database) -%}
  information_schema
{%- endmacro %}
