//! Warehouses. Every difference between warehouses is a capability of an
//! [`Adapter`] (or SQL in `templates/<dialect>/`); no other module asks which
//! warehouse it is talking to.
//!
//! Invariant: nothing outside `adapter/` opens a connection, parsing never
//! does I/O against a warehouse, and compiling only when a macro asks
//! (`xform compile`, through `execute::introspect`).

pub mod bigquery;
pub mod databricks;
pub mod duckdb;
pub mod postgres;
pub mod snowflake;

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::project::profiles::Target;

/// What the compiler and the runner need to know about a warehouse.
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

    /// The character identifiers are quoted with.
    fn quote_char(&self) -> char {
        '"'
    }

    /// Quotes one identifier.
    fn quote(&self, identifier: &str) -> String {
        let q = self.quote_char();
        format!("{q}{}{q}", identifier.replace(q, &format!("{q}{q}")))
    }

    /// Default quoting of relation parts when `quoting:` says nothing:
    /// (database, schema, identifier).
    fn default_quote_policy(&self) -> (bool, bool, bool) {
        (true, true, true)
    }

    /// Opens the warehouse a target describes. Each worker thread then takes
    /// its own [`Connection`] from it.
    fn open(&self, _target: &Target) -> Result<Arc<dyn Warehouse>, DbError> {
        Err(DbError::new(format!(
            "running against `{}` is not supported yet",
            self.kind()
        )))
    }

    /// A query listing the relations of one schema as rows of
    /// (identifier, `table` or `view`).
    fn list_relations_sql(&self, database: &str, schema: &str) -> String {
        format!(
            "select table_name, case when table_type = 'VIEW' then 'view' else 'table' end \
             from information_schema.tables where lower(table_catalog) = lower({}) and lower(table_schema) = lower({})",
            quote_literal(database),
            quote_literal(schema)
        )
    }

    /// Creates a schema unless it exists.
    fn create_schema_sql(&self, database: &str, schema: &str) -> String {
        format!(
            "create schema if not exists {}.{}",
            self.quote(database),
            self.quote(schema)
        )
    }

    /// A query listing which views read which relations, as rows of
    /// (schema, relation, view schema, view), where dropping a relation with
    /// `cascade` drops the views that read it (Postgres); `None` where views
    /// do not bind to relations (`DuckDB`).
    fn view_dependencies_sql(&self) -> Option<String> {
        None
    }

    /// A query listing the schemas of a database, one per row.
    fn list_schemas_sql(&self, database: &str) -> String {
        format!(
            "select schema_name from information_schema.schemata where lower(catalog_name) = lower({})",
            quote_literal(database)
        )
    }

    /// The adapter's `Column` class as macros see it (`api.Column`, the
    /// columns of `adapter.get_columns_in_relation`).
    fn column_class(&self) -> &'static ColumnClass {
        &BASE_COLUMN
    }

    /// The name dbt's relation class has for this adapter (what
    /// `relation.get('metadata')` reports, which `dbt_utils` checks).
    fn relation_class(&self) -> &'static str {
        "BaseRelation"
    }

    /// The longest relation name the warehouse keeps, in characters, when
    /// it cuts longer ones short (Postgres: 63) rather than refusing them.
    /// dbt's relation class then refuses a longer name for a relation of a
    /// known type, and names its temporary relations to fit
    /// (`relation_max_name_length()`).
    fn relation_max_name_length(&self) -> Option<usize> {
        None
    }

    /// A query listing a relation's columns in order, as rows of (name, type).
    fn columns_sql(&self, database: &str, schema: &str, identifier: &str) -> String {
        format!(
            "select column_name, data_type from information_schema.columns \
             where lower(table_catalog) = lower({}) and lower(table_schema) = lower({}) \
             and lower(table_name) = lower({}) order by ordinal_position",
            quote_literal(database),
            quote_literal(schema),
            quote_literal(identifier)
        )
    }

    /// The query `docs generate` reads the warehouse's tables, views and
    /// their columns with, for `target/catalog.json`: a template in
    /// `templates/<dialect>/catalog.sql` over `database` and `schemas` (SQL
    /// string literals), one row per column (database, schema, table, type,
    /// comment, column, index, column type, column comment, owner).
    fn catalog_sql(&self) -> &'static str {
        include_str!("../../templates/default/catalog.sql")
    }

    /// Whether a subquery in `FROM` needs an alias. dbt then names the
    /// subqueries it puts in place of a relation (`--empty`, microbatch
    /// filters) `_dbt_<kind>_subq_<table>`; without, it adds none, so that
    /// `{{ ref('x') }} as x` stays valid.
    ///
    /// ```sql
    /// select * from (select * from orders where false limit 0) _dbt_limit_subq_orders
    /// ```
    fn subquery_needs_alias(&self) -> bool {
        true
    }

    /// Whether DDL (create, rename, drop) is transactional, so a rebuilt
    /// relation can be swapped in atomically.
    fn supports_transactional_ddl(&self) -> bool {
        true
    }

    /// The SQL type of seed columns by inferred kind, as the warehouse's dbt
    /// adapter names them (`convert_*_type`).
    fn seed_type(&self, kind: SeedType) -> &'static str {
        match kind {
            SeedType::Integer => "integer",
            SeedType::Float => "float8",
            SeedType::Boolean => "boolean",
            SeedType::Date => "date",
            SeedType::Timestamp => "timestamp without time zone",
            SeedType::Text => "text",
        }
    }

    /// The SQL dialect `xform check` and lineage parse compiled models in,
    /// or `None` when sqlparser has none for this warehouse: its models are
    /// then not parsed, and their columns are unknown (never a false syntax
    /// error).
    fn sql_dialect(&self) -> Option<Box<dyn sqlparser::dialect::Dialect>> {
        None
    }
}

/// A string as an SQL literal.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// What a seed column holds, inferred from its text as dbt (agate) infers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedType {
    Integer,
    Float,
    Boolean,
    Date,
    Timestamp,
    Text,
}

/// An opened warehouse (a `DuckDB` database file, a Postgres server).
pub trait Warehouse: Send + Sync {
    /// A new connection for one worker.
    fn connect(&self) -> Result<Box<dyn Connection>, DbError>;

    /// A one-line description for `xform debug` and logs.
    fn describe(&self) -> String;

    /// Loads a CSV file into an existing table with the warehouse's native
    /// reader, or `None` when it has none (rows are then inserted).
    fn csv_load_sql(&self, _load: &CsvLoad<'_>) -> Option<String> {
        None
    }
}

/// A seed file to load into `relation` (already rendered).
pub struct CsvLoad<'a> {
    pub relation: &'a str,
    pub path: &'a Path,
    pub delimiter: char,
    /// Column names and SQL types, in file order.
    pub columns: &'a [(String, String)],
    /// The seed's `fast` config (default true): load with the reader's
    /// own dialect detection, as dbt-duckdb's `COPY` does; false reads the
    /// file as dbt's CSV parser does (double quotes, empty field is NULL).
    pub fast: bool,
}

/// One connection, used by one worker at a time.
pub trait Connection: Send {
    /// Runs one or more statements. With `fetch`, the rows of the last
    /// statement are returned.
    fn execute(&mut self, sql: &str, fetch: bool) -> Result<(Response, Table), DbError>;

    /// Streams rows into an existing table (Postgres `COPY ... FROM STDIN`),
    /// for warehouses without a native CSV reader
    /// ([`Warehouse::csv_load_sql`]). `csv` is comma-separated without a
    /// header; an unquoted empty field is NULL. Returns the rows loaded.
    fn copy_csv(&mut self, _relation: &str, _csv: &mut dyn std::io::Read) -> Result<u64, DbError> {
        Err(DbError::new("this warehouse cannot stream CSV rows"))
    }

    /// A handle that cancels the running statement from another thread.
    fn canceller(&self) -> Box<dyn Fn() + Send + Sync>;

    /// Whether the connection is gone for good (a new one is needed).
    fn is_lost(&self) -> bool {
        false
    }
}

/// What a statement reports.
#[derive(Clone, Debug, Default)]
pub struct Response {
    pub message: String,
    pub rows_affected: Option<i64>,
}

/// A result set: column names and types, rows of cells.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub columns: Vec<(String, String)>,
    pub rows: Vec<Vec<Value>>,
    /// What each column's cells are beyond JSON (empty: plain values), so
    /// templates get dates and datetimes as dbt's agate tables hold them.
    pub kinds: Vec<CellKind>,
}

/// How a column's text cells read as Python values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CellKind {
    #[default]
    Plain,
    /// `YYYY-MM-DD`: a `date`.
    Date,
    /// A timestamp without time zone: a naive `datetime`.
    Timestamp,
    /// A timestamp with time zone, its offset written after it or UTC when
    /// not: an aware `datetime`.
    TimestampTz,
}

/// A column as the warehouse describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: String,
    /// The full type, e.g. `DECIMAL(18,3)` or `VARCHAR`.
    pub data_type: String,
}

/// How an adapter's `Column` class names and classifies types: dbt's
/// `Column` and its subclasses (`DuckDBColumn`, `PostgresColumn`).
#[derive(Debug)]
pub struct ColumnClass {
    /// `translate_type` labels: an upper-case label and the type it means.
    pub type_labels: &'static [(&'static str, &'static str)],
    /// Lower-case base types `is_integer()` accepts.
    pub integer_types: &'static [&'static str],
    /// Lower-case base types `is_float()` accepts.
    pub float_types: &'static [&'static str],
    /// `text` and unsized `character varying` keep their own name as
    /// `data_type` (dbt-postgres) rather than `character varying(256)`.
    pub keeps_unsized_strings: bool,
    /// Whether column types arrive with their modifiers in the name
    /// (`character varying(10)`, `numeric(18,3)`, as `format_type` spells
    /// them) where dbt reads the base type and the sizes separately.
    pub splits_modifiers: bool,
}

/// dbt's base `Column`.
pub static BASE_COLUMN: ColumnClass = ColumnClass {
    type_labels: &[("STRING", "TEXT")],
    integer_types: &[
        "smallint",
        "integer",
        "bigint",
        "smallserial",
        "serial",
        "bigserial",
        "int2",
        "int4",
        "int8",
        "serial2",
        "serial4",
        "serial8",
    ],
    float_types: &[
        "real",
        "float4",
        "float",
        "double precision",
        "float8",
        "double",
    ],
    keeps_unsized_strings: false,
    splits_modifiers: false,
};

/// A warehouse error, with the database's own message.
#[derive(Clone, Debug)]
pub struct DbError {
    pub message: String,
    /// The statement was cancelled (Ctrl-C).
    pub cancelled: bool,
    /// The connection died (server restart, terminated backend, network):
    /// the statement's transaction is gone and the connection is unusable.
    pub connection_lost: bool,
}

impl DbError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            cancelled: false,
            connection_lost: false,
        }
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DbError {}

/// Picks the adapter for a profile `type`.
pub fn for_kind(kind: &str) -> Option<Box<dyn Adapter>> {
    match kind {
        "duckdb" => Some(Box::new(duckdb::DuckDb)),
        "postgres" => Some(Box::new(postgres::Postgres)),
        "snowflake" => Some(Box::new(snowflake::Snowflake)),
        "bigquery" => Some(Box::new(bigquery::BigQuery)),
        "databricks" | "spark" => Some(Box::new(databricks::Databricks)),
        _ => None,
    }
}

/// The adapter types xform can compile for.
pub const KNOWN_KINDS: &[&str] = &[
    "duckdb",
    "postgres",
    "snowflake",
    "bigquery",
    "databricks",
    "spark",
];

/// The database and schema a target writes to when the model does not say.
pub fn default_database_schema(
    kind: &str,
    fields: &Map<String, Value>,
    profile_dir: &Path,
) -> (String, String) {
    let get = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_owned);
    match kind {
        "duckdb" => duckdb::database_and_schema(fields, profile_dir),
        "bigquery" => (
            get("project")
                .or_else(|| get("database"))
                .unwrap_or_default(),
            get("dataset").or_else(|| get("schema")).unwrap_or_default(),
        ),
        "databricks" | "spark" => (
            get("catalog")
                .or_else(|| get("database"))
                .unwrap_or_default(),
            get("schema").unwrap_or_default(),
        ),
        _ => (
            get("dbname")
                .or_else(|| get("database"))
                .unwrap_or_default(),
            get("schema").unwrap_or_else(|| "public".to_owned()),
        ),
    }
}
