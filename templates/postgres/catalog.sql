{#- The tables, views and columns of some schemas of one database, for
    `target/catalog.json`, as dbt-postgres's `postgres__get_catalog` lists
    them (pg_catalog: comments and owners, materialized views). A connection
    reaches one database: another database's schemas give no rows.
    `database` and `schemas` are SQL string literals. -#}
select
    {{ database }} as table_database,
    sch.nspname as table_schema,
    tbl.relname as table_name,
    case tbl.relkind
        when 'v' then 'VIEW'
        when 'm' then 'MATERIALIZED VIEW'
        else 'BASE TABLE'
    end as table_type,
    tbl_desc.description as table_comment,
    col.attname as column_name,
    col.attnum as column_index,
    pg_catalog.format_type(col.atttypid, col.atttypmod) as column_type,
    col_desc.description as column_comment,
    pg_catalog.pg_get_userbyid(tbl.relowner) as table_owner
from pg_catalog.pg_namespace sch
join pg_catalog.pg_class tbl on tbl.relnamespace = sch.oid
join pg_catalog.pg_attribute col on col.attrelid = tbl.oid
left outer join pg_catalog.pg_description tbl_desc
  on tbl_desc.objoid = tbl.oid and tbl_desc.objsubid = 0
left outer join pg_catalog.pg_description col_desc
  on col_desc.objoid = tbl.oid and col_desc.objsubid = col.attnum
where upper(current_database()) = upper({{ database }})
  and upper(sch.nspname) in ({% for s in schemas %}upper({{ s }}){% if not loop.last %}, {% endif %}{% endfor %})
  and not pg_catalog.pg_is_other_temp_schema(sch.oid)
  and tbl.relpersistence in ('p', 'u')
  and tbl.relkind in ('r', 'v', 'f', 'p', 'm')
  and col.attnum > 0
  and not col.attisdropped
order by sch.nspname, tbl.relname, col.attnum
