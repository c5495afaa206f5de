{#- A data test counts the rows its query returns; `fail_calc`, `warn_if`,
    `error_if` and `limit` decide the verdict. With `store_failures`, the
    failing rows are kept in an audit relation. -#}
{% materialization test, default %}
  {%- set relations = [] -%}
  {%- set main_sql = sql -%}
  {%- set limit = config.get('limit') -%}
  {%- if should_store_failures() -%}
    {%- set store_as = config.get('store_failures_as') or 'table' -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type=store_as) -%}
    {%- if existing_relation is not none -%}
      {{ adapter.drop_relation(existing_relation) }}
    {%- endif -%}
    {%- if store_as != 'ephemeral' -%}
      {% call statement(auto_begin=True) -%}
        {%- set stored_sql = sql ~ ("\n    limit " ~ limit if limit is not none else "") -%}
        {%- if store_as == 'view' -%}
          {{ get_create_view_as_sql(target_relation, stored_sql) }}
        {%- else -%}
          {{ get_create_table_as_sql(False, target_relation, stored_sql) }}
        {%- endif -%}
      {%- endcall %}
      {{ adapter.cache_added(target_relation) }}
      {%- do relations.append(target_relation) -%}
      {%- set main_sql = 'select * from ' ~ target_relation.render() -%}
      {{ adapter.commit() }}
    {%- endif -%}
  {%- endif -%}
  {%- set fail_calc = config.get('fail_calc') or 'count(*)' -%}
  {%- set warn_if = config.get('warn_if') or '!= 0' -%}
  {%- set error_if = config.get('error_if') or '!= 0' -%}
  {#- A read-only query: no transaction to open and commit. -#}
  {% call statement('main', fetch_result=True, auto_begin=False) -%}
    {{ get_test_sql(main_sql, fail_calc, warn_if, error_if, limit) }}
  {%- endcall %}
  {{ return({'relations': relations}) }}
{% endmaterialization %}

{% macro get_test_sql(main_sql, fail_calc, warn_if, error_if, limit) -%}
  {{ adapter.dispatch('get_test_sql', 'dbt')(main_sql, fail_calc, warn_if, error_if, limit) }}
{%- endmacro %}

{% macro default__get_test_sql(main_sql, fail_calc, warn_if, error_if, limit) -%}
    select
      {{ fail_calc }} as failures,
      {{ fail_calc }} {{ warn_if }} as should_warn,
      {{ fail_calc }} {{ error_if }} as should_error
    from (
      {{ main_sql }}
      {{ "limit " ~ limit if limit is not none }}
    ) dbt_internal_test
{%- endmacro %}
