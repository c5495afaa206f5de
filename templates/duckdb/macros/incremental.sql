{#- dbt-duckdb's default strategy is delete+insert (plain insert without a
    unique_key). -#}
{% macro duckdb__get_incremental_default_sql(arg_dict) %}
  {{ return(get_incremental_delete_insert_sql(arg_dict)) }}
{% endmacro %}
