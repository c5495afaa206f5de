//! Execution parity: xform must leave the same tables in `DuckDB` as
//! dbt-core 1.11 + dbt-duckdb on the same projects and commands.
//!
//! # Fixture cases
//!
//! Every folder `tests/fixtures/run/<case>/` is a dbt project (its
//! `profiles.yml` points a duckdb target at `env_var('XFORM_TEST_DB')`) plus
//! a `steps.yml` that says what to run, in order:
//!
//! ```yaml
//! description: what the case covers          # optional, free text
//! expect_xform_error: why xform refuses      # optional, see below
//! statuses: true       # optional: also compare run_results.json statuses
//! steps:
//!   - seed                                   # a command line, split on spaces
//!   - cmd: run --full-refresh
//!     overlay: step_2        # copy <case>/step_2/** over the project first
//!     delete: [models/a.sql] # remove these project files first
//!     exit: 1                # expected exit status of both tools (default 0)
//!     postgres_exit: 1       # the same on Postgres, where it differs
//! ```
//!
//! `steps.yml` and top-level folders named `step_*` (the overlays) are not
//! copied into the project. Overlays and deletions persist for later steps:
//! this is how a case changes its input data ("second run after the data
//! changed") or a model's columns and config (schema changes, switching a
//! table to a view) between commands.
//!
//! In every copied text file and in commands, `@today@`, `@today-N@` and
//! `@today+N@` become ISO dates (UTC) relative to the day the case started:
//! microbatch batches are computed from the current time, so its fixture
//! places events relative to today.
//!
//! A case with `expect_xform_error` is one where dbt silently does something
//! wrong (for example merging on duplicate or NULL keys duplicates rows) and
//! xform deliberately refuses: xform must stop with exit status 1 at some
//! step; its tables are not compared.
//!
//! # What is compared
//!
//! Each case is copied into two temp folders. dbt (`XFORM_DBT`) runs the
//! steps against one `DuckDB` file and xform against another, both named
//! `warehouse.duckdb` so that views that name their catalog resolve when the
//! file is read back. After every step the file is dumped with the `duckdb`
//! crate: the schemas, then every table and view outside `information_schema`
//! and `pg_catalog` (schema, name, table or view, columns in order with their
//! types, and every row rendered as text, rows sorted). The dumps of all
//! steps must be equal, and equal to the insta snapshot
//! `snapshots/run_fixture_tables@<case>.snap`, which is dbt's output (written
//! by the dbt test, `<case>::dbt_tables`): xform's tables are checked against
//! it even where dbt is not installed. Never accept a snapshot change from
//! the xform test. (Once the xform tests run, they compare with a live dbt
//! run and the snapshot, so the `dbt_tables` tests only repeat that dbt run.)
//!
//! Processes run with `TZ=UTC` (so `now()::timestamp` and `current_date`
//! are UTC, like the step windows and dbt's microbatch boundaries),
//! `DBT_PROFILES_DIR` = the project folder and `HOME` = the temp folder.
//! dbt parses fully whenever the step changed files and reuses its partial
//! parse otherwise (a full parse costs about 2 s a command).
//!
//! The dbt side's database file is created empty by the `duckdb` crate
//! before the first step: dbt-duckdb's Python `duckdb` package may be newer
//! than the crate (`duckdb` 2.0 writes storage version 69, which `DuckDB`
//! 1.5 cannot read), and an existing file keeps its storage version.
//!
//! # On Postgres
//!
//! Every case also runs on the test Postgres server (`.ci/postgres.sh`;
//! `XFORM_TEST_PG_URL` and its pieces): each fixture's `profiles.yml` has a
//! `postgres` output that reads the server from `XFORM_TEST_PG_*`, commands
//! get `--target postgres`, and each tool gets a fresh database (its name in
//! `XFORM_TEST_PG_DBNAME`), dropped afterwards. The dump is the same text
//! (types as `format_type` spells them, values as Postgres prints them in
//! UTC; `materialized view` is a kind of its own), compared with
//! dbt-postgres's and with `snapshots/run_fixture_tables_pg@<case>.snap`.
//! Without a server the Postgres tests skip, except under `CI=true`.
//!
//! # Normalisation
//!
//! Values that depend on when the test runs are replaced before comparing:
//!
//! - A `TIMESTAMP`/`TIMESTAMPTZ` value that falls inside a step's wall-clock
//!   window (from starting the command to its exit; else the nearest window
//!   within 2 s) came from `now()` (snapshot
//!   `dbt_valid_from`/`dbt_valid_to`/`dbt_updated_at` with the check
//!   strategy or for hard deletes): it becomes `<now@step N>`. So xform must
//!   take "now" in the same step as dbt, but not at the same microsecond.
//! - A `DATE`/`TIMESTAMP`/`TIMESTAMPTZ` value within 60 days of the day the
//!   case started (UTC) becomes `today-3` or `today-3 00:00:00`: the inverse
//!   of the date placeholders. (A case running across midnight UTC sees two
//!   "todays" and can fail once.)
//! - `dbt_scd_id` in a row whose `dbt_valid_from` came from `now()` is an md5
//!   of that time: it becomes `<md5 of now@step N>`. With the timestamp
//!   strategy and data-provided `updated_at`, `dbt_scd_id` is deterministic
//!   and compared as is.
//!
//! Fixture data uses fixed past timestamps otherwise, so nothing else is
//! normalised. dbt-duckdb leaves no internal relations behind (temp tables
//! live in the `temp` catalog; `__dbt_backup`/`__dbt_tmp` tables are dropped),
//! so nothing is filtered out: a leftover on either side is a difference.
//!
//! # Running
//!
//! ```sh
//! export CARGO_TARGET_DIR=/work/target DUCKDB_LIB_DIR=... XFORM_DBT=.../bin/dbt
//! cargo test --no-default-features --test it exec_compat                 # dbt side
//! cargo test --no-default-features --test it exec_compat -- --ignored    # xform side
//! ```
//!
//! `XFORM_RUN_VERBOSE=1` (with `--nocapture`) prints every command's output.
//! In the dumps, a relation exactly as it was after the previous step is
//! shown as one line, `--- schema.name (kind): unchanged`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use chrono::{NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;

use crate::support::{PgDatabase, dbt, fixture, pg_url, settings};

/// Where a case runs: a `DuckDB` file, or a fresh database on the test
/// Postgres server (the fixture's `postgres` output, `--target postgres`).
#[derive(Clone, Copy)]
enum Wh<'a> {
    DuckDb,
    /// The superuser URL of the test server.
    Postgres(&'a str),
}

impl Wh<'_> {
    fn snapshot_name(self) -> &'static str {
        match self {
            Wh::DuckDb => "run_fixture_tables",
            Wh::Postgres(_) => "run_fixture_tables_pg",
        }
    }
}

/// One `tests/fixtures/run/<case>/steps.yml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSpec {
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    expect_xform_error: Option<String>,
    /// Also compare the status of every node in `run_results.json`.
    #[serde(default)]
    statuses: bool,
    steps: Vec<StepSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StepSpec {
    Cmd(String),
    Full(Step),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    cmd: String,
    #[serde(default)]
    overlay: Option<String>,
    #[serde(default)]
    delete: Vec<String>,
    #[serde(default)]
    exit: i32,
    /// The expected exit status on Postgres, where it differs (Postgres
    /// does not cast implicitly where `DuckDB` does).
    #[serde(default)]
    postgres_exit: Option<i32>,
}

impl StepSpec {
    fn step(&self) -> Step {
        match self {
            StepSpec::Cmd(cmd) => Step {
                cmd: cmd.clone(),
                overlay: None,
                delete: Vec::new(),
                exit: 0,
                postgres_exit: None,
            },
            StepSpec::Full(step) => step.clone(),
        }
    }
}

fn load_steps(case: &Path) -> CaseSpec {
    let path = case.join("steps.yml");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let steps: CaseSpec =
        serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!steps.steps.is_empty(), "{}: no steps", path.display());
    steps
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tool<'a> {
    Dbt(&'a Path),
    Xform,
}

impl Tool<'_> {
    fn name(self) -> &'static str {
        match self {
            Tool::Dbt(_) => "dbt",
            Tool::Xform => "xform",
        }
    }
}

/// The wall-clock window of one step, in UTC.
struct Window {
    start: NaiveDateTime,
    end: NaiveDateTime,
}

/// What running a case's steps with one tool produced.
struct Outcome {
    /// The dump after every step that ran, concatenated.
    dump: String,
    /// The 1-based step that failed unexpectedly (only with
    /// `expect_failure`), with its exit status and output.
    failed: Option<(usize, i32, String)>,
}

/// Copies a case's project (without `steps.yml`, the `step_*` overlays and
/// any build output) into `dst`, filling in date placeholders.
fn copy_case(src: &Path, dst: &Path, today: NaiveDate) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for entry in std::fs::read_dir(src).expect("read_dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "steps.yml"
            || name.starts_with("step_")
            || name == "target"
            || name == "logs"
            || name.ends_with(".duckdb")
        {
            continue;
        }
        copy_tree(&entry.path(), &dst.join(&*name), today);
    }
}

/// Copies a file or folder; text files get their date placeholders filled.
fn copy_tree(from: &Path, to: &Path, today: NaiveDate) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read_dir") {
            let entry = entry.expect("entry");
            copy_tree(&entry.path(), &to.join(entry.file_name()), today);
        }
    } else {
        let bytes = std::fs::read(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
        let bytes = match String::from_utf8(bytes) {
            Ok(text) => fill_dates(&text, today).into_bytes(),
            Err(e) => e.into_bytes(),
        };
        std::fs::write(to, bytes).unwrap_or_else(|e| panic!("write {}: {e}", to.display()));
    }
}

/// Replaces `@today@`, `@today-N@` and `@today+N@` with ISO dates.
fn fill_dates(text: &str, today: NaiveDate) -> String {
    let re = regex::Regex::new(r"@today(?:([+-])(\d+))?@").expect("regex");
    re.replace_all(text, |c: &regex::Captures| {
        let days: i64 = c.get(2).map_or(0, |d| d.as_str().parse().expect("days"));
        let days = if c.get(1).is_some_and(|s| s.as_str() == "-") {
            -days
        } else {
            days
        };
        (today + chrono::TimeDelta::days(days))
            .format("%Y-%m-%d")
            .to_string()
    })
    .into_owned()
}

/// Runs every step of `case` with `tool` and dumps the database after each.
/// With `expect_failure`, a step exiting 1 ends the run (its output is in
/// `failed`); otherwise every exit status must be the expected one.
fn run_case(case: &str, tool: Tool, expect_failure: bool, wh: Wh) -> Outcome {
    let src = fixture("run").join(case);
    let spec = load_steps(&src);
    let tmp = tempfile::tempdir().expect("temp dir");
    let project = tmp.path().join("project");
    let today = Utc::now().date_naive();
    copy_case(&src, &project, today);
    let db = tmp.path().join("warehouse.duckdb");
    let pg = match wh {
        Wh::Postgres(url) => Some(PgDatabase::create(url, &format!("{case}_{}", tool.name()))),
        Wh::DuckDb => None,
    };
    if let (Tool::Dbt(_), None) = (tool, &pg) {
        // See the module docs: keep the storage version readable by the crate.
        let conn = duckdb::Connection::open(&db).expect("create database");
        conn.execute_batch("checkpoint").expect("checkpoint");
    }
    let mut windows: Vec<Window> = Vec::new();
    let mut dump = String::new();
    let mut previous: Vec<String> = Vec::new();
    for (i, spec_step) in spec.steps.iter().enumerate() {
        let n = i + 1;
        let step = spec_step.step();
        if let Some(overlay) = &step.overlay {
            let dir = src.join(overlay);
            assert!(
                dir.is_dir(),
                "{case}: step {n}: overlay {} is not a folder",
                dir.display()
            );
            copy_tree(&dir, &project, today);
        }
        for rel in &step.delete {
            let p = project.join(rel);
            if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            }
            .unwrap_or_else(|e| panic!("{case}: step {n}: delete {rel}: {e}"));
        }
        let cmd = fill_dates(&step.cmd, today);
        let mut args: Vec<&str> = cmd.split_whitespace().collect();
        if pg.is_some() {
            args.extend(["--target", "postgres"]);
        }
        let start = Utc::now().naive_utc();
        // dbt re-parses everything after the files changed, and reuses its
        // parse (saving about 2 s a command) when they did not.
        let changed = i == 0 || step.overlay.is_some() || !step.delete.is_empty();
        let target = match &pg {
            Some(p) => Target::Postgres(&p.name),
            None => Target::DuckDb(&db),
        };
        let (code, output) = run_tool(tool, &project, tmp.path(), target, &args, changed);
        windows.push(Window {
            start,
            end: Utc::now().naive_utc(),
        });
        if std::env::var_os("XFORM_RUN_VERBOSE").is_some() {
            eprintln!(
                "--- {case}: step {n}: {} {} (exit {code})\n{output}",
                tool.name(),
                step.cmd
            );
        }
        if expect_failure && code != 0 {
            return Outcome {
                dump,
                failed: Some((n, code, output)),
            };
        }
        let expected = match (&pg, step.postgres_exit) {
            (Some(_), Some(e)) => e,
            _ => step.exit,
        };
        assert_eq!(
            code,
            expected,
            "{case}: step {n} `{} {}` exited with {code}, expected {expected}:\n{output}",
            tool.name(),
            step.cmd,
        );
        let _ = writeln!(dump, "=== step {n}: {} (exit {code})", step.cmd);
        let blocks = if let Some(p) = &pg {
            dump_postgres(p, &windows, today)
        } else if db.exists() {
            dump_database(&db, &windows, today)
        } else {
            vec!["(no database file)\n".to_owned()]
        };
        // A relation exactly as it was after the previous step is one line.
        for block in &blocks {
            if block.starts_with("--- ") && previous.contains(block) {
                let header = block.lines().next().unwrap_or_default();
                let _ = writeln!(dump, "{header}: unchanged");
            } else {
                dump.push_str(block);
            }
        }
        previous = blocks;
        if spec.statuses {
            dump.push_str(&node_statuses(&project));
        }
        dump.push('\n');
    }
    Outcome { dump, failed: None }
}

/// `status unique_id` of every node in `target/run_results.json`, sorted.
fn node_statuses(project: &Path) -> String {
    let text = std::fs::read_to_string(project.join("target/run_results.json"))
        .unwrap_or_else(|e| panic!("run_results.json: {e}"));
    let doc: serde_json::Value = serde_json::from_str(&text).expect("run_results.json is JSON");
    let mut lines: Vec<String> = doc["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    format!(
                        "{} {}",
                        r["status"].as_str().unwrap_or("?"),
                        r["unique_id"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    lines.sort();
    let mut out = String::from("--- run_results.json statuses\n");
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// The database one command writes to.
#[derive(Clone, Copy)]
enum Target<'a> {
    DuckDb(&'a Path),
    /// A database name on the test Postgres server.
    Postgres(&'a str),
}

/// Runs one command; returns its exit status and combined output.
fn run_tool(
    tool: Tool,
    project: &Path,
    home: &Path,
    target: Target,
    args: &[&str],
    files_changed: bool,
) -> (i32, String) {
    let mut cmd = match tool {
        Tool::Dbt(exe) => Command::new(exe),
        Tool::Xform => Command::new(env!("CARGO_BIN_EXE_xform")),
    };
    match target {
        Target::DuckDb(db) => cmd.env("XFORM_TEST_DB", db),
        Target::Postgres(name) => cmd.env("XFORM_TEST_PG_DBNAME", name),
    };
    cmd.args(args)
        .current_dir(project)
        .env("TZ", "UTC")
        .env("DBT_PROFILES_DIR", project)
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("XFORM_LOG");
    if let Tool::Dbt(_) = tool {
        cmd.env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
            .env(
                "DBT_PARTIAL_PARSE",
                if files_changed { "false" } else { "true" },
            )
            .env("DBT_USE_COLORS", "false")
            .env_remove("DBT_TARGET_PATH")
            .env_remove("DBT_LOG_PATH");
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", tool.name()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Every schema, table and view of the database at `path`, as text: the
/// schema line, then one block per relation. See the module docs for the
/// format and what is normalised.
fn dump_database(path: &Path, windows: &[Window], today: NaiveDate) -> Vec<String> {
    let config = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .expect("config");
    let conn = duckdb::Connection::open_with_flags(path, config)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    conn.execute_batch("SET TimeZone = 'UTC'")
        .expect("set time zone");
    let strings = |sql: &str, params: &[&dyn duckdb::ToSql]| -> Vec<Vec<String>> {
        let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let mut rows = stmt.query(params).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let mut out = Vec::new();
        while let Some(row) = rows.next().expect("row") {
            let n = row.as_ref().column_count();
            out.push(
                (0..n)
                    .map(|i| row.get::<_, String>(i).expect("text"))
                    .collect(),
            );
        }
        out
    };
    let mut blocks = Vec::new();
    let schemas: Vec<String> = strings(
        "select schema_name from duckdb_schemas() \
         where database_name = current_database() \
           and schema_name not in ('information_schema', 'pg_catalog') \
         order by schema_name",
        &[],
    )
    .into_iter()
    .map(|mut r| r.remove(0))
    .collect();
    blocks.push(format!("schemas: {}\n", schemas.join(", ")));
    let relations = strings(
        "select schema_name, table_name, 'table' from duckdb_tables() \
         where database_name = current_database() \
         union all \
         select schema_name, view_name, 'view' from duckdb_views() \
         where database_name = current_database() and not internal \
           and schema_name not in ('information_schema', 'pg_catalog') \
         order by 1, 2",
        &[],
    );
    for rel in relations {
        let (schema, name, kind) = (&rel[0], &rel[1], &rel[2]);
        let columns = strings(
            "select column_name, data_type from duckdb_columns() \
             where database_name = current_database() and schema_name = ? and table_name = ? \
             order by column_index",
            &[schema, name],
        );
        let mut text = format!("--- {schema}.{name} ({kind})\n");
        for c in &columns {
            let _ = writeln!(text, "    {} {}", c[0], c[1]);
        }
        let select: Vec<String> = columns
            .iter()
            .map(|c| format!("cast({} as varchar)", ident(&c[0])))
            .collect();
        let sql = format!(
            "select {} from {}.{}",
            select.join(", "),
            ident(schema),
            ident(name)
        );
        let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let mut rows = stmt.query([]).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let mut lines = Vec::new();
        while let Some(row) = rows.next().expect("row") {
            let values: Vec<Option<String>> = (0..columns.len())
                .map(|i| row.get::<_, Option<String>>(i).expect("text"))
                .collect();
            lines.push(render_row(&columns, values, windows, today));
        }
        lines.sort();
        for line in lines {
            let _ = writeln!(text, "  | {line}");
        }
        blocks.push(text);
    }
    blocks
}

/// A column type as the normalisation knows it: Postgres names of text,
/// date and time types become `DuckDB`'s.
fn canonical_type(ty: &str) -> &str {
    match ty {
        "text" | "character varying" => "VARCHAR",
        "timestamp without time zone" => "TIMESTAMP",
        "timestamp with time zone" => "TIMESTAMP WITH TIME ZONE",
        "date" => "DATE",
        t if t.starts_with("character varying(") || t.starts_with("character(") => "VARCHAR",
        t => t,
    }
}

/// Like [`dump_database`], for a database on the test Postgres server:
/// every schema but the system ones, every table, view and materialized
/// view with its columns (types as `format_type` spells them) and rows as
/// Postgres prints them in UTC.
fn dump_postgres(db: &PgDatabase, windows: &[Window], today: NaiveDate) -> Vec<String> {
    let text = |r: &[Option<String>], i: usize| r[i].clone().unwrap_or_default();
    let mut blocks = Vec::new();
    let schemas: Vec<String> = db
        .rows(
            "select nspname from pg_catalog.pg_namespace \
             where nspname not like 'pg\\_%' and nspname <> 'information_schema' order by 1",
        )
        .iter()
        .map(|r| text(r, 0))
        .collect();
    blocks.push(format!("schemas: {}\n", schemas.join(", ")));
    let relations = db.rows(
        "select n.nspname, c.relname, \
           case c.relkind when 'v' then 'view' when 'm' then 'materialized view' else 'table' end \
         from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
         where c.relkind in ('r', 'p', 'v', 'm') \
           and n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema' \
         order by 1, 2",
    );
    for rel in relations {
        let (schema, name, kind) = (text(&rel, 0), text(&rel, 1), text(&rel, 2));
        let qualified = format!("{}.{}", ident(&schema), ident(&name));
        let columns: Vec<Vec<String>> = db
            .rows(&format!(
                "select attname, pg_catalog.format_type(atttypid, atttypmod) \
                 from pg_catalog.pg_attribute \
                 where attrelid = '{}'::regclass and attnum > 0 and not attisdropped \
                 order by attnum",
                qualified.replace('\'', "''")
            ))
            .iter()
            .map(|r| vec![text(r, 0), text(r, 1)])
            .collect();
        let mut out = format!("--- {schema}.{name} ({kind})\n");
        for c in &columns {
            let _ = writeln!(out, "    {} {}", c[0], c[1]);
        }
        let select: Vec<String> = columns.iter().map(|c| ident(&c[0])).collect();
        let mut lines: Vec<String> = db
            .rows(&format!(
                "set timezone = 'UTC'; select {} from {qualified}",
                select.join(", ")
            ))
            .into_iter()
            .map(|values| render_row(&columns, values, windows, today))
            .collect();
        lines.sort();
        for line in lines {
            let _ = writeln!(out, "  | {line}");
        }
        blocks.push(out);
    }
    blocks
}

/// One row as `v1 | v2 | ...`, normalised: strings quoted, NULL bare.
fn render_row(
    columns: &[Vec<String>],
    values: Vec<Option<String>>,
    windows: &[Window],
    today: NaiveDate,
) -> String {
    let mut cells: Vec<String> = Vec::with_capacity(values.len());
    let mut now_step: Option<usize> = None;
    for (c, v) in columns.iter().zip(values) {
        let (name, ty) = (c[0].as_str(), canonical_type(c[1].as_str()));
        let Some(v) = v else {
            cells.push("NULL".to_owned());
            continue;
        };
        let cell = match ty {
            "VARCHAR" => format!("{v:?}"),
            "TIMESTAMP" | "TIMESTAMP WITH TIME ZONE" | "DATE" => {
                let (cell, step) = normalise_time(&v, ty, windows, today);
                if step.is_some() && name == "dbt_valid_from" {
                    now_step = step;
                }
                cell
            }
            _ => v,
        };
        cells.push(cell);
    }
    if let Some(step) = now_step
        && let Some(i) = columns.iter().position(|c| c[0] == "dbt_scd_id")
        && cells[i] != "NULL"
    {
        cells[i] = format!("<md5 of now@step {step}>");
    }
    cells.join(" | ")
}

/// A time value as compared: `<now@step N>` when it falls in a step's
/// window, relative to `today` when it is within 60 days of it, else as is.
/// Returns the step as well when it was a `now()` value.
fn normalise_time(
    v: &str,
    ty: &str,
    windows: &[Window],
    today: NaiveDate,
) -> (String, Option<usize>) {
    if ty == "DATE" {
        return match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            Ok(d) => (relative_day(d, today).unwrap_or_else(|| v.to_owned()), None),
            Err(_) => (v.to_owned(), None),
        };
    }
    // TIMESTAMPTZ renders as `... +00` with `TimeZone = 'UTC'`.
    let bare = v.strip_suffix("+00").unwrap_or(v);
    let Ok(t) = NaiveDateTime::parse_from_str(bare, "%Y-%m-%d %H:%M:%S%.f") else {
        return (v.to_owned(), None);
    };
    // The step whose window holds the value, else the nearest one within
    // 2 s (steps can be milliseconds apart, so containment comes first).
    let distance = |w: &Window| {
        if t < w.start {
            w.start - t
        } else if t > w.end {
            t - w.end
        } else {
            chrono::TimeDelta::zero()
        }
    };
    if let Some((i, _)) = windows
        .iter()
        .enumerate()
        .map(|(i, w)| (i, distance(w)))
        .filter(|(_, d)| *d <= chrono::TimeDelta::seconds(2))
        .min_by_key(|(_, d)| *d)
    {
        return (format!("<now@step {}>", i + 1), Some(i + 1));
    }
    match relative_day(t.date(), today) {
        Some(day) => (
            format!(
                "{day} {}{}",
                t.time().format("%H:%M:%S%.f"),
                &v[bare.len()..]
            ),
            None,
        ),
        None => (v.to_owned(), None),
    }
}

fn relative_day(d: NaiveDate, today: NaiveDate) -> Option<String> {
    let days = (d - today).num_days();
    match days {
        0 => Some("today".to_owned()),
        -60..=60 => Some(format!("today{days:+}")),
        _ => None,
    }
}

/// A line diff of two dumps (longest common subsequence), with three lines
/// of context around each change; `-` is dbt, `+` is xform.
fn diff(expected: &str, actual: &str) -> String {
    let old: Vec<&str> = expected.lines().collect();
    let new: Vec<&str> = actual.lines().collect();
    // lcs[i][j]: longest common subsequence of old[i..] and new[j..].
    let mut lcs = vec![vec![0u32; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // (tag, line): ' ' same, '-' only in expected, '+' only in actual.
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            ops.push((' ', old[i]));
            i += 1;
            j += 1;
        } else if i < old.len() && (j == new.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', old[i]));
            i += 1;
        } else {
            ops.push(('+', new[j]));
            j += 1;
        }
    }
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    let mut out = String::new();
    let mut last_shown: Option<usize> = None;
    // The nearest "=== step" and "--- relation" headers give each hunk a
    // place, even when they are further away than the context.
    for &k in &changed {
        let from = k.saturating_sub(3);
        let to = (k + 3).min(ops.len() - 1);
        let start = last_shown.map_or(from, |l| from.max(l + 1));
        if last_shown.is_none_or(|l| from > l + 1) {
            let step = ops[..k].iter().rev().find(|o| o.1.starts_with("=== "));
            let rel = ops[..k].iter().rev().find(|o| o.1.starts_with("--- "));
            let _ = writeln!(
                out,
                "@@ {} / {}",
                step.map_or("", |o| o.1),
                rel.map_or("", |o| o.1)
            );
        }
        for op in &ops[start..=to] {
            let _ = writeln!(out, "{}{}", op.0, op.1);
        }
        last_shown = Some(to.max(last_shown.unwrap_or(0)));
        if out.len() > 20_000 {
            out.push_str("... (diff truncated)\n");
            break;
        }
    }
    out
}

/// The dbt side of a case: every step exits as expected and the tables
/// after each step are the recorded snapshot.
#[allow(dead_code)] // for pending cases, when there are any
fn dbt_case(case: &str) {
    let Some(dbt) = dbt() else { return };
    let out = run_case(case, Tool::Dbt(&dbt), false, Wh::DuckDb);
    assert_snapshot(case, &out.dump, Wh::DuckDb);
}

/// The xform side: the same exit statuses and tables as dbt, step by step.
fn xform_case(case: &str, wh: Wh) {
    let spec = load_steps(&fixture("run").join(case));
    if let Some(why) = &spec.expect_xform_error {
        let out = run_case(case, Tool::Xform, true, wh);
        let Some((step, code, output)) = out.failed else {
            panic!("{case}: xform ran every step, but should refuse ({why})");
        };
        assert_eq!(
            code, 1,
            "{case}: step {step}: xform should refuse with exit status 1 ({why}):\n{output}"
        );
        assert!(!output.contains("panicked"), "{case}: {output}");
        return;
    }
    let ours = run_case(case, Tool::Xform, false, wh);
    if let Some(dbt) = dbt() {
        let theirs = run_case(case, Tool::Dbt(&dbt), false, wh);
        assert!(
            ours.dump == theirs.dump,
            "{case}: xform's tables differ from dbt's (- dbt, + xform):\n{}",
            diff(&theirs.dump, &ours.dump)
        );
    }
    assert_snapshot(case, &ours.dump, wh);
}

/// A case on Postgres: the same steps with `--target postgres`, each tool
/// on a fresh database.
fn xform_case_on_postgres(case: &str) {
    let Some(url) = pg_url() else { return };
    xform_case(case, Wh::Postgres(&url));
}

fn assert_snapshot(case: &str, dump: &str, wh: Wh) {
    let mut s = settings();
    s.set_snapshot_suffix(case);
    let on = match wh {
        Wh::DuckDb => "",
        Wh::Postgres(_) => " on Postgres",
    };
    s.set_description(format!(
        "tables after each step of tests/fixtures/run/{case}{on}"
    ));
    let name = wh.snapshot_name();
    s.bind(|| insta::assert_snapshot!(name, dump));
}

/// Every listed case has a valid `steps.yml`, and every folder under
/// `tests/fixtures/run/` is either listed or named by another test module
/// (other tests reuse the fixture format for their own cases).
fn check_fixtures_are_used(listed: &[&str]) {
    let root = fixture("run");
    for case in listed {
        load_steps(&root.join(case));
    }
    let others: String = std::fs::read_dir(crate::support::repo().join("tests/it"))
        .expect("tests/it")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n != "exec_compat.rs"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    for entry in std::fs::read_dir(&root).expect("tests/fixtures/run") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            listed.contains(&name.as_str()) || others.contains(&format!("\"{name}\"")),
            "tests/fixtures/run/{name} is not used: list it in `cases!` in exec_compat.rs"
        );
    }
}

/// One module per case. A parity case runs xform and dbt and compares their
/// tables (and xform's with the recorded snapshot), on `DuckDB` and on
/// Postgres; a `duckdb_only` case's SQL is `DuckDB`'s own, so its Postgres
/// test is ignored (and a `postgres_only` case's `DuckDB` test); a pending case only records dbt's tables until xform
/// supports it.
macro_rules! cases {
    (
        parity: [$($case:ident),* $(,)?],
        duckdb_only: [$($duck:ident => $duck_why:literal),* $(,)?],
        postgres_only: [$($pg:ident => $pg_why:literal),* $(,)?],
        pending: [$($pending:ident => $why:literal),* $(,)?] $(,)?
    ) => {
        $(
            mod $case {
                #[test]
                fn xform_tables_match_dbt() {
                    super::xform_case(stringify!($case), super::Wh::DuckDb);
                }

                #[test]
                fn xform_tables_match_dbt_on_postgres() {
                    super::xform_case_on_postgres(stringify!($case));
                }
            }
        )*
        $(
            mod $duck {
                #[test]
                fn xform_tables_match_dbt() {
                    super::xform_case(stringify!($duck), super::Wh::DuckDb);
                }

                #[test]
                #[ignore = $duck_why]
                fn xform_tables_match_dbt_on_postgres() {
                    super::xform_case_on_postgres(stringify!($duck));
                }
            }
        )*
        $(
            mod $pg {
                #[test]
                #[ignore = $pg_why]
                fn xform_tables_match_dbt() {
                    super::xform_case(stringify!($pg), super::Wh::DuckDb);
                }

                #[test]
                fn xform_tables_match_dbt_on_postgres() {
                    super::xform_case_on_postgres(stringify!($pg));
                }
            }
        )*
        $(
            mod $pending {
                #[test]
                fn dbt_tables() {
                    super::dbt_case(stringify!($pending));
                }

                #[test]
                #[ignore = $why]
                fn xform_tables_match_dbt() {
                    super::xform_case(stringify!($pending), super::Wh::DuckDb);
                }
            }
        )*

        #[test]
        fn every_run_fixture_has_a_test() {
            check_fixtures_are_used(&[$(stringify!($case),)* $(stringify!($duck),)* $(stringify!($pg),)* $(stringify!($pending)),*]);
        }
    };
}

cases! {
    parity: [
        cross_db,
        data_tests,
        incremental,
        merge_bad_keys,
        microbatch,
        models,
        on_schema_change,
        seeds,
        snapshot_check,
        snapshot_timestamp,
        unit_tests,
    ],
    duckdb_only: [],
    postgres_only: [
        quoting => "dbt-duckdb 1.11 cannot rebuild a mixed-case relation under `quoting: {identifier: false}` (it stops at an approximate match), so DuckDB has no reference to compare with",
    ],
    pending: [],
}

#[test]
fn diff_shows_changed_lines_with_their_place() {
    let a = "=== step 1: run (exit 0)\n--- main.t (table)\n    a INTEGER\n  | 1\n  | 2\n";
    let b = "=== step 1: run (exit 0)\n--- main.t (table)\n    a INTEGER\n  | 1\n  | 3\n";
    let d = diff(a, b);
    assert!(
        d.contains("@@ === step 1: run (exit 0) / --- main.t (table)"),
        "{d}"
    );
    assert!(d.contains("-  | 2\n+  | 3\n"), "{d}");
}

#[test]
fn now_and_recent_days_are_normalised() {
    let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("time");
    let windows = [
        Window {
            start: t("2030-05-10 10:00:00"),
            end: t("2030-05-10 10:00:05"),
        },
        Window {
            start: t("2030-05-10 10:00:06"),
            end: t("2030-05-10 10:00:09"),
        },
    ];
    let today = NaiveDate::from_ymd_opt(2030, 5, 10).expect("date");
    let n = |v: &str, ty: &str| normalise_time(v, ty, &windows, today).0;
    assert_eq!(n("2030-05-10 10:00:07.123456", "TIMESTAMP"), "<now@step 2>");
    assert_eq!(
        n("2030-05-10 10:00:01+00", "TIMESTAMP WITH TIME ZONE"),
        "<now@step 1>"
    );
    assert_eq!(n("2030-05-08 00:00:00", "TIMESTAMP"), "today-2 00:00:00");
    assert_eq!(n("2030-05-11", "DATE"), "today+1");
    assert_eq!(n("2024-01-01 12:00:00", "TIMESTAMP"), "2024-01-01 12:00:00");
    let columns = vec![
        vec!["dbt_scd_id".to_owned(), "VARCHAR".to_owned()],
        vec!["dbt_valid_from".to_owned(), "TIMESTAMP".to_owned()],
    ];
    let row = render_row(
        &columns,
        vec![
            Some("abc".to_owned()),
            Some("2030-05-10 10:00:02".to_owned()),
        ],
        &windows,
        today,
    );
    assert_eq!(row, "<md5 of now@step 1> | <now@step 1>");
}
