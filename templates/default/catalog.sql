{#- The tables, views and columns of some schemas of one database, for
    `target/catalog.json` (`xform docs generate`), from the standard
    information schema. `database` and `schemas` are SQL string literals.
    Columns, in order: table_database, table_schema, table_name, table_type,
    table_comment, column_name, column_index, column_type, column_comment,
    table_owner. -#}
select
    t.table_catalog as table_database,
    t.table_schema,
    t.table_name,
    t.table_type,
    null as table_comment,
    c.column_name,
    c.ordinal_position as column_index,
    c.data_type as column_type,
    null as column_comment,
    null as table_owner
from information_schema.tables t
join information_schema.columns c
  on c.table_catalog = t.table_catalog
 and c.table_schema = t.table_schema
 and c.table_name = t.table_name
where upper(t.table_catalog) = upper({{ database }})
  and upper(t.table_schema) in ({% for s in schemas %}upper({{ s }}){% if not loop.last %}, {% endif %}{% endfor %})
order by t.table_schema, t.table_name, c.ordinal_position
