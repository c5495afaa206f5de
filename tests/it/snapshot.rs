//! Snapshots on real `DuckDB` files: the fixture
//! `tests/fixtures/run/snapshot_xform_scd` runs its `steps.yml` (seed,
//! snapshot, change the seeds, snapshot, ...) and the snapshot tables must
//! hold exactly the rows dbt-core 1.11 + dbt-duckdb leave.
//!
//! - `timestamp_strategy_rows` and friends assert the rows directly: with
//!   the timestamp strategy every value comes from the data, except the
//!   `now()` of hard deletes.
//! - `check_strategy_*` assert the structure, row counts and which versions
//!   are current: the check strategy stamps versions with the run's `now()`.
//! - `tables_match_dbt` compares every table after every step with dbt's,
//!   run live when `XFORM_DBT` points at dbt.
//!
//! Values that depend on when a step ran are normalised: a `TIMESTAMP` or
//! `DATE` that falls in a step's wall-clock window becomes `<now@step N>`
//! (`<today>` for a date),
//! and the `dbt_scd_id` of a version that starts then, an md5 of that time,
//! becomes `<md5 with now>` (`scd_ids_are_md5_of_key_and_updated_at` checks
//! those hashes against their formula instead).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta, Utc};
use serde::Deserialize;

use crate::support::{dbt, fixture};

const CASE: &str = "snapshot_xform_scd";

#[derive(Deserialize)]
struct Steps {
    #[allow(dead_code)]
    description: Option<String>,
    steps: Vec<StepSpec>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StepSpec {
    Cmd(String),
    Full {
        cmd: String,
        overlay: Option<String>,
    },
}

impl StepSpec {
    fn parts(&self) -> (&str, Option<&str>) {
        match self {
            Self::Cmd(c) => (c, None),
            Self::Full { cmd, overlay } => (cmd, overlay.as_deref()),
        }
    }
}

#[derive(Clone, Copy)]
enum Tool<'a> {
    Xform,
    Dbt(&'a Path),
}

/// One relation after a step: `(column, type)` and rows as text.
#[derive(Clone, Debug, PartialEq)]
struct Table {
    kind: String,
    columns: Vec<(String, String)>,
    rows: Vec<Vec<String>>,
}

/// Every relation after a step, by `schema.name`.
type Dump = BTreeMap<String, Table>;

/// What running the case produced: the dump after each step.
struct Run {
    _dir: tempfile::TempDir,
    db: PathBuf,
    steps: Vec<(String, i32, Dump)>,
}

impl Run {
    /// The table after step `n` (1-based).
    fn table(&self, n: usize, name: &str) -> &Table {
        self.steps[n - 1]
            .2
            .get(name)
            .unwrap_or_else(|| panic!("no relation {name} after step {n}"))
    }
}

fn copy_dir(src: &Path, dst: &Path, top: bool) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for entry in std::fs::read_dir(src).expect("read_dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if top && (name == "steps.yml" || name.starts_with("step_")) {
            continue;
        }
        if name == "target" || name == "logs" || name.ends_with(".duckdb") {
            continue;
        }
        let (from, to) = (entry.path(), dst.join(&name));
        if from.is_dir() {
            copy_dir(&from, &to, false);
        } else {
            std::fs::copy(&from, &to).expect("copy");
        }
    }
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// Runs every step of the case with one tool, dumping the database after
/// each. `extra` is appended to the command of the steps it names.
fn run_case(tool: Tool, extra: &[(usize, &[&str])]) -> Run {
    let case = fixture("run").join(CASE);
    let spec: Steps = serde_saphyr::from_str(
        &std::fs::read_to_string(case.join("steps.yml")).expect("steps.yml"),
    )
    .expect("steps.yml");
    let dir = tempfile::tempdir().expect("temp dir");
    let proj = dir.path().join("proj");
    copy_dir(&case, &proj, true);
    // Named like the profile's catalog in every run, so dumps compare. The
    // file is created by the duckdb crate: dbt's Python duckdb may be newer
    // and would otherwise write a storage version the crate cannot read.
    let db = dir.path().join("warehouse.duckdb");
    drop(duckdb::Connection::open(&db).expect("create db"));
    let mut windows: Vec<(NaiveDateTime, NaiveDateTime)> = Vec::new();
    let mut steps = Vec::new();
    for (i, step) in spec.steps.iter().enumerate() {
        let (cmd, overlay) = step.parts();
        if let Some(o) = overlay {
            copy_dir(&case.join(o), &proj, false);
        }
        let mut args: Vec<&str> = cmd.split_whitespace().collect();
        for (n, more) in extra {
            if *n == i + 1 {
                args.extend_from_slice(more);
            }
        }
        let mut c = match tool {
            Tool::Xform => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_xform"));
                c.args(&args);
                c
            }
            Tool::Dbt(dbt) => {
                let mut c = Command::new(dbt);
                c.args(&args)
                    .args(["--no-partial-parse", "--no-send-anonymous-usage-stats"]);
                c
            }
        };
        c.current_dir(&proj)
            .env("TZ", "UTC")
            .env("NO_COLOR", "1")
            .env("HOME", dir.path())
            .env("DBT_PROFILES_DIR", &proj)
            .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
            .env("XFORM_TEST_DB", &db)
            .env_remove("XFORM_LOG");
        let start = now();
        let out = c.output().expect("run step");
        windows.push((start, now()));
        let code = out.status.code().unwrap_or(-1);
        if std::env::var_os("XFORM_RUN_VERBOSE").is_some() || (code != 0 && extra.is_empty()) {
            eprintln!(
                "step {}: {cmd} (exit {code})\n{}{}",
                i + 1,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        steps.push((cmd.to_owned(), code, dump(&db, &windows)));
    }
    Run {
        _dir: dir,
        db,
        steps,
    }
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

fn text(v: Option<&String>) -> String {
    v.cloned().unwrap_or_default()
}

/// The step whose window holds `t`, trying tighter windows first (steps can
/// follow each other within milliseconds).
fn step_of(t: NaiveDateTime, windows: &[(NaiveDateTime, NaiveDateTime)]) -> Option<usize> {
    [0, 500, 2000].iter().find_map(|ms| {
        let pad = TimeDelta::milliseconds(*ms);
        windows
            .iter()
            .position(|(s, e)| *s - pad <= t && t <= *e + pad)
            .map(|i| i + 1)
    })
}

/// A value as the dumps show it: times of a step as `<now@step N>`.
fn normalise(value: &str, ty: &str, windows: &[(NaiveDateTime, NaiveDateTime)]) -> Option<String> {
    if ty == "DATE" {
        // A date only says which day.
        let d = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
        return windows
            .iter()
            .any(|(s, e)| s.date() <= d && d <= e.date())
            .then(|| "<today>".to_owned());
    }
    if !ty.starts_with("TIMESTAMP") {
        return None;
    }
    let t = NaiveDateTime::parse_from_str(value.trim_end_matches("+00"), "%Y-%m-%d %H:%M:%S%.f")
        .ok()?;
    step_of(t, windows).map(|n| format!("<now@step {n}>"))
}

fn dump(db: &Path, windows: &[(NaiveDateTime, NaiveDateTime)]) -> Dump {
    let conn = duckdb::Connection::open(db).expect("open db");
    let mut out = Dump::new();
    let rels = query(
        &conn,
        "select table_schema, table_name, table_type from information_schema.tables \
         where table_catalog = 'warehouse' order by 1, 2",
    );
    for r in rels {
        let (schema, name, kind) = (
            text(r[0].as_ref()),
            text(r[1].as_ref()),
            text(r[2].as_ref()),
        );
        let columns: Vec<(String, String)> = query(
            &conn,
            &format!(
                "select column_name, data_type from information_schema.columns \
                 where table_catalog = 'warehouse' and table_schema = '{schema}' and table_name = '{name}' \
                 order by ordinal_position"
            ),
        )
        .into_iter()
        .map(|c| (text(c[0].as_ref()), text(c[1].as_ref())))
        .collect();
        let select: Vec<String> = columns
            .iter()
            .map(|(c, _)| format!("cast(\"{c}\" as varchar)"))
            .collect();
        let mut rows: Vec<Vec<String>> = query(
            &conn,
            &format!("select {} from \"{schema}\".\"{name}\"", select.join(", ")),
        )
        .into_iter()
        .map(|row| {
            let mut now_version = false;
            let mut cells: Vec<String> = row
                .iter()
                .zip(&columns)
                .map(|(v, (c, ty))| match v {
                    None => "NULL".to_owned(),
                    Some(v) => match normalise(v, ty, windows) {
                        Some(n) => {
                            now_version |= c.ends_with("valid_from");
                            n
                        }
                        None => v.clone(),
                    },
                })
                .collect();
            if now_version {
                for (cell, (c, _)) in cells.iter_mut().zip(&columns) {
                    if c.ends_with("scd_id") {
                        "<md5 with now>".clone_into(cell);
                    }
                }
            }
            cells
        })
        .collect();
        rows.sort();
        out.insert(
            format!("{schema}.{name}"),
            Table {
                kind,
                columns,
                rows,
            },
        );
    }
    out
}

fn render_table(name: &str, t: &Table) -> String {
    let mut s = format!("--- {name} ({})\n", t.kind);
    for (c, ty) in &t.columns {
        let _ = writeln!(s, "    {c} {ty}");
    }
    for r in &t.rows {
        let _ = writeln!(s, "  | {}", r.join(" | "));
    }
    s
}

fn render(run: &Run) -> String {
    let mut s = String::new();
    for (i, (cmd, code, dump)) in run.steps.iter().enumerate() {
        let _ = writeln!(s, "=== step {}: {cmd} (exit {code})", i + 1);
        for (name, t) in dump {
            s.push_str(&render_table(name, t));
        }
    }
    s
}

/// Rows as `a | b | c` lines.
fn lines(t: &Table) -> Vec<String> {
    t.rows.iter().map(|r| r.join(" | ")).collect()
}

fn column_names(t: &Table) -> Vec<&str> {
    t.columns.iter().map(|(c, _)| c.as_str()).collect()
}

fn assert_ok(run: &Run) {
    for (i, (cmd, code, _)) in run.steps.iter().enumerate() {
        assert_eq!(*code, 0, "step {}: `{cmd}` failed", i + 1);
    }
}

#[test]
fn timestamp_strategy_rows() {
    let run = run_case(Tool::Xform, &[]);
    assert_ok(&run);

    // First run: the query plus the meta columns, all versions current.
    let t = run.table(2, "main.snap_ts");
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
        lines(run.table(4, "main.snap_ts")),
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
    let t = run.table(6, "main.snap_ts");
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
    assert_eq!(run.table(7, "main.snap_ts"), t);
}

#[test]
fn hard_deletes_invalidate_and_new_record() {
    let run = run_case(Tool::Xform, &[]);
    assert_ok(&run);

    // invalidate: Carol's version is closed when she disappears; when she
    // comes back unchanged, a new version starts at her updated_at (with
    // the same dbt_scd_id, as in dbt).
    assert_eq!(
        lines(run.table(6, "main.snap_ts_invalidate"))
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
        lines(run.table(6, "legacy.snap_legacy")),
        lines(run.table(6, "main.snap_ts_invalidate"))
    );

    // new_record with renamed meta columns and dbt_valid_to_current: the
    // deletion is a version of its own (is_deleted True, from the run's
    // now), closed when the row comes back.
    let t = run.table(6, "main.snap_valid_to_current");
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
            "3 | Carol | bronze | 2024-01-01 10:00:00 | <md5 with now> | <now@step 4> | <now@step 4> | 2024-01-01 10:00:00 | True | NULL",
            "3 | Carol | bronze | 2024-01-01 10:00:00 | c637e7532da837b1b56aebcb2bf6beab | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | 9999-12-31 00:00:00 | False | carol@example.com",
            "3 | Carol | bronze | 2024-01-01 10:00:00 | c637e7532da837b1b56aebcb2bf6beab | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | <now@step 4> | False | NULL",
            "4 | Dan | NULL | 2024-01-01 10:00:00 | 0bfd1bc45acd7ac79c5b7b90fa58f184 | 2024-01-01 10:00:00 | 2024-01-01 10:00:00 | 9999-12-31 00:00:00 | False | NULL",
            "5 | Eve | bronze | 2024-02-01 08:30:00 | a80053e182441c8896a7f16bb33ee217 | 2024-02-01 08:30:00 | 2024-02-01 08:30:00 | 2024-03-01 12:00:00 | False | NULL",
            "5 | Eve | platinum | 2024-03-01 12:00:00 | 560338322374ee7c06fb41bdc7e198f3 | 2024-03-01 12:00:00 | 2024-03-01 12:00:00 | 9999-12-31 00:00:00 | False | eve@example.com",
        ]
    );
    assert_eq!(run.table(7, "main.snap_valid_to_current"), t);
}

#[test]
fn unique_key_list_and_added_query_columns() {
    let run = run_case(Tool::Xform, &[]);
    assert_ok(&run);
    // Step 5 adds computed columns to the query: they are added to the
    // table with the query's types.
    let t = run.table(6, "main.snap_composite");
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
    for r in &t.rows {
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
    let run = run_case(Tool::Xform, &[]);
    assert_ok(&run);
    let t = run.table(2, "main.snap_check_all");
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
            run.table(4, "main.snap_check_all"),
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
        run.table(6, "main.snap_check_all"),
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
        run.table(7, "main.snap_check_all"),
        run.table(6, "main.snap_check_all")
    );

    // check_cols list with new_record; the query drops `name` in step 5:
    // the column stays, NULL in new versions.
    let t = run.table(6, "main.snap_check_list");
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
            &"5 | NULL | platinum | <md5 with now> | <now@step 6> | <now@step 6> | NULL | False"
                .to_owned()
        ),
        "{}",
        render_table("main.snap_check_list", t)
    );

    // Composite key, check_cols list, new_record.
    assert_eq!(
        validity(
            run.table(6, "main.snap_composite_check"),
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
            run.table(6, "main_history.snap_yaml"),
            1,
            "dbt_valid_to",
            "9999-12-31 00:00:00"
        ),
        after
    );
    // Quoted, mixed-case column names.
    assert_eq!(
        column_names(run.table(6, "main.snap_quoted"))[..3],
        ["id", "Tier Level", "NAME"]
    );
}

#[test]
fn scd_ids_are_md5_of_key_and_updated_at() {
    let run = run_case(Tool::Xform, &[]);
    assert_ok(&run);
    let conn = duckdb::Connection::open(&run.db).expect("open db");
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
            text(bad[0][0].as_ref()),
            "0",
            "{table}: scd ids off their formula"
        );
    }
}

#[test]
fn failed_run_leaves_the_snapshot_as_it_was() {
    // Step 6 runs with a post-hook that fails after the new versions are
    // written: the whole run rolls back, added column included.
    let run = run_case(Tool::Xform, &[(6, &["--vars", "{fail_snapshot: true}"])]);
    assert_eq!(run.steps[5].1, 1, "the failing step must fail");
    let before = run.table(4, "main.snap_ts");
    assert_eq!(run.table(6, "main.snap_ts"), before);
    // The next run applies the changes.
    assert_eq!(run.steps[6].1, 0);
    assert_eq!(run.table(7, "main.snap_ts").rows.len(), 7);
}

/// The same steps with dbt: every table after every step is equal.
#[test]
fn tables_match_dbt() {
    let Some(dbt) = dbt() else { return };
    let ours = run_case(Tool::Xform, &[]);
    let theirs = run_case(Tool::Dbt(&dbt), &[]);
    let (a, b) = (render(&ours), render(&theirs));
    if a != b {
        let diff: Vec<String> = a
            .lines()
            .zip(b.lines())
            .enumerate()
            .filter(|(_, (x, y))| x != y)
            .take(20)
            .map(|(i, (x, y))| format!("line {}:\n  xform: {x}\n  dbt:   {y}", i + 1))
            .collect();
        panic!(
            "xform's snapshot tables differ from dbt's ({} vs {} lines):\n{}",
            a.lines().count(),
            b.lines().count(),
            diff.join("\n")
        );
    }
}
