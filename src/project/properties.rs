//! Properties YAML (`models:`, `sources:`, `seeds:`, `snapshots:`,
//! `analyses:`, `macros:`, `exposures:`, `groups:`, `unit_tests:`): patches
//! descriptions, columns and configs onto nodes and creates sources,
//! exposures and generic data tests.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use super::{Project, config};
use crate::diagnostics::{Diag, Diags, SourceText, closest};
use crate::node::{Column, ExposureInfo, Node, ResourceType, SourceInfo, TestInfo, TestMetadata};
use crate::span::SourceSpan;
use crate::yaml::Yaml;

pub struct YamlFile {
    pub package: String,
    /// Relative to the package root.
    pub rel: String,
    /// Relative to the resource folder it lives in.
    pub rel_in_root: String,
    pub root: String,
    pub abs: PathBuf,
    /// `abs`, shared by the spans of everything the file declares.
    pub abs_shared: Arc<PathBuf>,
    pub source: SourceText,
    /// The document with its Jinja rendered (see `jinja::yaml_render`).
    pub doc: Yaml,
    /// What each rendered string was before, by byte offset; empty for a
    /// file without Jinja.
    pub originals: HashMap<usize, String>,
}

impl YamlFile {
    pub(super) fn diag(&self, code: &'static str, at: &Yaml, msg: impl Into<String>) -> Diag {
        Diag::error(code, msg)
            .with_source(self.source.clone())
            .with_label(at.offset, at.len.max(1), "")
    }

    pub(super) fn warn(&self, code: &'static str, at: &Yaml, msg: impl Into<String>) -> Diag {
        Diag::warning(code, msg)
            .with_source(self.source.clone())
            .with_label(at.offset, at.len.max(1), "")
    }

    /// Renders the document's Jinja in place (see `jinja::yaml_render`).
    pub fn render(
        &mut self,
        renderer: &crate::jinja::yaml_render::YamlRenderer,
        diags: &mut Diags,
    ) {
        for e in renderer.render_properties(&mut self.doc, &self.package, &mut self.originals) {
            let mut d = Diag::error(
                "XF0155",
                format!(
                    "cannot render `{}` in `{}`: {}",
                    e.keypath, self.source.name, e.message
                ),
            )
            .with_source(self.source.clone());
            if let Some((offset, len)) = e.span {
                d = d.with_label(offset, len, "");
            }
            diags.push(d);
        }
    }

    /// A value as written, before its Jinja was rendered.
    pub(super) fn raw_json(&self, at: &Yaml) -> Value {
        if self.originals.is_empty() {
            return at.to_json();
        }
        at.to_json_with(&|y| {
            self.originals
                .get(&y.offset)
                .filter(|_| {
                    !matches!(
                        y.kind,
                        crate::yaml::YamlKind::Map(_) | crate::yaml::YamlKind::Seq(_)
                    )
                })
                .map(|s| Value::String(s.clone()))
        })
    }

    /// A string as written, before its Jinja was rendered.
    pub(super) fn raw_str<'a>(&'a self, at: &'a Yaml) -> Option<&'a str> {
        self.originals
            .get(&at.offset)
            .map(String::as_str)
            .or_else(|| at.as_str())
    }

    pub(super) fn span(&self, at: &Yaml) -> SourceSpan {
        SourceSpan::new(Arc::clone(&self.abs_shared), at.offset, at.len.max(1))
    }

    /// Folders of this file below its resource folder, for fqns.
    fn dirs(&self) -> impl Iterator<Item = &str> {
        let folder = self.rel_in_root.rsplit_once('/').map_or("", |(d, _)| d);
        folder.split('/').filter(|_| !folder.is_empty())
    }

    /// The fqn of something this file declares: its package, the file's
    /// folders, then `names`.
    fn fqn(&self, names: &[&str]) -> Vec<String> {
        let mut fqn = Vec::with_capacity(2 + names.len() + self.rel_in_root.matches('/').count());
        fqn.push(self.package.clone());
        fqn.extend(self.dirs().map(str::to_owned));
        fqn.extend(names.iter().map(|n| (*n).to_owned()));
        fqn
    }
}

pub fn md5_hex(text: &str) -> String {
    let mut h = Md5::new();
    h.update(text.as_bytes());
    super::lower_hex(&h.finalize())
}

pub(super) fn str_of(y: Option<&Yaml>) -> String {
    match y.map(Yaml::to_json) {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub(super) fn map_of(y: Option<&Yaml>) -> Map<String, Value> {
    match y.map(Yaml::to_json) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Applies one properties file to the project.
pub fn apply(project: &mut Project, file: &YamlFile, diags: &mut Diags) {
    let doc = &file.doc;
    if doc.is_null() {
        return;
    }
    let Some(entries) = doc.as_map() else {
        diags.push(file.diag(
            "XF0140",
            doc,
            format!(
                "a properties file must be a mapping, found {}",
                doc.type_name()
            ),
        ));
        return;
    };
    let mut pending = Vec::new();
    for (key, value) in entries {
        let Some(k) = key.key_str() else { continue };
        match k.as_str() {
            "version" | "metrics" | "semantic_models" | "saved_queries" | "data_tests"
            | "functions" => {}
            "models" => patch_nodes(
                project,
                file,
                value,
                ResourceType::Model,
                diags,
                &mut pending,
            ),
            "seeds" => patch_nodes(
                project,
                file,
                value,
                ResourceType::Seed,
                diags,
                &mut pending,
            ),
            "snapshots" => {
                add_yaml_snapshots(project, file, value, diags);
                patch_nodes(
                    project,
                    file,
                    value,
                    ResourceType::Snapshot,
                    diags,
                    &mut pending,
                );
            }
            "analyses" => patch_nodes(
                project,
                file,
                value,
                ResourceType::Analysis,
                diags,
                &mut pending,
            ),
            "sources" => add_sources(project, file, value, diags, &mut pending),
            "macros" => patch_macros(project, file, value, diags),
            "exposures" => add_exposures(project, file, value, diags),
            "groups" => {
                for g in value.as_seq().unwrap_or_default() {
                    let name = str_of(g.get("name"));
                    if !name.is_empty() {
                        let mut v = g.to_json();
                        if let Value::Object(m) = &mut v {
                            m.insert("package_name".into(), json!(file.package));
                            m.insert("original_file_path".into(), json!(file.rel));
                        }
                        project
                            .groups
                            .insert(format!("group.{}.{name}", file.package), v);
                    }
                }
            }
            "unit_tests" => super::unit_tests::add(project, file, value, diags),
            other => {
                let mut d = file.warn(
                    "XF0141",
                    key,
                    format!(
                        "unknown key `{other}` in properties file `{}`",
                        file.source.name
                    ),
                );
                let known = [
                    "version",
                    "models",
                    "seeds",
                    "snapshots",
                    "analyses",
                    "sources",
                    "macros",
                    "exposures",
                    "groups",
                    "unit_tests",
                    "metrics",
                    "semantic_models",
                    "saved_queries",
                ];
                if let Some(c) = closest(other, known) {
                    d = d.with_help(format!("did you mean `{c}`?"));
                }
                diags.push(d);
            }
        }
    }
    build_pending(project, file, pending, diags);
}

fn entries<'a>(file: &YamlFile, value: &'a Yaml, what: &str, diags: &mut Diags) -> &'a [Yaml] {
    match value.as_seq() {
        Some(s) => s,
        None if value.is_null() => &[],
        None => {
            diags.push(file.diag(
                "XF0142",
                value,
                format!("`{what}:` must be a list, found {}", value.type_name()),
            ));
            &[]
        }
    }
}

pub(super) fn columns_of(
    file: &YamlFile,
    entry: &Yaml,
    diags: &mut Diags,
) -> indexmap::IndexMap<String, Column> {
    let columns = entry
        .get("columns")
        .and_then(Yaml::as_seq)
        .unwrap_or_default();
    // Sized to the list: a map grown from empty keeps room for more
    // columns than most models have (a `Column` is a few hundred bytes).
    let mut out = indexmap::IndexMap::with_capacity(columns.len());
    for c in columns {
        let name = str_of(c.get("name"));
        if name.is_empty() {
            continue;
        }
        let mut col = Column::named(&name);
        col.span = c.get("name").map(|n| file.span(n));
        col.description = str_of(c.get("description"));
        col.meta = map_of(c.get("meta"));
        let cfg = map_of(c.get("config"));
        if let Some(Value::Object(m)) = cfg.get("meta") {
            for (k, v) in m {
                col.meta.insert(k.clone(), v.clone());
            }
        }
        col.data_type = c.get("data_type").and_then(Yaml::as_str).map(str::to_owned);
        if let Some(cs) = c.get("constraints") {
            col.constraints = super::constraints::read(file, cs, false, diags);
        }
        col.quote = match c.get("quote").map(Yaml::to_json) {
            Some(Value::Bool(b)) => Some(b),
            _ => None,
        };
        col.tags = c
            .get("tags")
            .map(|t| crate::value::string_list(&t.to_json()))
            .unwrap_or_default();
        out.insert(name, col);
    }
    out
}

/// Configs written directly on a YAML entry (`config:`), with `tags`/`meta`
/// given at the top level of the entry folded in as dbt does.
pub(super) fn entry_config(entry: &Yaml) -> Map<String, Value> {
    entry_config_with(entry, &Yaml::to_json)
}

/// An entry's config as written, when rendering its Jinja changed it.
pub(super) fn entry_config_raw(file: &YamlFile, entry: &Yaml) -> Option<Map<String, Value>> {
    if file.originals.is_empty() {
        return None;
    }
    let raw = entry_config_with(entry, &|y| file.raw_json(y));
    (raw != entry_config(entry)).then_some(raw)
}

fn entry_config_with(entry: &Yaml, to_json: &dyn Fn(&Yaml) -> Value) -> Map<String, Value> {
    let mut cfg = match entry.get("config").map(to_json) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for key in ["tags", "meta", "docs", "access", "group"] {
        if let Some(v) = entry.get(key)
            && !cfg.contains_key(key)
        {
            cfg.insert(key.to_owned(), to_json(v));
        }
    }
    cfg
}

/// Snapshots defined in YAML alone (dbt >= 1.9): an entry of `snapshots:`
/// with a `relation:` (`ref(...)` or `source(...)`) becomes a snapshot node
/// whose code is `select * from {{ <relation> }}`, as dbt builds it. Its
/// description and config are then patched on like any snapshot's.
fn add_yaml_snapshots(project: &mut Project, file: &YamlFile, value: &Yaml, diags: &mut Diags) {
    const PREFIX: &str = "select * from {{ ";
    let Some(entries) = value.as_seq() else {
        return;
    };
    for entry in entries {
        let Some(relation_y) = entry.get("relation") else {
            continue;
        };
        let name = str_of(entry.get("name"));
        if name.is_empty() {
            // patch_nodes reports the missing name.
            continue;
        }
        let relation = str_of(Some(relation_y));
        let expr = relation.trim();
        let call = expr
            .split_once('(')
            .map(|(f, _)| f.trim())
            .filter(|_| expr.ends_with(')'));
        if !matches!(call, Some("ref" | "source")) {
            diags.push(
                file.diag(
                    "XF0142",
                    relation_y,
                    format!("`relation:` of snapshot `{name}` must be a `ref(...)` or `source(...)` call, found `{relation}`"),
                )
                .with_help("for example `relation: ref('orders')` or `relation: source('shop', 'orders')`"),
            );
            continue;
        }
        let Some(pkg) = project.packages.get(&file.package) else {
            continue;
        };
        let mut node = Node::new(ResourceType::Snapshot, &file.package, &name);
        node.path = format!("{}/{name}.sql", file.rel_in_root);
        node.original_file_path.clone_from(&file.rel);
        node.abs_path.clone_from(&file.abs);
        node.span = Some(file.span(entry));
        node.fqn = file.fqn(&[&name]);
        node.raw_code = format!("{PREFIX}{relation} }}}}");
        // Template positions inside the relation text map onto the YAML value.
        node.raw_offset = relation_y.offset.saturating_sub(PREFIX.len());
        node.checksum = super::sha256_hex(file.source.text.trim());
        node.config = crate::node::NodeConfig::new(
            ResourceType::Snapshot,
            super::project_config(pkg, &project.packages, ResourceType::Snapshot, &node.fqn),
        );
        super::add_node(project, Box::new(node), diags);
    }
}

/// What an entry of `models:`/`seeds:`/... sets on its node, read without
/// touching the project so that a file's entries are read in parallel.
struct EntryPatch {
    description: String,
    columns: indexmap::IndexMap<String, Column>,
    constraints: Option<Vec<crate::node::Constraint>>,
    yaml_config: Map<String, Value>,
    raw_yaml_config: Option<Box<Map<String, Value>>>,
    deprecation_date: Option<String>,
    /// The node's id, and its place in the project's map when read (if it
    /// exists): a versioned model patched meanwhile may move it.
    uid: String,
    position: Option<usize>,
    /// Its tests, to build once the entry is applied.
    tests: Vec<PendingTest>,
    /// What reading the columns and constraints reported.
    read_diags: Diags,
    /// What reading `deprecation_date` reported.
    date_diags: Diags,
}

/// Reads the entry `name` of `<plural>:` (`models:`, `seeds:`, ...).
fn read_entry(
    project: &Project,
    file: &YamlFile,
    entry: &Yaml,
    name: &str,
    plural: &str,
    rt: ResourceType,
) -> EntryPatch {
    let uid = format!("{rt}.{}.{name}", file.package);
    let position = project.nodes.get_index_of(uid.as_str());
    let mut read_diags = Diags::default();
    let columns = columns_of(file, entry, &mut read_diags);
    let constraints = entry
        .get("constraints")
        .map(|cs| super::constraints::read(file, cs, true, &mut read_diags));
    let mut date_diags = Diags::default();
    let deprecation_date = if rt == ResourceType::Model {
        entry
            .get("deprecation_date")
            .and_then(|y| super::versions::deprecation_date(file, y, &mut date_diags))
    } else {
        None
    };
    let quote_columns = bool_of(entry.get("quote_columns"));
    EntryPatch {
        description: str_of(entry.get("description")),
        columns,
        constraints,
        // YAML configs sit between the project file and `config()`: kept
        // apart until the parse phase merges all three.
        yaml_config: entry_config(entry),
        raw_yaml_config: entry_config_raw(file, entry).map(Box::new),
        deprecation_date,
        position,
        tests: pending_tests(
            TestTarget::Node {
                name: name.to_owned(),
                uid: uid.clone(),
                kind: rt,
                version: None,
            },
            &format!("{plural}.{name}"),
            collect_tests(entry, &|c| test_column_name(project, c, quote_columns)),
        ),
        read_diags,
        date_diags,
        uid,
    }
}

/// The name of an entry that is patched like any node's: named, and not a
/// versioned model (those go through [`super::versions::patch`]).
fn plain_entry_name(entry: &Yaml, rt: ResourceType) -> Option<&str> {
    let name = entry.get("name").and_then(Yaml::as_str)?;
    let versioned = rt == ResourceType::Model
        && entry
            .get("versions")
            .is_some_and(|v| !v.is_null() && v.as_seq().is_none_or(|s| !s.is_empty()));
    (!name.is_empty() && !versioned).then_some(name)
}

fn patch_nodes(
    project: &mut Project,
    file: &YamlFile,
    value: &Yaml,
    rt: ResourceType,
    diags: &mut Diags,
    pending: &mut Vec<PendingTest>,
) {
    use rayon::prelude::*;
    let plural = match rt {
        ResourceType::Model => "models",
        ResourceType::Seed => "seeds",
        ResourceType::Snapshot => "snapshots",
        _ => "analyses",
    };
    let list = entries(file, value, plural, diags);
    // Entries are read in parallel (a large project describes thousands of
    // models in one file), then applied in order.
    let read: Vec<Option<EntryPatch>> = {
        let p: &Project = project;
        list.par_iter()
            .map(|entry| {
                plain_entry_name(entry, rt).map(|name| read_entry(p, file, entry, name, plural, rt))
            })
            .collect()
    };
    // The same for every entry of the file.
    let patch_path = format!("{}://{}", file.package, file.rel);
    for (entry, patch) in list.iter().zip(read) {
        let name_y = entry.get("name");
        let name = name_y.and_then(Yaml::as_str).unwrap_or_default();
        if name.is_empty() {
            diags.push(file.diag(
                "XF0143",
                entry,
                format!("an entry of `{plural}:` has no `name`"),
            ));
            continue;
        }
        let Some(patch) = patch else {
            // A versioned model.
            if let Some(versions) = entry.get("versions") {
                super::versions::patch(project, file, entry, name, versions, diags, pending);
            }
            continue;
        };
        let at = patch
            .position
            .filter(|&at| {
                project
                    .nodes
                    .get_index(at)
                    .is_some_and(|(k, _)| *k == patch.uid)
            })
            .or_else(|| project.nodes.get_index_of(&patch.uid));
        let Some((_, node)) = at.and_then(|at| project.nodes.get_index_mut(at)) else {
            let candidates: Vec<String> = project
                .nodes
                .values()
                .filter(|n| n.resource_type == rt && n.package_name == file.package)
                .map(|n| n.name.clone())
                .collect();
            let mut d = file.warn(
                "XF0144",
                name_y.unwrap_or(entry),
                format!(
                    "`{name}` is described in `{}` but no {rt} of that name exists",
                    file.source.name
                ),
            );
            if let Some(c) = closest(name, candidates.iter().map(String::as_str)) {
                d = d.with_help(format!("did you mean `{c}`?"));
            }
            diags.push(d);
            continue;
        };
        if let Some(prev) = &node.patch_path {
            diags.push(file.diag(
                "XF0145",
                name_y.unwrap_or(entry),
                format!("{rt} `{name}` is described twice: here and in `{prev}`"),
            ));
            continue;
        }
        node.patch_path = Some(patch_path.clone());
        node.description = patch.description;
        node.columns = patch.columns;
        if let Some(constraints) = patch.constraints {
            node.constraints = constraints;
        }
        diags.extend(patch.read_diags.0);
        let column_pks = node.primary_key_columns();
        super::constraints::check_primary_keys(
            file,
            name_y.unwrap_or(entry),
            name,
            &column_pks,
            &node.constraints,
            diags,
        );
        node.yaml_config = patch.yaml_config;
        node.raw_yaml_config = patch.raw_yaml_config;
        if rt == ResourceType::Model {
            node.deprecation_date = patch.deprecation_date;
        }
        diags.extend(patch.date_diags.0);
        pending.extend(patch.tests);
    }
}

#[derive(Clone)]
pub(super) enum TestTarget {
    Node {
        name: String,
        uid: String,
        kind: ResourceType,
        /// The version of a versioned model: its tests are named
        /// `<test>_<model>_v<version>_...` and ref that version.
        version: Option<crate::node::Version>,
    },
    Source {
        source: String,
        table: String,
    },
}

/// `(column, test entry)` pairs of an entry: model-level tests then column
/// tests. `column` names a column as its tests see it (see
/// [`test_column_name`]).
pub(super) fn collect_tests(
    entry: &Yaml,
    column: &dyn Fn(&Yaml) -> String,
) -> Vec<(Option<String>, Yaml)> {
    let mut out = Vec::new();
    for key in ["data_tests", "tests"] {
        for t in entry.get(key).and_then(Yaml::as_seq).unwrap_or_default() {
            out.push((None, t.clone()));
        }
    }
    for c in entry
        .get("columns")
        .and_then(Yaml::as_seq)
        .unwrap_or_default()
    {
        let col = column(c);
        for key in ["data_tests", "tests"] {
            for t in c.get(key).and_then(Yaml::as_seq).unwrap_or_default() {
                out.push((Some(col.clone()), t.clone()));
            }
        }
    }
    out
}

/// The `column_name` a column's generic tests get, as dbt gives it: quoted
/// for the adapter when the column says `quote: true`, or says nothing and
/// `quote_columns` (a model's `quote_columns:`, a source table's
/// `quoting: {column:}`) is true.
pub(super) fn test_column_name(
    project: &Project,
    column: &Yaml,
    quote_columns: Option<bool>,
) -> String {
    let name = str_of(column.get("name"));
    let quoted = match column.get("quote").map(Yaml::to_json) {
        Some(Value::Bool(b)) => b,
        _ => quote_columns.unwrap_or(false),
    };
    match crate::adapter::for_kind(&project.target.kind) {
        Some(a) if quoted => a.quote(&name),
        _ => name,
    }
}

/// A boolean YAML value, if it is one.
pub(super) fn bool_of(y: Option<&Yaml>) -> Option<bool> {
    match y.map(Yaml::to_json) {
        Some(Value::Bool(b)) => Some(b),
        _ => None,
    }
}

/// Test config keys that may be written next to a test's arguments.
pub const TEST_CONFIG_KEYS: &[&str] = &[
    "severity",
    "tags",
    "enabled",
    "where",
    "limit",
    "warn_if",
    "error_if",
    "fail_calc",
    "store_failures",
    "store_failures_as",
    "meta",
    "database",
    "schema",
    "alias",
];

/// A data test declared in YAML, built after the whole file is read.
pub(super) struct PendingTest {
    /// Shared by the tests of one entry.
    target: std::sync::Arc<TestTarget>,
    file_key_name: std::sync::Arc<str>,
    column: Option<String>,
    yaml: Yaml,
}

pub(super) fn add_tests(
    pending: &mut Vec<PendingTest>,
    target: &TestTarget,
    file_key_name: &str,
    tests: Vec<(Option<String>, Yaml)>,
) {
    if !tests.is_empty() {
        pending.extend(pending_tests(target.clone(), file_key_name, tests));
    }
}

/// The tests of one entry, sharing its target and key name.
fn pending_tests(
    target: TestTarget,
    file_key_name: &str,
    tests: Vec<(Option<String>, Yaml)>,
) -> Vec<PendingTest> {
    if tests.is_empty() {
        return Vec::new();
    }
    let target = std::sync::Arc::new(target);
    let file_key_name: std::sync::Arc<str> = file_key_name.into();
    tests
        .into_iter()
        .map(|(column, yaml)| PendingTest {
            target: std::sync::Arc::clone(&target),
            file_key_name: std::sync::Arc::clone(&file_key_name),
            column,
            yaml,
        })
        .collect()
}

/// Builds the tests of a file in parallel (a large project declares tens of
/// thousands), then adds them in declaration order.
fn build_pending(
    project: &mut Project,
    file: &YamlFile,
    pending: Vec<PendingTest>,
    diags: &mut Diags,
) {
    use rayon::prelude::*;
    /// A test with its id, ready to add.
    type Built = (String, Box<Node>);
    let built: Vec<(Yaml, Result<Built, Diag>)> = {
        let p: &Project = project;
        pending
            .into_par_iter()
            .map(|t| {
                let r = build_test(
                    p,
                    file,
                    &t.target,
                    &t.file_key_name,
                    t.column.as_deref(),
                    &t.yaml,
                )
                .map(|n| (n.unique_id.clone(), Box::new(n)));
                (t.yaml, r)
            })
            .collect()
    };
    for (t, r) in built {
        match r {
            Ok((uid, node)) => match project.nodes.entry(uid) {
                indexmap::map::Entry::Occupied(_) => diags.push(file.warn(
                    "XF0146",
                    &t,
                    format!(
                        "test `{}` is declared twice; the second is ignored",
                        node.name
                    ),
                )),
                indexmap::map::Entry::Vacant(v) => {
                    v.insert(node);
                }
            },
            Err(d) => diags.push(d),
        }
    }
}

fn build_test(
    project: &Project,
    file: &YamlFile,
    target: &TestTarget,
    file_key_name: &str,
    column: Option<&str>,
    t: &Yaml,
) -> Result<Node, Diag> {
    // A test is `name`, or `{name: {args...}}`, or (dbt >= 1.x) an entry with
    // `test_name:` and an optional custom `name:`.
    let named: String;
    let (test_name, body): (&str, Option<&Yaml>) = match (&t.kind, t.as_map()) {
        (crate::yaml::YamlKind::Str(s), _) => (s.as_str(), None),
        (_, Some(_)) if t.get("test_name").is_some() => {
            named = str_of(t.get("test_name"));
            (named.as_str(), Some(t))
        }
        (_, Some(pairs)) if pairs.len() == 1 => {
            let (k, v) = &pairs[0];
            named = k.key_str().unwrap_or_default();
            (named.as_str(), Some(v))
        }
        _ => {
            return Err(file.diag(
                "XF0147",
                t,
                "a data test must be a test name or a mapping of one test name to its arguments",
            ));
        }
    };
    let (namespace, short) = match test_name.split_once('.') {
        Some((ns, n)) => (Some(ns), n),
        None => (None, test_name),
    };
    // `column_name` comes first in the kwargs, as dbt writes them. Sized
    // for those, the entry's keys and `model`: tens of thousands of tests
    // keep their kwargs for the whole run.
    let mut args = Map::with_capacity(
        usize::from(column.is_some()) + body.and_then(Yaml::as_map).map_or(0, <[_]>::len) + 1,
    );
    if let Some(c) = column {
        args.insert("column_name".into(), Value::String(c.to_owned()));
    }
    let mut cfg: Map<String, Value> = Map::new();
    let mut custom_name: Option<String> = None;
    if let Some(b) = body {
        match b.to_json() {
            Value::Object(m) => {
                for (k, v) in m {
                    match k.as_str() {
                        "config" => {
                            if let Value::Object(c) = v {
                                cfg.extend(c);
                            }
                        }
                        "arguments" => {
                            if let Value::Object(a) = v {
                                args.extend(a);
                            }
                        }
                        "name" => {
                            custom_name = v.as_str().map(str::to_owned);
                        }
                        "test_name" | "description" => {}
                        "column_name" => {
                            args.insert(k, v);
                        }
                        k2 if TEST_CONFIG_KEYS.contains(&k2) => {
                            cfg.insert(k, v);
                        }
                        _ => {
                            args.insert(k, v);
                        }
                    }
                }
            }
            Value::Null => {}
            other => {
                return Err(file.diag(
                    "XF0148",
                    b,
                    format!(
                        "arguments of test `{test_name}` must be a mapping, found {}",
                        match other {
                            Value::Array(_) => "a list",
                            Value::String(_) => "a string",
                            _ => "a scalar",
                        }
                    ),
                ));
            }
        }
    }
    // dbt merges `arguments:` over the entry's own keys and then takes any
    // `name` as the test's name, never as an argument.
    if let Some(n) = args.shift_remove("name") {
        custom_name = n.as_str().map(str::to_owned).or(custom_name);
    }
    let (target_name, model_expr, attached) = match target {
        TestTarget::Node {
            name,
            uid,
            kind,
            version: Some(v),
        } => (
            std::borrow::Cow::Owned(format!("{name}_v{v}")),
            format!("{{{{ get_where_subquery(ref('{name}', version='{v}')) }}}}"),
            (*kind == ResourceType::Model).then(|| uid.clone()),
        ),
        TestTarget::Node {
            name,
            uid,
            kind,
            version: None,
        } => (
            std::borrow::Cow::Borrowed(name.as_str()),
            format!("{{{{ get_where_subquery(ref('{name}')) }}}}"),
            (*kind == ResourceType::Model
                || *kind == ResourceType::Seed
                || *kind == ResourceType::Snapshot)
                .then(|| uid.clone()),
        ),
        TestTarget::Source { source, table } => (
            std::borrow::Cow::Owned(format!("{source}_{table}")),
            format!("{{{{ get_where_subquery(source('{source}', '{table}')) }}}}"),
            None,
        ),
    };
    // dbt names tests on sources `source_<test>_<source>_<table>_...`.
    let mut test_type = String::new();
    if matches!(target, TestTarget::Source { .. }) {
        test_type.push_str("source_");
    }
    if let Some(ns) = namespace {
        test_type.push_str(ns);
        test_type.push('_');
    }
    test_type.push_str(short);
    let (full_name, hashed_name) = test_names(&test_type, &target_name, &args);
    // The node's name, and the name of its compiled file when that differs.
    let (name, file_name) = match custom_name {
        Some(c) => (c, None),
        None => (full_name, hashed_name),
    };
    let file_name = file_name.as_deref().unwrap_or(&name);
    let mut kwargs = args;
    kwargs.insert("model".into(), Value::String(model_expr));
    let metadata = TestMetadata {
        name: short.to_owned(),
        kwargs,
        namespace: namespace.map(str::to_owned),
    };
    let hash = md5_hex(&test_hash_input(&name, &metadata));
    let hash10 = &hash[hash.len() - 10..];

    // Like dbt, the test's YAML config becomes a `config()` call in its
    // code, with the shortened file name as alias: dbt's own config keys
    // first, in dbt's order (`TestBuilder.CONFIG_ARGS`), then the others as
    // written.
    let mut cfg = if cfg.is_empty() {
        cfg
    } else {
        let mut ordered = Map::new();
        for k in TEST_CONFIG_KEYS {
            if let Some(v) = cfg.remove(*k) {
                ordered.insert((*k).to_owned(), v);
            }
        }
        ordered.extend(cfg);
        ordered
    };
    if file_name != name && !cfg.contains_key("alias") {
        cfg.insert("alias".into(), Value::String(file_name.to_owned()));
    }
    let mut node = Node::vacant(ResourceType::Test);
    node.unique_id = format!("test.{}.{name}.{hash10}", file.package);
    node.package_name.clone_from(&file.package);
    node.path = format!("{file_name}.sql");
    node.original_file_path.clone_from(&file.rel);
    node.abs_path.clone_from(&file.abs);
    node.span = Some(file.span(t));
    node.fqn = file.fqn(&[&name]);
    node.raw_code = {
        let call = config_call(&cfg);
        let mut code = String::with_capacity(test_type.len() + call.len() + 48);
        code.push_str("{{ ");
        if let Some(ns) = namespace {
            code.push_str(ns);
            code.push('.');
        }
        code.push_str("test_");
        code.push_str(short);
        code.push_str("(**_dbt_generic_test_kwargs) }}");
        code.push_str(&call);
        code
    };
    node.name = name;
    let pkg = project.packages.get(&file.package);
    node.config = crate::node::NodeConfig::new(
        ResourceType::Test,
        match pkg {
            Some(p) => super::project_config(p, &project.packages, ResourceType::Test, &node.fqn),
            None => Map::new(),
        },
    );
    node.test = Some(Box::new(TestInfo {
        config: cfg,
        metadata: Some(metadata),
        column_name: column.map(str::to_owned),
        attached_node: attached,
        file_key_name: Some(file_key_name.to_owned()),
        target_version: match target {
            TestTarget::Node { version, .. } => version.clone(),
            TestTarget::Source { .. } => None,
        },
    }));
    Ok(node)
}

/// `{{ config(k="v",n=1) }}` as dbt writes it into a generic test's code.
fn config_call(cfg: &Map<String, Value>) -> String {
    if cfg.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = cfg
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}=\"{}\"", s.replace('"', "\\\"")),
            other => format!("{k}={}", py_str(other)),
        })
        .collect();
    format!("{{{{ config({}) }}}}", parts.join(","))
}

/// What dbt hashes for a test's unique id: its name, then the Python repr
/// of its metadata (`{'kwargs': ..., 'name': ..., 'namespace': ...}`) with
/// mapping keys sorted at every level and every scalar turned into a
/// string. Written straight into one string: a large project has tens of
/// thousands of tests.
fn test_hash_input(name: &str, meta: &TestMetadata) -> String {
    use crate::value::write_py_str_repr;
    let mut out = String::with_capacity(name.len() + 160);
    out.push_str(name);
    out.push_str("{'kwargs': {");
    write_sorted_entries(&meta.kwargs, &mut out);
    out.push_str("}, 'name': ");
    write_py_str_repr(&meta.name, &mut out);
    out.push_str(", 'namespace': ");
    write_py_str_repr(meta.namespace.as_deref().unwrap_or("None"), &mut out);
    out.push('}');
    out
}

fn write_sorted_entries(m: &Map<String, Value>, out: &mut String) {
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        crate::value::write_py_str_repr(k, out);
        out.push_str(": ");
        write_stringified(v, out);
    }
}

/// The repr of a value with its mappings' keys sorted and its scalars as
/// strings.
fn write_stringified(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push('{');
            write_sorted_entries(m, out);
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_stringified(x, out);
            }
            out.push(']');
        }
        Value::String(s) => crate::value::write_py_str_repr(s, out),
        other => crate::value::write_py_str_repr(&py_str(other), out),
    }
}

/// Python's `str()` of a scalar.
fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => crate::value::py_repr(other),
    }
}

/// dbt's test naming: `<type>_<target>_<flattened args>`, shortened with an
/// md5 when 64 characters or longer. Returns the full name, and the
/// shortened one when the full name is too long. Written into one string
/// as it goes.
fn test_names(
    test_type: &str,
    target: &str,
    args: &Map<String, Value>,
) -> (String, Option<String>) {
    let mut full = String::with_capacity(test_type.len() + target.len() + 48);
    full.push_str(test_type);
    full.push('_');
    full.push_str(target);
    let ident_len = full.len();
    full.push('_');
    let mut keys: Vec<&String> = args.keys().filter(|k| *k != "model").collect();
    keys.sort_unstable();
    let mut first = true;
    let mut push = |text: &str| {
        if !first {
            full.push_str("__");
        }
        first = false;
        push_clean(&mut full, text);
    };
    for k in keys {
        match &args[k] {
            Value::Object(m) => m.values().for_each(|v| push(&py_str_any(v))),
            Value::Array(a) => a.iter().for_each(|v| push(&py_str_any(v))),
            Value::String(s) => push(s),
            other => push(&py_str_any(other)),
        }
    }
    if full.len() < 64 {
        return (full, None);
    }
    let ident = &full[..ident_len];
    let cut = ident.char_indices().nth(30).map_or(ident.len(), |(i, _)| i);
    let hashed = format!("{}_{}", &ident[..cut], md5_hex(&full));
    (full, Some(hashed))
}

fn py_str_any(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) => crate::value::py_repr(v),
        other => py_str(other),
    }
}

/// Appends `s` with each run of characters outside `[0-9a-zA-Z_]` replaced
/// by one `_`.
fn push_clean(out: &mut String, s: &str) {
    let mut in_run = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
}

fn add_sources(
    project: &mut Project,
    file: &YamlFile,
    value: &Yaml,
    diags: &mut Diags,
    pending: &mut Vec<PendingTest>,
) {
    for src in entries(file, value, "sources", diags) {
        let source_name = str_of(src.get("name"));
        if source_name.is_empty() {
            diags.push(file.diag("XF0143", src, "an entry of `sources:` has no `name`"));
            continue;
        }
        let tables = src.get("tables").and_then(Yaml::as_seq).unwrap_or_default();
        let src_cfg = entry_config(src);
        for t in tables {
            let table = str_of(t.get("name"));
            if table.is_empty() {
                diags.push(file.diag(
                    "XF0143",
                    t,
                    format!("a table of source `{source_name}` has no `name`"),
                ));
                continue;
            }
            let mut node = Node::new(ResourceType::Source, &file.package, &table);
            node.unique_id = format!("source.{}.{source_name}.{table}", file.package);
            node.path.clone_from(&file.rel);
            node.original_file_path.clone_from(&file.rel);
            node.abs_path.clone_from(&file.abs);
            node.span = Some(file.span(t));
            node.fqn = file.fqn(&[&source_name, &table]);
            node.description = str_of(t.get("description"));
            node.columns = columns_of(file, t, diags);
            let mut cfg = match project.packages.get(&file.package) {
                Some(p) => {
                    super::project_config(p, &project.packages, ResourceType::Source, &node.fqn)
                }
                None => Map::new(),
            };
            config::merge_into(&mut cfg, &src_cfg);
            config::merge_into(&mut cfg, &entry_config(t));
            let (src_raw, table_raw) = (entry_config_raw(file, src), entry_config_raw(file, t));
            if src_raw.is_some() || table_raw.is_some() {
                let mut raw = src_raw.unwrap_or_else(|| src_cfg.clone());
                for (k, v) in table_raw.unwrap_or_else(|| entry_config(t)) {
                    raw.insert(k, v);
                }
                node.raw_yaml_config = Some(Box::new(raw));
            }
            node.tags = cfg
                .get("tags")
                .map(crate::value::string_list)
                .unwrap_or_default();
            node.meta = match t.get("meta").map(Yaml::to_json) {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
            node.config = crate::node::NodeConfig::new(ResourceType::Source, cfg.clone());
            node.unrendered_config = cfg;
            let database = src
                .get("database")
                .or_else(|| src.get("catalog"))
                .map(|d| str_of(Some(d)))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| project.target.database.clone());
            let schema = src
                .get("schema")
                .map(|d| str_of(Some(d)))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| source_name.clone());
            node.database = database;
            node.schema = schema;
            let identifier = t
                .get("identifier")
                .map(|d| str_of(Some(d)))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| table.clone());
            node.alias.clone_from(&identifier);
            let mut quoting = map_of(src.get("quoting"));
            quoting.extend(map_of(t.get("quoting")));
            node.source = Some(Box::new(SourceInfo {
                unrendered_schema: src
                    .get("schema")
                    .and_then(|y| file.raw_str(y))
                    .map(str::to_owned),
                source_name: source_name.clone(),
                source_description: str_of(src.get("description")),
                identifier,
                loader: str_of(src.get("loader")),
                loaded_at_field: t
                    .get("loaded_at_field")
                    .or_else(|| src.get("loaded_at_field"))
                    .and_then(Yaml::as_str)
                    .map(str::to_owned),
                freshness: t
                    .get("freshness")
                    .or_else(|| src.get("freshness"))
                    .map_or(Value::Null, Yaml::to_json),
                source_meta: map_of(src.get("meta")),
                quoting,
            }));
            let uid = node.unique_id.clone();
            if project.nodes.contains_key(&uid) {
                diags.push(file.diag(
                    "XF0149",
                    t,
                    format!("source table `{source_name}.{table}` is declared twice"),
                ));
                continue;
            }
            project.nodes.insert(uid, Box::new(node));
            let target = TestTarget::Source {
                source: source_name.clone(),
                table: table.clone(),
            };
            let key_name = format!("sources.{source_name}");
            let quote_columns = bool_of(t.get("quoting").and_then(|q| q.get("column")))
                .or_else(|| bool_of(src.get("quoting").and_then(|q| q.get("column"))));
            let tests = collect_tests(t, &|c| test_column_name(project, c, quote_columns));
            add_tests(pending, &target, &key_name, tests);
        }
    }
}

fn patch_macros(project: &mut Project, file: &YamlFile, value: &Yaml, diags: &mut Diags) {
    for m in entries(file, value, "macros", diags) {
        let name = str_of(m.get("name"));
        let uid = format!("macro.{}.{name}", file.package);
        match project.macros.get_mut(&uid) {
            Some(def) => {
                def.description = str_of(m.get("description"));
                def.meta = map_of(m.get("meta"));
                def.arguments = m.get("arguments").map_or(json!([]), Yaml::to_json);
                def.patch_path = Some(format!("{}://{}", file.package, file.rel));
            }
            None => diags.push(file.warn(
                "XF0144",
                m.get("name").unwrap_or(m),
                format!(
                    "macro `{name}` is described in `{}` but not defined",
                    file.source.name
                ),
            )),
        }
    }
}

fn add_exposures(project: &mut Project, file: &YamlFile, value: &Yaml, diags: &mut Diags) {
    for e in entries(file, value, "exposures", diags) {
        let name = str_of(e.get("name"));
        if name.is_empty() {
            diags.push(file.diag("XF0143", e, "an entry of `exposures:` has no `name`"));
            continue;
        }
        let mut node = Node::new(ResourceType::Exposure, &file.package, &name);
        node.path.clone_from(&file.rel);
        node.original_file_path.clone_from(&file.rel);
        node.abs_path.clone_from(&file.abs);
        node.span = Some(file.span(e));
        node.fqn = file.fqn(&[&name]);
        node.description = str_of(e.get("description"));
        node.meta = map_of(e.get("meta"));
        let cfg = entry_config(e);
        node.tags = cfg
            .get("tags")
            .map(crate::value::string_list)
            .unwrap_or_default();
        node.config = crate::node::NodeConfig::new(ResourceType::Exposure, cfg.clone());
        node.unrendered_config = cfg;
        // `depends_on:` entries are Jinja (`ref('x')`), rendered in the
        // parse phase like a model body.
        let deps: Vec<String> = e
            .get("depends_on")
            .and_then(Yaml::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|d| d.as_str().map(|s| format!("{{{{ {s} }}}}")))
            .collect();
        node.raw_code = deps.join("\n");
        node.exposure = Some(Box::new(ExposureInfo {
            kind: str_of(e.get("type")),
            owner: e.get("owner").map_or(Value::Null, Yaml::to_json),
            label: e.get("label").and_then(Yaml::as_str).map(str::to_owned),
            maturity: e.get("maturity").and_then(Yaml::as_str).map(str::to_owned),
            url: e.get("url").and_then(Yaml::as_str).map(str::to_owned),
        }));
        if project.nodes.contains_key(&node.unique_id) {
            diags.push(file.diag("XF0149", e, format!("exposure `{name}` is declared twice")));
            continue;
        }
        project.nodes.insert(node.unique_id.clone(), Box::new(node));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash input as dbt builds it: a sorted, stringified copy of the
    /// metadata, then its repr.
    fn reference_hash_input(name: &str, meta: &TestMetadata) -> String {
        fn sorted(v: &Value) -> Value {
            match v {
                Value::Object(m) => {
                    let mut keys: Vec<&String> = m.keys().collect();
                    keys.sort();
                    Value::Object(
                        keys.into_iter()
                            .map(|k| (k.clone(), sorted(&m[k])))
                            .collect(),
                    )
                }
                Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
                Value::String(s) => Value::String(s.clone()),
                other => Value::String(py_str(other)),
            }
        }
        let hashable = json!({
            "name": meta.name,
            "kwargs": Value::Object(meta.kwargs.clone()),
            "namespace": meta.namespace.clone().unwrap_or_else(|| "None".into()),
        });
        format!("{name}{}", crate::value::py_repr(&sorted(&hashable)))
    }

    #[test]
    fn test_hash_input_is_the_repr_dbt_hashes() {
        let kwargs = json!({
            "model": "{{ get_where_subquery(ref('orders')) }}",
            "column_name": "it's \"quoted\"",
            "values": ["b", 1, 2.5, true, null, {"z": 1, "a": [false]}],
            "quote": false,
            "zeta": {"b": "x\ny", "a": "tab\there"},
            "empty": {},
            "none": [],
        });
        for ns in [None, Some("dbt_utils".to_owned())] {
            let meta = TestMetadata {
                name: "accepted_values".into(),
                kwargs: kwargs.as_object().unwrap().clone(),
                namespace: ns,
            };
            assert_eq!(
                test_hash_input("t_name", &meta),
                reference_hash_input("t_name", &meta)
            );
        }
    }

    #[test]
    fn test_names_match_dbt() {
        let args = json!({"column_name": "status", "values": ["placed", "shipped"]});
        let (full, short) = test_names("accepted_values", "orders", args.as_object().unwrap());
        assert_eq!(full, "accepted_values_orders_status__placed__shipped");
        assert_eq!(short, None);
        let args = json!({"column_name": "customer_id", "to": "ref('silver_customers')", "field": "customer_id"});
        let (full, short) = test_names("relationships", "silver_sales", args.as_object().unwrap());
        assert_eq!(
            full,
            "relationships_silver_sales_customer_id__customer_id__ref_silver_customers_"
        );
        assert_eq!(
            short.as_deref(),
            Some("relationships_silver_sales_ea5f805838abfaf392b542b4dea4cd03")
        );
    }
}
