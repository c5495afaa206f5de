//! Databricks (and Spark) capabilities. Compiling and checking only:
//! running against Databricks is not supported, so `open` keeps the trait's
//! refusal.

use super::Adapter;

pub struct Databricks;

impl Adapter for Databricks {
    fn kind(&self) -> &'static str {
        "databricks"
    }
    /// dbt-databricks builds on dbt-spark's macros.
    fn dispatch_prefixes(&self) -> &'static [&'static str] {
        &["databricks", "spark"]
    }
    fn internal_package(&self) -> &'static str {
        "dbt_databricks"
    }
    /// Databricks quotes identifiers with backticks and, like dbt-databricks,
    /// quotes nothing by default.
    fn quote_char(&self) -> char {
        '`'
    }
    fn default_quote_policy(&self) -> (bool, bool, bool) {
        (false, false, false)
    }
    fn sql_dialect(&self) -> Option<Box<dyn sqlparser::dialect::Dialect>> {
        Some(Box::new(sqlparser::dialect::DatabricksDialect {}))
    }
}
