{#- dbt's `clone`: the node as the state's environment built it
    (`defer_relation`). A zero-copy clone of its table where the warehouse
    has one (`can_clone_table()`, by dispatch), a view on it otherwise, as
    dbt-duckdb and dbt-postgres do. A relation that already exists is left
    alone unless --full-refresh. -#}
{% materialization clone, default %}
  {%- if not defer_relation -%}
    {{ log("No relation found in state manifest for " ~ model.unique_id, info=True) }}
    {{ return({'relations': []}) }}
  {%- endif -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- if existing_relation and not flags.FULL_REFRESH -%}
    {{ log("Relation " ~ existing_relation ~ " already exists", info=True) }}
    {{ return({'relations': []}) }}
  {%- endif -%}
  {%- set other_existing_relation = load_cached_relation(defer_relation) -%}
  {%- if other_existing_relation and other_existing_relation.type == 'table' and can_clone_table() -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {% if existing_relation is not none and not existing_relation.is_table %}
      {{ drop_relation_if_exists(existing_relation) }}
    {% endif %}
    {% call statement('main') -%}
      {{ create_or_replace_clone(target_relation, defer_relation) }}
    {%- endcall %}
    {{ adapter.cache_added(target_relation) }}
    {{ apply_grants(target_relation, config.get('grants'), should_revoke=should_revoke(existing_relation, full_refresh_mode=True)) }}
    {{ persist_docs(target_relation, model) }}
    {{ adapter.commit() }}
    {{ return({'relations': [target_relation]}) }}
  {%- else -%}
    {{ return(materialization_view_default()) }}
  {%- endif -%}
{% endmaterialization %}

{% macro can_clone_table() -%}
  {{ return(adapter.dispatch('can_clone_table', 'dbt')()) }}
{%- endmacro %}

{% macro default__can_clone_table() -%}
  {{ return(False) }}
{%- endmacro %}

{% macro create_or_replace_clone(this_relation, defer_relation) -%}
  {{ return(adapter.dispatch('create_or_replace_clone', 'dbt')(this_relation, defer_relation)) }}
{%- endmacro %}

{% macro default__create_or_replace_clone(this_relation, defer_relation) -%}
  create or replace table {{ this_relation.render() }} clone {{ defer_relation.render() }}
{%- endmacro %}
