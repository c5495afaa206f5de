{#- Unit tests. The runner renders the tested model with each `given` input
    replaced by a `__dbt__cte__` CTE of mock rows (`get_fixture_sql`), then
    this materialization runs one query returning the model's rows and the
    expected rows side by side, tagged `actual` / `expected` in the column
    `actual_or_expected`; the runner compares the two sets. The text of every
    macro here is dbt's byte for byte, so `target/compiled` and `target/run`
    read as dbt writes them. -#}

{%- materialization unit, default -%}
  {%- set expected_rows = config.get('expected_rows') -%}
  {%- set expected_sql = config.get('expected_sql') -%}

  {#- The model's output columns and their types, without building it. -#}
  {%- set types = {} -%}
  {%- set quoted = {} -%}
  {%- set names = [] -%}
  {%- for column in adapter.get_column_schema_from_query(sql) -%}
    {%- do types.update({column.name | lower: column.data_type}) -%}
    {%- do quoted.update({column.name | lower: column.quoted}) -%}
    {%- do names.append(column.name | lower) -%}
  {%- endfor -%}

  {#- Only the columns the expected rows name are compared. -#}
  {%- if expected_rows -%}
    {%- set compared = expected_rows[0].keys() | list -%}
  {%- else -%}
    {%- set compared = names -%}
  {%- endif -%}
  {%- set compared_quoted = [] -%}
  {%- for name in compared -%}
    {%- if (name | lower) not in quoted -%}
      {{ exceptions.raise_compiler_error(
           "the expected rows name column `" ~ name ~ "`, which model `" ~ model.name ~ "` does not return"
           ~ "\nits columns are: " ~ (names | join(', '))) }}
    {%- endif -%}
    {%- do compared_quoted.append(quoted[name | lower]) -%}
  {%- endfor -%}

  {%- if not expected_sql -%}
    {%- set expected_sql = get_expected_sql(expected_rows or [], types, quoted) -%}
  {%- endif -%}

  {%- call statement('main', fetch_result=True) -%}
    {{- "\n    " ~ get_unit_test_sql(sql, expected_sql, compared_quoted) -}}
  {%- endcall -%}

  {{ return({'relations': []}) }}
{%- endmaterialization -%}

{#- Mock rows for one input, as a query. `this` is the relation the input
    stands for and `model` the input (its `name`); the relation's columns
    give the types, and a column a row leaves out is NULL of its type. -#}
{% macro get_fixture_sql(rows, column_name_to_data_types) -%}
  {{- "\n-- Fixture for " ~ model.name ~ "\n" -}}
  {%- set types = {} -%}
  {%- set quoted = {} -%}
  {%- if column_name_to_data_types -%}
    {%- for name, type in column_name_to_data_types.items() -%}
      {%- do types.update({name: type}) -%}
      {%- do quoted.update({name: adapter.quote(name)}) -%}
    {%- endfor -%}
  {%- else -%}
    {%- for column in adapter.get_columns_in_relation(this) -%}
      {%- do types.update({column.name | lower: column.data_type}) -%}
      {%- do quoted.update({column.name | lower: column.quoted}) -%}
    {%- endfor -%}
  {%- endif -%}
  {%- if not types -%}
    {{ exceptions.raise_compiler_error(
         "cannot mock `" ~ model.name ~ "`: " ~ this ~ " does not exist in the warehouse, so its column types are unknown"
         ~ "\nbuild it first (for example `xform run -s " ~ model.name ~ " --empty`), or give this input with `format: sql`") }}
  {%- endif -%}
  {%- set nulls = {} -%}
  {%- for name, type in types.items() -%}
    {%- do nulls.update({name: safe_cast('null', type) | trim}) -%}
  {%- endfor -%}
  {{- validate_fixture_rows(rows, none) -}}
  {%- for row in rows -%}
    {%- set values = nulls.copy() -%}
    {%- do values.update(format_row(row, types)) -%}
    {{- "select" -}}
    {%- for name, value in values.items() -%}
      {{- " " ~ value ~ " as " ~ quoted[name] ~ ("," if not loop.last else "") -}}
    {%- endfor -%}
    {%- if not loop.last -%}{{- "\nunion all\n" -}}{%- endif -%}
  {%- endfor -%}
  {%- if not rows -%}
    {{- "select" -}}
    {%- for name, value in nulls.items() -%}
      {{- " " ~ value ~ " as " ~ quoted[name] ~ ("," if not loop.last else "") -}}
    {%- endfor -%}
    {{- "\n    limit 0" -}}
  {%- endif -%}
{%- endmacro %}

{#- One mock row as SQL literals cast to the column types, keyed by the
    lower-cased column name. A string goes into a `character varying(n)`
    column without its length, so a long value is not cut short. -#}
{% macro format_row(row, column_name_to_data_types) -%}
  {%- set out = {} -%}
  {%- for name, value in row.items() -%}
    {%- set key = name | lower -%}
    {%- if key not in column_name_to_data_types -%}
      {{ exceptions.raise_compiler_error(
           "column `" ~ name ~ "` in the mock rows of `" ~ model.name ~ "` is not one of its columns: "
           ~ (column_name_to_data_types.keys() | list | join(', '))) }}
    {%- endif -%}
    {%- set type = column_name_to_data_types[key] -%}
    {%- if value is string and 'varying' in type -%}
      {%- set type = type.split('(')[0] -%}
    {%- endif -%}
    {%- if value is none -%}
      {%- set literal = 'null' -%}
    {%- elif value is string -%}
      {%- set literal = string_literal(escape_single_quotes(value)) -%}
    {%- else -%}
      {%- set literal = value -%}
    {%- endif -%}
    {%- do out.update({key: safe_cast(literal, type)}) -%}
  {%- endfor -%}
  {{ return(out) }}
{%- endmacro %}

{#- A hook for adapters that restrict mock rows; none does by default. -#}
{% macro validate_fixture_rows(rows, row_number) -%}
  {{ return(adapter.dispatch('validate_fixture_rows', 'dbt')(rows, row_number)) }}
{%- endmacro %}

{% macro default__validate_fixture_rows(rows, row_number) -%}
{%- endmacro %}

{#- The expected rows as a query (no rows: none of the model's). -#}
{% macro get_expected_sql(rows, column_name_to_data_types, column_name_to_quoted) -%}
  {%- if not rows -%}
    {{- "select * from dbt_internal_unit_test_actual\n    limit 0" -}}
  {%- endif -%}
  {%- for row in rows -%}
    {{- "select" -}}
    {%- for name, value in format_row(row, column_name_to_data_types).items() -%}
      {{- " " ~ value ~ " as " ~ column_name_to_quoted[name] ~ ("," if not loop.last else "") -}}
    {%- endfor -%}
    {%- if not loop.last -%}{{- "\nunion all\n" -}}{%- endif -%}
  {%- endfor -%}
{%- endmacro %}

{% macro get_unit_test_sql(main_sql, expected_fixture_sql, expected_column_names) -%}
  {{ adapter.dispatch('get_unit_test_sql', 'dbt')(main_sql, expected_fixture_sql, expected_column_names) }}
{%- endmacro %}

{#- The comments are dbt's, part of the query it runs. -#}
{% macro default__get_unit_test_sql(main_sql, expected_fixture_sql, expected_column_names) -%}
-- Build actual result given inputs
with dbt_internal_unit_test_actual as (
  select
    {{ expected_column_names | join(',') }}, {{ string_literal("actual") }} as {{ adapter.quote("actual_or_expected") }}
  from (
    {{ main_sql }}
  ) _dbt_internal_unit_test_actual
),
-- Build expected result
dbt_internal_unit_test_expected as (
  select
    {{ expected_column_names | join(', ') }}, {{ string_literal("expected") }} as {{ adapter.quote("actual_or_expected") }}
  from (
    {{ expected_fixture_sql }}
  ) _dbt_internal_unit_test_expected
)
-- Union actual and expected results
select * from dbt_internal_unit_test_actual
union all
select * from dbt_internal_unit_test_expected
{%- endmacro %}
