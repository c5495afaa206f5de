//! `xform check` and `xform lineage` on whole projects: no false positives
//! on valid projects, every output format, lineage through the DAG.

use std::fmt::Write as _;

use crate::support::{copy_project, fixture, repo, settings, xform};

fn example() -> tempfile::TempDir {
    copy_project(&repo().join("example_project"))
}

#[test]
fn check_reports_nothing_on_the_example_project() {
    let dir = example();
    let out = xform(dir.path(), &["check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("Checked 6 models"), "{}", out.stderr);
    let json = xform(dir.path(), &["check", "--format", "json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["errors"], 0);
    assert_eq!(v["models_checked"], 6);
    assert_eq!(v["diagnostics"], serde_json::json!([]));
}

#[test]
fn check_formats_for_ci() {
    let dir = copy_project(&fixture("errors/err_check_unknown_column"));
    let mut text = String::new();
    for format in ["github", "json", "junit"] {
        let out = xform(dir.path(), &["check", "--format", format]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        let _ = writeln!(text, "--- {format}\n{}", out.stdout.trim_end());
    }
    settings().bind(|| insta::assert_snapshot!(text));
}

#[test]
fn check_selection_checks_only_the_selected_models() {
    let dir = copy_project(&fixture("errors/err_check_unknown_column"));
    let out = xform(
        dir.path(),
        &["check", "--select", "fine", "--format", "json"],
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["models_checked"], 1);
}

#[test]
fn catalog_columns_make_sources_known() {
    let dir = copy_project(&fixture("errors/err_check_unknown_column"));
    // With the catalog, the source has `e_mail` rather than `email`; the
    // model's `c.emial` is still wrong and now suggests `e_mail`.
    std::fs::write(
        dir.path().join("catalog.json"),
        r#"{"metadata": {}, "nodes": {}, "errors": null, "sources": {
            "source.broken.shop.customers": {"metadata": {}, "stats": {}, "unique_id": "source.broken.shop.customers",
              "columns": {"ID": {"name": "id", "type": "INTEGER", "index": 1},
                          "FULL_NAME": {"name": "full_name", "type": "VARCHAR", "index": 2},
                          "E_MAIL": {"name": "e_mail", "type": "VARCHAR", "index": 3}}}}}"#,
    )
    .expect("write catalog");
    let out = xform(
        dir.path(),
        &["check", "--catalog", "catalog.json", "--format", "json"],
    );
    assert_eq!(out.code, 1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let helps: Vec<&str> = v["diagnostics"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["help"].as_str())
        .collect();
    assert_eq!(helps, ["did you mean `amount`?", "did you mean `e_mail`?"]);
}

#[test]
fn lineage_of_models_and_columns() {
    let dir = example();
    let mut text = String::new();
    for args in [
        vec!["lineage", "customer_lifetime_value"],
        vec![
            "lineage",
            "customer_lifetime_value.lifetime_value",
            "--upstream",
        ],
        vec!["lineage", "raw_customers.first_name", "--downstream"],
        vec![
            "lineage",
            "silver_sales.amount",
            "--downstream",
            "--format",
            "dot",
        ],
        vec![
            "lineage",
            "silver_customers.email",
            "--upstream",
            "--format",
            "json",
        ],
    ] {
        let out = xform(dir.path(), &args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let _ = writeln!(
            text,
            "$ xform {}\n{}",
            args.join(" "),
            out.stdout.trim_end()
        );
    }
    settings().bind(|| insta::assert_snapshot!(text));
}

#[test]
fn lineage_of_an_unknown_node_suggests_one() {
    let dir = example();
    let out = xform(dir.path(), &["lineage", "silver_sale"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("XF0720"), "{}", out.stderr);
    assert!(
        out.stderr.contains("did you mean `silver_sales`?"),
        "{}",
        out.stderr
    );
    let out = xform(dir.path(), &["lineage", "silver_sales.amout"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("did you mean `amount`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn warn_adds_style_warnings_without_failing() {
    let dir = example();
    std::fs::create_dir_all(dir.path().join("models/marts")).expect("mkdir");
    std::fs::write(
        dir.path().join("models/marts/everything.sql"),
        "with unused as (select 1 as x)\nselect * from {{ ref('silver_customers') }}\n",
    )
    .expect("write model");
    let out = xform(
        dir.path(),
        &[
            "check",
            "--warn",
            "--select",
            "everything",
            "--format",
            "github",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    settings().bind(|| insta::assert_snapshot!(out.stdout));
}

#[test]
fn dialect_flag_parses_as_another_warehouse() {
    let dir = copy_project(&fixture("errors/err_check_syntax_duckdb"));
    let models = |args: &[&str]| -> Vec<String> {
        let out = xform(dir.path(), args);
        assert_eq!(out.code, 1, "{}", out.stderr);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
        v["diagnostics"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|d| d["file"].as_str().map(str::to_owned))
            .collect()
    };
    // A trailing comma in the select list is DuckDB, not Postgres.
    assert_eq!(
        models(&["check", "--format", "json"]),
        ["models/orders.sql", "models/percent.sql"]
    );
    assert_eq!(
        models(&["check", "--format", "json", "--dialect", "postgres"]),
        [
            "models/orders.sql",
            "models/percent.sql",
            "models/trailing_comma_is_fine.sql"
        ]
    );
}

/// A layer wider than the chunks `check` parses and infers at a time (64
/// models per thread): every chunk is inferred from the shapes of the layer
/// before it, and each finding lands on its own model.
#[test]
fn wide_layers_are_inferred_chunk_by_chunk_from_the_layer_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let write = |rel: &str, text: &str| crate::support::write(root, rel, text);
    write(
        "dbt_project.yml",
        "name: wide\nversion: '1.0'\nprofile: wide\n",
    );
    write("seeds/base.csv", "id,amount\n1,10\n");
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for i in 0..300 {
        if i % 50 == 7 {
            // Misspelt: `amonut` is not a column of the seed.
            write(
                &format!("models/l1/m_{i}.sql"),
                "select id, amonut from {{ ref('base') }}\n",
            );
            write(
                &format!("models/l2/n_{i}.sql"),
                &format!("select id from {{{{ ref('m_{i}') }}}}\n"),
            );
            first.push(format!("m_{i}"));
            continue;
        }
        write(
            &format!("models/l1/m_{i}.sql"),
            &format!("select id, amount * {i} as v{i} from {{{{ ref('base') }}}}\n"),
        );
        // Every second-layer model reads its own first-layer model's
        // column, except a few that read a neighbour's, which is not there.
        let col = if i % 50 == 13 { i + 1 } else { i };
        write(
            &format!("models/l2/n_{i}.sql"),
            &format!("select id, v{col} as w from {{{{ ref('m_{i}') }}}}\n"),
        );
        if col != i {
            second.push(format!("n_{i}"));
        }
    }
    let out = xform(root, &["check", "--dialect", "duckdb", "--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["models_checked"], 600, "{}", out.stdout);
    let mut found: Vec<String> = v["diagnostics"]
        .as_array()
        .expect("list")
        .iter()
        .map(|d| {
            let file = d["file"].as_str().expect("file");
            std::path::Path::new(file)
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    found.sort();
    let mut expected: Vec<String> = first.into_iter().chain(second).collect();
    expected.sort();
    assert_eq!(found, expected, "{}", out.stdout);
    // Lineage reaches from the last layer through the first to the seed.
    let out = xform(root, &["lineage", "n_299.w", "--upstream"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("m_299.v299"), "{}", out.stdout);
    assert!(out.stdout.contains("base.amount"), "{}", out.stdout);
}
