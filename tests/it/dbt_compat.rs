//! `ls` output compared with dbt-core 1.11 on the same project. (Compiled
//! SQL and the manifest of the example project and the compile fixtures are
//! compared by the harness, `compat/run`, which CI runs.)

use std::process::Command;

use crate::support::{copy_project, dbt, ensure_duckdb_profile, fixture, xform};

/// `ls` with a set of selectors prints exactly what `dbt ls` prints.
#[test]
fn ls_output_matches_dbt() {
    let project = fixture("compile/features");
    ls_matches_dbt(
        &project,
        &[
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
        ],
    );
}

/// Versioned models: by name (every version), `name.vN`, `name_vN`, a bare
/// wildcard, `version:`; and their JSON (`version`, fqn, alias).
#[test]
fn ls_of_model_versions_matches_dbt() {
    let project = fixture("run/versions");
    ls_matches_dbt(
        &project,
        &[
            vec![
                "ls",
                "--select",
                "dim_customers",
                "--resource-type",
                "model",
                "--output",
                "json",
            ],
            vec!["ls", "--select", "dim_customers"],
            vec![
                "ls",
                "--select",
                "dim_customers.v1",
                "events_v2",
                "contracted.v2",
            ],
            vec!["ls", "--select", "dim_*", "--output", "selector"],
            vec!["ls", "--select", "version:prerelease", "version:old"],
            vec!["ls", "--select", "version:latest", "--output", "name"],
            vec!["ls", "--select", "version:none", "--resource-type", "model"],
            vec![
                "ls",
                "--select",
                "+uses",
                "--resource-type",
                "model",
                "--output",
                "path",
            ],
            vec!["ls", "--resource-type", "unit_test", "test"],
            vec!["ls", "--output", "name"],
        ],
    );
}

fn ls_matches_dbt(project: &std::path::Path, cases: &[Vec<&str>]) {
    let Some(dbt) = dbt() else { return };
    let ours = copy_project(project);
    let theirs = copy_project(project);
    for dir in [ours.path(), theirs.path()] {
        ensure_duckdb_profile(dir);
    }
    for args in cases {
        let x = xform(ours.path(), args);
        assert_eq!(x.code, 0, "{args:?}: {}", x.stderr);
        let d = Command::new(&dbt)
            .args(args)
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
