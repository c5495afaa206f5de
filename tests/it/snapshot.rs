//! Snapshots on real `DuckDB` files: the fixture
//! `tests/fixtures/run/snapshot_xform_scd` runs its `steps.yml` (seed,
//! snapshot, change the seeds, snapshot, ...) through the harness's engine
//! (`crate::compat`), and the snapshot tables must hold exactly the rows
//! dbt-core 1.11 + dbt-duckdb leave (`compat/run` compares every table after
//! every step with dbt's, live; CI runs it on this case too).
//!
//! - `timestamp_strategy_rows` and friends assert the rows directly: with
//!   the timestamp strategy every value comes from the data, except the
//!   `now()` of hard deletes.
//! - `check_strategy_*` assert the structure, row counts and which versions
//!   are current: the check strategy stamps versions with the run's `now()`.
//!
//! Values that depend on when a step ran are normalised by the engine's
//! dumps: a `TIMESTAMP` that falls in a step's wall-clock window becomes
//! `<now@step N>`, and the `dbt_scd_id` of a version that starts then, an
//! md5 of that time, becomes `<md5 of now@step N>`
//! (`scd_ids_are_md5_of_key_and_updated_at` checks those hashes against
//! their formula instead). Rows are compared here with strings unquoted.

use std::collections::BTreeMap;
use std::path::Path;

use crate::compat::dump::Relation as Table;
use crate::compat::spec::{Spec, StepSpec};
use crate::compat::{self, Options, Tool, Warehouse};
use crate::support::fixture;

const CASE: &str = "snapshot_xform_scd";

/// Runs every step of the case with xform. `extra` is appended to the
/// command of the steps it names (1-based).
fn run_case(extra: &[(usize, &str)]) -> compat::Run {
    let dir = fixture("run").join(CASE);
    let mut spec = Spec::load(&dir)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .expect("steps.yml");
    for (n, more) in extra {
        let mut step = spec.steps[n - 1].step();
        step.cmd = format!("{} {more}", step.cmd);
        spec.steps[n - 1] = StepSpec::Full(step);
    }
    let mut opts = Options::new(Warehouse::DuckDb, None);
    opts.verbose = std::env::var_os("XFORM_RUN_VERBOSE").is_some();
    let run = compat::run(
        Tool::Xform,
        Path::new(env!("CARGO_BIN_EXE_xform")),
        &dir,
        &spec,
        &opts,
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    if extra.is_empty() {
        for (i, step) in run.steps.iter().enumerate() {
            if step.exit != 0 {
                eprintln!(
                    "step {}: {} (exit {})\n{}",
                    i + 1,
                    step.cmd,
                    step.exit,
                    step.output
                );
            }
        }
    }
    run
}

/// The relation `schema.name` after step `n` (1-based).
fn table<'a>(run: &'a compat::Run, n: usize, name: &str) -> &'a Table {
    let (schema, rel) = name.split_once('.').expect("schema.name");
    run.steps[n - 1]
        .dump
        .get(schema, rel)
        .unwrap_or_else(|| panic!("no relation {name} after step {n}"))
}

/// Rows as cells, strings unquoted, sorted.
fn rows(t: &Table) -> Vec<Vec<String>> {
    let rows = t
        .rows
        .as_ref()
        .unwrap_or_else(|e| panic!("{}: {e}", t.qualified()));
    let mut rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.split(" | ")
                .map(
                    |c| match c.strip_prefix('"').and_then(|c| c.strip_suffix('"')) {
                        Some(s) => s.replace("\\\"", "\""),
                        None => c.to_owned(),
                    },
                )
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

/// Rows as `a | b | c` lines, strings unquoted.
fn lines(t: &Table) -> Vec<String> {
    rows(t).iter().map(|r| r.join(" | ")).collect()
}

fn column_names(t: &Table) -> Vec<&str> {
    t.columns.iter().map(|(c, _)| c.as_str()).collect()
}

fn query(conn: &duckdb::Connection, sql: &str) -> Vec<Vec<Option<String>>> {
    let mut stmt = conn.prepare(sql).expect("prepare");
    let mut rows = stmt.query([]).expect("query");
    let mut out = Vec::new();
    while let Some(row) = rows.next().expect("row") {
        let n = row.as_ref().column_count();
        out.push(
            (0..n)
                .map(|i| row.get::<_, Option<String>>(i).expect("text value"))
                .collect(),
        );
    }
    out
}

fn assert_ok(run: &compat::Run) {
    for (i, step) in run.steps.iter().enumerate() {
        assert_eq!(step.exit, 0, "step {}: `{}` failed", i + 1, step.cmd);
    }
}

#[test]
fn timestamp_strategy_rows() {
    let run = run_case(&[]);
    assert_ok(&run);

    // First run: the query plus the meta columns, all versions current.
    let t = table(&run, 2, "main.snap_ts");
    assert_eq!(
        t.columns,
        [
            ("id", "INTEGER"),
            ("name", "VARCHAR"),
            ("tier", "VARCHAR"),
            ("updated_at", "TIMESTAMP"),
            ("dbt_scd_id", "VARCHAR"),
            ("dbt_updated_at", "TIMESTAMP"),
            ("dbt_valid_from", "TIMESTAMP"),
            ("dbt_valid_to", "TIMESTAMP"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(
        lines(t),
        [
            "1 | Alice | gold | 2024-01-01 10:00:00 | 4f5746d2de2c81b300d78040e8c6008e | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | NULL",
            "2 | Bob | silver | 2024-01-01 10:00:00 | 196df3baf027da9165d6c7f37b56a7fe | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | NULL",
            "3 | Carol | bronze | 2024-01-01 10:00:00 | c637e7532da837b1b56aebcb2bf6beab | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | NULL",
            "4 | Dan | NULL | 2024-01-01 10:00:00 | 0bfd1bc45acd7ac79c5b7b90fa58f184 | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | NULL",
        ]
    );

    // Bob changed (closed at his new updated_at), Carol was deleted (kept:
    // hard_deletes is ignore), Dan's tier changed without a newer
    // updated_at (not a change for this strategy), Eve is new.
    assert_eq!(
        lines(table(&run, 4, "main.snap_ts")),
        [
            "1 | Alice | gold | 2024-01-01 10:00:00 | 4f5746d2de2c81b300d78040e8c6008e | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | NULL",
            "2 | Bob | gold | 2024-02-01 08:30:00 | e6abcce31469b42110f409819e818459 | 2024-02-01 08:30:00 | 2024-02-01 08:30:00 | NULL",
            "2 | Bob | silver | 2024-01-01 10:00:00 | 196df3baf027da9165d6c7f37b56a7fe | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | 2024-02-01 08:30:00",
            "3 | Carol | bronze | 2024-01-01 10:00:00 | c637e7532da837b1b56aebcb2bf6beab | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | NULL",
            "4 | Dan | NULL | 2024-01-01 10:00:00 | 0bfd1bc45acd7ac79c5b7b90fa58f184 | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | NULL",
            "5 | Eve | bronze | 2024-02-01 08:30:00 | a80053e182441c8896a7f16bb33ee217 | 2024-02-01 08:30:00 | 2024-02-01 08:30:00 | NULL",
        ]
    );

    // The seed gained `email`: the column is added at the end, NULL in old
    // versions and filled in new ones.
    let t = table(&run, 6, "main.snap_ts");
    assert_eq!(column_names(t).last(), Some(&"email"));
    assert_eq!(
        lines(t),
        [
            "1 | Alice | gold | 2024-01-01 10:00:00 | 4f5746d2de2c81b300d78040e8c6008e | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | NULL | NULL",
            "2 | Bob | gold | 2024-02-01 08:30:00 | e6abcce31469b42110f409819e818459 | 2024-02-01 08:30:00 | 2024-02-01 08:30:00 | NULL | NULL",
            "2 | Bob | silver | 2024-01-01 10:00:00 | 196df3baf027da9165d6c7f37b56a7fe | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | 2024-02-01 08:30:00 | NULL",
            "3 | Carol | bronze | 2024-01-01 10:00:00 | c637e7532da837b1b56aebcb2bf6beab | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | NULL | NULL",
            "4 | Dan | NULL | 2024-01-01 10:00:00 | 0bfd1bc45acd7ac79c5b7b90fa58f184 | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | NULL | NULL",
            "5 | Eve | bronze | 2024-02-01 08:30:00 | a80053e182441c8896a7f16bb33ee217 | 2024-02-01 08:30:00 | 2024-02-01 08:30:00 | 2024-03-01 12:00:00 | NULL",
            "5 | Eve | platinum | 2024-03-01 12:00:00 | 560338322374ee7c06fb41bdc7e198f3 | 2024-03-01 12:00:00 | 2024-03-01 12:00:00 | NULL | eve@example.com",
        ]
    );
    // A run without changes changes nothing.
    assert_eq!(table(&run, 7, "main.snap_ts"), t);
}

#[test]
fn hard_deletes_invalidate_and_new_record() {
    let run = run_case(&[]);
    assert_ok(&run);

    // invalidate: Carol's version is closed when she disappears; when she
    // comes back unchanged, a new version starts at her updated_at (with
    // the same dbt_scd_id, as in dbt).
    assert_eq!(
        lines(table(&run, 6, "main.snap_ts_invalidate"))
            .into_iter()
            .filter(|l| l.starts_with("3 |"))
            .collect::<Vec<_>>(),
        [
            "3 | Carol | bronze | 2024-01-01 10:00:00 | c637e7532da837b1b56aebcb2bf6beab | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | <now@step 4> | NULL",
            "3 | Carol | bronze | 2024-01-01 10:00:00 | c637e7532da837b1b56aebcb2bf6beab | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | NULL | carol@example.com",
        ]
    );
    // The legacy `invalidate_hard_deletes=True` with `target_schema`.
    assert_eq!(
        lines(table(&run, 6, "legacy.snap_legacy")),
        lines(table(&run, 6, "main.snap_ts_invalidate"))
    );

    // new_record with renamed meta columns and dbt_valid_to_current: the
    // deletion is a version of its own (is_deleted True, from the run's
    // now), closed when the row comes back.
    let t = table(&run, 6, "main.snap_valid_to_current");
    assert_eq!(
        column_names(t),
        [
            "id",
            "name",
            "tier",
            "updated_at",
            "scd_id",
            "changed_at",
            "valid_from",
            "valid_to",
            "is_deleted",
            "email"
        ]
    );
    assert_eq!(
        lines(t),
        [
            "1 | Alice | gold | 2024-01-01 10:00:00 | 4f5746d2de2c81b300d78040e8c6008e | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | 9999-12-31 00:00:00 | False | NULL",
            "2 | Bob | gold | 2024-02-01 08:30:00 | e6abcce31469b42110f409819e818459 | 2024-02-01 08:30:00 | 2024-02-01 08:30:00 | 9999-12-31 00:00:00 | False | NULL",
            "2 | Bob | silver | 2024-01-01 10:00:00 | 196df3baf027da9165d6c7f37b56a7fe | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | 2024-02-01 08:30:00 | False | NULL",
            "3 | Carol | bronze | 2024-01-01 10:00:00 | <md5 of now@step 4> | <now@step 4> | <now@step 4> | 2024-01-01 10:00:00 | True | NULL",
            "3 | Carol | bronze | 2024-01-01 10:00:00 | c637e7532da837b1b56aebcb2bf6beab | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | 9999-12-31 00:00:00 | False | carol@example.com",
            "3 | Carol | bronze | 2024-01-01 10:00:00 | c637e7532da837b1b56aebcb2bf6beab | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | <now@step 4> | False | NULL",
            "4 | Dan | NULL | 2024-01-01 10:00:00 | 0bfd1bc45acd7ac79c5b7b90fa58f184 | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | 9999-12-31 00:00:00 | False | NULL",
            "5 | Eve | bronze | 2024-02-01 08:30:00 | a80053e182441c8896a7f16bb33ee217 | 2024-02-01 08:30:00 | 2024-02-01 08:30:00 | 2024-03-01 12:00:00 | False | NULL",
            "5 | Eve | platinum | 2024-03-01 12:00:00 | 560338322374ee7c06fb41bdc7e198f3 | 2024-03-01 12:00:00 | 2024-03-01 12:00:00 | 9999-12-31 00:00:00 | False | eve@example.com",
        ]
    );
    assert_eq!(table(&run, 7, "main.snap_valid_to_current"), t);
}

#[test]
fn unique_key_list_and_added_query_columns() {
    let run = run_case(&[]);
    assert_ok(&run);
    // Step 5 adds computed columns to the query: they are added to the
    // table with the query's types.
    let t = table(&run, 6, "main.snap_composite");
    assert_eq!(
        t.columns[8..],
        [
            ("amount_x2", "DECIMAL(18,2)"),
            ("order_big", "BIGINT"),
            ("version", "VARCHAR"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(
        lines(t),
        [
            "eu | 1 | 10.50 | 2024-01-01 09:00:00 | fe662b2271f28e37470476cc1854f199 | 2024-01-01 09:00:00 | 2024-01-01 09:00:00 | NULL | NULL | NULL | NULL",
            "eu | 2 | 20.00 | 2024-01-01 09:00:00 | b9036ce012d799b27f0ae86b91307df0 | 2024-01-01 09:00:00 | 2024-01-01 09:00:00 | <now@step 4> | NULL | NULL | NULL",
            "eu | 2 | 20.00 | 2024-01-01 09:00:00 | b9036ce012d799b27f0ae86b91307df0 | 2024-01-01 09:00:00 | 2024-01-01 09:00:00 | NULL | 40.00 | 2000 | v2",
            "us | 1 | 5.25 | 2024-01-01 09:00:00 | 252d630db5a10c0caaee542e638857c6 | 2024-01-01 09:00:00 | 2024-01-01 09:00:00 | 2024-02-02 09:00:00 | NULL | NULL | NULL",
            "us | 1 | 7.75 | 2024-02-02 09:00:00 | f0e564b8f69a801a9c3a3982b2766d1e | 2024-02-02 09:00:00 | 2024-02-02 09:00:00 | <now@step 6> | NULL | NULL | NULL",
            "us | 2 | 1.00 | 2024-02-02 09:00:00 | 5fe6158ff215d4920b272df04c42d9f9 | 2024-02-02 09:00:00 | 2024-02-02 09:00:00 | NULL | NULL | NULL | NULL",
        ]
    );
}

/// Versions per key as `key: total/current` (current: open `dbt_valid_to`),
/// with deletion records counted apart.
fn validity(t: &Table, key_cols: usize, valid_to: &str, open: &str) -> Vec<String> {
    let vt = t
        .columns
        .iter()
        .position(|(c, _)| c == valid_to)
        .expect("valid_to column");
    let del = t
        .columns
        .iter()
        .position(|(c, _)| c.ends_with("is_deleted"));
    let mut by_key: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for r in &rows(t) {
        let e = by_key.entry(r[..key_cols].join(",")).or_default();
        e.0 += 1;
        if r[vt] == open {
            e.1 += 1;
        }
        if del.is_some_and(|d| r[d] == "True") {
            e.2 += 1;
        }
    }
    by_key
        .into_iter()
        .map(|(k, (n, cur, d))| format!("{k}: {n} versions, {cur} current, {d} deleted"))
        .collect()
}

#[test]
fn check_strategy_structure_and_versions() {
    let run = run_case(&[]);
    assert_ok(&run);
    let t = table(&run, 2, "main.snap_check_all");
    assert_eq!(
        column_names(t),
        [
            "id",
            "name",
            "tier",
            "updated_at",
            "dbt_scd_id",
            "dbt_updated_at",
            "dbt_valid_from",
            "dbt_valid_to"
        ]
    );
    assert_eq!(t.columns[5].1, "TIMESTAMP");
    // Every column is checked: Dan's tier change counts; the column added
    // in step 5 makes every row a new version.
    assert_eq!(
        validity(
            table(&run, 4, "main.snap_check_all"),
            1,
            "dbt_valid_to",
            "NULL"
        ),
        [
            "1: 1 versions, 1 current, 0 deleted",
            "2: 2 versions, 1 current, 0 deleted",
            "3: 1 versions, 0 current, 0 deleted",
            "4: 2 versions, 1 current, 0 deleted",
            "5: 1 versions, 1 current, 0 deleted",
        ]
    );
    let after = validity(
        table(&run, 6, "main.snap_check_all"),
        1,
        "dbt_valid_to",
        "NULL",
    );
    assert_eq!(
        after,
        [
            "1: 2 versions, 1 current, 0 deleted",
            "2: 3 versions, 1 current, 0 deleted",
            "3: 2 versions, 1 current, 0 deleted",
            "4: 3 versions, 1 current, 0 deleted",
            "5: 2 versions, 1 current, 0 deleted",
        ]
    );
    assert_eq!(
        table(&run, 7, "main.snap_check_all"),
        table(&run, 6, "main.snap_check_all")
    );

    // check_cols list with new_record; the query drops `name` in step 5:
    // the column stays, NULL in new versions.
    let t = table(&run, 6, "main.snap_check_list");
    assert_eq!(
        column_names(t),
        [
            "id",
            "name",
            "tier",
            "dbt_scd_id",
            "dbt_updated_at",
            "dbt_valid_from",
            "dbt_valid_to",
            "dbt_is_deleted"
        ]
    );
    assert_eq!(
        validity(t, 1, "dbt_valid_to", "NULL"),
        [
            "1: 1 versions, 1 current, 0 deleted",
            "2: 2 versions, 1 current, 0 deleted",
            "3: 3 versions, 1 current, 1 deleted",
            "4: 2 versions, 1 current, 0 deleted",
            "5: 2 versions, 1 current, 0 deleted",
        ]
    );
    assert!(
        lines(t).contains(
            &"5 | NULL | platinum | <md5 of now@step 6> | <now@step 6> | <now@step 6> | NULL | False"
                .to_owned()
        ),
        "{}",
        t.render()
    );

    // Composite key, check_cols list, new_record.
    assert_eq!(
        validity(
            table(&run, 6, "main.snap_composite_check"),
            2,
            "dbt_valid_to",
            "NULL"
        ),
        [
            "eu,1: 1 versions, 1 current, 0 deleted",
            "eu,2: 3 versions, 1 current, 1 deleted",
            "us,1: 3 versions, 1 current, 1 deleted",
            "us,2: 1 versions, 1 current, 0 deleted",
        ]
    );

    // YAML-defined, with dbt_valid_to_current, in its own schema.
    assert_eq!(
        validity(
            table(&run, 6, "main_history.snap_yaml"),
            1,
            "dbt_valid_to",
            "9999-12-31 00:00:00"
        ),
        after
    );
    // Quoted, mixed-case column names.
    assert_eq!(
        column_names(table(&run, 6, "main.snap_quoted"))[..3],
        ["id", "Tier Level", "NAME"]
    );
}

#[test]
fn scd_ids_are_md5_of_key_and_updated_at() {
    let run = run_case(&[]);
    assert_ok(&run);
    let conn = duckdb::Connection::open(run.dir().join("warehouse.duckdb")).expect("open db");
    let cases: [(&str, &[&str], &str, &str); 5] = [
        (
            "main.snap_check_all",
            &["id"],
            "dbt_scd_id",
            "dbt_updated_at",
        ),
        (
            "main.snap_check_list",
            &["id"],
            "dbt_scd_id",
            "dbt_updated_at",
        ),
        (
            "main.snap_composite_check",
            &["region", "order_no"],
            "dbt_scd_id",
            "dbt_updated_at",
        ),
        (
            "main.snap_ts_new_record",
            &["id"],
            "dbt_scd_id",
            "dbt_updated_at",
        ),
        (
            "main.snap_valid_to_current",
            &["id"],
            "scd_id",
            "changed_at",
        ),
    ];
    for (table, keys, scd, updated) in cases {
        let args: Vec<String> = keys
            .iter()
            .chain(std::iter::once(&updated))
            .map(|k| format!("coalesce(cast({k} as varchar), '')"))
            .collect();
        let deleted = if table.ends_with("check_all") {
            "false".to_owned()
        } else {
            format!("{} = 'True'", scd.replace("scd_id", "is_deleted"))
        };
        // Versions: md5(key | updated_at). Deletion records: md5(scd_id of
        // the version they close | the run's now).
        let bad = query(
            &conn,
            &format!(
                "select cast(count(*) as varchar) from {table} d where case when {deleted} then not exists (
                   select 1 from {table} p where {} and d.{scd} = md5(coalesce(cast(p.{scd} as varchar), '') || '|' || coalesce(cast(d.{updated} as varchar), '')))
                 else d.{scd} != md5({}) end",
                keys.iter()
                    .map(|k| format!("p.{k} = d.{k}"))
                    .collect::<Vec<_>>()
                    .join(" and "),
                args.join(" || '|' || ")
            ),
        );
        assert_eq!(
            bad[0][0].as_deref().unwrap_or_default(),
            "0",
            "{table}: scd ids off their formula"
        );
    }
}

#[test]
fn failed_run_leaves_the_snapshot_as_it_was() {
    // Step 6 runs with a post-hook that fails after the new versions are
    // written: the whole run rolls back, added column included.
    let run = run_case(&[(6, "--vars '{fail_snapshot: true}'")]);
    assert_eq!(run.steps[5].exit, 1, "the failing step must fail");
    let before = table(&run, 4, "main.snap_ts");
    assert_eq!(table(&run, 6, "main.snap_ts"), before);
    // The next run applies the changes.
    assert_eq!(run.steps[6].exit, 0);
    assert_eq!(rows(table(&run, 7, "main.snap_ts")).len(), 7);
}
