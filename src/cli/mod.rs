//! Command-line interface: the only module that prints.
//!
//! stdout carries data (compiled SQL, `ls` output, JSON); everything else
//! (progress, summaries, diagnostics) goes to stderr.

mod args;
mod check;
mod docs;
mod progress;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use serde_json::{Map, Value};

pub use args::{Cli, Command, GlobalArgs, LogFormat, LsOutput};

use crate::diagnostics::{Diag, Diags};
use crate::graph::Dag;
use crate::graph::select::{self, IndirectSelection, SelectOptions, Selectors};
use crate::jinja::Renderer;
use crate::node::ResourceType;
use crate::project::{self, LoadOptions, Project};
use crate::state::State;

/// How a command ended.
pub enum Outcome {
    Ok,
    /// The project or data is wrong (exit 1).
    UserError,
}

/// Runs the CLI with the process arguments.
pub fn main() -> ExitCode {
    // `xform --version` alone is answered before clap builds the whole
    // command tree (a measurable share of a ~15 ms start).
    let mut args = std::env::args_os().skip(1);
    if let (Some(flag), None) = (args.next(), args.next())
        && (flag == "--version" || flag == "-V")
    {
        let _ = std::io::stdout().write_all(version_line().as_bytes());
        return ExitCode::SUCCESS;
    }
    let cli = Cli::parse();
    // Rendering nests deeply for macro-heavy projects; give workers room.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(16 << 20)
        .build_global();
    let printer = Printer::new(&cli.global);
    init_logging(&cli.global);
    match run(&cli, &printer) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::UserError) => ExitCode::from(1),
        Err(e) => {
            printer.diag(&Diag::error("XF0900", format!("xform failed: {e:#}")));
            ExitCode::from(2)
        }
    }
}

/// What `xform --version` prints: the same line clap would.
fn version_line() -> String {
    format!("xform {}\n", env!("CARGO_PKG_VERSION"))
}

fn init_logging(g: &GlobalArgs) {
    let level = if g.quiet {
        "error"
    } else if g.verbose > 0 {
        "debug"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("XFORM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match g.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder
            .with_ansi(color_enabled(g))
            .without_time()
            .try_init(),
    };
}

fn color_enabled(g: &GlobalArgs) -> bool {
    !g.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

/// Writes data to stdout and messages to stderr, respecting `--quiet`,
/// `--no-color` and `--log-format`.
pub struct Printer {
    color: bool,
    quiet: bool,
    pub json: bool,
    width: usize,
}

impl Printer {
    pub fn new(g: &GlobalArgs) -> Self {
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(100);
        Self {
            color: color_enabled(g),
            quiet: g.quiet,
            json: g.log_format == LogFormat::Json,
            width,
        }
    }

    /// A line of data on stdout.
    pub fn data(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }

    /// A status message on stderr.
    pub fn info(&self, msg: &str) {
        if self.quiet {
            return;
        }
        if self.json {
            let ev = serde_json::json!({"level": "info", "msg": msg, "ts": chrono::Utc::now().to_rfc3339()});
            err_line(&ev.to_string());
        } else {
            err_line(msg);
        }
    }

    pub fn diag(&self, d: &Diag) {
        if self.quiet && !d.is_error() {
            return;
        }
        if self.json {
            let loc = d.location();
            let ev = serde_json::json!({
                "level": if d.is_error() { "error" } else { "warn" },
                "code": d.code,
                "msg": d.message,
                "file": loc.as_ref().map(|l| &l.0),
                "line": loc.as_ref().map(|l| l.1),
                "column": loc.as_ref().map(|l| l.2),
                "help": d.help,
            });
            err_line(&ev.to_string());
        } else {
            let _ = std::io::stderr()
                .lock()
                .write_all(d.render(self.color, self.width).as_bytes());
        }
    }

    pub fn diags(&self, diags: &Diags) {
        for d in &diags.0 {
            self.diag(d);
        }
    }
}

/// A line on stderr. A closed stderr (`xform ... 2>&1 | head`) is not an
/// error worth dying for.
fn err_line(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Parses `--vars` (YAML or JSON).
fn parse_vars(s: Option<&str>) -> Result<Map<String, Value>, Diag> {
    let Some(s) = s else { return Ok(Map::new()) };
    if s.trim().is_empty() {
        return Ok(Map::new());
    }
    let y = crate::yaml::parse(s).map_err(|e| {
        Diag::error("XF0150", format!("`--vars` is not valid YAML or JSON: {}", e.message))
            .with_help("pass a mapping, e.g. --vars '{\"start_date\": \"2024-01-01\"}' or --vars 'start_date: 2024-01-01'")
    })?;
    match y.to_json() {
        Value::Object(m) => Ok(m),
        other => Err(Diag::error(
            "XF0151",
            format!("`--vars` must be a mapping of names to values, found `{other}`"),
        )
        .with_help("e.g. --vars '{\"key\": \"value\"}'")),
    }
}

/// Everything up to a checked graph, shared by the commands.
pub struct Loaded {
    pub project: Project,
    pub renderer: Renderer,
    pub dag: Dag,
    pub diags: Diags,
    pub started: chrono::DateTime<chrono::Utc>,
    /// `--state`: the earlier run to compare with (read on first use).
    pub state: Option<State>,
    /// `--defer-state`: the earlier run to defer to, when not `state`.
    pub defer_state: Option<State>,
}

fn load(g: &GlobalArgs, profile_optional: bool) -> Result<Loaded, Diags> {
    let started = chrono::Utc::now();
    let cli_vars = parse_vars(g.vars.as_deref()).map_err(|d| Diags(vec![d]))?;
    let opts = LoadOptions {
        project_dir: g.project_dir.clone().unwrap_or_else(|| PathBuf::from(".")),
        profiles_dir: g.profiles_dir.clone(),
        target: g.target.clone(),
        threads: g.threads,
        cli_vars,
        profile_optional,
    };
    let mut diags = Diags::default();
    let t0 = crate::timing::Stopwatch::start();
    let mut project = match project::load(&opts, &mut diags) {
        Ok(p) => p,
        Err(d) => {
            diags.push(d);
            return Err(diags);
        }
    };
    tracing::debug!("loaded project files in {t0}");
    let t = crate::timing::Stopwatch::start();
    let mut renderer = match Renderer::new(&project) {
        Ok(r) => r,
        Err(ds) => {
            diags.extend(ds);
            return Err(diags);
        }
    };
    renderer.static_templates &= g.static_parser_enabled();
    tracing::debug!("set up the Jinja environment in {t}");
    let t1 = crate::timing::Stopwatch::start();
    let dag = crate::compile::parse(&mut project, &renderer, &mut diags);
    tracing::debug!("parse phase took {t1}");
    let state = g.state_dir().map(|d| State::new(&d, &project.root_dir));
    let defer_state = g
        .defer_state
        .as_ref()
        .map(|d| State::new(d, &project.root_dir));
    for st in state.iter().chain(defer_state.iter()) {
        let same = |a: &std::path::Path, b: &std::path::Path| {
            a.canonicalize()
                .ok()
                .is_some_and(|a| b.canonicalize().ok() == Some(a))
        };
        if same(&st.dir, &project.target_path()) {
            diags.push(
                Diag::warning(
                    "XF0351",
                    format!(
                        "the state folder `{}` is this project's target folder: commands that write artifacts replace the state they compare with",
                        st.shown
                    ),
                )
                .with_help("copy the artifacts of the run to compare with to another folder and pass that to --state"),
            );
        }
    }
    Ok(Loaded {
        project,
        renderer,
        dag,
        diags,
        started,
        state,
        defer_state,
    })
}

/// `--defer`: the nodes whose refs may go to the state's relations.
/// `selected` are the ids the command selected (they are never deferred).
fn defer_plan(
    g: &GlobalArgs,
    loaded: &Loaded,
    selected: &[String],
) -> Result<Option<crate::execute::DeferPlan>, Diag> {
    if !g.defer_enabled() {
        return Ok(None);
    }
    let st = loaded
        .defer_state
        .as_ref()
        .or(loaded.state.as_ref())
        .ok_or_else(|| {
            Diag::error(
                "XF0346",
                "--defer needs the artifacts of the run to defer to: pass --state <dir> or --defer-state <dir>",
            )
            .with_help("the folder must hold the manifest.json of a production run (its target/ folder)")
        })?;
    let manifest = st.manifest()?;
    let selected: std::collections::HashSet<&str> = selected.iter().map(String::as_str).collect();
    Ok(Some(crate::execute::DeferPlan {
        candidates: crate::state::defer::candidates(&loaded.project, manifest, &selected),
        favor_state: g.favor_state_enabled(),
    }))
}

fn select_nodes(
    loaded: &Loaded,
    sel: &args::SelectArgs,
    default_types: &[ResourceType],
    printer: &Printer,
) -> Result<Vec<String>, Diag> {
    let selectors = Selectors::parse(&loaded.project.selectors).map_err(|e| to_diag(&e))?;
    let resource_types: Vec<ResourceType> = sel
        .resource_type
        .iter()
        .flat_map(|s| s.split(','))
        .filter_map(|s| match s.trim() {
            "all" | "" => None,
            other => ResourceType::parse(other),
        })
        .collect();
    let opts = SelectOptions {
        select: &sel.select,
        exclude: &sel.exclude,
        selector: sel.selector.as_deref(),
        resource_types: &resource_types,
        indirect_selection: match sel.indirect_selection.as_deref() {
            Some("cautious") => IndirectSelection::Cautious,
            Some("buildable") => IndirectSelection::Buildable,
            Some("empty") => IndirectSelection::Empty,
            _ => IndirectSelection::Eager,
        },
        default_selector_allowed: true,
        state: None,
    };
    let comparison = loaded.state.as_ref().map(|st| {
        crate::state::compare::Comparison::new(&loaded.project, &loaded.renderer, &loaded.dag, st)
    });
    let opts = SelectOptions {
        state: comparison.as_ref().map(|c| c as &dyn select::StateLookup),
        ..opts
    };
    let chosen = select::select(&loaded.project.nodes, &loaded.dag, &selectors, &opts);
    if let Some(c) = &comparison {
        for w in c.take_warnings() {
            printer.diag(&w);
        }
    }
    let chosen = chosen.map_err(|e| to_diag(&e))?;
    Ok(chosen
        .into_iter()
        .filter(|id| {
            loaded.project.nodes.get(id).is_some_and(|n| {
                default_types.is_empty() || default_types.contains(&n.resource_type)
            })
        })
        .collect())
}

fn to_diag(e: &select::SelectError) -> Diag {
    use miette::Diagnostic;
    if let select::SelectError::State(d) = e {
        return (**d).clone();
    }
    let code = e.code().map(|c| c.to_string()).unwrap_or_default();
    let code: &'static str = match code.trim_start_matches("xform::") {
        "XF0301" => "XF0301",
        "XF0302" => "XF0302",
        "XF0303" => "XF0303",
        "XF0304" => "XF0304",
        "XF0305" => "XF0305",
        _ => "XF0300",
    };
    let mut d = Diag::error(code, e.to_string());
    if let Some(h) = e.help() {
        d = d.with_help(h.to_string());
    }
    d
}

fn summary(project: &Project) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for n in project.nodes.values() {
        *counts.entry(n.resource_type).or_insert(0usize) += 1;
    }
    let c = |rt: ResourceType| counts.get(&rt).copied().unwrap_or(0);
    let macros = project.macros.values().filter(|m| !m.builtin).count();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let unit = c(ResourceType::UnitTest);
    [
        plural(c(ResourceType::Model), "model", "models"),
        plural(c(ResourceType::Test), "data test", "data tests"),
        if unit > 0 {
            plural(unit, "unit test", "unit tests")
        } else {
            String::new()
        },
        plural(c(ResourceType::Seed), "seed", "seeds"),
        plural(c(ResourceType::Snapshot), "snapshot", "snapshots"),
        plural(c(ResourceType::Source), "source", "sources"),
        plural(c(ResourceType::Exposure), "exposure", "exposures"),
        plural(c(ResourceType::Analysis), "analysis", "analyses"),
        plural(macros, "macro", "macros"),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(", ")
}

fn run(cli: &Cli, printer: &Printer) -> anyhow::Result<Outcome> {
    let g = &cli.global;
    match &cli.command {
        Command::Parse => {
            let t0 = Instant::now();
            let loaded = match load(g, true) {
                Ok(l) => l,
                Err(d) => return Ok(fail(printer, &d)),
            };
            printer.diags(&loaded.diags);
            if loaded.diags.has_errors() {
                return Ok(fail_count(printer, &loaded.diags));
            }
            write_manifest(&loaded)?;
            printer.info(&format!(
                "Parsed {} in {:.2}s",
                summary(&loaded.project),
                t0.elapsed().as_secs_f64()
            ));
            exit_without_drop(loaded);
            Ok(Outcome::Ok)
        }
        Command::Compile(c) => {
            let t0 = Instant::now();
            let mut loaded = match load(g, false) {
                Ok(l) => l,
                Err(d) => return Ok(fail(printer, &d)),
            };
            printer.diags(&loaded.diags);
            if loaded.diags.has_errors() {
                return Ok(fail_count(printer, &loaded.diags));
            }
            if let Some(sql) = &c.inline {
                return Ok(compile_inline(&mut loaded, sql, c.no_introspect, printer));
            }
            let ts = crate::timing::Stopwatch::start();
            let ids = match select_nodes(&loaded, &c.select, &[], printer) {
                Ok(ids) => ids,
                Err(d) => return Ok(fail(printer, &Diags(vec![d]))),
            };
            tracing::debug!("selection took {ts}");
            loaded.renderer.set_selected(&ids);
            // Without a warehouse, deferral goes by the state manifest alone.
            let compile_opts = match defer_plan(g, &loaded, &ids) {
                Ok(plan) => crate::compile::CompileOptions {
                    empty: false,
                    deferred: plan
                        .map(|p| crate::state::defer::all(p.candidates))
                        .unwrap_or_default(),
                    introspect: introspection(&loaded.project, c.no_introspect),
                },
                Err(d) => return Ok(fail(printer, &Diags(vec![d]))),
            };
            let selected = ids.clone();
            let ids: Vec<String> = ids
                .into_iter()
                .filter(|id| {
                    loaded
                        .project
                        .nodes
                        .get(id)
                        .is_some_and(|n| n.resource_type.is_compiled())
                })
                .collect();
            let t1 = crate::timing::Stopwatch::start();
            let errs = crate::compile::compile_with(
                &mut loaded.project,
                &loaded.renderer,
                &ids,
                &compile_opts,
            );
            tracing::debug!("compile phase took {t1}");
            printer.diags(&errs);
            // The compiled files (mostly kernel work creating files), the
            // manifest and the results are written side by side.
            let shared = &loaded;
            let written = std::thread::scope(|s| -> anyhow::Result<usize> {
                let files = s.spawn(|| {
                    let tw = crate::timing::Stopwatch::start();
                    let r = write_compiled(&shared.project, &ids);
                    tracing::debug!("wrote compiled files in {tw}");
                    r
                });
                let results =
                    s.spawn(|| write_compile_results(shared, &selected, "compile", &c.select, t0));
                write_manifest(shared)?;
                let panicked = |what: &str| anyhow::anyhow!("the {what} writer panicked");
                results
                    .join()
                    .unwrap_or_else(|_| Err(panicked("results")))?;
                files
                    .join()
                    .unwrap_or_else(|_| Err(panicked("compiled files")))
            })?;
            if errs.has_errors() {
                return Ok(fail_count(printer, &errs));
            }
            printer.info(&format!(
                "Compiled {written} nodes ({}) in {:.2}s",
                summary(&loaded.project),
                t0.elapsed().as_secs_f64()
            ));
            exit_without_drop(loaded);
            Ok(Outcome::Ok)
        }
        Command::Ls(l) => {
            let loaded = match load(g, true) {
                Ok(l) => l,
                Err(d) => return Ok(fail(printer, &d)),
            };
            printer.diags(&loaded.diags);
            if loaded.diags.has_errors() {
                return Ok(fail_count(printer, &loaded.diags));
            }
            let mut ids = match select_nodes(&loaded, &l.select, &[], printer) {
                Ok(ids) => ids,
                Err(d) => return Ok(fail(printer, &Diags(vec![d]))),
            };
            // Like dbt: sorted by unique id; analyses only when asked for.
            if l.select.resource_type.is_empty() {
                ids.retain(|id| !id.starts_with("analysis."));
            }
            ids.sort();
            for id in ids {
                let Some(n) = loaded.project.nodes.get(&id) else {
                    continue;
                };
                let line = match l.output {
                    LsOutput::Selector => ls_selector(n),
                    LsOutput::Name => ls_search_name(n),
                    LsOutput::Path => n.original_file_path.clone(),
                    LsOutput::Json => ls_json(n, &l.output_keys),
                };
                printer.data(&line);
            }
            Ok(Outcome::Ok)
        }
        Command::Seed(a) => run_command(g, a, printer, "seed", None),
        Command::Run(a) => run_command(g, a, printer, "run", None),
        Command::Test(a) => run_command(g, a, printer, "test", None),
        Command::Build(a) => run_command(g, a, printer, "build", None),
        Command::Snapshot(a) => run_command(g, a, printer, "snapshot", None),
        Command::Retry(a) => retry_command(g, a, printer),
        Command::Clone(c) => {
            let a = args::RunArgs {
                select: c.select.clone(),
                full_refresh: c.full_refresh,
                ..args::RunArgs::default()
            };
            run_command(g, &a, printer, "clone", None)
        }
        Command::RunOperation(a) => {
            let args = match parse_vars(a.args.as_deref()) {
                Ok(m) => m,
                Err(d) => return Ok(fail(printer, &Diags(vec![d]))),
            };
            let loaded = match load(g, false) {
                Ok(l) => l,
                Err(d) => return Ok(fail(printer, &d)),
            };
            printer.diags(&loaded.diags);
            if loaded.diags.has_errors() {
                return Ok(fail_count(printer, &loaded.diags));
            }
            let (result, outcome) = crate::execute::run_operation(
                &loaded.project,
                &loaded.renderer,
                &a.macro_name,
                &args,
                loaded.started,
            );
            if let Some(r) = &result {
                crate::artifacts::run_results::write(
                    &loaded.project.target_path(),
                    std::slice::from_ref(r),
                    r.execution_time,
                    &loaded.renderer.shared.invocation_id,
                    loaded.started,
                    &serde_json::json!({"which": "run-operation", "macro": a.macro_name, "args": args}),
                )?;
            }
            match outcome {
                Ok(()) => {
                    printer.info(&format!("Ran operation `{}`", a.macro_name));
                    Ok(Outcome::Ok)
                }
                Err(d) => Ok(fail(printer, &Diags(vec![d]))),
            }
        }
        Command::Show(a) => Ok(show_command(g, a, printer)),
        Command::Check(a) => Ok(check::check_command(g, a, printer)),
        Command::Lineage(a) => Ok(check::lineage_command(g, a, printer)),
        Command::Docs(args::DocsCommand::Generate(a)) => docs::generate_command(g, a, printer),
        Command::Docs(args::DocsCommand::Serve(a)) => Ok(docs::serve_command(g, a, printer)),
        Command::Clean => clean_command(g, printer),
        Command::Deps(a) => Ok(deps_command(g, a, printer)),
        Command::Debug => {
            match crate::adapter::duckdb::library_version() {
                Ok(v) => printer.data(&format!("duckdb library: {v}")),
                Err(e) => printer.data(&format!("duckdb library: unavailable ({e})")),
            }
            printer.data(&format!("xform {}", env!("CARGO_PKG_VERSION")));
            Ok(debug_connection(g, printer))
        }
    }
}

/// `ls` (`--output selector`): dbt prints `package.path.name` for most
/// nodes, `source:pkg.src.table` style names for sources, and
/// `unit_test:pkg.name` (`name_v<v>` for a model version's) for unit tests.
fn ls_selector(n: &crate::node::Node) -> String {
    match n.resource_type {
        ResourceType::Source => format!("source:{}", n.fqn.join(".")),
        ResourceType::Exposure => format!("exposure:{}", n.fqn.join(".")),
        ResourceType::UnitTest => match &n.version {
            Some(v) => format!("unit_test:{}.{}_v{v}", n.package_name, n.name),
            None => format!("unit_test:{}.{}", n.package_name, n.name),
        },
        _ => n.fqn.join("."),
    }
}

/// `ls --output name`: dbt's `search_name` (`name.v<v>` for a model
/// version, `source.table` for a source).
fn ls_search_name(n: &crate::node::Node) -> String {
    match (n.resource_type, &n.source) {
        (ResourceType::Source, Some(s)) => format!("{}.{}", s.source_name, n.name),
        (ResourceType::Model, _) => n.search_name(),
        _ => n.name.clone(),
    }
}

fn ls_json(n: &crate::node::Node, keys: &[String]) -> String {
    let mut m = Map::new();
    m.insert("name".into(), Value::from(n.name.clone()));
    m.insert(
        "resource_type".into(),
        Value::from(n.resource_type.as_str()),
    );
    m.insert("package_name".into(), Value::from(n.package_name.clone()));
    m.insert(
        "original_file_path".into(),
        Value::from(n.original_file_path.clone()),
    );
    m.insert("unique_id".into(), Value::from(n.unique_id.clone()));
    m.insert("alias".into(), Value::from(n.alias.clone()));
    m.insert(
        "config".into(),
        serde_json::to_value(&n.config).unwrap_or(Value::Null),
    );
    m.insert("tags".into(), serde_json::json!(n.tags));
    m.insert(
        "depends_on".into(),
        if n.resource_type == ResourceType::Seed {
            serde_json::json!({"macros": n.depends_on_macros})
        } else {
            serde_json::json!({"macros": n.depends_on_macros, "nodes": n.depends_on_nodes})
        },
    );
    if !keys.is_empty() {
        m = keys
            .iter()
            .filter_map(|k| m.get(k).map(|v| (k.clone(), v.clone())))
            .collect();
    }
    crate::jinja::python::python_json(&Value::Object(m), false).unwrap_or_default()
}

/// The process is about to exit: freeing a large project node by node would
/// only cost time, so its memory goes back to the OS with the process.
fn exit_without_drop(loaded: Loaded) {
    std::mem::forget(loaded);
}

fn fail(printer: &Printer, diags: &Diags) -> Outcome {
    printer.diags(diags);
    fail_count(printer, diags)
}

fn fail_count(printer: &Printer, diags: &Diags) -> Outcome {
    let n = diags.error_count();
    printer.info(&format!("Found {n} error{}", if n == 1 { "" } else { "s" }));
    Outcome::UserError
}

/// `clone`: the state's relation of each selected node (nodes the state
/// does not have are left out, and their clone does nothing).
fn clone_sources(
    loaded: &Loaded,
    ids: &[String],
) -> Result<std::collections::HashMap<String, crate::jinja::relation::Relation>, Diag> {
    let st = loaded
        .defer_state
        .as_ref()
        .or(loaded.state.as_ref())
        .ok_or_else(|| {
            Diag::error(
                "XF0352",
                "`clone` needs the artifacts of the run to clone from: pass --state <dir>",
            )
            .with_help(
                "the folder must hold the manifest.json of a production run (its target/ folder)",
            )
        })?;
    let manifest = st.manifest()?;
    Ok(ids
        .iter()
        .filter_map(|id| {
            let n = loaded.project.nodes.get(id)?;
            let old = manifest.nodes.get(id)?;
            let r = crate::state::defer::state_relation(&loaded.project, n, old)?;
            Some((id.clone(), r))
        })
        .collect())
}

fn write_manifest(loaded: &Loaded) -> anyhow::Result<()> {
    let t0 = crate::timing::Stopwatch::start();
    let inv = crate::artifacts::manifest::Invocation {
        invocation_id: &loaded.renderer.shared.invocation_id,
        started_at: loaded.started,
    };
    // The state sidecar is small and independent: written meanwhile.
    std::thread::scope(|s| -> anyhow::Result<()> {
        let sidecar = s.spawn(|| {
            crate::state::sidecar::write(&loaded.project, &loaded.renderer.shared.invocation_id)
        });
        crate::artifacts::manifest::write(&loaded.project, &loaded.dag, &inv)?;
        sidecar
            .join()
            .map_err(|_| anyhow::anyhow!("the state sidecar writer panicked"))??;
        Ok(())
    })?;
    tracing::debug!("wrote manifest in {t0}");
    Ok(())
}

/// `run_results.json` of `compile`, as dbt writes it: a result for every
/// selected seed, snapshot, data test, analysis and model that is not
/// ephemeral; `success`, or `error` for one that did not compile.
/// `docs generate` writes the same for what it compiled (`which`: the
/// command, recorded in `args`).
fn write_compile_results(
    loaded: &Loaded,
    ids: &[String],
    which: &str,
    sel: &args::SelectArgs,
    t0: Instant,
) -> anyhow::Result<()> {
    use crate::artifacts::run_results::ResultView;
    use crate::execute::Status;
    let t = crate::timing::Stopwatch::start();
    let now = chrono::Utc::now();
    // Each result is read off its node as it is written.
    let nodes: Vec<&crate::node::Node> = ids
        .iter()
        .filter_map(|id| loaded.project.nodes.get(id))
        .filter(|n| match n.resource_type {
            ResourceType::Model => !n.is_ephemeral(),
            ResourceType::Seed
            | ResourceType::Snapshot
            | ResourceType::Test
            | ResourceType::Analysis => true,
            _ => false,
        })
        .map(|n| &**n)
        .collect();
    crate::artifacts::run_results::write_views(
        &loaded.project.target_path(),
        &nodes,
        |n: &&crate::node::Node| ResultView {
            unique_id: &n.unique_id,
            status: if n.resource_type == ResourceType::Seed || n.compiled_code.is_some() {
                Status::Success
            } else {
                Status::Error
            },
            message: None,
            failures: None,
            started: now,
            compile_done: now,
            completed: now,
            execution_time: 0.0,
            thread: 0,
            compiled_code: n.compiled_code.as_deref(),
            relation_name: n.relation_name.as_deref(),
            rows_affected: None,
        },
        t0.elapsed().as_secs_f64(),
        &loaded.renderer.shared.invocation_id,
        loaded.started,
        &serde_json::json!({"which": which, "select": sel.select, "exclude": sel.exclude}),
    )?;
    tracing::debug!("wrote run results in {t}");
    Ok(())
}

/// Writes `target/compiled/...` for the compiled nodes; returns how many.
fn write_compiled(project: &Project, ids: &[String]) -> anyhow::Result<usize> {
    let target = project.target_path();
    let files: Vec<(PathBuf, &str)> = ids
        .iter()
        .filter_map(|id| project.nodes.get(id))
        // dbt writes no compiled file for snapshots.
        .filter(|n| n.resource_type != ResourceType::Snapshot)
        .filter_map(|n| {
            let sql = n.compiled_code.as_deref()?;
            let rel = crate::artifacts::manifest::compiled_rel_path(n);
            let rel = rel.strip_prefix("target/").unwrap_or(&rel).to_owned();
            Some((target.join(rel), sql))
        })
        .collect();
    // Folders are written side by side, one thread per core: the kernel
    // work of creating files is most of this step.
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    crate::artifacts::files::write_all(&files, threads.min(4))?;
    Ok(files.len())
}

/// Adds an inline query as a node; returns its id.
fn add_inline_node(loaded: &mut Loaded, sql: &str) -> String {
    let mut node =
        crate::node::Node::new(ResourceType::Analysis, &loaded.project.root, "inline_query");
    sql.clone_into(&mut node.raw_code);
    "<inline>".clone_into(&mut node.original_file_path);
    node.fqn = vec![loaded.project.root.clone(), "inline_query".to_owned()];
    node.database.clone_from(&loaded.project.target.database);
    node.schema.clone_from(&loaded.project.target.schema);
    "inline_query".clone_into(&mut node.alias);
    let uid = node.unique_id.clone();
    loaded.project.sources.insert(
        node.abs_path.clone(),
        crate::diagnostics::SourceText::new("<inline>", sql),
    );
    loaded.project.nodes.insert(uid.clone(), Box::new(node));
    uid
}

/// `xform compile`'s warehouse: opened when a node first queries it, as
/// dbt's compile connects (`--no-introspect`: never).
fn introspection(project: &Project, no_introspect: bool) -> Option<crate::compile::LiveSource> {
    if no_introspect {
        return None;
    }
    let intro = crate::execute::introspect::Introspection::new(project);
    Some(crate::compile::LiveSource(std::sync::Arc::new(
        move |node| intro.live_for(node),
    )))
}

fn compile_inline(
    loaded: &mut Loaded,
    sql: &str,
    no_introspect: bool,
    printer: &Printer,
) -> Outcome {
    let uid = add_inline_node(loaded, sql);
    let opts = crate::compile::CompileOptions {
        introspect: introspection(&loaded.project, no_introspect),
        ..crate::compile::CompileOptions::default()
    };
    let errs = crate::compile::compile_with(
        &mut loaded.project,
        &loaded.renderer,
        std::slice::from_ref(&uid),
        &opts,
    );
    if errs.has_errors() {
        return fail(printer, &errs);
    }
    if let Some(code) = loaded
        .project
        .nodes
        .get(&uid)
        .and_then(|n| n.compiled_code.clone())
    {
        printer.data(&code);
    }
    Outcome::Ok
}

/// The resource types a run command executes by default.
fn command_types(which: &str) -> &'static [ResourceType] {
    match which {
        "seed" => &[ResourceType::Seed],
        "run" => &[ResourceType::Model],
        "test" => &[ResourceType::Test, ResourceType::UnitTest],
        "snapshot" => &[ResourceType::Snapshot],
        "clone" => &[
            ResourceType::Model,
            ResourceType::Seed,
            ResourceType::Snapshot,
        ],
        _ => &[
            ResourceType::Model,
            ResourceType::Seed,
            ResourceType::Snapshot,
            ResourceType::Test,
            ResourceType::UnitTest,
        ],
    }
}

/// `retry`: the nodes of the last run that ended in error, failure or skip,
/// run again with the last command.
fn retry_command(g: &GlobalArgs, a: &args::RunArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    let dir = g.project_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let target = dir.join("target");
    let text = std::fs::read_to_string(target.join("run_results.json")).unwrap_or_default();
    let Ok(doc) = serde_json::from_str::<Value>(&text) else {
        printer.diag(
            &Diag::error(
                "XF0170",
                "no previous run to retry: target/run_results.json is missing or unreadable",
            )
            .with_help("run `xform build` (or run, test, seed, snapshot) first"),
        );
        return Ok(Outcome::UserError);
    };
    let which = doc["args"]["which"].as_str().unwrap_or("build").to_owned();
    let ids: Vec<String> = doc["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|r| {
                    matches!(
                        r["status"].as_str(),
                        Some("error" | "fail" | "skipped" | "runtime error")
                    )
                })
                .filter_map(|r| r["unique_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() {
        printer.info("Nothing to retry: the last run had no errors, failures or skips");
        return Ok(Outcome::Ok);
    }
    let mut a = a.clone();
    a.full_refresh |= doc["args"]["full_refresh"].as_bool().unwrap_or(false);
    // Like dbt's retry: the state and deferral of the run being retried,
    // unless given again.
    let mut g = g.clone();
    let prev = &doc["args"];
    if g.state_dir().is_none() {
        g.state = prev["state"].as_str().map(PathBuf::from);
    }
    if g.defer_state.is_none() {
        g.defer_state = prev["defer_state"].as_str().map(PathBuf::from);
    }
    if !g.defer && !g.no_defer {
        g.defer = prev["defer"].as_bool().unwrap_or(false);
    }
    if !g.favor_state && !g.no_favor_state {
        g.favor_state = prev["favor_state"].as_bool().unwrap_or(false);
    }
    run_command(&g, &a, printer, &which, Some(ids))
}

/// `seed`, `run`, `test`, `snapshot` and `build`; `only` replaces the
/// selection (for `retry`).
fn run_command(
    g: &GlobalArgs,
    a: &args::RunArgs,
    printer: &Printer,
    which: &str,
    only: Option<Vec<String>>,
) -> anyhow::Result<Outcome> {
    let mut loaded = match load(g, false) {
        Ok(l) => l,
        Err(d) => return Ok(fail(printer, &d)),
    };
    printer.diags(&loaded.diags);
    if loaded.diags.has_errors() {
        return Ok(fail_count(printer, &loaded.diags));
    }
    loaded.renderer.set_flags(&serde_json::json!({
        "FULL_REFRESH": a.full_refresh, "STORE_FAILURES": a.store_failures,
        "WHICH": which, "FAIL_FAST": a.fail_fast, "EMPTY": a.empty,
    }));
    if a.store_failures {
        for n in loaded.project.nodes.values_mut() {
            if n.resource_type == ResourceType::Test
                && n.config.get("store_failures").is_none_or(Value::is_null)
            {
                n.config.insert("store_failures".into(), Value::Bool(true));
            }
        }
    }
    let ids = match only {
        Some(ids) => ids
            .into_iter()
            .filter(|id| loaded.project.nodes.contains_key(id))
            .collect(),
        None => match select_nodes(&loaded, &a.select, command_types(which), printer) {
            Ok(ids) => ids,
            Err(d) => return Ok(fail(printer, &Diags(vec![d]))),
        },
    };
    loaded.renderer.set_selected(&ids);
    // The state is read before this run's artifacts are written.
    let defer = match defer_plan(g, &loaded, &ids) {
        Ok(p) => p,
        Err(d) => return Ok(fail(printer, &Diags(vec![d]))),
    };
    let clone = if which == "clone" {
        match clone_sources(&loaded, &ids) {
            Ok(c) => Some(c),
            Err(d) => return Ok(fail(printer, &Diags(vec![d]))),
        }
    } else {
        None
    };
    write_manifest(&loaded)?;
    let threads = g.threads.unwrap_or(loaded.project.target.threads).max(1);
    printer.info(&format!(
        "Running with xform {} against {} target `{}` ({threads} thread{})",
        env!("CARGO_PKG_VERSION"),
        loaded.project.target.kind,
        loaded.project.target.name,
        if threads == 1 { "" } else { "s" }
    ));
    let opts = crate::execute::Options {
        threads,
        full_refresh: a.full_refresh,
        fail_fast: a.fail_fast,
        build: which == "build",
        empty: a.empty,
        event_time_start: a.event_time_start.clone(),
        event_time_end: a.event_time_end.clone(),
        defer,
        clone,
    };
    let _ = ctrlc::set_handler(crate::execute::interrupt);
    let log = RunLog::open(&loaded.project);
    let project = &loaded.project;
    let width = 80usize;
    let mut bar = progress::Progress::new(!printer.json && !g.quiet, printer.width, ids.len());
    let mut on_event = |ev: crate::execute::Event<'_>| match ev {
        crate::execute::Event::Planned(n) => bar.planned(n),
        crate::execute::Event::Started(id) => {
            if let Some(n) = project.nodes.get(id) {
                bar.started(&n.name);
            }
        }
        crate::execute::Event::Tick => bar.tick(),
        crate::execute::Event::Finished(r, pos, total) => {
            let line = result_line(project, r, pos, total, width, which == "clone");
            log.line(&line);
            if printer.json {
                let ev = serde_json::json!({
                    "level": if r.status == crate::execute::Status::Error { "error" } else { "info" },
                    "event": "node_finished", "unique_id": r.unique_id, "status": r.status.as_str(),
                    "index": pos, "total": total, "execution_time": r.execution_time, "message": r.message,
                    "failures": r.failures, "ts": chrono::Utc::now().to_rfc3339(),
                });
                err_line(&ev.to_string());
            } else if !printer.quiet {
                let name = project
                    .nodes
                    .get(&r.unique_id)
                    .map_or("", |n| n.name.as_str());
                bar.finished(name, &line, pos, total);
            }
        }
    };
    let out = match crate::execute::run(
        &loaded.project,
        &loaded.renderer,
        &loaded.dag,
        &ids,
        &opts,
        &mut on_event,
    ) {
        Ok(o) => o,
        Err(d) => {
            bar.clear();
            return Ok(fail(printer, &Diags(vec![d])));
        }
    };
    bar.clear();
    let target = loaded.project.target_path();
    let with_hooks: Vec<_> = out
        .hooks
        .0
        .iter()
        .chain(&out.results)
        .chain(&out.hooks.1)
        .cloned()
        .collect();
    crate::artifacts::run_results::write(
        &target,
        &with_hooks,
        out.elapsed,
        &loaded.renderer.shared.invocation_id,
        loaded.started,
        &serde_json::json!({
            "which": which, "full_refresh": a.full_refresh,
            "select": a.select.select, "exclude": a.select.exclude,
            "state": g.state_dir(), "defer_state": g.defer_state,
            "defer": g.defer_enabled(), "favor_state": g.favor_state_enabled(),
        }),
    )?;
    Ok(finish_summary(printer, &loaded.project, &out, &log))
}

/// `logs/xform.log`: the lines of the run, plain, appended.
struct RunLog(Option<std::sync::Mutex<std::fs::File>>);

impl RunLog {
    fn open(project: &Project) -> Self {
        let dir = project.root_dir.join("logs");
        let f = std::fs::create_dir_all(&dir).ok().and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("xform.log"))
                .ok()
        });
        Self(f.map(std::sync::Mutex::new))
    }

    fn line(&self, line: &str) {
        if let Some(f) = &self.0
            && let Ok(mut f) = f.lock()
        {
            let _ = writeln!(f, "{} {line}", chrono::Utc::now().format("%H:%M:%S%.3f"));
        }
    }
}

fn node_label(n: &crate::node::Node) -> String {
    format!("{}.{}", n.schema, n.alias)
}

/// `model::test`, as dbt names unit tests in its output.
fn unit_label(node: &crate::node::Node) -> String {
    match &node.unit {
        Some(u) => format!("{}::{}", u.model, node.name),
        None => node.name.clone(),
    }
}

/// dbt's line for a finished node: `3 of 12 OK created sql table model
/// main.orders ........ [OK in 0.04s]`.
fn result_line(
    project: &Project,
    r: &crate::execute::NodeResult,
    i: usize,
    n: usize,
    width: usize,
    clone: bool,
) -> String {
    use crate::execute::Status;
    let Some(node) = project.nodes.get(&r.unique_id) else {
        return format!("{i} of {n} {} {}", r.status.as_str(), r.unique_id);
    };
    let mat = node.materialized();
    let what = match node.resource_type {
        ResourceType::Seed => format!("seed file {}", node_label(node)),
        ResourceType::Snapshot => format!("snapshot {}", node_label(node)),
        ResourceType::Test => node.name.clone(),
        ResourceType::UnitTest => unit_label(node),
        _ => format!("sql {mat} model {}", node_label(node)),
    };
    let failures = r.failures.unwrap_or(0);
    let (desc, verdict) = match (r.status, node.resource_type) {
        (Status::Success, rt) if clone => {
            let kind = rt.as_str();
            if r.message.as_deref() == Some("No-op") {
                (
                    format!(
                        "NO-OP {kind} {} (exists, or not in the state)",
                        node_label(node)
                    ),
                    "NO-OP".to_owned(),
                )
            } else {
                (
                    format!("OK cloned {kind} {}", node_label(node)),
                    "OK".to_owned(),
                )
            }
        }
        (Status::Success, ResourceType::Seed) => (
            format!("OK loaded {what}"),
            format!("INSERT {}", r.rows_affected.unwrap_or(0)),
        ),
        (Status::Success, ResourceType::Snapshot) => (
            format!("OK snapshotted {}", node_label(node)),
            "OK".to_owned(),
        ),
        (Status::Success, _) => (format!("OK created {what}"), "OK".to_owned()),
        (Status::Pass, _) => (format!("PASS {what}"), "PASS".to_owned()),
        (Status::Fail, _) => (
            format!("FAIL {failures} {what}"),
            format!("FAIL {failures}"),
        ),
        (Status::Warn, _) => (
            format!("WARN {failures} {what}"),
            format!("WARN {failures}"),
        ),
        (Status::Error, ResourceType::Test | ResourceType::UnitTest) => {
            (format!("ERROR {what}"), "ERROR".to_owned())
        }
        (Status::Error, ResourceType::Seed) => {
            (format!("ERROR loading {what}"), "ERROR".to_owned())
        }
        (Status::Error, _) => (format!("ERROR creating {what}"), "ERROR".to_owned()),
        (Status::Skipped, ResourceType::Test) => {
            (format!("SKIP test {}", node.name), "SKIP".to_owned())
        }
        (Status::Skipped, ResourceType::UnitTest) => {
            (format!("SKIP unit test {what}"), "SKIP".to_owned())
        }
        (Status::Skipped, _) => (
            format!("SKIP relation {}", node_label(node)),
            "SKIP".to_owned(),
        ),
    };
    let head = format!("{i} of {n} {desc} ");
    let tail = if r.status == Status::Skipped {
        format!(" [{verdict}]")
    } else {
        format!(" [{verdict} in {:.2}s]", r.execution_time)
    };
    let dots = width
        .saturating_sub(head.chars().count() + tail.chars().count())
        .max(3);
    format!("{head}{}{tail}", ".".repeat(dots))
}

fn finish_summary(
    printer: &Printer,
    project: &Project,
    out: &crate::execute::RunOutput,
    log: &RunLog,
) -> Outcome {
    use crate::execute::Status;
    let mut kinds: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for r in &out.results {
        if let Some(n) = project.nodes.get(&r.unique_id) {
            let k = match n.resource_type {
                ResourceType::Model => format!("{} model", n.materialized()),
                ResourceType::Test => "data test".to_owned(),
                ResourceType::UnitTest => "unit test".to_owned(),
                other => other.as_str().to_owned(),
            };
            *kinds.entry(k).or_default() += 1;
        }
    }
    let parts: Vec<String> = kinds
        .iter()
        .map(|(k, c)| format!("{c} {k}{}", if *c == 1 { "" } else { "s" }))
        .collect();
    let count = |s: Status| out.results.iter().filter(|r| r.status == s).count();
    let (pass, warn, error, skip, fail) = (
        count(Status::Pass) + count(Status::Success),
        count(Status::Warn),
        count(Status::Error),
        count(Status::Skipped),
        count(Status::Fail),
    );
    printer.info("");
    let finished = format!(
        "Finished running {} in {:.2}s.",
        if parts.is_empty() {
            "nothing".to_owned()
        } else {
            parts.join(", ")
        },
        out.elapsed
    );
    printer.info(&finished);
    log.line(&finished);
    if out.interrupted {
        printer
            .info("Interrupted: running statements were cancelled; run_results.json was written");
    }
    let problems: Vec<&crate::execute::NodeResult> = out
        .results
        .iter()
        .filter(|r| matches!(r.status, Status::Error | Status::Fail | Status::Warn))
        .collect();
    if problems.is_empty() {
        printer.info("Completed successfully");
    } else {
        printer.info("");
        printer.info(&format!(
            "Completed with {} error{} and {warn} warning{}:",
            error + fail,
            if error + fail == 1 { "" } else { "s" },
            if warn == 1 { "" } else { "s" }
        ));
        for r in problems {
            printer.info("");
            if let Some(d) = &r.diag {
                log.line(&d.message);
                printer.diag(d);
            } else {
                {
                    let name = project
                        .nodes
                        .get(&r.unique_id)
                        .map_or(r.unique_id.as_str(), |n| n.name.as_str());
                    let kind = if r.status == Status::Warn {
                        "Warning"
                    } else {
                        "Failure"
                    };
                    let path = project
                        .nodes
                        .get(&r.unique_id)
                        .map(|n| format!(" ({})", n.original_file_path))
                        .unwrap_or_default();
                    let what = match project.nodes.get(&r.unique_id) {
                        Some(n) if n.resource_type == ResourceType::UnitTest => "unit test",
                        _ => "test",
                    };
                    let msg = format!(
                        "{kind} in {what} {name}{path}\n  {}",
                        r.message.clone().unwrap_or_default().replace('\n', "\n  ")
                    );
                    log.line(&msg);
                    printer.info(&msg);
                    if let Some(p) = &r.run_path {
                        printer.info(&format!("  compiled code at {}", project.display_path(p)));
                    }
                }
            }
        }
    }
    let done = format!(
        "Done. PASS={pass} WARN={warn} ERROR={} SKIP={skip} NO-OP=0 TOTAL={}",
        error + fail,
        out.results.len()
    );
    printer.info("");
    printer.info(&done);
    log.line(&done);
    if error + fail > 0 || out.interrupted {
        Outcome::UserError
    } else {
        Outcome::Ok
    }
}

/// `xform show`: the first rows of a model or an inline query, as a table
/// on stdout.
fn show_command(g: &GlobalArgs, a: &args::ShowArgs, printer: &Printer) -> Outcome {
    let mut loaded = match load(g, false) {
        Ok(l) => l,
        Err(d) => return fail(printer, &d),
    };
    printer.diags(&loaded.diags);
    if loaded.diags.has_errors() {
        return fail_count(printer, &loaded.diags);
    }
    let id = if let Some(sql) = &a.inline {
        add_inline_node(&mut loaded, sql)
    } else {
        let ids = match select_nodes(
            &loaded,
            &a.select,
            &[
                ResourceType::Model,
                ResourceType::Seed,
                ResourceType::Snapshot,
                ResourceType::Analysis,
            ],
            printer,
        ) {
            Ok(ids) => ids,
            Err(d) => return fail(printer, &Diags(vec![d])),
        };
        match ids.as_slice() {
            [one] => one.clone(),
            [] => {
                return fail(
                    printer,
                    &Diags(vec![
                        Diag::error("XF0306", "`show` selected nothing")
                            .with_help("pass --select <model> or --inline \"select ...\""),
                    ]),
                );
            }
            many => {
                return fail(
                    printer,
                    &Diags(vec![Diag::error(
                        "XF0307",
                        format!(
                            "`show` needs exactly one node, the selection has {}",
                            many.len()
                        ),
                    )]),
                );
            }
        }
    };
    let defer = match defer_plan(g, &loaded, std::slice::from_ref(&id)) {
        Ok(p) => p,
        Err(d) => return fail(printer, &Diags(vec![d])),
    };
    let table = match crate::execute::preview(
        &loaded.project,
        &loaded.renderer,
        &id,
        a.limit,
        defer.as_ref(),
    ) {
        Ok(t) => t,
        Err(d) => return fail(printer, &Diags(vec![d])),
    };
    let name = loaded
        .project
        .nodes
        .get(&id)
        .map_or("inline query", |n| n.name.as_str());
    printer.info(&format!("Previewing {name}:"));
    for line in format_table(&table) {
        printer.data(&line);
    }
    Outcome::Ok
}

/// A result set as an aligned text table.
fn format_table(t: &crate::adapter::Table) -> Vec<String> {
    let cell = |v: &Value| match v {
        Value::Null => "NULL".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let headers: Vec<String> = t.columns.iter().map(|(n, _)| n.clone()).collect();
    let body: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| r.iter().map(cell).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in &body {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |", parts.join(" | "))
    };
    let sep = format!(
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+")
    );
    let mut out = vec![line(&headers), sep];
    out.extend(body.iter().map(|r| line(r)));
    out
}

/// `xform deps`: installs the declared packages, printing what it does.
fn deps_command(g: &GlobalArgs, a: &args::DepsArgs, printer: &Printer) -> Outcome {
    let cli_vars = match parse_vars(g.vars.as_deref()) {
        Ok(v) => v,
        Err(d) => return fail(printer, &Diags(vec![d])),
    };
    let source = match a.source {
        args::DepsSource::Hub => crate::deps::AddSource::Hub,
        args::DepsSource::Git => crate::deps::AddSource::Git,
        args::DepsSource::Local => crate::deps::AddSource::Local,
    };
    let opts = crate::deps::Options {
        project_dir: g.project_dir.clone().unwrap_or_else(|| PathBuf::from(".")),
        cli_vars,
        upgrade: a.upgrade,
        lock_only: a.lock,
        add_package: a.add_package.clone().map(|p| (p, source)),
        version_check: !a.no_version_check,
    };
    let mut emit = |e: crate::deps::Event| match e {
        crate::deps::Event::Info(m) => printer.info(&m),
        crate::deps::Event::Warn(d) => printer.diag(&d),
    };
    match crate::deps::run(&opts, &mut emit) {
        Ok(()) => Outcome::Ok,
        Err(d) => fail(printer, &Diags(vec![d])),
    }
}

/// `xform clean`: removes `clean-targets` (default `target-path`), refusing
/// anything outside the project folder.
fn clean_command(g: &GlobalArgs, printer: &Printer) -> anyhow::Result<Outcome> {
    let dir = g.project_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let text = std::fs::read_to_string(dir.join("dbt_project.yml")).unwrap_or_default();
    let doc = crate::yaml::parse(&text).ok();
    // dbt's default is the project's `target-path`.
    let target_path = doc
        .as_ref()
        .and_then(|y| y.get("target-path"))
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "target".to_owned());
    let targets: Vec<String> = doc
        .as_ref()
        .and_then(|y| y.get("clean-targets").map(crate::yaml::Yaml::to_json))
        .and_then(|v| v.as_array().cloned())
        .map_or_else(
            || vec![target_path],
            |a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            },
        );
    let root = std::fs::canonicalize(&dir)?;
    for t in targets {
        let p = dir.join(&t);
        let Ok(abs) = std::fs::canonicalize(&p) else {
            continue;
        };
        if !abs.starts_with(&root) || abs == root {
            printer.diag(&Diag::error(
                "XF0160",
                format!("not cleaning `{t}`: it is not inside the project folder"),
            ));
            return Ok(Outcome::UserError);
        }
        std::fs::remove_dir_all(&abs)?;
        printer.info(&format!("Cleaned {t}/"));
    }
    Ok(Outcome::Ok)
}

/// `xform debug`, after the versions: the project, profile and target, and
/// a connection test when a project is at hand.
fn debug_connection(g: &GlobalArgs, printer: &Printer) -> Outcome {
    let dir = g.project_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    if !dir.join("dbt_project.yml").is_file() {
        printer
            .data("project: none here (pass --project-dir to check a project and its connection)");
        return Outcome::Ok;
    }
    let loaded = match load(g, false) {
        Ok(l) => l,
        Err(d) => return fail(printer, &d),
    };
    let t = &loaded.project.target;
    printer.data(&format!(
        "project: {} ({})",
        loaded.project.root,
        loaded.project.root_dir.display()
    ));
    printer.data(&format!(
        "profile: {} from {}",
        t.profile_name,
        t.profiles_path
            .as_ref()
            .map_or_else(|| "(none)".to_owned(), |p| p.display().to_string())
    ));
    printer.data(&format!(
        "target: {} (type {}, database {}, schema {}, {} threads)",
        t.name, t.kind, t.database, t.schema, t.threads
    ));
    let check = || -> Result<String, String> {
        let adapter = crate::adapter::for_kind(&t.kind)
            .ok_or_else(|| format!("unknown type `{}`", t.kind))?;
        let wh = adapter.open(t).map_err(|e| e.message)?;
        let mut conn = wh.connect().map_err(|e| e.message)?;
        conn.execute("select 1", true).map_err(|e| e.message)?;
        Ok(wh.describe())
    };
    match check() {
        Ok(what) => {
            printer.data(&format!("connection: OK ({what})"));
            Outcome::Ok
        }
        Err(m) => {
            printer.diag(
                &Diag::error("XF0501", format!("connection test failed: {m}"))
                    .with_help("check the target's fields in profiles.yml"),
            );
            Outcome::UserError
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_fast_version_line_is_what_clap_prints() {
        assert_eq!(
            super::version_line(),
            super::Cli::command().render_version()
        );
    }
}
