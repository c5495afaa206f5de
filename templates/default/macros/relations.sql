{#- Creating, renaming and dropping relations. Materializations call these by
    name, so a project macro of the same name replaces any of them. -#}

{% macro create_schema(relation) -%}
  {{ adapter.dispatch('create_schema', 'dbt')(relation) }}
{%- endmacro %}

{% macro default__create_schema(relation) -%}
  {%- call statement('create_schema', auto_begin=False) -%}
    create schema if not exists {{ relation.without_identifier() }}
  {%- endcall -%}
{%- endmacro %}

{% macro drop_schema(relation) -%}
  {{ adapter.dispatch('drop_schema', 'dbt')(relation) }}
{%- endmacro %}

{% macro default__drop_schema(relation) -%}
  {%- call statement('drop_schema', auto_begin=False) -%}
    drop schema if exists {{ relation.without_identifier() }} cascade
  {%- endcall -%}
{%- endmacro %}

{% macro drop_relation(relation) -%}
  {{ return(adapter.dispatch('drop_relation', 'dbt')(relation)) }}
{%- endmacro %}

{% macro default__drop_relation(relation) -%}
  {%- call statement('drop_relation', auto_begin=False) -%}
    {{ get_drop_sql(relation) }}
  {%- endcall -%}
{%- endmacro %}

{% macro get_drop_sql(relation) -%}
  {{ adapter.dispatch('get_drop_sql', 'dbt')(relation) }}
{%- endmacro %}

{% macro default__get_drop_sql(relation) -%}
  drop {{ relation.type or 'table' }} if exists {{ relation.render() }} cascade
{%- endmacro %}

{#- The relation as it exists in the warehouse, or none. -#}
{% macro load_cached_relation(relation) -%}
  {{ return(adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier)) }}
{%- endmacro %}

{#- The old name of `load_cached_relation`. -#}
{% macro load_relation(relation) -%}
  {{ return(load_cached_relation(relation)) }}
{%- endmacro %}

{% macro drop_relation_if_exists(relation) %}
  {% if relation is not none %}
    {{ adapter.drop_relation(relation) }}
  {% endif %}
{% endmacro %}

{% macro truncate_relation(relation) -%}
  {{ return(adapter.dispatch('truncate_relation', 'dbt')(relation)) }}
{%- endmacro %}

{% macro default__truncate_relation(relation) -%}
  {%- call statement('truncate_relation') -%}
    truncate table {{ relation.render() }}
  {%- endcall -%}
{%- endmacro %}

{% macro rename_relation(from_relation, to_relation) -%}
  {{ return(adapter.dispatch('rename_relation', 'dbt')(from_relation, to_relation)) }}
{%- endmacro %}

{% macro default__rename_relation(from_relation, to_relation) -%}
  {%- call statement('rename_relation') -%}
    alter {{ from_relation.type or 'table' }} {{ from_relation.render() }} rename to {{ to_relation.include(database=False, schema=False).render() }}
  {%- endcall -%}
{%- endmacro %}

{% macro make_intermediate_relation(base_relation, suffix='__dbt_tmp') -%}
  {{ return(adapter.dispatch('make_intermediate_relation', 'dbt')(base_relation, suffix)) }}
{%- endmacro %}

{% macro default__make_intermediate_relation(base_relation, suffix) -%}
  {{ return(default__make_temp_relation(base_relation, suffix)) }}
{%- endmacro %}

{% macro make_temp_relation(base_relation, suffix='__dbt_tmp') -%}
  {{ return(adapter.dispatch('make_temp_relation', 'dbt')(base_relation, suffix)) }}
{%- endmacro %}

{% macro default__make_temp_relation(base_relation, suffix) -%}
  {{ return(base_relation.incorporate(path={"identifier": base_relation.identifier ~ suffix})) }}
{%- endmacro %}

{% macro make_backup_relation(base_relation, backup_relation_type, suffix='__dbt_backup') -%}
  {{ return(adapter.dispatch('make_backup_relation', 'dbt')(base_relation, backup_relation_type, suffix)) }}
{%- endmacro %}

{% macro default__make_backup_relation(base_relation, backup_relation_type, suffix) -%}
  {{ return(base_relation.incorporate(path={"identifier": base_relation.identifier ~ suffix}, type=backup_relation_type)) }}
{%- endmacro %}

{% macro get_create_table_as_sql(temporary, relation, sql) -%}
  {{ adapter.dispatch('get_create_table_as_sql', 'dbt')(temporary, relation, sql) }}
{%- endmacro %}

{% macro default__get_create_table_as_sql(temporary, relation, sql) -%}
  {{ return(create_table_as(temporary, relation, sql)) }}
{%- endmacro %}

{% macro create_table_as(temporary, relation, compiled_code, language='sql') -%}
  {{ adapter.dispatch('create_table_as', 'dbt')(temporary, relation, compiled_code, language) }}
{%- endmacro %}

{% macro default__create_table_as(temporary, relation, sql, language='sql') -%}
  {%- set contract = config.get('contract') -%}
  {%- if contract and contract.enforced and not temporary -%}
    {{ get_assert_columns_equivalent(sql) }}
  {%- endif %}
  create {% if temporary %}temporary {% endif %}table {{ relation.render() if not temporary else relation.include(database=False, schema=False).render() }}
  {%- if contract and contract.enforced %}
    {{ get_table_columns_and_constraints() }} ;
  insert into {{ relation.render() if not temporary else relation.include(database=False, schema=False).render() }}
    {{ get_select_subquery(sql) }}
  {%- else %} as (
    {{ sql }}
  )
  {%- endif %}
{%- endmacro %}

{% macro get_create_view_as_sql(relation, sql) -%}
  {{ adapter.dispatch('get_create_view_as_sql', 'dbt')(relation, sql) }}
{%- endmacro %}

{% macro default__get_create_view_as_sql(relation, sql) -%}
  {{ return(create_view_as(relation, sql)) }}
{%- endmacro %}

{% macro create_view_as(relation, sql) -%}
  {{ adapter.dispatch('create_view_as', 'dbt')(relation, sql) }}
{%- endmacro %}

{% macro default__create_view_as(relation, sql) -%}
  {%- set contract = config.get('contract') -%}
  {%- if contract and contract.enforced -%}
    {{ get_assert_columns_equivalent(sql) }}
  {%- endif %}
  create view {{ relation.render() }} as (
    {{ sql }}
  )
{%- endmacro %}

{#- A contract is checked before anything is built: the model's query and
    the declared columns go through the warehouse (zero rows each), so both
    sides' types are the warehouse's own names for them. -#}
{% macro get_assert_columns_equivalent(sql) -%}
  {{ adapter.dispatch('get_assert_columns_equivalent', 'dbt')(sql) }}
{%- endmacro %}

{% macro default__get_assert_columns_equivalent(sql) -%}
  {{ return(assert_columns_equivalent(sql)) }}
{%- endmacro %}

{% macro assert_columns_equivalent(sql) -%}
  {%- set declared = adapter.xform('contract_columns') -%}
  {%- if not declared -%}
    {{ exceptions.raise_contract_error([], adapter.get_column_schema_from_query(sql)) }}
  {%- endif -%}
  {%- for c in declared if not c.data_type -%}
    {{ exceptions.raise_compiler_error("column `" ~ c.name ~ "` of a model with an enforced contract needs a `data_type`") }}
  {%- endfor -%}
  {%- set model_columns = adapter.get_column_schema_from_query(sql) -%}
  {%- set contract_columns = adapter.get_column_schema_from_query(get_empty_schema_sql(declared)) -%}
  {%- if model_columns | length != contract_columns | length -%}
    {{ exceptions.raise_contract_error(contract_columns, model_columns) }}
  {%- endif -%}
  {%- for m in model_columns -%}
    {%- set match = contract_columns | selectattr('name', 'equalto', m.name) | list -%}
    {%- if not match or match[0].dtype != m.dtype -%}
      {{ exceptions.raise_contract_error(contract_columns, model_columns) }}
    {%- endif -%}
  {%- endfor -%}
{%- endmacro %}

{% macro get_empty_schema_sql(columns) -%}
  {{ return(adapter.dispatch('get_empty_schema_sql', 'dbt')(columns)) }}
{%- endmacro %}

{#- A query of typed nulls, one per column: what the contract promises.
    `columns` is a model's `columns` (a dict by name, as dbt passes it) or a
    list of columns. A bare `numeric` has no scale: warn, as dbt does. -#}
{% macro default__get_empty_schema_sql(columns) %}
    {%- set missing_type = [] -%}
    {%- set naked_numeric = [] -%}
    select
    {% for key in columns %}
      {%- set col = columns[key] if columns is mapping else key -%}
      {%- if col['data_type'] is not defined or col['data_type'] is none -%}
        {%- do missing_type.append(col['name']) -%}
      {%- elif col['data_type'].strip().lower() in ('numeric', 'decimal', 'number') -%}
        {%- do naked_numeric.append(col['name']) -%}
      {%- endif -%}
      {% set col_name = adapter.quote(col['name']) if col.get('quote') else col['name'] %}
      {{ cast('null', col['data_type']) }} as {{ col_name }}{{ ", " if not loop.last }}
    {%- endfor -%}
    {%- if (missing_type | length) > 0 -%}
      {{ exceptions.column_type_missing(column_names=missing_type) }}
    {%- elif (naked_numeric | length) > 0 -%}
      {{ exceptions.warn("Detected columns with numeric type and unspecified precision/scale, this can lead to unintended rounding: " ~ naked_numeric ~ "`") }}
    {%- endif -%}
{% endmacro %}

{#- Name and type of each column, as contract errors show them. -#}
{% macro format_columns(columns) -%}
  {%- set formatted = [] -%}
  {%- for column in columns -%}
    {%- do formatted.append(adapter.dispatch('format_column', 'dbt')(column)) -%}
  {%- endfor -%}
  {{ return(formatted) }}
{%- endmacro %}

{% macro default__format_column(column) -%}
  {{ return({'name': column.name, 'data_type': column.dtype, 'formatted': column.column.lower() ~ " " ~ column.dtype}) }}
{%- endmacro %}

{#- The columns of an enforced contract with their constraints, then the
    model-level constraints (multi-column keys, checks, foreign keys). -#}
{% macro get_table_columns_and_constraints() -%}
  {%- set cols = adapter.xform('contract_columns') -%}
  {%- set model_constraints = adapter.xform('contract_model_constraints') -%}
  (
  {%- for c in cols %}
    {{ c.name }} {{ c.data_type }}{% for k in c.constraints %} {{ k }}{% endfor %}{{ "," if not loop.last or model_constraints }}
  {%- endfor %}
  {%- for k in model_constraints %}
    {{ k }}{{ "," if not loop.last }}
  {%- endfor %}
  )
{%- endmacro %}

{% macro get_select_subquery(sql) -%}
  {%- set cols = adapter.xform('contract_columns') -%}
  select {% for c in cols %}{{ c.name }}{{ ", " if not loop.last }}{% endfor %}
  from (
    {{ sql }}
  ) as model_subq
{%- endmacro %}

{#- Hooks outside the transaction: the transaction is committed first, as
    dbt does. -#}
{% macro run_hooks(hooks, inside_transaction=True) %}
  {% for hook in hooks | selectattr('transaction', 'equalto', inside_transaction) %}
    {% if not inside_transaction and loop.first %}
      {% call statement(auto_begin=inside_transaction) %}
        commit;
      {% endcall %}
    {% endif %}
    {% set rendered = render(hook.get('sql')) | trim %}
    {% if rendered | length > 0 %}
      {% call statement(auto_begin=inside_transaction) %}
        {{ rendered }}
      {% endcall %}
    {% endif %}
  {% endfor %}
{% endmacro %}

{#- A hook with its transaction setting, as a JSON string (what dbt's
    helpers return; configs read it back as a mapping). -#}
{% macro make_hook_config(sql, inside_transaction) %}
    {{ tojson({"sql": sql, "transaction": inside_transaction}) }}
{% endmacro %}

{% macro before_begin(sql) %}
    {{ make_hook_config(sql, inside_transaction=False) }}
{% endmacro %}

{% macro in_transaction(sql) %}
    {{ make_hook_config(sql, inside_transaction=True) }}
{% endmacro %}

{% macro after_commit(sql) %}
    {{ make_hook_config(sql, inside_transaction=False) }}
{% endmacro %}

{% macro persist_docs(relation, model, for_relation=true, for_columns=true) -%}
  {{ return(adapter.dispatch('persist_docs', 'dbt')(relation, model, for_relation, for_columns)) }}
{%- endmacro %}

{% macro default__persist_docs(relation, model, for_relation, for_columns) -%}
  {%- if for_relation and config.persist_relation_docs() and model.description %}
    {% call statement('persist_relation_docs') -%}
      comment on {{ relation.type }} {{ relation.render() }} is {{ adapter.xform('quote_string', model.description) }}
    {%- endcall %}
  {%- endif %}
  {%- if for_columns and config.persist_column_docs() and model.columns %}
    {%- set existing = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- for name, column in model.columns.items() if column.description and (name | lower) in existing %}
      {% call statement('persist_column_docs') -%}
        comment on column {{ relation.render() }}.{{ adapter.quote(name) if column.quote else name }} is {{ adapter.xform('quote_string', column.description) }}
      {%- endcall %}
    {%- endfor %}
  {%- endif %}
{%- endmacro %}
