//! Command-line behaviour: `ls` output formats and selection, flags.

use std::fmt::Write as _;

use crate::support::{copy_project, repo, settings, xform};

fn example() -> tempfile::TempDir {
    copy_project(&repo().join("example_project"))
}

#[test]
fn ls_lists_selected_nodes_by_name_path_and_json() {
    let dir = example();
    let mut text = String::new();
    for args in [
        vec!["ls"],
        vec![
            "ls",
            "--select",
            "+silver_sales",
            "--resource-type",
            "model",
        ],
        vec!["ls", "--select", "tag:gold", "--output", "path"],
        vec![
            "ls",
            "-s",
            "silver_customers+1",
            "--exclude",
            "resource_type:test",
        ],
        vec![
            "ls",
            "--select",
            "stg_sales_deduped,config.materialized:ephemeral",
            "--output",
            "json",
            "--output-keys",
            "name",
            "resource_type",
        ],
        vec!["ls", "--select", "test_type:singular"],
        vec![
            "list",
            "--select",
            "@silver_payments",
            "--resource-type",
            "seed",
        ],
        vec!["ls", "--resource-type", "analysis"],
    ] {
        let out = xform(dir.path(), &args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        let _ = writeln!(text, "$ xform {}\n{}", args.join(" "), out.stdout);
    }
    settings().bind(|| insta::assert_snapshot!(text));
}

#[test]
fn version_and_help_work_without_a_project() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = xform(dir.path(), &["--version"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with("xform "), "{}", out.stdout);
    for cmd in [
        "parse",
        "compile",
        "ls",
        "debug",
        "seed",
        "run",
        "test",
        "build",
        "snapshot",
        "show",
        "retry",
        "clean",
        "deps",
        "run-operation",
    ] {
        let out = xform(dir.path(), &[cmd, "--help"]);
        assert_eq!(out.code, 0, "{cmd} --help");
        assert!(
            out.stdout.contains("--project-dir"),
            "{cmd}: {}",
            out.stdout
        );
    }
}

#[test]
fn vars_override_project_vars() {
    let dir = example();
    let out = xform(
        dir.path(),
        &[
            "compile",
            "--select",
            "silver_payments",
            "--vars",
            "{min_payment_amount: 5}",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sql = std::fs::read_to_string(
        dir.path()
            .join("target/compiled/shop/models/silver/silver_payments.sql"),
    )
    .expect("compiled");
    assert!(sql.contains("where amount >= 5"), "{sql}");
}

#[test]
fn profiles_dir_flag_and_env_var_are_honoured() {
    let dir = example();
    let profiles = tempfile::tempdir().expect("tmp");
    std::fs::write(
        profiles.path().join("profiles.yml"),
        "shop:\n  target: ci\n  outputs:\n    ci:\n      type: duckdb\n      path: other.duckdb\n      schema: analytics\n",
    )
    .expect("write");
    std::fs::remove_file(dir.path().join("profiles.yml")).expect("rm");
    let p = profiles.path().to_string_lossy().into_owned();
    let out = xform(
        dir.path(),
        &["compile", "--profiles-dir", &p, "--select", "daily_revenue"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sql = std::fs::read_to_string(
        dir.path()
            .join("target/compiled/shop/models/gold/daily_revenue.sql"),
    )
    .expect("compiled");
    assert!(
        sql.contains(r#""other"."analytics"."silver_sales""#),
        "{sql}"
    );
}

#[test]
fn linked_duckdb_is_the_pinned_release() {
    // The fast path links the npm build of libduckdb; it must be the same
    // DuckDB release the `duckdb` crate bundles (see Cargo.toml).
    let v = xform::adapter::duckdb::library_version().expect("duckdb");
    assert_eq!(v, xform::adapter::duckdb::PINNED_VERSION);
}
