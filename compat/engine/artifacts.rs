//! What a tool wrote to `target/` in one step: node results from
//! `run_results.json`, the compiled SQL tree and the manifest.
//!
//! On Postgres each tool has a database of its own, so its name (in
//! relation names, in the manifest) is replaced by `{database}` before
//! anything is compared.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context as _, Result};
use serde_json::Value;

/// The placeholder for a tool's own Postgres database name.
pub const DATABASE: &str = "{database}";

/// One node's result in `run_results.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeResult {
    /// `success`, `error`, `skipped`, `pass`, `warn`, `fail`, ...
    pub status: String,
    /// Failing rows of a test (`failures`), where it is a number.
    pub failures: Option<i64>,
}

impl NodeResult {
    /// `pass`, or with failing rows `fail (3)`.
    pub fn describe(&self) -> String {
        match self.failures {
            Some(n) if n != 0 => format!("{} ({n})", self.status),
            _ => self.status.clone(),
        }
    }
}

/// `run_results.json`: every node's result by unique id.
pub type RunResults = BTreeMap<String, NodeResult>;

/// Reads `run_results.json` text.
pub fn parse_run_results(text: &str) -> Result<RunResults> {
    let doc: Value = serde_json::from_str(text).context("run_results.json is not JSON")?;
    let mut out = RunResults::new();
    for r in doc["results"].as_array().into_iter().flatten() {
        let id = r["unique_id"].as_str().unwrap_or("?").to_owned();
        out.insert(
            id,
            NodeResult {
                status: r["status"].as_str().unwrap_or("?").to_owned(),
                failures: r["failures"].as_i64(),
            },
        );
    }
    Ok(out)
}

/// Every file under `target/compiled`, by path relative to it (`/`
/// separated), with the tool's database name replaced.
pub fn read_compiled(dir: &Path, database: Option<&str>) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)?
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let bytes = std::fs::read(entry.path())
            .with_context(|| format!("read {}", entry.path().display()))?;
        out.insert(
            rel,
            replace_database(&String::from_utf8_lossy(&bytes), database),
        );
    }
    Ok(out)
}

/// The parts of a manifest that are compared: every node, source and
/// exposure by unique id, and the parent and child maps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    pub entries: BTreeMap<String, Value>,
    pub parent_map: Value,
    pub child_map: Value,
}

/// Keys that differ by where and when the project ran.
const VOLATILE: [&str; 2] = ["created_at", "root_path"];

pub fn parse_manifest(text: &str, database: Option<&str>) -> Result<Manifest> {
    let text = replace_database(text, database);
    let mut doc: Value = serde_json::from_str(&text).context("manifest.json is not JSON")?;
    let mut entries = BTreeMap::new();
    for section in ["nodes", "sources", "exposures"] {
        if let Some(map) = doc[section].as_object_mut() {
            for (id, node) in std::mem::take(map) {
                let mut node = node;
                if let Some(obj) = node.as_object_mut() {
                    for k in VOLATILE {
                        obj.shift_remove(k);
                    }
                }
                entries.insert(id, node);
            }
        }
    }
    Ok(Manifest {
        entries,
        parent_map: doc["parent_map"].take(),
        child_map: doc["child_map"].take(),
    })
}

/// The files dbt writes under `target/compiled` for the pseudo-nodes of
/// each unit test (`<yaml>/<name>.sql` for the tested model and each mocked
/// input, read from the manifest's `unit_tests`): every unit test that
/// mocks `orders` rewrites `<yaml>/orders.sql` with its own rows, so what
/// is left depends on which test ran last. They are not compared.
pub fn unit_test_scaffolding(manifest: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Ok(doc) = serde_json::from_str::<Value>(manifest) else {
        return out;
    };
    let quoted = regex::Regex::new(r#"(\w+\s*=\s*)?['"]([^'"]*)['"]"#).expect("a valid regex");
    for test in doc["unit_tests"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        let (Some(pkg), Some(yaml), Some(model)) = (
            test["package_name"].as_str(),
            test["original_file_path"].as_str(),
            test["model"].as_str(),
        ) else {
            continue;
        };
        let mut names = vec![model.to_owned()];
        for given in test["given"].as_array().into_iter().flatten() {
            let input = given["input"].as_str().unwrap_or_default();
            // ref('m'), ref('pkg', 'm'), ref('m', v=2), source('s', 't'), this
            let name = quoted
                .captures_iter(input)
                .filter(|c| c.get(1).is_none())
                .filter_map(|c| c.get(2).map(|m| m.as_str().to_owned()))
                .last();
            names.extend(name);
        }
        for name in names {
            out.insert(format!("{pkg}/{yaml}/{name}.sql"));
        }
    }
    out
}

/// The compiled files of generic tests that share their file with another
/// test: a long test name is cut to a prefix and the md5 of the name, and
/// arguments that differ only in punctuation give the same name
/// (`regex: "@[^.]*"` and `regex: "&[^.]*"`), so both tests write
/// `<properties file>/<name>.sql` and what is left is whichever finished
/// last. They are not compared.
pub fn shared_test_files(manifest: &str) -> BTreeSet<String> {
    let Ok(doc) = serde_json::from_str::<Value>(manifest) else {
        return BTreeSet::new();
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for node in doc["nodes"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        let (Some("test"), Some(pkg), Some(file), Some(path)) = (
            node["resource_type"].as_str(),
            node["package_name"].as_str(),
            node["original_file_path"].as_str(),
            node["path"].as_str(),
        ) else {
            continue;
        };
        let properties = Path::new(file)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"));
        if properties {
            *seen.entry(format!("{pkg}/{file}/{path}")).or_default() += 1;
        }
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(p, _)| p)
        .collect()
}

fn replace_database(text: &str, database: Option<&str>) -> String {
    match database {
        Some(db) => text.replace(db, DATABASE),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{shared_test_files, unit_test_scaffolding};

    #[test]
    fn tests_sharing_a_compiled_file_are_found() {
        let test = |path: &str| {
            format!(
                r#"{{"resource_type": "test", "package_name": "p",
                "original_file_path": "models/s.yml", "path": "{path}"}}"#
            )
        };
        let manifest = format!(
            r#"{{"nodes": {{"test.p.a.1": {}, "test.p.a.2": {}, "test.p.b.3": {},
            "model.p.m": {{"resource_type": "model", "package_name": "p",
            "original_file_path": "models/m.sql", "path": "m.sql"}}}}}}"#,
            test("a.sql"),
            test("a.sql"),
            test("b.sql")
        );
        let got: Vec<String> = shared_test_files(&manifest).into_iter().collect();
        assert_eq!(got, ["p/models/s.yml/a.sql"]);
    }

    #[test]
    fn unit_test_inputs_and_model_are_scaffolding() {
        let manifest = r#"{"unit_tests": {"unit_test.p.m.t": {
            "package_name": "p", "original_file_path": "models/u.yml", "model": "m",
            "given": [{"input": "ref('a')"}, {"input": "ref(\"pkg\", \"b\", v=2)"},
                      {"input": "source('raw', 'c')"}, {"input": "this"}]}}}"#;
        let got: Vec<String> = unit_test_scaffolding(manifest).into_iter().collect();
        assert_eq!(
            got,
            [
                "p/models/u.yml/a.sql",
                "p/models/u.yml/b.sql",
                "p/models/u.yml/c.sql",
                "p/models/u.yml/m.sql"
            ]
        );
    }
}
