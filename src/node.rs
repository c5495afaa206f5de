//! The resources of a project after loading: models, seeds, snapshots, tests,
//! analyses, sources, exposures and macros. Every later phase reads these; only
//! `project` creates them and only `compile` fills in `compiled`.

use std::fmt;
use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::span::SourceSpan;

/// The hasher of maps keyed by ids and names: foldhash, several times
/// cheaper than std's `SipHash` on short keys (keys come from the user's own
/// project, so flooding resistance buys nothing here).
pub type FastState = foldhash::fast::RandomState;

/// Nodes by `unique_id`, in load order.
pub type NodeMap = IndexMap<String, Box<Node>, FastState>;

/// What kind of resource a node is, spelled as dbt spells it in `unique_id`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    Model,
    Seed,
    Snapshot,
    Test,
    Analysis,
    Source,
    Exposure,
    Macro,
    UnitTest,
    Group,
}

impl ResourceType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Seed => "seed",
            Self::Snapshot => "snapshot",
            Self::Test => "test",
            Self::Analysis => "analysis",
            Self::Source => "source",
            Self::Exposure => "exposure",
            Self::Macro => "macro",
            Self::UnitTest => "unit_test",
            Self::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "model" => Self::Model,
            "seed" => Self::Seed,
            "snapshot" => Self::Snapshot,
            "test" | "data_test" => Self::Test,
            "analysis" => Self::Analysis,
            "source" => Self::Source,
            "exposure" => Self::Exposure,
            "macro" => Self::Macro,
            "unit_test" => Self::UnitTest,
            "group" => Self::Group,
            _ => return None,
        })
    }

    /// Resources that become relations or queries in the warehouse and so
    /// get compiled SQL.
    pub const fn is_compiled(self) -> bool {
        matches!(
            self,
            Self::Model | Self::Snapshot | Self::Test | Self::Analysis
        )
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A model version as written in YAML or in `ref(..., v=...)`: a number or
/// a string (dbt's `NodeVersion`). It keeps its type, as dbt's manifest
/// does (`"version": 1` vs `"version": "1"`), while names and lookups use
/// its text (`v1`), so `1` and `"1"` name the same version. Boxed: most
/// nodes and refs have no version, and an absent one then costs a pointer.
#[derive(Clone, Debug)]
pub struct Version(Box<Value>);

impl Version {
    /// A number or a string; anything else is no version.
    pub fn from_json(v: &Value) -> Option<Self> {
        match v {
            Value::Number(_) | Value::String(_) => Some(Self(Box::new(v.clone()))),
            _ => None,
        }
    }

    /// A Python literal as written in `ref(..., v=...)`: `'1'`, `"beta"`,
    /// `2`, `1.5`.
    pub fn from_literal(s: &str) -> Option<Self> {
        let s = s.trim();
        let b = s.as_bytes();
        if b.len() >= 2 && (b[0] == b'\'' || b[0] == b'"') && b[b.len() - 1] == b[0] {
            return Some(Self(Box::new(Value::String(s[1..s.len() - 1].to_owned()))));
        }
        match serde_json::from_str::<Value>(s) {
            Ok(v @ Value::Number(_)) => Some(Self(Box::new(v))),
            _ => None,
        }
    }

    /// Python's `str()` of the value: `1`, `1.5`, `beta`.
    pub fn text(&self) -> String {
        match &*self.0 {
            Value::String(s) => s.clone(),
            other => crate::value::py_repr(other),
        }
    }

    pub fn value(&self) -> &Value {
        &self.0
    }

    pub fn is_str(&self) -> bool {
        self.0.is_string()
    }

    fn as_float(&self) -> Option<f64> {
        match &*self.0 {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
    }

    /// dbt's order of versions: as numbers when both read as numbers,
    /// else as text.
    pub fn cmp_dbt(&self, other: &Self) -> std::cmp::Ordering {
        match (self.as_float(), other.as_float()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
            _ => self.text().cmp(&other.text()),
        }
    }

    /// Python's `==` on the two values: numbers by value, strings by text,
    /// a number never equals a string.
    pub fn same(&self, other: &Self) -> bool {
        match (&*self.0, &*other.0) {
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            (Value::String(a), Value::String(b)) => a == b,
            _ => false,
        }
    }
}

impl From<&str> for Version {
    fn from(s: &str) -> Self {
        Self(Box::new(Value::String(s.to_owned())))
    }
}

impl PartialEq for Version {
    /// Versions are the same when they name the same version (`v1`).
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text() && self.is_str() == other.is_str()
    }
}

impl Eq for Version {}

impl std::hash::Hash for Version {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text().hash(state);
        self.is_str().hash(state);
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// One `ref(...)` call as written: `ref('pkg', 'name', v=2)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct RefCall {
    pub name: String,
    pub package: Option<String>,
    pub version: Option<Version>,
}

impl RefCall {
    /// The name dbt's ref lookup finds the target by: `name.v<version>`
    /// when a version is asked for.
    pub fn search_name(&self) -> String {
        match &self.version {
            Some(v) => format!("{}.v{v}", self.name),
            None => self.name.clone(),
        }
    }
}

/// Properties of a generic (YAML-declared) data test.
#[derive(Clone, Debug, Serialize)]
pub struct TestMetadata {
    /// The test macro's name without `test_`, e.g. `unique`.
    pub name: String,
    /// Arguments as declared, plus `column_name` and `model`.
    pub kwargs: Map<String, Value>,
    /// The package for namespaced tests such as `dbt_utils.expression_is_true`.
    pub namespace: Option<String>,
}

/// Extra facts for test nodes.
#[derive(Clone, Debug, Default)]
pub struct TestInfo {
    /// Config written on the test in YAML (also in its `config()` call).
    pub config: Map<String, Value>,
    pub metadata: Option<TestMetadata>,
    pub column_name: Option<String>,
    pub attached_node: Option<String>,
    pub file_key_name: Option<String>,
    /// The version of the versioned model the test is on (its `ref` in
    /// `refs` carries it typed, as dbt's parser records it).
    pub target_version: Option<Version>,
}

/// Extra facts for source tables.
#[derive(Clone, Debug, Default)]
pub struct SourceInfo {
    pub source_name: String,
    /// `schema:` as written in YAML, if it was.
    pub unrendered_schema: Option<String>,
    pub source_description: String,
    pub identifier: String,
    pub loader: String,
    pub loaded_at_field: Option<String>,
    pub freshness: Value,
    pub source_meta: Map<String, Value>,
    pub quoting: Map<String, Value>,
}

/// A unit test: mock inputs for a model, and the rows it must return.
#[derive(Clone, Debug, Default)]
pub struct UnitTestInfo {
    /// The model under test, by name as written.
    pub model: String,
    /// Where `model:` is written.
    pub model_span: Option<SourceSpan>,
    pub given: Vec<UnitInput>,
    pub expect: UnitRows,
    /// `overrides:` of macros, vars and environment variables.
    pub overrides: UnitOverrides,
    /// The entry as written, for the manifest.
    pub raw: Value,
}

/// One `given:` input.
#[derive(Clone, Debug, Default)]
pub struct UnitInput {
    /// `ref('x')`, `source('s', 't')` or `this`, as written.
    pub input: String,
    pub rows: UnitRows,
    pub span: Option<SourceSpan>,
    /// The node it stands for (`this`: the model), set by the parse phase.
    pub target: Option<String>,
}

/// Mock rows: dicts (from `dict` or `csv`), or a query (`sql`).
#[derive(Clone, Debug)]
pub enum UnitRows {
    Dicts(Vec<Map<String, Value>>),
    Sql(String),
    /// A `dict` input without `rows` or `fixture`: the rows of the seed it
    /// mocks, read from its CSV file by the parse phase (as dbt does).
    FromSeed,
}

impl Default for UnitRows {
    fn default() -> Self {
        Self::Dicts(Vec::new())
    }
}

/// What a unit test replaces while its model renders.
#[derive(Clone, Debug, Default)]
pub struct UnitOverrides {
    pub macros: Map<String, Value>,
    pub vars: Map<String, Value>,
    pub env_vars: Map<String, Value>,
}

impl UnitOverrides {
    pub fn is_empty(&self) -> bool {
        self.macros.is_empty() && self.vars.is_empty() && self.env_vars.is_empty()
    }
}

/// How a node was written beyond its file text, as its parse render saw
/// it: what comparing it with an earlier run (`state:modified`) needs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParseFacts {
    /// Config keys the node's own `config()` call sets (canonical names).
    pub config_call_keys: Vec<String>,
    /// `var()` values read while the node was parsed (its template and the
    /// macros it called), by name; the first read wins.
    pub vars: Vec<(String, Value)>,
}

/// Extra facts for exposures.
#[derive(Clone, Debug, Default)]
pub struct ExposureInfo {
    pub kind: String,
    pub owner: Value,
    pub label: Option<String>,
    pub maturity: Option<String>,
    pub url: Option<String>,
}

/// The kinds of contract constraints dbt knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    Check,
    NotNull,
    Unique,
    PrimaryKey,
    ForeignKey,
    Custom,
}

impl ConstraintKind {
    pub const ALL: [&'static str; 6] = [
        "check",
        "not_null",
        "unique",
        "primary_key",
        "foreign_key",
        "custom",
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "check" => Self::Check,
            "not_null" => Self::NotNull,
            "unique" => Self::Unique,
            "primary_key" => Self::PrimaryKey,
            "foreign_key" => Self::ForeignKey,
            "custom" => Self::Custom,
            _ => return None,
        })
    }
}

/// A contract constraint on a column, or on the model (`columns` set).
/// Serialized in the manifest's shape.
#[derive(Clone, Debug, Serialize)]
pub struct Constraint {
    #[serde(rename = "type")]
    pub kind: ConstraintKind,
    pub name: Option<String>,
    pub expression: Option<String>,
    pub warn_unenforced: bool,
    pub warn_unsupported: bool,
    /// A foreign key's parent as written: `ref('x')` or `source('s', 't')`.
    pub to: Option<String>,
    pub to_columns: Vec<String>,
    /// Model-level constraints only: the columns it spans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// `to` resolved to the parent's relation by the parse phase.
    #[serde(skip)]
    pub to_relation: Option<String>,
    /// Where `to:` is written, for errors about it.
    #[serde(skip)]
    pub to_span: Option<SourceSpan>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Column {
    pub name: String,
    pub description: String,
    pub meta: Map<String, Value>,
    pub data_type: Option<String>,
    pub constraints: Vec<Constraint>,
    pub quote: Option<bool>,
    pub tags: Vec<String>,
    /// The doc blocks its description calls (`doc('name')`), by unique id.
    pub doc_blocks: Vec<String>,
    /// Where the column's `name:` is written in properties YAML.
    #[serde(skip)]
    pub span: Option<SourceSpan>,
}

impl Column {
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            description: String::new(),
            meta: Map::new(),
            data_type: None,
            constraints: Vec::new(),
            quote: None,
            tags: Vec::new(),
            doc_blocks: Vec::new(),
            span: None,
        }
    }
}

/// A node's config: the keys set explicitly (project file, YAML, `config()`)
/// over the defaults of its resource type, which are shared rather than
/// copied into every node.
///
/// The explicit keys are shared too: nodes whose explicit configs are
/// equal (the tests of one folder, the models of one folder) can hold one
/// map ([`NodeConfig::shared`]); changing a node's config copies its map
/// first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeConfig {
    rt: Option<ResourceType>,
    explicit: std::sync::Arc<Map<String, Value>>,
}

impl NodeConfig {
    pub fn new(rt: ResourceType, explicit: Map<String, Value>) -> Self {
        Self {
            rt: Some(rt),
            explicit: std::sync::Arc::new(explicit),
        }
    }

    /// As [`NodeConfig::new`], sharing the map of a config built recently
    /// on this thread when the two would be the same ([`Self::writes_same`]).
    /// Thousands of nodes settle to a handful of distinct configs; sharing
    /// them saves a map per node.
    pub fn shared(rt: ResourceType, explicit: Map<String, Value>) -> Self {
        use std::cell::RefCell;
        use std::sync::Arc;
        type Recent = Vec<(ResourceType, Arc<Map<String, Value>>)>;
        // The last few distinct configs this thread built.
        thread_local! {
            static RECENT: RefCell<Recent> = const { RefCell::new(Vec::new()) };
        }
        RECENT.with_borrow_mut(|recent| {
            if let Some(i) = recent
                .iter()
                .position(|(r, m)| *r == rt && same_maps(m, &explicit))
            {
                let hit = recent.remove(i);
                let config = Self {
                    rt: Some(rt),
                    explicit: Arc::clone(&hit.1),
                };
                recent.push(hit);
                return config;
            }
            let config = Self::new(rt, explicit);
            if recent.len() == 8 {
                recent.remove(0);
            }
            recent.push((rt, Arc::clone(&config.explicit)));
            config
        })
    }

    /// The effective value: set explicitly, or the type's default.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.explicit.get(key).or_else(|| {
            self.rt
                .and_then(|rt| crate::project::config::defaults_ref(rt).get(key))
        })
    }

    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        self.explicit_mut().insert(key, value)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Only the keys set explicitly.
    pub fn explicit(&self) -> &Map<String, Value> {
        &self.explicit
    }

    /// The keys set explicitly, this node's own from here on.
    pub fn explicit_mut(&mut self) -> &mut Map<String, Value> {
        std::sync::Arc::make_mut(&mut self.explicit)
    }

    pub fn into_explicit(self) -> Map<String, Value> {
        std::sync::Arc::unwrap_or_clone(self.explicit)
    }

    /// Whether the two configs serialize to the same JSON: the same
    /// resource type, and the same explicit keys in the same order with the
    /// same values (objects compared in order too, numbers by their exact
    /// representation). Much cheaper than serializing them.
    pub fn writes_same(&self, other: &Self) -> bool {
        self.rt == other.rt
            && (std::sync::Arc::ptr_eq(&self.explicit, &other.explicit)
                || same_maps(&self.explicit, &other.explicit))
    }

    /// Every key, defaults first in dbt's order, then extra keys.
    pub fn to_map(&self) -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(rt) = self.rt {
            for (k, v) in crate::project::config::defaults_ref(rt) {
                out.insert(k.clone(), self.explicit.get(k).unwrap_or(v).clone());
            }
        }
        for (k, v) in self.explicit.iter() {
            if !out.contains_key(k) {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }
}

/// Whether two maps serialize to the same JSON: the same keys in the same
/// order with the same values (objects compared in order too, numbers by
/// their exact representation).
fn same_maps(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    fn values(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => same_maps(x, y),
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values(a, b))
            }
            // `0.0 == -0.0`, but they are written differently.
            (Value::Number(x), Value::Number(y)) => {
                x == y && x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits)
            }
            _ => a == b,
        }
    }
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && values(va, vb))
}

/// Hooks as dbt's manifest lists them: `{sql, transaction, index}` each.
fn hooks_json(v: &Value) -> Value {
    let items = v.as_array().map_or(&[][..], Vec::as_slice);
    Value::Array(
        items
            .iter()
            .map(|h| match h {
                Value::Object(o) => serde_json::json!({
                    "sql": o.get("sql").cloned().unwrap_or(Value::Null),
                    "transaction": o.get("transaction").cloned().unwrap_or(Value::Bool(true)),
                    "index": o.get("index").cloned().unwrap_or(Value::Null),
                }),
                other => serde_json::json!({"sql": other, "transaction": true, "index": null}),
            })
            .collect(),
    )
}

impl Serialize for NodeConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let defaults = self.rt.map(crate::project::config::defaults_ref);
        let mut m = s.serialize_map(None)?;
        let entry = |m: &mut S::SerializeMap, k: &String, v: &Value| match k.as_str() {
            "pre-hook" | "post-hook" if v.as_array().is_some_and(|a| !a.is_empty()) => {
                m.serialize_entry(k, &hooks_json(v))
            }
            _ => m.serialize_entry(k, v),
        };
        if let Some(d) = defaults {
            for (k, v) in d {
                entry(&mut m, k, self.explicit.get(k).unwrap_or(v))?;
            }
        }
        for (k, v) in self.explicit.iter() {
            if defaults.is_none_or(|d| !d.contains_key(k)) {
                entry(&mut m, k, v)?;
            }
        }
        m.end()
    }
}

/// A node of the project graph. Sources and exposures are nodes too, so that
/// selection and lineage treat every resource alike.
#[derive(Clone, Debug)]
pub struct Node {
    pub unique_id: String,
    pub resource_type: ResourceType,
    pub package_name: String,
    pub name: String,
    /// Path relative to the resource folder (`silver/orders.sql`), as dbt's `path`.
    pub path: String,
    /// Path relative to the package root (`models/silver/orders.sql`).
    pub original_file_path: String,
    /// Absolute path on disk, for diagnostics.
    pub abs_path: PathBuf,
    /// Where the node is defined in `abs_path` (the whole file for SQL nodes,
    /// the YAML entry for tests, sources and exposures).
    pub span: Option<SourceSpan>,
    pub fqn: Vec<String>,
    /// The file contents with surrounding whitespace trimmed, as dbt keeps them.
    pub raw_code: String,
    /// Byte offset of `raw_code` in the file, to map template positions back.
    pub raw_offset: usize,
    /// sha256 of `raw_code`, or empty for nodes without a file of their own.
    pub checksum: String,
    /// The effective config after dbt's precedence rules.
    pub config: NodeConfig,
    /// Config as written (project file, YAML and `config()` merged), before defaults.
    pub unrendered_config: Map<String, Value>,
    /// Config from properties YAML, which sits between the project file and
    /// `config()` until the parse phase merges them.
    pub yaml_config: Map<String, Value>,
    /// `yaml_config` as written, when it had Jinja that rendering changed.
    pub raw_yaml_config: Option<Box<Map<String, Value>>>,
    pub description: String,
    pub columns: IndexMap<String, Column>,
    /// Model-level contract constraints.
    pub constraints: Vec<Constraint>,
    pub meta: Map<String, Value>,
    pub tags: Vec<String>,
    pub patch_path: Option<String>,
    pub refs: Vec<RefCall>,
    pub sources: Vec<[String; 2]>,
    pub depends_on_macros: Vec<String>,
    pub depends_on_nodes: Vec<String>,
    pub database: String,
    pub schema: String,
    pub alias: String,
    pub relation_name: Option<String>,
    pub compiled_code: Option<String>,
    pub extra_ctes: Vec<(String, String)>,
    // Boxed: most nodes have none of these, and a small `Node` is cheap to
    // move while the parse phase renders nodes in parallel.
    pub test: Option<Box<TestInfo>>,
    pub source: Option<Box<SourceInfo>>,
    pub exposure: Option<Box<ExposureInfo>>,
    pub unit: Option<Box<UnitTestInfo>>,
    /// A versioned model's version (its `name` is the model's, its
    /// unique id ends in `.v<version>`).
    pub version: Option<Version>,
    pub latest_version: Option<Version>,
    /// `deprecation_date` as dbt writes it (ISO 8601 with an offset).
    pub deprecation_date: Option<String>,
    /// Doc blocks used in the description (`doc.<package>.<name>`).
    pub doc_blocks: Vec<String>,
    /// Set by the parse phase when the node calls `config()` or `var()`.
    pub facts: Option<Box<ParseFacts>>,
}

impl Node {
    /// The columns declared with a `primary_key` constraint of their own.
    pub fn primary_key_columns(&self) -> Vec<&str> {
        self.columns
            .values()
            .filter(|c| {
                c.constraints
                    .iter()
                    .any(|k| k.kind == ConstraintKind::PrimaryKey)
            })
            .map(|c| c.name.as_str())
            .collect()
    }

    pub fn new(resource_type: ResourceType, package_name: &str, name: &str) -> Self {
        let mut n = Self::vacant(resource_type);
        n.unique_id = format!("{resource_type}.{package_name}.{name}");
        package_name.clone_into(&mut n.package_name);
        name.clone_into(&mut n.name);
        n
    }

    /// A node with nothing in it, made without allocating: it holds a
    /// node's place while the node itself is lent out.
    pub fn vacant(resource_type: ResourceType) -> Self {
        Self {
            unique_id: String::new(),
            resource_type,
            package_name: String::new(),
            name: String::new(),
            path: String::new(),
            original_file_path: String::new(),
            abs_path: PathBuf::new(),
            span: None,
            fqn: Vec::new(),
            raw_code: String::new(),
            raw_offset: 0,
            checksum: String::new(),
            config: NodeConfig::new(resource_type, Map::new()),
            unrendered_config: Map::new(),
            yaml_config: Map::new(),
            raw_yaml_config: None,
            description: String::new(),
            columns: IndexMap::new(),
            constraints: Vec::new(),
            meta: Map::new(),
            tags: Vec::new(),
            patch_path: None,
            refs: Vec::new(),
            sources: Vec::new(),
            depends_on_macros: Vec::new(),
            depends_on_nodes: Vec::new(),
            database: String::new(),
            schema: String::new(),
            alias: String::new(),
            relation_name: None,
            compiled_code: None,
            extra_ctes: Vec::new(),
            test: None,
            source: None,
            exposure: None,
            unit: None,
            version: None,
            latest_version: None,
            deprecation_date: None,
            doc_blocks: Vec::new(),
            facts: None,
        }
    }

    /// A copy with identity and location only, for diagnostics.
    #[must_use]
    pub fn clone_header(&self) -> Self {
        let mut n = Self::new(self.resource_type, &self.package_name, &self.name);
        n.unique_id.clone_from(&self.unique_id);
        n.original_file_path.clone_from(&self.original_file_path);
        n.abs_path.clone_from(&self.abs_path);
        n.span.clone_from(&self.span);
        n.raw_offset = self.raw_offset;
        n
    }

    /// Model-level constraints, then each column's.
    pub fn all_constraints(&self) -> impl Iterator<Item = &Constraint> {
        self.constraints
            .iter()
            .chain(self.columns.values().flat_map(|c| c.constraints.iter()))
    }

    /// Foreign keys written with `to:` (`ref(...)` or `source(...)`).
    pub fn foreign_keys_to(&self) -> impl Iterator<Item = &Constraint> {
        self.all_constraints()
            .filter(|c| c.kind == ConstraintKind::ForeignKey && c.to.is_some())
    }

    pub fn materialized(&self) -> &str {
        self.config
            .get("materialized")
            .and_then(Value::as_str)
            .unwrap_or("view")
    }

    pub fn is_ephemeral(&self) -> bool {
        self.resource_type == ResourceType::Model && self.materialized() == "ephemeral"
    }

    pub fn enabled(&self) -> bool {
        self.config.get("enabled").is_none_or(crate::value::truthy)
    }

    /// dbt's `is_latest_version`: versioned, and its version is the latest.
    pub fn is_latest_version(&self) -> bool {
        match (&self.version, &self.latest_version) {
            (Some(v), Some(l)) => v.same(l),
            _ => false,
        }
    }

    /// The name refs look a node up by: `name.v<version>` for a version.
    pub fn search_name(&self) -> String {
        match &self.version {
            Some(v) => format!("{}.v{v}", self.name),
            None => self.name.clone(),
        }
    }

    /// `singular`, `generic` or `unit` for tests, as the `test_type:` selector sees them.
    pub fn test_type(&self) -> Option<&'static str> {
        match self.resource_type {
            ResourceType::UnitTest => Some("unit"),
            ResourceType::Test => Some(
                if self.test.as_ref().is_some_and(|t| t.metadata.is_some()) {
                    "generic"
                } else {
                    "singular"
                },
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Version;
    use serde_json::json;

    fn v(x: &serde_json::Value) -> Version {
        Version::from_json(x).expect("a version")
    }

    /// Equal configs share one map; a different order or value does not,
    /// and changing a shared config leaves the others alone.
    #[test]
    fn equal_configs_share_one_map_until_changed() {
        use super::{NodeConfig, ResourceType};
        let map = |pairs: &[(&str, serde_json::Value)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<serde_json::Map<_, _>>()
        };
        let ab = map(&[("a", json!(1)), ("b", json!({"x": 1.0}))]);
        let one = NodeConfig::shared(ResourceType::Test, ab.clone());
        let mut two = NodeConfig::shared(ResourceType::Test, ab.clone());
        assert!(std::sync::Arc::ptr_eq(&one.explicit, &two.explicit));
        let as_model = NodeConfig::shared(ResourceType::Model, ab.clone());
        assert!(!std::sync::Arc::ptr_eq(&one.explicit, &as_model.explicit));
        let ba = map(&[("b", json!({"x": 1.0})), ("a", json!(1))]);
        let reordered = NodeConfig::shared(ResourceType::Test, ba);
        assert!(!std::sync::Arc::ptr_eq(&one.explicit, &reordered.explicit));
        let int = map(&[("a", json!(1)), ("b", json!({"x": 1}))]);
        let other_number = NodeConfig::shared(ResourceType::Test, int);
        assert!(!std::sync::Arc::ptr_eq(
            &one.explicit,
            &other_number.explicit
        ));
        two.insert("c".into(), json!(true));
        assert_eq!(one.explicit(), &ab);
        assert_eq!(two.get("c"), Some(&json!(true)));
        assert!(one.writes_same(&NodeConfig::new(ResourceType::Test, ab)));
        assert!(!one.writes_same(&two));
    }

    #[test]
    fn versions_order_as_numbers_else_as_text() {
        use std::cmp::Ordering::{Greater, Less};
        assert_eq!(v(&json!(10)).cmp_dbt(&v(&json!(9))), Greater);
        assert_eq!(v(&json!("10")).cmp_dbt(&v(&json!(9.5))), Greater);
        assert_eq!(v(&json!("beta")).cmp_dbt(&v(&json!(2))), Greater);
        assert_eq!(v(&json!("1.5")).cmp_dbt(&v(&json!(2))), Less);
    }

    #[test]
    fn versions_keep_their_type_and_name_alike() {
        assert_eq!(v(&json!(1)).text(), "1");
        assert_eq!(v(&json!(1.5)).text(), "1.5");
        assert!(v(&json!(1)).same(&v(&json!(1.0))));
        assert!(!v(&json!(1)).same(&v(&json!("1"))));
        assert_eq!(Version::from_literal("'2'").map(|x| x.is_str()), Some(true));
        assert_eq!(Version::from_literal("2").map(|x| x.is_str()), Some(false));
        assert!(Version::from_json(&json!(true)).is_none());
    }
}
