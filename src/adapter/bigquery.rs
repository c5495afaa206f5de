//! `BigQuery` capabilities. Compiling and checking only: running against
//! `BigQuery` is not supported, so `open` keeps the trait's refusal.

use super::Adapter;

pub struct BigQuery;

impl Adapter for BigQuery {
    fn kind(&self) -> &'static str {
        "bigquery"
    }
    fn dispatch_prefixes(&self) -> &'static [&'static str] {
        &["bigquery"]
    }
    fn internal_package(&self) -> &'static str {
        "dbt_bigquery"
    }
    /// `BigQuery` quotes identifiers with backticks.
    fn quote_char(&self) -> char {
        '`'
    }
    fn sql_dialect(&self) -> Option<Box<dyn sqlparser::dialect::Dialect>> {
        Some(Box::new(sqlparser::dialect::BigQueryDialect {}))
    }
}
