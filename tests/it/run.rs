//! The run phase on real `DuckDB` files: contents after builds, refusal of
//! unsafe merges, failures that leave built relations intact, and a process
//! killed in the middle of a table rebuild.

use std::path::Path;

use crate::support::write;
use crate::support::xform;

/// A small project whose database is `db.duckdb` in the project folder.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(
        d,
        "dbt_project.yml",
        "name: p\nversion: '1.0'\nprofile: p\n",
    );
    write(
        d,
        "profiles.yml",
        &format!(
            "p:\n  target: dev\n  outputs:\n    dev: {{type: duckdb, path: '{}', threads: 2}}\n",
            d.join("db.duckdb").display()
        ),
    );
    dir
}

fn query(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    let conn = duckdb::Connection::open(dir.join("db.duckdb")).expect("open db");
    let mut stmt = conn.prepare(sql).expect("prepare");
    let mut rows = stmt.query([]).expect("query");
    let mut out = Vec::new();
    while let Some(row) = rows.next().expect("row") {
        let n = row.as_ref().column_count();
        out.push(
            (0..n)
                .map(|i| {
                    let v: duckdb::types::Value = row.get(i).expect("value");
                    match v {
                        duckdb::types::Value::Null => "NULL".to_owned(),
                        duckdb::types::Value::Text(s) => s,
                        other => format!("{other:?}"),
                    }
                })
                .collect(),
        );
    }
    out
}

fn rows(dir: &Path, sql: &str) -> Vec<String> {
    query(dir, sql).into_iter().map(|r| r.join("|")).collect()
}

#[test]
fn seeds_load_with_dbt_types_and_nulls() {
    let p = project();
    let d = p.path();
    write(
        d,
        "seeds/people.csv",
        "id,name,score,joined,active\n1,ann,1.5,2024-01-02,true\n2,,2,2024-02-03,false\n3,null,,,\n",
    );
    let out = xform(d, &["seed"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("OK loaded seed file main.people"),
        "{}",
        out.stderr
    );
    assert_eq!(
        rows(
            d,
            "select column_name, data_type from information_schema.columns where table_name = 'people' order by ordinal_position"
        ),
        [
            "id|INTEGER",
            "name|VARCHAR",
            "score|DOUBLE",
            "joined|DATE",
            "active|BOOLEAN"
        ]
    );
    assert_eq!(
        rows(
            d,
            "select id, coalesce(name, 'NULL'), coalesce(cast(score as varchar), 'NULL') from people order by id"
        ),
        ["Int(1)|ann|1.5", "Int(2)|NULL|2.0", "Int(3)|null|NULL"]
    );
}

#[test]
fn build_runs_tests_and_skips_downstream_of_a_failure() {
    let p = project();
    let d = p.path();
    write(d, "seeds/src.csv", "id,v\n1,a\n2,b\n2,c\n");
    write(d, "models/base.sql", "select id, v from {{ ref('src') }}");
    write(
        d,
        "models/down.sql",
        "select count(*) as n from {{ ref('base') }}",
    );
    write(d, "models/other.sql", "select 1 as x");
    write(
        d,
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: base\n    columns:\n      - name: id\n        data_tests: [unique, not_null]\nunit_tests:\n  - name: counts\n    model: down\n    given:\n      - input: ref('base')\n        rows: [{id: 1}]\n    expect:\n      rows: [{n: 1}]\n",
    );
    let out = xform(d, &["build"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("FAIL 1 unique_base_id"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("PASS not_null_base_id"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("SKIP relation main.down"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("OK created sql view model main.other"),
        "{}",
        out.stderr
    );
    let rr: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("target/run_results.json")).expect("run_results"),
    )
    .expect("json");
    let status = |id: &str| {
        rr["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|r| r["unique_id"].as_str().is_some_and(|u| u.starts_with(id)))
            .map(|r| r["status"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(status("model.p.base"), "success");
    assert_eq!(status("test.p.unique_base_id"), "fail");
    assert_eq!(status("model.p.down"), "skipped");
    // A model's unit tests run in its job: the test that skips the model
    // skips them too.
    assert_eq!(status("unit_test.p.down.counts"), "skipped");
    assert_eq!(rows(d, "select count(*) from base"), ["BigInt(3)"]);
    assert!(
        query(
            d,
            "select * from information_schema.tables where table_name = 'down'"
        )
        .is_empty()
    );
}

#[test]
fn a_failing_model_keeps_its_previous_table_and_the_run_goes_on() {
    let p = project();
    let d = p.path();
    write(
        d,
        "models/t.sql",
        "{{ config(materialized='table') }}\nselect 42 as answer",
    );
    write(d, "models/u.sql", "select 1 as one");
    assert_eq!(xform(d, &["run"]).code, 0);
    write(
        d,
        "models/t.sql",
        "{{ config(materialized='table') }}\nselect answer_typo from (select 1 as answer)",
    );
    write(d, "models/u.sql", "select 2 as one");
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("database error in model `t` (models/t.sql)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("target/run/p/models/t.sql:"),
        "{}",
        out.stderr
    );
    assert_eq!(rows(d, "select answer from t"), ["Int(42)"]);
    assert_eq!(rows(d, "select one from u"), ["Int(2)"]);
    assert_eq!(
        rows(
            d,
            "select count(*) from information_schema.tables where table_name like '%dbt_tmp%' or table_name like '%dbt_backup%'"
        ),
        ["BigInt(0)"]
    );
}

#[test]
fn incremental_merge_updates_rows_and_refuses_null_or_duplicate_keys() {
    let p = project();
    let d = p.path();
    write(d, "seeds/src.csv", "id,v\n1,a\n2,b\n");
    write(
        d,
        "models/inc.sql",
        "{{ config(materialized='incremental', unique_key='id', incremental_strategy='merge') }}\nselect id, v from {{ ref('src') }}",
    );
    assert_eq!(xform(d, &["build"]).code, 0);
    write(d, "seeds/src.csv", "id,v\n2,B\n3,c\n");
    assert_eq!(xform(d, &["build"]).code, 0);
    assert_eq!(
        rows(d, "select id || v from inc order by id"),
        ["1a", "2B", "3c"]
    );

    write(d, "seeds/src.csv", "id,v\n4,d\n4,e\n");
    assert_eq!(xform(d, &["seed"]).code, 0);
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("repeat unique_key `id`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("model `inc` (models/inc.sql)"),
        "{}",
        out.stderr
    );
    write(d, "seeds/src.csv", "id,v\n,x\n5,f\n");
    assert_eq!(xform(d, &["seed"]).code, 0);
    let out = xform(d, &["run"]);
    assert!(
        out.stderr.contains("NULL in unique_key `id`"),
        "{}",
        out.stderr
    );
    // Nothing of the refused batches landed.
    assert_eq!(
        rows(d, "select id || v from inc order by id"),
        ["1a", "2B", "3c"]
    );

    // Opting into null-safe matching merges the NULL key once, not on every run.
    write(
        d,
        "models/inc.sql",
        "{{ config(materialized='incremental', unique_key='id', incremental_strategy='merge', unique_key_nulls='match') }}\nselect id, v from {{ ref('src') }}",
    );
    assert_eq!(xform(d, &["run"]).code, 0);
    assert_eq!(xform(d, &["run"]).code, 0);
    assert_eq!(
        rows(d, "select count(*) from inc where id is null"),
        ["BigInt(1)"]
    );
}

#[test]
fn incremental_schema_changes_follow_on_schema_change() {
    let p = project();
    let d = p.path();
    write(
        d,
        "models/inc.sql",
        "{{ config(materialized='incremental', unique_key='id', on_schema_change='append_new_columns') }}\nselect 1 as id, 'a' as v",
    );
    assert_eq!(xform(d, &["run"]).code, 0);
    write(
        d,
        "models/inc.sql",
        "{{ config(materialized='incremental', unique_key='id', on_schema_change='append_new_columns') }}\nselect 2 as id, 'b' as v, 10 as extra",
    );
    assert_eq!(xform(d, &["run"]).code, 0);
    assert_eq!(
        rows(d, "select id, v, coalesce(extra, -1) from inc order by id"),
        ["Int(1)|a|Int(-1)", "Int(2)|b|Int(10)"]
    );
    write(
        d,
        "models/inc.sql",
        "{{ config(materialized='incremental', unique_key='id', on_schema_change='fail') }}\nselect 3 as id",
    );
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("on_schema_change is `fail`"),
        "{}",
        out.stderr
    );
    assert_eq!(xform(d, &["run", "--full-refresh"]).code, 0);
    assert_eq!(rows(d, "select * from inc"), ["Int(3)"]);
}

#[test]
fn view_and_table_replace_each_other() {
    let p = project();
    let d = p.path();
    write(
        d,
        "models/m.sql",
        "{{ config(materialized='view') }}\nselect 1 as x",
    );
    assert_eq!(xform(d, &["run"]).code, 0);
    write(
        d,
        "models/m.sql",
        "{{ config(materialized='table') }}\nselect 2 as x",
    );
    assert_eq!(xform(d, &["run"]).code, 0);
    assert_eq!(
        rows(
            d,
            "select table_type from information_schema.tables where table_name = 'm'"
        ),
        ["BASE TABLE"]
    );
    write(
        d,
        "models/m.sql",
        "{{ config(materialized='view') }}\nselect 3 as x",
    );
    assert_eq!(xform(d, &["run"]).code, 0);
    assert_eq!(
        rows(
            d,
            "select table_type from information_schema.tables where table_name = 'm'"
        ),
        ["VIEW"]
    );
    assert_eq!(rows(d, "select x from m"), ["Int(3)"]);
}

/// Builds `big` (1,000 rows), then starts `xform run` on a rebuild of it
/// that takes long enough to be interrupted, and waits until the rebuild is
/// under way.
fn start_slow_rebuild(d: &Path) -> std::process::Child {
    write(
        d,
        "models/big.sql",
        "{{ config(materialized='table') }}\nselect range as i from range(1000)",
    );
    assert_eq!(xform(d, &["run"]).code, 0);
    write(
        d,
        "models/big.sql",
        "{{ config(materialized='table') }}\nselect a.range as i from range(100000) a, range(100000) b",
    );
    let _ = std::fs::remove_file(d.join("target/run_results.json"));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xform"))
        .args(["run"])
        .current_dir(d)
        .env("NO_COLOR", "1")
        .env("HOME", d)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "the rebuild finished too early to be interrupted"
    );
    child
}

#[test]
fn killing_a_table_rebuild_leaves_the_old_table_complete() {
    let p = project();
    let d = p.path();
    let mut child = start_slow_rebuild(d);
    child.kill().expect("kill");
    let _ = child.wait();
    assert_eq!(
        rows(d, "select count(*), sum(i) from big"),
        ["BigInt(1000)|HugeInt(499500)"]
    );
}

#[test]
fn empty_builds_every_relation_with_zero_rows() {
    let p = project();
    let d = p.path();
    write(d, "seeds/src.csv", "id,v\n1,a\n2,b\n");
    write(
        d,
        "models/t.sql",
        "{{ config(materialized='table') }}\nselect id, v from {{ ref('src') }}",
    );
    assert_eq!(xform(d, &["seed"]).code, 0);
    let out = xform(d, &["run", "--empty"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(rows(d, "select count(*) from t"), ["BigInt(0)"]);
    assert_eq!(
        rows(
            d,
            "select column_name from information_schema.columns where table_name = 't' order by ordinal_position"
        ),
        ["id", "v"]
    );
}

#[test]
fn on_run_start_and_end_hooks_see_results_and_schemas() {
    let p = project();
    let d = p.path();
    write(
        d,
        "dbt_project.yml",
        "name: p\nversion: '1.0'\nprofile: p\non-run-start:\n  - create table if not exists audit (what varchar, n integer)\non-run-end:\n  - \"insert into audit values ('end', {{ results | length }}){% for s in schemas %}, ('{{ s }}', 0){% endfor %}\"\n",
    );
    write(d, "models/a.sql", "select 1 as x");
    write(d, "models/b.sql", "select * from {{ ref('a') }}");
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        rows(d, "select what, n from audit order by what"),
        ["end|Int(2)", "main|Int(0)"]
    );
}

#[test]
fn run_operation_calls_a_macro_with_arguments() {
    let p = project();
    let d = p.path();
    write(
        d,
        "macros/ops.sql",
        "{% macro make_note(text, n=1) %}\n  {% do run_query(\"create table notes as select '\" ~ text ~ \"' as t, \" ~ n ~ \" as n\") %}\n{% endmacro %}\n",
    );
    let out = xform(
        d,
        &["run-operation", "make_note", "--args", "{text: hi, n: 3}"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(rows(d, "select t, n from notes"), ["hi|Int(3)"]);
    let out = xform(d, &["run-operation", "make_nte"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("did you mean `make_note`?"),
        "{}",
        out.stderr
    );
}

/// As dbt's `find_macro_by_name`: an installed package's macro is found
/// without its package name, and a default reading an earlier parameter is
/// evaluated after it (dbt-codegen's `generate_source(schema_name,
/// name=schema_name)`).
#[test]
fn run_operation_finds_a_package_macro_without_its_prefix() {
    let p = project();
    let d = p.path();
    write(
        d,
        "dbt_packages/tools/dbt_project.yml",
        "name: tools\nversion: '1.0'\n",
    );
    write(
        d,
        "dbt_packages/tools/macros/ops.sql",
        "{% macro make_named(schema_name, name=schema_name) %}\n  {% do run_query('create table ' ~ name ~ ' as select 1 as n') %}\n{% endmacro %}\n",
    );
    let out = xform(
        d,
        &[
            "run-operation",
            "make_named",
            "--args",
            "{schema_name: noted}",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(rows(d, "select n from noted"), ["Int(1)"]);
    let out = xform(
        d,
        &[
            "run-operation",
            "tools.make_named",
            "--args",
            "{schema_name: a, name: other}",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(rows(d, "select n from other"), ["Int(1)"]);
    // dbt records the operation in run_results.json, failed or not.
    let out = xform(
        d,
        &[
            "run-operation",
            "make_named",
            "--args",
            "{schema_name: other}",
        ],
    );
    assert_eq!(out.code, 1);
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("target/run_results.json")).expect("run_results"),
    )
    .expect("json");
    let r = &results["results"][0];
    assert_eq!(r["unique_id"], "macro.tools.make_named");
    assert_eq!(r["status"], "error");
    assert_eq!(r["failures"], 1);
    assert_eq!(r["thread_id"], "MainThread");
}

/// An operation resolves refs and sources and sees `graph`, and `print`
/// writes to standard output, as dbt-codegen's generators rely on.
#[test]
fn run_operation_resolves_refs_and_prints_to_stdout() {
    let p = project();
    let d = p.path();
    write(d, "models/a.sql", "select 1 as x");
    write(
        d,
        "macros/show.sql",
        "{% macro show() %}{{ print(ref('a')) }}{{ print(graph.nodes.values() | selectattr('name', 'equalto', 'a') | list | length) }}{{ print(run_query(\"select cast('2024-01-02 03:04:05.5' as timestamp) as t\").columns[0].values() | map('string') | list) }}{% endmacro %}\n",
    );
    let out = xform(d, &["run-operation", "show"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(r#"."main"."a""#), "{}", out.stdout);
    assert!(out.stdout.lines().any(|l| l == "1"), "{}", out.stdout);
    // Query cells of dates and timestamps are Python's values, printed as
    // Python prints a list of them.
    assert!(
        out.stdout.contains("['2024-01-02 03:04:05.500000']"),
        "{}",
        out.stdout
    );
}

#[test]
fn debug_checks_the_connection() {
    let p = project();
    let out = xform(p.path(), &["debug"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("target: dev (type duckdb"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("connection: OK"), "{}", out.stdout);
}

#[test]
fn ctrl_c_cancels_the_running_statement_and_still_writes_run_results() {
    let p = project();
    let d = p.path();
    write(d, "models/after.sql", "select * from {{ ref('big') }}");
    let child = start_slow_rebuild(d);
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(sent.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    let rr: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("target/run_results.json")).expect("run_results written"),
    )
    .expect("json");
    let statuses: Vec<(String, String)> = rr["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap_or_default().to_owned(),
                r["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("model.p.big".to_owned(), "error".to_owned()),
            ("model.p.after".to_owned(), "skipped".to_owned())
        ]
    );
    assert_eq!(rows(d, "select count(*) from big"), ["BigInt(1000)"]);
}

#[test]
fn project_materializations_and_macro_overrides_replace_the_built_in_ones() {
    let p = project();
    let d = p.path();
    write(
        d,
        "macros/m.sql",
        "{% materialization table_with_audit, default %}\n  {%- set target_relation = this.incorporate(type='table') -%}\n  {% call statement('main') -%}\n    create or replace table {{ target_relation }} as select *, 'audited' as audit from ({{ sql }})\n  {%- endcall %}\n  {{ return({'relations': [target_relation]}) }}\n{% endmaterialization %}\n\n{% macro default__get_create_view_as_sql(relation, sql) -%}\n  create view {{ relation }} as select * from ({{ sql }}) where x > 1\n{%- endmacro %}\n",
    );
    write(
        d,
        "models/a.sql",
        "{{ config(materialized='table_with_audit') }}\nselect 1 as x union all select 2",
    );
    write(d, "models/v.sql", "select * from {{ ref('a') }}");
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("OK created sql table_with_audit model main.a"),
        "{}",
        out.stderr
    );
    assert_eq!(rows(d, "select x, audit from v"), ["Int(2)|audited"]);
}

#[test]
fn unit_tests_report_differences_and_clear_errors_and_write_nothing() {
    let p = project();
    let d = p.path();
    write(d, "seeds/people.csv", "id,name\n1,ada\n2,bob\n");
    write(
        d,
        "models/upper_people.sql",
        "{{ config(materialized='table') }}\nselect id, upper(name) as name from {{ ref('people') }}",
    );
    write(
        d,
        "models/pairs.sql",
        "select a.id, b.id as other from {{ ref('upper_people') }} a cross join {{ ref('upper_people') }} b",
    );
    write(
        d,
        "models/unit.yml",
        r"version: 2
unit_tests:
  - name: shouts
    model: upper_people
    given:
      - input: ref('people')
        rows: [{id: 1, name: ada}, {id: 2, name: o'hara}]
    expect:
      rows: [{id: 1, name: ADA}, {id: 2, name: O'HARA}]
  - name: wrong
    model: upper_people
    given:
      - input: ref('people')
        rows: [{id: 1, name: ada}]
    expect:
      rows: [{id: 1, name: Ada}, {id: 3, name: CY}]
  - name: unknown_column
    model: upper_people
    given:
      - input: ref('people')
        rows: [{id: 1, nom: ada}]
    expect:
      rows: []
",
    );
    // Before anything is built the inputs have no types: a clear error.
    let out = xform(d, &["test", "-s", "upper_people"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("does not exist in the warehouse"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("models/unit.yml:"), "{}", out.stderr);

    let out = xform(d, &["build"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("PASS upper_people::shouts"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("FAIL 1 upper_people::wrong"),
        "{}",
        out.stderr
    );
    // The difference names both sides' rows.
    assert!(out.stderr.contains("- | 1  | Ada"), "{}", out.stderr);
    assert!(out.stderr.contains("- | 3  | CY"), "{}", out.stderr);
    assert!(out.stderr.contains("+ | 1  | ADA"), "{}", out.stderr);
    // A failing unit test skips its model and what depends on it, and in
    // `build` the model's unit tests that have not run yet (dbt runs them
    // one after another in the model's job).
    assert!(
        out.stderr.contains("SKIP relation main.upper_people"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("SKIP unit test upper_people::unknown_column"),
        "{}",
        out.stderr
    );
    let rr = std::fs::read_to_string(d.join("target/run_results.json")).expect("run_results");
    let rr: serde_json::Value = serde_json::from_str(&rr).expect("json");
    let statuses: Vec<(&str, &str)> = rr["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| Some((r["unique_id"].as_str()?, r["status"].as_str()?)))
        .filter(|(id, _)| id.starts_with("unit_test."))
        .collect();
    assert_eq!(
        statuses,
        [
            ("unit_test.p.upper_people.shouts", "pass"),
            ("unit_test.p.upper_people.wrong", "fail"),
            ("unit_test.p.upper_people.unknown_column", "skipped"),
        ]
    );
    // `test` runs every unit test. A mock row naming a column the input
    // lacks is a clear error.
    let out = xform(d, &["test", "-s", "upper_people"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("FAIL 1 upper_people::wrong"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("column `nom` in the mock rows of `people`"),
        "{}",
        out.stderr
    );
    assert!(
        query(
            d,
            "select * from information_schema.tables where table_name in ('upper_people', 'pairs')"
        )
        .is_empty()
    );
    // Unit tests leave nothing behind in the warehouse.
    assert_eq!(
        rows(
            d,
            "select table_name from information_schema.tables order by 1"
        ),
        ["people"]
    );

    // An input the model reads but the test does not mock.
    write(
        d,
        "models/unit.yml",
        r"version: 2
unit_tests:
  - name: unmocked
    model: pairs
    given: []
    expect:
      rows: []
",
    );
    let out = xform(d, &["test", "-s", "pairs"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("unit test `unmocked` (models/unit.yml): `upper_people` has no mock input"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("models/pairs.sql"), "{}", out.stderr);
    let rr = std::fs::read_to_string(d.join("target/run_results.json")).expect("run_results");
    assert!(rr.contains("unit_test.p.pairs.unmocked"), "{rr}");
}

#[test]
fn an_enforced_contract_is_checked_before_anything_is_built() {
    let p = project();
    let d = p.path();
    write(
        d,
        "models/m.sql",
        "{{ config(materialized='table') }}\nselect 1 as id, 'x' as name, 2.5::double as score",
    );
    write(
        d,
        "models/s.yml",
        "version: 2\nmodels:\n  - name: m\n    config: {contract: {enforced: true}}\n    columns:\n      - {name: id, data_type: int}\n      - {name: name, data_type: text}\n      - {name: score, data_type: double}\n",
    );
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(rows(d, "select id::varchar, name from m"), ["1|x"]);
    // The query changes a type and loses a column: refused, old table kept.
    write(
        d,
        "models/m.sql",
        "{{ config(materialized='table') }}\nselect 'one' as id, 2.5 as score",
    );
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    for needle in [
        "enforced contract",
        "| id          | VARCHAR         | INTEGER       | data type mismatch    |",
        "| name        |                 | VARCHAR       | missing in definition |",
    ] {
        assert!(out.stderr.contains(needle), "{needle}\n{}", out.stderr);
    }
    assert_eq!(rows(d, "select id::varchar, name from m"), ["1|x"]);
    assert_eq!(
        rows(
            d,
            "select count(*) from information_schema.tables where table_name like 'xf_columns%'"
        ),
        ["BigInt(0)"]
    );
}

#[test]
fn model_level_constraints_are_created_and_enforced() {
    let p = project();
    let d = p.path();
    write(
        d,
        "models/lines.sql",
        "{{ config(materialized='table') }}\nselect 1 as order_id, 1 as line_no, 5 as qty union all select 1, 2, 7",
    );
    write(
        d,
        "models/s.yml",
        "version: 2\nmodels:\n  - name: lines\n    config: {contract: {enforced: true}}\n    constraints:\n      - {type: primary_key, columns: [order_id, line_no]}\n      - {type: check, name: positive_qty, expression: qty > 0}\n    columns:\n      - {name: order_id, data_type: int}\n      - {name: line_no, data_type: int}\n      - {name: qty, data_type: int}\n",
    );
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        rows(
            d,
            "select constraint_type, array_to_string(constraint_column_names, ',') from duckdb_constraints() where table_name = 'lines' and constraint_type in ('PRIMARY KEY', 'CHECK') order by 1"
        ),
        ["CHECK|qty", "PRIMARY KEY|order_id,line_no"]
    );
    // A repeated key breaks the primary key: the rebuild fails, old rows stay.
    write(
        d,
        "models/lines.sql",
        "{{ config(materialized='table') }}\nselect 1 as order_id, 1 as line_no, 5 as qty union all select 1, 1, 7",
    );
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("onstraint"), "{}", out.stderr);
    assert_eq!(rows(d, "select count(*) from lines"), ["BigInt(2)"]);
    // Two column-level primary keys are refused at parse time, as in dbt.
    write(
        d,
        "models/s.yml",
        "version: 2\nmodels:\n  - name: lines\n    columns:\n      - {name: order_id, constraints: [{type: primary_key}]}\n      - {name: line_no, constraints: [{type: primary_key}]}\n      - {name: qty, constraints: [{type: not_nul}]}\n",
    );
    let out = xform(d, &["parse"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    for needle in [
        "XF0154",
        "primary key constraint on 2 columns (order_id, line_no)",
        "XF0152",
        "unknown constraint type `not_nul`",
        "did you mean `not_null`?",
        "s.yml:",
    ] {
        assert!(out.stderr.contains(needle), "{needle}\n{}", out.stderr);
    }
}

#[test]
fn fail_fast_stops_at_the_first_failure_and_skips_the_rest() {
    let p = project();
    let d = p.path();
    write(
        d,
        "models/a_bad.sql",
        "{{ config(materialized='table') }}\nselect error('boom') as x",
    );
    write(
        d,
        "models/b_ok.sql",
        "{{ config(materialized='table') }}\nselect 1 as x",
    );
    write(d, "models/c_child.sql", "select * from {{ ref('b_ok') }}");
    let out = xform(d, &["run", "--fail-fast", "--threads", "1"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("boom"), "{}", out.stderr);
    let rr: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("target/run_results.json")).expect("run_results"),
    )
    .expect("json");
    let got: Vec<String> = rr["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["unique_id"].as_str().unwrap_or_default(),
                r["status"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "model.p.a_bad error",
            "model.p.b_ok skipped",
            "model.p.c_child skipped"
        ]
    );
    assert_eq!(
        rr["results"][1]["message"],
        "Skipping due to fail_fast: `model.p.a_bad` failed"
    );
    // Nothing after the failure was built.
    assert_eq!(
        rows(
            d,
            "select count(*) from information_schema.tables where table_name = 'b_ok'"
        ),
        ["BigInt(0)"]
    );
}

#[test]
fn persist_docs_comments_relations_and_columns() {
    let p = project();
    let d = p.path();
    write(
        d,
        "dbt_project.yml",
        "name: p\nversion: '1.0'\nprofile: p\nmodels:\n  p:\n    +persist_docs: {relation: true, columns: true}\n",
    );
    write(
        d,
        "models/t.sql",
        "{{ config(materialized='table') }}\nselect 1 as id, 'x' as name",
    );
    write(d, "models/v.sql", "select 1 as id");
    write(
        d,
        "models/s.yml",
        "version: 2\nmodels:\n  - name: t\n    description: \"Ada's table\"\n    columns:\n      - {name: id, description: the key}\n      - {name: gone, description: not in the query}\n  - name: v\n    description: a view\n    columns:\n      - {name: id, description: view key}\n",
    );
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        rows(
            d,
            "select table_name, comment from duckdb_tables() where schema_name = 'main' \
             union all select view_name, comment from duckdb_views() where schema_name = 'main' and not internal order by 1"
        ),
        ["t|Ada's table", "v|a view"]
    );
    assert_eq!(
        rows(
            d,
            "select table_name || '.' || column_name, coalesce(comment, 'NULL') from duckdb_columns() \
             where schema_name = 'main' and table_name in ('t', 'v') order by 1"
        ),
        ["t.id|the key", "t.name|NULL", "v.id|view key"]
    );
}

#[test]
fn bad_inputs_give_located_errors_lose_nothing_and_the_rest_runs() {
    let p = project();
    let d = p.path();
    write(d, "seeds/people.csv", "id,name\n1,ada\n2,bob\n");
    write(d, "seeds/other.csv", "k\n1\n");
    write(
        d,
        "models/names.sql",
        "select id, name from {{ ref('people') }}",
    );
    write(
        d,
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: names\n    columns:\n      - name: id\n        data_tests: [not_null]\n",
    );
    assert_eq!(xform(d, &["build"]).code, 0);

    // A malformed CSV row: the seed fails with the file and line, its old
    // table stays, the other seed still loads.
    write(d, "seeds/people.csv", "id,name\n1,ada\n2,bob,extra\n3,cy\n");
    write(d, "seeds/other.csv", "k\n1\n2\n");
    // A test on a column the model does not have.
    write(
        d,
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: names\n    columns:\n      - name: nmae\n        data_tests: [not_null]\n",
    );
    let out = xform(d, &["build"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("seeds/people.csv") && out.stderr.contains("line 3"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("OK loaded seed file main.other"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("not_null_names_nmae") && out.stderr.contains("nmae"),
        "{}",
        out.stderr
    );
    assert_eq!(
        rows(d, "select count(*) from people"),
        ["BigInt(2)"],
        "the old seed table is intact"
    );
    assert_eq!(rows(d, "select count(*) from other"), ["BigInt(2)"]);
    assert_eq!(rows(d, "select count(*) from names"), ["BigInt(2)"]);

    // A ref to a seed that does not exist: stopped before anything runs,
    // pointing at the ref, with the nearest name.
    write(d, "seeds/people.csv", "id,name\n1,ada\n");
    write(
        d,
        "models/names.sql",
        "select id, name from {{ ref('peple') }}",
    );
    let out = xform(d, &["build"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("models/names.sql:1:"), "{}", out.stderr);
    assert!(
        out.stderr.contains("did you mean `people`?"),
        "{}",
        out.stderr
    );
    assert_eq!(rows(d, "select count(*) from people"), ["BigInt(2)"]);
}
