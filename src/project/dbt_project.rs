//! `dbt_project.yml`: a package's name, paths, vars, config trees, dispatch
//! order and hooks.

use std::path::Path;

use serde_json::{Map, Value};

use crate::diagnostics::{Diag, SourceText};
use crate::yaml::{self, Yaml};

/// One `dispatch:` entry: where to look for `adapter.dispatch` implementations
/// of a macro namespace.
#[derive(Clone, Debug)]
pub struct DispatchConfig {
    pub macro_namespace: String,
    pub search_order: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct ProjectFile {
    pub name: String,
    pub version: Option<String>,
    pub profile: Option<String>,
    pub model_paths: Vec<String>,
    pub seed_paths: Vec<String>,
    pub snapshot_paths: Vec<String>,
    pub macro_paths: Vec<String>,
    pub test_paths: Vec<String>,
    pub analysis_paths: Vec<String>,
    pub docs_paths: Option<Vec<String>>,
    pub target_path: String,
    pub packages_install_path: String,
    pub clean_targets: Vec<String>,
    pub vars: Map<String, Value>,
    /// Config trees by resource key (`models`, `seeds`, `snapshots`,
    /// `data_tests`, `sources`, `exposures`, `analyses`, `unit_tests`).
    pub configs: Map<String, Value>,
    /// The config trees as written, when rendering their Jinja changed them
    /// (for `unrendered_config`); `None` when they had no Jinja.
    pub configs_raw: Option<Map<String, Value>>,
    /// Whether a node's config as written can differ from its merged
    /// config: the trees had Jinja, or keys that merge across levels.
    pub written_differs: bool,
    pub dispatch: Vec<DispatchConfig>,
    pub on_run_start: Vec<String>,
    pub on_run_end: Vec<String>,
    pub quoting: Map<String, Value>,
    /// `flags:` (behavior flags and run settings).
    pub flags: Map<String, Value>,
    pub require_dbt_version: Vec<String>,
    /// Where `name:` is written, for duplicate-package errors.
    pub name_offset: usize,
    pub source: SourceText,
}

fn strings(v: Option<&Yaml>, default: &[&str]) -> Vec<String> {
    match v.map(Yaml::to_json) {
        Some(Value::Array(a)) => a
            .into_iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s],
        _ => default.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn hooks(v: Option<&Yaml>) -> Vec<String> {
    v.map(|y| crate::value::string_list(&y.to_json()))
        .unwrap_or_default()
}

/// Keys dbt accepts in `dbt_project.yml`; anything else is reported as a
/// warning with the closest known key.
const KNOWN_KEYS: &[&str] = &[
    "name",
    "version",
    "config-version",
    "profile",
    "model-paths",
    "source-paths",
    "seed-paths",
    "data-paths",
    "snapshot-paths",
    "macro-paths",
    "test-paths",
    "analysis-paths",
    "docs-paths",
    "asset-paths",
    "function-paths",
    "target-path",
    "log-path",
    "packages-install-path",
    "clean-targets",
    "vars",
    "models",
    "seeds",
    "snapshots",
    "tests",
    "data_tests",
    "sources",
    "exposures",
    "metrics",
    "semantic-models",
    "saved-queries",
    "analyses",
    "unit_tests",
    "functions",
    "dispatch",
    "on-run-start",
    "on-run-end",
    "quoting",
    "require-dbt-version",
    "query-comment",
    "restrict-access",
    "flags",
    "dbt-cloud",
];

/// Reads `dbt_project.yml` in `dir`. `render` renders `{{ env_var(...) }}` and
/// `{{ var(...) }}` in scalar settings. Config trees need `target`, so they
/// are rendered once the profile is known (`ProjectFile::render_configs`);
/// hooks stay unrendered until run time, as in dbt.
pub fn read(
    dir: &Path,
    display_dir: &str,
    render: &dyn Fn(&str) -> Result<String, String>,
) -> Result<(ProjectFile, Vec<Diag>), Diag> {
    let path = dir.join("dbt_project.yml");
    let shown = if display_dir.is_empty() {
        "dbt_project.yml".to_owned()
    } else {
        format!("{display_dir}/dbt_project.yml")
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Diag::error("XF0101", format!("cannot read `{shown}`: {e}"))
            .with_help("run xform in a dbt project folder, or point at one with `--project-dir`")
    })?;
    let source = SourceText::new(shown.clone(), text.as_str());
    let doc = yaml::parse(&text).map_err(|e| {
        Diag::error(
            "XF0102",
            format!("invalid YAML in `{shown}`: {}", e.message),
        )
        .with_source(source.clone())
        .with_label(e.offset, 1, "here")
    })?;
    let mut warnings = Vec::new();
    if doc.as_map().is_none() {
        return Err(Diag::error(
            "XF0103",
            format!(
                "`{shown}` must be a mapping of settings, found {}",
                doc.type_name()
            ),
        )
        .with_source(source));
    }
    for (k, _) in doc.as_map().unwrap_or_default() {
        let Some(key) = k.key_str() else { continue };
        if !KNOWN_KEYS.contains(&key.as_str()) {
            let mut d = Diag::warning("XF0104", format!("unknown key `{key}` in `{shown}`"))
                .with_source(source.clone())
                .with_label(k.offset, key.len(), "not a dbt_project.yml setting");
            if let Some(c) = crate::diagnostics::closest(&key, KNOWN_KEYS.iter().copied()) {
                d = d.with_help(format!("did you mean `{c}`?"));
            }
            warnings.push(d);
        }
    }

    let scalar = |key: &str| -> Result<Option<String>, Diag> {
        let Some(v) = doc.get(key) else {
            return Ok(None);
        };
        let raw = match &v.to_json() {
            Value::Null => return Ok(None),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        render(&raw).map(Some).map_err(|msg| {
            Diag::error(
                "XF0105",
                format!("cannot render `{key}` in `{shown}`: {msg}"),
            )
            .with_source(source.clone())
            .with_label(v.offset, v.len.max(1), "")
        })
    };

    let name_node = doc.get("name");
    let name = match scalar("name")? {
        Some(n) if !n.is_empty() => n,
        _ => {
            return Err(Diag::error("XF0106", format!("`{shown}` has no `name`"))
                .with_source(source)
                .with_help("add `name: my_project` at the top of dbt_project.yml"));
        }
    };
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        let off = name_node.map_or(0, |n| n.offset);
        return Err(Diag::error(
            "XF0107",
            format!("project name `{name}` is not a valid identifier"),
        )
        .with_source(source)
        .with_label(off, name.len(), "letters, digits and underscores only")
        .with_help("dbt package names must be valid Python identifiers"));
    }

    let mut configs = Map::new();
    for key in [
        "models",
        "seeds",
        "snapshots",
        "tests",
        "data_tests",
        "sources",
        "exposures",
        "analyses",
        "unit_tests",
    ] {
        if let Some(v) = doc.get(key) {
            let key = if key == "tests" { "data_tests" } else { key };
            let value = v.to_json();
            // `tests:` and `data_tests:` may both be present; merge them.
            match (configs.get_mut(key), value) {
                (Some(Value::Object(existing)), Value::Object(more)) => {
                    for (k, x) in more {
                        existing.insert(k, x);
                    }
                }
                (_, value) => {
                    configs.insert(key.to_owned(), value);
                }
            }
        }
    }

    let mut dispatch = Vec::new();
    if let Some(list) = doc.get("dispatch").and_then(Yaml::as_seq) {
        for entry in list {
            let ns = entry.get("macro_namespace").and_then(Yaml::as_str);
            let order = entry.get("search_order").map(|o| strings(Some(o), &[]));
            match (ns, order) {
                (Some(ns), Some(order)) => dispatch.push(DispatchConfig {
                    macro_namespace: ns.to_owned(),
                    search_order: order,
                }),
                _ => {
                    return Err(Diag::error(
                        "XF0108",
                        "each `dispatch:` entry needs `macro_namespace` and `search_order`",
                    )
                    .with_source(source)
                    .with_label(
                        entry.offset,
                        entry.len.max(1),
                        "incomplete entry",
                    ));
                }
            }
        }
    }

    let vars = match doc.get("vars").map(Yaml::to_json) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let quoting = match doc.get("quoting").map(Yaml::to_json) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };

    let flags = match doc.get("flags").map(Yaml::to_json) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };

    let model_paths = if doc.get("model-paths").is_some() {
        strings(doc.get("model-paths"), &["models"])
    } else {
        strings(doc.get("source-paths"), &["models"])
    };
    let seed_paths = if doc.get("seed-paths").is_some() {
        strings(doc.get("seed-paths"), &["seeds"])
    } else {
        strings(doc.get("data-paths"), &["seeds"])
    };

    let file = ProjectFile {
        version: scalar("version")?,
        profile: scalar("profile")?,
        model_paths,
        seed_paths,
        snapshot_paths: strings(doc.get("snapshot-paths"), &["snapshots"]),
        macro_paths: strings(doc.get("macro-paths"), &["macros"]),
        test_paths: strings(doc.get("test-paths"), &["tests"]),
        analysis_paths: strings(doc.get("analysis-paths"), &["analyses"]),
        docs_paths: doc.get("docs-paths").map(|d| strings(Some(d), &[])),
        target_path: scalar("target-path")?.unwrap_or_else(|| "target".to_owned()),
        packages_install_path: scalar("packages-install-path")?
            .unwrap_or_else(|| "dbt_packages".to_owned()),
        clean_targets: strings(doc.get("clean-targets"), &[]),
        vars,
        configs,
        configs_raw: None,
        written_differs: false,
        dispatch,
        on_run_start: hooks(doc.get("on-run-start")),
        on_run_end: hooks(doc.get("on-run-end")),
        quoting,
        flags,
        require_dbt_version: strings(doc.get("require-dbt-version"), &[]),
        name_offset: name_node.map_or(0, |n| n.offset),
        name,
        source,
    };
    Ok((file, warnings))
}

impl ProjectFile {
    /// Renders the Jinja in the config trees (`+materialized: "{{ ... }}"`)
    /// as dbt does when it loads the project, keeping the trees as written
    /// in `configs_raw` when anything changed.
    pub fn render_configs(
        &mut self,
        renderer: &crate::jinja::yaml_render::YamlRenderer,
    ) -> Result<(), Diag> {
        let mut rendered = self.configs.clone();
        let mut changed = false;
        for (key, tree) in &mut rendered {
            let mut keypath = vec![key.clone()];
            changed |= renderer
                .render_config_tree(tree, &self.name, &mut keypath)
                .map_err(|e| {
                    let mut d = Diag::error(
                        "XF0105",
                        format!(
                            "cannot render `{}` in `{}`: {}",
                            e.keypath, self.source.name, e.message
                        ),
                    )
                    .with_source(self.source.clone());
                    if let Some((offset, len)) = self.locate(&e.keypath) {
                        d = d.with_label(offset, len, "");
                    }
                    d
                })?;
        }
        if changed {
            self.configs_raw = Some(std::mem::replace(&mut self.configs, rendered));
        }
        self.written_differs =
            changed || self.configs.values().any(super::config::has_merging_keys);
        Ok(())
    }

    /// A hook in the config trees that is a mapping without `sql`: dbt
    /// refuses the project; each is reported where it is written.
    pub fn hook_errors(&self) -> Vec<Diag> {
        fn walk(v: &Value, path: &mut Vec<String>, out: &mut Vec<String>) {
            let Value::Object(m) = v else { return };
            for (k, child) in m {
                path.push(k.clone());
                let key = super::config::canonical_key(k.trim_start_matches('+'));
                if matches!(key, "pre-hook" | "post-hook") {
                    if let Some(at) = super::config::hook_without_sql(child) {
                        let p = path.join(".");
                        out.push(at.map_or(p.clone(), |i| format!("{p}.{i}")));
                    }
                } else {
                    walk(child, path, out);
                }
                path.pop();
            }
        }
        let mut bad = Vec::new();
        for (key, tree) in self.configs_raw.as_ref().unwrap_or(&self.configs) {
            walk(tree, &mut vec![key.clone()], &mut bad);
        }
        bad.into_iter()
            .map(|keypath| {
                let mut d = Diag::error(
                    "XF0158",
                    format!(
                        "the hook at `{keypath}` in `{}` is a mapping without `sql`",
                        self.source.name
                    ),
                )
                .with_help(
                    "a hook is SQL text, or a mapping `{sql: \"...\", transaction: true|false}`",
                )
                .with_source(self.source.clone());
                if let Some((offset, len)) = self.locate(&keypath) {
                    d = d.with_label(offset, len, "no `sql` here");
                }
                d
            })
            .collect()
    }

    /// Where the value at a dotted key path is written in the file.
    fn locate(&self, keypath: &str) -> Option<(usize, usize)> {
        let doc = yaml::parse(&self.source.text).ok()?;
        let mut at = &doc;
        for part in keypath.split('.') {
            at = match at.as_seq() {
                Some(items) => items.get(part.parse::<usize>().ok()?)?,
                None => at.get(part)?,
            };
        }
        Some((at.offset, at.len.max(1)))
    }
}
