{#- The tables, views and columns of some schemas of one database, for
    `target/catalog.json`, as dbt-duckdb's `duckdb__get_catalog` lists them
    (`duckdb_tables()`, `duckdb_views()`, `duckdb_columns()`: comments are
    there, not in the information schema). `database` and `schemas` are SQL
    string literals. -#}
with tables as (
    select database_name as table_database, schema_name as table_schema, table_name,
           'BASE TABLE' as table_type, comment as table_comment
    from duckdb_tables()
    union all
    select database_name, schema_name, view_name, 'VIEW', comment
    from duckdb_views()
),
columns as (
    select database_name as table_database, schema_name as table_schema, table_name,
           column_name, column_index, data_type as column_type, comment as column_comment
    from duckdb_columns()
)
select
    tables.table_database,
    tables.table_schema,
    tables.table_name,
    tables.table_type,
    tables.table_comment,
    columns.column_name,
    columns.column_index,
    columns.column_type,
    columns.column_comment,
    null as table_owner
from tables
join columns using (table_database, table_schema, table_name)
where upper(tables.table_database) = upper({{ database }})
  and upper(tables.table_schema) in ({% for s in schemas %}upper({{ s }}){% if not loop.last %}, {% endif %}{% endfor %})
order by tables.table_schema, tables.table_name, columns.column_index
