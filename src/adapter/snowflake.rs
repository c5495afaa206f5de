//! Snowflake capabilities. Compiling and checking only: running against
//! Snowflake is not supported, so `open` keeps the trait's refusal.

use super::Adapter;

pub struct Snowflake;

impl Adapter for Snowflake {
    fn kind(&self) -> &'static str {
        "snowflake"
    }
    fn dispatch_prefixes(&self) -> &'static [&'static str] {
        &["snowflake"]
    }
    fn internal_package(&self) -> &'static str {
        "dbt_snowflake"
    }
    /// dbt-snowflake quotes nothing by default: unquoted names fold to
    /// upper case as Snowflake users expect.
    fn default_quote_policy(&self) -> (bool, bool, bool) {
        (false, false, false)
    }
    fn sql_dialect(&self) -> Option<Box<dyn sqlparser::dialect::Dialect>> {
        Some(Box::new(sqlparser::dialect::SnowflakeDialect {}))
    }
}
