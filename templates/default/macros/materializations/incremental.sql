{#- Incremental models. The new rows are first staged in `<name>__dbt_tmp`
    inside the model's transaction; schema changes are applied, the new
    batch is checked (xform refuses NULL or duplicate unique keys instead of
    silently duplicating rows), and the strategy's SQL runs. The whole update
    commits at once, so a failure leaves the previous table as it was. -#}
{% materialization incremental, default %}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set temp_relation = make_temp_relation(target_relation) -%}
  {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
  {%- set backup_type = existing_relation.type if existing_relation is not none else 'table' -%}
  {%- set backup_relation = make_backup_relation(target_relation, backup_type) -%}
  {%- set unique_key = config.get('unique_key') -%}
  {%- set full_refresh_mode = should_full_refresh() or (existing_relation is not none and existing_relation.is_view) -%}
  {%- set on_schema_change = incremental_validate_on_schema_change(config.get('on_schema_change'), default='ignore') -%}
  {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
  {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}
  {{ drop_relation_if_exists(load_cached_relation(temp_relation)) }}
  {%- set need_swap = false -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {%- if existing_relation is none -%}
    {%- set build_sql = get_create_table_as_sql(False, target_relation, sql) -%}
  {%- elif full_refresh_mode -%}
    {%- set build_sql = get_create_table_as_sql(False, intermediate_relation, sql) -%}
    {%- set need_swap = true -%}
  {%- else -%}
    {% call statement('stage', auto_begin=True) -%}
      {{ get_create_table_as_sql(False, temp_relation, sql) }}
    {%- endcall %}
    {{ adapter.cache_added(temp_relation.incorporate(type='table')) }}
    {%- set strategy = config.get('incremental_strategy') or 'default' -%}
    {%- if unique_key and strategy in ['merge', 'delete+insert', 'default'] -%}
      {{ xform_check_unique_key(temp_relation, unique_key) }}
    {%- endif -%}
    {%- set dest_columns = process_schema_changes(on_schema_change, temp_relation, existing_relation) -%}
    {%- if not dest_columns -%}
      {%- set dest_columns = adapter.get_columns_in_relation(existing_relation) -%}
    {%- endif -%}
    {%- set strategy_macro = adapter.get_incremental_strategy_macro(context, strategy) -%}
    {%- set predicates = config.get('incremental_predicates') or config.get('predicates') -%}
    {%- set build_sql = strategy_macro({'target_relation': target_relation, 'temp_relation': temp_relation, 'unique_key': unique_key, 'dest_columns': dest_columns, 'incremental_predicates': predicates}) -%}
  {%- endif -%}

  {% call statement('main') -%}
    {{ build_sql }}
  {%- endcall %}

  {%- if need_swap -%}
    {{ adapter.cache_added(intermediate_relation) }}
    {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}
  {%- endif -%}
  {%- if existing_relation is not none and not full_refresh_mode -%}
    {{ adapter.drop_relation(temp_relation.incorporate(type='table')) }}
  {%- endif -%}

  {{ apply_grants(target_relation, config.get('grants'), should_revoke=should_revoke(existing_relation, full_refresh_mode)) }}
  {{ persist_docs(target_relation, model) }}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ drop_relation_if_exists(backup_relation if need_swap else none) }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{% macro incremental_validate_on_schema_change(on_schema_change, default='ignore') %}
  {%- if on_schema_change not in ['sync_all_columns', 'append_new_columns', 'fail', 'ignore'] -%}
    {%- if on_schema_change -%}
      {{ log("invalid on_schema_change `" ~ on_schema_change ~ "`; expected ignore, fail, append_new_columns or sync_all_columns; using `" ~ default ~ "`", info=True) }}
    {%- endif -%}
    {{ return(default) }}
  {%- endif -%}
  {{ return(on_schema_change) }}
{% endmacro %}

{#- The unique key as a list of column names. -#}
{% macro xform_key_columns(unique_key) -%}
  {%- if unique_key is string -%}
    {{ return([unique_key]) }}
  {%- else -%}
    {{ return(unique_key | list) }}
  {%- endif -%}
{%- endmacro %}

{#- Refuses a batch whose unique key has NULLs or duplicates: merging it would
    duplicate rows in the target (NULL never equals NULL) or fail halfway.
    `unique_key_nulls: match` makes NULL keys match each other instead. -#}
{% macro xform_check_unique_key(relation, unique_key) -%}
  {%- set keys = xform_key_columns(unique_key) -%}
  {%- set key_list = keys | join(', ') -%}
  {%- set null_safe = config.get('unique_key_nulls') == 'match' -%}
  {%- if not null_safe -%}
    {%- set nulls = run_query("select " ~ key_list ~ " from " ~ relation.render() ~ " where " ~ (keys | map('string') | map('trim') | join(' is null or ')) ~ " is null limit 5") -%}
    {%- if nulls.rows | length > 0 -%}
      {{ exceptions.raise_compiler_error("the new rows of `" ~ this.identifier ~ "` have NULL in unique_key `" ~ key_list ~ "`; merging them would add a duplicate on every run (NULL matches nothing). Filter them out, or set `unique_key_nulls: 'match'` to treat NULL keys as equal. Sample: " ~ xform_sample(nulls)) }}
    {%- endif -%}
  {%- endif -%}
  {%- set dups = run_query("select " ~ key_list ~ ", count(*) as n from " ~ relation.render() ~ " group by " ~ key_list ~ " having count(*) > 1 order by n desc limit 5") -%}
  {%- if dups.rows | length > 0 -%}
    {{ exceptions.raise_compiler_error("the new rows of `" ~ this.identifier ~ "` repeat unique_key `" ~ key_list ~ "`; merging them would duplicate rows in the target. Deduplicate the model's query on the key. Sample (key values, count): " ~ xform_sample(dups)) }}
  {%- endif -%}
{%- endmacro %}

{% macro xform_sample(table) -%}
  {%- set out = [] -%}
  {%- for row in table.rows -%}
    {%- do out.append("(" ~ (row | map('string') | join(', ')) ~ ")") -%}
  {%- endfor -%}
  {{ return(out | join('; ')) }}
{%- endmacro %}

{% macro xform_key_match(keys, left, right) -%}
  {%- set null_safe = config.get('unique_key_nulls') == 'match' -%}
  {%- set parts = [] -%}
  {%- for k in keys -%}
    {%- do parts.append(left ~ "." ~ k ~ (" is not distinct from " if null_safe else " = ") ~ right ~ "." ~ k) -%}
  {%- endfor -%}
  {{ return(parts | join(' and ')) }}
{%- endmacro %}

{% macro get_incremental_default_sql(arg_dict) %}
  {{ return(adapter.dispatch('get_incremental_default_sql', 'dbt')(arg_dict)) }}
{% endmacro %}

{% macro default__get_incremental_default_sql(arg_dict) %}
  {{ return(get_incremental_append_sql(arg_dict)) }}
{% endmacro %}

{% macro get_incremental_append_sql(arg_dict) %}
  {{ return(adapter.dispatch('get_incremental_append_sql', 'dbt')(arg_dict)) }}
{% endmacro %}

{% macro default__get_incremental_append_sql(arg_dict) %}
  {{ return(get_insert_into_sql(arg_dict["target_relation"], arg_dict["temp_relation"], arg_dict["dest_columns"])) }}
{% endmacro %}

{% macro get_insert_into_sql(target_relation, temp_relation, dest_columns) %}
  {%- set cols = dest_columns | map(attribute='quoted') | join(', ') -%}
    insert into {{ target_relation.render() }} ({{ cols }})
    select {{ cols }} from {{ temp_relation.render() }}
{% endmacro %}

{% macro get_incremental_merge_sql(arg_dict) %}
  {{ return(adapter.dispatch('get_incremental_merge_sql', 'dbt')(arg_dict)) }}
{% endmacro %}

{% macro default__get_incremental_merge_sql(arg_dict) %}
  {{ return(get_merge_sql(arg_dict["target_relation"], arg_dict["temp_relation"], arg_dict["unique_key"], arg_dict["dest_columns"], arg_dict["incremental_predicates"])) }}
{% endmacro %}

{% macro get_merge_sql(target, source, unique_key, dest_columns, incremental_predicates=none) -%}
  {{ return(adapter.dispatch('get_merge_sql', 'dbt')(target, source, unique_key, dest_columns, incremental_predicates)) }}
{%- endmacro %}

{% macro default__get_merge_sql(target, source, unique_key, dest_columns, incremental_predicates=none) -%}
  {%- set conditions = [] -%}
  {%- if unique_key -%}
    {%- do conditions.append(xform_key_match(xform_key_columns(unique_key), 'DBT_INTERNAL_SOURCE', 'DBT_INTERNAL_DEST')) -%}
  {%- else -%}
    {%- do conditions.append('false') -%}
  {%- endif -%}
  {%- for p in (incremental_predicates or []) -%}
    {%- do conditions.append(p) -%}
  {%- endfor -%}
  {%- set update_columns = config.get('merge_update_columns') -%}
  {%- set exclude = config.get('merge_exclude_columns') or [] -%}
  {%- set cols = dest_columns | map(attribute='quoted') | list -%}
  {%- set names = dest_columns | map(attribute='name') | list -%}
  {%- set updates = [] -%}
  {%- for c in dest_columns -%}
    {%- if (update_columns is none or c.name in update_columns) and c.name not in exclude -%}
      {%- do updates.append(c.quoted ~ " = DBT_INTERNAL_SOURCE." ~ c.quoted) -%}
    {%- endif -%}
  {%- endfor -%}
    merge into {{ target.render() }} as DBT_INTERNAL_DEST
    using {{ source.render() }} as DBT_INTERNAL_SOURCE
    on ({{ conditions | join(') and (') }})
  {%- if unique_key and updates %}
    when matched then update set {{ updates | join(', ') }}
  {%- endif %}
    when not matched then insert ({{ cols | join(', ') }})
    values ({% for c in cols %}DBT_INTERNAL_SOURCE.{{ c }}{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}

{% macro get_incremental_delete_insert_sql(arg_dict) %}
  {{ return(adapter.dispatch('get_incremental_delete_insert_sql', 'dbt')(arg_dict)) }}
{% endmacro %}

{% macro default__get_incremental_delete_insert_sql(arg_dict) %}
  {{ return(get_delete_insert_merge_sql(arg_dict["target_relation"], arg_dict["temp_relation"], arg_dict["unique_key"], arg_dict["dest_columns"], arg_dict["incremental_predicates"])) }}
{% endmacro %}

{% macro get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates=none) -%}
  {{ return(adapter.dispatch('get_delete_insert_merge_sql', 'dbt')(target, source, unique_key, dest_columns, incremental_predicates)) }}
{%- endmacro %}

{% macro default__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates=none) -%}
  {%- if unique_key %}
    delete from {{ target.render() }} as DBT_INTERNAL_DEST
    where exists (
      select 1 from {{ source.render() }} as DBT_INTERNAL_SOURCE
      where {{ xform_key_match(xform_key_columns(unique_key), 'DBT_INTERNAL_SOURCE', 'DBT_INTERNAL_DEST') }}
    )
    {%- for p in (incremental_predicates or []) %}
    and ({{ p }})
    {%- endfor %};
  {% endif -%}
  {{ get_insert_into_sql(target, source, dest_columns) }}
{%- endmacro %}

{#- on_schema_change: compares the staged batch with the target and adds,
    drops or retypes columns as configured. Returns the columns to write, or
    none when nothing changed. -#}
{% macro process_schema_changes(on_schema_change, source_relation, target_relation) %}
  {%- if on_schema_change == 'ignore' -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set source_columns = adapter.get_columns_in_relation(source_relation) -%}
  {%- set target_columns = adapter.get_columns_in_relation(target_relation) -%}
  {%- set target_names = target_columns | map(attribute='name') | map('lower') | list -%}
  {%- set source_names = source_columns | map(attribute='name') | map('lower') | list -%}
  {%- set add = [] -%}{%- set remove = [] -%}{%- set retype = [] -%}
  {%- for c in source_columns if (c.name | lower) not in target_names -%}{%- do add.append(c) -%}{%- endfor -%}
  {%- for c in target_columns if (c.name | lower) not in source_names -%}{%- do remove.append(c) -%}{%- endfor -%}
  {%- for s in source_columns -%}
    {%- for t in target_columns if (t.name | lower) == (s.name | lower) and t.data_type != s.data_type -%}
      {%- do retype.append(s) -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- if not (add or remove or retype) -%}
    {{ return(none) }}
  {%- endif -%}
  {%- if on_schema_change == 'fail' -%}
    {{ exceptions.raise_compiler_error("the columns of incremental model `" ~ this.identifier ~ "` changed (added: " ~ (add | map(attribute='name') | join(', ') or 'none') ~ "; removed: " ~ (remove | map(attribute='name') | join(', ') or 'none') ~ "; retyped: " ~ (retype | map(attribute='name') | join(', ') or 'none') ~ ") and on_schema_change is `fail`. Run with --full-refresh, or set on_schema_change to append_new_columns or sync_all_columns") }}
  {%- endif -%}
  {%- for c in add -%}
    {% call statement('add_column') -%}
      alter table {{ target_relation.render() }} add column {{ c.quoted }} {{ c.data_type }}
    {%- endcall %}
  {%- endfor -%}
  {%- if on_schema_change == 'sync_all_columns' -%}
    {%- for c in remove -%}
      {% call statement('drop_column') -%}
        alter table {{ target_relation.render() }} drop column {{ c.quoted }}
      {%- endcall %}
    {%- endfor -%}
    {%- for c in retype -%}
      {{ alter_column_type(target_relation, c.name, c.data_type) }}
    {%- endfor -%}
  {%- endif -%}
  {#- Written: the batch's columns. A target column the batch lacks stays
      NULL in the new rows, as in dbt. -#}
  {{ return(source_columns) }}
{% endmacro %}

{% macro alter_column_type(relation, column_name, new_column_type) -%}
  {{ return(adapter.dispatch('alter_column_type', 'dbt')(relation, column_name, new_column_type)) }}
{%- endmacro %}

{#- As dbt does it: a new column, copy with a cast, drop, rename. The column
    moves to the end, exactly where dbt leaves it. -#}
{% macro default__alter_column_type(relation, column_name, new_column_type) -%}
  {%- set tmp = adapter.quote(column_name ~ '__dbt_alter') -%}
  {%- set col = adapter.quote(column_name) -%}
  {% call statement('alter_column_type') -%}
    alter table {{ relation.render() }} add column {{ tmp }} {{ new_column_type }};
    update {{ relation.render() }} set {{ tmp }} = {{ col }};
    alter table {{ relation.render() }} drop column {{ col }};
    alter table {{ relation.render() }} rename column {{ tmp }} to {{ col }}
  {%- endcall %}
{%- endmacro %}

{% macro get_incremental_microbatch_sql(arg_dict) %}
  {{ return(adapter.dispatch('get_incremental_microbatch_sql', 'dbt')(arg_dict)) }}
{% endmacro %}

{#- One batch: the target's rows in the window are replaced by the batch's
    rows in the window. -#}
{% macro default__get_incremental_microbatch_sql(arg_dict) %}
  {%- set event_time = config.get('event_time') -%}
  {%- set batch = model.get('batch') -%}
  {%- if not event_time or not batch -%}
    {{ exceptions.raise_compiler_error("microbatch needs an `event_time` config and a batch window") }}
  {%- endif -%}
  {%- set window -%}
    {{ event_time }} >= '{{ batch.event_time_start }}' and {{ event_time }} < '{{ batch.event_time_end }}'
  {%- endset -%}
  {%- set cols = arg_dict["dest_columns"] | map(attribute='quoted') | join(', ') -%}
    delete from {{ arg_dict["target_relation"].render() }}
    where {{ window }}
    {%- for p in (arg_dict["incremental_predicates"] or []) %}
    and ({{ p }})
    {%- endfor %};
    insert into {{ arg_dict["target_relation"].render() }} ({{ cols }})
    select {{ cols }} from {{ arg_dict["temp_relation"].render() }}
    where {{ window }}
{% endmacro %}
