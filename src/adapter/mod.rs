//! Warehouses. Every difference between warehouses is a capability of an
//! [`Adapter`] (or SQL in `templates/<dialect>/`); no other module asks which
//! warehouse it is talking to.
//!
//! Invariant: nothing outside `adapter/` opens a connection, and the compile
//! phase never does I/O against a warehouse.

pub mod duckdb;
pub mod postgres;

use std::path::Path;

use serde_json::{Map, Value};

/// What the compiler needs to know about a warehouse.
pub trait Adapter: Send + Sync {
    /// The profile `type` (`duckdb`).
    fn kind(&self) -> &'static str;

    /// Prefixes `adapter.dispatch` tries, most specific first, before
    /// `default__`. dbt-postgres based adapters list `postgres` after their
    /// own name.
    fn dispatch_prefixes(&self) -> &'static [&'static str];

    /// The package names of the adapter's built-in macros, merged into the
    /// `dbt` namespace (dbt ships them as `dbt_duckdb`, `dbt_postgres`).
    fn internal_package(&self) -> &'static str;

    /// Quotes one identifier.
    fn quote(&self, identifier: &str) -> String {
        format!("\"{}\"", identifier.replace('"', "\"\""))
    }

    /// Default quoting of relation parts when `quoting:` says nothing:
    /// (database, schema, identifier).
    fn default_quote_policy(&self) -> (bool, bool, bool) {
        (true, true, true)
    }
}

/// Picks the adapter for a profile `type`.
pub fn for_kind(kind: &str) -> Option<Box<dyn Adapter>> {
    match kind {
        "duckdb" => Some(Box::new(duckdb::DuckDb)),
        "postgres" => Some(Box::new(postgres::Postgres)),
        _ => None,
    }
}

/// The adapter types xform can compile for.
pub const KNOWN_KINDS: &[&str] = &["duckdb", "postgres"];

/// The database and schema a target writes to when the model does not say.
pub fn default_database_schema(
    kind: &str,
    fields: &Map<String, Value>,
    profile_dir: &Path,
) -> (String, String) {
    let get = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_owned);
    match kind {
        "duckdb" => duckdb::database_and_schema(fields, profile_dir),
        _ => (
            get("dbname")
                .or_else(|| get("database"))
                .unwrap_or_default(),
            get("schema").unwrap_or_else(|| "public".to_owned()),
        ),
    }
}
