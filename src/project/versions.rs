//! Versioned models: a `models:` entry with `versions:` turns the files
//! `<name>_v<v>.sql` (or each version's `defined_in:`) into the versions of
//! one model, as dbt-core's `ModelPatchParser` does. Each version keeps its
//! file (path, code) but takes the model's name, the unique id
//! `model.<package>.<name>.v<v>`, the fqn `[..., <name>, v<v>]`, and the
//! model's properties merged with its own: description, config (deep
//! merge), columns (`include`/`exclude` over the model's, then its own),
//! constraints and data tests (its own when it has them).

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::Project;
use super::properties::{
    PendingTest, TestTarget, YamlFile, add_tests, columns_of, entry_config, entry_config_raw,
    map_of, str_of,
};
use crate::diagnostics::Diags;
use crate::node::{Column, ResourceType, Version};
use crate::yaml::Yaml;

/// One entry of `versions:`, validated.
struct Declared<'a> {
    v: Version,
    at: &'a Yaml,
    entry: &'a Yaml,
    include: Include,
}

/// A version's `- include: ... / exclude: [...]` column filter.
enum Include {
    All(Vec<String>),
    Only(Vec<String>),
}

impl Include {
    fn includes(&self, name: &str) -> bool {
        match self {
            Self::All(exclude) => !exclude.iter().any(|e| e == name),
            Self::Only(list) => list.iter().any(|e| e == name),
        }
    }
}

/// Applies a versioned model entry: every declared version patches the model
/// file it is defined in.
pub(super) fn patch(
    project: &mut Project,
    file: &YamlFile,
    entry: &Yaml,
    name: &str,
    versions: &Yaml,
    diags: &mut Diags,
    pending: &mut Vec<PendingTest>,
) {
    let Some(declared) = read_versions(file, entry, name, versions, diags) else {
        return;
    };
    let given = entry
        .get("latest_version")
        .and_then(|y| Version::from_json(&y.to_json()))
        .filter(|v| crate::value::truthy(v.value()));
    // Without `latest_version`, the greatest (the first of equals).
    let latest = given.unwrap_or_else(|| {
        let mut max = &declared[0].v;
        for d in &declared[1..] {
            if d.v.cmp_dbt(max) == std::cmp::Ordering::Greater {
                max = &d.v;
            }
        }
        max.clone()
    });
    let model_cfg = entry_config(entry);
    let model_cfg_raw = entry_config_raw(file, entry);
    let base_columns = columns_of(file, entry, diags);
    let model_constraints = entry.get("constraints");
    let description = str_of(entry.get("description"));
    for d in &declared {
        let file_name = d
            .entry
            .get("defined_in")
            .and_then(Yaml::as_str)
            .map_or_else(|| format!("{name}_v{}", d.v), str::to_owned);
        let mut uid = format!("model.{}.{file_name}", file.package);
        if !project.nodes.contains_key(&uid) && d.v.same(&latest) {
            // The latest version may live in a file named after the model.
            let plain = format!("model.{}.{name}", file.package);
            if project.nodes.contains_key(&plain) {
                uid = plain;
            }
        }
        let Some((_, mut node)) = project.nodes.shift_remove_entry(&uid) else {
            diags.push(
                file.warn(
                    "XF0157",
                    d.at,
                    format!(
                        "version `{}` of model `{name}` has no file: no model is named `{file_name}`",
                        d.v
                    ),
                )
                .with_help(format!(
                    "create `{file_name}.sql`, or name the version's file with `defined_in:`"
                )),
            );
            continue;
        };
        if let Some(prev) = &node.patch_path {
            diags.push(file.diag(
                "XF0145",
                d.at,
                format!("model `{file_name}` is described twice: here and in `{prev}`"),
            ));
            project.nodes.insert(uid, node);
            continue;
        }
        let v = d.v.clone();
        node.unique_id = format!("model.{}.{name}.v{v}", file.package);
        name.clone_into(&mut node.name);
        if let Some(last) = node.fqn.last_mut() {
            name.clone_into(last);
        }
        node.fqn.push(format!("v{v}"));
        // dbt configures the version again under its new fqn, over what
        // the file's fqn gave it (keys replaced, tags kept on the node).
        if let Some(pkg) = project.packages.get(&file.package) {
            let mut cfg = std::mem::take(&mut node.config).into_explicit();
            node.tags = cfg
                .get("tags")
                .map(crate::value::string_list)
                .unwrap_or_default();
            let again =
                super::project_config(pkg, &project.packages, ResourceType::Model, &node.fqn);
            for (k, v) in again {
                cfg.insert(k, v);
            }
            node.config = crate::node::NodeConfig::new(ResourceType::Model, cfg);
        }
        node.patch_path = Some(format!("{}://{}", file.package, file.rel));
        let own = str_of(d.entry.get("description"));
        node.description = if own.is_empty() {
            description.clone()
        } else {
            own
        };
        let mut columns: IndexMap<String, Column> = base_columns
            .iter()
            .filter(|(n, _)| d.include.includes(n))
            .map(|(n, c)| (n.clone(), c.clone()))
            .collect();
        columns.extend(columns_of(file, d.entry, diags));
        node.columns = columns;
        let constraints = d
            .entry
            .get("constraints")
            .filter(|c| c.as_seq().is_some_and(|s| !s.is_empty()))
            .or(model_constraints);
        if let Some(cs) = constraints {
            node.constraints = super::constraints::read(file, cs, true, diags);
        }
        let column_pks = node.primary_key_columns();
        super::constraints::check_primary_keys(
            file,
            d.at,
            name,
            &column_pks,
            &node.constraints,
            diags,
        );
        // A version's `config:` alone: dbt does not fold a version's
        // top-level `docs:` or `access:` into its config as it does the
        // model's.
        let own_cfg = map_of(d.entry.get("config"));
        let mut cfg = model_cfg.clone();
        deep_merge(&mut cfg, &own_cfg);
        let own_raw = d
            .entry
            .get("config")
            .filter(|_| !file.originals.is_empty())
            .and_then(|y| match file.raw_json(y) {
                Value::Object(m) if m != own_cfg => Some(m),
                _ => None,
            });
        node.raw_yaml_config = if model_cfg_raw.is_some() || own_raw.is_some() {
            let mut raw = model_cfg_raw.clone().unwrap_or_else(|| model_cfg.clone());
            deep_merge(&mut raw, &own_raw.unwrap_or(own_cfg));
            Some(Box::new(raw))
        } else {
            None
        };
        node.yaml_config = cfg;
        node.deprecation_date = d
            .entry
            .get("deprecation_date")
            .and_then(|y| deprecation_date(file, y, diags));
        node.version = Some(v.clone());
        node.latest_version = Some(latest.clone());
        let new_uid = node.unique_id.clone();
        if project.nodes.contains_key(&new_uid) {
            diags.push(file.diag(
                "XF0156",
                d.at,
                format!("version `{v}` of model `{name}` is defined twice"),
            ));
            continue;
        }
        project.nodes.insert(new_uid.clone(), node);

        // Tests: the columns' of this version, then the model's (its own
        // `data_tests:` replace the model's).
        let target = TestTarget::Node {
            name: name.to_owned(),
            uid: new_uid,
            kind: ResourceType::Model,
            version: Some(v),
        };
        let mut tests = Vec::new();
        let column_entries = |e: &'_ Yaml| -> Vec<Yaml> {
            e.get("columns")
                .and_then(Yaml::as_seq)
                .unwrap_or_default()
                .iter()
                .filter(|c| c.get("name").is_some())
                .cloned()
                .collect()
        };
        let mut cols: Vec<Yaml> = column_entries(entry)
            .into_iter()
            .filter(|c| d.include.includes(&str_of(c.get("name"))))
            .collect();
        cols.extend(column_entries(d.entry));
        let quote_columns = super::properties::bool_of(
            d.entry
                .get("quote_columns")
                .or_else(|| entry.get("quote_columns")),
        );
        for c in &cols {
            let col = super::properties::test_column_name(project, c, quote_columns);
            for key in ["data_tests", "tests"] {
                for t in c.get(key).and_then(Yaml::as_seq).unwrap_or_default() {
                    tests.push((Some(col.clone()), t.clone()));
                }
            }
        }
        let own_tests = ["data_tests", "tests"]
            .iter()
            .find_map(|k| d.entry.get(k).filter(|t| t.as_seq().is_some()));
        let model_tests: Vec<&Yaml> = match own_tests {
            Some(t) => vec![t],
            None => ["data_tests", "tests"]
                .iter()
                .filter_map(|k| entry.get(k))
                .collect(),
        };
        for list in model_tests {
            for t in list.as_seq().unwrap_or_default() {
                tests.push((None, t.clone()));
            }
        }
        add_tests(pending, &target, &format!("models.{name}"), tests);
    }
}

/// Checks `versions:` as dbt's contracts do: a list of mappings with a `v`
/// that is a number or a string, no version twice, at most one
/// `include`/`exclude` element per version, and a `latest_version` that is
/// one of them. `None` after reporting a problem: the model is not patched.
fn read_versions<'a>(
    file: &YamlFile,
    entry: &'a Yaml,
    name: &str,
    versions: &'a Yaml,
    diags: &mut Diags,
) -> Option<Vec<Declared<'a>>> {
    let Some(list) = versions.as_seq() else {
        diags.push(file.diag(
            "XF0156",
            versions,
            format!(
                "`versions:` of model `{name}` must be a list, found {}",
                versions.type_name()
            ),
        ));
        return None;
    };
    let mut out: Vec<Declared<'a>> = Vec::new();
    let mut ok = true;
    for e in list {
        let Some(v_y) = e.get("v") else {
            diags.push(
                file.diag(
                    "XF0156",
                    e,
                    format!("a version of model `{name}` has no `v`"),
                )
                .with_help("each version is a mapping with `v: <number or name>`"),
            );
            ok = false;
            continue;
        };
        let Some(v) = Version::from_json(&v_y.to_json()) else {
            diags.push(file.diag(
                "XF0156",
                v_y,
                format!(
                    "a version of model `{name}` must be a number or a string, found {}",
                    v_y.type_name()
                ),
            ));
            ok = false;
            continue;
        };
        if let Some(prev) = out.iter().find(|d| d.v.text() == v.text()) {
            diags.push(
                file.diag(
                    "XF0156",
                    v_y,
                    format!("version `{v}` of model `{name}` is declared twice"),
                )
                .with_help(format!("the first declaration is on line {}", prev.at.line)),
            );
            ok = false;
            continue;
        }
        let mut include = None;
        for c in e.get("columns").and_then(Yaml::as_seq).unwrap_or_default() {
            if c.get("include").is_none() && c.get("exclude").is_none() {
                continue;
            }
            if include.is_some() {
                diags.push(file.diag(
                    "XF0156",
                    c.get("include").or_else(|| c.get("exclude")).unwrap_or(c),
                    format!(
                        "version `{v}` of model `{name}` has more than one `include`/`exclude` element"
                    ),
                ));
                ok = false;
                continue;
            }
            match read_include(c) {
                Ok(i) => include = Some(i),
                Err(msg) => {
                    diags.push(file.diag("XF0156", c, msg).with_help(
                        "`include` is `all`, `*` or a list of columns; `exclude` (a list) goes with `include: all`",
                    ));
                    ok = false;
                }
            }
        }
        out.push(Declared {
            v,
            at: v_y,
            entry: e,
            include: include.unwrap_or(Include::All(Vec::new())),
        });
    }
    if let Some(l_y) = entry.get("latest_version")
        && let Some(l) = Version::from_json(&l_y.to_json())
        && crate::value::truthy(l.value())
        && !out.iter().any(|d| d.v.same(&l))
    {
        let listed: Vec<String> = out
            .iter()
            .map(|d| crate::value::py_repr(d.v.value()))
            .collect();
        let mut d = file.diag(
            "XF0156",
            l_y,
            format!(
                "`latest_version: {}` is not one of the versions of model `{name}`: [{}]",
                crate::value::py_repr(l.value()),
                listed.join(", ")
            ),
        );
        if out.iter().any(|d| d.v.text() == l.text()) {
            d = d.with_help(
                "a version written `1` (a number) and one written `\"1\"` (a string) differ: write them alike",
            );
        }
        diags.push(d);
        ok = false;
    }
    (ok && !out.is_empty()).then_some(out)
}

fn read_include(c: &Yaml) -> Result<Include, String> {
    let list = |y: Option<&Yaml>| -> Result<Vec<String>, String> {
        match y.map(Yaml::to_json) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a.iter().map(str_of_json).collect()),
            Some(_) => Err("`exclude` must be a list of column names".to_owned()),
        }
    };
    let exclude = list(c.get("exclude"))?;
    match c.get("include").map(Yaml::to_json) {
        Some(Value::String(s)) if s == "all" || s == "*" => Ok(Include::All(exclude)),
        Some(Value::Array(a)) if exclude.is_empty() => {
            Ok(Include::Only(a.iter().map(str_of_json).collect()))
        }
        Some(Value::Array(_)) => {
            Err("`exclude` can only be given with `include: all` (or `*`)".to_owned())
        }
        None => Err("a column filter needs `include:` (`all`, `*` or a list)".to_owned()),
        Some(other) => Err(format!(
            "`include` must be `all`, `*` or a list of column names, found `{}`",
            str_of_json(&other)
        )),
    }
}

fn str_of_json(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// dbt's `deep_merge`: mappings merge key by key, anything else replaces.
fn deep_merge(base: &mut Map<String, Value>, more: &Map<String, Value>) {
    for (k, v) in more {
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(m)) => deep_merge(b, m),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A `deprecation_date` as dbt writes it: ISO 8601 with the offset, a date
/// alone at midnight, a time without an offset in the local time zone.
pub fn deprecation_date(file: &YamlFile, y: &Yaml, diags: &mut Diags) -> Option<String> {
    let text = match y.to_json() {
        Value::Null => return None,
        Value::String(s) => s,
        other => other.to_string(),
    };
    if let Some(d) = normalize_date(text.trim()) {
        return Some(d);
    }
    diags.push(
        file.diag(
            "XF0156",
            y,
            format!("`deprecation_date: {text}` is not a date or a date and time"),
        )
        .with_help("write it as `2025-06-30` or `2025-06-30 12:00:00+02:00`"),
    );
    None
}

fn normalize_date(s: &str) -> Option<String> {
    use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone};
    let fmt = |dt: DateTime<chrono::FixedOffset>| {
        let frac = if dt.timestamp_subsec_micros() == 0 {
            String::new()
        } else {
            format!(".{:06}", dt.timestamp_subsec_micros())
        };
        format!(
            "{}{frac}{}",
            dt.format("%Y-%m-%dT%H:%M:%S"),
            dt.format("%:z")
        )
    };
    for f in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(s, f) {
            return Some(fmt(dt));
        }
    }
    let s = s
        .strip_suffix('Z')
        .map_or(s.to_owned(), |x| format!("{x}+00:00"));
    if let Ok(dt) = DateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f%:z") {
        return Some(fmt(dt));
    }
    let naive = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&s, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    let local = Local.from_local_datetime(&naive).earliest()?;
    Some(fmt(local.fixed_offset()))
}

#[cfg(test)]
mod tests {
    use super::normalize_date;

    #[test]
    fn deprecation_dates_are_written_with_their_offset() {
        assert_eq!(
            normalize_date("2021-01-01 10:30:00+02:00").as_deref(),
            Some("2021-01-01T10:30:00+02:00")
        );
        assert_eq!(
            normalize_date("2021-01-01T10:30:00Z").as_deref(),
            Some("2021-01-01T10:30:00+00:00")
        );
        assert!(normalize_date("2021-01-01").is_some_and(|d| d.starts_with("2021-01-01T00:00:00")));
        assert_eq!(normalize_date("soon"), None);
    }
}
