//! `ls` output compared with dbt-core 1.11 on the same project. (Compiled
//! SQL and the manifest of the example project and the compile fixtures are
//! compared by the harness, `compat/run`, which CI runs.)

use std::process::Command;

use crate::support::{copy_project, dbt, fixture, xform};

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
