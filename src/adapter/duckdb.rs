//! `DuckDB`, the embedded default warehouse.

use std::path::Path;

use serde_json::{Map, Value};

use super::Adapter;

pub struct DuckDb;

impl Adapter for DuckDb {
    fn kind(&self) -> &'static str {
        "duckdb"
    }
    fn dispatch_prefixes(&self) -> &'static [&'static str] {
        &["duckdb"]
    }
    fn internal_package(&self) -> &'static str {
        "dbt_duckdb"
    }
}

/// dbt-duckdb names the database after the file (`shop.duckdb` is `shop`),
/// `memory` for `:memory:`; the schema defaults to `main`.
pub fn database_and_schema(fields: &Map<String, Value>, _profile_dir: &Path) -> (String, String) {
    let path = fields
        .get("path")
        .and_then(Value::as_str)
        .unwrap_or(":memory:");
    let database = fields.get("database").and_then(Value::as_str).map_or_else(
        || {
            if path == ":memory:" || path.is_empty() {
                "memory".to_owned()
            } else {
                Path::new(path)
                    .file_stem()
                    .map_or_else(|| "memory".to_owned(), |s| s.to_string_lossy().into_owned())
            }
        },
        str::to_owned,
    );
    let schema = fields
        .get("schema")
        .and_then(Value::as_str)
        .unwrap_or("main")
        .to_owned();
    (database, schema)
}

/// The `DuckDB` release of the pinned `duckdb` crate (`=1.10506.x`), which
/// the prebuilt library of the fast development path must match.
pub const PINNED_VERSION: &str = "v1.5.6";

/// The version of the linked `DuckDB` library, as `select version()` reports it.
pub fn library_version() -> Result<String, duckdb::Error> {
    let conn = duckdb::Connection::open_in_memory()?;
    conn.query_row("select version()", [], |row| row.get::<_, String>(0))
}
