{#- dbt-duckdb's catalog queries: every attached database is in
    `system.information_schema`. -#}

{% macro duckdb__list_relations_without_caching(schema_relation) -%}
  {%- call statement('list_relations_without_caching', fetch_result=True) -%}
    select
      '{{ schema_relation.database }}' as database,
      table_name as name,
      table_schema as schema,
      case table_type
        when 'BASE TABLE' then 'table'
        when 'VIEW' then 'view'
        when 'LOCAL TEMPORARY' then 'table'
      end as type
    from system.information_schema.tables
    where lower(table_schema) = '{{ schema_relation.schema | lower }}'
      and lower(table_catalog) = '{{ schema_relation.database | lower }}'
  {%- endcall -%}
  {{ return(load_result('list_relations_without_caching').table) }}
{%- endmacro %}

{% macro duckdb__list_schemas(database) -%}
  {%- set sql -%}
    select schema_name
    from system.information_schema.schemata
    {% if database is not none -%}
    where lower(catalog_name) = '{{ database | lower }}'
    {%- endif %}
  {%- endset -%}
  {{ return(run_query(sql)) }}
{%- endmacro %}

{% macro duckdb__check_schema_exists(information_schema, schema) -%}
  {%- set sql -%}
    select count(*)
    from system.information_schema.schemata
    where lower(schema_name) = '{{ schema | lower }}'
      and lower(catalog_name) = '{{ information_schema.database | lower }}'
  {%- endset -%}
  {{ return(run_query(sql)) }}
{%- endmacro %}
