//! Byte-for-byte comparison of `target/compiled` with dbt-core 1.11 on the
//! same inputs.

use std::path::Path;
use std::process::Command;

use crate::support::{PgDatabase, copy_project, dbt, fixture, pg_url, read_tree, repo, xform};

fn compare(project: &Path) {
    let Some(dbt) = dbt() else { return };
    compare_on(&dbt, project, &[], &[]);
}

/// The same comparison on the test Postgres server: both tools compile
/// with `--target postgres` against one fresh database (dbt connects while
/// compiling; nothing is built, so introspection finds nothing for both).
fn compare_on_postgres(project: &Path) {
    let Some(dbt) = dbt() else { return };
    let Some(url) = pg_url() else { return };
    let db = PgDatabase::create(&url, "compile");
    compare_on(
        &dbt,
        project,
        &["--target", "postgres"],
        &[("XFORM_TEST_PG_DBNAME", db.name.as_str())],
    );
}

fn compare_on(dbt: &Path, project: &Path, args: &[&str], env: &[(&str, &str)]) {
    let ours = copy_project(project);
    let theirs = copy_project(project);
    let mut ours_args = vec!["compile"];
    ours_args.extend_from_slice(args);
    let out = Command::new(env!("CARGO_BIN_EXE_xform"))
        .args(&ours_args)
        .current_dir(ours.path())
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .output()
        .expect("run xform");
    assert!(
        out.status.success(),
        "xform compile failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let res = Command::new(dbt)
        .args([
            "compile",
            "--profiles-dir",
            ".",
            "--no-partial-parse",
            "--no-send-anonymous-usage-stats",
        ])
        .args(args)
        .current_dir(theirs.path())
        .envs(env.iter().copied())
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .output()
        .expect("run dbt");
    assert!(
        res.status.success(),
        "dbt compile failed:\n{}",
        String::from_utf8_lossy(&res.stdout)
    );
    let a = read_tree(&ours.path().join("target/compiled"));
    let b = read_tree(&theirs.path().join("target/compiled"));
    let names_a: Vec<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
    let names_b: Vec<&str> = b.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names_a, names_b, "compiled file sets differ");
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert_eq!(x, y, "compiled SQL differs for {name}");
    }
    compare_manifests(
        &ours.path().join("target/manifest.json"),
        &theirs.path().join("target/manifest.json"),
    );
}

/// Every node, source and exposure of dbt's manifest must be in ours with
/// the same keys in the same order and the same values (except timestamps
/// and absolute paths); the graph maps must match too.
fn compare_manifests(ours: &Path, theirs: &Path) {
    let load = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).expect("manifest")).expect("json")
    };
    let (a, b) = (load(ours), load(theirs));
    let mut diffs = Vec::new();
    for sec in ["nodes", "sources", "exposures"] {
        let (Some(ma), Some(mb)) = (a[sec].as_object(), b[sec].as_object()) else {
            diffs.push(format!("missing section {sec}"));
            continue;
        };
        let ka: Vec<&String> = ma.keys().collect();
        let mut kb: Vec<&String> = mb.keys().collect();
        let mut ka_sorted = ka.clone();
        ka_sorted.sort();
        kb.sort();
        if ka_sorted != kb {
            diffs.push(format!(
                "{sec}: ids differ\n  xform: {ka_sorted:?}\n  dbt:   {kb:?}"
            ));
            continue;
        }
        for (id, nb) in mb {
            let na = &ma[id];
            let keys_a: Vec<&String> = na
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            let keys_b: Vec<&String> = nb
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            if keys_a != keys_b {
                diffs.push(format!(
                    "{id}: keys differ\n  xform: {keys_a:?}\n  dbt:   {keys_b:?}"
                ));
            }
            for k in keys_b {
                if k == "created_at" || k == "root_path" {
                    continue;
                }
                if na[k] != nb[k] {
                    diffs.push(format!("{id}.{k}:\n  xform: {}\n  dbt:   {}", na[k], nb[k]));
                }
            }
        }
    }
    for map in ["parent_map", "child_map"] {
        if a[map] != b[map] {
            diffs.push(format!("{map} differs"));
        }
    }
    assert!(
        diffs.is_empty(),
        "manifest differs from dbt's:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn example_project_compiles_like_dbt() {
    compare(&repo().join("example_project"));
}

#[test]
fn feature_fixture_compiles_like_dbt() {
    compare(&fixture("compile/features"));
}

#[test]
fn package_fixture_compiles_like_dbt() {
    compare(&fixture("compile/packages"));
}

/// Every cross-database macro of the `dbt` namespace, the relation and
/// adapter helpers, a `dispatch:` override and a root-project override, and
/// the introspection a model has while compiling (`graph`, `model`,
/// `selected_resources`, `namespace`, `break`/`continue`).
#[test]
fn cross_db_fixture_compiles_like_dbt() {
    compare(&fixture("compile/cross_db"));
}

#[test]
fn cross_db_fixture_compiles_like_dbt_on_postgres() {
    compare_on_postgres(&fixture("compile/cross_db"));
}

/// `ls` with a set of selectors prints exactly what `dbt ls` prints.
#[test]
fn ls_output_matches_dbt() {
    let Some(dbt) = dbt() else { return };
    let project = fixture("compile/features");
    let ours = copy_project(&project);
    let theirs = copy_project(&project);
    for args in [
        vec!["ls"],
        vec!["ls", "--select", "source:raw+"],
        vec!["ls", "--resource-type", "source", "exposure"],
        vec!["ls", "--select", "tag:orders", "--output", "json"],
        vec!["ls", "--select", "test_type:generic,config.severity:error"],
        vec![
            "ls",
            "--select",
            "+fct_orders",
            "--exclude",
            "stg_customers",
            "--output",
            "path",
        ],
        vec!["ls", "--select", "@stg_orders", "--resource-type", "model"],
        vec![
            "ls",
            "--select",
            "path:models/marts",
            "--output",
            "selector",
        ],
    ] {
        let x = xform(ours.path(), &args);
        assert_eq!(x.code, 0, "{args:?}: {}", x.stderr);
        let d = Command::new(&dbt)
            .args(&args)
            .args(["--profiles-dir", ".", "-q"])
            .current_dir(theirs.path())
            .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
            .output()
            .expect("run dbt");
        assert_eq!(
            x.stdout,
            String::from_utf8_lossy(&d.stdout),
            "xform {args:?}"
        );
    }
}
