//! `PostgreSQL`, on the `postgres` crate (tokio-postgres underneath; each
//! connection drives its own small runtime, so the [`Connection`] trait stays
//! synchronous).
//!
//! Statements run with the simple query protocol: materializations send
//! several statements at once. A result that is fetched from a single
//! statement is first described (prepared) so its cells get their types;
//! cells arrive as text either way.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::types::Type;
use postgres::{Client, SimpleQueryMessage};
use serde_json::{Map, Value};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{Adapter, Connection, DbError, Response, SeedType, Table, Warehouse, quote_literal};
use crate::project::profiles::Target;

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
    fn catalog_sql(&self) -> &'static str {
        include_str!("../../templates/postgres/catalog.sql")
    }
    fn sql_dialect(&self) -> Option<Box<dyn sqlparser::dialect::Dialect>> {
        Some(Box::new(sqlparser::dialect::PostgreSqlDialect {}))
    }
    fn column_class(&self) -> &'static super::ColumnClass {
        &POSTGRES_COLUMN
    }
    fn relation_class(&self) -> &'static str {
        "PostgresRelation"
    }
    fn relation_max_name_length(&self) -> Option<usize> {
        // NAMEDATALEN - 1: longer identifiers are silently truncated.
        Some(63)
    }

    fn open(&self, target: &Target) -> Result<Arc<dyn Warehouse>, DbError> {
        let params = Params::from_fields(&target.fields)?;
        let tls = tls_connector()?;
        let warehouse = PgWarehouse { params, tls };
        Ok(Arc::new(warehouse))
    }

    /// Postgres has one database per connection: the catalog is not asked.
    /// Materialized views are listed as dbt-postgres lists them.
    fn list_relations_sql(&self, _database: &str, schema: &str) -> String {
        format!(
            "select c.relname, case c.relkind when 'v' then 'view' when 'm' then 'materialized_view' else 'table' end \
             from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
             where lower(n.nspname) = lower({}) and c.relkind in ('r', 'p', 'f', 'v', 'm')",
            quote_literal(schema)
        )
    }

    /// A view's rewrite rule depends on every relation it reads.
    fn view_dependencies_sql(&self) -> Option<String> {
        Some(
            "select distinct rn.nspname, rc.relname, vn.nspname, vc.relname \
             from pg_catalog.pg_depend d \
             join pg_catalog.pg_rewrite r on r.oid = d.objid \
             join pg_catalog.pg_class vc on vc.oid = r.ev_class \
             join pg_catalog.pg_namespace vn on vn.oid = vc.relnamespace \
             join pg_catalog.pg_class rc on rc.oid = d.refobjid \
             join pg_catalog.pg_namespace rn on rn.oid = rc.relnamespace \
             where d.classid = 'pg_catalog.pg_rewrite'::regclass \
               and d.refclassid = 'pg_catalog.pg_class'::regclass \
               and vc.oid <> rc.oid \
               and rn.nspname not like 'pg\\_%' and rn.nspname <> 'information_schema'"
                .to_owned(),
        )
    }

    /// A connection reaches one database: schemas are named alone.
    fn create_schema_sql(&self, _database: &str, schema: &str) -> String {
        format!("create schema if not exists {}", self.quote(schema))
    }

    fn list_schemas_sql(&self, _database: &str) -> String {
        "select nspname from pg_catalog.pg_namespace".to_owned()
    }

    /// Types as dbt-postgres's `PostgresColumn.data_type` spells them:
    /// `character varying(10)`, `numeric(18,3)`, `text`, `integer`.
    fn columns_sql(&self, _database: &str, schema: &str, identifier: &str) -> String {
        // A temporary table is named without its (per-session) schema.
        let in_schema = if schema.is_empty() {
            "n.oid = pg_catalog.pg_my_temp_schema()".to_owned()
        } else {
            format!("n.nspname = {}", quote_literal(schema))
        };
        format!(
            "select a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) \
             from pg_catalog.pg_attribute a \
             join pg_catalog.pg_class c on c.oid = a.attrelid \
             join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
             where {in_schema} and c.relname = {} and a.attnum > 0 and not a.attisdropped \
             order by a.attnum",
            quote_literal(identifier)
        )
    }

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
}

/// dbt-postgres's `PostgresColumn`: `text` stays `text`; types are read
/// from `format_type`, which writes their sizes into the name.
static POSTGRES_COLUMN: super::ColumnClass = super::ColumnClass {
    keeps_unsized_strings: true,
    splits_modifiers: true,
    ..super::BASE_COLUMN
};

/// How to reach the server: the target's fields, checked.
#[derive(Clone)]
struct Params {
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
    dbname: String,
    connect_timeout: u64,
    keepalives_idle: u64,
    search_path: Option<String>,
    role: Option<String>,
    ssl: SslMode,
    application_name: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SslMode {
    Disable,
    Prefer,
    Require,
}

/// dbt-postgres names the connection `dbt`; xform names it after itself.
const DEFAULT_APPLICATION_NAME: &str = "xform";

impl Params {
    fn from_fields(fields: &Map<String, Value>) -> Result<Self, DbError> {
        let text = |k: &str| -> Option<String> {
            match fields.get(k)? {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            }
        };
        let number = |k: &str, default: u64| -> Result<u64, DbError> {
            match fields.get(k) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
                    DbError::new(format!("`{k}` must be a whole number ≥ 0, found `{n}`"))
                }),
                Some(Value::String(s)) => s.trim().parse().map_err(|_| {
                    DbError::new(format!("`{k}` must be a whole number ≥ 0, found `{s}`"))
                }),
                Some(other) => Err(DbError::new(format!(
                    "`{k}` must be a whole number ≥ 0, found `{other}`"
                ))),
            }
        };
        let require = |k: &str, alt: Option<&str>| -> Result<String, DbError> {
            text(k)
                .or_else(|| alt.and_then(text))
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    DbError::new(match alt {
                        Some(a) => format!("the target has no `{k}` (or `{a}`)"),
                        None => format!("the target has no `{k}`"),
                    })
                })
        };
        let port = number("port", 5432)?;
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| DbError::new(format!("`port` must be 1 to 65535, found `{port}`")))?;
        let ssl = match text("sslmode")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("prefer" | "allow") => SslMode::Prefer,
            Some("disable") => SslMode::Disable,
            Some("require") => SslMode::Require,
            Some(other) => {
                return Err(DbError::new(format!(
                    "`sslmode: {other}` is not supported; use `disable`, `prefer` or `require`"
                )));
            }
        };
        Ok(Self {
            host: require("host", None)?,
            port,
            user: require("user", None)?,
            password: text("password").or_else(|| text("pass")),
            dbname: require("dbname", Some("database"))?,
            connect_timeout: number("connect_timeout", 10)?,
            keepalives_idle: number("keepalives_idle", 0)?,
            search_path: text("search_path").filter(|s| !s.is_empty()),
            role: text("role").filter(|s| !s.is_empty()),
            ssl,
            application_name: text("application_name")
                .unwrap_or_else(|| DEFAULT_APPLICATION_NAME.to_owned()),
        })
    }

    fn config(&self) -> postgres::Config {
        let mut c = postgres::Config::new();
        c.host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name(&self.application_name)
            .ssl_mode(match self.ssl {
                SslMode::Disable => postgres::config::SslMode::Disable,
                SslMode::Prefer => postgres::config::SslMode::Prefer,
                SslMode::Require => postgres::config::SslMode::Require,
            });
        if let Some(p) = &self.password {
            c.password(p);
        }
        if self.connect_timeout > 0 {
            c.connect_timeout(Duration::from_secs(self.connect_timeout));
        }
        if self.keepalives_idle > 0 {
            c.keepalives_idle(Duration::from_secs(self.keepalives_idle));
        }
        if let Some(sp) = &self.search_path {
            c.options(&format!("-c search_path={}", sp.replace(' ', "\\ ")));
        }
        c
    }

    fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// A connection error as a person can act on it. The password never
    /// appears: neither the server nor the driver echo it.
    fn connect_error(&self, e: &postgres::Error) -> DbError {
        let server = self.server();
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            let message = if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            {
                format!(
                    "authentication failed for user `{}` at the Postgres server {server}: {}",
                    self.user,
                    db.message()
                )
            } else if *code == SqlState::INVALID_CATALOG_NAME {
                format!(
                    "database `{}` does not exist on the Postgres server {server}",
                    self.dbname
                )
            } else {
                format!(
                    "the Postgres server {server} refused the connection: {}",
                    db.message()
                )
            };
            return DbError::new(message);
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                let what = match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => {
                        "connection refused (is the server running and listening there?)".to_owned()
                    }
                    std::io::ErrorKind::TimedOut => format!(
                        "no answer within {} s (connect_timeout)",
                        self.connect_timeout
                    ),
                    _ => io.to_string(),
                };
                return DbError::new(format!("cannot reach the Postgres server {server}: {what}"));
            }
            source = s.source();
        }
        let text = e.to_string();
        if text.contains("password missing") {
            return DbError::new(format!(
                "the Postgres server {server} asks for a password and the target has none (`password`)"
            ));
        }
        if text.contains("timeout") || text.contains("timed out") {
            return DbError::new(format!(
                "cannot reach the Postgres server {server}: no answer within {} s (connect_timeout)",
                self.connect_timeout
            ));
        }
        if text.contains("TLS") || text.contains("tls") {
            return DbError::new(format!(
                "cannot set up TLS with the Postgres server {server} (sslmode): {text}"
            ));
        }
        DbError::new(format!(
            "cannot connect to the Postgres server {server}: {text}"
        ))
    }
}

struct PgWarehouse {
    params: Params,
    tls: MakeRustlsConnect,
}

impl Warehouse for PgWarehouse {
    fn connect(&self) -> Result<Box<dyn Connection>, DbError> {
        let mut client = self
            .params
            .config()
            .connect(self.tls.clone())
            .map_err(|e| self.params.connect_error(&e))?;
        if let Some(role) = &self.params.role {
            client
                .batch_execute(&format!("set role {}", quote_ident(role)))
                .map_err(|e| db_err(&e))?;
        }
        let cancel = client.cancel_token();
        Ok(Box::new(PgConnection {
            client,
            cancel,
            tls: self.tls.clone(),
        }))
    }

    fn describe(&self) -> String {
        format!(
            "postgres database `{}` at {} as `{}`",
            self.params.dbname,
            self.params.server(),
            self.params.user
        )
    }
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

struct PgConnection {
    client: Client,
    cancel: postgres::CancelToken,
    tls: MakeRustlsConnect,
}

/// A statement error with the server's message, detail and hint.
fn db_err(e: &postgres::Error) -> DbError {
    let Some(db) = e.as_db_error() else {
        if e.is_closed() || e.to_string().contains("connection") {
            return DbError {
                message: format!("the connection to the Postgres server was lost ({e})"),
                cancelled: false,
                connection_lost: true,
            };
        }
        return DbError::new(format!("Postgres: {e}"));
    };
    // Class 08 (connection exception) and the server shutting a backend
    // down (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now).
    let code = db.code().code();
    if code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03") {
        return DbError {
            message: format!(
                "the connection to the Postgres server was lost: {}",
                db.message()
            ),
            cancelled: false,
            connection_lost: true,
        };
    }
    let mut message = db.message().to_owned();
    if let Some(d) = db.detail() {
        message.push_str("\nDETAIL: ");
        message.push_str(d);
    }
    if let Some(h) = db.hint() {
        message.push_str("\nHINT: ");
        message.push_str(h);
    }
    DbError {
        message,
        cancelled: *db.code() == SqlState::QUERY_CANCELED,
        connection_lost: false,
    }
}

impl Connection for PgConnection {
    fn execute(&mut self, sql: &str, fetch: bool) -> Result<(Response, Table), DbError> {
        // Types are known only from a description of one statement.
        let types: Option<Vec<Type>> = if fetch && is_single_statement(sql) {
            let stmt = self.client.prepare(sql).map_err(|e| db_err(&e))?;
            Some(stmt.columns().iter().map(|c| c.type_().clone()).collect())
        } else {
            None
        };
        let messages = self.client.simple_query(sql).map_err(|e| db_err(&e))?;
        let mut response = Response {
            message: "OK".to_owned(),
            rows_affected: None,
        };
        let mut table = Table::default();
        for m in messages {
            match m {
                SimpleQueryMessage::RowDescription(cols) => {
                    // A new result set: only the last statement's is kept.
                    table.rows.clear();
                    table.columns = cols
                        .iter()
                        .enumerate()
                        .map(|(i, c)| {
                            let ty = types
                                .as_ref()
                                .and_then(|t| t.get(i))
                                .map_or("text", Type::name);
                            (c.name().to_owned(), ty.to_owned())
                        })
                        .collect();
                    table.kinds = (0..cols.len())
                        .map(|i| match types.as_ref().and_then(|t| t.get(i)) {
                            Some(&Type::DATE) => super::CellKind::Date,
                            Some(&Type::TIMESTAMP) => super::CellKind::Timestamp,
                            Some(&Type::TIMESTAMPTZ) => super::CellKind::TimestampTz,
                            _ => super::CellKind::Plain,
                        })
                        .collect();
                }
                SimpleQueryMessage::Row(row) if fetch => {
                    let cells = (0..row.len())
                        .map(|i| {
                            let ty = types.as_ref().and_then(|t| t.get(i));
                            row.get(i).map_or(Value::Null, |s| cell(s, ty))
                        })
                        .collect();
                    table.rows.push(cells);
                }
                SimpleQueryMessage::CommandComplete(n) => {
                    response.rows_affected = i64::try_from(n).ok();
                }
                _ => {}
            }
        }
        if !fetch {
            table = Table::default();
        }
        Ok((response, table))
    }

    fn copy_csv(&mut self, relation: &str, csv: &mut dyn std::io::Read) -> Result<u64, DbError> {
        let sql = format!("copy {relation} from stdin with (format csv, null '')");
        let mut writer = self.client.copy_in(&sql).map_err(|e| db_err(&e))?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = csv
                .read(&mut buf)
                .map_err(|e| DbError::new(e.to_string()))?;
            if n == 0 {
                break;
            }
            // A write error means the server ended the copy; `finish` says why.
            if writer.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        writer.finish().map_err(|e| db_err(&e))
    }

    fn canceller(&self) -> Box<dyn Fn() + Send + Sync> {
        let token = self.cancel.clone();
        let tls = self.tls.clone();
        Box::new(move || {
            let _ = token.cancel_query(tls.clone());
        })
    }

    fn is_lost(&self) -> bool {
        self.client.is_closed()
    }
}

/// A text cell as JSON, typed by its column when known.
fn cell(text: &str, ty: Option<&Type>) -> Value {
    let Some(ty) = ty else {
        return Value::String(text.to_owned());
    };
    let number = |s: &str| {
        s.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(s.to_owned()), Value::Number)
    };
    match *ty {
        Type::BOOL => Value::Bool(text == "t"),
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => text
            .parse::<i64>()
            .map_or_else(|_| Value::String(text.to_owned()), Value::from),
        Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => number(text),
        _ => Value::String(text.to_owned()),
    }
}

/// Whether `sql` holds at most one statement: no `;` outside strings,
/// quoted names and comments is followed by more SQL.
fn is_single_statement(sql: &str) -> bool {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut ended = false;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0usize;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            continue;
        }
        if ended {
            return false;
        }
        match c {
            b';' => {
                ended = true;
                i += 1;
            }
            b'\'' | b'"' => {
                // E'...' strings escape with a backslash.
                let escapes = c == b'\'' && i > 0 && matches!(b[i - 1], b'e' | b'E');
                i += 1;
                while i < b.len() {
                    if escapes && b[i] == b'\\' {
                        i += 2;
                    } else if b[i] == c {
                        if b.get(i + 1) == Some(&c) {
                            i += 2;
                        } else {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                i += 1;
            }
            b'$' => {
                // A dollar quote `$tag$ ... $tag$` (not a `$1` parameter).
                let tag_end = b[i + 1..]
                    .iter()
                    .position(|x| !(x.is_ascii_alphanumeric() || *x == b'_'))
                    .map(|p| i + 1 + p);
                match tag_end {
                    Some(e)
                        if b[e] == b'$' && !b[i + 1..e].first().is_some_and(u8::is_ascii_digit) =>
                    {
                        let tag = &b[i..=e];
                        let body = e + 1;
                        i = b[body..]
                            .windows(tag.len())
                            .position(|w| w == tag)
                            .map_or(b.len(), |p| body + p + tag.len());
                    }
                    _ => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    true
}

/// TLS for `sslmode: prefer`/`require`, which (as in libpq) encrypt without
/// checking who signed the server's certificate; the handshake signatures
/// are still verified.
fn tls_connector() -> Result<MakeRustlsConnect, DbError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(EncryptOnly(Arc::clone(&provider)));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError::new(format!("cannot set up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_statements_are_told_from_several() {
        assert!(is_single_statement("select 1"));
        assert!(is_single_statement("select 1;\n  -- done\n"));
        assert!(is_single_statement(
            "select ';' as x, \"a;b\" from t /* ; */"
        ));
        assert!(is_single_statement("select $$a;b$$, $q$;$q$, E'\\';'"));
        assert!(is_single_statement("select $1"));
        assert!(!is_single_statement(
            "create table t (a int); insert into t values (1)"
        ));
        assert!(!is_single_statement("begin; select 1"));
    }

    #[test]
    fn cells_are_typed_by_their_column() {
        assert_eq!(cell("42", Some(&Type::INT4)), Value::from(42));
        assert_eq!(cell("t", Some(&Type::BOOL)), Value::Bool(true));
        assert_eq!(cell("1.5", Some(&Type::NUMERIC)), serde_json::json!(1.5));
        assert_eq!(cell("NaN", Some(&Type::FLOAT8)), Value::from("NaN"));
        assert_eq!(
            cell("2024-01-02 03:04:05", Some(&Type::TIMESTAMP)),
            Value::from("2024-01-02 03:04:05")
        );
        assert_eq!(cell("7", None), Value::from("7"));
    }

    #[test]
    fn profile_fields_are_checked() {
        let fields = |j: serde_json::Value| j.as_object().cloned().unwrap_or_default();
        let p = Params::from_fields(&fields(serde_json::json!({
            "host": "h", "user": "u", "pass": "p", "database": "d", "port": "6543"
        })))
        .expect("valid");
        assert_eq!(p.port, 6543);
        assert_eq!(p.dbname, "d");
        assert_eq!(p.password.as_deref(), Some("p"));
        assert_eq!(p.application_name, DEFAULT_APPLICATION_NAME);
        let err = |j| Params::from_fields(&fields(j)).err().map(|e| e.message);
        assert_eq!(
            err(serde_json::json!({"user": "u", "dbname": "d"})).as_deref(),
            Some("the target has no `host`")
        );
        assert!(
            err(serde_json::json!({"host": "h", "user": "u", "dbname": "d", "port": 70000}))
                .is_some_and(|m| m.contains("`port`"))
        );
        assert!(
            err(serde_json::json!({"host": "h", "user": "u", "dbname": "d", "sslmode": "verify-full"}))
                .is_some_and(|m| m.contains("verify-full"))
        );
    }
}
