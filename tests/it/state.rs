//! State-aware selection (`state:`, `result:`), `--defer` and `clone` on
//! real `DuckDB` files: a project is built into a `prod` schema, its
//! target/ folder copied as the state, the project changed, and the `dev`
//! target compared, deferred and cloned against it. Where dbt-core is
//! available, its selection on the same project and state is the reference
//! (except where dbt is known to be wrong: a config that differs only by
//! target, a changed var value, a renamed source column).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{dbt, write, xform};

fn edit(dir: &Path, rel: &str, from: &str, to: &str) {
    let p = dir.join(rel);
    let text = std::fs::read_to_string(&p).expect("read");
    assert!(text.contains(from), "`{from}` is not in {rel}");
    std::fs::write(p, text.replace(from, to)).expect("write");
}

/// The shop: seeds in prod, a source on the prod seed, staging and marts,
/// a macro called through another, a var, a model whose materialization
/// follows the target (config call) and one whose meta does (YAML), a
/// documented model with persisted docs, a contracted model.
fn project(db: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(
        d,
        "dbt_project.yml",
        "name: shop\nversion: '1.0'\nprofile: shop\nvars:\n  min_amount: 0\n\
         on-run-start:\n  - create schema if not exists raw\n\
         \x20 - create or replace table raw.customers as select * from (values (1, 'ann'), (2, 'bob')) t(id, name)\n\
         models:\n  shop:\n    +materialized: view\n    marts:\n      +materialized: table\n",
    );
    write(
        d,
        "profiles.yml",
        &format!(
            "shop:\n  target: dev\n  outputs:\n    prod: {{type: duckdb, path: '{0}', schema: prod, threads: 2}}\n    dev: {{type: duckdb, path: '{0}', schema: dev, threads: 2}}\n",
            db.display()
        ),
    );
    write(
        d,
        "seeds/raw_orders.csv",
        "id,customer_id,amount\n1,1,10\n2,1,20\n3,2,30\n",
    );
    write(
        d,
        "models/staging/sources.yml",
        "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: customers\n        columns:\n          - name: id\n          - name: name\n",
    );
    write(
        d,
        "models/staging/stg_orders.sql",
        "select id, customer_id, amount from {{ ref('raw_orders') }}\n",
    );
    write(
        d,
        "models/staging/stg_customers.sql",
        "select id, name from {{ source('raw', 'customers') }}\n",
    );
    write(
        d,
        "models/marts/orders.sql",
        "select o.id, o.amount, c.name\nfrom {{ ref('stg_orders') }} o\njoin {{ ref('stg_customers') }} c on o.customer_id = c.id\nwhere o.amount > {{ var('min_amount') }}\n",
    );
    write(
        d,
        "models/marts/big_orders.sql",
        "select id, {{ double('amount') }} as amount2 from {{ ref('orders') }}\n",
    );
    write(
        d,
        "macros/double.sql",
        "{% macro double(x) %}{{ times(x, 2) }}{% endmacro %}\n\n{% macro times(x, n) %}({{ x }} * {{ n }}){% endmacro %}\n",
    );
    write(
        d,
        "models/env_call.sql",
        "{{ config(materialized=('table' if target.name == 'prod' else 'view')) }}\nselect 1 as x\n",
    );
    write(d, "models/env_yaml.sql", "select 1 as x\n");
    write(
        d,
        "macros/fmt.sql",
        "{% macro fmt(x) %}{{ return(adapter.dispatch('fmt')(x)) }}{% endmacro %}\n\n{% macro default__fmt(x) %}round({{ x }}, 2){% endmacro %}\n",
    );
    write(
        d,
        "models/dispatched.sql",
        "select {{ fmt('1.234') }} as v\n",
    );
    write(d, "models/cfg.sql", "select 1 as c\n");
    write(d, "models/aliased.sql", "select 1 as a\n");
    write(d, "models/documented.sql", "select 1 as id\n");
    write(
        d,
        "models/contracted.sql",
        "{{ config(materialized='table', contract={'enforced': true}) }}\nselect 1 as id, 'a' as code\n",
    );
    write(
        d,
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n        data_tests: [unique]\n  - name: env_yaml\n    config:\n      meta:\n        env: \"{{ target.name }}\"\n  - name: cfg\n    config:\n      materialized: view\n  - name: documented\n    description: One row.\n    config:\n      persist_docs:\n        relation: true\n  - name: contracted\n    columns:\n      - name: id\n        data_type: integer\n      - name: code\n        data_type: varchar\n\
         unit_tests:\n  - name: stg_orders_passes_rows\n    model: stg_orders\n    given:\n\
         \x20     - input: ref('raw_orders')\n        rows:\n          - {id: 1, customer_id: 1, amount: 5}\n\
         \x20   expect:\n      rows:\n        - {id: 1, customer_id: 1, amount: 5}\n",
    );
    dir
}

/// A project built into `prod`, and its target/ folder copied as the state.
struct Prod {
    project: tempfile::TempDir,
    /// Holds the database and the state folder.
    outside: tempfile::TempDir,
}

impl Prod {
    fn build() -> Self {
        let outside = tempfile::tempdir().expect("temp dir");
        let project = project(&outside.path().join("shop.duckdb"));
        let out = xform(project.path(), &["build", "--target", "prod"]);
        assert_eq!(out.code, 0, "prod build failed:\n{}", out.stderr);
        let this = Self { project, outside };
        copy_dir(&this.dir().join("target"), &this.state());
        this
    }

    fn dir(&self) -> &Path {
        self.project.path()
    }

    fn state(&self) -> PathBuf {
        self.outside.path().join("prod_state")
    }

    fn state_arg(&self) -> String {
        self.state().display().to_string()
    }

    fn db(&self) -> PathBuf {
        self.outside.path().join("shop.duckdb")
    }

    /// `xform ls` lines for a selection against the state.
    fn ls(&self, select: &str, extra: &[&str]) -> Vec<String> {
        let state = self.state_arg();
        let mut args = vec!["ls", "-s", select, "--state", state.as_str()];
        args.extend_from_slice(extra);
        let out = xform(self.dir(), &args);
        assert_eq!(out.code, 0, "ls -s {select}: {}", out.stderr);
        out.stdout.lines().map(str::to_owned).collect()
    }

    fn rows(&self, sql: &str) -> Vec<String> {
        query(&self.db(), sql)
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for e in std::fs::read_dir(src).expect("read_dir").flatten() {
        let to = dst.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).expect("copy");
        }
    }
}

fn query(db: &Path, sql: &str) -> Vec<String> {
    let conn = duckdb::Connection::open(db).expect("open db");
    let mut stmt = conn.prepare(sql).expect("prepare");
    let mut rows = stmt.query([]).expect("query");
    let mut out = Vec::new();
    while let Some(row) = rows.next().expect("row") {
        let n = row.as_ref().column_count();
        let cells: Vec<String> = (0..n)
            .map(|i| {
                let v: duckdb::types::Value = row.get(i).expect("value");
                match v {
                    duckdb::types::Value::Null => "NULL".to_owned(),
                    duckdb::types::Value::Text(s) => s,
                    duckdb::types::Value::Int(i) => i.to_string(),
                    duckdb::types::Value::BigInt(i) => i.to_string(),
                    duckdb::types::Value::HugeInt(i) => i.to_string(),
                    other => format!("{other:?}"),
                }
            })
            .collect();
        out.push(cells.join("|"));
    }
    out
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn names(list: &[&str]) -> Vec<String> {
    sorted(list.iter().map(|s| (*s).to_owned()).collect())
}

/// One change per aspect (see `project`).
fn change_everything(d: &Path) {
    // body
    edit(
        d,
        "models/staging/stg_orders.sql",
        "amount from",
        "amount\nfrom",
    );
    // configs
    edit(
        d,
        "models/schema.yml",
        "materialized: view",
        "materialized: table",
    );
    // macros: `times` is reached from big_orders through `double`
    edit(
        d,
        "macros/double.sql",
        "({{ x }} * {{ n }})",
        "({{ n }} * {{ x }})",
    );
    // macros: reached through adapter.dispatch
    edit(
        d,
        "macros/fmt.sql",
        "round({{ x }}, 2)",
        "round({{ x }}, 3)",
    );
    // sources: a column renamed in the source's YAML
    edit(
        d,
        "models/staging/sources.yml",
        "- name: name",
        "- name: full_name",
    );
    // relation
    write(
        d,
        "models/aliased.yml",
        "version: 2\nmodels:\n  - name: aliased\n    config:\n      alias: aliased_v2\n",
    );
    // persisted descriptions
    edit(d, "models/schema.yml", "One row.", "Exactly one row.");
    // contract
    edit(
        d,
        "models/schema.yml",
        "data_type: varchar",
        "data_type: integer",
    );
    // new
    write(d, "models/new_model.sql", "select 2 as n\n");
}

#[test]
fn an_unchanged_project_is_unmodified_in_another_target() {
    let prod = Prod::build();
    // dev against prod: env_call is a table in prod and a view here, and
    // env_yaml's meta names the target; neither is a change.
    assert_eq!(prod.ls("state:modified", &[]), Vec::<String>::new());
    assert_eq!(prod.ls("state:new", &[]), Vec::<String>::new());
    let all = prod.ls("resource_type:model", &["--resource-type", "model"]);
    assert_eq!(
        prod.ls("state:unmodified", &["--resource-type", "model"]),
        all
    );
    assert_eq!(prod.ls("state:old", &["--resource-type", "model"]), all);
}

#[test]
fn each_aspect_selects_exactly_its_change() {
    let prod = Prod::build();
    let d = prod.dir();
    change_everything(d);
    let vars = ["--vars", "{min_amount: 5}"];
    let cases: &[(&str, &[&str])] = &[
        // The unit test of stg_orders joins it (eager indirect selection).
        (
            "state:modified.body",
            &[
                "shop.staging.stg_orders",
                "shop.new_model",
                "unit_test:shop.stg_orders_passes_rows",
            ],
        ),
        ("state:modified.configs", &["shop.cfg", "shop.new_model"]),
        (
            "state:modified.relation",
            &["shop.aliased", "shop.new_model"],
        ),
        (
            "state:modified.persisted_descriptions",
            &["shop.documented", "shop.new_model"],
        ),
        (
            "state:modified.contract",
            &["shop.contracted", "shop.new_model"],
        ),
        (
            "state:modified.macros",
            &["shop.dispatched", "shop.marts.big_orders"],
        ),
        // The data test of orders joins it (eager indirect selection).
        (
            "state:modified.vars",
            &["shop.marts.orders", "shop.unique_orders_id"],
        ),
        (
            "state:modified.sources",
            &[
                "shop.staging.stg_customers",
                "source:shop.staging.raw.customers",
            ],
        ),
        ("state:new", &["shop.new_model"]),
        (
            "state:modified",
            &[
                "shop.aliased",
                "shop.cfg",
                "shop.contracted",
                "shop.dispatched",
                "shop.documented",
                "shop.marts.big_orders",
                "shop.marts.orders",
                "shop.new_model",
                "shop.staging.stg_customers",
                "shop.staging.stg_orders",
                "source:shop.staging.raw.customers",
                "shop.unique_orders_id",
                "unit_test:shop.stg_orders_passes_rows",
            ],
        ),
    ];
    for (select, want) in cases {
        assert_eq!(
            sorted(prod.ls(select, &vars)),
            names(want),
            "xform ls -s {select}"
        );
    }
    // Without the var change, orders is not modified.
    assert!(
        !prod
            .ls("state:modified", &[])
            .contains(&"shop.marts.orders".to_owned())
    );
    // Graph operators, --exclude and intersections.
    assert_eq!(
        sorted(prod.ls("state:modified.body+", &["--resource-type", "model"])),
        names(&[
            "shop.marts.big_orders",
            "shop.marts.orders",
            "shop.new_model",
            "shop.staging.stg_orders"
        ])
    );
    assert_eq!(
        sorted(prod.ls(
            "resource_type:model",
            &["--exclude", "state:modified", "--resource-type", "model"]
        )),
        names(&["shop.env_call", "shop.env_yaml", "shop.marts.orders"])
    );
    // selectors.yml
    write(
        d,
        "selectors.yml",
        "selectors:\n  - name: changed\n    definition:\n      method: state\n      value: modified.macros\n      children: true\n      exclude:\n        - dispatched\n",
    );
    let state = prod.state_arg();
    let out = xform(d, &["ls", "--selector", "changed", "--state", &state]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "shop.marts.big_orders");
    // The contract change is a breaking one.
    let out = xform(
        d,
        &["ls", "-s", "state:modified.contract", "--state", &state],
    );
    assert!(out.stderr.contains("XF0349"), "{}", out.stderr);
    assert!(
        out.stderr.contains("contract of `contracted`")
            && out.stderr.contains("`varchar` to `integer`"),
        "{}",
        out.stderr
    );
}

/// Runs dbt in `dir` with `args`; stdout lines.
fn dbt_lines(dbt: &Path, dir: &Path, args: &[&str]) -> Vec<String> {
    let out = Command::new(dbt)
        .args(args)
        .args(["--profiles-dir", ".", "-q", "--no-partial-parse"])
        .current_dir(dir)
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .output()
        .expect("run dbt");
    assert!(
        out.status.success(),
        "dbt {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Runs `dbt parse` in `d` and moves its `target/` to `<outside>/dbt_state`
/// (so xform's runs cannot read it by accident); returns that folder.
fn dbt_parse_state(dbt: &Path, d: &Path, outside: &Path, args: &[&str]) -> String {
    let mut parse = vec!["parse"];
    parse.extend_from_slice(args);
    dbt_lines(dbt, d, &parse);
    let state = outside.join("dbt_state");
    copy_dir(&d.join("target"), &state);
    std::fs::remove_dir_all(d.join("target")).expect("rm target");
    state.display().to_string()
}

/// `xform ls -s <select> --state <state>`, sorted.
fn xform_ls_state(d: &Path, state: &str, select: &str) -> Vec<String> {
    let out = xform(d, &["ls", "-s", select, "--state", state]);
    assert_eq!(out.code, 0, "xform ls -s {select}: {}", out.stderr);
    sorted(out.stdout.lines().map(str::to_owned).collect())
}

/// A state written by `dbt parse` works, and xform selects what dbt
/// selects, except where dbt is wrong.
#[test]
fn dbt_state_selects_like_dbt() {
    let Some(dbt) = dbt() else { return };
    let outside = tempfile::tempdir().expect("temp dir");
    let project = project(&outside.path().join("shop.duckdb"));
    let d = project.path();
    let state = dbt_parse_state(&dbt, d, outside.path(), &["--target", "prod"]);
    let ours = |select: &str| xform_ls_state(d, &state, select);
    let theirs =
        |select: &str| sorted(dbt_lines(&dbt, d, &["ls", "-s", select, "--state", &state]));
    // Unchanged: dbt reports env_call (a table in prod, a view here) and
    // env_yaml (its rendered meta); xform only env_yaml, whose rendered
    // value is all a dbt state has.
    assert_eq!(
        theirs("state:modified"),
        names(&["shop.env_call", "shop.env_yaml"])
    );
    assert_eq!(ours("state:modified"), names(&["shop.env_yaml"]));
    change_everything(d);
    for aspect in [
        "body",
        "configs",
        "relation",
        "persisted_descriptions",
        "contract",
        "macros",
    ] {
        let select = format!("state:modified.{aspect}");
        let mut want = theirs(&select);
        want.retain(|n| n != "shop.env_call");
        assert_eq!(ours(&select), want, "state:modified.{aspect}");
    }
    assert_eq!(ours("state:new"), theirs("state:new"));
    // Where dbt is wrong: env_call is not modified; the renamed source
    // column marks the source and its reader.
    let mut want = theirs("state:modified");
    want.retain(|n| n != "shop.env_call");
    want.push("shop.staging.stg_customers".to_owned());
    want.push("source:shop.staging.raw.customers".to_owned());
    assert_eq!(ours("state:modified"), sorted(want));
}

#[test]
fn defer_reads_unbuilt_parents_from_prod() {
    let prod = Prod::build();
    let d = prod.dir();
    let state = prod.state_arg();
    // A unit test takes its input's column types from the deferred relation.
    let out = xform(d, &["test", "-s", "test_type:unit"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let out = xform(
        d,
        &["test", "-s", "test_type:unit", "--defer", "--state", &state],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Without --defer, dev has no orders to read.
    let out = xform(d, &["run", "-s", "big_orders"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let out = xform(
        d,
        &["run", "-s", "big_orders", "--defer", "--state", &state],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        prod.rows("select id, amount2 from dev.big_orders order by id"),
        ["1|20", "2|40", "3|60"]
    );
    let compiled =
        std::fs::read_to_string(d.join("target/compiled/shop/models/marts/big_orders.sql"))
            .expect("compiled big_orders");
    assert!(compiled.contains(r#""prod"."orders""#), "{compiled}");
    // Once dev has its own orders (fewer rows), they win, unless --favor-state.
    let out = xform(
        d,
        &[
            "run",
            "-s",
            "stg_orders",
            "orders",
            "--defer",
            "--state",
            &state,
            "--vars",
            "{min_amount: 15}",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(prod.rows("select count(*) from dev.orders"), ["2"]);
    let out = xform(
        d,
        &["run", "-s", "big_orders", "--defer", "--state", &state],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(prod.rows("select count(*) from dev.big_orders"), ["2"]);
    let out = xform(
        d,
        &[
            "run",
            "-s",
            "big_orders",
            "--defer",
            "--favor-state",
            "--state",
            &state,
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(prod.rows("select count(*) from dev.big_orders"), ["3"]);
    // compile has no warehouse: it defers by the manifest alone.
    let out = xform(
        d,
        &["compile", "-s", "big_orders", "--defer", "--state", &state],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let compiled =
        std::fs::read_to_string(d.join("target/compiled/shop/models/marts/big_orders.sql"))
            .expect("compiled big_orders");
    assert!(compiled.contains(r#""prod"."orders""#), "{compiled}");
    let out = xform(d, &["compile", "-s", "big_orders"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let compiled =
        std::fs::read_to_string(d.join("target/compiled/shop/models/marts/big_orders.sql"))
            .expect("compiled big_orders");
    assert!(compiled.contains(r#""dev"."orders""#), "{compiled}");
}

#[test]
fn clone_creates_views_on_prod_relations() {
    let prod = Prod::build();
    let d = prod.dir();
    let state = prod.state_arg();
    let out = xform(
        d,
        &["clone", "-s", "orders", "raw_orders", "--state", &state],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("OK cloned model dev.orders"),
        "{}",
        out.stderr
    );
    assert_eq!(
        prod.rows(
            "select table_name, table_type from information_schema.tables where table_schema = 'dev' order by 1"
        ),
        ["orders|VIEW", "raw_orders|VIEW"]
    );
    assert_eq!(
        prod.rows("select id, amount, name from dev.orders order by id"),
        prod.rows("select id, amount, name from prod.orders order by id")
    );
    assert_eq!(prod.rows("select count(*) from dev.raw_orders"), ["3"]);
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("target/run_results.json")).expect("run_results"),
    )
    .expect("json");
    assert_eq!(results["args"]["which"], "clone");
    let statuses: Vec<(&str, &str)> = results["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap_or_default(),
                r["message"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert!(statuses.iter().all(|(_, m)| *m == "OK"), "{statuses:?}");
    // A second clone leaves the existing relations alone.
    let out = xform(d, &["clone", "-s", "orders", "--state", &state]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("NO-OP model dev.orders"),
        "{}",
        out.stderr
    );
    // clone needs a state.
    let out = xform(d, &["clone", "-s", "orders"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("XF0352"), "{}", out.stderr);
}

#[test]
fn result_selects_what_failed_or_was_skipped() {
    let outside = tempfile::tempdir().expect("temp dir");
    let project = project(&outside.path().join("shop.duckdb"));
    let d = project.path();
    write(
        d,
        "models/broken.sql",
        "select no_such_column from {{ ref('raw_orders') }}\n",
    );
    write(
        d,
        "models/after_broken.sql",
        "select * from {{ ref('broken') }}\n",
    );
    let out = xform(d, &["build", "--target", "prod"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let state = outside.path().join("prod_state");
    copy_dir(&d.join("target"), &state);
    let state = state.display().to_string();
    let ls = |select: &str| {
        let out = xform(d, &["ls", "-s", select, "--state", &state]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout.lines().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(ls("result:error"), ["shop.broken"]);
    assert_eq!(ls("result:skipped"), ["shop.after_broken"]);
    assert_eq!(ls("result:error+"), ["shop.after_broken", "shop.broken"]);
    assert_eq!(
        ls("result:pass"),
        [
            "shop.unique_orders_id",
            "unit_test:shop.stg_orders_passes_rows"
        ]
    );
    // Fixed, the failures and what they blocked build again.
    write(
        d,
        "models/broken.sql",
        "select id from {{ ref('raw_orders') }}\n",
    );
    let out = xform(
        d,
        &[
            "build",
            "-s",
            "result:error+",
            "--state",
            &state,
            "--target",
            "prod",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("TOTAL=2"), "{}", out.stderr);
}

#[test]
fn check_validates_only_the_change_and_its_downstream() {
    let outside = tempfile::tempdir().expect("temp dir");
    let project = project(&outside.path().join("shop.duckdb"));
    let d = project.path();
    // A model with a column that cannot exist, already in prod.
    write(
        d,
        "models/old_mistake.sql",
        "select nope from {{ ref('stg_orders') }}\n",
    );
    let out = xform(d, &["parse", "--target", "prod"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let state = outside.path().join("prod_state");
    copy_dir(&d.join("target"), &state);
    let state = state.display().to_string();
    let out = xform(d, &["check"]);
    assert_eq!(out.code, 1, "the old mistake is found without state");
    // A valid change: only it and its downstream are checked.
    edit(
        d,
        "models/marts/orders.sql",
        "o.amount, c.name",
        "o.amount, c.name, o.customer_id",
    );
    let out = xform(d, &["check", "-s", "state:modified+", "--state", &state]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("Checked 2 models"), "{}", out.stderr);
    // A broken change is reported, with upstream columns still known.
    edit(d, "models/marts/orders.sql", "o.customer_id", "o.customer");
    let out = xform(d, &["check", "-s", "state:modified+", "--state", &state]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("XF0702"), "{}", out.stderr);
    assert!(out.stderr.contains("customer"), "{}", out.stderr);
    assert!(!out.stderr.contains("nope"), "{}", out.stderr);
}

#[test]
fn state_problems_are_clear_errors() {
    let outside = tempfile::tempdir().expect("temp dir");
    let project = project(&outside.path().join("shop.duckdb"));
    let d = project.path();
    let code_of = |args: &[&str], code: &str| {
        let out = xform(d, args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(code), "{args:?}: {}", out.stderr);
        out.stderr
    };
    code_of(&["ls", "-s", "state:modified"], "XF0305");
    code_of(
        &["ls", "-s", "state:modified", "--state", "no/such/dir"],
        "XF0340",
    );
    let empty = outside.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let empty = empty.display().to_string();
    let e = code_of(&["ls", "-s", "state:modified", "--state", &empty], "XF0341");
    assert!(e.contains("manifest.json"), "{e}");
    code_of(&["ls", "-s", "result:error", "--state", &empty], "XF0343");
    code_of(&["run", "--defer"], "XF0346");
    code_of(&["run", "--defer", "--state", &empty], "XF0341");
    code_of(&["ls", "-s", "state:modifed", "--state", &empty], "XF0302");
    code_of(&["ls", "-s", "source_status:fresher"], "XF0347");
    write(
        &outside.path().join("bad"),
        "manifest.json",
        "{\"metadata\": 3}",
    );
    write(&outside.path().join("bad"), "run_results.json", "[]");
    let bad = outside.path().join("bad").display().to_string();
    let e = code_of(&["ls", "-s", "state:new", "--state", &bad], "XF0342");
    assert!(e.contains("bad/manifest.json"), "{e}");
    code_of(&["ls", "-s", "result:fail", "--state", &bad], "XF0344");
    // DBT_STATE works as --state does.
    let out = Command::new(env!("CARGO_BIN_EXE_xform"))
        .args(["ls", "-s", "state:modified"])
        .current_dir(d)
        .env("DBT_STATE", &empty)
        .env("NO_COLOR", "1")
        .env("HOME", d)
        .output()
        .expect("run xform");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("XF0341"));
}

/// On Postgres too: deferred parents are read from the prod schema, and a
/// clone is a view on the prod relation.
#[test]
fn defer_and_clone_on_postgres() {
    let Some(url) = crate::support::pg_url() else {
        return;
    };
    let db = crate::support::PgDatabase::create(&url, "state_defer_clone");
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(
        d,
        "dbt_project.yml",
        "name: shop\nversion: '1.0'\nprofile: shop\nmodels:\n  shop:\n    +materialized: table\n",
    );
    let output = |schema: &str| {
        format!(
            "    {schema}:\n      type: postgres\n      host: {}\n      port: {}\n      user: {}\n      password: '{}'\n      dbname: {}\n      schema: {schema}\n      threads: 2\n",
            env("XFORM_TEST_PG_HOST"),
            env("XFORM_TEST_PG_PORT"),
            env("XFORM_TEST_PG_USER"),
            env("XFORM_TEST_PG_PASSWORD"),
            db.name
        )
    };
    write(
        d,
        "profiles.yml",
        &format!(
            "shop:\n  target: dev\n  outputs:\n{}{}",
            output("prod"),
            output("dev")
        ),
    );
    write(d, "seeds/raw_orders.csv", "id,amount\n1,10\n2,20\n3,30\n");
    write(
        d,
        "models/orders.sql",
        "select * from {{ ref('raw_orders') }} where amount > 10\n",
    );
    write(
        d,
        "models/big_orders.sql",
        "select id, amount * 2 as amount2 from {{ ref('orders') }}\n",
    );
    let out = xform(d, &["build", "--target", "prod"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let outside = tempfile::tempdir().expect("temp dir");
    let state = outside.path().join("prod_state");
    copy_dir(&d.join("target"), &state);
    let state = state.display().to_string();
    let out = xform(
        d,
        &["run", "-s", "big_orders", "--defer", "--state", &state],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = |sql: &str| -> Vec<String> {
        db.rows(sql)
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|c| c.unwrap_or_else(|| "NULL".to_owned()))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    };
    assert_eq!(
        rows("select id, amount2 from dev.big_orders order by id"),
        ["2|40", "3|60"]
    );
    let out = xform(
        d,
        &["clone", "-s", "orders", "raw_orders", "--state", &state],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        rows(
            "select table_name, table_type from information_schema.tables where table_schema = 'dev' order by 1"
        ),
        ["big_orders|BASE TABLE", "orders|VIEW", "raw_orders|VIEW"]
    );
    assert_eq!(
        rows("select id, amount from dev.orders order by id"),
        ["2|20", "3|30"]
    );
}

/// `retry` re-runs what failed with the state and deferral of that run.
#[test]
fn retry_keeps_the_state_and_deferral_of_the_run() {
    let prod = Prod::build();
    let d = prod.dir();
    let state = prod.state_arg();
    edit(
        d,
        "models/marts/orders.sql",
        "o.amount, c.name",
        "o.amount, c.nope",
    );
    let out = xform(
        d,
        &[
            "run",
            "-s",
            "orders",
            "big_orders",
            "--defer",
            "--state",
            &state,
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    edit(d, "models/marts/orders.sql", "c.nope", "c.name");
    // The staging models exist only in prod: without --defer this fails.
    let out = xform(d, &["retry"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("TOTAL=2"), "{}", out.stderr);
    assert_eq!(prod.rows("select count(*) from dev.big_orders"), ["3"]);
}

/// Seeds over 1 MiB, whose manifest checksum dbt leaves out, are compared
/// by a hash of the whole file.
#[test]
fn large_seeds_are_compared_by_contents() {
    let outside = tempfile::tempdir().expect("temp dir");
    let project = project(&outside.path().join("shop.duckdb"));
    let d = project.path();
    let mut csv = String::from("id,label\n");
    for i in 0..70_000 {
        let _ = writeln!(csv, "{i},label number {i}");
    }
    assert!(csv.len() > 1 << 20);
    write(d, "seeds/big.csv", &csv);
    let out = xform(d, &["parse", "--target", "prod"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let state = outside.path().join("prod_state");
    copy_dir(&d.join("target"), &state);
    let state = state.display().to_string();
    let ls = |select: &str| {
        let out = xform(d, &["ls", "-s", select, "--state", &state]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout.lines().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(ls("state:modified"), Vec::<String>::new());
    edit(
        d,
        "seeds/big.csv",
        "35000,label number 35000",
        "35000,label number 35001",
    );
    assert_eq!(ls("state:modified.body"), ["shop.big"]);
}

/// Model versions against a state `dbt parse` wrote: nothing is modified
/// in the unchanged project; a new `latest_version` and deprecation date
/// modify every version of the model (dbt's `same_ref_representation`) and
/// its tests; an edited version file modifies that version alone.
#[test]
fn versioned_models_compare_with_a_dbt_state_like_dbt() {
    let Some(dbt) = dbt() else { return };
    let project = crate::support::copy_project(&crate::support::fixture("run/versions"));
    let d = project.path();
    crate::support::ensure_duckdb_profile(d);
    let outside = tempfile::tempdir().expect("temp dir");
    let state = dbt_parse_state(&dbt, d, outside.path(), &[]);
    let ours = |select: &str| xform_ls_state(d, &state, select);
    let theirs =
        |select: &str| sorted(dbt_lines(&dbt, d, &["ls", "-s", select, "--state", &state]));
    assert_eq!(ours("state:modified"), Vec::<String>::new());
    assert_eq!(theirs("state:modified"), Vec::<String>::new());
    edit(
        d,
        "models/marts/schema.yml",
        "latest_version: 2",
        "latest_version: 3",
    );
    edit(
        d,
        "models/marts/metrics_v1.sql",
        "select 1 as id",
        "select 10 as id",
    );
    let want = theirs("state:modified");
    assert!(want.contains(&"versions.marts.dim_customers.v1".to_owned()));
    assert!(want.contains(&"versions.marts.metrics.v1".to_owned()));
    assert_eq!(ours("state:modified"), want);
    assert_eq!(ours("state:modified.body"), theirs("state:modified.body"));
}
