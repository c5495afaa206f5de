//! `target/catalog.json` in dbt's catalog v1 shape: the relations of the
//! project's models, seeds, snapshots and sources with their columns, read
//! from the warehouse (`Adapter::catalog_sql`) or, offline, inferred from the
//! SQL by `lineage`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use crate::adapter::{Adapter, Connection, DbError, quote_literal};
use crate::lineage::{self, LineageGraph};
use crate::node::{Node, ResourceType};
use crate::project::Project;

pub const SCHEMA_VERSION: &str = "https://schemas.getdbt.com/dbt/catalog/v1.json";

/// Where the columns of a catalog came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The warehouse's own description of the relations that exist.
    Warehouse,
    /// Derived from the project's SQL, YAML and seed files, without a
    /// warehouse.
    Inferred,
}

impl Origin {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Warehouse => "warehouse",
            Self::Inferred => "inferred",
        }
    }
}

/// One relation of the catalog.
#[derive(Clone, Debug)]
pub struct Table {
    pub unique_id: String,
    /// `BASE TABLE`, `VIEW`, `MATERIALIZED VIEW`, as the warehouse says.
    pub kind: String,
    pub database: String,
    pub schema: String,
    pub name: String,
    pub comment: Option<String>,
    pub owner: Option<String>,
    pub columns: Vec<Column>,
}

#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub data_type: String,
    /// 1-based position.
    pub index: i64,
    pub comment: Option<String>,
}

/// The catalog: models, seeds and snapshots under `nodes`, sources under
/// `sources`, by unique id.
#[derive(Clone, Debug)]
pub struct Catalog {
    pub origin: Origin,
    pub nodes: IndexMap<String, Table>,
    pub sources: IndexMap<String, Table>,
}

impl Catalog {
    /// The table of a node, from either section.
    pub fn get(&self, id: &str) -> Option<&Table> {
        self.nodes.get(id).or_else(|| self.sources.get(id))
    }

    /// The columns as `lineage` reads a catalog, for inference over
    /// sources, seeds and snapshots.
    pub fn to_lineage(&self) -> lineage::Catalog {
        let nodes = self
            .nodes
            .values()
            .chain(self.sources.values())
            .map(|t| {
                (
                    t.unique_id.clone(),
                    t.columns
                        .iter()
                        .map(|c| lineage::ColumnDef {
                            name: c.name.clone(),
                            data_type: Some(c.data_type.to_ascii_lowercase()),
                        })
                        .collect(),
                )
            })
            .collect();
        lineage::Catalog { nodes }
    }
}

/// Whether a node is a relation the catalog describes.
fn has_relation(n: &Node) -> bool {
    match n.resource_type {
        ResourceType::Model => !n.is_ephemeral(),
        ResourceType::Seed | ResourceType::Snapshot | ResourceType::Source => true,
        _ => false,
    }
}

type Key = (String, String, String);

fn key(database: &str, schema: &str, name: &str) -> Key {
    (
        database.to_lowercase(),
        schema.to_lowercase(),
        name.to_lowercase(),
    )
}

/// Renders the adapter's catalog query for one database and its schemas.
fn render_query(
    adapter: &dyn Adapter,
    database: &str,
    schemas: &[&str],
) -> Result<String, DbError> {
    let env = minijinja::Environment::new();
    let schemas: Vec<String> = schemas.iter().map(|s| quote_literal(s)).collect();
    env.render_str(
        adapter.catalog_sql(),
        minijinja::context! { database => quote_literal(database), schemas => schemas },
    )
    .map_err(|e| DbError::new(format!("the catalog query template does not render: {e}")))
}

fn cell_str(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn cell_int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// What to ask the warehouse for: the schemas the project's relations are
/// in, and which node (or nodes, for sources) each relation is. It owns its
/// data, so the query can run while the project goes on compiling.
#[derive(Debug)]
pub struct Query {
    /// One model, seed or snapshot per relation.
    node_of: HashMap<Key, String>,
    /// Possibly several sources per relation (two source entries may name
    /// one table).
    sources_of: HashMap<Key, Vec<String>>,
    schemas: BTreeMap<String, BTreeSet<String>>,
}

impl Query {
    pub fn new(project: &Project) -> Self {
        let mut node_of: HashMap<Key, String> = HashMap::new();
        let mut sources_of: HashMap<Key, Vec<String>> = HashMap::new();
        let mut schemas: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for n in project.nodes.values().filter(|n| has_relation(n)) {
            let k = key(&n.database, &n.schema, &n.alias);
            if n.resource_type == ResourceType::Source {
                sources_of.entry(k).or_default().push(n.unique_id.clone());
            } else {
                node_of.entry(k).or_insert_with(|| n.unique_id.clone());
            }
            if let Some(set) = schemas.get_mut(n.database.as_str()) {
                if !set.contains(n.schema.as_str()) {
                    set.insert(n.schema.clone());
                }
            } else {
                schemas.insert(n.database.clone(), BTreeSet::from([n.schema.clone()]));
            }
        }
        Self {
            node_of,
            sources_of,
            schemas,
        }
    }
}

/// Reads the catalog of every relation of a [`Query`] from the warehouse:
/// one query per database over the schemas the project's relations are in.
/// Relations that do not exist (not built yet) are absent, as in dbt.
pub fn from_warehouse(
    query: &Query,
    adapter: &dyn Adapter,
    conn: &mut dyn Connection,
) -> Result<Catalog, DbError> {
    let Query {
        node_of,
        sources_of,
        schemas,
    } = query;
    let mut tables: IndexMap<Key, Table> = IndexMap::new();
    for (database, schemas) in schemas {
        let schemas: Vec<&str> = schemas.iter().map(String::as_str).collect();
        let sql = render_query(adapter, database, &schemas)?;
        let (_, rows) = conn.execute(&sql, true)?;
        for row in &rows.rows {
            let get = |i: usize| row.get(i);
            let (Some(db), Some(schema), Some(name), Some(column)) = (
                cell_str(get(0)),
                cell_str(get(1)),
                cell_str(get(2)),
                cell_str(get(5)),
            ) else {
                continue;
            };
            let k = key(&db, &schema, &name);
            if !node_of.contains_key(&k) && !sources_of.contains_key(&k) {
                continue;
            }
            let t = tables.entry(k).or_insert_with(|| Table {
                unique_id: String::new(),
                kind: cell_str(get(3)).unwrap_or_else(|| "BASE TABLE".to_owned()),
                database: db,
                schema,
                name,
                comment: cell_str(get(4)),
                owner: cell_str(get(9)),
                columns: Vec::new(),
            });
            let index = cell_int(get(6))
                .unwrap_or_else(|| i64::try_from(t.columns.len() + 1).unwrap_or(i64::MAX));
            t.columns.push(Column {
                name: column,
                data_type: cell_str(get(7)).unwrap_or_default(),
                index,
                comment: cell_str(get(8)),
            });
        }
    }
    let mut catalog = Catalog {
        origin: Origin::Warehouse,
        nodes: IndexMap::new(),
        sources: IndexMap::new(),
    };
    for (k, mut t) in tables {
        t.columns.sort_by_key(|c| c.index);
        if let Some(id) = node_of.get(&k) {
            let mut t = t.clone();
            t.unique_id.clone_from(id);
            catalog.nodes.insert(id.clone(), t);
        }
        for id in sources_of.get(&k).map(Vec::as_slice).unwrap_or_default() {
            let mut t = t.clone();
            t.unique_id.clone_from(id);
            catalog.sources.insert(id.clone(), t);
        }
    }
    Ok(catalog)
}

/// What kind of relation a node's materialization makes.
fn relation_kind(n: &Node) -> &'static str {
    match (n.resource_type, n.materialized()) {
        (ResourceType::Model, "view") => "VIEW",
        (ResourceType::Model, "materialized_view") => "MATERIALIZED VIEW",
        _ => "BASE TABLE",
    }
}

/// The catalog without a warehouse: every relation whose columns are (at
/// least partly) known from lineage inference, with the inferred types
/// (`unknown` where the SQL does not tell).
pub fn from_inference(project: &Project, graph: &LineageGraph) -> Catalog {
    let mut catalog = Catalog {
        origin: Origin::Inferred,
        nodes: IndexMap::new(),
        sources: IndexMap::new(),
    };
    for n in project.nodes.values().filter(|n| has_relation(n)) {
        let Some(l) = graph.nodes.get(&n.unique_id) else {
            continue;
        };
        if l.columns.is_empty() {
            continue;
        }
        let columns = l
            .columns
            .iter()
            .zip(1i64..)
            .map(|(c, index)| Column {
                name: c.name.clone(),
                data_type: c.data_type.clone().unwrap_or_else(|| "unknown".to_owned()),
                index,
                comment: None,
            })
            .collect();
        let t = Table {
            unique_id: n.unique_id.clone(),
            kind: relation_kind(n).to_owned(),
            database: n.database.clone(),
            schema: n.schema.clone(),
            name: n.alias.clone(),
            comment: None,
            owner: None,
            columns,
        };
        if n.resource_type == ResourceType::Source {
            catalog.sources.insert(n.unique_id.clone(), t);
        } else {
            catalog.nodes.insert(n.unique_id.clone(), t);
        }
    }
    catalog
}

// The output shapes, in dbt's key order.

#[derive(Serialize)]
struct TableOut<'a> {
    metadata: TableMeta<'a>,
    columns: IndexMap<&'a str, ColumnOut<'a>>,
    stats: BTreeMap<&'static str, Stat>,
    unique_id: &'a str,
}

#[derive(Serialize)]
struct TableMeta<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    schema: &'a str,
    name: &'a str,
    database: &'a str,
    comment: Option<&'a str>,
    owner: Option<&'a str>,
}

#[derive(Serialize)]
struct ColumnOut<'a> {
    #[serde(rename = "type")]
    data_type: &'a str,
    index: i64,
    name: &'a str,
    comment: Option<&'a str>,
}

#[derive(Serialize)]
struct Stat {
    id: &'static str,
    label: &'static str,
    value: bool,
    include: bool,
    description: &'static str,
}

fn table_out(t: &Table) -> TableOut<'_> {
    let mut stats = BTreeMap::new();
    stats.insert(
        "has_stats",
        Stat {
            id: "has_stats",
            label: "Has Stats?",
            value: false,
            include: false,
            description: "Indicates whether there are statistics for this table",
        },
    );
    TableOut {
        metadata: TableMeta {
            kind: &t.kind,
            schema: &t.schema,
            name: &t.name,
            database: &t.database,
            comment: t.comment.as_deref(),
            owner: t.owner.as_deref(),
        },
        columns: t
            .columns
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    ColumnOut {
                        data_type: &c.data_type,
                        index: c.index,
                        name: &c.name,
                        comment: c.comment.as_deref(),
                    },
                )
            })
            .collect(),
        stats,
        unique_id: &t.unique_id,
    }
}

/// Invocation facts recorded in the catalog's `metadata`.
pub struct Invocation<'a> {
    pub invocation_id: &'a str,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

/// Writes `catalog.json` under the target folder (beside its final name,
/// then renamed into place).
pub fn write(
    project: &Project,
    catalog: &Catalog,
    inv: &Invocation<'_>,
) -> std::io::Result<std::path::PathBuf> {
    #[derive(Serialize)]
    struct Out<'a> {
        metadata: Value,
        nodes: IndexMap<&'a str, TableOut<'a>>,
        sources: IndexMap<&'a str, TableOut<'a>>,
        errors: Option<Vec<String>>,
    }
    let out = Out {
        metadata: serde_json::json!({
            "dbt_schema_version": SCHEMA_VERSION,
            "dbt_version": crate::artifacts::manifest::DBT_VERSION,
            "generated_at": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "invocation_id": inv.invocation_id,
            "invocation_started_at": inv.started_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "env": {},
        }),
        nodes: catalog
            .nodes
            .iter()
            .map(|(k, t)| (k.as_str(), table_out(t)))
            .collect(),
        sources: catalog
            .sources
            .iter()
            .map(|(k, t)| (k.as_str(), table_out(t)))
            .collect(),
        errors: None,
    };
    let dir = project.target_path();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("catalog.json");
    let tmp = dir.join(".catalog.json.tmp");
    let file = std::fs::File::create(&tmp)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    crate::artifacts::json::to_writer(&mut w, &out)?;
    std::io::Write::flush(&mut w)?;
    drop(w);
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
