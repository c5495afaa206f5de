//! The run phase on a real Postgres server (`.ci/postgres.sh` starts one):
//! contents after seeds and builds, a failing rebuild that keeps the old
//! table, and connection errors that say what is wrong without ever showing
//! the password.

use std::path::Path;

use crate::support::{PgDatabase, pg_url, read_tree, write, xform};

fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("{key} is not set (.ci/postgres.sh sets it)"))
}

/// A project whose target is `dbname` on the test server, with the given
/// password and port.
fn project_with(dbname: &str, password: &str, port: &str) -> tempfile::TempDir {
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
            "p:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      host: {}\n      port: {port}\n      user: {}\n      password: '{password}'\n      dbname: {dbname}\n      schema: analytics\n      threads: 2\n      connect_timeout: 5\n",
            env("XFORM_TEST_PG_HOST"),
            env("XFORM_TEST_PG_USER"),
        ),
    );
    dir
}

/// The same, with `sslmode` set.
fn project_with_sslmode(db: &PgDatabase, sslmode: &str) -> tempfile::TempDir {
    let p = project(db);
    let profile = p.path().join("profiles.yml");
    let text = std::fs::read_to_string(&profile).expect("profile");
    std::fs::write(&profile, format!("{text}      sslmode: {sslmode}\n")).expect("profile");
    p
}

fn project(db: &PgDatabase) -> tempfile::TempDir {
    project_with(
        &db.name,
        &env("XFORM_TEST_PG_PASSWORD"),
        &env("XFORM_TEST_PG_PORT"),
    )
}

/// Rows of a query, cells as Postgres prints them, NULL as `NULL`, joined
/// by `|`.
fn rows(db: &PgDatabase, sql: &str) -> Vec<String> {
    db.rows(sql)
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| c.unwrap_or_else(|| "NULL".to_owned()))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// Starts `xform` in the background, output captured, for tests that act
/// on the server while it runs.
fn spawn_xform(d: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_xform"));
    cmd.args(args)
        .current_dir(d)
        .env("NO_COLOR", "1")
        .env("HOME", d)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn xform")
}

/// Runs `sql` every 50 ms until it returns the single row `1` (true) or a
/// minute passes (false). A wait for an event, not a timing.
fn poll_until(db: &PgDatabase, sql: &str) -> bool {
    for _ in 0..1200 {
        if rows(db, sql) == ["1"] {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

#[test]
fn postgres_seeds_tables_views_and_incrementals_hold_the_expected_rows() {
    let Some(url) = pg_url() else { return };
    let db = PgDatabase::create(&url, "run_contents");
    let p = project(&db);
    let d = p.path();
    write(
        d,
        "seeds/people.csv",
        "id,name,score,born,active\n1,\"Ann, the first\",1.5,2001-02-03,true\n2,,NULL,,false\n3,\"\",7,1999-12-31,\n",
    );
    write(
        d,
        "models/big.sql",
        "{{ config(materialized='table') }}\nselect id, upper(name) as name from {{ ref('people') }}",
    );
    write(
        d,
        "models/v.sql",
        "select count(*) as n from {{ ref('big') }}",
    );
    write(
        d,
        "models/inc.sql",
        "{{ config(materialized='incremental', unique_key='id') }}\nselect id, score from {{ ref('people') }}\n{% if is_incremental() %}where id >= 2{% endif %}",
    );
    let out = xform(d, &["build"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        rows(
            &db,
            "select column_name, data_type from information_schema.columns \
             where table_schema = 'analytics' and table_name = 'people' order by ordinal_position"
        ),
        [
            "id|integer",
            "name|text",
            "score|double precision",
            "born|date",
            "active|boolean"
        ]
    );
    assert_eq!(
        rows(&db, "select * from analytics.people order by id"),
        [
            "1|Ann, the first|1.5|2001-02-03|t",
            "2|NULL|NULL|NULL|f",
            "3|NULL|7|1999-12-31|NULL"
        ]
    );
    assert_eq!(
        rows(&db, "select * from analytics.big order by id"),
        ["1|ANN, THE FIRST", "2|NULL", "3|NULL"]
    );
    assert_eq!(rows(&db, "select n from analytics.v"), ["3"]);
    assert_eq!(
        rows(
            &db,
            "select table_name, table_type from information_schema.tables \
             where table_schema = 'analytics' order by 1"
        ),
        [
            "big|BASE TABLE",
            "inc|BASE TABLE",
            "people|BASE TABLE",
            "v|VIEW"
        ]
    );
    // New seed data: the seed is truncated and reloaded, the incremental
    // replaces the rows of its keys (delete+insert) and keeps the others.
    write(
        d,
        "seeds/people.csv",
        "id,name,score,born,active\n1,Ann,2.5,2001-02-03,true\n2,Bob,3,,false\n4,Dee,4,,true\n",
    );
    let out = xform(d, &["build"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        rows(&db, "select id, score from analytics.inc order by id"),
        ["1|1.5", "2|3", "3|7", "4|4"]
    );
    assert_eq!(rows(&db, "select n from analytics.v"), ["3"]);
}

#[test]
fn postgres_failing_rebuild_keeps_the_previous_table_and_leaves_nothing_behind() {
    let Some(url) = pg_url() else { return };
    let db = PgDatabase::create(&url, "run_failure");
    let p = project(&db);
    let d = p.path();
    write(
        d,
        "models/t.sql",
        "{{ config(materialized='table') }}\nselect g as answer from generate_series(1, 3) g",
    );
    write(d, "models/u.sql", "select 1 as one");
    assert_eq!(xform(d, &["run"]).code, 0);
    // Fails while the new table is being filled: 1/0 on the third row.
    write(
        d,
        "models/t.sql",
        "{{ config(materialized='table') }}\nselect 1 / (3 - g) as answer from generate_series(1, 3) g",
    );
    write(d, "models/u.sql", "select 2 as one");
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("division by zero"), "{}", out.stderr);
    assert_eq!(
        rows(&db, "select answer from analytics.t order by 1"),
        ["1", "2", "3"]
    );
    assert_eq!(rows(&db, "select one from analytics.u"), ["2"]);
    assert_eq!(
        rows(
            &db,
            "select count(*) from pg_catalog.pg_class where relname like '%dbt_tmp%' or relname like '%dbt_backup%'"
        ),
        ["0"]
    );
}

/// Postgres keeps 63 characters of a name. A model whose name leaves no
/// room for `__dbt_tmp` / `__dbt_backup` still rebuilds: those relations
/// are named from a shortened model name, as dbt-postgres names them, so
/// they never collide. A model whose own name is too long is refused, as
/// dbt refuses it, rather than built under a cut name.
#[test]
fn postgres_long_model_names_rebuild_and_too_long_ones_are_refused() {
    let Some(url) = pg_url() else { return };
    let db = PgDatabase::create(&url, "run_long_names");
    let p = project(&db);
    let d = p.path();
    let base = format!("m_{}", "a".repeat(58));
    let (table, view, inc) = (base.clone(), format!("{base}v"), format!("{base}i"));
    let too_long = format!("m_{}", "b".repeat(62));
    assert_eq!((table.len(), view.len(), too_long.len()), (60, 61, 64));
    let write_models = |n: i32| {
        write(
            d,
            &format!("models/{table}.sql"),
            &format!("{{{{ config(materialized='table') }}}}\nselect {n} as id"),
        );
        write(
            d,
            &format!("models/{view}.sql"),
            &format!("{{{{ config(materialized='view') }}}}\nselect {n} as id"),
        );
        write(
            d,
            &format!("models/{inc}.sql"),
            &format!(
                "{{{{ config(materialized='incremental', unique_key='id') }}}}\nselect {n} as id"
            ),
        );
    };
    // A snapshot's staging table is named the same way. (Row 1 leaves the
    // source but stays current: hard deletes are not invalidated.)
    let snap = format!("s_{}", "c".repeat(58));
    write(
        d,
        &format!("snapshots/{snap}.sql"),
        &format!(
            "{{% snapshot {snap} %}}\n{{{{ config(unique_key='id', strategy='check', check_cols='all', target_schema='snaps') }}}}\nselect * from {{{{ ref('{table}') }}}}\n{{% endsnapshot %}}\n"
        ),
    );
    write_models(1);
    let out = xform(d, &["build"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    write_models(2);
    let out = xform(d, &["build"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        rows(
            &db,
            &format!("select id, dbt_valid_to is null from snaps.{snap} order by 1")
        ),
        ["1|t", "2|t"]
    );
    assert_eq!(
        rows(&db, &format!("select id from analytics.{table}")),
        ["2"]
    );
    assert_eq!(
        rows(&db, &format!("select id from analytics.{view}")),
        ["2"]
    );
    assert_eq!(
        rows(&db, &format!("select id from analytics.{inc} order by 1")),
        ["1", "2"]
    );
    assert_eq!(
        rows(
            &db,
            "select table_name from information_schema.tables where table_schema = 'analytics' order by 1"
        ),
        [table.clone(), inc.clone(), view.clone()]
    );
    write(d, &format!("models/{too_long}.sql"), "select 1 as id");
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    // The diagnostic is wrapped to the terminal's width.
    let said = out
        .stderr
        .replace('\u{2502}', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        said.contains(&format!(
            "Relation name '{too_long}' is longer than 63 characters"
        )),
        "{}",
        out.stderr
    );
    assert!(said.contains("PASS=3 WARN=0 ERROR=1"), "{}", out.stderr);
    assert_eq!(
        rows(
            &db,
            "select count(*) from information_schema.tables where table_schema = 'analytics'"
        ),
        ["3"]
    );
}

#[test]
fn postgres_merge_refuses_null_and_duplicate_keys_and_keeps_the_table() {
    let Some(url) = pg_url() else { return };
    let db = PgDatabase::create(&url, "run_merge");
    let p = project(&db);
    let d = p.path();
    let model = |body: &str| {
        format!(
            "{{{{ config(materialized='incremental', incremental_strategy='merge', unique_key='id') }}}}\n{body}"
        )
    };
    write(d, "models/m.sql", &model("select 1 as id, 'a' as v"));
    assert_eq!(xform(d, &["run"]).code, 0);
    write(
        d,
        "models/m.sql",
        &model("select 1 as id, 'b' as v union all select 2, 'c'"),
    );
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        rows(&db, "select id, v from analytics.m order by id"),
        ["1|b", "2|c"]
    );
    write(
        d,
        "models/m.sql",
        &model("select null::int as id, 'x' as v"),
    );
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("NULL in unique_key"), "{}", out.stderr);
    write(
        d,
        "models/m.sql",
        &model("select 1 as id, 'x' as v union all select 1, 'y'"),
    );
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("repeat unique_key"), "{}", out.stderr);
    assert_eq!(
        rows(&db, "select id, v from analytics.m order by id"),
        ["1|b", "2|c"]
    );
}

/// Everything a command left: its output and every file in the project
/// (target/, logs/ included).
fn everything(d: &Path, out: &crate::support::Output) -> String {
    let mut all = format!("{}\n{}\n", out.stdout, out.stderr);
    for (path, text) in read_tree(d) {
        all.push_str(&path);
        all.push('\n');
        all.push_str(&text);
    }
    all
}

#[test]
fn postgres_wrong_password_fails_authentication_and_is_never_shown() {
    let Some(url) = pg_url() else { return };
    let db = PgDatabase::create(&url, "run_password");
    let wrong = "Wr0ng-Pa55word-Never-Shown";
    let p = project_with(&db.name, wrong, &env("XFORM_TEST_PG_PORT"));
    let d = p.path();
    write(d, "models/m.sql", "select 1 as one");
    let out = xform(d, &["debug", "--project-dir", "."]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("authentication failed for user"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let out_run = xform(d, &["run"]);
    assert_eq!(out_run.code, 1, "{}{}", out_run.stdout, out_run.stderr);
    assert!(
        out_run.stderr.contains("authentication failed"),
        "{}",
        out_run.stderr
    );
    for all in [everything(d, &out), everything(d, &out_run)] {
        let without_profile = all.replace(
            &std::fs::read_to_string(d.join("profiles.yml")).expect("profile"),
            "",
        );
        assert!(
            !without_profile.contains(wrong),
            "the password leaked:\n{all}"
        );
        assert!(
            !without_profile.contains("Pa55word"),
            "the password leaked:\n{all}"
        );
    }

    // With the right password nothing leaks either: manifest, run results,
    // logs and compiled files.
    let right = env("XFORM_TEST_PG_PASSWORD");
    let p = project(&db);
    let d = p.path();
    write(d, "models/m.sql", "select '{{ target.name }}' as t");
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let all = everything(d, &out);
    let profile = std::fs::read_to_string(d.join("profiles.yml")).expect("profile");
    let without_profile = all.replace(&profile, "");
    assert!(without_profile.contains("manifest.json"), "{all}");
    assert!(
        !without_profile.contains(&right),
        "the password leaked:\n{all}"
    );
}

#[test]
fn postgres_debug_names_an_unreachable_server_and_a_missing_database() {
    let Some(url) = pg_url() else { return };
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let p = project_with("xform_test", "irrelevant-secret", &port.to_string());
    let d = p.path();
    let out = xform(d, &["debug", "--project-dir", "."]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "cannot reach the Postgres server 127.0.0.1:{port}: connection refused"
        )),
        "{}",
        out.stderr
    );
    assert!(
        !everything(d, &out)
            .replace(
                &std::fs::read_to_string(d.join("profiles.yml")).expect("profile"),
                ""
            )
            .contains("irrelevant-secret")
    );

    let p = project_with(
        "no_such_database_here",
        &env("XFORM_TEST_PG_PASSWORD"),
        &env("XFORM_TEST_PG_PORT"),
    );
    let out = xform(p.path(), &["debug", "--project-dir", "."]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("database `no_such_database_here` does not exist"),
        "{}",
        out.stderr
    );

    let db_ok = PgDatabase::create(&url, "run_debug");
    let p = project(&db_ok);
    let out = xform(p.path(), &["debug", "--project-dir", "."]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("connection: OK (postgres database"),
        "{}",
        out.stdout
    );
}

#[test]
fn postgres_grants_are_granted_on_new_relations_and_revoked_when_no_longer_configured() {
    let Some(url) = pg_url() else { return };
    let db = PgDatabase::create(&url, "run_grants");
    // Roles are server-wide: named after this process, dropped at the end.
    let (a, b) = (
        format!("xf_reader_a_{}", std::process::id()),
        format!("xf_reader_b_{}", std::process::id()),
    );
    let mut admin = db.connect();
    for r in [&a, &b] {
        admin
            .batch_execute(&format!("drop role if exists {r}"))
            .and_then(|()| admin.batch_execute(&format!("create role {r}")))
            .expect("create role");
    }
    let p = project(&db);
    let d = p.path();
    let models = |grantee: &str| {
        write(
            d,
            "models/t.sql",
            &format!(
                "{{{{ config(materialized='table', grants={{'select': ['{grantee}']}}) }}}}\nselect 1 as x"
            ),
        );
        write(
            d,
            "models/i.sql",
            &format!(
                "{{{{ config(materialized='incremental', grants={{'select': '{grantee}', 'insert': ['{grantee}']}}) }}}}\nselect 1 as x"
            ),
        );
    };
    let grants = |table: &str| {
        rows(
            &db,
            &format!(
                "select grantee, privilege_type from information_schema.role_table_grants \
                 where table_schema = 'analytics' and table_name = '{table}' and grantee <> current_user order by 1, 2"
            ),
        )
    };
    models(&a);
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(grants("t"), [format!("{a}|SELECT")]);
    assert_eq!(grants("i"), [format!("{a}|INSERT"), format!("{a}|SELECT")]);
    models(&b);
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(grants("t"), [format!("{b}|SELECT")]);
    assert_eq!(grants("i"), [format!("{b}|INSERT"), format!("{b}|SELECT")]);
    drop(p);
    drop(admin);
    drop(db);
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    for r in [&a, &b] {
        let _ = admin.batch_execute(&format!("drop role if exists {r}"));
    }
}

#[test]
fn postgres_contract_constraints_are_in_the_table_and_docs_become_comments() {
    let Some(url) = pg_url() else { return };
    let db = PgDatabase::create(&url, "run_contract");
    let p = project(&db);
    let d = p.path();
    write(
        d,
        "models/parent.sql",
        "{{ config(materialized='table', contract={'enforced': true}, persist_docs={'relation': true, 'columns': true}) }}\nselect 1 as id, 'a' as name",
    );
    write(
        d,
        "models/child.sql",
        "-- depends_on: {{ ref('parent') }}\n{{ config(materialized='table', contract={'enforced': true}) }}\nselect 10 as id, 1 as parent_id",
    );
    write(
        d,
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: parent\n    description: \"Parents, one row each\"\n    columns:\n      - name: id\n        data_type: integer\n        description: \"The parent's id\"\n        constraints: [{type: not_null}, {type: primary_key}]\n      - name: name\n        data_type: text\n        constraints: [{type: unique}, {type: check, expression: \"length(name) > 0\"}]\n  - name: child\n    columns:\n      - name: id\n        data_type: integer\n        constraints: [{type: primary_key}]\n      - name: parent_id\n        data_type: integer\n        constraints: [{type: foreign_key, expression: \"analytics.parent (id)\"}]\n  - name: line\n    constraints:\n      - {type: primary_key, columns: [parent_id, line_no]}\n      - {type: foreign_key, name: line_parent_fk, columns: [parent_id], to: \"ref('parent')\", to_columns: [id]}\n      - {type: check, name: positive_qty, expression: \"qty > 0\"}\n    columns:\n      - {name: parent_id, data_type: integer}\n      - {name: line_no, data_type: integer}\n      - {name: qty, data_type: integer, constraints: [{type: not_null}]}\n",
    );
    // No ref in its SQL: the foreign key's `to: ref('parent')` makes parent
    // its parent, built first.
    write(
        d,
        "models/line.sql",
        "{{ config(materialized='table', contract={'enforced': true}) }}\nselect 1 as parent_id, 1 as line_no, 5 as qty union all select 1, 2, 7",
    );
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let constraints = |table: &str| {
        rows(
            &db,
            &format!(
                "select contype, pg_get_constraintdef(oid) from pg_constraint \
                 where conrelid = 'analytics.{table}'::regclass order by 1, 2"
            ),
        )
    };
    assert_eq!(
        constraints("parent"),
        [
            "c|CHECK ((length(name) > 0))",
            "p|PRIMARY KEY (id)",
            "u|UNIQUE (name)"
        ]
    );
    assert_eq!(
        constraints("child"),
        [
            "f|FOREIGN KEY (parent_id) REFERENCES analytics.parent(id)",
            "p|PRIMARY KEY (id)"
        ]
    );
    assert_eq!(
        constraints("line"),
        [
            "c|CHECK ((qty > 0))",
            "f|FOREIGN KEY (parent_id) REFERENCES analytics.parent(id)",
            "p|PRIMARY KEY (parent_id, line_no)"
        ]
    );
    assert_eq!(
        rows(
            &db,
            "select conname from pg_constraint where conrelid = 'analytics.line'::regclass and contype in ('c', 'f') order by 1"
        ),
        ["line_parent_fk", "positive_qty"]
    );
    assert_eq!(
        rows(
            &db,
            "select attname from pg_attribute where attrelid = 'analytics.line'::regclass and attnotnull and attnum > 0 order by 1"
        ),
        ["line_no", "parent_id", "qty"]
    );
    let manifest: serde_json::Value = crate::support::read_manifest(d);
    let line = &manifest["nodes"]["model.p.line"];
    assert_eq!(
        line["depends_on"]["nodes"],
        serde_json::json!(["model.p.parent"])
    );
    assert_eq!(
        line["primary_key"],
        serde_json::json!(["parent_id", "line_no"])
    );
    assert_eq!(line["constraints"][1]["to"], "ref('parent')");
    assert_eq!(
        line["constraints"][1]["to_columns"],
        serde_json::json!(["id"])
    );
    assert_eq!(
        rows(
            &db,
            "select obj_description('analytics.parent'::regclass, 'pg_class'), \
             col_description('analytics.parent'::regclass, 1)"
        ),
        ["Parents, one row each|The parent's id"]
    );
    // A row that breaks the check fails the rebuild; the old table stays.
    write(
        d,
        "models/parent.sql",
        "{{ config(materialized='table', contract={'enforced': true}) }}\nselect 2 as id, '' as name",
    );
    let out = xform(d, &["run", "--select", "parent"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("check constraint"), "{}", out.stderr);
    assert_eq!(rows(&db, "select id, name from analytics.parent"), ["1|a"]);
}

#[test]
fn postgres_sslmode_require_encrypts_and_disable_does_not() {
    let Some(url) = pg_url() else { return };
    if std::env::var_os("XFORM_TEST_PG_SSL").is_none() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "XFORM_TEST_PG_SSL is not set: .ci/postgres.sh could not give the server a certificate (is openssl installed?)"
        );
        eprintln!("skipping: the test server has no TLS (XFORM_TEST_PG_SSL)");
        return;
    }
    let db = PgDatabase::create(&url, "run_ssl");
    for (mode, encrypted) in [("require", "t"), ("prefer", "t"), ("disable", "f")] {
        let p = project_with_sslmode(&db, mode);
        let d = p.path();
        write(
            d,
            &format!("models/ssl_{mode}.sql"),
            "{{ config(materialized='table') }}\nselect ssl from pg_stat_ssl where pid = pg_backend_pid()",
        );
        let out = xform(d, &["run"]);
        assert_eq!(out.code, 0, "{mode}: {}{}", out.stdout, out.stderr);
        assert_eq!(
            rows(&db, &format!("select ssl from analytics.ssl_{mode}")),
            [encrypted],
            "sslmode {mode}"
        );
    }
}

#[test]
fn postgres_ctrl_c_cancels_the_running_statement_and_keeps_the_old_table() {
    let Some(url) = pg_url() else { return };
    let db = PgDatabase::create(&url, "run_cancel");
    let p = project(&db);
    let d = p.path();
    write(
        d,
        "models/big.sql",
        "{{ config(materialized='table') }}\nselect g as i from generate_series(1, 1000) g",
    );
    assert_eq!(xform(d, &["run"]).code, 0);
    write(
        d,
        "models/big.sql",
        "{{ config(materialized='table') }}\nselect g as i from generate_series(1, 1000) g, pg_sleep(3600)",
    );
    let child = spawn_xform(d, &["run"], &[]);
    // Wait until the server is running the rebuild (the statement sleeps
    // for an hour unless it is cancelled).
    let running = format!(
        "select count(*) from pg_stat_activity where datname = '{}' and state = 'active' and query like '%pg_sleep(3600)%' and pid <> pg_backend_pid()",
        db.name
    );
    assert!(poll_until(&db, &running), "the rebuild never started");
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(sent.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        rows(&db, &running),
        ["0"],
        "the statement was not cancelled"
    );
    assert_eq!(
        rows(&db, "select count(*), sum(i) from analytics.big"),
        ["1000|500500"]
    );
    let rr: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("target/run_results.json")).expect("run_results written"),
    )
    .expect("json");
    assert_eq!(rr["results"][0]["status"], "error");
}

#[test]
fn postgres_fail_fast_cancels_running_statements_and_skips_the_rest() {
    let Some(url) = pg_url() else { return };
    let db = PgDatabase::create(&url, "run_fail_fast");
    let p = project(&db);
    let d = p.path();
    write(
        d,
        "models/slow.sql",
        "{{ config(materialized='table') }}\nselect g as i from generate_series(1, 10) g, pg_sleep({{ var('sleep', 0) }})",
    );
    write(
        d,
        "models/after_slow.sql",
        "select * from {{ ref('slow') }}",
    );
    assert_eq!(xform(d, &["run"]).code, 0);
    // `bad` fails only once `slow`'s rebuild is running on the other thread
    // (its pre-hook waits for it), so the order is fixed, not timed.
    write(
        d,
        "models/bad.sql",
        "{{ config(materialized='table', pre_hook=\"do $$ begin while (select count(*) from pg_stat_activity where query like '%pg_sleep(36' || '00)%' and pid <> pg_backend_pid()) = 0 loop perform pg_sleep(0.05); perform pg_stat_clear_snapshot(); end loop; end $$\") }}\nselect 1 / 0 as x",
    );
    write(d, "models/later.sql", "select * from {{ ref('bad') }}");
    let mut child = spawn_xform(
        d,
        &[
            "run",
            "--fail-fast",
            "--threads",
            "2",
            "--vars",
            "{sleep: 3600}",
        ],
        &[],
    );
    // A hang guard, not a timing: without the cancel the run takes an hour.
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(2);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("--fail-fast did not cancel the running statement");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("division by zero"), "{stderr}");
    // The cancelled rebuild rolled back: the old rows, and nothing left over.
    assert_eq!(rows(&db, "select count(*) from analytics.slow"), ["10"]);
    assert_eq!(
        rows(
            &db,
            "select count(*) from pg_tables where schemaname = 'analytics' and tablename like '%dbt%'"
        ),
        ["0"]
    );
    let rr: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("target/run_results.json")).expect("run_results written"),
    )
    .expect("json");
    let mut statuses: Vec<String> = rr["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["unique_id"].as_str().unwrap_or_default(),
                r["status"].as_str().unwrap_or_default(),
                r["message"]
                    .as_str()
                    .unwrap_or_default()
                    .lines()
                    .next()
                    .unwrap_or_default()
            )
        })
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            "model.p.after_slow skipped Skipping due to fail_fast: `model.p.bad` failed",
            "model.p.bad error database error in model `bad` (models/bad.sql)",
            "model.p.later skipped Skipping due to fail_fast: `model.p.bad` failed",
            "model.p.slow skipped Skipping due to fail_fast: `model.p.bad` failed",
        ]
    );
}

#[test]
fn postgres_dropped_connection_is_reported_as_such_and_retry_finishes_the_run() {
    let Some(url) = pg_url() else { return };
    let db = PgDatabase::create(&url, "run_dropped");
    let p = project(&db);
    let d = p.path();
    write(
        d,
        "models/a_slow.sql",
        "{{ config(materialized='table') }}\nselect g as i from generate_series(1, 10) g, pg_sleep({{ env_var('XF_SLEEP', '0') }})",
    );
    write(d, "models/a_child.sql", "select * from {{ ref('a_slow') }}");
    write(
        d,
        "models/b_other.sql",
        "{{ config(materialized='table') }}\nselect 1 as x",
    );
    assert_eq!(xform(d, &["run", "--select", "a_slow"]).code, 0);
    // One thread: b_other runs after a_slow on the same worker, which must
    // open a new connection once its own is gone.
    let child = spawn_xform(d, &["run", "--threads", "1"], &[("XF_SLEEP", "3600")]);
    // The server drops the backend running the rebuild once it is running.
    let kill = format!(
        "select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = '{}' and query like '%pg_sleep(36' || '00)%' and pid <> pg_backend_pid()",
        db.name
    );
    let dropped = poll_until(&db, &kill);
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(dropped, "the rebuild never started:\n{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for needle in [
        "XF0521",
        "lost the connection to the warehouse while building model `a_slow`",
        "xform retry",
    ] {
        assert!(stderr.contains(needle), "{needle}\n{stderr}");
    }
    assert!(!stderr.contains("XF0520"), "{stderr}");
    // The rebuild rolled back; the independent model ran on a new connection.
    assert_eq!(rows(&db, "select count(*) from analytics.a_slow"), ["10"]);
    assert_eq!(rows(&db, "select x from analytics.b_other"), ["1"]);
    let rr = std::fs::read_to_string(d.join("target/run_results.json")).expect("run_results");
    assert!(
        rr.contains("\"status\": \"error\"") || rr.contains("\"status\":\"error\""),
        "{rr}"
    );
    // Retry runs the failed model and the child it skipped, and nothing else.
    let out = xform(d, &["retry"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("TOTAL=2"), "{all}");
    assert_eq!(rows(&db, "select count(*) from analytics.a_child"), ["10"]);
}

#[test]
fn postgres_role_search_path_application_name_and_keepalives_apply_to_every_connection() {
    let Some(url) = pg_url() else { return };
    let db = PgDatabase::create(&url, "run_session");
    // Roles are cluster-wide: one per database, so parallel runs never share.
    let role = format!("{}_builder", db.name);
    rows(&db, &format!("drop role if exists \"{role}\""));
    rows(&db, &format!("create role \"{role}\""));
    rows(
        &db,
        &format!(
            "grant \"{role}\" to current_user; grant create on database \"{}\" to \"{role}\"",
            db.name
        ),
    );
    let p = project(&db);
    let d = p.path();
    let profiles = std::fs::read_to_string(d.join("profiles.yml")).expect("profiles");
    write(
        d,
        "profiles.yml",
        &format!(
            "{profiles}      role: {role}\n      search_path: analytics, public\n      application_name: nightly-build\n      keepalives_idle: 30\n"
        ),
    );
    write(
        d,
        "models/session.sql",
        "{{ config(materialized='table') }}\nselect current_user::text as who, current_setting('search_path') as search_path, current_setting('application_name') as app",
    );
    let out = xform(d, &["run"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        rows(&db, "select who, search_path, app from analytics.session"),
        [format!("{role}|analytics, public|nightly-build")]
    );
    // Built as the role: it owns the schema and the table.
    assert_eq!(
        rows(
            &db,
            "select tableowner from pg_tables where schemaname = 'analytics' and tablename = 'session'"
        ),
        std::slice::from_ref(&role)
    );
    let out = xform(d, &["debug"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    rows(
        &db,
        &format!("drop owned by \"{role}\"; drop role \"{role}\""),
    );
}
