//! Jinja: the minijinja environment with dbt's context.
//!
//! Every macro (project, package and built-in) is its own template named
//! `macro:<unique_id>`, so that a macro resolves names the way dbt does:
//! through the calling node's context and dbt's macro search order, not
//! through the file it happens to sit in. Names that are not Jinja locals are
//! looked up in [`context::NodeCtx`], one per rendered node.
//!
//! Invariant: rendering touches the warehouse only through [`live::Live`]:
//! never while parsing (`execute` is false, exactly as in dbt), lazily in
//! `xform compile`, and in the run phase.

pub mod arith;
pub mod builtins;
pub mod context;
pub mod errors;
pub mod live;
pub mod mutable;
pub mod pydatetime;
pub mod pyre;
pub mod python;
pub mod relation;
pub mod signature;
pub mod static_template;
pub mod yaml_render;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use minijinja::{Environment, UndefinedBehavior, Value};
use serde_json::Map;

use crate::adapter::Adapter;
use crate::project::Project;

pub use context::{NodeCtx, Phase, Recorded};

/// The keyword arguments of a call, when its last argument holds them.
pub fn kwargs_of(v: &Value) -> Option<minijinja::value::Kwargs> {
    use minijinja::value::ArgType;
    minijinja::value::Kwargs::from_value(Some(v)).ok()
}

/// Project-wide facts every render reads.
pub struct Shared {
    pub root: String,
    pub adapter: Box<dyn Adapter>,
    pub target: Value,
    /// `var()` values by package: project vars merged with `--vars`.
    pub vars: HashMap<String, Map<String, serde_json::Value>>,
    /// Macro template names by package and macro name. Built-in macros of
    /// the adapter are filed under `dbt`.
    pub macros: HashMap<String, HashMap<String, MacroEntry>>,
    pub packages: HashSet<String>,
    /// `dispatch:` search orders by macro namespace.
    pub dispatch: HashMap<String, Vec<String>>,
    pub invocation_id: String,
    pub run_started_at: chrono::DateTime<chrono::Utc>,
    pub flags: Value,
    pub docs: HashMap<(String, String), String>,
    /// Whether database, schema and identifier names are quoted: the
    /// adapter's default under the project's `quoting:`.
    pub quoting: (bool, bool, bool),
    /// `selected_resources`: the unique ids the command selected.
    pub selected: Value,
    /// The root project's `flags:`, read by `adapter.behavior`.
    pub project_flags: Map<String, serde_json::Value>,
}

#[derive(Clone, Debug)]
pub struct MacroEntry {
    pub unique_id: String,
    pub template: String,
}

impl Shared {
    /// `flags.STORE_FAILURES`, as Jinja reads it (truthy).
    pub fn store_failures_flag(&self) -> bool {
        self.flags
            .get_attr("STORE_FAILURES")
            .is_ok_and(|v| v.is_true())
    }

    /// Finds a macro by dbt's search order for a node in `node_package`:
    /// the node's package, the root project, then the `dbt` namespace.
    pub fn find_macro(&self, node_package: &str, name: &str) -> Option<&MacroEntry> {
        self.macros
            .get(node_package)
            .and_then(|m| m.get(name))
            .or_else(|| self.macros.get(&self.root).and_then(|m| m.get(name)))
            .or_else(|| self.macros.get("dbt").and_then(|m| m.get(name)))
    }

    /// The macro `run-operation NAME` calls, as dbt's `find_macro_by_name`
    /// finds it without a package: the root project's, else an installed
    /// package's (the first by name when several have one), else dbt's.
    pub fn find_operation(&self, name: &str) -> Option<(&str, &MacroEntry)> {
        let mut packages: Vec<&String> = self
            .macros
            .keys()
            .filter(|p| **p != self.root && *p != "dbt")
            .collect();
        packages.sort();
        std::iter::once(&self.root)
            .chain(packages)
            .chain(self.macros.get_key_value("dbt").map(|(k, _)| k))
            .find_map(|p| self.macro_in(p, name).map(|e| (p.as_str(), e)))
    }

    pub fn macro_in(&self, package: &str, name: &str) -> Option<&MacroEntry> {
        self.macros.get(package).and_then(|m| m.get(name))
    }

    /// Every macro name a node could call unqualified, for suggestions.
    pub fn visible_macro_names(&self, node_package: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for pkg in [node_package, self.root.as_str(), "dbt"] {
            if let Some(m) = self.macros.get(pkg) {
                out.extend(m.keys().map(String::as_str));
            }
        }
        out
    }
}

/// The environment and shared facts for one invocation.
pub struct Renderer {
    pub env: Environment<'static>,
    pub shared: Arc<Shared>,
    /// Whether models of text and literal `ref`/`source`/`config`/`var` calls are
    /// evaluated without a render (`static_template`): not when the root
    /// project replaces `ref` or `source` (their calls then run its macros),
    /// and not with `--no-static-parser` (the CLI narrows it).
    pub static_templates: bool,
}

fn new_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_keep_trailing_newline(false);
    env.set_recursion_limit(1000);
    env.set_debug(true);
    env.set_unknown_method_callback(python::unknown_method);
    env.set_formatter(python::format_value);
    builtins::register_globals(&mut env);
    env
}

impl Renderer {
    pub fn new(project: &Project) -> Result<Self, Vec<crate::diagnostics::Diag>> {
        let mut env = new_env();
        let adapter = crate::adapter::for_kind(&project.target.kind)
            .unwrap_or_else(|| Box::new(crate::adapter::duckdb::DuckDb));
        let internal = adapter.internal_package();
        let mut macros: HashMap<String, HashMap<String, MacroEntry>> = HashMap::new();
        let mut errors = Vec::new();
        for m in project.macros.values() {
            // Adapter macros of other warehouses are not loaded at all.
            if m.builtin && m.package_name != "dbt" && m.package_name != internal {
                continue;
            }
            let tname = format!("macro:{}", m.unique_id);
            let with_catch_alls = signature::add_catch_alls(&m.template);
            let with_defaults = signature::late_defaults(&with_catch_alls);
            let source = mutable::rewrite(&with_defaults).into_owned();
            if let Err(e) = env.add_template_owned(tname.clone(), source) {
                errors.push(errors::to_diag(&e, project, None));
                continue;
            }
            let pkg = if m.builtin {
                "dbt"
            } else {
                m.package_name.as_str()
            };
            let entry = MacroEntry {
                unique_id: m.unique_id.clone(),
                template: tname,
            };
            let slot = macros.entry(pkg.to_owned()).or_default();
            // Adapter-specific built-ins win over the defaults of the same name.
            if m.builtin && m.package_name == "dbt" && slot.contains_key(&m.name) {
                continue;
            }
            slot.insert(m.name.clone(), entry);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let vars = package_vars(&project.packages, &project.cli_vars);
        let dispatch = project
            .root_package()
            .map(|p| {
                p.file
                    .dispatch
                    .iter()
                    .map(|d| (d.macro_namespace.clone(), d.search_order.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let docs = project
            .docs
            .values()
            .map(|d| {
                (
                    (d.package_name.clone(), d.name.clone()),
                    d.block_contents.clone(),
                )
            })
            .collect();
        let mut packages: HashSet<String> = project.packages.keys().cloned().collect();
        packages.insert("dbt".to_owned());
        let mut quoting = adapter.default_quote_policy();
        if let Some(root) = project.root_package() {
            let q = &root.file.quoting;
            let get = |k: &str, d: bool| q.get(k).and_then(serde_json::Value::as_bool).unwrap_or(d);
            quoting = (
                get("database", quoting.0),
                get("schema", quoting.1),
                get("identifier", quoting.2),
            );
        }
        let shared = Shared {
            root: project.root.clone(),
            target: Value::from_serialize(project.target.context_value()),
            adapter,
            vars,
            macros,
            packages,
            dispatch,
            invocation_id: uuid::Uuid::new_v4().to_string(),
            run_started_at: chrono::Utc::now(),
            flags: Value::from_serialize(serde_json::json!({
                "FULL_REFRESH": false, "STORE_FAILURES": false, "WHICH": "compile",
                "FAIL_FAST": false, "DEBUG": false, "WARN_ERROR": false, "USE_COLORS": false,
                "EMPTY": false, "INTROSPECT": true, "PARTIAL_PARSE": false,
            })),
            docs,
            quoting,
            selected: Value::from(Vec::<Value>::new()),
            project_flags: project
                .root_package()
                .map(|p| p.file.flags.clone())
                .unwrap_or_default(),
        };
        let static_templates = shared.macro_in(&shared.root, "ref").is_none()
            && shared.macro_in(&shared.root, "source").is_none();
        Ok(Self {
            env,
            shared: Arc::new(shared),
            static_templates,
        })
    }
}

impl Renderer {
    /// Sets run-time `flags` (`FULL_REFRESH`, `WHICH`, ...) before any node
    /// renders in the run phase.
    pub fn set_flags(&mut self, flags: &serde_json::Value) {
        let Some(shared) = Arc::get_mut(&mut self.shared) else {
            tracing::debug!("flags not updated: the shared context is in use");
            return;
        };
        let mut current: serde_json::Map<String, serde_json::Value> =
            serde_json::to_value(&shared.flags)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default();
        if let Some(f) = flags.as_object() {
            for (k, v) in f {
                current.insert(k.clone(), v.clone());
            }
        }
        shared.flags = Value::from_serialize(current);
    }
}

impl Renderer {
    /// Sets `selected_resources` once the command has selected its nodes.
    pub fn set_selected(&mut self, ids: &[String]) {
        let Some(shared) = Arc::get_mut(&mut self.shared) else {
            tracing::debug!("selected_resources not set: the shared context is in use");
            return;
        };
        shared.selected = Value::from(
            ids.iter()
                .map(|i| Value::from(i.as_str()))
                .collect::<Vec<_>>(),
        );
    }
}

/// The vars `var()` sees in each package: the package's own global vars,
/// then the root's global vars, then the root's vars scoped to the package,
/// then `--vars`.
pub fn package_vars(
    packages: &indexmap::IndexMap<String, crate::project::Package>,
    cli_vars: &Map<String, serde_json::Value>,
) -> HashMap<String, Map<String, serde_json::Value>> {
    let mut vars = HashMap::new();
    let root_vars = packages
        .values()
        .find(|p| p.is_root)
        .map(|p| p.file.vars.clone())
        .unwrap_or_default();
    for (name, pkg) in packages {
        let mut merged = Map::new();
        for (k, v) in &pkg.file.vars {
            if !(packages.contains_key(k) && v.is_object()) {
                merged.insert(k.clone(), v.clone());
            }
        }
        if !pkg.is_root {
            for (k, v) in &root_vars {
                if !(packages.contains_key(k) && v.is_object()) {
                    merged.insert(k.clone(), v.clone());
                }
            }
        }
        if let Some(serde_json::Value::Object(scoped)) = root_vars.get(name) {
            for (k, v) in scoped {
                merged.insert(k.clone(), v.clone());
            }
        }
        if let Some(serde_json::Value::Object(scoped)) = pkg.file.vars.get(name) {
            for (k, v) in scoped {
                merged.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        for (k, v) in cli_vars {
            merged.insert(k.clone(), v.clone());
        }
        vars.insert(name.clone(), merged);
    }
    vars
}

/// Renders a string from `dbt_project.yml` or `profiles.yml`, where only
/// `env_var()` and `var()` (from `--vars`) are available.
pub fn render_config_string(
    text: &str,
    cli_vars: &Map<String, serde_json::Value>,
) -> Result<String, String> {
    if !text.contains("{{") && !text.contains("{%") {
        return Ok(text.to_owned());
    }
    let mut env = new_env();
    let vars = cli_vars.clone();
    env.add_function(
        "var",
        move |name: String, default: Option<Value>| -> Result<Value, minijinja::Error> {
            match vars.get(&name) {
                Some(v) => Ok(Value::from_serialize(v)),
                None => default.ok_or_else(|| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("required var `{name}` is not set (pass it with --vars)"),
                    )
                }),
            }
        },
    );
    env.render_str(text, ())
        .map_err(|e| errors::plain_message(&e))
}
