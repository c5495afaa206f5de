//! The warehouse while compiling. dbt's `compile` connects and lets macros
//! query (`run_query`, `statement`, `adapter.get_columns_in_relation`:
//! `dbt_utils.star`, `date_spine`, `get_column_values`), so their compiled
//! SQL depends on what is there. `xform compile` does the same, lazily: the
//! warehouse is opened the first time a node asks it something, so a
//! project that never introspects compiles without one. Each node's
//! statements run on a pooled connection and are rolled back when the
//! node's render ends: compiling changes nothing.

use std::sync::{Arc, Mutex, OnceLock};

use minijinja::Value;

use super::live::{NodeLive, Shared, WorkerConn};
use crate::adapter::{ColumnInfo, Response, Table};
use crate::jinja::live::Live;
use crate::jinja::relation::Relation;
use crate::node::Node;
use crate::project::Project;

/// The warehouse of one `compile`, opened on first use.
pub struct Introspection {
    open: Box<dyn Fn() -> Result<Arc<Shared>, String> + Send + Sync>,
    shared: OnceLock<Result<Arc<Shared>, String>>,
    /// Connections not in use by a node.
    pool: Mutex<Vec<Arc<Mutex<WorkerConn>>>>,
}

impl Introspection {
    pub fn new(project: &Project) -> Arc<Self> {
        let target = project.target.clone();
        Arc::new(Self {
            open: Box::new(move || {
                let adapter = crate::adapter::for_kind(&target.kind)
                    .ok_or_else(|| format!("unknown warehouse type `{}`", target.kind))?;
                let warehouse = adapter.open(&target).map_err(|e| e.message)?;
                Ok(Arc::new(Shared {
                    adapter,
                    warehouse,
                    cache: super::live::RelationCache::default(),
                    log: None,
                    full_refresh: false,
                }))
            }),
            shared: OnceLock::new(),
            pool: Mutex::new(Vec::new()),
        })
    }

    /// The warehouse as `node`'s render sees it; nothing is opened until
    /// the render asks. It keeps what the warehouse work reads of the node
    /// (its ids and name, its database and schema), not a copy of all of
    /// it: most renders never ask.
    pub fn live_for(self: &Arc<Self>, node: &Node) -> Arc<dyn Live> {
        let mut kept = node.clone_header();
        kept.database.clone_from(&node.database);
        kept.schema.clone_from(&node.schema);
        Arc::new(LazyLive {
            intro: Arc::clone(self),
            node: Arc::new(kept),
            inner: OnceLock::new(),
        })
    }

    fn node_live(&self, node: &Arc<Node>) -> Result<NodeLive, String> {
        let shared = self
            .shared
            .get_or_init(|| (self.open)())
            .as_ref()
            .map_err(|e| unreachable(node, e))?;
        let pooled = self.pool.lock().ok().and_then(|mut p| p.pop());
        let worker = if let Some(w) = pooled {
            w
        } else {
            let conn = shared
                .warehouse
                .connect()
                .map_err(|e| unreachable(node, &e.message))?;
            Arc::new(Mutex::new(WorkerConn {
                conn,
                in_transaction: false,
                lost: false,
            }))
        };
        Ok(NodeLive::without_facts(
            shared,
            &worker,
            Arc::clone(node),
            "compile",
        ))
    }
}

fn unreachable(node: &Node, why: &str) -> String {
    format!(
        "compiling `{}` queries the warehouse, which cannot be reached: {why}\n\
         (pass --no-introspect to compile without it)",
        node.name
    )
}

/// One node's warehouse while compiling, opened on first use; its
/// transaction is rolled back and its connection pooled when the render
/// drops it.
struct LazyLive {
    intro: Arc<Introspection>,
    node: Arc<Node>,
    inner: OnceLock<Result<NodeLive, String>>,
}

impl LazyLive {
    fn get(&self) -> Result<&NodeLive, String> {
        self.inner
            .get_or_init(|| self.intro.node_live(&self.node))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl Drop for LazyLive {
    fn drop(&mut self) {
        if let Some(Ok(nl)) = self.inner.get() {
            let _ = nl.finish(false);
            let lost = nl.worker.lock().map_or(true, |w| w.lost);
            if !lost && let Ok(mut pool) = self.intro.pool.lock() {
                pool.push(Arc::clone(&nl.worker));
            }
        }
    }
}

impl Live for LazyLive {
    fn execute(
        &self,
        sql: &str,
        auto_begin: bool,
        fetch: bool,
    ) -> Result<(Response, Table), String> {
        self.get()?.execute(sql, auto_begin, fetch)
    }

    fn begin(&self) -> Result<(), String> {
        self.get()?.begin()
    }

    /// Nothing a compile does is kept.
    fn commit(&self) -> Result<(), String> {
        Ok(())
    }

    fn rollback(&self) -> Result<(), String> {
        self.get()?.rollback()
    }

    fn get_relation(
        &self,
        database: &str,
        schema: &str,
        identifier: &str,
    ) -> Result<Option<Relation>, String> {
        self.get()?.get_relation(database, schema, identifier)
    }

    fn list_relations(&self, database: &str, schema: &str) -> Result<Vec<Relation>, String> {
        self.get()?.list_relations(database, schema)
    }

    fn columns(&self, relation: &Relation) -> Result<Vec<ColumnInfo>, String> {
        self.get()?.columns(relation)
    }

    fn query_columns(&self, sql: &str) -> Result<Vec<ColumnInfo>, String> {
        self.get()?.query_columns(sql)
    }

    fn cache_added(&self, relation: &Relation) {
        if let Ok(nl) = self.get() {
            nl.cache_added(relation);
        }
    }

    fn cache_dropped(&self, relation: &Relation) {
        if let Ok(nl) = self.get() {
            nl.cache_dropped(relation);
        }
    }

    fn cache_renamed(&self, from: &Relation, to: &Relation) {
        if let Ok(nl) = self.get() {
            nl.cache_renamed(from, to);
        }
    }

    fn schema_exists(&self, database: &str, schema: &str) -> Result<bool, String> {
        self.get()?.schema_exists(database, schema)
    }

    fn full_refresh(&self) -> bool {
        false
    }

    fn info(&self, key: &str, _args: &[Value]) -> Result<Value, String> {
        Err(format!(
            "`adapter.xform('{key}')` is not available while compiling"
        ))
    }
}
