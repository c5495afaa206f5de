//! The warehouse as one node's render sees it ([`Live`]): the worker's
//! connection, transaction state, the shared relation cache, and the
//! statement log.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use minijinja::Value;

use crate::adapter::{Adapter, ColumnInfo, Connection, DbError, Response, Table, Warehouse};
use crate::jinja::live::Live;
use crate::jinja::relation::Relation;
use crate::node::Node;

type SchemaKey = (String, String);

/// A relation's place: database, schema, identifier, lower case.
type RelKey = (String, String, String);

/// Which relations exist, per schema, as dbt's relation cache: listed once
/// per schema, then kept up to date by the materializations.
///
/// Where the warehouse tells which views read which relations
/// (`Adapter::view_dependencies_sql`), dropping a relation also forgets the
/// views that `drop ... cascade` took with it, and renaming one carries its
/// dependents along, as dbt-postgres's cache does.
#[derive(Default)]
pub struct RelationCache {
    schemas: Mutex<HashMap<SchemaKey, HashMap<String, Relation>>>,
    /// Relation -> the views that read it; `None` until listed.
    dependents: Mutex<Option<HashMap<RelKey, Vec<RelKey>>>>,
}

fn rel_key(r: &Relation) -> RelKey {
    let (d, s, i) = parts(r);
    (d.to_lowercase(), s.to_lowercase(), i.to_lowercase())
}

fn key(database: &str, schema: &str) -> SchemaKey {
    (database.to_lowercase(), schema.to_lowercase())
}

fn parts(r: &Relation) -> (&str, &str, &str) {
    (
        r.database.as_deref().unwrap_or_default(),
        r.schema.as_deref().unwrap_or_default(),
        r.identifier.as_deref().unwrap_or_default(),
    )
}

impl RelationCache {
    fn insert(&self, r: &Relation) {
        let (d, s, i) = parts(r);
        if let Ok(mut m) = self.schemas.lock() {
            m.entry(key(d, s))
                .or_default()
                .insert(i.to_lowercase(), r.clone());
        }
    }

    fn remove(&self, r: &Relation) {
        let mut pending = vec![rel_key(r)];
        let mut seen = std::collections::HashSet::new();
        while let Some(k) = pending.pop() {
            if !seen.insert(k.clone()) {
                continue;
            }
            if let Ok(mut m) = self.schemas.lock()
                && let Some(rels) = m.get_mut(&(k.0.clone(), k.1.clone()))
            {
                rels.remove(&k.2);
            }
            if let Ok(mut deps) = self.dependents.lock()
                && let Some(deps) = deps.as_mut()
                && let Some(views) = deps.remove(&k)
            {
                pending.extend(views);
            }
        }
    }

    /// A renamed relation keeps the views that read it.
    fn rename_dependents(&self, from: &Relation, to: &Relation) {
        if let Ok(mut deps) = self.dependents.lock()
            && let Some(deps) = deps.as_mut()
            && let Some(views) = deps.remove(&rel_key(from))
        {
            deps.insert(rel_key(to), views);
        }
    }
}

/// Every statement xform runs, as JSON lines (`XFORM_STATEMENT_LOG`), so
/// the benchmark can replay the same SQL with no tool around it.
pub struct StatementLog(Mutex<std::io::BufWriter<std::fs::File>>);

impl StatementLog {
    pub fn from_env() -> Option<Self> {
        let path = std::env::var_os("XFORM_STATEMENT_LOG")?;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()?;
        Some(Self(Mutex::new(std::io::BufWriter::new(f))))
    }

    fn write(&self, node: Option<&str>, sql: &str) {
        if let Ok(mut w) = self.0.lock() {
            let line = serde_json::json!({"node": node, "sql": sql});
            let _ = writeln!(w, "{line}");
        }
    }

    pub fn flush(&self) {
        if let Ok(mut w) = self.0.lock() {
            let _ = w.flush();
        }
    }
}

/// What all workers share.
pub struct Shared {
    pub adapter: Box<dyn Adapter>,
    pub warehouse: Arc<dyn Warehouse>,
    pub cache: RelationCache,
    pub log: Option<StatementLog>,
    pub full_refresh: bool,
}

impl Shared {
    /// Lists the relations of a schema into the cache unless it is there.
    pub fn ensure_listed(
        &self,
        conn: &mut dyn Connection,
        database: &str,
        schema: &str,
    ) -> Result<(), DbError> {
        self.ensure_dependencies(conn, database)?;
        let k = key(database, schema);
        let mut guard = self
            .schemas_guard()
            .ok_or_else(|| DbError::new("relation cache poisoned"))?;
        if guard.contains_key(&k) {
            return Ok(());
        }
        let sql = self.adapter.list_relations_sql(database, schema);
        let (_, table) = conn.execute(&sql, true)?;
        if let Some(log) = &self.log {
            log.write(None, &sql);
        }
        let mut rels = HashMap::new();
        for row in table.rows {
            let (Some(name), Some(kind)) = (
                row.first().and_then(serde_json::Value::as_str),
                row.get(1).and_then(serde_json::Value::as_str),
            ) else {
                continue;
            };
            let mut r = Relation::new(database, schema, name);
            r.quote = self.adapter.default_quote_policy();
            r.kind = Some(kind.to_owned());
            rels.insert(name.to_lowercase(), r);
        }
        guard.insert(k, rels);
        Ok(())
    }

    /// Lists which views read which relations, once.
    fn ensure_dependencies(
        &self,
        conn: &mut dyn Connection,
        database: &str,
    ) -> Result<(), DbError> {
        let Some(sql) = self.adapter.view_dependencies_sql() else {
            return Ok(());
        };
        let mut guard = self
            .cache
            .dependents
            .lock()
            .map_err(|_| DbError::new("relation cache poisoned"))?;
        if guard.is_some() {
            return Ok(());
        }
        let (_, table) = conn.execute(&sql, true)?;
        self.log(None, &sql);
        let mut deps: HashMap<RelKey, Vec<RelKey>> = HashMap::new();
        let db = database.to_lowercase();
        for row in table.rows {
            let text = |i: usize| {
                row.get(i)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_lowercase)
            };
            if let (Some(rs), Some(rn), Some(ds), Some(dn)) = (text(0), text(1), text(2), text(3)) {
                deps.entry((db.clone(), rs, rn))
                    .or_default()
                    .push((db.clone(), ds, dn));
            }
        }
        *guard = Some(deps);
        Ok(())
    }

    fn schemas_guard(
        &self,
    ) -> Option<std::sync::MutexGuard<'_, HashMap<SchemaKey, HashMap<String, Relation>>>> {
        self.cache.schemas.lock().ok()
    }

    /// Whether the cache knows the relation (its schema must be listed).
    pub fn contains(&self, r: &Relation) -> bool {
        let (d, s, i) = parts(r);
        self.lookup(d, s, i).is_some()
    }

    fn lookup(&self, database: &str, schema: &str, identifier: &str) -> Option<Relation> {
        let g = self.schemas_guard()?;
        g.get(&key(database, schema))?
            .get(&identifier.to_lowercase())
            .cloned()
    }

    fn listed(&self, database: &str, schema: &str) -> Vec<Relation> {
        self.schemas_guard()
            .and_then(|g| {
                g.get(&key(database, schema))
                    .map(|m| m.values().cloned().collect())
            })
            .unwrap_or_default()
    }

    pub fn log(&self, node: Option<&str>, sql: &str) {
        if let Some(log) = &self.log {
            log.write(node, sql);
        }
    }
}

/// One worker's connection and whether it is inside a transaction.
pub struct WorkerConn {
    pub conn: Box<dyn Connection>,
    pub in_transaction: bool,
    /// A statement found the connection dead; the worker opens a new one
    /// before its next node.
    pub lost: bool,
}

/// Answers `adapter.xform(key, args...)`.
pub type InfoFn = Box<dyn Fn(&str, &[Value]) -> Result<Value, String> + Send + Sync>;

/// The warehouse for one node's render.
pub struct NodeLive {
    pub shared: Arc<Shared>,
    pub worker: Arc<Mutex<WorkerConn>>,
    pub node: Arc<Node>,
    /// The last database error, with the statement that caused it.
    pub last_error: Mutex<Option<(String, String)>>,
    /// Facts for `adapter.xform(...)`, computed by the runner.
    pub info: InfoFn,
}

impl NodeLive {
    /// A live warehouse for renders that are not materializations (hooks,
    /// operations, previews), which have no `adapter.xform` facts; `what`
    /// names them in the error.
    pub fn without_facts(
        shared: &Arc<Shared>,
        worker: &Arc<Mutex<WorkerConn>>,
        node: Arc<Node>,
        what: &'static str,
    ) -> Self {
        Self {
            shared: Arc::clone(shared),
            worker: Arc::clone(worker),
            node,
            last_error: Mutex::new(None),
            info: Box::new(move |k: &str, _: &[Value]| {
                Err(format!("`adapter.xform('{k}')` is not available in {what}"))
            }),
        }
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut WorkerConn) -> Result<T, DbError>,
    ) -> Result<T, String> {
        let mut w = self
            .worker
            .lock()
            .map_err(|_| "the worker's connection is poisoned".to_owned())?;
        f(&mut w).map_err(|e| e.message)
    }

    fn run(
        &self,
        w: &mut WorkerConn,
        sql: &str,
        fetch: bool,
    ) -> Result<(Response, Table), DbError> {
        match w.conn.execute(sql, fetch) {
            Ok(r) => {
                self.shared.log(Some(&self.node.unique_id), sql);
                Ok(r)
            }
            Err(e) => {
                if let Ok(mut le) = self.last_error.lock() {
                    *le = Some((e.message.clone(), sql.to_owned()));
                }
                if e.connection_lost {
                    w.lost = true;
                    w.in_transaction = false;
                }
                Err(e)
            }
        }
    }

    /// `adapter.xform('seed_copy', relation)`: streams the seed's CSV file
    /// into the relation on this worker's connection, inside the node's
    /// transaction, for warehouses without a native CSV reader.
    fn seed_copy(&self, args: &[Value]) -> Result<Value, String> {
        let relation = args
            .first()
            .and_then(crate::jinja::live::as_relation)
            .ok_or("seed_copy needs the target relation")?;
        let csv = (self.info)("seed_csv", &[])?;
        let text = |k: &str| -> Result<String, String> {
            csv.get_attr(k)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .ok_or_else(|| format!("seed_csv has no `{k}`"))
        };
        let path = std::path::PathBuf::from(text("path")?);
        let delimiter = text("delimiter")?.bytes().next().unwrap_or(b',');
        let mut stream = super::seed::CopyStream::open(&path, delimiter)?;
        let rendered = relation.render();
        let rows = self.with_conn(|w| {
            if !w.in_transaction {
                self.run(w, "begin", false)?;
                w.in_transaction = true;
            }
            let rows = w.conn.copy_csv(&rendered, &mut stream).inspect_err(|e| {
                if let Ok(mut le) = self.last_error.lock() {
                    *le = Some((e.message.clone(), format!("copy {rendered} from stdin")));
                }
            })?;
            self.shared.log(
                Some(&self.node.unique_id),
                &format!("copy {rendered} from '{}' (csv)", path.display()),
            );
            Ok(rows)
        })?;
        Ok(Value::from(rows))
    }

    /// Ends the node: commits an open transaction, or rolls it back when the
    /// node failed.
    pub fn finish(&self, success: bool) -> Result<(), String> {
        self.with_conn(|w| {
            if w.in_transaction {
                w.in_transaction = false;
                let sql = if success { "commit" } else { "rollback" };
                w.conn.execute(sql, false)?;
                self.shared.log(Some(&self.node.unique_id), sql);
            }
            Ok(())
        })
    }
}

impl Live for NodeLive {
    fn execute(
        &self,
        sql: &str,
        auto_begin: bool,
        fetch: bool,
    ) -> Result<(Response, Table), String> {
        self.with_conn(|w| {
            if auto_begin && !w.in_transaction {
                self.run(w, "begin", false)?;
                w.in_transaction = true;
            }
            self.run(w, sql, fetch)
        })
    }

    fn begin(&self) -> Result<(), String> {
        self.with_conn(|w| {
            if !w.in_transaction {
                self.run(w, "begin", false)?;
                w.in_transaction = true;
            }
            Ok(())
        })
    }

    fn commit(&self) -> Result<(), String> {
        self.with_conn(|w| {
            if w.in_transaction {
                w.in_transaction = false;
                self.run(w, "commit", false)?;
            }
            Ok(())
        })
    }

    fn rollback(&self) -> Result<(), String> {
        self.with_conn(|w| {
            if w.in_transaction {
                w.in_transaction = false;
                self.run(w, "rollback", false)?;
            }
            Ok(())
        })
    }

    fn get_relation(
        &self,
        database: &str,
        schema: &str,
        identifier: &str,
    ) -> Result<Option<Relation>, String> {
        self.with_conn(|w| self.shared.ensure_listed(w.conn.as_mut(), database, schema))?;
        Ok(self.shared.lookup(database, schema, identifier))
    }

    fn list_relations(&self, database: &str, schema: &str) -> Result<Vec<Relation>, String> {
        self.with_conn(|w| self.shared.ensure_listed(w.conn.as_mut(), database, schema))?;
        Ok(self.shared.listed(database, schema))
    }

    fn columns(&self, relation: &Relation) -> Result<Vec<ColumnInfo>, String> {
        let (d, s, i) = parts(relation);
        let sql = self.shared.adapter.columns_sql(d, s, i);
        let (_, table) = self.with_conn(|w| self.run(w, &sql, true))?;
        Ok(column_rows(table))
    }

    fn query_columns(&self, sql: &str) -> Result<Vec<ColumnInfo>, String> {
        // A zero-row table of the query, in a transaction that is rolled
        // back: the warehouse reports its column types as it would for the
        // built relation.
        let n = &self.node;
        let tag = crate::project::properties::md5_hex(&n.unique_id);
        let ident = format!("xf_columns__{}", &tag[..12]);
        let q = |s: &str| self.shared.adapter.quote(s);
        let rel = format!("{}.{}.{}", q(&n.database), q(&n.schema), q(&ident));
        let create = format!(
            "create table {rel} as select * from (\n{sql}\n) as xf_query where false limit 0"
        );
        let columns_sql = self
            .shared
            .adapter
            .columns_sql(&n.database, &n.schema, &ident);
        let (_, table) = self.with_conn(|w| {
            let began = !w.in_transaction;
            if began {
                self.run(w, "begin", false)?;
                w.in_transaction = true;
            }
            let out = self
                .run(w, &create, false)
                .and_then(|_| self.run(w, &columns_sql, true));
            if began {
                w.in_transaction = false;
                let rolled = self.run(w, "rollback", false);
                out.and_then(|t| rolled.map(|_| t))
            } else {
                let dropped = self.run(w, &format!("drop table if exists {rel}"), false);
                out.and_then(|t| dropped.map(|_| t))
            }
        })?;
        Ok(column_rows(table))
    }

    fn cache_added(&self, relation: &Relation) {
        self.shared.cache.insert(relation);
    }

    fn cache_dropped(&self, relation: &Relation) {
        self.shared.cache.remove(relation);
    }

    fn cache_renamed(&self, from: &Relation, to: &Relation) {
        self.shared.cache.rename_dependents(from, to);
        self.shared.cache.remove(from);
        let mut r = to.clone();
        if r.kind.is_none() {
            r.kind.clone_from(&from.kind);
        }
        self.shared.cache.insert(&r);
    }

    fn schema_exists(&self, database: &str, schema: &str) -> Result<bool, String> {
        let sql = self.shared.adapter.list_schemas_sql(database);
        let (_, table) = self.with_conn(|w| self.run(w, &sql, true))?;
        Ok(table.rows.iter().any(|r| {
            r.first()
                .and_then(serde_json::Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case(schema))
        }))
    }

    fn full_refresh(&self) -> bool {
        self.shared.full_refresh
    }

    fn info(&self, key: &str, args: &[Value]) -> Result<Value, String> {
        if key == "seed_copy" {
            return self.seed_copy(args);
        }
        (self.info)(key, args)
    }
}

/// Rows of (name, type), as the adapters' column queries return them.
fn column_rows(table: Table) -> Vec<ColumnInfo> {
    table
        .rows
        .into_iter()
        .filter_map(|row| {
            Some(ColumnInfo {
                name: row.first()?.as_str()?.to_owned(),
                data_type: row.get(1)?.as_str()?.to_owned(),
            })
        })
        .collect()
}
