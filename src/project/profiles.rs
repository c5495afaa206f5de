//! `profiles.yml`: which warehouse a project runs against.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::diagnostics::{Diag, SourceText, closest};
use crate::yaml;

/// The selected output of a profile, with every string rendered.
#[derive(Clone, Debug)]
pub struct Target {
    pub profile_name: String,
    pub name: String,
    /// The adapter type (`duckdb`, `postgres`, ...).
    pub kind: String,
    pub database: String,
    pub schema: String,
    pub threads: usize,
    /// Every field of the output as written (rendered), secrets included;
    /// only `adapter` reads it.
    pub fields: Map<String, Value>,
    pub profiles_path: Option<PathBuf>,
}

/// Field names whose values are never shown (target context, logs, debug).
pub fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["pass", "token", "secret", "private_key", "keyfile_json"]
        .iter()
        .any(|s| k.contains(s))
}

impl Target {
    /// The `target` variable of the Jinja context: everything but secrets.
    pub fn context_value(&self) -> Map<String, Value> {
        let mut m = Map::new();
        for (k, v) in &self.fields {
            if !is_secret(k) {
                m.insert(k.clone(), v.clone());
            }
        }
        m.insert("profile_name".into(), self.profile_name.clone().into());
        m.insert("name".into(), self.name.clone().into());
        m.insert("target_name".into(), self.name.clone().into());
        m.insert("type".into(), self.kind.clone().into());
        m.insert("database".into(), self.database.clone().into());
        m.insert("schema".into(), self.schema.clone().into());
        m.insert("threads".into(), self.threads.into());
        m
    }

    /// A target for commands that must work without a profile (parse with no
    /// profiles.yml anywhere): `DuckDB` in memory.
    pub fn fallback(profile_name: &str) -> Self {
        Self {
            profile_name: profile_name.to_owned(),
            name: "default".to_owned(),
            kind: "duckdb".to_owned(),
            database: "memory".to_owned(),
            schema: "main".to_owned(),
            threads: 1,
            fields: Map::new(),
            profiles_path: None,
        }
    }
}

/// Where profiles.yml is searched, in dbt's order: `--profiles-dir`,
/// `DBT_PROFILES_DIR`, the project folder, `~/.dbt`.
pub fn candidates(explicit: Option<&Path>, project_dir: &Path) -> Vec<PathBuf> {
    if let Some(dir) = explicit {
        return vec![dir.join("profiles.yml")];
    }
    let mut out = Vec::new();
    if let Some(dir) = std::env::var_os("DBT_PROFILES_DIR") {
        out.push(PathBuf::from(dir).join("profiles.yml"));
        return out;
    }
    out.push(project_dir.join("profiles.yml"));
    if let Ok(cwd) = std::env::current_dir() {
        let p = cwd.join("profiles.yml");
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if let Some(home) = std::env::var_os("HOME") {
        out.push(PathBuf::from(home).join(".dbt").join("profiles.yml"));
    }
    out
}

/// Finds and reads the profile. `render` renders Jinja in string values.
pub fn load(
    explicit_dir: Option<&Path>,
    project_dir: &Path,
    profile_name: &str,
    target_override: Option<&str>,
    threads_override: Option<usize>,
    render: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Target, Diag> {
    let paths = candidates(explicit_dir, project_dir);
    let Some(path) = paths.iter().find(|p| p.is_file()) else {
        let tried: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Diag::error(
            "XF0110",
            format!("no profiles.yml found for profile `{profile_name}`"),
        )
        .with_help(format!(
            "looked in: {}; pass `--profiles-dir` or set DBT_PROFILES_DIR",
            tried.join(", ")
        )));
    };
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diag::error("XF0111", format!("cannot read `{shown}`: {e}")))?;
    let source = SourceText::new(shown.clone(), text.as_str());
    let doc = yaml::parse(&text).map_err(|e| {
        Diag::error(
            "XF0112",
            format!("invalid YAML in `{shown}`: {}", e.message),
        )
        .with_source(source.clone())
        .with_label(e.offset, 1, "here")
    })?;
    let Some(profile) = doc.get(profile_name) else {
        let names: Vec<String> = doc
            .as_map()
            .unwrap_or_default()
            .iter()
            .filter_map(|(k, _)| k.key_str())
            .filter(|k| k != "config")
            .collect();
        let mut d = Diag::error(
            "XF0113",
            format!("profile `{profile_name}` is not in `{shown}`"),
        )
        .with_source(source);
        d = match closest(profile_name, names.iter().map(String::as_str)) {
            Some(c) => d.with_help(format!(
                "did you mean `{c}`? (set `profile:` in dbt_project.yml)"
            )),
            None => d.with_help(format!("profiles there: {}", names.join(", "))),
        };
        return Err(d);
    };
    let target_name = match target_override {
        Some(t) => t.to_owned(),
        None => match profile.get("target").map(yaml::Yaml::to_json) {
            Some(Value::String(t)) => render(&t).unwrap_or(t),
            _ => "default".to_owned(),
        },
    };
    let outputs = profile.get("outputs");
    let Some(output) = outputs.and_then(|o| o.get(&target_name)) else {
        let names: Vec<String> = outputs
            .and_then(yaml::Yaml::as_map)
            .unwrap_or_default()
            .iter()
            .filter_map(|(k, _)| k.key_str())
            .collect();
        let at = outputs.map_or(profile.offset, |o| o.offset);
        let mut d = Diag::error(
            "XF0114",
            format!("target `{target_name}` is not an output of profile `{profile_name}`"),
        )
        .with_source(source)
        .with_label(at, 1, "outputs are listed here");
        d = match closest(&target_name, names.iter().map(String::as_str)) {
            Some(c) => d.with_help(format!("did you mean `{c}`?")),
            None => d.with_help(format!("outputs: {}", names.join(", "))),
        };
        return Err(d);
    };
    let Value::Object(raw) = output.to_json() else {
        return Err(Diag::error(
            "XF0115",
            format!("output `{target_name}` of profile `{profile_name}` must be a mapping"),
        )
        .with_source(source)
        .with_label(output.offset, output.len.max(1), ""));
    };
    let mut fields = Map::new();
    for (k, v) in raw {
        let v = match v {
            Value::String(s) => {
                let rendered = render(&s).map_err(|msg| {
                    let at = output.get(&k).map_or(output.offset, |y| y.offset);
                    Diag::error(
                        "XF0116",
                        format!("cannot render `{k}` of output `{target_name}`: {msg}"),
                    )
                    .with_source(source.clone())
                    .with_label(at, 1, "")
                })?;
                Value::String(rendered)
            }
            other => other,
        };
        fields.insert(k, v);
    }
    let kind = fields
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            Diag::error(
                "XF0117",
                format!("output `{target_name}` of profile `{profile_name}` has no `type`"),
            )
            .with_source(source.clone())
            .with_label(output.offset, 1, "")
            .with_help("set `type: duckdb` or `type: postgres`")
        })?;
    let threads = threads_override
        .or_else(|| {
            fields.get("threads").and_then(|t| match t {
                Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
                Value::String(s) => s.parse().ok(),
                _ => None,
            })
        })
        .unwrap_or(1)
        .max(1);
    let profile_dir = path.parent().unwrap_or(project_dir);
    let (database, schema) = crate::adapter::default_database_schema(&kind, &fields, profile_dir);
    Ok(Target {
        profile_name: profile_name.to_owned(),
        name: target_name,
        kind,
        database,
        schema,
        threads,
        fields,
        profiles_path: Some(path.clone()),
    })
}
