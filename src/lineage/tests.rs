//! Lineage of SQL shapes, each with hand-written expected lineage, in the
//! dialects whose syntax differs. Expected text: one line per output column,
//! `name: origins` with `=` for a copied column and `~` for a computed one,
//! then `incomplete` when other columns may exist and `unknown name@line:col`
//! for each reference to a column that cannot exist.

use sqlparser::dialect::{
    BigQueryDialect, DatabricksDialect, Dialect, DuckDbDialect, PostgreSqlDialect, SnowflakeDialect,
};
use sqlparser::parser::Parser;

use super::sql::{TableColumns, Tables, analyze};
use super::{ColumnDef, EdgeKind};

struct Fixture;

impl Tables for Fixture {
    fn table(&self, parts: &[String]) -> Option<TableColumns> {
        let name = parts.last()?.to_ascii_lowercase();
        let cols: &[&str] = match name.as_str() {
            "orders" => &["id", "customer_id", "amount", "status", "created_at"],
            "customers" => &["id", "name", "email"],
            "payments" => &["id", "order_id", "amount", "method"],
            // A node whose columns nobody declared.
            "events" => &[],
            _ => return None,
        };
        Some(TableColumns {
            node: name.clone(),
            columns: cols
                .iter()
                .map(|c| ColumnDef {
                    name: (*c).to_owned(),
                    data_type: (*c == "amount").then(|| "double".to_owned()),
                })
                .collect(),
            complete: name != "events",
        })
    }
}

fn lineage(dialect: &dyn Dialect, sql: &str) -> String {
    let stmts = match Parser::parse_sql(dialect, sql) {
        Ok(s) => s,
        Err(e) => return format!("parse error: {e}"),
    };
    let a = analyze(&stmts, &Fixture);
    let mut out = Vec::new();
    for c in &a.shape.columns {
        let mut origins: Vec<String> = c
            .origins
            .iter()
            .map(|o| {
                let k = if o.kind == EdgeKind::Direct { "=" } else { "~" };
                format!("{k}{}.{}", o.node, o.column)
            })
            .collect();
        origins.sort();
        let ty = c
            .data_type
            .as_ref()
            .map(|t| format!(" [{t}]"))
            .unwrap_or_default();
        out.push(
            format!("{}{ty}: {}", c.name, origins.join(" "))
                .trim_end()
                .to_owned(),
        );
    }
    if !a.shape.complete {
        out.push("incomplete".to_owned());
    }
    for u in &a.unknown_columns {
        out.push(format!("unknown {}@{}:{}", u.name, u.line, u.column));
    }
    out.join("\n")
}

fn all_dialects() -> Vec<(&'static str, Box<dyn Dialect>)> {
    vec![
        ("duckdb", Box::new(DuckDbDialect {})),
        ("postgres", Box::new(PostgreSqlDialect {})),
        ("snowflake", Box::new(SnowflakeDialect {})),
    ]
}

/// The same lineage in `DuckDB`, Postgres and Snowflake.
fn assert_everywhere(sql: &str, expected: &str) {
    for (name, d) in all_dialects() {
        assert_eq!(lineage(d.as_ref(), sql), expected, "dialect {name}: {sql}");
    }
}

fn assert_in(dialect: &dyn Dialect, sql: &str, expected: &str) {
    assert_eq!(lineage(dialect, sql), expected, "{sql}");
}

#[test]
fn renames_and_pass_through() {
    assert_everywhere(
        "select id as order_id, amount, o.status as state from orders as o",
        "order_id: =orders.id\namount [double]: =orders.amount\nstate: =orders.status",
    );
}

#[test]
fn expressions_over_several_columns() {
    assert_everywhere(
        "select amount * 2 + id as score, upper(status) || '-' || id as label from orders",
        "score: ~orders.amount ~orders.id\nlabel: ~orders.id ~orders.status",
    );
}

#[test]
fn case_expressions() {
    assert_everywhere(
        "select case when status = 'done' then amount else 0 end as done_amount from orders",
        "done_amount: ~orders.amount ~orders.status",
    );
}

#[test]
fn coalesce_across_a_join() {
    assert_everywhere(
        "select coalesce(o.amount, p.amount) as amt from orders o left join payments p on p.order_id = o.id",
        "amt: ~orders.amount ~payments.amount",
    );
}

#[test]
fn ambiguous_names_resolved_by_alias() {
    assert_everywhere(
        "select o.id as order_id, c.id as customer_id, c.name from orders o join customers c on c.id = o.customer_id",
        "order_id: =orders.id\ncustomer_id: =customers.id\nname: =customers.name",
    );
}

#[test]
fn using_joins_merge_the_join_column() {
    assert_everywhere(
        "select id, status, method from orders join payments using (id)",
        "id: =orders.id =payments.id\nstatus: =orders.status\nmethod: =payments.method",
    );
    assert_everywhere(
        "select * from customers join payments using (id)",
        "id: =customers.id =payments.id\nname: =customers.name\nemail: =customers.email\norder_id: =payments.order_id\namount [double]: =payments.amount\nmethod: =payments.method",
    );
}

#[test]
fn cte_chains() {
    assert_everywhere(
        "with a as (select id, amount from orders), b as (select id as order_id, amount * 2 as doubled from a) select * from b",
        "order_id: =orders.id\ndoubled: ~orders.amount",
    );
}

#[test]
fn unions_take_names_from_the_first_branch_and_origins_from_all() {
    assert_everywhere(
        "select id, amount as value from orders union all select order_id, amount * 100 from payments",
        "id: =orders.id =payments.order_id\nvalue: =orders.amount ~payments.amount",
    );
}

#[test]
fn aggregates() {
    assert_everywhere(
        "select customer_id, sum(amount) as total, count(*) as n from orders group by customer_id having sum(amount) > 10",
        "customer_id: =orders.customer_id\ntotal: ~orders.amount\nn:",
    );
}

#[test]
fn window_functions() {
    assert_everywhere(
        "select id, row_number() over (partition by customer_id order by created_at) as rn, sum(amount) over (partition by customer_id) as per_customer from orders",
        "id: =orders.id\nrn: ~orders.created_at ~orders.customer_id\nper_customer: ~orders.amount ~orders.customer_id",
    );
}

#[test]
fn subqueries_in_from() {
    assert_everywhere(
        "select x.customer_id, x.total from (select customer_id, sum(amount) as total from orders group by 1) as x",
        "customer_id: =orders.customer_id\ntotal: ~orders.amount",
    );
}

#[test]
fn subqueries_in_select() {
    assert_everywhere(
        "select c.id, (select max(o.amount) from orders o where o.customer_id = c.id) as max_amount from customers c",
        "id: =customers.id\nmax_amount: ~orders.amount",
    );
}

#[test]
fn star_and_qualified_star() {
    assert_everywhere(
        "select * from customers",
        "id: =customers.id\nname: =customers.name\nemail: =customers.email",
    );
    assert_everywhere(
        "select c.*, o.amount from customers c join orders o on o.customer_id = c.id",
        "id: =customers.id\nname: =customers.name\nemail: =customers.email\namount [double]: =orders.amount",
    );
}

#[test]
fn star_exclude_in_duckdb_and_snowflake() {
    let sql = "select * exclude (email) from customers";
    let expected = "id: =customers.id\nname: =customers.name";
    assert_in(&DuckDbDialect {}, sql, expected);
    assert_in(&SnowflakeDialect {}, sql, expected);
    assert_in(
        &DuckDbDialect {},
        "select * exclude email from customers",
        expected,
    );
}

#[test]
fn star_except_in_bigquery_and_databricks() {
    let sql = "select * except (email) from customers";
    let expected = "id: =customers.id\nname: =customers.name";
    assert_in(&BigQueryDialect {}, sql, expected);
    assert_in(&DatabricksDialect {}, sql, expected);
}

#[test]
fn star_replace_and_rename() {
    assert_in(
        &DuckDbDialect {},
        "select * replace (upper(name) as name) from customers",
        "id: =customers.id\nname: ~customers.name\nemail: =customers.email",
    );
    assert_in(
        &SnowflakeDialect {},
        "select * rename (email as contact) from customers",
        "id: =customers.id\nname: =customers.name\ncontact: =customers.email",
    );
}

#[test]
fn qualify_filters_without_changing_columns() {
    let sql = "select id, amount from orders qualify row_number() over (partition by customer_id order by created_at desc) = 1";
    let expected = "id: =orders.id\namount [double]: =orders.amount";
    assert_in(&DuckDbDialect {}, sql, expected);
    assert_in(&SnowflakeDialect {}, sql, expected);
    assert_in(
        &DuckDbDialect {},
        "select id from orders qualify row_number() over (partition by custmer_id) = 1",
        "id: =orders.id\nunknown custmer_id@1:63",
    );
}

#[test]
fn casts_give_types_in_each_dialect() {
    assert_in(
        &PostgreSqlDialect {},
        "select amount::numeric as amount_num, cast(id as bigint) as id from orders",
        "amount_num [numeric]: ~orders.amount\nid [bigint]: ~orders.id",
    );
    assert_in(
        &SnowflakeDialect {},
        "select iff(status = 'done', amount, 0) as a, amount::number(10, 2) as n from orders",
        "a: ~orders.amount ~orders.status\nn [number(10, 2)]: ~orders.amount",
    );
}

#[test]
fn select_aliases_can_be_reused() {
    assert_in(
        &DuckDbDialect {},
        "select amount * 2 as doubled, doubled + 1 as plus_one from orders where doubled > 3",
        "doubled: ~orders.amount\nplus_one: ~orders.amount",
    );
}

#[test]
fn unknown_upstream_columns_are_followed_but_never_reported() {
    assert_everywhere(
        "select e.a, e.b + 1 as c, zzz from events e",
        "a: =events.a\nc: ~events.b\nzzz: =events.zzz",
    );
    assert_everywhere("select * from events", "incomplete");
    assert_everywhere(
        "select o.id, x.anything from orders o join some_schema.unknown_table x on x.id = o.id",
        "id: =orders.id\nanything:",
    );
}

#[test]
fn unaliased_expressions_leave_the_names_unknown() {
    assert_everywhere(
        "select id, amount + 1 from orders",
        "id: =orders.id\n: ~orders.amount\nincomplete",
    );
}

#[test]
fn references_to_missing_columns_are_reported_where_written() {
    assert_everywhere(
        "select o.amout, statuss\nfrom orders o",
        "amout: \nstatuss:\nunknown amout@1:10\nunknown statuss@1:17"
            .replace(": \n", ":\n")
            .as_str(),
    );
    assert_everywhere(
        "with a as (select id from orders) select a.amount from a",
        "amount:\nunknown amount@1:44",
    );
}

#[test]
fn correlated_and_lambda_names_are_not_columns() {
    assert_in(
        &DuckDbDialect {},
        "select list_transform([1, 2], x -> x + id) as l from orders",
        "l: ~orders.id",
    );
    assert_everywhere(
        "select c.id from customers c where exists (select 1 from orders o where o.customer_id = c.id)",
        "id: =customers.id",
    );
    assert_in(
        &SnowflakeDialect {},
        "select datediff(day, created_at, current_date) as age from orders",
        "age: ~orders.created_at",
    );
}

#[test]
fn deep_nesting_is_cut_off_without_overflow() {
    let mut sql = String::from("select ");
    for _ in 0..5000 {
        sql.push_str("amount + ");
    }
    sql.push_str("1 as x from orders");
    let got = lineage(&DuckDbDialect {}, &sql);
    assert!(
        got.contains("incomplete") || got.starts_with("parse error"),
        "{got}"
    );
}

#[test]
fn unused_ctes_are_found_where_defined() {
    let sql = "with a as (select 1 as x),\n  b as (select id from orders),\n  c as (select id from b)\nselect * from c";
    let stmts = Parser::parse_sql(&DuckDbDialect {}, sql).unwrap_or_default();
    let found: Vec<String> = analyze(&stmts, &Fixture)
        .unused_ctes
        .iter()
        .map(|c| format!("{}@{}:{}", c.name, c.line, c.column))
        .collect();
    assert_eq!(found, ["a@1:6"]);
}

/// Valid SQL over the fixture tables: nothing may be reported, in any
/// dialect that parses it.
#[test]
fn valid_queries_report_nothing() {
    let queries = [
        "with recursive r(n) as (select 1 union all select n + 1 from r where n < 3) select n from r",
        "select * from orders natural join payments",
        "select o.id, p.method from orders o, lateral (select method from payments where order_id = o.id) p",
        "select * from (values (1, 'a'), (2, 'b')) as v(x, y) where x > 1",
        "select g from generate_series(1, 3) as g",
        "select x.a from (select id as a from orders) x join (customers c join payments p on p.id = c.id) on c.id = x.a",
        "select id from orders union by name select id from payments",
        "select id, amount from orders order by amount desc, 1",
        "select customer_id, count(*) as n from orders group by customer_id order by n",
        "select orders.id from orders",
        "select main.orders.id from main.orders",
        "select row_to_json(c) from customers c",
        "select id from orders where id in (select order_id from payments where payments.amount > orders.amount)",
        "select current_date as d, current_timestamp as ts from orders",
        "select case status when 'done' then 1 end as done from orders where status is not null",
        "select distinct on (customer_id) customer_id, amount from orders order by customer_id, created_at desc",
        "select o.* from orders o where not exists (select 1 from payments p where p.order_id = o.id)",
        "select id from orders o join payments p using (id) where id > 0",
        "select json_col.field from (select 1 as json_col) t",
        "select t.s.inner_field from (select 1 as s) t",
        "select e.anything from events e join orders o on o.id = e.order_id",
        "select count(*) filter (where status = 'done') as n from orders",
        "select sum(amount) over w as s from orders window w as (partition by customer_id order by created_at)",
        "select * from orders, unnest([1, 2]) as u(v)",
        "select unknown_col from orders join some_table_not_a_node x on true",
    ];
    for sql in queries {
        let mut parsed = 0;
        for (name, d) in all_dialects() {
            let Ok(stmts) = Parser::parse_sql(d.as_ref(), sql) else {
                continue;
            };
            parsed += 1;
            let a = analyze(&stmts, &Fixture);
            assert!(
                a.unknown_columns.is_empty(),
                "{name}: {sql}: {:?}",
                a.unknown_columns
            );
        }
        assert!(parsed > 0, "no dialect parses {sql}");
    }
}
