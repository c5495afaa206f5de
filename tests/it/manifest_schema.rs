//! `manifest.json` must load in dbt-core's own artifact reader and in
//! dbt-artifacts-parser.

use crate::support::{copy_project, dbt, fixture, repo, xform};

fn check_loads(project: &std::path::Path) {
    let Some(dbt) = dbt() else { return };
    let python = dbt.with_file_name("python");
    let dir = copy_project(project);
    let out = xform(dir.path(), &["compile"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let script = r"
import json, sys
from dbt_artifacts_parser.parser import parse_manifest
from dbt.contracts.graph.manifest import WritableManifest
path = sys.argv[1]
m = parse_manifest(json.load(open(path)))
w = WritableManifest.read_and_check_versions(path)
print(type(m).__name__, len(w.nodes), len(w.sources), len(w.macros))
";
    let res = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(dir.path().join("target/manifest.json"))
        .output()
        .expect("python");
    assert!(
        res.status.success(),
        "manifest rejected:\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(String::from_utf8_lossy(&res.stdout).starts_with("ManifestV12"));
}

#[test]
fn example_manifest_loads_in_dbt_readers() {
    check_loads(&repo().join("example_project"));
}

#[test]
fn fixture_manifest_with_sources_loads_in_dbt_readers() {
    check_loads(&fixture("compile/features"));
}
