//! `DuckDB`, the embedded default warehouse.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::{Adapter, Connection, CsvLoad, DbError, Response, Table, Warehouse};
use crate::project::profiles::Target;

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
    fn catalog_sql(&self) -> &'static str {
        include_str!("../../templates/duckdb/catalog.sql")
    }
    fn sql_dialect(&self) -> Option<Box<dyn sqlparser::dialect::Dialect>> {
        Some(Box::new(sqlparser::dialect::DuckDbDialect {}))
    }
    fn open(&self, target: &Target) -> Result<Arc<dyn Warehouse>, DbError> {
        Self::open_target(target)
    }
    fn subquery_needs_alias(&self) -> bool {
        false
    }
    fn column_class(&self) -> &'static super::ColumnClass {
        &DUCKDB_COLUMN
    }
    fn relation_class(&self) -> &'static str {
        "DuckDBRelation"
    }
}

/// dbt-duckdb's `DuckDBColumn`: `DuckDB`'s own integer and float names.
static DUCKDB_COLUMN: super::ColumnClass = super::ColumnClass {
    integer_types: &[
        "tinyint",
        "smallint",
        "integer",
        "bigint",
        "hugeint",
        "utinyint",
        "usmallint",
        "uinteger",
        "ubigint",
        "int1",
        "int2",
        "int4",
        "int8",
        "short",
        "int",
        "signed",
        "long",
    ],
    float_types: &["real", "float", "float4", "float8", "double"],
    ..super::BASE_COLUMN
};

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

impl DuckDb {
    /// Opens the database file of a target, applying `settings` and loading
    /// `extensions` that are already installed.
    pub fn open_target(target: &Target) -> Result<Arc<dyn Warehouse>, DbError> {
        let fields = &target.fields;
        let path = fields
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or(":memory:")
            .to_owned();
        let mut config = duckdb::Config::default();
        if let Some(Value::Object(settings)) = fields.get("settings") {
            for (k, v) in settings {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                config = config
                    .with(k, &v)
                    .map_err(|e| DbError::new(format!("setting `{k}` = `{v}`: {e}")))?;
            }
        }
        if path != ":memory:"
            && let Some(dir) = Path::new(&path).parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                DbError::new(format!("cannot create folder `{}`: {e}", dir.display()))
            })?;
        }
        let conn = if path == ":memory:" {
            duckdb::Connection::open_in_memory_with_flags(config)
        } else {
            duckdb::Connection::open_with_flags(&path, config)
        }
        .map_err(|e| DbError::new(format!("cannot open DuckDB database `{path}`: {e}")))?;
        if let Some(Value::Array(exts)) = fields.get("extensions") {
            for ext in exts {
                let name = match ext {
                    Value::String(s) => s.clone(),
                    Value::Object(o) => o
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    _ => continue,
                };
                if name.is_empty() {
                    continue;
                }
                conn.execute_batch(&format!("LOAD {}", quote_ident(&name)))
                    .map_err(|e| {
                        DbError::new(format!(
                            "cannot load DuckDB extension `{name}`: {e}; xform does not download extensions: install it once with `INSTALL {name}` in DuckDB on this machine"
                        ))
                    })?;
            }
        }
        // dbt-duckdb names the catalog after the file stem; attach under that
        // name is implicit in DuckDB, so nothing to do for the main file.
        Ok(Arc::new(DuckDbWarehouse {
            root: Mutex::new(conn),
            path,
        }))
    }
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

use super::quote_literal;

/// An opened `DuckDB` database; connections are clones of the first one.
struct DuckDbWarehouse {
    root: Mutex<duckdb::Connection>,
    path: String,
}

impl Warehouse for DuckDbWarehouse {
    fn connect(&self) -> Result<Box<dyn Connection>, DbError> {
        let root = self
            .root
            .lock()
            .map_err(|_| DbError::new("the DuckDB connection pool is poisoned"))?;
        let conn = root.try_clone().map_err(db_err)?;
        Ok(Box::new(DuckDbConnection { conn }))
    }

    fn describe(&self) -> String {
        format!("duckdb database `{}`", self.path)
    }

    fn csv_load_sql(&self, load: &CsvLoad<'_>) -> Option<String> {
        let path = quote_literal(&load.path.to_string_lossy());
        let delim = quote_literal(&load.delimiter.to_string());
        if load.fast {
            // dbt-duckdb's fast path: DuckDB sniffs quoting and escaping
            // (a file quoted with `'` reads `''` as NULL), the table's
            // columns give the types.
            return Some(format!(
                "COPY {} FROM {path} (FORMAT CSV, HEADER TRUE, DELIMITER {delim})",
                load.relation
            ));
        }
        let columns: Vec<String> = load
            .columns
            .iter()
            .map(|(n, t)| format!("{}: {}", quote_literal(n), quote_literal(t)))
            .collect();
        Some(format!(
            "insert into {} select * from read_csv({path}, header = true, auto_detect = false, delim = {delim}, quote = '\"', escape = '\"', nullstr = '', columns = {{{}}})",
            load.relation,
            columns.join(", ")
        ))
    }
}

struct DuckDbConnection {
    conn: duckdb::Connection,
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(db_err)`
fn db_err(e: duckdb::Error) -> DbError {
    let message = e.to_string();
    let cancelled = message.contains("INTERRUPT") || message.contains("Interrupted");
    DbError {
        message,
        cancelled,
        connection_lost: false,
    }
}

impl Connection for DuckDbConnection {
    fn execute(&mut self, sql: &str, fetch: bool) -> Result<(Response, Table), DbError> {
        let ok = Response {
            message: "OK".to_owned(),
            rows_affected: None,
        };
        if !fetch {
            self.conn.execute_batch(sql).map_err(db_err)?;
            return Ok((ok, Table::default()));
        }
        let mut stmt = match self.conn.prepare(sql) {
            Ok(s) => s,
            Err(e) if e.to_string().contains("multiple statements") => {
                self.conn.execute_batch(sql).map_err(db_err)?;
                return Ok((ok, Table::default()));
            }
            Err(e) => return Err(db_err(e)),
        };
        let mut rows_out = Vec::new();
        {
            let mut rows = stmt.query([]).map_err(db_err)?;
            while let Some(row) = rows.next().map_err(db_err)? {
                let n = row.as_ref().column_count();
                let mut cells = Vec::with_capacity(n);
                for i in 0..n {
                    cells.push(cell(row.get_ref(i).map_err(db_err)?));
                }
                rows_out.push(cells);
            }
        }
        let names = stmt.column_names();
        let columns: Vec<(String, String)> = names
            .into_iter()
            .enumerate()
            .map(|(i, n)| (n, format!("{:?}", stmt.column_type(i))))
            .collect();
        // Arrow's type names: `Timestamp(Microsecond, Some("Etc/UTC"))` has
        // a zone; cells of both kinds are written in UTC.
        let kinds = columns
            .iter()
            .map(|(_, t)| {
                if t.starts_with("Timestamp(") {
                    if t.contains("Some(") {
                        super::CellKind::TimestampTz
                    } else {
                        super::CellKind::Timestamp
                    }
                } else if t.starts_with("Date32") || t.starts_with("Date64") {
                    super::CellKind::Date
                } else {
                    super::CellKind::Plain
                }
            })
            .collect();
        Ok((
            ok,
            Table {
                columns,
                rows: rows_out,
                kinds,
            },
        ))
    }

    fn canceller(&self) -> Box<dyn Fn() + Send + Sync> {
        let handle = self.conn.interrupt_handle();
        Box::new(move || handle.interrupt())
    }
}

/// One `DuckDB` value as JSON: numbers stay numbers, dates and times become
/// their ISO text.
fn cell(v: duckdb::types::ValueRef<'_>) -> Value {
    use duckdb::types::{TimeUnit, ValueRef as V};
    let micros = |unit: TimeUnit, x: i64| unit.to_micros(x);
    match v {
        V::Null => Value::Null,
        V::Boolean(b) => Value::Bool(b),
        V::TinyInt(i) => i.into(),
        V::SmallInt(i) => i.into(),
        V::Int(i) => i.into(),
        V::BigInt(i) => i.into(),
        V::UTinyInt(i) => i.into(),
        V::USmallInt(i) => i.into(),
        V::UInt(i) => i.into(),
        V::UBigInt(i) => i.into(),
        V::HugeInt(i) => {
            i64::try_from(i).map_or_else(|_| Value::String(i.to_string()), Value::from)
        }
        V::UHugeInt(i) => {
            i64::try_from(i).map_or_else(|_| Value::String(i.to_string()), Value::from)
        }
        V::Float(f) => {
            serde_json::Number::from_f64(f64::from(f)).map_or(Value::Null, Value::Number)
        }
        V::Double(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        V::Decimal(d) => {
            let s = d.to_string();
            s.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::String(s), Value::Number)
        }
        V::Text(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        V::Date32(days) => chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
            .map_or(Value::Null, |d| Value::String(d.to_string())),
        V::Timestamp(unit, x) => {
            let us = micros(unit, x);
            chrono::DateTime::from_timestamp_micros(us).map_or(Value::Null, |t| {
                Value::String(t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string())
            })
        }
        V::Time64(unit, x) => {
            let us = micros(unit, x);
            let secs = u32::try_from(us.div_euclid(1_000_000)).unwrap_or(0);
            let nanos = u32::try_from(us.rem_euclid(1_000_000) * 1000).unwrap_or(0);
            chrono::NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)
                .map_or(Value::Null, |t| Value::String(t.to_string()))
        }
        other => Value::String(format!("{:?}", other.to_owned())),
    }
}
