//! `state:` selection: each node of the project against its counterpart in
//! the state manifest, aspect by aspect, as dbt-core 1.11 compares them
//! (`StateSelectorMethod` and the nodes' `same_*` methods), with these
//! corrections:
//!
//! - A config set by the node's own `config()` call whose file is unchanged
//!   is not a change: the call is the same text, so a different value can
//!   only come from the environment (`target`, env vars). dbt compares the
//!   rendered value and reports every such model when dev is compared with
//!   prod. (A changed `var` or macro behind the call is reported through
//!   the `vars` and `macros` aspects.)
//! - `modified.vars`: a `var()` the node read while parsed has another value
//!   (needs a state written by xform, which records the values).
//! - `modified.sources`: a source's YAML columns changed (renamed, added,
//!   removed, retyped): the source and the nodes that read it directly.
//! - Macros are compared through calls found in each macro's text, so a
//!   changed macro reached from a model through other macros (or through
//!   `adapter.dispatch`) marks the model.
//! - Seeds are compared by a hash of the whole file whatever their size
//!   (dbt keeps only the path of seeds over 1 MiB).
//!
//! New nodes belong to `modified` and to each aspect their type has, except
//! `macros`, `vars` and `sources`; new sources and exposures are not
//! `modified` (as in dbt).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use regex::Regex;
use serde_json::{Map, Value};

use super::{OldNode, State, StateManifest, as_text};
use crate::diagnostics::Diag;
use crate::graph::Dag;
use crate::graph::select::{Aspect, StateLookup, StateSelector};
use crate::jinja::Renderer;
use crate::node::{Node, ResourceType};
use crate::project::Project;

/// Test configs dbt compares (`TestConfig.same_contents`).
const TEST_MODIFIERS: &[&str] = &[
    "severity",
    "where",
    "limit",
    "fail_calc",
    "warn_if",
    "error_if",
    "store_failures",
    "store_failures_as",
];

/// Configs dbt leaves out of `same_config`: they are part of the relation,
/// or metadata.
const NOT_CONFIGS: &[&str] = &["alias", "schema", "database", "tags", "group"];

const ASPECTS: &[Aspect] = &[
    Aspect::Body,
    Aspect::Configs,
    Aspect::Relation,
    Aspect::PersistedDescriptions,
    Aspect::Contract,
    Aspect::Macros,
    Aspect::Vars,
    Aspect::Sources,
];

/// The outcome for every node, computed once.
#[derive(Debug, Default)]
struct Analysis {
    /// Every selectable node of the project.
    all: HashSet<String>,
    new: HashSet<String>,
    modified: HashSet<String>,
    aspects: HashMap<Aspect, HashSet<String>>,
    /// Said once, when a selector that depends on var values is used
    /// with a state that cannot tell them.
    vars_unknown: Option<Diag>,
}

/// Compares the project with a state; answers `state:` and `result:`.
pub struct Comparison<'a> {
    project: &'a Project,
    renderer: &'a Renderer,
    dag: &'a Dag,
    state: &'a State,
    analysis: OnceLock<Result<Analysis, Diag>>,
    vars_warned: std::sync::atomic::AtomicBool,
    /// Warnings found while comparing (breaking contract changes, what a
    /// dbt state cannot tell), for the command to print.
    warnings: Mutex<Vec<Diag>>,
}

impl StateLookup for Comparison<'_> {
    fn state(&self, selector: StateSelector) -> Result<HashSet<String>, Diag> {
        let a = self
            .analysis
            .get_or_init(|| self.analyse())
            .as_ref()
            .map_err(Clone::clone)?;
        let about_vars = matches!(
            selector,
            StateSelector::Modified(None | Some(Aspect::Vars)) | StateSelector::Unmodified
        );
        if about_vars
            && let Some(d) = &a.vars_unknown
            && !self
                .vars_warned
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            self.warn(d.clone());
        }
        Ok(match selector {
            StateSelector::New => a.new.clone(),
            StateSelector::Old => a.all.difference(&a.new).cloned().collect(),
            StateSelector::Modified(None) => a.modified.clone(),
            StateSelector::Modified(Some(aspect)) => {
                a.aspects.get(&aspect).cloned().unwrap_or_default()
            }
            StateSelector::Unmodified => a.all.difference(&a.modified).cloned().collect(),
        })
    }

    fn result(&self, status: &str) -> Result<HashSet<String>, Diag> {
        Ok(self
            .state
            .results()?
            .iter()
            .filter(|(_, s)| s.as_str() == status)
            .map(|(id, _)| id.clone())
            .collect())
    }
}

fn is_parsed(rt: ResourceType) -> bool {
    matches!(
        rt,
        ResourceType::Model
            | ResourceType::Seed
            | ResourceType::Snapshot
            | ResourceType::Test
            | ResourceType::Analysis
    )
}

fn is_generic_test(n: &Node) -> bool {
    n.test.as_ref().is_some_and(|t| t.metadata.is_some())
}

fn truthy_at(v: Option<&Value>, key: &str) -> bool {
    v.and_then(|v| v.get(key)).is_some_and(crate::value::truthy)
}

fn has_jinja(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.contains("{{") || s.contains("{%"))
}

/// Config values of one node on both sides, compared key by key.
struct Configs<'n> {
    old: &'n Map<String, Value>,
    new: std::borrow::Cow<'n, Map<String, Value>>,
    node: &'n Node,
    /// Keys set by the node's own `config()` call, when its file is
    /// unchanged: their values can only differ by environment.
    env_only: &'n [String],
}

impl Configs<'_> {
    fn differs(&self, key: &str) -> bool {
        let (a, b) = (self.old.get(key), self.new.get(key));
        if a == b || self.env_only.iter().any(|k| k == key) {
            return false;
        }
        // xform keeps Jinja in YAML and project configs as written; a state
        // written by dbt may hold the rendered value.
        if let (Some(old), Some(new)) = (a, b)
            && has_jinja(new)
            && self.node.config.get(key) == Some(old)
        {
            return false;
        }
        true
    }

    fn any_differs(&self, skip: &[&str]) -> bool {
        let keys: HashSet<&String> = self.old.keys().chain(self.new.keys()).collect();
        keys.into_iter()
            .filter(|k| !skip.contains(&k.as_str()))
            .any(|k| self.differs(k))
    }
}

/// A contract's shape on one side: its columns (name, type, constraints)
/// and, where the materialization enforces constraints, the materialization.
#[derive(Debug, PartialEq)]
struct ContractShape {
    columns: BTreeMap<String, (Option<String>, Vec<Value>)>,
    enforcing_materialization: Option<String>,
}

/// A constraint without the defaults dbt fills in (`name: null`,
/// `warn_unenforced: true`, ...), so that both writers' forms compare.
fn constraint_key(c: &Value) -> Value {
    let Some(m) = c.as_object() else {
        return c.clone();
    };
    let kept: Map<String, Value> = m
        .iter()
        .filter(|(k, v)| {
            !matches!(k.as_str(), "warn_unenforced" | "warn_unsupported")
                && !v.is_null()
                && v.as_array().is_none_or(|a| !a.is_empty())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

fn enforces_constraints(materialized: &str) -> Option<String> {
    matches!(materialized, "table" | "incremental").then(|| materialized.to_owned())
}

fn old_contract(o: &OldNode) -> ContractShape {
    let columns = o
        .columns
        .values()
        .map(|c| {
            (
                c.name.clone(),
                (
                    c.data_type.clone(),
                    c.constraints.iter().map(constraint_key).collect(),
                ),
            )
        })
        .collect();
    ContractShape {
        columns,
        enforcing_materialization: enforces_constraints(o.materialized()),
    }
}

fn new_contract(n: &Node) -> ContractShape {
    ContractShape {
        columns: n
            .columns
            .values()
            .map(|c| {
                (
                    c.name.clone(),
                    (
                        c.data_type.clone(),
                        c.constraints
                            .iter()
                            .map(|k| constraint_key(&serde_json::to_value(k).unwrap_or_default()))
                            .collect(),
                    ),
                )
            })
            .collect(),
        enforcing_materialization: enforces_constraints(n.materialized()),
    }
}

/// dbt's comparison of data types for breaking changes: the base type,
/// without size or precision, case-insensitive.
fn base_type(t: Option<&String>) -> Option<String> {
    t.map(|t| {
        t.split('(')
            .next()
            .unwrap_or_default()
            .trim()
            .to_lowercase()
    })
}

/// The columns of a source as declared: (lower-case name, type).
fn declared_columns(cols: impl Iterator<Item = (String, Option<String>)>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = cols
        .map(|(n, t)| (n.to_lowercase(), t.unwrap_or_default().to_lowercase()))
        .collect();
    v.sort();
    v
}

/// Changed macros, and every macro from which one of them can be reached
/// by calls.
struct MacroChanges {
    /// Macros that are, or call (transitively), a changed macro.
    reaching: HashSet<String>,
    call: Regex,
    dispatch: Regex,
}

impl MacroChanges {
    fn new(project: &Project, renderer: &Renderer, m: &StateManifest) -> Self {
        let call =
            Regex::new(r"([A-Za-z_][A-Za-z0-9_]*)(?:\s*\.\s*([A-Za-z_][A-Za-z0-9_]*))?\s*\(")
                .expect("static regex");
        let dispatch =
            Regex::new(r#"dispatch\s*\(\s*(?:macro_name\s*=\s*)?['"]([A-Za-z_][A-Za-z0-9_]*)['"]"#)
                .expect("static regex");
        let mut this = Self {
            reaching: HashSet::new(),
            call,
            dispatch,
        };
        let packages: HashSet<&str> = project.packages.keys().map(String::as_str).collect();
        let mut changed: HashSet<String> = project
            .macros
            .values()
            .filter(|mac| !mac.builtin)
            .filter(|mac| {
                m.macros
                    .get(&mac.unique_id)
                    .is_none_or(|old| old.macro_sql != mac.macro_sql)
            })
            .map(|mac| mac.unique_id.clone())
            .collect();
        // A macro removed from one of the project's packages; those of
        // dbt's and the adapter's own packages are not the project's.
        for (uid, old) in &m.macros {
            let pkg = if old.package_name.is_empty() {
                uid.split('.').nth(1).unwrap_or_default()
            } else {
                old.package_name.as_str()
            };
            if packages.contains(pkg) && !project.macros.contains_key(uid) {
                changed.insert(uid.clone());
            }
        }
        if changed.is_empty() {
            return this;
        }
        // Callers of each macro, then everything that reaches a change.
        let mut callers: HashMap<String, Vec<String>> = HashMap::new();
        for mac in project.macros.values() {
            for callee in this.calls(renderer, &mac.macro_sql, &mac.package_name) {
                callers
                    .entry(callee)
                    .or_default()
                    .push(mac.unique_id.clone());
            }
        }
        let mut stack: Vec<String> = changed.into_iter().collect();
        while let Some(uid) = stack.pop() {
            if !this.reaching.insert(uid.clone()) {
                continue;
            }
            if let Some(cs) = callers.get(&uid) {
                stack.extend(cs.iter().cloned());
            }
        }
        this
    }

    /// Macros a template calls, by dbt's search order from `package`; an
    /// `adapter.dispatch('name')` reaches every `<prefix>__name`.
    fn calls(&self, renderer: &Renderer, text: &str, package: &str) -> Vec<String> {
        let shared = &renderer.shared;
        let mut out = Vec::new();
        for c in self.call.captures_iter(text) {
            let (first, second) = (&c[1], c.get(2).map(|m| m.as_str()));
            let found = match second {
                Some(name) => shared.macro_in(first, name),
                None => shared.find_macro(package, first),
            };
            if let Some(e) = found {
                out.push(e.unique_id.clone());
            }
        }
        for c in self.dispatch.captures_iter(text) {
            let name = &c[1];
            let suffix = format!("__{name}");
            for macros in shared.macros.values() {
                for (n, e) in macros {
                    if n == name || n.ends_with(&suffix) {
                        out.push(e.unique_id.clone());
                    }
                }
            }
        }
        out
    }

    fn touches(&self, renderer: &Renderer, n: &Node) -> bool {
        if self.reaching.is_empty() {
            return false;
        }
        n.depends_on_macros
            .iter()
            .any(|m| self.reaching.contains(m))
            || self
                .calls(renderer, &n.raw_code, &n.package_name)
                .iter()
                .any(|m| self.reaching.contains(m))
    }
}

impl<'a> Comparison<'a> {
    pub fn new(
        project: &'a Project,
        renderer: &'a Renderer,
        dag: &'a Dag,
        state: &'a State,
    ) -> Self {
        Self {
            project,
            renderer,
            dag,
            state,
            analysis: OnceLock::new(),
            vars_warned: std::sync::atomic::AtomicBool::new(false),
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// The warnings found so far.
    pub fn take_warnings(&self) -> Vec<Diag> {
        self.warnings
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }

    fn warn(&self, d: Diag) {
        if let Ok(mut w) = self.warnings.lock() {
            w.push(d);
        }
    }

    fn analyse(&self) -> Result<Analysis, Diag> {
        let m = self.state.manifest()?;
        let macros = MacroChanges::new(self.project, self.renderer, m);
        let mut a = Analysis::default();
        let mark = |a: &mut Analysis, aspect: Aspect, id: &str| {
            a.aspects.entry(aspect).or_default().insert(id.to_owned());
        };
        let mut vars_unknown = false;
        let mut changed_sources: Vec<&str> = Vec::new();
        for n in self.project.nodes.values() {
            let rt = n.resource_type;
            if matches!(rt, ResourceType::Macro | ResourceType::Group) || !n.enabled() {
                continue;
            }
            let id = n.unique_id.as_str();
            a.all.insert(id.to_owned());
            let Some(o) = m.nodes.get(id) else {
                a.new.insert(id.to_owned());
                let (modified, aspects): (bool, &[Aspect]) = match rt {
                    ResourceType::Source => (false, &[Aspect::Configs, Aspect::Relation]),
                    ResourceType::Exposure => (false, &[Aspect::Configs]),
                    ResourceType::UnitTest => (true, &[]),
                    _ => (
                        true,
                        &[
                            Aspect::Body,
                            Aspect::Configs,
                            Aspect::Relation,
                            Aspect::PersistedDescriptions,
                            Aspect::Contract,
                        ],
                    ),
                };
                if modified {
                    a.modified.insert(id.to_owned());
                }
                for asp in aspects {
                    mark(&mut a, *asp, id);
                }
                continue;
            };
            let mut found: Vec<Aspect> = Vec::new();
            let same_contents = match rt {
                ResourceType::Source => {
                    let (same, columns_changed) = Self::same_source(n, o, &mut found);
                    if columns_changed {
                        changed_sources.push(id);
                    }
                    same
                }
                ResourceType::Exposure => Self::same_exposure(n, o, &mut found),
                ResourceType::UnitTest => same_unit_test(n, o),
                _ => self.same_parsed(n, o, &mut found),
            };
            if rt != ResourceType::Source && macros.touches(self.renderer, n) {
                found.push(Aspect::Macros);
            }
            match &m.sidecar {
                Some(sc) => {
                    let old_vars = sc.nodes.get(id).map(|f| &f.vars);
                    let changed = n.facts.as_ref().is_some_and(|f| {
                        f.vars
                            .iter()
                            .any(|(k, v)| old_vars.and_then(|o| o.get(k)) != Some(v))
                    });
                    if changed {
                        found.push(Aspect::Vars);
                    }
                }
                None => vars_unknown |= n.facts.as_ref().is_some_and(|f| !f.vars.is_empty()),
            }
            let counts = |asp: &Aspect| {
                matches!(
                    asp,
                    Aspect::Macros | Aspect::Vars | Aspect::Sources | Aspect::Contract
                )
            };
            if !same_contents || found.iter().any(counts) {
                a.modified.insert(id.to_owned());
            }
            for asp in found {
                mark(&mut a, asp, id);
            }
        }
        // A source whose columns changed, and what reads it directly.
        for s in changed_sources {
            let mut ids = vec![s.to_owned()];
            ids.extend(
                self.dag
                    .children(s)
                    .into_iter()
                    .filter(|c| {
                        self.project.nodes.get(*c).is_some_and(|n| {
                            n.enabled()
                                && !matches!(
                                    n.resource_type,
                                    ResourceType::Test | ResourceType::UnitTest
                                )
                        })
                    })
                    .map(str::to_owned),
            );
            for id in ids {
                a.modified.insert(id.clone());
                mark(&mut a, Aspect::Sources, &id);
            }
        }
        if vars_unknown {
            a.vars_unknown = Some(
                Diag::warning(
                    "XF0348",
                    format!(
                        "the state in `{}` was written by {}: changes of `var()` values are not detected",
                        self.state.shown, m.written_by
                    ),
                )
                .with_help(format!(
                    "xform records the values each node reads in {} beside manifest.json; write the state with xform to compare them",
                    super::sidecar::FILE
                )),
            );
        }
        self.removed_contracts(m);
        for asp in ASPECTS {
            a.aspects.entry(*asp).or_default();
        }
        Ok(a)
    }

    /// Models, seeds, snapshots, tests and analyses (dbt's `ParsedNode`).
    fn same_parsed(&self, n: &Node, o: &OldNode, found: &mut Vec<Aspect>) -> bool {
        let rt = n.resource_type;
        if !is_parsed(rt) {
            return true;
        }
        let same_body = match rt {
            ResourceType::Seed => self.same_seed(n, o),
            _ => o.raw_code.as_deref() == Some(n.raw_code.as_str()),
        };
        let no_keys: &[String] = &[];
        let env_only = match &n.facts {
            Some(f) if same_body && !is_generic_test(n) => f.config_call_keys.as_slice(),
            _ => no_keys,
        };
        let cfg = Configs {
            old: &o.unrendered_config,
            new: std::borrow::Cow::Borrowed(&n.unrendered_config),
            node: n,
            env_only,
        };
        let same_config = if rt == ResourceType::Test {
            !TEST_MODIFIERS.iter().any(|k| cfg.differs(k))
        } else {
            !cfg.any_differs(NOT_CONFIGS)
        };
        let same_relation = !["database", "schema", "alias"]
            .iter()
            .any(|k| cfg.differs(k));
        let same_persisted = same_persisted_description(n, o);
        let same_fqn = o.fqn == n.fqn;
        let same_contract = if rt == ResourceType::Model {
            self.same_contract(n, o)
        } else {
            true
        };
        for (same, asp) in [
            (same_body, Aspect::Body),
            (same_config, Aspect::Configs),
            (same_relation, Aspect::Relation),
            (same_persisted, Aspect::PersistedDescriptions),
            (same_contract, Aspect::Contract),
        ] {
            if !same {
                found.push(asp);
            }
        }
        if is_generic_test(n) {
            return same_config && same_fqn;
        }
        // dbt's `same_ref_representation`: what unpinned refs and
        // deprecation warnings downstream depend on.
        let same_ref = rt != ResourceType::Model
            || (as_text(&o.latest_version)
                == n.latest_version.as_ref().map(crate::node::Version::text)
                && as_text(&o.deprecation_date) == n.deprecation_date
                && as_text(&o.access).unwrap_or_else(|| "protected".into())
                    == n.config
                        .get("access")
                        .and_then(Value::as_str)
                        .unwrap_or("protected"));
        same_body
            && same_config
            && same_persisted
            && same_fqn
            && same_relation
            && same_contract
            && same_ref
    }

    /// A seed's file: by its hash, whatever its size.
    fn same_seed(&self, n: &Node, o: &OldNode) -> bool {
        let old_name = o.checksum.get("name").and_then(Value::as_str).unwrap_or("");
        let old_sum = o
            .checksum
            .get("checksum")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !super::sidecar::is_large_seed(n) {
            return old_name == "sha256" && old_sum == n.checksum;
        }
        let sidecar_sum = self
            .state
            .manifest()
            .ok()
            .and_then(|m| m.sidecar.as_ref())
            .and_then(|s| s.nodes.get(&n.unique_id))
            .and_then(|f| f.file_sha256.clone());
        if let Some(old) = sidecar_sum {
            return super::sidecar::file_sha256(&n.abs_path).is_some_and(|new| new == old);
        }
        if old_name == "path" {
            self.warn(
                Diag::warning(
                    "XF0350",
                    format!(
                        "seed `{}` is over 1 MiB and the state has only its path: a change of its contents is not detected",
                        n.name
                    ),
                )
                .with_help("dbt records only the path of large seeds; a state written by xform has their hash"),
            );
            return std::path::Path::new(old_sum).file_name() == n.abs_path.file_name();
        }
        false
    }

    fn same_contract(&self, n: &Node, o: &OldNode) -> bool {
        let old_enforced = truthy_at(Some(&o.contract), "enforced");
        let new_enforced = truthy_at(n.config.get("contract"), "enforced");
        match (old_enforced, new_enforced) {
            (false, false) => return true,
            (false, true) => return false,
            _ => {}
        }
        let (old, new) = (old_contract(o), new_contract(n));
        if new_enforced && old == new {
            return true;
        }
        let mut breaking = Vec::new();
        if !new_enforced {
            breaking.push("the contract is no longer enforced".to_owned());
        }
        for (name, (dt, cs)) in &old.columns {
            match new.columns.get(name) {
                None => breaking.push(format!("column `{name}` was removed")),
                Some((new_dt, new_cs)) => {
                    if base_type(dt.as_ref()) != base_type(new_dt.as_ref()) {
                        breaking.push(format!(
                            "column `{name}` changed type from `{}` to `{}`",
                            dt.as_deref().unwrap_or("none"),
                            new_dt.as_deref().unwrap_or("none")
                        ));
                    }
                    if old.enforcing_materialization.is_some()
                        && cs.iter().any(|c| !new_cs.contains(c))
                    {
                        breaking.push(format!("a constraint on column `{name}` was removed"));
                    }
                }
            }
        }
        if old.enforcing_materialization.is_some() && new.enforcing_materialization.is_none() {
            breaking.push(format!(
                "materialized changed from `{}` to `{}`, which enforces no constraints",
                o.materialized(),
                n.materialized()
            ));
        }
        if !breaking.is_empty() {
            self.warn(breaking_change(n, &breaking));
        }
        false
    }

    /// Contracted models of the state that are gone (deleted, renamed or
    /// disabled): a breaking change for whatever read them.
    fn removed_contracts(&self, m: &StateManifest) {
        for (id, o) in &m.nodes {
            if o.resource_type != "model"
                || !truthy_at(Some(&o.contract), "enforced")
                || self.project.nodes.contains_key(id)
            {
                continue;
            }
            let what = if self.project.disabled.contains_key(id) {
                "was disabled"
            } else {
                "was deleted or renamed"
            };
            self.warn(
                Diag::warning(
                    "XF0349",
                    format!("breaking change: contracted model `{}` {what}", o.name),
                )
                .with_help("models that read it in other projects or environments will break; deprecate a contracted model (deprecation_date, a new version) before removing it"),
            );
        }
    }

    /// dbt's `SourceDefinition.same_contents`, comparing the schema and
    /// database as written (dbt's `state_modified_compare_more_unrendered_values`)
    /// so that a source whose schema follows the target is not a change;
    /// and whether the declared columns changed.
    fn same_source(n: &Node, o: &OldNode, found: &mut Vec<Aspect>) -> (bool, bool) {
        let Some(src) = &n.source else {
            return (true, false);
        };
        let json = crate::artifacts::manifest::source_json(n);
        let same_relation = o.unrendered_schema == src.unrendered_schema
            && (o.unrendered_database.is_none()
                || json.get("unrendered_database").is_none_or(Value::is_null)
                || json.get("unrendered_database").and_then(Value::as_str)
                    == o.unrendered_database.as_deref())
            && o.identifier.as_deref() == Some(src.identifier.as_str());
        let new_cfg = match crate::artifacts::manifest::source_unrendered(n) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let cfg = Configs {
            old: &o.unrendered_config,
            new: std::borrow::Cow::Owned(new_cfg),
            node: n,
            env_only: &[],
        };
        let same_config = !cfg.any_differs(&[]);
        let key = |k: &str| json.get(k).unwrap_or(&Value::Null);
        let same_rest = o.fqn == n.fqn
            && o.quoting == *key("quoting")
            && o.freshness == *key("freshness")
            && o.loaded_at_field == *key("loaded_at_field")
            && o.external == *key("external");
        if !same_relation {
            found.push(Aspect::Relation);
        }
        if !same_config {
            found.push(Aspect::Configs);
        }
        let old_cols = declared_columns(
            o.columns
                .values()
                .map(|c| (c.name.clone(), c.data_type.clone())),
        );
        let new_cols = declared_columns(
            n.columns
                .values()
                .map(|c| (c.name.clone(), c.data_type.clone())),
        );
        (
            same_relation && same_config && same_rest,
            old_cols != new_cols,
        )
    }

    fn same_exposure(n: &Node, o: &OldNode, found: &mut Vec<Aspect>) -> bool {
        let json = crate::artifacts::manifest::exposure_json(n);
        let key = |k: &str| json.get(k).unwrap_or(&Value::Null);
        let cfg = Configs {
            old: &o.unrendered_config,
            new: std::borrow::Cow::Borrowed(&n.unrendered_config),
            node: n,
            env_only: &[],
        };
        let same_config = !cfg.any_differs(&[]);
        if !same_config {
            found.push(Aspect::Configs);
        }
        let new_deps: HashSet<&str> = key("depends_on")
            .get("nodes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let old_deps: HashSet<&str> = o.depends_on.nodes.iter().map(String::as_str).collect();
        o.fqn == n.fqn
            && o.kind == *key("type")
            && o.owner == *key("owner")
            && o.maturity == *key("maturity")
            && o.url == *key("url")
            && o.description.as_deref().unwrap_or_default() == n.description
            && o.label == *key("label")
            && old_deps == new_deps
            && same_config
    }
}

/// dbt compares unit tests by a checksum of their model, versions, inputs,
/// expected rows and overrides; those are compared here as the manifest
/// writes them.
fn same_unit_test(n: &Node, o: &OldNode) -> bool {
    let json = crate::artifacts::manifest::unit_test_json(n);
    let key = |k: &str| json.get(k).unwrap_or(&Value::Null);
    o.model == *key("model")
        && o.given == *key("given")
        && o.expect == *key("expect")
        && o.overrides == *key("overrides")
        && o.versions == *key("versions")
}

/// Descriptions matter only where `persist_docs` writes them to the
/// warehouse.
fn same_persisted_description(n: &Node, o: &OldNode) -> bool {
    let pd = n.config.get("persist_docs");
    if truthy_at(pd, "relation") && o.description.as_deref().unwrap_or_default() != n.description {
        return false;
    }
    if truthy_at(pd, "columns") {
        let old: BTreeMap<&str, &str> = o
            .columns
            .iter()
            .map(|(k, c)| (k.as_str(), c.description.as_deref().unwrap_or("")))
            .collect();
        let new: BTreeMap<&str, &str> = n
            .columns
            .iter()
            .map(|(k, c)| (k.as_str(), c.description.as_str()))
            .collect();
        if old != new {
            return false;
        }
    }
    true
}

fn breaking_change(n: &Node, changes: &[String]) -> Diag {
    let mut d = Diag::warning(
        "XF0349",
        format!(
            "breaking change to the contract of `{}` ({}): {}",
            n.name,
            n.original_file_path,
            changes.join("; ")
        ),
    );
    d = d.with_help(if n.version.is_some() {
        "dbt refuses this for a versioned model: add a new version instead of changing this one"
    } else {
        "models that read it in other projects or environments may break; consider a new model version"
    });
    d
}
