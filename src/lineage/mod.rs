//! Column-level lineage and schema inference across the DAG.
//!
//! [`infer`] walks the project's nodes in topological order. Sources, seeds
//! and snapshots start from what is declared (a `catalog.json`, YAML
//! `columns:`, seed CSV headers and `column_types`); every model's columns
//! are derived from its parsed SQL by [`sql::analyze`] over the columns of
//! what it reads. The result is a [`LineageGraph`]: for each node, its
//! columns (complete or not) and, for each column, the upstream (node,
//! column) pairs it derives from. It serializes to JSON as is, for
//! `xform lineage --format json` and for a docs page.
//!
//! Invariant: a column set is only *complete* when every step that produced
//! it is known; nothing downstream of an incomplete set is ever reported.

pub mod sql;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet, VecDeque};

use indexmap::IndexMap;
use serde::Serialize;
use sqlparser::ast::Statement;

use crate::node::{Node, ResourceType};
use crate::project::Project;

pub use sql::{Analysis, OutColumn, Shape, TableColumns, Tables, UnknownColumn, UnusedCte};

/// A column name and its type when known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: Option<String>,
}

/// How an output column relates to an upstream column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// The value is copied, possibly renamed.
    Direct,
    /// The value is computed from it (expression, aggregate, window, ...).
    Transformed,
}

impl EdgeKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Transformed => "transformed",
        }
    }
}

/// An upstream column an output column derives from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Origin {
    pub node: String,
    pub column: String,
    pub kind: EdgeKind,
}

/// The lineage of every node of a project.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LineageGraph {
    pub nodes: IndexMap<String, NodeLineage>,
}

/// One node: its columns and what they derive from.
#[derive(Clone, Debug, Serialize)]
pub struct NodeLineage {
    pub resource_type: ResourceType,
    pub name: String,
    pub depends_on: Vec<String>,
    /// False when the node may have columns besides `columns`.
    pub columns_complete: bool,
    pub columns: Vec<ColumnLineage>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ColumnLineage {
    pub name: String,
    pub data_type: Option<String>,
    pub origins: Vec<Origin>,
}

/// Columns of nodes from a previous run's `catalog.json` (dbt catalog v1),
/// by unique id.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub nodes: HashMap<String, Vec<ColumnDef>>,
}

impl Catalog {
    /// Reads the `nodes` and `sources` of a catalog; columns in `index` order.
    pub fn parse(text: &str) -> Result<Self, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut nodes = HashMap::new();
        for section in ["nodes", "sources"] {
            let Some(m) = v.get(section).and_then(serde_json::Value::as_object) else {
                continue;
            };
            for (id, entry) in m {
                let Some(cols) = entry.get("columns").and_then(serde_json::Value::as_object) else {
                    continue;
                };
                let mut list: Vec<(i64, ColumnDef)> = cols
                    .iter()
                    .map(|(key, c)| {
                        let name = c
                            .get("name")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or(key)
                            .to_owned();
                        let index = c
                            .get("index")
                            .and_then(serde_json::Value::as_i64)
                            .unwrap_or(i64::MAX);
                        let data_type = c
                            .get("type")
                            .and_then(serde_json::Value::as_str)
                            .map(str::to_ascii_lowercase);
                        (index, ColumnDef { name, data_type })
                    })
                    .collect();
                list.sort_by_key(|(i, _)| *i);
                nodes.insert(id.clone(), list.into_iter().map(|(_, c)| c).collect());
            }
        }
        Ok(Self { nodes })
    }
}

/// What inference found in the project.
#[derive(Debug, Default)]
pub struct Inference {
    pub graph: LineageGraph,
    /// Column references that cannot exist, per node.
    pub unknown_columns: HashMap<String, Vec<UnknownColumn>>,
    /// CTEs nothing reads, per node.
    pub unused_ctes: HashMap<String, Vec<UnusedCte>>,
}

/// Finds the node a relation name in compiled SQL stands for.
struct RelationIndex {
    /// `database.schema.identifier`, `schema.identifier` (when unique) and
    /// ephemeral CTE names, lower case, joined by `.`.
    by_name: HashMap<String, Option<String>, crate::node::FastState>,
}

impl RelationIndex {
    fn new(project: &Project) -> Self {
        let mut by_name: HashMap<String, Option<String>, crate::node::FastState> =
            HashMap::default();
        for n in project.nodes.values() {
            if !matches!(
                n.resource_type,
                ResourceType::Model
                    | ResourceType::Seed
                    | ResourceType::Snapshot
                    | ResourceType::Source
            ) {
                continue;
            }
            if n.is_ephemeral() {
                by_name.insert(
                    format!("__dbt__cte__{}", n.alias).to_ascii_lowercase(),
                    Some(n.unique_id.clone()),
                );
                continue;
            }
            let full = format!("{}.{}.{}", n.database, n.schema, n.alias).to_ascii_lowercase();
            let short = format!("{}.{}", n.schema, n.alias).to_ascii_lowercase();
            by_name.insert(full, Some(n.unique_id.clone()));
            by_name
                .entry(short)
                .and_modify(|e| {
                    if e.as_deref() != Some(n.unique_id.as_str()) {
                        *e = None;
                    }
                })
                .or_insert_with(|| Some(n.unique_id.clone()));
        }
        Self { by_name }
    }

    fn find(&self, parts: &[String]) -> Option<&str> {
        if parts.is_empty() || parts.len() > 3 {
            return None;
        }
        let key = parts.join(".").to_ascii_lowercase();
        self.by_name.get(&key)?.as_deref()
    }
}

struct Known<'a> {
    index: &'a RelationIndex,
    shapes: &'a IndexMap<String, Shape, crate::node::FastState>,
}

impl Tables for Known<'_> {
    fn table(&self, parts: &[String]) -> Option<TableColumns> {
        let id = self.index.find(parts)?;
        let shape = self.shapes.get(id);
        Some(TableColumns {
            node: id.to_owned(),
            columns: shape
                .map(|s| {
                    s.columns
                        .iter()
                        .filter(|c| !c.name.is_empty())
                        .map(|c| ColumnDef {
                            name: c.name.clone(),
                            data_type: c.data_type.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            complete: shape.is_some_and(|s| s.complete),
        })
    }
}

fn declared(cols: impl IntoIterator<Item = ColumnDef>) -> Shape {
    Shape {
        columns: cols
            .into_iter()
            .map(|c| OutColumn {
                origins: Vec::new(),
                name: c.name,
                data_type: c.data_type.map(|t| t.to_ascii_lowercase()),
            })
            .collect(),
        complete: true,
        positional: true,
    }
}

fn yaml_columns(n: &Node) -> Vec<ColumnDef> {
    n.columns
        .values()
        .map(|c| ColumnDef {
            name: c.name.clone(),
            data_type: c.data_type.clone(),
        })
        .collect()
}

/// Whether a model's contract is enforced.
pub fn contract_enforced(n: &Node) -> bool {
    n.config
        .get("contract")
        .and_then(|c| c.get("enforced"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

fn seed_columns(project: &Project, n: &Node) -> Option<Vec<ColumnDef>> {
    let delim = n
        .config
        .get("delimiter")
        .and_then(serde_json::Value::as_str)
        .and_then(|s| s.bytes().next())
        .unwrap_or(b',');
    let file = crate::execute::seed::infer(&n.abs_path, delim).ok()?;
    let adapter = crate::adapter::for_kind(&project.target.kind);
    let overrides = n
        .config
        .get("column_types")
        .and_then(serde_json::Value::as_object);
    Some(
        file.columns
            .into_iter()
            .map(|(name, kind)| {
                let t = overrides
                    .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(&name)))
                    .and_then(|(_, v)| v.as_str())
                    .map(str::to_owned)
                    .or_else(|| adapter.as_ref().map(|a| a.seed_type(kind).to_owned()));
                ColumnDef { name, data_type: t }
            })
            .collect(),
    )
}

/// Infers the columns and lineage of every node, in `order` (topological).
/// `parsed` gives the parsed SQL of the models that parsed; others are
/// unknown.
pub fn infer<'a>(
    project: &Project,
    order: &[String],
    parsed: &dyn Fn(&str) -> Option<&'a [Statement]>,
    catalog: Option<&Catalog>,
) -> Inference {
    let mut inferrer = Inferrer::new(project, catalog);
    for id in order {
        inferrer.add(id, parsed(id));
    }
    inferrer.finish()
}

/// Infers node by node, so that a caller can parse the models of one layer
/// of the DAG, infer them and drop their syntax trees before the next.
/// Every node must be added after its parents. Each node's columns are held
/// once (`shapes`) and become the lineage graph at `finish`.
pub struct Inferrer<'p> {
    project: &'p Project,
    catalog: Option<&'p Catalog>,
    index: RelationIndex,
    /// The columns of every node added, in the order added.
    shapes: IndexMap<String, Shape, crate::node::FastState>,
    /// For a model whose enforced contract's declared columns stand in for
    /// an incomplete inferred set: what its query was inferred to produce.
    replaced: HashMap<String, Shape>,
    out: Inference,
}

impl<'p> Inferrer<'p> {
    pub fn new(project: &'p Project, catalog: Option<&'p Catalog>) -> Self {
        Self {
            project,
            catalog,
            index: RelationIndex::new(project),
            shapes: IndexMap::default(),
            replaced: HashMap::new(),
            out: Inference::default(),
        }
    }

    /// Unknown columns and unused CTEs found so far.
    pub const fn inference(&self) -> &Inference {
        &self.out
    }

    /// The columns a model's query was inferred to produce (before an
    /// enforced contract's declared columns stand in for an incomplete set).
    pub fn inferred(&self, id: &str) -> Option<&Shape> {
        self.replaced.get(id).or_else(|| self.shapes.get(id))
    }

    pub fn finish(self) -> Inference {
        let mut out = self.out;
        out.graph.nodes.reserve(self.shapes.len());
        for (id, shape) in self.shapes {
            let Some(n) = self.project.nodes.get(&id) else {
                continue;
            };
            let lineage = NodeLineage {
                resource_type: n.resource_type,
                name: n.name.clone(),
                depends_on: n.depends_on_nodes.clone(),
                columns_complete: shape.complete,
                columns: shape
                    .columns
                    .into_iter()
                    .filter(|c| !c.name.is_empty())
                    .map(|c| ColumnLineage {
                        name: c.name,
                        data_type: c.data_type,
                        origins: c.origins,
                    })
                    .collect(),
            };
            out.graph.nodes.insert(id, lineage);
        }
        out
    }

    /// Infers one node from its parsed SQL (`None` when it did not parse
    /// or is not a model).
    pub fn add(&mut self, id: &str, stmts: Option<&[Statement]>) {
        if let Some(found) = self.infer(id, stmts) {
            self.commit(id, found);
        }
    }

    /// What `add` finds about one node, without recording it: it reads only
    /// the nodes already recorded, so nodes that do not read each other (a
    /// layer of the DAG) can be inferred side by side, then recorded in
    /// order with [`Inferrer::commit`].
    pub fn infer(&self, id: &str, stmts: Option<&[Statement]>) -> Option<Inferred> {
        let project = self.project;
        let n = project.nodes.get(id)?;
        let from_catalog = self.catalog.and_then(|c| c.nodes.get(id));
        let mut found = Inferred::default();
        found.shape = match n.resource_type {
            ResourceType::Source => match from_catalog {
                Some(cols) => declared(cols.clone()),
                None if !n.columns.is_empty() => declared(yaml_columns(n)),
                None => Shape::default(),
            },
            ResourceType::Seed => match from_catalog {
                Some(cols) => declared(cols.clone()),
                None => seed_columns(project, n).map_or_else(Shape::default, declared),
            },
            ResourceType::Snapshot => {
                from_catalog.map_or_else(Shape::default, |c| declared(c.clone()))
            }
            ResourceType::Model => {
                let shape = match stmts {
                    Some(stmts) => {
                        let known = Known {
                            index: &self.index,
                            shapes: &self.shapes,
                        };
                        let analysis = sql::analyze(stmts, &known);
                        found.unknown_columns = analysis.unknown_columns;
                        found.unused_ctes = analysis.unused_ctes;
                        analysis.shape
                    }
                    None => Shape::default(),
                };
                if !shape.complete && contract_enforced(n) && !n.columns.is_empty() {
                    // The warehouse enforces the declared columns.
                    let mut declared_shape = declared(yaml_columns(n));
                    for c in &mut declared_shape.columns {
                        if let Some(same) = shape
                            .columns
                            .iter()
                            .find(|x| x.name.eq_ignore_ascii_case(&c.name))
                        {
                            c.origins.clone_from(&same.origins);
                        }
                    }
                    found.replaced = Some(shape);
                    declared_shape
                } else {
                    shape
                }
            }
            _ => return None,
        };
        Some(found)
    }

    /// Records what [`Inferrer::infer`] found about `id`.
    pub fn commit(&mut self, id: &str, found: Inferred) {
        if !found.unknown_columns.is_empty() {
            self.out
                .unknown_columns
                .insert(id.to_owned(), found.unknown_columns);
        }
        if !found.unused_ctes.is_empty() {
            self.out
                .unused_ctes
                .insert(id.to_owned(), found.unused_ctes);
        }
        if let Some(shape) = found.replaced {
            self.replaced.insert(id.to_owned(), shape);
        }
        self.shapes.insert(id.to_owned(), found.shape);
    }
}

/// What inferring one node found (see [`Inferrer::infer`]).
#[derive(Default)]
pub struct Inferred {
    shape: Shape,
    /// What the query produces, when an enforced contract's declared
    /// columns stand in for it.
    replaced: Option<Shape>,
    unknown_columns: Vec<UnknownColumn>,
    unused_ctes: Vec<UnusedCte>,
}

/// One step of column lineage: `from` feeds `to`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ColumnEdge {
    pub from: ColumnId,
    pub to: ColumnId,
    pub kind: EdgeKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ColumnId {
    pub node: String,
    pub column: String,
}

/// Which way to walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Upstream,
    Downstream,
}

impl LineageGraph {
    /// The column as the graph spells it (names match case-insensitively).
    pub fn column(&self, node: &str, column: &str) -> Option<&ColumnLineage> {
        self.nodes
            .get(node)?
            .columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(column))
    }

    /// Every column edge, upstream column first.
    pub fn edges(&self) -> Vec<ColumnEdge> {
        let mut out = Vec::new();
        for (id, n) in &self.nodes {
            for c in &n.columns {
                for o in &c.origins {
                    out.push(ColumnEdge {
                        from: ColumnId {
                            node: o.node.clone(),
                            column: o.column.clone(),
                        },
                        to: ColumnId {
                            node: id.clone(),
                            column: c.name.clone(),
                        },
                        kind: o.kind,
                    });
                }
            }
        }
        out
    }

    /// The edges reachable from a column, transitively, with the depth of
    /// each (1 for direct neighbours), in breadth-first order.
    pub fn walk(&self, start: &ColumnId, dir: Direction) -> Vec<(usize, ColumnEdge)> {
        let edges = self.edges();
        let mut by_end: HashMap<(String, String), Vec<&ColumnEdge>> = HashMap::new();
        for e in &edges {
            let key = match dir {
                Direction::Upstream => &e.to,
                Direction::Downstream => &e.from,
            };
            by_end
                .entry((key.node.clone(), key.column.to_ascii_lowercase()))
                .or_default()
                .push(e);
        }
        let mut out = Vec::new();
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut queue = VecDeque::new();
        queue.push_back((start.clone(), 0usize));
        seen.insert((start.node.clone(), start.column.to_ascii_lowercase()));
        while let Some((at, depth)) = queue.pop_front() {
            let key = (at.node.clone(), at.column.to_ascii_lowercase());
            for e in by_end.get(&key).map(Vec::as_slice).unwrap_or_default() {
                out.push((depth + 1, (*e).clone()));
                let next = match dir {
                    Direction::Upstream => &e.from,
                    Direction::Downstream => &e.to,
                };
                if seen.insert((next.node.clone(), next.column.to_ascii_lowercase())) {
                    queue.push_back((next.clone(), depth + 1));
                }
            }
        }
        out
    }
}
