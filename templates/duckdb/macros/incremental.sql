{#- dbt-duckdb's default strategy is delete+insert (plain insert without a
    unique_key). -#}
{% macro duckdb__get_incremental_default_sql(arg_dict) %}
  {{ return(get_incremental_delete_insert_sql(arg_dict)) }}
{% endmacro %}

{#- DuckDB 1.5 cannot commit an UPDATE of a table altered earlier in the same
    transaction, so the column is moved by rebuilding the table instead: the
    result is what dbt leaves (the retyped column last, values cast), and the
    change stays inside the model's transaction. -#}
{% macro duckdb__alter_column_type(relation, column_name, new_column_type) -%}
  {%- set tmp = relation.incorporate(path={"identifier": relation.identifier ~ '__dbt_alter'}) -%}
  {%- set keep = [] -%}
  {%- for c in adapter.get_columns_in_relation(relation) if (c.name | lower) != (column_name | lower) -%}
    {%- do keep.append(c.quoted) -%}
  {%- endfor -%}
  {% call statement('alter_column_type') -%}
    create table {{ tmp.render() }} as
      select {% for c in keep %}{{ c }}, {% endfor %}cast({{ adapter.quote(column_name) }} as {{ new_column_type }}) as {{ adapter.quote(column_name) }}
      from {{ relation.render() }};
    drop table {{ relation.render() }};
    alter table {{ tmp.render() }} rename to {{ relation.include(database=False, schema=False).render() }}
  {%- endcall %}
{%- endmacro %}

{#- dbt-duckdb: a batch replaces its event_time window, and a unique_key is
    refused (it would suggest an upsert that does not happen). -#}
{% macro duckdb__get_incremental_microbatch_sql(arg_dict) %}
  {%- if arg_dict["unique_key"] -%}
    {{ exceptions.raise_compiler_error("microbatch on DuckDB replaces each batch's `event_time` window (delete+insert) and does not upsert on keys, so `" ~ this.identifier ~ "` cannot set `unique_key`: remove it, or use incremental_strategy='merge' (dbt-duckdb refuses it too)") }}
  {%- endif -%}
  {{ return(default__get_incremental_microbatch_sql(arg_dict)) }}
{% endmacro %}
