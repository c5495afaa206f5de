//! `xform-compat`: runs dbt projects with dbt-core and with xform, each on a
//! fresh database, and prints every difference (see `compat/README.md`;
//! `compat/run` builds and runs this).
//!
//! ```text
//! xform-compat --xform PATH [--dbt PATH] [--target duckdb|postgres]...
//!              [--steps "seed; build"] [--jobs N] [--keep] [--strict] [-v]
//!              PROJECT...
//! ```
//!
//! Exit status: 0 no difference, 1 a difference, 2 the harness could not
//! run (no dbt, no Postgres server, an unreadable project).

mod engine;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use anyhow::{Context as _, Result};
use clap::Parser;

use engine::spec::Spec;
use engine::{Options, Warehouse, compare, pg};

#[derive(Parser)]
#[command(
    name = "xform-compat",
    about = "Compare xform with dbt-core on dbt projects"
)]
struct Args {
    /// dbt projects (folders with a `dbt_project.yml`); a `steps.yml`
    /// beside it says what to run.
    #[arg(required = true)]
    projects: Vec<PathBuf>,
    /// Where to run (repeat for both).
    #[arg(
        long = "target",
        value_name = "duckdb|postgres",
        default_value = "duckdb"
    )]
    targets: Vec<String>,
    /// Commands to run, `;`-separated (instead of `steps.yml`; default `build`).
    #[arg(long)]
    steps: Option<String>,
    /// The dbt executable.
    #[arg(long, env = "XFORM_DBT")]
    dbt: PathBuf,
    /// The xform executable.
    #[arg(long, env = "XFORM_BIN")]
    xform: PathBuf,
    /// `threads` in the profiles.
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// Projects (and warehouses) run at the same time; each runs dbt and
    /// xform side by side.
    #[arg(short, long, default_value_t = 2)]
    jobs: usize,
    /// Keep each tool's folder (project copy, logs, database) and Postgres
    /// database, and print where they are.
    #[arg(long)]
    keep: bool,
    /// Print every command's output.
    #[arg(short, long)]
    verbose: bool,
    /// Fail on known differences too (`known:` in steps.yml).
    #[arg(long)]
    strict: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("xform-compat: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// One project on one warehouse.
struct Task<'a> {
    project: &'a Path,
    spec: &'a Spec,
    wh: Warehouse,
}

/// What a task printed, and its counts.
struct Done {
    text: String,
    passed: usize,
    failed: usize,
    known: usize,
    /// The harness could not run it (no server, an unreadable project).
    error: bool,
}

/// Runs every project on every target; true when nothing differs.
fn run(args: &Args) -> Result<bool> {
    let targets: Vec<Warehouse> = args
        .targets
        .iter()
        .map(|t| Warehouse::parse(t))
        .collect::<Result<_>>()?;
    let server = if targets.contains(&Warehouse::Postgres) {
        Some(pg::Server::from_env()?.context(
            "no Postgres server: set XFORM_TEST_PG_URL (`compat/run` starts a throwaway one)",
        )?)
    } else {
        None
    };
    for exe in [&args.dbt, &args.xform] {
        if !exe.is_file() {
            anyhow::bail!("{} does not exist", exe.display());
        }
    }
    let specs: Vec<Spec> = args
        .projects
        .iter()
        .map(|project| match &args.steps {
            Some(steps) => Spec::from_commands(steps),
            None => match Spec::load(project)? {
                Some(spec) => Ok(spec),
                None => Spec::from_commands("build"),
            },
        })
        .collect::<Result<_>>()?;
    let tasks: Vec<Task> = args
        .projects
        .iter()
        .zip(&specs)
        .flat_map(|(project, spec)| {
            targets.iter().map(move |&wh| Task {
                project: project.as_path(),
                spec,
                wh,
            })
        })
        .collect();
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Done)>();
    let (mut passed, mut failed, mut known, mut runs, mut errors) = (0, 0, 0, 0, 0);
    std::thread::scope(|s| -> Result<()> {
        for _ in 0..args.jobs.max(1).min(tasks.len()) {
            let tx = tx.clone();
            let (next, tasks, server) = (&next, &tasks, server.as_ref());
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(task) = tasks.get(i) else { break };
                    let done = run_task(args, task, server).unwrap_or_else(|e| Done {
                        text: format!(
                            "== {} on {}: the harness could not run it: {e:#}\n",
                            task.project.display(),
                            task.wh.name()
                        ),
                        passed: 0,
                        failed: 0,
                        known: 0,
                        error: true,
                    });
                    if tx.send((i, done)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Printed in order, each as soon as it and those before it are done.
        let mut waiting: BTreeMap<usize, Done> = BTreeMap::new();
        let mut printed = 0;
        for (i, done) in rx {
            waiting.insert(i, done);
            while let Some(done) = waiting.remove(&printed) {
                print!("{}", done.text);
                errors += usize::from(done.error);
                std::io::stdout().flush()?;
                passed += done.passed;
                failed += done.failed;
                known += done.known;
                runs += usize::from(done.passed + done.failed + done.known > 0);
                printed += 1;
            }
        }
        Ok(())
    })?;
    if runs + errors > 1 {
        let known = if known > 0 {
            format!(", {known} known")
        } else {
            String::new()
        };
        println!("{passed} passed, {failed} failed{known} ({runs} runs)");
    }
    if errors > 0 {
        anyhow::bail!("{errors} of {} runs could not run", tasks.len());
    }
    Ok(failed == 0)
}

fn run_task(args: &Args, task: &Task, server: Option<&pg::Server>) -> Result<Done> {
    let label = format!("{} on {}", task.project.display(), task.wh.name());
    let mut text = String::new();
    if let Some(why) = task.spec.not_on.get(&task.wh) {
        let _ = writeln!(text, "== {label}: not run (steps.yml: {})", why.trim());
        return Ok(Done {
            text,
            passed: 0,
            failed: 0,
            known: 0,
            error: false,
        });
    }
    let _ = writeln!(text, "== {label}: {}", task.spec.summary());
    if let (true, Some(d)) = (args.verbose, &task.spec.description) {
        let _ = writeln!(text, "   {}", d.trim());
    }
    let (report, kept) =
        run_one(args, task.project, task.spec, task.wh, server).with_context(|| label.clone())?;
    for line in &report.lines {
        let _ = writeln!(text, "{line}");
    }
    let known = if report.known > 0 {
        format!(", {} known", report.known)
    } else {
        String::new()
    };
    let _ = writeln!(
        text,
        "{label}: {} passed, {} failed{known}",
        report.passed, report.failed
    );
    for line in kept {
        let _ = writeln!(text, "   {line}");
    }
    // --strict: known differences fail too.
    let failed = report.failed + if args.strict { report.known } else { 0 };
    Ok(Done {
        text,
        passed: report.passed,
        failed,
        known: report.known,
        error: false,
    })
}

fn run_one(
    args: &Args,
    project: &Path,
    spec: &Spec,
    wh: Warehouse,
    server: Option<&pg::Server>,
) -> Result<(compare::Report, Vec<String>)> {
    let mut opts = Options::new(wh, server);
    opts.threads = args.threads;
    opts.verbose = args.verbose;
    let (dbt, xform) = engine::run_both(&args.dbt, &args.xform, project, spec, &opts)?;
    let report = compare::compare(spec, wh, &dbt, &xform);
    let mut kept = Vec::new();
    if args.keep {
        for run in [dbt, xform] {
            let tool = run.tool.name();
            std::fs::write(run.dir().join("dumps.txt"), run.render(spec.statuses))?;
            let (dir, db) = run.keep();
            kept.push(match db {
                Some(db) => format!("{tool}: {} (database {db})", dir.display()),
                None => format!("{tool}: {}", dir.display()),
            });
        }
    }
    Ok((report, kept))
}
