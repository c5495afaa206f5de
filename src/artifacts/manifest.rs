//! `target/manifest.json` in dbt's v12 schema. Keys and their order follow
//! what dbt-core 1.11 writes, so dbt's own readers and dbt-artifacts-parser
//! load it.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use crate::graph::Dag;
use crate::node::{Node, ResourceType};
use crate::project::{MacroDef, Project};

pub const SCHEMA_VERSION: &str = "https://schemas.getdbt.com/dbt/manifest/v12.json";
/// The dbt-core version whose artifacts these match.
pub const DBT_VERSION: &str = "1.11.0";

/// A column as the manifest shows it, written straight from the node.
#[derive(serde::Serialize)]
struct ColumnOut<'a> {
    name: &'a str,
    description: &'a str,
    meta: &'a Map<String, Value>,
    data_type: &'a Option<String>,
    constraints: &'a [crate::node::Constraint],
    quote: Option<bool>,
    config: ColumnConfigOut<'a>,
    tags: &'a [String],
    granularity: (),
    doc_blocks: &'a [String],
}

#[derive(serde::Serialize)]
struct ColumnConfigOut<'a> {
    meta: &'a Map<String, Value>,
    tags: &'a [String],
}

impl<'a> ColumnOut<'a> {
    fn of(c: &'a crate::node::Column) -> Self {
        ColumnOut {
            name: &c.name,
            description: &c.description,
            meta: &c.meta,
            data_type: &c.data_type,
            constraints: &c.constraints,
            quote: c.quote,
            config: ColumnConfigOut {
                meta: &c.meta,
                tags: &c.tags,
            },
            tags: &c.tags,
            granularity: (),
            doc_blocks: &c.doc_blocks,
        }
    }
}

fn columns_json(node: &Node) -> Value {
    Value::Object(
        node.columns
            .iter()
            .map(|(name, c)| {
                let v = serde_json::to_value(ColumnOut::of(c)).unwrap_or(Value::Null);
                (name.clone(), v)
            })
            .collect(),
    )
}

fn refs_json(node: &Node) -> Value {
    Value::Array(
        node.refs
            .iter()
            .map(|r| json!({"name": r.name, "package": r.package, "version": r.version}))
            .collect(),
    )
}

/// A node's `docs`: its config's, or dbt's default.
enum DocsOut<'a> {
    Config(&'a Value),
    Default,
}

impl Serialize for DocsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DocsOut::Config(v) => v.serialize(s),
            DocsOut::Default => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("show", &true)?;
                m.serialize_entry("node_color", &())?;
                m.end()
            }
        }
    }
}

fn docs_out(node: &Node) -> DocsOut<'_> {
    node.config
        .get("docs")
        .map_or(DocsOut::Default, DocsOut::Config)
}

#[derive(serde::Serialize)]
struct ContractOut {
    enforced: bool,
    alias_types: bool,
    checksum: Option<String>,
}

fn contract_out(node: &Node) -> ContractOut {
    let enforced = node
        .config
        .get("contract")
        .and_then(|c| c.get("enforced"))
        .is_some_and(crate::value::truthy);
    ContractOut {
        enforced,
        alias_types: true,
        checksum: enforced.then(|| contract_checksum(node)),
    }
}

#[derive(serde::Serialize)]
struct TestMetadataOut<'a> {
    name: &'a str,
    kwargs: &'a Map<String, Value>,
    namespace: &'a Option<String>,
}

/// dbt's `build_contract_checksum`: sha256 of the columns (by name) with
/// their types and constraints as Python prints them, then, for a
/// materialization that enforces constraints, the materialization and the
/// model-level constraints.
fn contract_checksum(node: &Node) -> String {
    use crate::value::py_repr;
    let constraints = |list: &[crate::node::Constraint], class: &str| -> String {
        let items: Vec<String> = list
            .iter()
            .map(|c| {
                let kind = serde_json::to_value(c.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let opt = |v: &Option<String>| py_repr(&json!(v));
                let columns = c
                    .columns
                    .as_ref()
                    .map(|cs| format!(", columns={}", py_repr(&json!(cs))))
                    .unwrap_or_default();
                let columns = if class == "ModelLevelConstraint" && columns.is_empty() {
                    ", columns=[]".to_owned()
                } else {
                    columns
                };
                format!(
                    "{class}(type=<ConstraintType.{kind}: '{kind}'>, name={}, expression={}, warn_unenforced={}, warn_unsupported={}, to={}, to_columns={}{columns})",
                    opt(&c.name),
                    opt(&c.expression),
                    py_repr(&json!(c.warn_unenforced)),
                    py_repr(&json!(c.warn_unsupported)),
                    opt(&c.to),
                    py_repr(&json!(c.to_columns)),
                )
            })
            .collect();
        format!("[{}]", items.join(", "))
    };
    let mut columns: Vec<&crate::node::Column> = node.columns.values().collect();
    columns.sort_by(|a, b| a.name.cmp(&b.name));
    let mut state = String::new();
    for c in columns {
        state.push('|');
        state.push_str(&c.name);
        state.push_str(c.data_type.as_deref().unwrap_or("None"));
        state.push_str(&constraints(&c.constraints, "ColumnLevelConstraint"));
    }
    let materialized = node.materialized();
    if matches!(materialized, "table" | "incremental") {
        state.push_str(materialized);
        state.push_str(&constraints(&node.constraints, "ModelLevelConstraint"));
    }
    crate::project::sha256_hex(&state)
}

/// dbt's inferred primary key of a model: a model-level `primary_key`
/// constraint, else a `primary_key` column constraint, else the columns
/// that both a `unique` and a `not_null` test cover, else the columns a
/// `unique` (or `unique_combination_of_columns`) test covers. The tests are
/// found among the model's children in the graph, so each key is worked out
/// by the worker that writes the model, not in a pass over all nodes first.
fn primary_key<'a>(project: &'a Project, dag: &Dag, n: &'a Node) -> Vec<String> {
    let is_pk = |k: &crate::node::Constraint| k.kind == crate::node::ConstraintKind::PrimaryKey;
    let model_pk = n
        .constraints
        .iter()
        .find(|k| is_pk(k))
        .and_then(|k| k.columns.clone());
    let constrained: Vec<String> = match model_pk {
        Some(cols) => cols,
        None => n
            .columns
            .values()
            .filter(|c| c.constraints.iter().any(is_pk))
            .map(|c| c.name.clone())
            .take(1)
            .collect(),
    };
    if !constrained.is_empty() {
        return constrained;
    }
    let (mut unique, mut not_null) = (Vec::new(), Vec::new());
    let mut visit = |child: &'a Node| {
        let Some(t) = &child.test else { return };
        let (Some(meta), Some(on)) = (&t.metadata, &t.attached_node) else {
            return;
        };
        let slot = match meta.name.as_str() {
            _ if *on != n.unique_id => return,
            "unique" | "unique_combination_of_columns" => &mut unique,
            "not_null" => &mut not_null,
            _ => return,
        };
        match (
            meta.kwargs.get("column_name"),
            meta.kwargs.get("combination_of_columns"),
        ) {
            (Some(Value::String(c)), _) => slot.push(c.as_str()),
            (_, Some(Value::Array(cs))) => slot.extend(cs.iter().filter_map(Value::as_str)),
            _ => {}
        }
    };
    // The key is sorted below: the children's order does not matter. The
    // children are found by their place in the map the graph was built
    // from, without hashing ids, unless the map has changed since.
    if dag.node_count() == project.nodes.len() {
        for at in dag.children_positions(&n.unique_id) {
            if let Some((_, c)) = project.nodes.get_index(at) {
                visit(c);
            }
        }
    } else {
        for id in dag.children_unordered(&n.unique_id) {
            if let Some(c) = project.nodes.get(id) {
                visit(c);
            }
        }
    }
    let both: Vec<&str> = not_null
        .iter()
        .filter(|c| unique.contains(c))
        .copied()
        .collect();
    let mut key: Vec<String> = if both.is_empty() { unique } else { both }
        .into_iter()
        .map(str::to_owned)
        .collect();
    key.sort();
    key.dedup();
    key
}

fn compiled_path(node: &Node) -> Option<String> {
    node.compiled_code.as_ref()?;
    if node.resource_type == ResourceType::Snapshot {
        return None;
    }
    Some(compiled_rel_path(node))
}

/// `target/compiled/<project>/<path>`, where dbt writes a node's SQL.
pub fn compiled_rel_path(node: &Node) -> String {
    let file = if node.test.as_ref().is_some_and(|t| t.metadata.is_some()) {
        format!("{}/{}", node.original_file_path, node.path)
    } else if node.unit.is_some() {
        // dbt's pseudo path of a unit test: the YAML file's folder and the
        // test's name, under the YAML file (`models/u.yml/models/t.sql`).
        // A unit test of a model version runs as `<name>_v<version>`.
        let ofp = &node.original_file_path;
        let name = match &node.version {
            Some(v) => format!("{}_v{v}", node.name),
            None => node.name.clone(),
        };
        match ofp.rsplit_once('/') {
            Some((dir, _)) => format!("{ofp}/{dir}/{name}.sql"),
            None => format!("{ofp}/{name}.sql"),
        }
    } else {
        node.original_file_path.clone()
    };
    format!("target/compiled/{}/{file}", node.package_name)
}

/// A node as the manifest (and the `model` Jinja variable) shows it.
pub fn node_json(node: &Node) -> Value {
    serde_json::to_value(NodeOut {
        node,
        primary_key: None,
        created_at: 0.0,
        config_json: None,
    })
    .unwrap_or(Value::Null)
}

/// A node serialized straight to the output, in dbt's key order, without an
/// intermediate JSON tree (the manifest of a large project is big).
pub struct NodeOut<'a> {
    pub node: &'a Node,
    pub primary_key: Option<Vec<String>>,
    pub created_at: f64,
    /// The node's config already written as JSON (see [`ConfigMemo`]).
    pub config_json: Option<&'a str>,
}

/// The JSON of the configs a writer wrote last. Most nodes share one of a
/// handful of configs (set per folder in the project file), and comparing a
/// config's explicit keys costs far less than writing it whole with its
/// defaults.
#[derive(Default)]
struct ConfigMemo<'n> {
    recent: Vec<(&'n crate::node::NodeConfig, String)>,
}

impl<'n> ConfigMemo<'n> {
    const SIZE: usize = 8;

    fn json(&mut self, config: &'n crate::node::NodeConfig) -> Result<&str, super::json::Error> {
        let i = if let Some(i) = self.recent.iter().position(|(c, _)| c.writes_same(config)) {
            i
        } else {
            let mut buf = Vec::with_capacity(1024);
            super::json::to_vec_into(&mut buf, config)?;
            let text = String::from_utf8(buf)
                .map_err(<super::json::Error as serde::ser::Error>::custom)?;
            if self.recent.len() == Self::SIZE {
                self.recent.remove(0);
            }
            self.recent.push((config, text));
            self.recent.len() - 1
        };
        Ok(&self.recent[i].1)
    }
}

struct Columns<'a>(&'a Node);

impl Serialize for Columns<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(
            self.0
                .columns
                .iter()
                .map(|(name, c)| (name, ColumnOut::of(c))),
        )
    }
}

#[derive(serde::Serialize)]
struct RefOut<'a> {
    name: &'a str,
    package: Option<&'a str>,
    version: Option<&'a crate::node::Version>,
}

struct Refs<'a>(&'a Node);

impl Serialize for Refs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.refs.iter().map(|r| RefOut {
            name: &r.name,
            package: r.package.as_deref(),
            version: r.version.as_ref(),
        }))
    }
}

#[derive(serde::Serialize)]
struct DependsOn<'a> {
    macros: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    nodes: Option<&'a [String]>,
}

#[derive(serde::Serialize)]
struct Checksum<'a> {
    name: &'a str,
    checksum: &'a str,
}

#[derive(serde::Serialize)]
struct Cte<'a> {
    id: &'a str,
    sql: &'a str,
}

impl Serialize for NodeOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let node = self.node;
        match node.resource_type {
            ResourceType::Source => return source_json(node).serialize(s),
            ResourceType::Exposure => return exposure_json(node).serialize(s),
            ResourceType::UnitTest => return unit_test_json(node).serialize(s),
            _ => {}
        }
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("database", &node.database)?;
        m.serialize_entry("schema", &node.schema)?;
        m.serialize_entry("name", &node.name)?;
        m.serialize_entry("resource_type", node.resource_type.as_str())?;
        m.serialize_entry("package_name", &node.package_name)?;
        m.serialize_entry("path", &node.path)?;
        m.serialize_entry("original_file_path", &node.original_file_path)?;
        m.serialize_entry("unique_id", &node.unique_id)?;
        m.serialize_entry("fqn", &node.fqn)?;
        m.serialize_entry("alias", &node.alias)?;
        let checksum = if node.checksum.is_empty() {
            Checksum {
                name: "none",
                checksum: "",
            }
        } else {
            Checksum {
                name: "sha256",
                checksum: &node.checksum,
            }
        };
        m.serialize_entry("checksum", &checksum)?;
        match self.config_json {
            Some(raw) => m.serialize_entry("config", &super::json::RawJson(raw))?,
            None => m.serialize_entry("config", &node.config)?,
        }
        m.serialize_entry("tags", &node.tags)?;
        m.serialize_entry("description", &node.description)?;
        m.serialize_entry("columns", &Columns(node))?;
        m.serialize_entry("meta", &node.meta)?;
        m.serialize_entry("group", &node.config.get("group").unwrap_or(&Value::Null))?;
        m.serialize_entry("docs", &docs_out(node))?;
        m.serialize_entry("patch_path", &node.patch_path)?;
        m.serialize_entry("build_path", &Value::Null)?;
        m.serialize_entry("unrendered_config", &node.unrendered_config)?;
        m.serialize_entry("created_at", &self.created_at)?;
        m.serialize_entry("relation_name", &node.relation_name)?;
        m.serialize_entry("raw_code", &node.raw_code)?;
        m.serialize_entry("doc_blocks", &node.doc_blocks)?;
        if node.resource_type == ResourceType::Seed {
            m.serialize_entry(
                "root_path",
                &node.abs_path.parent().map(|p| p.display().to_string()),
            )?;
            m.serialize_entry(
                "depends_on",
                &DependsOn {
                    macros: &node.depends_on_macros,
                    nodes: None,
                },
            )?;
            return m.end();
        }
        m.serialize_entry("language", "sql")?;
        m.serialize_entry("refs", &Refs(node))?;
        m.serialize_entry("sources", &node.sources)?;
        m.serialize_entry("metrics", &[(); 0])?;
        m.serialize_entry("functions", &[(); 0])?;
        m.serialize_entry(
            "depends_on",
            &DependsOn {
                macros: &node.depends_on_macros,
                nodes: Some(&node.depends_on_nodes),
            },
        )?;
        m.serialize_entry("compiled_path", &compiled_path(node))?;
        // A node that was not compiled has none of these (dbt's
        // `CompiledResource.__post_serialize__` drops them).
        if node.compiled_code.is_some() {
            m.serialize_entry("compiled", &true)?;
            m.serialize_entry("compiled_code", &node.compiled_code)?;
            m.serialize_entry("extra_ctes_injected", &true)?;
            m.serialize_entry(
                "extra_ctes",
                &node
                    .extra_ctes
                    .iter()
                    .map(|(id, sql)| Cte { id, sql })
                    .collect::<Vec<_>>(),
            )?;
        }
        m.serialize_entry("contract", &contract_out(node))?;
        match node.resource_type {
            ResourceType::Model => {
                match node.config.get("access") {
                    Some(access) => m.serialize_entry("access", access)?,
                    None => m.serialize_entry("access", "protected")?,
                }
                m.serialize_entry("constraints", &node.constraints)?;
                m.serialize_entry("version", &node.version)?;
                m.serialize_entry("latest_version", &node.latest_version)?;
                m.serialize_entry("deprecation_date", &node.deprecation_date)?;
                m.serialize_entry(
                    "primary_key",
                    self.primary_key.as_deref().unwrap_or_default(),
                )?;
                m.serialize_entry("time_spine", &Value::Null)?;
            }
            ResourceType::Test => {
                if let Some(t) = &node.test
                    && let Some(meta) = &t.metadata
                {
                    m.serialize_entry("column_name", &t.column_name)?;
                    m.serialize_entry("file_key_name", &t.file_key_name)?;
                    m.serialize_entry("attached_node", &t.attached_node)?;
                    m.serialize_entry(
                        "test_metadata",
                        &TestMetadataOut {
                            name: &meta.name,
                            kwargs: &meta.kwargs,
                            namespace: &meta.namespace,
                        },
                    )?;
                }
            }
            _ => {}
        }
        m.end()
    }
}

pub fn source_json(node: &Node) -> Value {
    let s = node.source.clone().unwrap_or_default();
    let quoting = json!({
        "database": s.quoting.get("database").cloned(),
        "schema": s.quoting.get("schema").cloned(),
        "identifier": s.quoting.get("identifier").cloned(),
        "column": s.quoting.get("column").cloned(),
    });
    let freshness = if s.freshness.is_null() {
        json!({"warn_after": {"count": null, "period": null}, "error_after": {"count": null, "period": null}, "filter": null})
    } else {
        s.freshness.clone()
    };
    json!({
        "database": node.database,
        "schema": node.schema,
        "name": node.name,
        "resource_type": "source",
        "package_name": node.package_name,
        "path": node.path,
        "original_file_path": node.original_file_path,
        "unique_id": node.unique_id,
        "fqn": node.fqn,
        "source_name": s.source_name,
        "source_description": s.source_description,
        "loader": s.loader,
        "identifier": s.identifier,
        "quoting": quoting,
        "loaded_at_field": s.loaded_at_field,
        "loaded_at_query": null,
        "freshness": freshness,
        "external": null,
        "description": node.description,
        "columns": columns_json(node),
        "meta": node.meta,
        "source_meta": s.source_meta,
        "tags": node.tags,
        "config": node.config,
        "patch_path": null,
        "unrendered_config": source_unrendered(node),
        "relation_name": node.relation_name,
        "created_at": 0.0,
        "unrendered_database": null,
        "unrendered_schema": s.unrendered_schema,
        "doc_blocks": node.doc_blocks,
    })
}

/// dbt always lists these four keys in a source's unrendered config.
pub fn source_unrendered(node: &Node) -> Value {
    let mut m = Map::new();
    m.insert("loaded_at_field".into(), Value::Null);
    m.insert("loaded_at_query".into(), Value::Null);
    m.insert("meta".into(), json!({}));
    m.insert("tags".into(), json!([]));
    for (k, v) in &node.unrendered_config {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

pub fn exposure_json(node: &Node) -> Value {
    let e = node.exposure.clone().unwrap_or_default();
    let owner = match &e.owner {
        Value::Object(o) => json!({"email": o.get("email"), "name": o.get("name")}),
        _ => json!({"email": null, "name": null}),
    };
    json!({
        "name": node.name,
        "resource_type": "exposure",
        "package_name": node.package_name,
        "path": node.path,
        "original_file_path": node.original_file_path,
        "unique_id": node.unique_id,
        "fqn": node.fqn,
        "type": e.kind,
        "owner": owner,
        "description": node.description,
        "label": e.label,
        "maturity": e.maturity,
        "meta": node.meta,
        "tags": node.tags,
        "config": node.config,
        "unrendered_config": node.unrendered_config,
        "url": e.url,
        "depends_on": {"macros": node.depends_on_macros, "nodes": node.depends_on_nodes},
        "refs": refs_json(node),
        "sources": node.sources,
        "metrics": [],
        "created_at": 0.0,
    })
}

/// A unit test as dbt's manifest describes it (`UnitTestDefinition`).
pub fn unit_test_json(node: &Node) -> Value {
    let raw = node.unit.as_ref().map_or(Value::Null, |u| u.raw.clone());
    let part = |v: Option<&Value>| {
        let v = v.cloned().unwrap_or(Value::Null);
        json!({
            "input": v.get("input"),
            "rows": v.get("rows"),
            "format": v.get("format").cloned().unwrap_or_else(|| json!("dict")),
            "fixture": v.get("fixture"),
        })
    };
    let given: Vec<Value> = raw
        .get("given")
        .and_then(Value::as_array)
        .map(|g| g.iter().map(|x| part(Some(x))).collect())
        .unwrap_or_default();
    let mut expect = part(raw.get("expect"));
    if let Value::Object(m) = &mut expect {
        m.remove("input");
    }
    json!({
        "model": node.unit.as_ref().map(|u| u.model.as_str()),
        "given": given,
        "expect": expect,
        "name": node.name,
        "resource_type": "unit_test",
        "package_name": node.package_name,
        "path": node.path,
        "original_file_path": node.original_file_path,
        "unique_id": node.unique_id,
        "fqn": node.fqn,
        "description": node.description,
        "overrides": raw.get("overrides"),
        "depends_on": {"macros": node.depends_on_macros, "nodes": node.depends_on_nodes},
        "config": node.config,
        "checksum": null,
        "schema": node.schema,
        "created_at": 0.0,
        // dbt's `UnitTestNodeVersions`: both keys, null when not given.
        "versions": raw.get("versions").and_then(Value::as_object).map(|v| json!({
            "include": v.get("include"),
            "exclude": v.get("exclude"),
        })),
        "version": node.version,
    })
}

fn macro_json(m: &MacroDef) -> Value {
    json!({
        "name": m.name,
        "resource_type": "macro",
        "package_name": m.package_name,
        "path": m.path,
        "original_file_path": m.path,
        "unique_id": m.unique_id,
        "macro_sql": m.macro_sql,
        "depends_on": {"macros": []},
        "description": m.description,
        "meta": m.meta,
        "docs": {"show": true, "node_color": null},
        "config": {"meta": m.meta, "docs": {"show": true, "node_color": null}},
        "patch_path": m.patch_path,
        "arguments": m.arguments,
        "created_at": 0.0,
        "supported_languages": null,
    })
}

/// Invocation facts recorded in `metadata`.
pub struct Invocation<'a> {
    pub invocation_id: &'a str,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

/// The whole manifest, serialized as it is written.
pub struct Manifest<'a> {
    project: &'a Project,
    dag: &'a Dag,
    inv: &'a Invocation<'a>,
}

struct NodesOf<'a> {
    project: &'a Project,
    dag: &'a Dag,
    created_at: f64,
    kind: Option<ResourceType>,
}

impl NodesOf<'_> {
    /// Serializes the selected nodes as one JSON object straight into `out`,
    /// in parallel chunks: on a large project this is most of the manifest.
    /// A thread of its own writes the chunks in order while the workers
    /// serialize later ones (`stream::write_entries`).
    fn write_to(&self, out: &mut Out) -> std::io::Result<()> {
        let rows: Vec<&Node> = self
            .project
            .nodes
            .values()
            .map(|n| &**n)
            .filter(|n| match self.kind {
                Some(k) => n.resource_type == k,
                None => !matches!(
                    n.resource_type,
                    ResourceType::Source | ResourceType::Exposure | ResourceType::UnitTest
                ),
            })
            .collect();
        out.write_all(b"{")?;
        super::stream::write_entries(&rows, 128, 3072, out, |chunk, buf| {
            let mut configs = ConfigMemo::default();
            let mut warmed = 0usize;
            for (i, n) in chunk.iter().enumerate() {
                if let Some(next) = chunk.get(i + 1) {
                    warmed = warmed.wrapping_add(touch(next));
                }
                buf.push(b',');
                super::json::write_str(buf, &n.unique_id);
                buf.push(b':');
                super::json::to_vec_into(
                    buf,
                    &NodeOut {
                        node: n,
                        primary_key: (n.resource_type == ResourceType::Model)
                            .then(|| primary_key(self.project, self.dag, n)),
                        created_at: self.created_at,
                        config_json: Some(configs.json(&n.config).map_err(std::io::Error::other)?),
                    },
                )
                .map_err(std::io::Error::other)?;
            }
            std::hint::black_box(warmed);
            Ok(())
        })?;
        out.write_all(b"}")
    }
}

/// Reads the first byte of each string a node's JSON is written from. The
/// strings of a node lie scattered over the heap and are long out of the
/// cache by the time the manifest is written; writing them one after the
/// other waits on one memory load after another. Touched together for the
/// next node while this one is written, the loads are independent and the
/// processor runs them side by side. Returns a sum so the reads are kept.
fn touch(n: &Node) -> usize {
    fn first(s: &str) -> usize {
        s.as_bytes().first().map_or(0, |&b| usize::from(b))
    }
    let mut sum = 0usize;
    for s in [
        &n.database,
        &n.schema,
        &n.name,
        &n.package_name,
        &n.path,
        &n.original_file_path,
        &n.unique_id,
        &n.alias,
        &n.checksum,
        &n.description,
        &n.raw_code,
    ] {
        sum += first(s);
    }
    for s in n
        .fqn
        .iter()
        .chain(&n.tags)
        .chain(&n.depends_on_macros)
        .chain(&n.depends_on_nodes)
        .chain(n.relation_name.as_ref())
        .chain(n.patch_path.as_ref())
        .chain(n.unrendered_config.keys())
        .chain(n.columns.keys())
    {
        sum += first(s);
    }
    for r in &n.refs {
        sum += first(&r.name);
    }
    if let Some(t) = &n.test {
        for s in t
            .column_name
            .iter()
            .chain(&t.file_key_name)
            .chain(&t.attached_node)
        {
            sum += first(s);
        }
        if let Some(meta) = &t.metadata {
            sum += first(&meta.name);
            for (k, v) in &meta.kwargs {
                sum += first(k) + v.as_str().map_or(0, first);
            }
        }
    }
    sum
}

/// What the manifest is written to: a file's buffered writer, handed to the
/// thread that writes the nodes.
type Out = dyn std::io::Write + Send;

impl Manifest<'_> {
    fn write_to(&self, w: &mut Out) -> std::io::Result<()> {
        let project = self.project;
        let inv = self.inv;
        let created_at = (inv.started_at.timestamp_micros() as f64) / 1e6;
        let nodes_of = |kind| NodesOf {
            project,
            dag: self.dag,
            created_at,
            kind,
        };
        let entry =
            |w: &mut Out, key: &str, first: bool, v: &dyn erased::Json| -> std::io::Result<()> {
                if !first {
                    w.write_all(b",")?;
                }
                super::json::to_writer(&mut *w, key)?;
                w.write_all(b":")?;
                v.write_json(w)
            };
        w.write_all(b"{")?;
        entry(w, "metadata", true, &metadata(project, inv))?;
        // The graph's maps, needed at the end, are built and serialized
        // while the nodes (most of the manifest) are written.
        let (parent_map, child_map) = std::thread::scope(|s| {
            let maps = s.spawn(|| -> Result<_, super::json::Error> {
                let (parents, children) = self.dag.parent_child_maps();
                let mut p = Vec::with_capacity(1 << 20);
                super::json::to_vec_into(&mut p, &parents)?;
                let mut c = Vec::with_capacity(1 << 20);
                super::json::to_vec_into(&mut c, &children)?;
                Ok((p, c))
            });
            entry(w, "nodes", false, &nodes_of(None))?;
            maps.join()
                .map_err(|_| std::io::Error::other("building the graph's maps failed"))?
                .map_err(std::io::Error::other)
        })?;
        entry(w, "sources", false, &nodes_of(Some(ResourceType::Source)))?;
        let macros: Map<String, Value> = project
            .macros
            .values()
            .map(|x| (x.unique_id.clone(), macro_json(x)))
            .collect();
        entry(w, "macros", false, &Value::Object(macros))?;
        entry(w, "docs", false, &Value::Object(docs(project)))?;
        entry(
            w,
            "exposures",
            false,
            &nodes_of(Some(ResourceType::Exposure)),
        )?;
        entry(w, "metrics", false, &json!({}))?;
        let (groups, group_map) = groups(project);
        entry(w, "groups", false, &Value::Object(groups))?;
        entry(w, "selectors", false, &project_selectors(project))?;
        let disabled: Map<String, Value> = project
            .disabled
            .iter()
            .map(|(uid, list)| {
                (
                    uid.clone(),
                    Value::Array(list.iter().map(|n| node_json(n)).collect()),
                )
            })
            .collect();
        entry(w, "disabled", false, &Value::Object(disabled))?;
        w.write_all(b",\"parent_map\":")?;
        w.write_all(&parent_map)?;
        w.write_all(b",\"child_map\":")?;
        w.write_all(&child_map)?;
        entry(w, "group_map", false, &Value::Object(group_map))?;
        entry(w, "saved_queries", false, &json!({}))?;
        entry(w, "semantic_models", false, &json!({}))?;
        entry(
            w,
            "unit_tests",
            false,
            &nodes_of(Some(ResourceType::UnitTest)),
        )?;
        entry(w, "functions", false, &json!({}))?;
        w.write_all(b"}")
    }
}

/// Something that writes itself as JSON: a plain value, or the node maps,
/// which stream in parallel chunks.
mod erased {
    pub trait Json {
        fn write_json(&self, w: &mut super::Out) -> std::io::Result<()>;
    }

    impl Json for serde_json::Value {
        fn write_json(&self, w: &mut super::Out) -> std::io::Result<()> {
            crate::artifacts::json::to_writer(w, self)
        }
    }

    impl Json for super::NodesOf<'_> {
        fn write_json(&self, w: &mut super::Out) -> std::io::Result<()> {
            self.write_to(w)
        }
    }
}

fn metadata(project: &Project, inv: &Invocation<'_>) -> Value {
    let quoting = project
        .root_package()
        .map(|p| p.file.quoting.clone())
        .unwrap_or_default();
    json!({
        "dbt_schema_version": SCHEMA_VERSION,
        "dbt_version": DBT_VERSION,
        "generated_at": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        "invocation_id": inv.invocation_id,
        "invocation_started_at": inv.started_at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
        "env": {},
        "project_name": project.root,
        "project_id": crate::project::properties::md5_hex(&project.root),
        "user_id": null,
        "send_anonymous_usage_stats": false,
        "adapter_type": project.target.kind,
        "quoting": {
            "database": quoting.get("database").cloned().unwrap_or(json!(true)),
            "schema": quoting.get("schema").cloned().unwrap_or(json!(true)),
            "identifier": quoting.get("identifier").cloned().unwrap_or(json!(true)),
            "column": quoting.get("column").cloned(),
        },
        "run_started_at": inv.started_at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
    })
}

fn docs(project: &Project) -> Map<String, Value> {
    let mut docs = Map::new();
    docs.insert(
        "doc.dbt.__overview__".into(),
        json!({
            "name": "__overview__", "resource_type": "doc", "package_name": "dbt",
            "path": "overview.md", "original_file_path": "docs/overview.md",
            "unique_id": "doc.dbt.__overview__",
            "block_contents": "### Welcome!\n\nThis project was compiled by xform.",
        }),
    );
    for d in project.docs.values() {
        docs.insert(
            d.unique_id.clone(),
            json!({
                "name": d.name, "resource_type": "doc", "package_name": d.package_name,
                "path": d.path, "original_file_path": d.original_file_path,
                "unique_id": d.unique_id, "block_contents": d.block_contents,
            }),
        );
    }
    docs
}

pub(crate) fn groups(project: &Project) -> (Map<String, Value>, Map<String, Value>) {
    let mut groups = Map::new();
    let mut group_map: Map<String, Value> = Map::new();
    for (uid, g) in &project.groups {
        let name = g
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        groups.insert(
            uid.clone(),
            json!({
                "name": name, "resource_type": "group",
                "package_name": g.get("package_name"), "path": g.get("original_file_path"),
                "original_file_path": g.get("original_file_path"), "unique_id": uid,
                "owner": g.get("owner").cloned().unwrap_or(json!({"email": null, "name": null})),
                "description": g.get("description"), "config": {"meta": {}}
            }),
        );
        let members: Vec<&str> = project
            .nodes
            .values()
            .filter(|n| n.config.get("group").and_then(Value::as_str) == Some(name.as_str()))
            .map(|n| n.unique_id.as_str())
            .collect();
        group_map.insert(name, json!(members));
    }
    (groups, group_map)
}

fn project_selectors(project: &Project) -> Value {
    let mut out = Map::new();
    if let Some(list) = project.selectors.get("selectors").and_then(Value::as_array) {
        for s in list {
            if let Some(name) = s.get("name").and_then(Value::as_str) {
                out.insert(name.to_owned(), s.clone());
            }
        }
    }
    Value::Object(out)
}

/// Writes `manifest.json` under the target folder. The file is written
/// beside its final name and renamed into place, so a reader never sees half
/// a manifest, and a failed write leaves the previous one intact.
pub fn write(
    project: &Project,
    dag: &Dag,
    inv: &Invocation<'_>,
) -> std::io::Result<std::path::PathBuf> {
    let dir = project.target_path();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("manifest.json");
    let tmp = dir.join(".manifest.json.tmp");
    let file = std::fs::File::create(&tmp)?;
    // Small against the node chunks (hundreds of KB each), which then go
    // to the file as they are instead of through the buffer.
    let mut w = std::io::BufWriter::with_capacity(64 << 10, file);
    Manifest { project, dag, inv }.write_to(&mut w)?;
    std::io::Write::flush(&mut w)?;
    drop(w);
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_written_once_and_reused_are_the_same_bytes() {
        use crate::node::NodeConfig;
        let conf = |pairs: &[(&str, Value)]| {
            NodeConfig::new(
                ResourceType::Model,
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
            )
        };
        let configs = [
            conf(&[]),
            conf(&[("materialized", json!("table"))]),
            conf(&[("materialized", json!("view"))]),
            conf(&[("x", json!(1)), ("y", json!(2))]),
            // The same keys in another order are written in another order.
            conf(&[("y", json!(2)), ("x", json!(1))]),
            conf(&[("meta", json!({"a": 1, "b": 2}))]),
            conf(&[("meta", json!({"b": 2, "a": 1}))]),
            conf(&[("w", json!(0.0))]),
            conf(&[("w", json!(-0.0))]),
            conf(&[("w", json!(0))]),
            conf(&[(
                "post-hook",
                json!(["select 1", {"sql": "select 2", "transaction": false}]),
            )]),
            NodeConfig::new(ResourceType::Test, Map::new()),
        ];
        let mut memo = ConfigMemo::default();
        // Twice round, so that later ones are found in the memo.
        for c in configs.iter().chain(&configs) {
            let mut direct = Vec::new();
            crate::artifacts::json::to_vec_into(&mut direct, c).expect("serialize");
            assert_eq!(
                memo.json(c).expect("memo"),
                String::from_utf8_lossy(&direct)
            );
        }
        for (i, a) in configs.iter().enumerate() {
            for (j, b) in configs.iter().enumerate() {
                assert_eq!(a.writes_same(b), i == j, "{a:?} vs {b:?}");
            }
        }
    }
}
