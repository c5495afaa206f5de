//! `PostgreSQL` capabilities.

use super::Adapter;

pub struct Postgres;

impl Adapter for Postgres {
    fn kind(&self) -> &'static str {
        "postgres"
    }
    fn dispatch_prefixes(&self) -> &'static [&'static str] {
        &["postgres"]
    }
    fn internal_package(&self) -> &'static str {
        "dbt_postgres"
    }
    fn sql_dialect(&self) -> Option<Box<dyn sqlparser::dialect::Dialect>> {
        Some(Box::new(sqlparser::dialect::PostgreSqlDialect {}))
    }
}
