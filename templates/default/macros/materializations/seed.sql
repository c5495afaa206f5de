{#- Seeds: column types are inferred from the CSV as dbt infers them (then
    `column_types` wins), and rows are loaded with the warehouse's native CSV
    reader when it has one, else streamed (`seed_copy`: Postgres COPY). Everything happens in one transaction. -#}
{% materialization seed, default %}
  {%- set full_refresh_mode = should_full_refresh() -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set old_relation = existing_relation -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set seed = adapter.xform('seed') -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {%- if existing_relation is not none and (existing_relation.is_view or full_refresh_mode) %}
    {{ adapter.drop_relation(existing_relation) }}
    {%- set existing_relation = none -%}
  {%- endif %}
  {%- if existing_relation is none %}
    {% call statement('create_seed') -%}
      create table {{ target_relation.render() }} (
      {%- for c in seed.columns %}{{ c.quoted }} {{ c.type }}{{ ", " if not loop.last }}{% endfor -%}
      )
    {%- endcall %}
    {{ adapter.cache_added(target_relation) }}
  {%- else %}
    {{ adapter.truncate_relation(existing_relation) }}
  {%- endif %}

  {%- set load_sql = adapter.xform('seed_load_sql', target_relation) -%}
  {%- if load_sql is none %}
    {%- do adapter.xform('seed_copy', target_relation) -%}
  {%- else %}
  {% call statement('main') -%}
    {{ load_sql }}
  {%- endcall %}
  {%- endif %}

  {{ apply_grants(target_relation, config.get('grants'), should_revoke=should_revoke(old_relation, full_refresh_mode)) }}
  {{ persist_docs(target_relation, model) }}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation], 'rows': seed.rows}) }}
{% endmaterialization %}
