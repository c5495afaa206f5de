//! The artifacts of an earlier run (`--state DIR`): what `state:` and
//! `result:` selection compare with ([`compare`]), where `--defer` sends
//! refs to nodes that are not built here ([`defer`]), and what `clone`
//! copies.
//!
//! A state folder holds the `manifest.json` of the earlier run (written by
//! xform or by dbt-core), its `run_results.json`, and, when xform wrote it,
//! `xform_state.json` ([`sidecar`]): what xform knows beyond dbt's manifest
//! (the `var()` values each node read, hashes of large seeds). Each file is
//! read the first time it is needed, so `--state` costs nothing to a command
//! that does not use it, and a folder without a `run_results.json` still
//! serves `state:` selection.
//!
//! Invariant: reading a state never fails on a key it does not need; a
//! missing or malformed file is a diagnostic naming the file and what is
//! wrong, never a panic.

pub mod compare;
pub mod defer;
pub mod sidecar;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::diagnostics::Diag;

/// The manifest schema versions xform reads (dbt-core 1.0 wrote v4).
const OLDEST_MANIFEST: u32 = 4;
const NEWEST_MANIFEST: u32 = 12;

/// A node, source, exposure or unit test of the state manifest: the keys
/// the comparisons and deferral read. Keys a manifest lacks take their
/// defaults, so manifests of older dbt versions load too.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OldNode {
    pub resource_type: String,
    pub name: String,
    pub package_name: String,
    pub database: Option<String>,
    pub schema: Option<String>,
    pub alias: Option<String>,
    pub identifier: Option<String>,
    pub relation_name: Option<String>,
    pub fqn: Vec<String>,
    pub raw_code: Option<String>,
    pub checksum: Value,
    pub config: OldConfig,
    pub unrendered_config: Map<String, Value>,
    pub description: Option<String>,
    pub columns: indexmap::IndexMap<String, OldColumn>,
    pub contract: Value,
    pub latest_version: Value,
    pub deprecation_date: Value,
    pub access: Value,
    pub version: Value,
    pub depends_on: OldDependsOn,
    // Sources.
    pub unrendered_schema: Option<String>,
    pub unrendered_database: Option<String>,
    pub quoting: Value,
    pub freshness: Value,
    pub loaded_at_field: Value,
    pub external: Value,
    // Exposures.
    #[serde(rename = "type")]
    pub kind: Value,
    pub owner: Value,
    pub maturity: Value,
    pub url: Value,
    pub label: Value,
    // Unit tests.
    pub model: Value,
    pub given: Value,
    pub expect: Value,
    pub overrides: Value,
    pub versions: Value,
}

/// The one effective config the comparisons read (the rest is skipped
/// while reading, which keeps a large state small in memory).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OldConfig {
    pub materialized: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OldColumn {
    pub name: String,
    pub description: Option<String>,
    pub data_type: Option<String>,
    pub constraints: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OldDependsOn {
    pub nodes: Vec<String>,
}

impl OldNode {
    /// `config.materialized`, or `view` when the manifest does not say.
    pub fn materialized(&self) -> &str {
        self.config.materialized.as_deref().unwrap_or("view")
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OldMacro {
    pub macro_sql: String,
    pub package_name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Metadata {
    dbt_schema_version: Option<String>,
    dbt_version: Option<String>,
    invocation_id: Option<String>,
    adapter_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ManifestFile {
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default)]
    nodes: HashMap<String, OldNode>,
    #[serde(default)]
    sources: HashMap<String, OldNode>,
    #[serde(default)]
    exposures: HashMap<String, OldNode>,
    #[serde(default)]
    unit_tests: HashMap<String, OldNode>,
    #[serde(default)]
    macros: HashMap<String, OldMacro>,
}

/// The state's `manifest.json`, with the sidecar when xform wrote both.
#[derive(Debug, Default)]
pub struct StateManifest {
    /// Nodes, sources, exposures and unit tests by unique id (the prefixes
    /// keep them apart).
    pub nodes: HashMap<String, OldNode>,
    pub macros: HashMap<String, OldMacro>,
    pub adapter_type: Option<String>,
    /// `dbt-core 1.11.0`, `xform` style: who wrote it, for messages.
    pub written_by: String,
    /// What xform recorded beyond the manifest; `None` for a dbt state.
    pub sidecar: Option<sidecar::Sidecar>,
}

/// A `--state` folder.
#[derive(Debug)]
pub struct State {
    /// Where the files are read from.
    pub dir: PathBuf,
    /// The folder as the user named it, for messages.
    pub shown: String,
    manifest: OnceLock<Result<StateManifest, Diag>>,
    results: OnceLock<Result<HashMap<String, String>, Diag>>,
}

impl State {
    /// A state folder named `given` on the command line. Like dbt, a
    /// relative path is relative to the project folder; one that only
    /// exists relative to the current folder is taken from there.
    pub fn new(given: &Path, project_dir: &Path) -> Self {
        let shown = given.display().to_string();
        let dir = if given.is_absolute() {
            given.to_path_buf()
        } else {
            let in_project = project_dir.join(given);
            if in_project.exists() || !given.exists() {
                in_project
            } else {
                given.to_path_buf()
            }
        };
        Self {
            dir,
            shown,
            manifest: OnceLock::new(),
            results: OnceLock::new(),
        }
    }

    fn file(&self, name: &str) -> (PathBuf, String) {
        let shown = Path::new(&self.shown).join(name).display().to_string();
        (self.dir.join(name), shown)
    }

    /// The folder must exist: a typo in `--state` should not read as "no
    /// earlier run".
    fn check_dir(&self) -> Result<(), Diag> {
        if self.dir.is_dir() {
            return Ok(());
        }
        let what = if self.dir.exists() {
            "is not a folder"
        } else {
            "does not exist"
        };
        Err(Diag::error(
            "XF0340",
            format!("the state folder `{}` {what}", self.shown),
        )
        .with_help(
            "--state (or DBT_STATE) names the target/ folder of an earlier run, holding its manifest.json and run_results.json; relative paths are relative to the project folder",
        ))
    }

    /// The state manifest, read on first use.
    pub fn manifest(&self) -> Result<&StateManifest, Diag> {
        self.manifest
            .get_or_init(|| self.read_manifest())
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Statuses of the earlier run by unique id (`run_results.json`).
    pub fn results(&self) -> Result<&HashMap<String, String>, Diag> {
        self.results
            .get_or_init(|| self.read_results())
            .as_ref()
            .map_err(Clone::clone)
    }

    fn read_manifest(&self) -> Result<StateManifest, Diag> {
        self.check_dir()?;
        let (path, shown) = self.file("manifest.json");
        let bytes = std::fs::read(&path).map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "there is none".to_owned()
            } else {
                e.to_string()
            };
            Diag::error(
                "XF0341",
                format!("cannot read the state manifest `{shown}`: {why}"),
            )
            .with_help("state comparison, --defer and clone need the manifest.json of an earlier run (dbt or xform) in the --state folder: copy the target/ folder of a production run there")
        })?;
        let malformed = |why: String| {
            Diag::error(
                "XF0342",
                format!("the state manifest `{shown}` is not a dbt manifest: {why}"),
            )
            .with_help("--state must hold a manifest.json written by dbt-core (schema v4 to v12) or by xform")
        };
        let file: ManifestFile =
            serde_json::from_slice(&bytes).map_err(|e| malformed(e.to_string()))?;
        let metadata = file
            .metadata
            .ok_or_else(|| malformed("it has no `metadata`".to_owned()))?;
        let schema = metadata.dbt_schema_version.unwrap_or_default();
        let version = schema
            .rsplit_once("/manifest/v")
            .and_then(|(_, v)| v.strip_suffix(".json"))
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(|| {
                malformed(format!(
                    "`metadata.dbt_schema_version` is `{schema}`, expected a manifest schema such as `https://schemas.getdbt.com/dbt/manifest/v12.json`"
                ))
            })?;
        if !(OLDEST_MANIFEST..=NEWEST_MANIFEST).contains(&version) {
            return Err(malformed(format!(
                "its schema is manifest v{version}; xform reads v{OLDEST_MANIFEST} to v{NEWEST_MANIFEST}"
            )));
        }
        let mut nodes = file.nodes;
        nodes.extend(file.sources);
        nodes.extend(file.exposures);
        nodes.extend(file.unit_tests);
        let invocation = metadata.invocation_id.unwrap_or_default();
        let sidecar = sidecar::read(&self.dir, &invocation)?;
        Ok(StateManifest {
            nodes,
            macros: file.macros,
            adapter_type: metadata.adapter_type,
            written_by: if sidecar.is_some() {
                "xform".to_owned()
            } else {
                format!(
                    "dbt {}",
                    metadata.dbt_version.unwrap_or_else(|| "(unknown)".into())
                )
            },
            sidecar,
        })
    }

    fn read_results(&self) -> Result<HashMap<String, String>, Diag> {
        #[derive(Deserialize)]
        struct OldResult {
            unique_id: String,
            status: String,
        }
        #[derive(Deserialize)]
        struct ResultsFile {
            results: Vec<OldResult>,
        }
        self.check_dir()?;
        let (path, shown) = self.file("run_results.json");
        let bytes = std::fs::read(&path).map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "there is none".to_owned()
            } else {
                e.to_string()
            };
            Diag::error(
                "XF0343",
                format!("cannot read the state's run results `{shown}`: {why}"),
            )
            .with_help("`result:` selection needs the run_results.json of an earlier run (build, run, test, seed, snapshot) in the --state folder")
        })?;
        let file: ResultsFile = serde_json::from_slice(&bytes).map_err(|e| {
            Diag::error(
                "XF0344",
                format!("the state's run results `{shown}` are not a dbt run_results.json: {e}"),
            )
            .with_help("--state must hold a run_results.json written by dbt-core or by xform")
        })?;
        Ok(file
            .results
            .into_iter()
            .map(|r| (r.unique_id, r.status))
            .collect())
    }
}

/// A JSON value as text for comparisons across writers: dbt writes
/// `latest_version: 2` (a number) and `"2"` (a string) compare alike.
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with(files: &[(&str, &str)]) -> (tempfile::TempDir, State) {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        let st = State::new(dir.path(), Path::new("."));
        (dir, st)
    }

    #[test]
    fn missing_folder_and_files_are_diagnostics() {
        let st = State::new(Path::new("/no/such/state"), Path::new("."));
        assert_eq!(st.manifest().unwrap_err().code, "XF0340");
        assert_eq!(st.results().unwrap_err().code, "XF0340");
        let (_d, st) = state_with(&[]);
        let e = st.manifest().unwrap_err();
        assert_eq!(e.code, "XF0341");
        assert!(e.message.contains("manifest.json"), "{}", e.message);
        assert_eq!(st.results().unwrap_err().code, "XF0343");
    }

    #[test]
    fn malformed_manifests_say_what_is_wrong() {
        for (text, needle) in [
            ("{not json", "key must be a string"),
            ("[1, 2]", "expected struct"),
            ("{\"nodes\": {}}", "no `metadata`"),
            (
                "{\"metadata\": {\"dbt_schema_version\": \"https://schemas.getdbt.com/dbt/run-results/v6.json\"}}",
                "expected a manifest schema",
            ),
            (
                "{\"metadata\": {\"dbt_schema_version\": \"https://schemas.getdbt.com/dbt/manifest/v99.json\"}}",
                "manifest v99",
            ),
            (
                "{\"metadata\": {\"dbt_schema_version\": \"https://schemas.getdbt.com/dbt/manifest/v12.json\"}, \"nodes\": {\"model.a.b\": {\"name\": 5}}}",
                "invalid type",
            ),
        ] {
            let (_d, st) = state_with(&[("manifest.json", text)]);
            let e = st.manifest().unwrap_err();
            assert_eq!(e.code, "XF0342", "{text}");
            assert!(e.message.contains(needle), "{text}: {}", e.message);
        }
    }

    #[test]
    fn reads_nodes_sources_and_results() {
        let (_d, st) = state_with(&[
            (
                "manifest.json",
                r#"{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json", "dbt_version": "1.11.0"},
                    "nodes": {"model.a.m": {"name": "m", "resource_type": "model", "schema": "prod", "alias": "m", "extra": [1]}},
                    "sources": {"source.a.s.t": {"name": "t", "resource_type": "source"}},
                    "macros": {"macro.a.x": {"macro_sql": "{% macro x() %}{% endmacro %}"}}}"#,
            ),
            (
                "run_results.json",
                r#"{"results": [{"unique_id": "model.a.m", "status": "error", "timing": []}]}"#,
            ),
        ]);
        let m = st.manifest().expect("manifest");
        assert_eq!(m.nodes["model.a.m"].schema.as_deref(), Some("prod"));
        assert!(m.nodes.contains_key("source.a.s.t"));
        assert_eq!(m.written_by, "dbt 1.11.0");
        assert!(m.sidecar.is_none());
        assert_eq!(st.results().expect("results")["model.a.m"], "error");
    }
}
