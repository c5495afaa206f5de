{#- Postgres: only what differs from templates/default. -#}

{#- dbt-postgres: delete+insert with a unique_key, append without. -#}
{% macro postgres__get_incremental_default_sql(arg_dict) %}
  {%- if arg_dict["unique_key"] -%}
    {{ return(get_incremental_delete_insert_sql(arg_dict)) }}
  {%- else -%}
    {{ return(get_incremental_append_sql(arg_dict)) }}
  {%- endif -%}
{% endmacro %}

{#- dbt-postgres: each batch is merged on the unique_key (required), so rows
    of a batch window that vanished upstream stay, as they do in dbt. The
    batch is checked first like any merge: NULL or repeated keys are refused. -#}
{% macro postgres__get_incremental_microbatch_sql(arg_dict) %}
  {%- if not arg_dict["unique_key"] -%}
    {{ exceptions.raise_compiler_error("microbatch on Postgres merges each batch on its `unique_key`, and `" ~ this.identifier ~ "` has none: set `unique_key` in its config (dbt-postgres requires it too)") }}
  {%- endif -%}
  {{ xform_check_unique_key(arg_dict["temp_relation"], arg_dict["unique_key"]) }}
  {{ return(get_incremental_merge_sql(arg_dict)) }}
{% endmacro %}

{#- Postgres keeps the first 63 characters of a name and drops the rest
    without a word, so the relations a materialization makes beside a model
    are named from as much of the model's name as leaves room for their
    suffix (as dbt-postgres names them): `<name>__dbt_tmp` and
    `<name>__dbt_backup` of a long name stay distinct from each other and
    from the model. `dstring` adds the time of day (dbt-postgres's temporary
    tables). -#}
{% macro postgres__make_relation_with_suffix(base_relation, suffix, dstring) -%}
  {%- if dstring -%}
    {%- set suffix = suffix ~ modules.datetime.datetime.now().strftime("%H%M%S%f") -%}
  {%- endif -%}
  {%- set room = base_relation.relation_max_name_length() - suffix | length -%}
  {%- if room < 0 -%}
    {{ exceptions.raise_compiler_error("Relation suffix is too long (" ~ (suffix | length) ~ " characters). Maximum length is " ~ base_relation.relation_max_name_length() ~ " characters.") }}
  {%- endif -%}
  {{ return(base_relation.incorporate(path={"identifier": base_relation.identifier[:room] ~ suffix})) }}
{%- endmacro %}

{% macro postgres__make_intermediate_relation(base_relation, suffix) -%}
  {{ return(postgres__make_relation_with_suffix(base_relation, suffix, dstring=False)) }}
{%- endmacro %}

{% macro postgres__make_backup_relation(base_relation, backup_relation_type, suffix) -%}
  {{ return(postgres__make_relation_with_suffix(base_relation, suffix, dstring=False).incorporate(type=backup_relation_type)) }}
{%- endmacro %}

{#- xform stages an incremental batch in the model's own schema, inside the
    model's transaction (see templates/default's incremental), where
    dbt-postgres uses a temporary table with the time in its name: the name
    is fitted the same way, without the time. -#}
{% macro postgres__make_temp_relation(base_relation, suffix) -%}
  {{ return(postgres__make_relation_with_suffix(base_relation, suffix, dstring=False)) }}
{%- endmacro %}

{#- A temporary table lives in the session's own schema, named without
    database or schema. -#}
{% macro postgres__make_snapshot_staging_relation(target_relation) -%}
  {{ return(postgres__make_relation_with_suffix(target_relation, '__dbt_tmp', dstring=False).incorporate(path={'schema': none, 'database': none})) }}
{%- endmacro %}

{% macro postgres__get_drop_sql(relation) -%}
  {%- if relation.type == 'materialized_view' -%}
    drop materialized view if exists {{ relation.render() }} cascade
  {%- else -%}
    drop {{ relation.type or 'table' }} if exists {{ relation.render() }} cascade
  {%- endif -%}
{%- endmacro %}

{% macro postgres__rename_relation(from_relation, to_relation) -%}
  {%- call statement('rename_relation') -%}
    alter {{ 'materialized view' if from_relation.type == 'materialized_view' else (from_relation.type or 'table') }} {{ from_relation.render() }} rename to {{ to_relation.include(database=False, schema=False).render() }}
  {%- endcall -%}
{%- endmacro %}

{#- A schema is named without its database. -#}
{% macro postgres__create_schema(relation) -%}
  {%- call statement('create_schema', auto_begin=False) -%}
    create schema if not exists {{ relation.without_identifier().include(database=False).render() }}
  {%- endcall -%}
{%- endmacro %}

{% macro postgres__drop_schema(relation) -%}
  {%- call statement('drop_schema', auto_begin=False) -%}
    drop schema if exists {{ relation.without_identifier().include(database=False).render() }} cascade
  {%- endcall -%}
{%- endmacro %}

{#- Grants the connecting role gave to others on the relation, as
    dbt-postgres lists them. -#}
{% macro postgres__get_show_grant_sql(relation) -%}
  select grantee, privilege_type
  from information_schema.role_table_grants
  where grantor = current_role
    and grantee != current_role
    and table_schema = '{{ relation.schema }}'
    and table_name = '{{ relation.identifier }}'
{%- endmacro %}

{#- A rebuilt relation is new: its grants are not carried over. -#}
{% macro postgres__copy_grants() -%}
  {{ return(False) }}
{%- endmacro %}
