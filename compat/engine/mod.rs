//! The engine of the compatibility harness: runs a dbt project's steps with
//! one tool (dbt-core or xform) on a fresh database, recording after every
//! step what the database holds ([`dump`]) and what the tool wrote to
//! `target/` ([`artifacts`]); [`compare`] turns two such runs into checks
//! and one line per difference.
//!
//! The same code serves the harness's command line (`compat/main.rs`, the
//! example `xform-compat` behind `compat/run`) and the integration tests
//! (`tests/it` includes this folder with `#[path]`: `exec_compat` runs xform
//! through [`run`] and checks its dumps against recorded dbt output).
//!
//! Each tool works in a temp folder of its own: `project/` (a copy of the
//! project, see [`project::copy_project`]), `profiles/profiles.yml` (written
//! here: one output named after the warehouse, passed with
//! `--profiles-dir`), and on `DuckDB` `warehouse.duckdb` (the same file name
//! for both tools, so that views naming their catalog read back, and
//! compiled SQL naming it compares). On Postgres each tool gets a fresh
//! database on the server, dropped afterwards. Commands run with `TZ=UTC`
//! and `HOME` = that folder; dbt parses fully whenever the step changed
//! files and reuses its partial parse otherwise (a full parse costs about
//! 2 s a command).

pub mod artifacts;
pub mod compare;
pub mod dump;
pub mod pg;
pub mod project;
pub mod spec;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use artifacts::{Manifest, RunResults};
use dump::{Clock, Dump, Window};
use project::{Connection, ProjectInfo};
use spec::Spec;

/// Where a project runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Warehouse {
    DuckDb,
    Postgres,
}

impl Warehouse {
    pub fn name(self) -> &'static str {
        match self {
            Warehouse::DuckDb => "duckdb",
            Warehouse::Postgres => "postgres",
        }
    }

    pub fn parse(s: &str) -> Result<Warehouse> {
        match s {
            "duckdb" => Ok(Warehouse::DuckDb),
            "postgres" => Ok(Warehouse::Postgres),
            other => bail!("unknown target `{other}`: expected duckdb or postgres"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Dbt,
    Xform,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Dbt => "dbt",
            Tool::Xform => "xform",
        }
    }
}

/// How to run a project.
pub struct Options<'a> {
    pub warehouse: Warehouse,
    /// The Postgres server (required on Postgres).
    pub server: Option<&'a pg::Server>,
    /// The day date placeholders and dumps are relative to (UTC).
    pub today: NaiveDate,
    /// `threads` of the profile.
    pub threads: usize,
    /// Print every command's output as it finishes.
    pub verbose: bool,
}

impl Options<'_> {
    pub fn new(warehouse: Warehouse, server: Option<&pg::Server>) -> Options<'_> {
        Options {
            warehouse,
            server,
            today: Utc::now().date_naive(),
            threads: 4,
            verbose: false,
        }
    }
}

/// What one step left behind.
pub struct StepOutcome {
    /// The command as written in the steps.
    pub cmd: String,
    pub exit: i32,
    /// stdout and stderr.
    pub output: String,
    pub dump: Dump,
    /// `run_results.json`, if the step wrote it.
    pub results: Option<RunResults>,
    /// `target/compiled/**` after the step.
    pub compiled: BTreeMap<String, String>,
    /// The manifest, after `compile` and `parse` (see [`compares_manifest`]).
    pub manifest: Option<Manifest>,
    /// Compiled files that are not compared
    /// ([`artifacts::unit_test_scaffolding`], [`artifacts::shared_test_files`]).
    pub scaffolding: BTreeSet<String>,
}

/// One tool's run of a project.
pub struct Run {
    pub tool: Tool,
    pub steps: Vec<StepOutcome>,
    /// With `expect_xform_error`, the step (1-based) at which xform stopped
    /// with a non-zero exit status (its outcome is the last of `steps`).
    pub stopped: Option<usize>,
    dir: tempfile::TempDir,
    database: Option<pg::Database>,
}

impl Run {
    /// The tool's temp folder (project copy, profile, logs, `DuckDB` file).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Leaves the temp folder and database in place; returns where they are.
    pub fn keep(self) -> (PathBuf, Option<String>) {
        let Run { dir, database, .. } = self;
        let name = database.map(|mut d| {
            d.keep();
            d.name.clone()
        });
        (dir.keep(), name)
    }

    /// Every step's dump as text (the format of the recorded snapshots): a
    /// `=== step N: cmd (exit code)` header, the schemas, each relation (one
    /// line, `--- schema.name (kind): unchanged`, when it is exactly as
    /// after the previous step), and with `statuses` the node statuses.
    pub fn render(&self, statuses: bool) -> String {
        let mut out = String::new();
        let mut previous: Option<&Dump> = None;
        for (i, step) in self.steps.iter().enumerate() {
            let _ = writeln!(out, "=== step {}: {} (exit {})", i + 1, step.cmd, step.exit);
            out.push_str(&step.dump.render_schemas());
            for rel in &step.dump.relations {
                if previous.is_some_and(|p| p.get(&rel.schema, &rel.name) == Some(rel)) {
                    let _ = writeln!(
                        out,
                        "--- {}.{} ({}): unchanged",
                        rel.schema, rel.name, rel.kind
                    );
                } else {
                    out.push_str(&rel.render());
                }
            }
            if statuses {
                out.push_str("--- run_results.json statuses\n");
                let mut lines: Vec<String> = step
                    .results
                    .iter()
                    .flatten()
                    .map(|(id, r)| format!("{} {id}", r.status))
                    .collect();
                lines.sort();
                for l in lines {
                    out.push_str(&l);
                    out.push('\n');
                }
            }
            out.push('\n');
            previous = Some(&step.dump);
        }
        out
    }
}

/// Whether a step's manifest is compared: after `compile` and `parse`.
/// After `run`/`build`, dbt's manifest also records what execution learnt
/// (compiled code, the macros a materialization called).
pub fn compares_manifest(cmd: &str) -> bool {
    matches!(cmd.split_whitespace().next(), Some("compile" | "parse"))
}

/// Runs every step of `spec` on the project at `src` with one tool
/// (`exe`). With `expect_xform_error`, xform's run ends at the first step
/// that fails.
pub fn run(tool: Tool, exe: &Path, src: &Path, spec: &Spec, opts: &Options) -> Result<Run> {
    let info = ProjectInfo::read(src)?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("xform-compat-{}-", tool.name()))
        .tempdir()
        .context("create a temp folder")?;
    let project = dir.path().join("project");
    project::copy_project(src, &project, opts.today, spec.from_file)?;
    let db_file = dir.path().join("warehouse.duckdb");
    let database = match opts.warehouse {
        Warehouse::DuckDb => {
            // Created by the duckdb crate: dbt-duckdb's Python `duckdb` may
            // be newer and write a storage version the crate cannot read,
            // and an existing file keeps its storage version.
            let conn = duckdb::Connection::open(&db_file).context("create the DuckDB file")?;
            conn.execute_batch("checkpoint")?;
            None
        }
        Warehouse::Postgres => {
            let server = opts
                .server
                .context("no Postgres server (XFORM_TEST_PG_URL)")?;
            Some(pg::Database::create(
                server,
                &format!("{}_{}", info.name, tool.name()),
            )?)
        }
    };
    let conn = match (&database, opts.server) {
        (Some(db), Some(server)) => Connection::Postgres(server, &db.name),
        _ => Connection::DuckDb(&db_file),
    };
    let profiles = dir.path().join("profiles");
    std::fs::create_dir_all(&profiles).with_context(|| format!("create {}", profiles.display()))?;
    std::fs::write(
        profiles.join("profiles.yml"),
        project::profile_yaml(&info.profile, &conn, opts.threads),
    )
    .with_context(|| format!("write {}/profiles.yml", profiles.display()))?;
    let target = project.join(&info.target_path);
    let stop_on_error = tool == Tool::Xform && spec.expect_xform_error.is_some();
    let db_name = database.as_ref().map(|d| d.name.as_str());

    let mut windows: Vec<Window> = Vec::new();
    let mut steps: Vec<StepOutcome> = Vec::new();
    let mut stopped = None;
    let mut last_results: Option<String> = None;
    for (i, spec_step) in spec.steps.iter().enumerate() {
        let n = i + 1;
        let step = spec_step.step();
        if let Some(overlay) = &step.overlay {
            let from = src.join(overlay);
            if !from.is_dir() {
                bail!("step {n}: overlay {} is not a folder", from.display());
            }
            project::copy_tree(&from, &project, opts.today)?;
        }
        for rel in &step.delete {
            project::delete(&project, rel).with_context(|| format!("step {n}"))?;
        }
        let cmd = project::fill_dates(&step.cmd, opts.today);
        let args = spec::split_args(&cmd)?;
        let start = Utc::now().naive_utc();
        let changed = i == 0 || step.overlay.is_some() || !step.delete.is_empty();
        let (exit, output) = run_command(
            tool,
            exe,
            &project,
            dir.path(),
            &profiles,
            &args,
            changed,
            opts,
        )?;
        windows.push(Window {
            start,
            end: Utc::now().naive_utc(),
        });
        let log = dir.path().join(format!("step-{n}.log"));
        std::fs::write(&log, &output).with_context(|| format!("write {}", log.display()))?;
        if opts.verbose {
            eprintln!(
                "--- {}: step {n}: {cmd} (exit {exit})\n{output}",
                tool.name()
            );
        }
        let clock = Clock {
            today: opts.today,
            windows: &windows,
            open: true,
        };
        let dump = match &database {
            Some(db) => dump::dump_postgres(db, &clock)?,
            None => dump::dump_duckdb(&db_file, &clock)?,
        };
        // The step's window closes once its database has been read.
        if let Some(w) = windows.last_mut() {
            w.end = Utc::now().naive_utc();
        }
        // A step that fails early leaves the previous step's file in place.
        let results_text = std::fs::read_to_string(target.join("run_results.json")).ok();
        let results = match &results_text {
            Some(t) if last_results.as_ref() != Some(t) => Some(artifacts::parse_run_results(t)?),
            _ => None,
        };
        last_results = results_text;
        let manifest_text = std::fs::read_to_string(target.join("manifest.json")).ok();
        let manifest = match &manifest_text {
            Some(t) if compares_manifest(&cmd) => Some(artifacts::parse_manifest(t, db_name)?),
            _ => None,
        };
        let scaffolding = manifest_text
            .as_deref()
            .map(|m| {
                let mut files = artifacts::unit_test_scaffolding(m);
                files.extend(artifacts::shared_test_files(m));
                files
            })
            .unwrap_or_default();
        let clock = Clock {
            today: opts.today,
            windows: &windows,
            open: false,
        };
        let compiled = artifacts::read_compiled(&target.join("compiled"), db_name)?
            .into_iter()
            .map(|(path, text)| (path, dump::normalise_now_in_text(&text, &clock)))
            .collect();
        steps.push(StepOutcome {
            cmd: step.cmd.clone(),
            exit,
            output,
            dump,
            results,
            compiled,
            manifest,
            scaffolding,
        });
        if stop_on_error && exit != 0 {
            stopped = Some(n);
            break;
        }
    }
    Ok(Run {
        tool,
        steps,
        stopped,
        dir,
        database,
    })
}

/// Runs dbt and xform on the same project at the same time (each has its
/// own folder and database).
pub fn run_both(
    dbt: &Path,
    xform: &Path,
    src: &Path,
    spec: &Spec,
    opts: &Options,
) -> Result<(Run, Run)> {
    std::thread::scope(|s| {
        let theirs = s.spawn(|| run(Tool::Dbt, dbt, src, spec, opts));
        let ours = run(Tool::Xform, xform, src, spec, opts);
        let theirs = theirs
            .join()
            .map_err(|_| anyhow::anyhow!("the dbt run panicked"))?;
        Ok((theirs?, ours?))
    })
}

/// Runs one command; returns its exit status and combined output.
#[allow(clippy::too_many_arguments)]
fn run_command(
    tool: Tool,
    exe: &Path,
    project: &Path,
    home: &Path,
    profiles: &Path,
    args: &[String],
    files_changed: bool,
    opts: &Options,
) -> Result<(i32, String)> {
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .arg("--profiles-dir")
        .arg(profiles)
        .current_dir(project)
        .env("TZ", "UTC")
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("DBT_PROFILES_DIR")
        .env_remove("DBT_PROJECT_DIR")
        .env_remove("DBT_TARGET_PATH")
        .env_remove("DBT_LOG_PATH")
        .env_remove("XFORM_LOG");
    if let Some(server) = opts.server {
        cmd.env(project::PASSWORD_VAR, server.password());
    }
    if tool == Tool::Dbt {
        cmd.env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
            .env(
                "DBT_PARTIAL_PARSE",
                if files_changed { "false" } else { "true" },
            )
            .env("DBT_USE_COLORS", "false");
    }
    let out = cmd
        .output()
        .with_context(|| format!("run {} ({})", tool.name(), exe.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.code().unwrap_or(-1), text))
}
