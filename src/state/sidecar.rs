//! `xform_state.json`: what xform writes beside `manifest.json` so that a
//! later run can compare with this one beyond what dbt's manifest holds —
//! the `var()` values each node read while it was parsed, and a hash of
//! the whole file of seeds too large for the manifest's checksum (dbt keeps
//! only their path).
//!
//! It belongs to one manifest: it names that manifest's invocation, and a
//! state whose manifest was rewritten since (by dbt, say) ignores it.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::diagnostics::Diag;
use crate::node::ResourceType;
use crate::project::Project;

pub const FILE: &str = "xform_state.json";
const VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Sidecar {
    pub xform_state_version: u32,
    /// `metadata.invocation_id` of the manifest this goes with.
    pub invocation_id: String,
    /// Only nodes with something to say.
    pub nodes: BTreeMap<String, NodeFacts>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeFacts {
    /// `var()` values read while parsing, by name.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub vars: Map<String, Value>,
    /// sha256 of a large seed's whole file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_sha256: Option<String>,
}

/// sha256 of a file's bytes, read in blocks (seeds can be large).
pub fn file_sha256(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Some(
        h.finalize()
            .iter()
            .fold(String::with_capacity(64), |mut s, b| {
                use std::fmt::Write;
                let _ = write!(s, "{b:02x}");
                s
            }),
    )
}

/// A seed whose manifest checksum is empty: too large for dbt's hash.
pub fn is_large_seed(n: &crate::node::Node) -> bool {
    n.resource_type == ResourceType::Seed && n.checksum.is_empty()
}

/// What the project records for a later comparison.
pub fn build(project: &Project, invocation_id: &str) -> Sidecar {
    let mut nodes = BTreeMap::new();
    for n in project.nodes.values() {
        let mut facts = NodeFacts::default();
        if let Some(f) = &n.facts {
            facts.vars = f.vars.iter().cloned().collect();
        }
        if is_large_seed(n) {
            facts.file_sha256 = file_sha256(&n.abs_path);
        }
        if facts != NodeFacts::default() {
            nodes.insert(n.unique_id.clone(), facts);
        }
    }
    Sidecar {
        xform_state_version: VERSION,
        invocation_id: invocation_id.to_owned(),
        nodes,
    }
}

/// Writes `xform_state.json` under the target folder, beside its final
/// name first and then renamed, as the manifest is.
pub fn write(project: &Project, invocation_id: &str) -> std::io::Result<()> {
    let dir = project.target_path();
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!(".{FILE}.tmp"));
    let text = serde_json::to_vec(&build(project, invocation_id)).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir.join(FILE))
}

/// Reads the sidecar of the manifest with `invocation_id` in `dir`; `None`
/// when there is none or it belongs to another manifest.
pub fn read(dir: &Path, invocation_id: &str) -> Result<Option<Sidecar>, Diag> {
    let path = dir.join(FILE);
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(None);
    };
    let sidecar: Sidecar = serde_json::from_slice(&bytes).map_err(|e| {
        Diag::error("XF0345", format!("`{}` is malformed: {e}", path.display())).with_help(format!(
            "xform writes {FILE} beside manifest.json; delete it to compare with the manifest alone"
        ))
    })?;
    if sidecar.invocation_id != invocation_id || sidecar.xform_state_version != VERSION {
        tracing::debug!(
            "ignoring {}: it belongs to another manifest",
            path.display()
        );
        return Ok(None);
    }
    Ok(Some(sidecar))
}
