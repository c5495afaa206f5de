//! `xform compile` on fixture projects: the compiled SQL is snapshotted.

use std::fmt::Write as _;
use std::path::Path;

use crate::support::{copy_project, read_manifest, read_tree, settings, write, xform};

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
    let manifest: serde_json::Value = crate::support::read_manifest(dir.path());
    assert_eq!(manifest["metadata"]["project_name"], "shop");
    assert_eq!(
        manifest["parent_map"]["model.shop.silver_sales"],
        serde_json::json!(["model.shop.stg_sales_deduped"])
    );
    // Nothing is compiled: dbt leaves the compiled fields out.
    let model = &manifest["nodes"]["model.shop.silver_sales"];
    for key in [
        "compiled",
        "compiled_code",
        "extra_ctes_injected",
        "extra_ctes",
    ] {
        assert!(model.get(key).is_none(), "{key}: {model}");
    }
    assert!(model["compiled_path"].is_null(), "{model}");
    // dbt parses unique and not_null without rendering their arguments;
    // compiling them calls get_where_subquery.
    let not_null = "test.shop.not_null_silver_sales_sale_id.48c401fbc3";
    assert_eq!(
        manifest["nodes"][not_null]["depends_on"]["macros"],
        serde_json::json!(["macro.dbt.test_not_null"])
    );
    let out = xform(dir.path(), &["compile"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let manifest: serde_json::Value = crate::support::read_manifest(dir.path());
    assert_eq!(
        manifest["nodes"]["model.shop.silver_sales"]["compiled"],
        true
    );
    assert_eq!(
        manifest["nodes"][not_null]["depends_on"]["macros"],
        serde_json::json!(["macro.dbt.test_not_null", "macro.dbt.get_where_subquery"])
    );
}

/// A project whose YAML uses Jinja the way real dbt projects do: config
/// trees keyed on `target`, properties configs from `env_var()`, a source
/// schema from `var()`. Returns the folder.
fn yaml_jinja_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = dir.path();
    write(
        p,
        "dbt_project.yml",
        "name: yj\nprofile: yj\nvars:\n  raw_schema: landing\nmodels:\n  yj:\n    +materialized: \"{{ 'table' if target.name == 'prod' else 'view' }}\"\n    +post-hook: \"select '{{ this }}'\"\n",
    );
    write(
        p,
        "profiles.yml",
        "yj:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: dev.duckdb}\n    prod: {type: duckdb, path: prod.duckdb}\n",
    );
    write(
        p,
        "models/props.yml",
        "version: 2\nsources:\n  - name: raw\n    schema: \"{{ var('raw_schema') }}\"\n    tables: [{name: events}]\nmodels:\n  - name: a\n    description: \"{{ doc('a_doc') }}\"\n    config:\n      tags: [\"{{ target.name }}\"]\n      meta: {owner: \"{{ env_var('YJ_OWNER', 'nobody') }}\"}\n  - name: prod_only\n    config:\n      enabled: \"{{ target.name == 'prod' }}\"\n",
    );
    write(
        p,
        "models/docs.md",
        "{% docs a_doc %}The a model.{% enddocs %}\n",
    );
    write(
        p,
        "models/a.sql",
        "select * from {{ source('raw', 'events') }}\n",
    );
    write(p, "models/prod_only.sql", "select 1 as x\n");
    dir
}

/// A temp project `name` (its profile too) on a `DuckDB` file, with
/// `extra` appended to its `dbt_project.yml`.
fn duckdb_project(name: &str, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = dir.path();
    write(
        p,
        "dbt_project.yml",
        &format!("name: {name}\nprofile: {name}\n{extra}"),
    );
    write(
        p,
        "profiles.yml",
        &format!(
            "{name}:\n  target: dev\n  outputs:\n    dev: {{type: duckdb, path: dev.duckdb}}\n"
        ),
    );
    dir
}

fn ls_json(dir: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["ls", "--output", "json", "--resource-type", "model"];
    all.extend_from_slice(args);
    let out = xform(dir, &all);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// Models share their folder's project-file config (worked out once per
/// folder); a model the tree names itself, by a key of its own or by a
/// config key that is its name, gets its own.
#[test]
fn project_file_configs_per_folder_and_per_named_model() {
    let dir = duckdb_project(
        "fc",
        "models:\n  fc:\n    +materialized: view\n    staging:\n      +tags: [stg]\n      special:\n        +materialized: table\n      docs:\n        show: false\n    marts:\n      +materialized: table\n",
    );
    let p = dir.path();
    for f in [
        "models/top.sql",
        "models/staging/plain.sql",
        "models/staging/other.sql",
        "models/staging/special.sql",
        "models/staging/docs.sql",
        "models/staging/deeper/deep.sql",
        "models/marts/m.sql",
    ] {
        write(p, f, "select 1 as x\n");
    }
    let nodes = ls_json(p, &[]);
    let config = |name: &str| {
        nodes
            .iter()
            .find(|n| n["name"] == name)
            .unwrap_or_else(|| panic!("no model {name}"))["config"]
            .clone()
    };
    let tags = |name: &str| config(name)["tags"].clone();
    assert_eq!(config("top")["materialized"], "view");
    assert_eq!(tags("top"), serde_json::json!([]));
    for name in ["plain", "other", "deep"] {
        assert_eq!(config(name)["materialized"], "view", "{name}");
        assert_eq!(tags(name), serde_json::json!(["stg"]), "{name}");
        assert_eq!(config(name)["docs"]["show"], false, "{name}");
    }
    assert_eq!(config("special")["materialized"], "table");
    assert_eq!(tags("special"), serde_json::json!(["stg"]));
    assert_eq!(config("special")["docs"]["show"], false);
    // For the model `docs`, `docs:` is the path to its own level.
    assert_eq!(config("docs")["docs"]["show"], true);
    assert_eq!(config("docs")["show"], false);
    assert_eq!(config("m")["materialized"], "table");
}

/// A properties file patches every entry, also those after a versioned
/// model (patching one moves its nodes in the project's node map, so an
/// entry read beforehand is looked up again).
#[test]
fn entries_after_a_versioned_model_are_patched_with_their_tests() {
    let dir = duckdb_project("pv", "");
    let p = dir.path();
    for f in [
        "models/a.sql",
        "models/v_v1.sql",
        "models/v_v2.sql",
        "models/z.sql",
    ] {
        write(p, f, "select 1 as x\n");
    }
    write(
        p,
        "models/props.yml",
        "models:\n  - name: a\n    description: first\n  - name: v\n    latest_version: 2\n    versions:\n      - v: 1\n      - v: 2\n  - name: z\n    description: last\n    columns:\n      - name: x\n        data_tests: [not_null]\n",
    );
    let out = xform(p, &["parse"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let m = read_manifest(p);
    let nodes = &m["nodes"];
    assert_eq!(nodes["model.pv.a"]["description"], "first");
    assert_eq!(nodes["model.pv.z"]["description"], "last");
    assert_eq!(nodes["model.pv.z"]["columns"]["x"]["name"], "x");
    assert_eq!(nodes["model.pv.v.v1"]["version"], 1);
    assert_eq!(nodes["model.pv.v.v2"]["version"], 2);
    let tests: Vec<&str> = nodes
        .as_object()
        .expect("nodes")
        .values()
        .filter(|n| n["resource_type"] == "test")
        .map(|n| n["attached_node"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(tests, ["model.pv.z"]);
}

#[test]
fn jinja_in_project_and_properties_yaml_is_rendered_per_target() {
    let dir = yaml_jinja_project();
    let dev = ls_json(dir.path(), &[]);
    assert_eq!(dev.len(), 1, "prod_only is disabled in dev: {dev:?}");
    let a = &dev[0]["config"];
    assert_eq!(a["materialized"], "view");
    assert_eq!(a["tags"], serde_json::json!(["dev"]));
    assert_eq!(a["meta"]["owner"], "nobody");
    // Hooks are rendered at run time, not at load.
    assert_eq!(a["post-hook"][0]["sql"], "select '{{ this }}'");

    let prod = ls_json(dir.path(), &["--target", "prod"]);
    let names: Vec<&str> = prod.iter().filter_map(|n| n["name"].as_str()).collect();
    assert_eq!(names, ["a", "prod_only"]);
    assert_eq!(prod[0]["config"]["materialized"], "table");
    assert_eq!(prod[0]["config"]["tags"], serde_json::json!(["prod"]));

    let out = xform(dir.path(), &["compile", "--select", "a"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sql = std::fs::read_to_string(dir.path().join("target/compiled/yj/models/a.sql"))
        .expect("compiled a");
    assert!(sql.contains(r#""landing"."events""#), "{sql}");
    let manifest: serde_json::Value = crate::support::read_manifest(dir.path());
    let node = &manifest["nodes"]["model.yj.a"];
    assert_eq!(node["description"], "The a model.");
    // What was written stays in `unrendered_config`, for state comparison.
    assert_eq!(
        node["unrendered_config"]["materialized"],
        "{{ 'table' if target.name == 'prod' else 'view' }}"
    );
    assert_eq!(
        manifest["sources"]["source.yj.raw.events"]["unrendered_schema"],
        "{{ var('raw_schema') }}"
    );
}

/// dbt renders the config of data tests (`TestBuilder`, natively) and of
/// unit tests (`render_entry`) when it loads them, so selection sees the
/// rendered values.
#[test]
fn test_and_unit_test_configs_are_rendered_per_target() {
    let dir = yaml_jinja_project();
    let p = dir.path();
    write(p, "models/b.sql", "select 1 as x\n");
    write(
        p,
        "models/b.yml",
        "version: 2\nmodels:\n  - name: b\n    columns:\n      - name: x\n        data_tests:\n          - not_null:\n              config:\n                enabled: \"{{ target.name == 'prod' }}\"\nunit_tests:\n  - name: b_unit\n    model: b\n    given: []\n    expect: {rows: [{x: 1}]}\n    config:\n      tags: \"{{ 'skip' if target.name == 'prod' else 'runnable' }}\"\n",
    );
    let ls = |args: &[&str]| {
        let out = xform(p, args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
    };
    let runnable = [
        "ls",
        "--resource-type",
        "unit_test",
        "--select",
        "tag:runnable",
    ];
    assert!(ls(&runnable).contains("b_unit"));
    let mut prod = runnable.to_vec();
    prod.extend(["--target", "prod"]);
    assert!(!ls(&prod).contains("b_unit"));
    assert!(!ls(&["ls", "--resource-type", "test"]).contains("not_null_b_x"));
    assert!(ls(&["ls", "--resource-type", "test", "--target", "prod"]).contains("not_null_b_x"));
}

#[test]
fn yaml_jinja_that_fails_to_render_points_at_the_value() {
    let dir = yaml_jinja_project();
    write(
        dir.path(),
        "models/more.yml",
        "version: 2\nmodels:\n  - name: b\n    config:\n      schema: \"{{ var('no_such_var') }}\"\n",
    );
    write(dir.path(), "models/b.sql", "select 1 as y\n");
    let out = xform(dir.path(), &["parse"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("XF0155"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("cannot render `models.0.config.schema` in `models/more.yml`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("no_such_var"), "{}", out.stderr);
    assert!(
        out.stderr.contains("models/more.yml:5:15"),
        "{}",
        out.stderr
    );

    write(
        dir.path(),
        "dbt_project.yml",
        "name: yj\nprofile: yj\nmodels:\n  yj:\n    +schema: \"{{ target.nme.upper() }}\"\n",
    );
    let out = xform(dir.path(), &["parse"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("cannot render `models.yj.+schema` in `dbt_project.yml`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("dbt_project.yml:5:14"),
        "{}",
        out.stderr
    );
}

/// `compile` opens the warehouse only for a node that queries it, and
/// never with `--no-introspect`: here the Postgres target is unreachable.
#[test]
fn compile_reaches_the_warehouse_only_when_a_macro_queries_it() {
    let dir = copy_project(&crate::support::fixture("compile/cross_db"));
    let unreachable = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_xform"))
            .args(args)
            .args(["--target", "postgres"])
            .current_dir(dir.path())
            .env("XFORM_TEST_PG_PORT", "1")
            .env("NO_COLOR", "1")
            .output()
            .expect("run xform")
    };
    let offline = unreachable(&["compile", "-s", "strings", "dates"]);
    assert!(
        offline.status.success(),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    let asks = unreachable(&["compile", "-s", "introspective"]);
    let stderr = String::from_utf8_lossy(&asks.stderr);
    assert_eq!(asks.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("queries the warehouse, which cannot be reached")
            && stderr.contains("--no-introspect"),
        "{stderr}"
    );
    let without = unreachable(&["compile", "-s", "introspective", "--no-introspect"]);
    assert!(
        without.status.success(),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
    let sql = std::fs::read_to_string(
        dir.path()
            .join("target/compiled/cross_db/models/introspective.sql"),
    )
    .expect("compiled introspective.sql");
    // Without the warehouse the spine has one interval and nothing answers.
    assert!(sql.contains("0 as answer"), "{sql}");
}

#[test]
fn compile_records_the_macros_a_node_calls_only_when_executing() {
    let dir = duckdb_project("cm", "");
    let p = dir.path();
    write(
        p,
        "models/m.sql",
        "{% if execute %}{% set r = run_query('select 1 as x') %}{% endif %}\nselect 1 as x\n",
    );
    let macros = |p: &Path| {
        let manifest: serde_json::Value = crate::support::read_manifest(p);
        manifest["nodes"]["model.cm.m"]["depends_on"]["macros"].clone()
    };
    let out = xform(p, &["parse"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(macros(p), serde_json::json!([]));
    // dbt records the macros a node's compile calls from its own template.
    let out = xform(p, &["compile"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(macros(p), serde_json::json!(["macro.dbt.run_query"]));
}

#[test]
fn sources_come_before_refs_in_depends_on() {
    let dir = duckdb_project("so", "");
    let p = dir.path();
    write(
        p,
        "models/sources.yml",
        "version: 2\nsources:\n  - name: raw\n    tables: [{name: events}]\n",
    );
    write(p, "models/a.sql", "select 1 as x\n");
    write(
        p,
        "models/b.sql",
        "select * from {{ ref('a') }} union all select * from {{ source('raw', 'events') }}\n",
    );
    let out = xform(p, &["parse"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let manifest: serde_json::Value = crate::support::read_manifest(p);
    // dbt resolves all sources, then all refs.
    assert_eq!(
        manifest["nodes"]["model.so.b"]["depends_on"]["nodes"],
        serde_json::json!(["source.so.raw.events", "model.so.a"])
    );
}

#[test]
fn a_generic_test_records_its_arguments_macros_when_compiled() {
    let dir = duckdb_project("gt", "");
    let p = dir.path();
    write(
        p,
        "macros/m.sql",
        "{% macro my_val() %}1{% endmacro %}\n{% test is_const(model, column_name, value) %}\nselect * from {{ model }} where {{ column_name }} != {{ value }}\n{% endtest %}\n",
    );
    write(p, "models/a.sql", "select 1 as x\n");
    write(
        p,
        "models/s.yml",
        "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: x\n        data_tests:\n          - is_const:\n              arguments:\n                value: \"{{ my_val() }}\"\n",
    );
    let macros = |p: &Path| {
        let manifest: serde_json::Value = crate::support::read_manifest(p);
        manifest["nodes"]["test.gt.is_const_a_x___my_val_.f15724e9ef"]["depends_on"]["macros"]
            .clone()
    };
    // dbt parses a generic test where only the test macro and
    // get_where_subquery are defined: my_val is not recorded.
    let out = xform(p, &["parse"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        macros(p),
        serde_json::json!(["macro.gt.test_is_const", "macro.dbt.get_where_subquery"])
    );
    let out = xform(p, &["compile"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        macros(p),
        serde_json::json!([
            "macro.gt.test_is_const",
            "macro.dbt.get_where_subquery",
            "macro.gt.my_val"
        ])
    );
}

/// The four built-in generic tests compile without a render when nothing
/// replaces their macros; the SQL (and what the manifest records) must be
/// byte for byte the render's. A project that replaces
/// `should_store_failures` (with the same body) turns the shortcut off, so
/// the two compiles below take the two paths.
#[test]
fn built_in_generic_tests_compile_as_their_macros_render() {
    let dir = duckdb_project("gt", "vars:\n  colour: red\n");
    let p = dir.path();
    write(
        p,
        "models/a.sql",
        "select 1 as id, 'red' as colour, 2 as n, 1 as \"Id\"\n",
    );
    write(p, "models/b.sql", "select 1 as id\n");
    write(
        p,
        "models/eph.sql",
        "{{ config(materialized='ephemeral') }}\nselect 1 as x\n",
    );
    write(
        p,
        "models/s.yml",
        r#"version: 2
sources:
  - name: src
    tables:
      - name: t
models:
  - name: a
    columns:
      - name: id
        data_tests:
          - not_null
          - unique
          - not_null:
              name: kept_failures
              config: {store_failures: true}
          - not_null:
              name: filtered
              config: {where: "n > 1"}
          - relationships:
              arguments: {to: ref('b'), field: id}
          - relationships:
              name: to_source
              arguments: {to: "source('src', 't')", field: k}
          - relationships:
              name: to_package_ref
              arguments: {to: "ref('gt', 'eph')", field: x}
      - name: colour
        data_tests:
          - accepted_values:
              arguments: {values: ['red', "it's", 'blue']}
          - accepted_values:
              name: templated
              arguments: {values: ["{{ var('colour') }}"]}
      - name: n
        data_tests:
          - accepted_values:
              arguments: {values: [1, 2, 3], quote: false}
          - accepted_values:
              name: none_accepted
              arguments: {values: []}
      - name: Id
        quote: true
        data_tests: [unique, not_null]
  - name: eph
    columns:
      - name: x
        data_tests: [not_null, unique]
  - name: b
    quote_columns: true
    columns:
      - name: id
        data_tests: [unique]
"#,
    );
    let compile = |p: &Path| {
        let out = xform(p, &["compile"]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        let manifest = crate::support::read_manifest(p);
        let tests: Vec<(String, serde_json::Value)> = manifest["nodes"]
            .as_object()
            .expect("nodes")
            .iter()
            .filter(|(k, _)| k.starts_with("test."))
            .map(|(k, v)| {
                (
                    k.clone(),
                    serde_json::json!({
                        "compiled_code": v["compiled_code"],
                        "extra_ctes": v["extra_ctes"],
                        "depends_on": v["depends_on"],
                    }),
                )
            })
            .collect();
        (read_tree(&p.join("target/compiled")), tests)
    };
    let (fast_files, fast_nodes) = compile(p);
    // The files dbt-core 1.11 writes for this project.
    let names: Vec<&str> = fast_files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "gt/models/a.sql",
            "gt/models/b.sql",
            "gt/models/eph.sql",
            "gt/models/s.yml/accepted_values_a_colour__red__it_s__blue.sql",
            "gt/models/s.yml/accepted_values_a_n__False__1__2__3.sql",
            "gt/models/s.yml/filtered.sql",
            "gt/models/s.yml/kept_failures.sql",
            "gt/models/s.yml/none_accepted.sql",
            "gt/models/s.yml/not_null_a__Id_.sql",
            "gt/models/s.yml/not_null_a_id.sql",
            "gt/models/s.yml/not_null_eph_x.sql",
            "gt/models/s.yml/relationships_a_id__id__ref_b_.sql",
            "gt/models/s.yml/templated.sql",
            "gt/models/s.yml/to_package_ref.sql",
            "gt/models/s.yml/to_source.sql",
            "gt/models/s.yml/unique_a__Id_.sql",
            "gt/models/s.yml/unique_a_id.sql",
            "gt/models/s.yml/unique_b__id_.sql",
            "gt/models/s.yml/unique_eph_x.sql",
        ]
    );
    let kept = fast_nodes
        .iter()
        .find(|(k, _)| k.starts_with("test.gt.kept_failures"))
        .expect("kept_failures");
    assert!(
        kept.1["compiled_code"]
            .as_str()
            .is_some_and(|s| s.contains("select *\nfrom \"dev\".\"main\".\"a\"")),
        "{kept:?}"
    );
    write(
        p,
        "macros/ssf.sql",
        "{% macro should_store_failures() %}\n  {% set s = config.get('store_failures') %}\n  {% if s is none %}{% set s = flags.STORE_FAILURES %}{% endif %}\n  {% do return(s) %}\n{% endmacro %}\n",
    );
    let (rendered_files, rendered_nodes) = compile(p);
    assert_eq!(fast_files, rendered_files);
    assert_eq!(fast_nodes, rendered_nodes);
}

/// The manifest's `primary_key` of each model: a primary-key constraint,
/// else columns with both `unique` and `not_null` tests, else those with a
/// `unique` test. Only tests attached to the model count, not a test of
/// another model that refs it.
#[test]
fn manifest_primary_keys_come_from_the_models_own_tests_and_constraints() {
    let dir = duckdb_project("pk", "");
    let p = dir.path();
    for m in ["both", "uniq", "child", "keyed", "plain"] {
        write(p, &format!("models/{m}.sql"), "select 1 as id\n");
    }
    write(
        p,
        "models/props.yml",
        "version: 2\nmodels:\n\
         \x20 - name: both\n    columns:\n\
         \x20     - {name: name, data_tests: [unique]}\n\
         \x20     - {name: id, data_tests: [unique, not_null]}\n\
         \x20 - name: uniq\n    columns:\n\
         \x20     - {name: y, data_tests: [unique]}\n\
         \x20     - {name: x, data_tests: [unique, {accepted_values: {values: [1]}}]}\n\
         \x20 - name: child\n    columns:\n\
         \x20     - name: both_id\n        data_tests:\n\
         \x20         - not_null\n\
         \x20         - relationships: {to: \"ref('both')\", field: name}\n\
         \x20 - name: keyed\n    constraints: [{type: primary_key, columns: [k2, k1]}]\n    columns:\n\
         \x20     - {name: z, data_tests: [unique, not_null]}\n",
    );
    let out = xform(p, &["parse"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let manifest = crate::support::read_manifest(p);
    let pk = |m: &str| manifest["nodes"][format!("model.pk.{m}")]["primary_key"].clone();
    assert_eq!(pk("both"), serde_json::json!(["id"]));
    assert_eq!(pk("uniq"), serde_json::json!(["x", "y"]));
    assert_eq!(pk("child"), serde_json::json!([]));
    assert_eq!(pk("keyed"), serde_json::json!(["k2", "k1"]));
    assert_eq!(pk("plain"), serde_json::json!([]));
}

/// The manifest without what differs from run to run.
fn stable_manifest(dir: &Path) -> serde_json::Value {
    let mut m = read_manifest(dir);
    m["metadata"] = serde_json::Value::Null;
    for kind in ["nodes", "sources"] {
        if let Some(nodes) = m[kind].as_object_mut() {
            for n in nodes.values_mut() {
                n["created_at"] = serde_json::Value::Null;
            }
        }
    }
    m
}

/// Models of text and literal `ref`/`source`/`config` calls are read and
/// compiled without a render; what that gives (compiled SQL with the CTEs
/// of ephemerals, the manifest) is what rendering every model gives.
#[test]
fn models_without_statements_compile_as_their_render_does() {
    let make = || {
        let dir = duckdb_project("st", "vars:\n  low: 5\n  tag: t\n");
        let p = dir.path();
        write(
            p,
            "models/props.yml",
            "version: 2\nsources:\n  - name: raw\n    tables: [{name: events}]\nmodels:\n  - name: vm\n    latest_version: 2\n    versions: [{v: 1}, {v: 2}]\n",
        );
        write(p, "models/base.sql", "select 1 as id, 'a' as name\n");
        write(
            p,
            "models/eph.sql",
            "{{ config(materialized='ephemeral') }}\nselect * from {{ ref('base') }}\n",
        );
        write(
            p,
            "models/shapes.sql",
            "{{ config(materialized='table', tags=['a', \"b\"], meta={'owner': 'x', 'n': 1, 'ok': True, 'none': None}, alias='shapes_t') }}\r\n\
             -- { braces } and }} are text {# a comment: {{ ref('nope') }} #}\r\n\
             select e.*, '{x}' as t from {{ ref( 'st' ,\n 'eph' ) }} e\r\n\
             join {{source('raw','events')}} s on true\r\n",
        );
        write(
            p,
            "models/two_newlines.sql",
            "select * from {{ ref('base') }}\n\n",
        );
        write(p, "models/vm_v1.sql", "select 1 as v\n");
        write(p, "models/vm_v2.sql", "select 2 as v\n");
        write(
            p,
            "models/uses_vm.sql",
            "select * from {{ ref('vm', v=1) }} where v >= {{ var('low') }} and '{{ var('tag') }}' <> '{{ var('missing', none) }}' union all select * from {{ ref('vm') }}",
        );
        write(
            p,
            "models/dynamic.sql",
            "{% if execute %}select 1{% endif %} as x -- {{ this }}\n",
        );
        write(
            p,
            "models/with_statement.sql",
            "select * from {{ ref('base') }}{% if execute %} where true{% endif %}\n",
        );
        dir
    };
    let plain = make();
    let out = xform(plain.path(), &["compile", "-v"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("(7 models read without a render)"),
        "{}",
        out.stderr
    );
    let rendered = make();
    let out = xform(rendered.path(), &["compile", "-v", "--no-static-parser"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("(0 models read without a render)"),
        "{}",
        out.stderr
    );
    let compiled = |d: &Path| read_tree(&d.join("target/compiled"));
    let got = compiled(plain.path());
    assert_eq!(got.len(), 9, "{got:#?}");
    assert_eq!(got, compiled(rendered.path()));
    assert_eq!(
        stable_manifest(plain.path()),
        stable_manifest(rendered.path())
    );
    let shapes = &got
        .iter()
        .find(|(f, _)| f.ends_with("shapes.sql"))
        .expect("shapes")
        .1;
    assert!(
        shapes
            == "\r\nwith __dbt__cte__eph as (\n\nselect * from \"dev\".\"main\".\"base\"\n) -- { braces } and }} are text \r\nselect e.*, '{x}' as t from __dbt__cte__eph e\r\njoin \"dev\".\"raw\".\"events\" s on true",
        "{shapes:?}"
    );
    let m = read_manifest(plain.path());
    let node = &m["nodes"]["model.st.shapes"];
    assert_eq!(
        node["config"]["meta"],
        serde_json::json!({"owner": "x", "n": 1, "ok": true, "none": null})
    );
    assert_eq!(node["tags"], serde_json::json!(["a", "b"]));
    assert_eq!(node["relation_name"], "\"dev\".\"main\".\"shapes_t\"");
    assert_eq!(
        m["nodes"]["model.st.uses_vm"]["depends_on"]["nodes"],
        serde_json::json!(["model.st.vm.v1", "model.st.vm.v2"])
    );
    assert!(
        got.iter().any(|(f, sql)| f.ends_with("uses_vm.sql")
            && sql.contains("where v >= 5 and 't' <> 'None' union all")),
        "{got:#?}"
    );
    // Either way, one model that cannot compile is reported where it is.
    let broken = |flag: &[&str]| {
        let dir = make();
        write(
            dir.path(),
            "models/bad.sql",
            "select 1\nfrom {{ ref('nope') }}\n",
        );
        let mut args = vec!["compile"];
        args.extend_from_slice(flag);
        xform(dir.path(), &args)
    };
    let (a, b) = (broken(&[]), broken(&["--no-static-parser"]));
    assert_eq!(a.code, 1, "{}", a.stderr);
    assert_eq!((a.code, &a.stdout), (b.code, &b.stdout));
    assert!(a.stderr.contains("models/bad.sql:2:"), "{}", a.stderr);
    assert_eq!(a.stderr, b.stderr);
}

/// A root project that replaces `ref` (or `source`) has every model
/// rendered, so its macro runs for refs that a model writes literally.
#[test]
fn a_root_ref_macro_is_called_for_literal_refs() {
    let dir = duckdb_project("rr", "");
    let p = dir.path();
    write(p, "models/base.sql", "select 1 as id\n");
    write(p, "models/uses.sql", "select * from {{ ref('base') }}\n");
    write(
        p,
        "macros/ref.sql",
        "{% macro ref(name) %}{{ return(builtins.ref(name).include(database=false)) }}{% endmacro %}\n",
    );
    let out = xform(p, &["compile", "-v"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("(0 models read without a render)"),
        "{}",
        out.stderr
    );
    let sql = std::fs::read_to_string(p.join("target/compiled/rr/models/uses.sql")).unwrap();
    assert_eq!(sql, "select * from \"main\".\"base\"");
}
