//! `xform compile` on fixture projects: the compiled SQL is snapshotted.

use std::fmt::Write as _;

use crate::support::{copy_project, read_tree, settings, xform};

#[test]
fn compiled_sql_of_fixture_projects() {
    insta::glob!("../fixtures", "compile/*/dbt_project.yml", |path| {
        let project = path.parent().expect("project dir");
        let dir = copy_project(project);
        let out = xform(dir.path(), &["compile"]);
        assert_eq!(out.code, 0, "compile failed:\n{}", out.stderr);
        let mut text = String::new();
        for (rel, sql) in read_tree(&dir.path().join("target/compiled")) {
            let _ = write!(text, "-- {rel}\n{sql}\n\n");
        }
        settings().bind(|| insta::assert_snapshot!(text));
    });
}

#[test]
fn example_project_compiles() {
    let dir = copy_project(&crate::support::repo().join("example_project"));
    let out = xform(dir.path(), &["compile"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sales = std::fs::read_to_string(
        dir.path()
            .join("target/compiled/shop/models/silver/silver_sales.sql"),
    )
    .expect("compiled silver_sales");
    assert!(
        sales.contains("with __dbt__cte__stg_sales_deduped as ("),
        "{sales}"
    );
    assert!(
        sales.contains(r#"from "shop"."main"."raw_sales""#),
        "{sales}"
    );
}

#[test]
fn inline_query_prints_rendered_sql() {
    let dir = copy_project(&crate::support::repo().join("example_project"));
    let out = xform(
        dir.path(),
        &[
            "compile",
            "--inline",
            "select * from {{ ref('daily_revenue') }} limit {{ 1 + 1 }}",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "select * from \"shop\".\"main\".\"daily_revenue\" limit 2\n"
    );
}

#[test]
fn parse_writes_manifest_and_summary() {
    let dir = copy_project(&crate::support::repo().join("example_project"));
    let out = xform(dir.path(), &["parse"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Parsed 6 models, 17 data tests, 3 seeds, 1 snapshot"),
        "{}",
        out.stderr
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("target/manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["metadata"]["project_name"], "shop");
    assert_eq!(
        manifest["parent_map"]["model.shop.silver_sales"],
        serde_json::json!(["model.shop.stg_sales_deduped"])
    );
}
