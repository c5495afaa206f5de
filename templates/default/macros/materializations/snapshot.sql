{#- Snapshots keep the history of a query's rows (type-2 slowly changing
    dimensions) in the tables dbt-core 1.11 builds:

    - the first run copies the query and adds `dbt_scd_id`, `dbt_updated_at`,
      `dbt_valid_from` and `dbt_valid_to` (plus `dbt_is_deleted` with
      `hard_deletes='new_record'`); the names follow
      `snapshot_meta_column_names`;
    - later runs stage the changes (new versions to insert, current versions
      to close) in a temporary table, add columns the query gained, close
      versions by setting `dbt_valid_to`, and insert the new versions.

    A run is one transaction: if any statement fails, the snapshot table is
    left as it was. The pieces keep dbt's macro names (`strategy_dispatch`,
    `snapshot_<name>_strategy`, `snapshot_hash_arguments`,
    `snapshot_get_time`, `snapshot_staging_table`, `build_snapshot_table`,
    `snapshot_merge_sql`, ...) so that a project can override any of them
    or add a custom strategy. -#}
{% materialization snapshot, default %}
  {%- set strategy_name = config.get('strategy') -%}
  {{ snapshot_validate_config() }}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- if existing_relation is not none and not existing_relation.is_table -%}
    {{ exceptions.raise_compiler_error(
        "the snapshot would write to " ~ existing_relation.render()
        ~ ", which is a " ~ existing_relation.type ~ ", not a table; drop it first") }}
  {%- endif -%}
  {%- set target_exists = existing_relation is not none -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {%- set strategy_macro = strategy_dispatch(strategy_name) -%}
  {%- set strategy = strategy_macro(model, 'snapshotted_data', 'source_data', model['config'], target_exists) -%}

  {%- if not target_exists %}
    {% call statement('main') -%}
      {{ create_table_as(False, target_relation, build_snapshot_table(strategy, sql)) }}
    {%- endcall %}
    {{ adapter.cache_added(target_relation) }}
  {%- else %}
    {%- set names = get_snapshot_table_column_names() -%}
    {{ snapshot_validate_target(target_relation, names, strategy) }}
    {%- set staging_relation = build_snapshot_staging_table(strategy, sql, target_relation) -%}
    {#- Staging columns that only steer the merge. -#}
    {%- set internal = ['dbt_change_type', 'DBT_CHANGE_TYPE', 'dbt_unique_key', 'DBT_UNIQUE_KEY'] -%}
    {%- for name in snapshot_key_names(strategy.unique_key) -%}
      {%- do internal.append(name) -%}
      {%- do internal.append(name | upper) -%}
    {%- endfor -%}
    {%- set missing_columns = [] -%}
    {%- for column in adapter.get_missing_columns(staging_relation, target_relation) if column.name not in internal -%}
      {%- do missing_columns.append(column) -%}
    {%- endfor -%}
    {{ create_columns(target_relation, missing_columns) }}
    {%- set insert_columns = [] -%}
    {%- for column in adapter.get_columns_in_relation(staging_relation) if column.name not in internal -%}
      {%- do insert_columns.append(adapter.quote(column.name)) -%}
    {%- endfor %}
    {% call statement('main') -%}
      {{ snapshot_merge_sql(target_relation, staging_relation, insert_columns) }}
    {%- endcall %}
    {{ post_snapshot(staging_relation) }}
  {%- endif %}

  {{ apply_grants(target_relation, config.get('grants'), should_revoke=should_revoke(target_exists, full_refresh_mode=False)) }}
  {{ persist_docs(target_relation, model) }}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#- The names of the meta columns: dbt's defaults, renamed by the
    `snapshot_meta_column_names` config. -#}
{% macro get_snapshot_table_column_names() -%}
  {%- set configured = config.get('snapshot_meta_column_names') or {} -%}
  {%- set names = {} -%}
  {%- for column in ['dbt_valid_to', 'dbt_valid_from', 'dbt_scd_id', 'dbt_updated_at', 'dbt_is_deleted'] -%}
    {%- do names.update({column: configured[column] or column}) -%}
  {%- endfor -%}
  {{ return(names) }}
{%- endmacro %}

{#- dbt refuses these configs when it parses the project. -#}
{% macro snapshot_validate_config() -%}
  {%- set strategy = config.get('strategy') -%}
  {%- set check_cols = config.get('check_cols') -%}
  {%- if not strategy or not config.get('unique_key') -%}
    {{ exceptions.raise_compiler_error("a snapshot needs both a `strategy` and a `unique_key` config") }}
  {%- endif -%}
  {%- if strategy == 'check' -%}
    {%- if not check_cols -%}
      {{ exceptions.raise_compiler_error("the check strategy needs a `check_cols` config: a list of columns, or 'all'") }}
    {%- elif check_cols is string and check_cols != 'all' -%}
      {{ exceptions.raise_compiler_error("invalid `check_cols` '" ~ check_cols ~ "': expected 'all' or a list of columns") }}
    {%- endif -%}
  {%- elif strategy == 'timestamp' -%}
    {%- if not config.get('updated_at') -%}
      {{ exceptions.raise_compiler_error("the timestamp strategy needs an `updated_at` config") }}
    {%- elif check_cols -%}
      {{ exceptions.raise_compiler_error("the timestamp strategy takes no `check_cols` config") }}
    {%- endif -%}
  {%- endif -%}
  {%- if config.get('materialized') and config.get('materialized') != 'snapshot' -%}
    {{ exceptions.raise_compiler_error("a snapshot must have materialized='snapshot'") }}
  {%- endif -%}
{%- endmacro %}

{#- The existing table must carry the meta columns this run writes. -#}
{% macro snapshot_validate_target(relation, names, strategy) -%}
  {%- set present = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
  {%- set missing = [] -%}
  {%- for column in ['dbt_scd_id', 'dbt_valid_from', 'dbt_valid_to'] if names[column] | lower not in present -%}
    {%- do missing.append(names[column]) -%}
  {%- endfor -%}
  {%- if strategy.hard_deletes == 'new_record' and names['dbt_is_deleted'] not in present -%}
    {%- do missing.append(names['dbt_is_deleted']) -%}
  {%- endif -%}
  {%- if missing -%}
    {{ exceptions.raise_compiler_error(
        "snapshot table " ~ relation.render() ~ ' is missing configured columns ("' ~ missing | join('", "')
        ~ '"): it was built with other snapshot settings; rename the columns or rebuild the table') }}
  {%- endif -%}
{%- endmacro %}

{#- The unique key as a list of column expressions. -#}
{% macro snapshot_unique_keys(unique_key) -%}
  {%- if unique_key is string -%}
    {{ return([unique_key]) }}
  {%- endif -%}
  {{ return(unique_key | list) }}
{%- endmacro %}

{#- `strategy_dispatch('check')` is `snapshot_check_strategy`;
    `'pkg.name'` looks `snapshot_name_strategy` up in package `pkg`. -#}
{% macro strategy_dispatch(name) -%}
  {%- set package_name = none -%}
  {%- set short_name = name -%}
  {%- if '.' in name -%}
    {%- set package_name, short_name = name.split('.', 1) -%}
  {%- endif -%}
  {%- set macro_name = 'snapshot_' ~ short_name ~ '_strategy' -%}
  {%- if package_name is none -%}
    {%- set found = context[macro_name] -%}
  {%- else -%}
    {%- set namespace_ = context[package_name] -%}
    {%- if namespace_ is undefined or namespace_ is none -%}
      {{ exceptions.raise_compiler_error("snapshot strategy `" ~ name ~ "`: no package named `" ~ package_name ~ "`") }}
    {%- endif -%}
    {%- set found = namespace_[macro_name] -%}
  {%- endif -%}
  {%- if found is undefined or found is none -%}
    {{ exceptions.raise_compiler_error("unknown snapshot strategy `" ~ name ~ "`: the built-in ones are timestamp and check; a custom one is a macro named `" ~ macro_name ~ "`") }}
  {%- endif -%}
  {{ return(found) }}
{%- endmacro %}

{#- md5 of the arguments cast to text, NULL as '', joined by '|'. -#}
{% macro snapshot_hash_arguments(args) -%}
  {{ adapter.dispatch('snapshot_hash_arguments', 'dbt')(args) }}
{%- endmacro %}

{% macro default__snapshot_hash_arguments(args) -%}
  md5({% for arg in args %}coalesce(cast({{ arg }} as varchar ), ''){{ " || '|' || " if not loop.last }}{% endfor %})
{%- endmacro %}

{#- The snapshot's "now": the start of its transaction, as a timestamp
    without time zone (dbt-duckdb's and dbt-postgres's choice). -#}
{% macro snapshot_get_time() -%}
  {{ adapter.dispatch('snapshot_get_time', 'dbt')() }}
{%- endmacro %}

{% macro default__snapshot_get_time() -%}
  now()::timestamp
{%- endmacro %}

{#- A version changed when its `updated_at` is later than the valid_from of
    the current version. -#}
{% macro snapshot_timestamp_strategy(node, snapshotted_rel, current_rel, model_config, target_exists) -%}
  {%- set unique_key = config.get('unique_key') -%}
  {%- set updated_at = config.get('updated_at') -%}
  {%- set names = get_snapshot_table_column_names() -%}
  {%- set hard_deletes = adapter.get_hard_deletes_behavior(config) -%}
  {#- Compared with the meta column, which is there even if the table was
      built by the check strategy. -#}
  {%- set row_changed = '(' ~ snapshotted_rel ~ '.' ~ names.dbt_valid_from ~ ' < ' ~ current_rel ~ '.' ~ updated_at ~ ')' -%}
  {{ return({
      'unique_key': unique_key,
      'updated_at': updated_at,
      'row_changed': row_changed,
      'scd_id': snapshot_hash_arguments(snapshot_scd_args(unique_key, updated_at)),
      'invalidate_hard_deletes': hard_deletes == 'invalidate',
      'hard_deletes': hard_deletes,
  }) }}
{%- endmacro %}

{#- What dbt_scd_id hashes: the unique key column(s), then updated_at. -#}
{% macro snapshot_scd_args(unique_key, updated_at) -%}
  {%- set args = [] -%}
  {%- for key in snapshot_unique_keys(unique_key) -%}
    {%- do args.append(key) -%}
  {%- endfor -%}
  {%- do args.append(updated_at) -%}
  {{ return(args) }}
{%- endmacro %}

{#- A version changed when one of the checked columns differs (NULLs
    compare equal to each other). A checked column the table does not have
    yet changes every row. -#}
{% macro snapshot_check_strategy(node, snapshotted_rel, current_rel, model_config, target_exists) -%}
  {%- set unique_key = config.get('unique_key') -%}
  {%- set check_cols_config = config.get('check_cols') -%}
  {%- set updated_at = config.get('updated_at') or snapshot_get_time() -%}
  {%- set hard_deletes = adapter.get_hard_deletes_behavior(config) -%}
  {%- set column_added, check_cols = snapshot_check_all_get_existing_columns(node, target_exists, check_cols_config) -%}
  {%- set comparisons = [] -%}
  {%- for col in check_cols -%}
    {%- set old = snapshotted_rel ~ '.' ~ col -%}
    {%- set new = current_rel ~ '.' ~ col -%}
    {%- do comparisons.append(old ~ ' != ' ~ new ~ '\n        or\n        (\n            ((' ~ old ~ ' is null) and not (' ~ new ~ ' is null))\n            or\n            ((not ' ~ old ~ ' is null) and (' ~ new ~ ' is null))\n        )') -%}
  {%- endfor -%}
  {%- set row_changed = '(' ~ ('TRUE' if column_added else comparisons | join(' or ')) ~ ')' -%}
  {{ return({
      'unique_key': unique_key,
      'updated_at': updated_at,
      'row_changed': row_changed,
      'scd_id': snapshot_hash_arguments(snapshot_scd_args(unique_key, updated_at)),
      'invalidate_hard_deletes': hard_deletes == 'invalidate',
      'hard_deletes': hard_deletes,
  }) }}
{%- endmacro %}

{#- (whether a checked column is new to the table, the checked columns the
    table has, quoted). -#}
{% macro snapshot_check_all_get_existing_columns(node, target_exists, check_cols_config) -%}
  {%- if not target_exists -%}
    {{ return((false, [])) }}
  {%- endif -%}
  {%- if check_cols_config == 'all' -%}
    {%- set query_columns = snapshot_query_columns(node['compiled_code']) -%}
  {%- elif check_cols_config is sequence and check_cols_config | length > 0 -%}
    {#- Through a query, so that names come back as the warehouse spells them. -#}
    {%- set query_columns = snapshot_query_columns('select ' ~ check_cols_config | join(', ') ~ ' from (\n' ~ node['compiled_code'] ~ '\n) subq') -%}
  {%- else -%}
    {{ exceptions.raise_compiler_error("Invalid value for 'check_cols': " ~ check_cols_config) }}
  {%- endif -%}
  {%- set existing = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
  {%- set found = [] -%}
  {%- set state = namespace(added=false) -%}
  {%- for col in query_columns -%}
    {%- if col in existing -%}
      {%- do found.append(adapter.quote(col)) -%}
    {%- else -%}
      {%- set state.added = true -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return((state.added, found)) }}
{%- endmacro %}

{#- The column names a query returns, without running it. -#}
{% macro snapshot_query_columns(select_sql) -%}
  {% call statement('snapshot_query_columns', fetch_result=True, auto_begin=False) -%}
    select * from (
        {{ select_sql }}
    ) as __dbt_sbq
    where false
    limit 0
  {%- endcall %}
  {{ return(load_result('snapshot_query_columns').table.column_names | list) }}
{%- endmacro %}

{#- dbt_valid_to of a current version: NULL, or `dbt_valid_to_current`, typed
    like `updated_at`. -#}
{% macro get_dbt_valid_to_current(strategy, columns) -%}
  coalesce(nullif({{ strategy.updated_at }}, {{ strategy.updated_at }}), {{ config.get('dbt_valid_to_current') or 'null' }})
  as {{ columns.dbt_valid_to }}
{%- endmacro %}

{#- Whether the version whose dbt_valid_to is `valid_to` (a column,
    qualified or not) is current. -#}
{% macro snapshot_is_current(valid_to) -%}
  {%- set current = config.get('dbt_valid_to_current') -%}
  {%- if current -%}
    ({{ valid_to }} = {{ current }} or {{ valid_to }} is null)
  {%- else -%}
    {{ valid_to }} is null
  {%- endif -%}
{%- endmacro %}

{#- The first run: the query with its meta columns. -#}
{% macro build_snapshot_table(strategy, sql) -%}
  {{ adapter.dispatch('build_snapshot_table', 'dbt')(strategy, sql) }}
{%- endmacro %}

{% macro default__build_snapshot_table(strategy, sql) -%}
  {%- set names = get_snapshot_table_column_names() -%}
    select *,
        {{ strategy.scd_id }} as {{ names.dbt_scd_id }},
        {{ strategy.updated_at }} as {{ names.dbt_updated_at }},
        {{ strategy.updated_at }} as {{ names.dbt_valid_from }},
        {{ get_dbt_valid_to_current(strategy, names) }}
        {%- if strategy.hard_deletes == 'new_record' %},
        'False' as {{ names.dbt_is_deleted }}
        {%- endif %}
    from (
        {{ sql }}
    ) sbq
{%- endmacro %}

{#- The temporary table the changes are staged in. -#}
{% macro make_snapshot_staging_relation(target_relation) -%}
  {{ return(adapter.dispatch('make_snapshot_staging_relation', 'dbt')(target_relation)) }}
{%- endmacro %}

{% macro default__make_snapshot_staging_relation(target_relation) -%}
  {#- DuckDB keeps temporary tables in the `temp` catalog. -#}
  {{ return(target_relation.incorporate(path={
      'database': 'temp', 'schema': 'main',
      'identifier': target_relation.identifier ~ '__dbt_tmp'})) }}
{%- endmacro %}

{% macro build_snapshot_staging_table(strategy, sql, target_relation) -%}
  {%- set staging_relation = make_snapshot_staging_relation(target_relation) -%}
  {% call statement('build_snapshot_staging_relation') -%}
    {{ create_table_as(True, staging_relation, snapshot_staging_table(strategy, sql, target_relation)) }}
  {%- endcall %}
  {{ return(staging_relation) }}
{%- endmacro %}

{#- Key columns added to a query: `dbt_unique_key`, or `dbt_unique_key_<n>`
    for a list. -#}
{% macro snapshot_key_columns(unique_key) -%}
  {%- if unique_key is string -%}
    {{ unique_key }} as dbt_unique_key
  {%- else -%}
    {%- for key in unique_key -%}
      {{ key }} as dbt_unique_key_{{ loop.index }}{{ ", " if not loop.last }}
    {%- endfor -%}
  {%- endif -%}
{%- endmacro %}

{% macro snapshot_key_names(unique_key) -%}
  {%- if unique_key is string -%}
    {{ return(['dbt_unique_key']) }}
  {%- endif -%}
  {%- set names = [] -%}
  {%- for key in unique_key -%}
    {%- do names.append('dbt_unique_key_' ~ loop.index) -%}
  {%- endfor -%}
  {{ return(names) }}
{%- endmacro %}

{#- Rows of two relations with the same key (NULL keys never match). -#}
{% macro snapshot_key_match(unique_key, left, right) -%}
  {%- for name in snapshot_key_names(unique_key) -%}
    {%- if unique_key is string -%}
      {{ left }}.{{ name }} = {{ right }}.{{ name }}
    {%- else -%}
      ({{ left }}.{{ name }} = {{ right }}.{{ name }}){{ " and " if not loop.last }}
    {%- endif -%}
  {%- endfor -%}
{%- endmacro %}

{#- The staged changes, one row each, tagged by `dbt_change_type`:
    `insert` a new version (new key, changed row, re-appeared row, and with
    new_record the record of a deletion); `update` and `delete` close the
    current version with the given dbt_valid_to. -#}
{% macro snapshot_staging_table(strategy, source_sql, target_relation) -%}
  {{ adapter.dispatch('snapshot_staging_table', 'dbt')(strategy, source_sql, target_relation) }}
{%- endmacro %}

{% macro default__snapshot_staging_table(strategy, source_sql, target_relation) -%}
  {%- set names = get_snapshot_table_column_names() -%}
  {%- set unique_key = strategy.unique_key -%}
  {%- set keys = snapshot_key_names(unique_key) -%}
  {%- set first_key = keys[0] -%}
  {%- set now = snapshot_get_time() -%}
  {%- set new_record = strategy.hard_deletes == 'new_record' -%}
  {%- set track_deletes = new_record or strategy.hard_deletes == 'invalidate' -%}
  {%- set current = config.get('dbt_valid_to_current') -%}
  {%- set query_columns = snapshot_query_columns(source_sql) -%}
  {%- set source_columns = [] -%}
  {%- for col in query_columns -%}
    {%- do source_columns.append(adapter.quote(col)) -%}
  {%- endfor -%}
  {%- set reappeared = " or snapshotted_data." ~ names.dbt_is_deleted ~ " = 'True'" if new_record else "" -%}
  {%- if new_record -%}
    {%- set table_columns = adapter.get_columns_in_relation(target_relation) | map(attribute='name') | list -%}
    {#- A deletion record that stays current is not recorded again. -#}
    {%- set still_deleted -%}
      not (
            snapshotted_data.{{ names.dbt_is_deleted }} = 'True'
            and {% if current %}snapshotted_data.{{ names.dbt_valid_to }} = {{ current }}{% else %}snapshotted_data.{{ names.dbt_valid_to }} is null{% endif %}
        )
    {%- endset -%}
  {%- endif -%}
    with snapshot_query as (

        {{ source_sql }}

    ),

    snapshotted_data as (

        select *, {{ snapshot_key_columns(unique_key) }}
        from {{ target_relation }}
        where {{ snapshot_is_current(names.dbt_valid_to) }}

    ),

    source_data as (

        select *, {{ snapshot_key_columns(unique_key) }},
            {{ strategy.updated_at }} as {{ names.dbt_updated_at }},
            {{ strategy.updated_at }} as {{ names.dbt_valid_from }},
            {{ get_dbt_valid_to_current(strategy, names) }},
            {{ strategy.scd_id }} as {{ names.dbt_scd_id }}
        from snapshot_query

    ),

    insertions as (

        select
            'insert' as dbt_change_type,
            {%- for col in source_columns %}
            source_data.{{ col }},
            {%- endfor %}
            {%- for key in keys %}
            source_data.{{ key }},
            {%- endfor %}
            source_data.{{ names.dbt_updated_at }},
            source_data.{{ names.dbt_valid_from }},
            source_data.{{ names.dbt_valid_to }},
            source_data.{{ names.dbt_scd_id }}
            {%- if new_record %},
            'False' as {{ names.dbt_is_deleted }}
            {%- endif %}
        from source_data
        left outer join snapshotted_data
            on {{ snapshot_key_match(unique_key, 'snapshotted_data', 'source_data') }}
        where snapshotted_data.{{ first_key }} is null
            or (snapshotted_data.{{ first_key }} is not null and ({{ strategy.row_changed }}{{ reappeared }}))

    ),

    updates as (

        select
            'update' as dbt_change_type,
            {%- for col in source_columns %}
            source_data.{{ col }},
            {%- endfor %}
            {%- for key in keys %}
            source_data.{{ key }},
            {%- endfor %}
            source_data.{{ names.dbt_updated_at }},
            source_data.{{ names.dbt_valid_from }},
            source_data.{{ names.dbt_updated_at }} as {{ names.dbt_valid_to }},
            snapshotted_data.{{ names.dbt_scd_id }}
            {%- if new_record %},
            snapshotted_data.{{ names.dbt_is_deleted }}
            {%- endif %}
        from source_data
        join snapshotted_data
            on {{ snapshot_key_match(unique_key, 'snapshotted_data', 'source_data') }}
        where ({{ strategy.row_changed }}{{ reappeared }})

    )

    {%- if track_deletes %},

    deletes as (

        select
            'delete' as dbt_change_type,
            {%- for col in source_columns %}
            source_data.{{ col }},
            {%- endfor %}
            {%- for key in keys %}
            source_data.{{ key }},
            {%- endfor %}
            {{ now }} as {{ names.dbt_updated_at }},
            {{ now }} as {{ names.dbt_valid_from }},
            {{ now }} as {{ names.dbt_valid_to }},
            snapshotted_data.{{ names.dbt_scd_id }}
            {%- if new_record %},
            snapshotted_data.{{ names.dbt_is_deleted }}
            {%- endif %}
        from snapshotted_data
        left join source_data
            on {{ snapshot_key_match(unique_key, 'snapshotted_data', 'source_data') }}
        where source_data.{{ first_key }} is null
        {%- if new_record %}
            and {{ still_deleted }}
        {%- endif %}

    )
    {%- endif %}

    {%- if new_record %},

    deletion_records as (

        select
            'insert' as dbt_change_type,
            {%- for col in query_columns %}
            {{ 'snapshotted_data' if col in table_columns else 'source_data' }}.{{ adapter.quote(col) }},
            {%- endfor %}
            {%- for key in keys %}
            snapshotted_data.{{ key }},
            {%- endfor %}
            {{ now }} as {{ names.dbt_updated_at }},
            {{ now }} as {{ names.dbt_valid_from }},
            snapshotted_data.{{ names.dbt_valid_to }},
            {{ snapshot_hash_arguments(['snapshotted_data.' ~ names.dbt_scd_id, now]) }} as {{ names.dbt_scd_id }},
            'True' as {{ names.dbt_is_deleted }}
        from snapshotted_data
        left join source_data
            on {{ snapshot_key_match(unique_key, 'snapshotted_data', 'source_data') }}
        where source_data.{{ first_key }} is null
            and {{ still_deleted }}

    )
    {%- endif %}

    select * from insertions
    union all
    select * from updates
    {%- if track_deletes %}
    union all
    select * from deletes
    {%- endif %}
    {%- if new_record %}
    union all
    select * from deletion_records
    {%- endif %}
{%- endmacro %}

{#- Closes the versions staged as `update`/`delete` and inserts the ones
    staged as `insert`. Two statements rather than a MERGE: a re-appearing
    row may share its dbt_scd_id with a closed version and must still be
    inserted. -#}
{% macro snapshot_merge_sql(target, source, insert_cols) -%}
  {{ adapter.dispatch('snapshot_merge_sql', 'dbt')(target, source, insert_cols) }}
{%- endmacro %}

{% macro default__snapshot_merge_sql(target, source, insert_cols) -%}
  {%- set names = get_snapshot_table_column_names() -%}
    update {{ target.render() }} as DBT_INTERNAL_TARGET
    set {{ names.dbt_valid_to }} = DBT_INTERNAL_SOURCE.{{ names.dbt_valid_to }}
    from {{ source.render() }} as DBT_INTERNAL_SOURCE
    where DBT_INTERNAL_SOURCE.{{ names.dbt_scd_id }}::text = DBT_INTERNAL_TARGET.{{ names.dbt_scd_id }}::text
      and DBT_INTERNAL_SOURCE.dbt_change_type::text in ('update'::text, 'delete'::text)
      and {{ snapshot_is_current('DBT_INTERNAL_TARGET.' ~ names.dbt_valid_to) }};

    insert into {{ target.render() }} ({{ insert_cols | join(', ') }})
    select {% for column in insert_cols -%}
        DBT_INTERNAL_SOURCE.{{ column }}{{ ", " if not loop.last }}
    {%- endfor %}
    from {{ source.render() }} as DBT_INTERNAL_SOURCE
    where DBT_INTERNAL_SOURCE.dbt_change_type::text = 'insert'::text;
{%- endmacro %}

{#- Adds columns the query gained to the snapshot table. -#}
{% macro create_columns(relation, columns) -%}
  {{ adapter.dispatch('create_columns', 'dbt')(relation, columns) }}
{%- endmacro %}

{% macro default__create_columns(relation, columns) -%}
  {%- for column in columns %}
    {% call statement() -%}
      alter table {{ relation.render() }} add column {{ adapter.quote(column.name) }} {{ column.data_type }};
    {%- endcall %}
  {%- endfor %}
{%- endmacro %}

{#- Drops the staging table, inside the transaction. -#}
{% macro post_snapshot(staging_relation) -%}
  {{ adapter.dispatch('post_snapshot', 'dbt')(staging_relation) }}
{%- endmacro %}

{% macro default__post_snapshot(staging_relation) -%}
  {% call statement('drop_snapshot_staging') -%}
    drop table if exists {{ staging_relation.render() }}
  {%- endcall %}
{%- endmacro %}
