//! Jinja inside YAML. dbt renders the strings of `dbt_project.yml` config
//! trees and of properties files when it loads them, with a small context:
//! `target`, `env_var()`, `var()` and the base helpers (`modules`, `return`,
//! `fromjson`, ...), but no `ref()` or macros.
//!
//! What stays unrendered is what dbt renders later with a richer context:
//! hooks (rendered per node at run time), descriptions (rendered with
//! `doc()`), generic test arguments (rendered with the test's context) and an
//! exposure's `depends_on` (rendered like a model body).
//!
//! Invariant: rendering changes string values only, never the shape of a
//! tree, and a string without `{{` or `{%` is never touched, so a project
//! without Jinja in its YAML pays one byte scan per string.

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::{Environment, Error, ErrorKind, State, Value};
use serde_json::Map;

use crate::yaml::{Yaml, YamlKind};

/// Hooks are rendered per node at run time.
const HOOK_KEYS: &[&str] = &["pre-hook", "post-hook", "pre_hook", "post_hook"];

/// Keys of properties entries whose values dbt renders later, not at load.
const LATE_KEYS: &[&str] = &["description", "tests", "data_tests"];

/// Config keys whose rendered `True`/`False` text dbt reads as a boolean.
const BOOL_KEYS: &[&str] = &["enabled", "full_refresh", "quote_columns"];

/// Top-level keys of a properties file whose entries dbt renders.
const RENDERED_SECTIONS: &[&str] = &[
    "models",
    "seeds",
    "snapshots",
    "analyses",
    "sources",
    "macros",
    "exposures",
    "groups",
    "unit_tests",
];

fn has_jinja(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

fn bare_key(k: &str) -> &str {
    k.trim_start_matches(|c: char| c == '+' || c.is_whitespace())
}

/// Reads rendered `True`/`False` as a boolean for the keys dbt coerces.
fn coerce(key: &str, text: String) -> serde_json::Value {
    if BOOL_KEYS.contains(&bare_key(key)) {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" => return serde_json::Value::Bool(true),
            "false" => return serde_json::Value::Bool(false),
            _ => {}
        }
    }
    serde_json::Value::String(text)
}

/// dbt renders every string of a unit test (natively, Jinja or not), and
/// Jinja drops one trailing newline: `rows: |` SQL loses its last line
/// break. Strings rendered here (in `originals`) have lost it already;
/// descriptions are not rendered.
fn strip_trailing_newline(y: &mut Yaml, originals: &HashMap<usize, String>) {
    match &mut y.kind {
        YamlKind::Str(s) if !originals.contains_key(&y.offset) && s.ends_with('\n') => {
            s.pop();
            if s.ends_with('\r') {
                s.pop();
            }
        }
        YamlKind::Seq(items) => {
            for item in items {
                strip_trailing_newline(item, originals);
            }
        }
        YamlKind::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                if k.as_str().is_some_and(|k| LATE_KEYS.contains(&k)) {
                    continue;
                }
                strip_trailing_newline(v, originals);
            }
        }
        _ => {}
    }
}

/// A rendering failure at a place in a YAML file.
#[derive(Debug)]
pub struct YamlRenderError {
    /// Dotted path of the key, for messages (`models.shop.+materialized`).
    pub keypath: String,
    /// Byte offset and length of the value, when the tree kept locations.
    pub span: Option<(usize, usize)>,
    pub message: String,
}

/// Renders YAML strings for one project load.
pub struct YamlRenderer {
    env: Environment<'static>,
}

impl YamlRenderer {
    /// `vars` maps a package to what `var()` sees in it; packages not in it
    /// see `fallback` (for `dbt_project.yml`, which sees `--vars` only).
    pub fn new(
        target: &Map<String, serde_json::Value>,
        vars: HashMap<String, Map<String, serde_json::Value>>,
        fallback: Map<String, serde_json::Value>,
    ) -> Self {
        let mut env = super::new_env();
        let vars = Arc::new((vars, fallback));
        env.add_function(
            "var",
            move |state: &State, name: String, default: Option<Value>| -> Result<Value, Error> {
                let pkg = state.lookup("__xf_package");
                let pkg = pkg.as_ref().and_then(Value::as_str).unwrap_or("");
                let scope = vars.0.get(pkg).unwrap_or(&vars.1);
                match scope.get(&name) {
                    Some(v) => Ok(Value::from_serialize(v)),
                    None => default.ok_or_else(|| {
                        Error::new(
                            ErrorKind::InvalidOperation,
                            format!(
                                "required var `{name}` is not set: define it under `vars:` in dbt_project.yml or pass it with --vars"
                            ),
                        )
                    }),
                }
            },
        );
        env.add_global("target", Value::from_serialize(target));
        Self { env }
    }

    /// Renders one string as seen from `package`.
    pub fn render(&self, text: &str, package: &str) -> Result<String, String> {
        if !has_jinja(text) {
            return Ok(text.to_owned());
        }
        self.env
            .render_str(
                text,
                minijinja::context! { __xf_package => package, project_name => package },
            )
            .map_err(|e| super::errors::plain_message(&e))
    }

    /// Renders the strings of a `dbt_project.yml` config tree (`models:`,
    /// `seeds:`, ...) in place, leaving hooks for run time. Returns whether
    /// anything changed.
    pub fn render_config_tree(
        &self,
        tree: &mut serde_json::Value,
        package: &str,
        keypath: &mut Vec<String>,
    ) -> Result<bool, YamlRenderError> {
        let mut changed = false;
        match tree {
            serde_json::Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if HOOK_KEYS.contains(&bare_key(k)) {
                        continue;
                    }
                    keypath.push(k.clone());
                    match v {
                        serde_json::Value::String(s) if has_jinja(s) => {
                            let out =
                                self.render(s, package).map_err(|message| YamlRenderError {
                                    keypath: keypath.join("."),
                                    span: None,
                                    message,
                                })?;
                            *v = coerce(k, out);
                            changed = true;
                        }
                        _ => changed |= self.render_config_tree(v, package, keypath)?,
                    }
                    keypath.pop();
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    keypath.push(i.to_string());
                    if let serde_json::Value::String(s) = v
                        && has_jinja(s)
                    {
                        *s = self.render(s, package).map_err(|message| YamlRenderError {
                            keypath: keypath.join("."),
                            span: None,
                            message,
                        })?;
                        changed = true;
                    } else {
                        changed |= self.render_config_tree(v, package, keypath)?;
                    }
                    keypath.pop();
                }
            }
            _ => {}
        }
        Ok(changed)
    }

    /// Renders a properties file in place. The text each rendered string
    /// had is kept in `originals` under the string's byte offset, for
    /// `unrendered_config` and state comparison. Errors do not stop the walk.
    pub fn render_properties(
        &self,
        doc: &mut Yaml,
        package: &str,
        originals: &mut HashMap<usize, String>,
    ) -> Vec<YamlRenderError> {
        let mut errors = Vec::new();
        let YamlKind::Map(sections) = &mut doc.kind else {
            return errors;
        };
        for (k, v) in sections.iter_mut() {
            let Some(section) = k.as_str() else { continue };
            if !RENDERED_SECTIONS.contains(&section) {
                continue;
            }
            let late: &[&str] = if section == "exposures" {
                &["depends_on"]
            } else {
                &[]
            };
            let mut keypath = vec![section.to_owned()];
            self.walk(v, package, late, "", &mut keypath, originals, &mut errors);
            if section == "unit_tests" {
                strip_trailing_newline(v, originals);
            }
        }
        errors
    }

    /// The config of each data test in a `tests:` list: dbt renders its
    /// string values when it builds the test (`TestBuilder`), natively, so
    /// `enabled: "{{ target.type == 'x' }}"` is a boolean; the test's
    /// arguments wait for the test's own render.
    fn walk_test_configs(
        &self,
        tests: &mut Yaml,
        package: &str,
        keypath: &mut Vec<String>,
        originals: &mut HashMap<usize, String>,
        errors: &mut Vec<YamlRenderError>,
    ) {
        let YamlKind::Seq(items) = &mut tests.kind else {
            return;
        };
        let depth = keypath.len();
        for (i, item) in items.iter_mut().enumerate() {
            keypath.push(i.to_string());
            let body = if item.get("test_name").is_some() {
                Some(item)
            } else if let YamlKind::Map(pairs) = &mut item.kind
                && pairs.len() == 1
            {
                keypath.push(pairs[0].0.as_str().unwrap_or_default().to_owned());
                Some(&mut pairs[0].1)
            } else {
                None
            };
            if let Some(YamlKind::Map(entries)) = body.map(|b| &mut b.kind) {
                for (k, v) in entries.iter_mut() {
                    let name = k.as_str().unwrap_or_default().to_owned();
                    keypath.push(name.clone());
                    if name == "config" {
                        if let YamlKind::Map(cfg) = &mut v.kind {
                            for (ck, cv) in cfg.iter_mut() {
                                keypath.push(ck.as_str().unwrap_or_default().to_owned());
                                self.render_native(cv, package, keypath, originals, errors);
                                keypath.pop();
                            }
                        }
                    } else if crate::project::properties::TEST_CONFIG_KEYS.contains(&name.as_str())
                    {
                        self.render_native(v, package, keypath, originals, errors);
                    }
                    keypath.pop();
                }
            }
            keypath.truncate(depth);
        }
    }

    /// Renders one string value and reads the result as a Python literal
    /// when it is one (`True`, `None`, `3`), as dbt's native rendering does.
    fn render_native(
        &self,
        y: &mut Yaml,
        package: &str,
        keypath: &[String],
        originals: &mut HashMap<usize, String>,
        errors: &mut Vec<YamlRenderError>,
    ) {
        let YamlKind::Str(s) = &mut y.kind else {
            return;
        };
        if !has_jinja(s) {
            return;
        }
        match self.render(s, package) {
            Ok(out) => {
                let original = std::mem::take(s);
                y.kind = match out.trim() {
                    "True" => YamlKind::Bool(true),
                    "False" => YamlKind::Bool(false),
                    "None" => YamlKind::Null,
                    t => match t.parse::<i64>() {
                        Ok(n) if !t.starts_with('+') => YamlKind::Int(n),
                        _ => YamlKind::Str(out),
                    },
                };
                originals.insert(y.offset, original);
            }
            Err(message) => errors.push(YamlRenderError {
                keypath: keypath.join("."),
                span: Some((y.offset, y.len.max(1))),
                message,
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        y: &mut Yaml,
        package: &str,
        late: &[&str],
        key: &str,
        keypath: &mut Vec<String>,
        originals: &mut HashMap<usize, String>,
        errors: &mut Vec<YamlRenderError>,
    ) {
        match &mut y.kind {
            YamlKind::Str(s) if has_jinja(s) => match self.render(s, package) {
                Ok(out) => {
                    let original = std::mem::take(s);
                    y.kind = match coerce(key, out) {
                        serde_json::Value::Bool(b) => YamlKind::Bool(b),
                        serde_json::Value::String(t) => YamlKind::Str(t),
                        _ => unreachable!("coerce yields a bool or a string"),
                    };
                    originals.insert(y.offset, original);
                }
                Err(message) => errors.push(YamlRenderError {
                    keypath: keypath.join("."),
                    span: Some((y.offset, y.len.max(1))),
                    message,
                }),
            },
            YamlKind::Seq(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    keypath.push(i.to_string());
                    self.walk(item, package, late, key, keypath, originals, errors);
                    keypath.pop();
                }
            }
            YamlKind::Map(entries) => {
                for (k, v) in entries.iter_mut() {
                    let Some(name) = k.as_str() else { continue };
                    if name == "tests" || name == "data_tests" {
                        keypath.push(name.to_owned());
                        self.walk_test_configs(v, package, keypath, originals, errors);
                        keypath.pop();
                        continue;
                    }
                    if LATE_KEYS.contains(&name)
                        || HOOK_KEYS.contains(&name)
                        || late.contains(&name)
                    {
                        continue;
                    }
                    let name = name.to_owned();
                    keypath.push(name.clone());
                    self.walk(v, package, late, &name, keypath, originals, errors);
                    keypath.pop();
                }
            }
            _ => {}
        }
    }
}
