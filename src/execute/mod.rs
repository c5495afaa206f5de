//! The run phase: executes selected nodes against the warehouse in DAG order
//! with `--threads` workers.
//!
//! Each worker owns one connection. A node is compiled just before it runs
//! (so `is_incremental()` and `run_query` see the warehouse as it is), then
//! its materialization macro renders with a live adapter. A failed node
//! marks everything downstream SKIP and the run goes on (or stops with
//! `--fail-fast`).
//!
//! With `--defer`, refs to unselected nodes missing from the target resolve
//! to the state's relations (`resolve_defer`); `clone` runs the `clone`
//! materialization on each node with the state's relation.
//!
//! Invariant: `DuckDB` and Postgres calls are synchronous and happen on the
//! worker threads only; the coordinating thread never waits on the
//! warehouse except for listing and creating schemas before the run.

pub mod introspect;
pub mod live;
pub mod microbatch;
pub mod seed;
mod unit;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use minijinja::Value;
use minijinja::value::Object;

use crate::diagnostics::Diag;
use crate::graph::Dag;
use crate::jinja::context::{MacroFn, NodeCtx, Phase};
use crate::jinja::relation::Relation;
use crate::jinja::{Renderer, errors};
use crate::node::{Node, ResourceType};
use crate::project::Project;
use live::{NodeLive, WorkerConn};

/// How a node ended, with dbt's status names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Success,
    Error,
    Skipped,
    Pass,
    Fail,
    Warn,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Skipped => "skipped",
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Warn => "warn",
        }
    }

    /// Whether downstream nodes must be skipped.
    pub fn blocks(self) -> bool {
        matches!(self, Self::Error | Self::Fail | Self::Skipped)
    }
}

/// The result of one node.
#[derive(Clone, Debug)]
pub struct NodeResult {
    pub unique_id: String,
    pub status: Status,
    pub message: Option<String>,
    pub failures: Option<i64>,
    pub started: chrono::DateTime<chrono::Utc>,
    pub compile_done: chrono::DateTime<chrono::Utc>,
    pub completed: chrono::DateTime<chrono::Utc>,
    pub execution_time: f64,
    pub thread: usize,
    pub compiled_code: Option<String>,
    pub relation_name: Option<String>,
    pub rows_affected: Option<i64>,
    pub diag: Option<Diag>,
    /// The SQL file of the main statement, when one ran.
    pub run_path: Option<PathBuf>,
}

/// Run-wide switches.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub threads: usize,
    pub full_refresh: bool,
    pub fail_fast: bool,
    /// `build`: tests gate the children of the nodes they test.
    pub build: bool,
    /// `--empty`: refs and sources read zero rows.
    pub empty: bool,
    /// Microbatch: `--event-time-start` and `--event-time-end`.
    pub event_time_start: Option<String>,
    pub event_time_end: Option<String>,
    /// `--defer`: what refs may resolve to in the state's environment.
    pub defer: Option<DeferPlan>,
    /// `clone`: every node runs the `clone` materialization, from its
    /// relation in the state's environment (absent: nothing to clone).
    pub clone: Option<HashMap<String, Relation>>,
}

/// `--defer` for a run: the candidates, and whether the state wins even
/// where the current target has the relation (`--favor-state`).
#[derive(Clone, Debug, Default)]
pub struct DeferPlan {
    pub candidates: Vec<crate::state::defer::Deferral>,
    pub favor_state: bool,
}

/// The deferrals that apply: with `--favor-state` all of them; otherwise
/// those whose relation does not exist in the current target (each schema
/// is listed once, into the relation cache the run uses).
fn resolve_defer(
    shared: &live::Shared,
    plan: &DeferPlan,
) -> Result<HashMap<String, Relation>, Diag> {
    if plan.favor_state {
        return Ok(crate::state::defer::all(plan.candidates.clone()));
    }
    let mut conn = shared
        .warehouse
        .connect()
        .map_err(|e| Diag::error("XF0502", format!("cannot connect: {}", e.message)))?;
    let mut out = HashMap::new();
    for d in &plan.candidates {
        let db = d.here.database.as_deref().unwrap_or_default();
        let schema = d.here.schema.as_deref().unwrap_or_default();
        shared
            .ensure_listed(conn.as_mut(), db, schema)
            .map_err(|e| {
                Diag::error(
                    "XF0503",
                    format!("cannot list relations in `{db}.{schema}`: {}", e.message),
                )
            })?;
        if !shared.contains(&d.here) {
            out.insert(d.unique_id.clone(), d.there.clone());
        }
    }
    Ok(out)
}

/// What the scheduler reports while it runs.
pub enum Event<'a> {
    /// How many nodes will run (or be skipped).
    Planned(usize),
    /// A node was handed to a worker.
    Started(&'a str),
    /// A node ended (or was skipped): its result, position and the total.
    Finished(&'a NodeResult, usize, usize),
    /// Nothing ended for a while (a quarter second).
    Tick,
}

/// Everything a run produces.
pub struct RunOutput {
    pub results: Vec<NodeResult>,
    /// `on-run-start` and `on-run-end` hooks that ran, as dbt lists them in
    /// `run_results.json` (`operation.<package>.<package>-on-run-start-0`),
    /// before and after the nodes.
    pub hooks: (Vec<NodeResult>, Vec<NodeResult>),
    pub elapsed: f64,
    pub interrupted: bool,
    /// Compiled SQL by node, to update the manifest.
    pub compiled: HashMap<String, String>,
}

/// Set by Ctrl-C: no new node starts, running statements are cancelled.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

type Canceller = Arc<dyn Fn() + Send + Sync>;

/// Cancellers of every worker's connection.
static CANCELLERS: Mutex<Vec<Canceller>> = Mutex::new(Vec::new());

/// Ctrl-C: stop starting nodes and cancel the running statements. Open
/// transactions are rolled back, so nothing half-built is left.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    cancel_running();
}

/// Cancels the statements running on every worker's connection, without
/// stopping the run as Ctrl-C does (`--fail-fast` stops it itself).
fn cancel_running() {
    if let Ok(c) = CANCELLERS.lock() {
        for cancel in c.iter() {
            cancel();
        }
    }
}

fn fail_fast_message(first: &str) -> String {
    format!("Skipping due to fail_fast: `{first}` failed")
}

/// A node that did not run.
fn skipped_result(project: &Project, id: &str, message: Option<String>) -> NodeResult {
    let now = chrono::Utc::now();
    NodeResult {
        unique_id: id.to_owned(),
        status: Status::Skipped,
        message,
        failures: None,
        started: now,
        compile_done: now,
        completed: now,
        execution_time: 0.0,
        thread: 0,
        compiled_code: None,
        relation_name: project.nodes.get(id).and_then(|n| n.relation_name.clone()),
        rows_affected: None,
        diag: None,
        run_path: None,
    }
}

/// The executable nodes among `ids`, with their parents restricted to the
/// selection (walking through unselected and ephemeral nodes).
fn plan(
    project: &Project,
    dag: &Dag,
    ids: &[String],
    build: bool,
) -> (Vec<String>, HashMap<String, Vec<String>>) {
    let runnable: Vec<String> = ids
        .iter()
        .filter(|id| {
            project
                .nodes
                .get(*id)
                .is_some_and(|n| match n.resource_type {
                    ResourceType::Model => !n.is_ephemeral(),
                    ResourceType::Seed
                    | ResourceType::Snapshot
                    | ResourceType::Test
                    | ResourceType::UnitTest => true,
                    _ => false,
                })
        })
        .cloned()
        .collect();
    let set: HashSet<&str> = runnable.iter().map(String::as_str).collect();
    let mut parents: HashMap<String, Vec<String>> = HashMap::new();
    for id in &runnable {
        let mut found: Vec<String> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        // A unit test needs what its model reads (to type the mocks), not
        // the model itself.
        let mut stack: Vec<&str> = if unit::is_unit(project, id) {
            dag.parents(id)
                .into_iter()
                .flat_map(|m| dag.parents(m))
                .collect()
        } else {
            dag.parents(id)
        };
        while let Some(p) = stack.pop() {
            if !seen.insert(p) {
                continue;
            }
            if set.contains(p) {
                found.push(p.to_owned());
            } else {
                stack.extend(dag.parents(p));
            }
        }
        parents.insert(id.clone(), found);
    }
    if build {
        // A unit test runs before its model, so that a failing one skips it.
        // The unit tests of one model run one after another, and the first
        // that fails (or errors) skips the rest, as dbt's build runs them
        // all in the model's job (`call_model_and_unit_tests_runner`; its
        // order is a Python set's, so any order is dbt's).
        let mut last_of_model: HashMap<&str, &String> = HashMap::new();
        for id in &runnable {
            if unit::is_unit(project, id) {
                // Only with the model: without it, dbt runs them on their own.
                for m in dag.parents(id).into_iter().filter(|m| set.contains(m)) {
                    if let Some(prev) = last_of_model.insert(m, id)
                        && let Some(v) = parents.get_mut(id)
                    {
                        v.push(prev.clone());
                    }
                }
            }
        }
        for id in &runnable {
            if unit::is_unit(project, id) {
                for m in dag.parents(id) {
                    if set.contains(m)
                        && let Some(v) = parents.get_mut(m)
                    {
                        v.push(id.clone());
                    }
                }
            }
        }
        // A test runs before the children of the nodes it tests, so that a
        // failing test skips them.
        let tests: Vec<&String> = runnable
            .iter()
            .filter(|id| {
                project
                    .nodes
                    .get(*id)
                    .is_some_and(|n| n.resource_type == ResourceType::Test)
            })
            .collect();
        for t in tests {
            let tested = parents.get(t).cloned().unwrap_or_default();
            for p in &tested {
                for c in dag.children(p) {
                    if c == t.as_str() || !set.contains(c) {
                        continue;
                    }
                    let child_is_test = project.nodes.get(c).is_some_and(|n| {
                        matches!(n.resource_type, ResourceType::Test | ResourceType::UnitTest)
                    });
                    if child_is_test {
                        continue;
                    }
                    // A test of several nodes only gates children of all of them.
                    let c_parents = parents.get(c).cloned().unwrap_or_default();
                    if !tested.iter().all(|tp| c_parents.contains(tp) || tp == p) {
                        continue;
                    }
                    if let Some(v) = parents.get_mut(c)
                        && !v.contains(t)
                    {
                        v.push(t.clone());
                    }
                }
            }
        }
        // The unit tests run in their model's job, so the tests that gate
        // the model gate them too.
        for id in &runnable {
            if !unit::is_unit(project, id) {
                continue;
            }
            for m in dag.parents(id).into_iter().filter(|m| set.contains(m)) {
                let gates: Vec<String> = parents
                    .get(m)
                    .into_iter()
                    .flatten()
                    .filter(|t| {
                        project
                            .nodes
                            .get(*t)
                            .is_some_and(|n| n.resource_type == ResourceType::Test)
                    })
                    .cloned()
                    .collect();
                if let Some(v) = parents.get_mut(id) {
                    for t in gates {
                        if !v.contains(&t) {
                            v.push(t);
                        }
                    }
                }
            }
        }
    }
    (runnable, parents)
}

/// The materialization a node runs with.
fn materialization_name(node: &Node) -> String {
    match node.resource_type {
        ResourceType::Seed => "seed".to_owned(),
        ResourceType::Snapshot => "snapshot".to_owned(),
        ResourceType::Test => "test".to_owned(),
        ResourceType::UnitTest => "unit".to_owned(),
        _ => node.materialized().to_owned(),
    }
}

/// The relation names of the schemas a run writes to, for creating them up
/// front.
fn schemas_of(project: &Project, ids: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for id in ids {
        let Some(n) = project.nodes.get(id) else {
            continue;
        };
        let wanted = match n.resource_type {
            ResourceType::Model => !n.is_ephemeral(),
            ResourceType::Seed | ResourceType::Snapshot | ResourceType::UnitTest => true,
            ResourceType::Test => n
                .config
                .get("store_failures")
                .is_some_and(crate::value::truthy),
            _ => false,
        };
        let pair = (n.database.clone(), n.schema.clone());
        if wanted && !out.contains(&pair) {
            out.push(pair);
        }
    }
    out
}

/// Opens the target's warehouse. With `log`, statements go to
/// `XFORM_STATEMENT_LOG` when it is set.
fn open_shared(
    project: &Project,
    log: bool,
    full_refresh: bool,
) -> Result<Arc<live::Shared>, Diag> {
    let adapter = crate::adapter::for_kind(&project.target.kind).ok_or_else(|| {
        Diag::error(
            "XF0500",
            format!("unknown warehouse type `{}`", project.target.kind),
        )
    })?;
    let warehouse = adapter.open(&project.target).map_err(|e| {
        Diag::error("XF0501", e.message)
            .with_help("check the `path` or connection fields of the target in profiles.yml")
    })?;
    Ok(Arc::new(live::Shared {
        adapter,
        warehouse,
        cache: live::RelationCache::default(),
        log: if log {
            live::StatementLog::from_env()
        } else {
            None
        },
        full_refresh,
    }))
}

/// A new connection, outside any transaction.
fn connect(shared: &live::Shared) -> Result<Arc<Mutex<WorkerConn>>, Diag> {
    let conn = shared
        .warehouse
        .connect()
        .map_err(|e| Diag::error("XF0502", format!("cannot connect: {}", e.message)))?;
    Ok(Arc::new(Mutex::new(WorkerConn {
        conn,
        in_transaction: false,
        lost: false,
    })))
}

/// Calls a macro in `ctx` with `args`, as a node's render would.
fn call_macro(
    renderer: &Renderer,
    ctx: &Arc<NodeCtx>,
    name: &str,
    entry: &crate::jinja::MacroEntry,
    args: &[Value],
) -> Result<Value, minijinja::Error> {
    let tmpl = renderer.env.get_template(&entry.template)?;
    #[allow(deprecated)]
    let state = tmpl.eval_to_state(Value::from_dyn_object(Arc::clone(ctx)))?;
    let f = Arc::new(MacroFn {
        ctx: Arc::clone(ctx),
        name: name.to_owned(),
        unique_id: entry.unique_id.clone(),
        template: entry.template.clone(),
    });
    f.call(&state, args)
}

/// Runs the nodes. `on_event` is called on the coordinating thread as nodes
/// start and finish.
pub fn run(
    project: &Project,
    renderer: &Renderer,
    dag: &Dag,
    ids: &[String],
    opts: &Options,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<RunOutput, Diag> {
    let t0 = Instant::now();
    let shared = open_shared(project, true, opts.full_refresh)?;
    let deferred = match &opts.defer {
        Some(plan) => resolve_defer(&shared, plan)?,
        None => HashMap::new(),
    };
    let compile_opts = crate::compile::CompileOptions {
        empty: opts.empty,
        deferred,
        introspect: None,
    };
    let (compiler, eph_diags) =
        crate::compile::Compiler::with_options(project, renderer, ids, &compile_opts);
    if let Some(d) = eph_diags.0.into_iter().next() {
        return Err(d);
    }
    let (runnable, parents) = plan(project, dag, ids, opts.build);
    let runner = Runner {
        project,
        renderer,
        compiler: &compiler,
        shared: Arc::clone(&shared),
        event_time: (opts.event_time_start.clone(), opts.event_time_end.clone()),
        clone: opts.clone.as_ref(),
        ephemerals_written: Mutex::new(HashSet::new()),
    };
    // Schemas first, once, on one connection.
    {
        let mut conn = shared
            .warehouse
            .connect()
            .map_err(|e| Diag::error("XF0502", format!("cannot connect: {}", e.message)))?;
        for (db, schema) in schemas_of(project, &runnable) {
            shared
                .ensure_listed(conn.as_mut(), &db, &schema)
                .map_err(|e| {
                    Diag::error(
                        "XF0503",
                        format!("cannot list relations in `{db}.{schema}`: {}", e.message),
                    )
                })?;
            let sql = shared.adapter.create_schema_sql(&db, &schema);
            conn.execute(&sql, false).map_err(|e| {
                Diag::error(
                    "XF0504",
                    format!("cannot create schema `{db}.{schema}`: {}", e.message),
                )
            })?;
            shared.log(None, &sql);
        }
    }

    // `clone` runs no project hooks, as in dbt (its task is not a run).
    let hooks_run = opts.clone.is_none();
    let start_hooks = if hooks_run {
        run_project_hooks(project, renderer, &shared, false, &[])?
    } else {
        Vec::new()
    };

    let total = runnable.len();
    on_event(Event::Planned(total));
    let mut remaining: HashMap<&str, usize> = runnable
        .iter()
        .map(|id| (id.as_str(), parents.get(id).map_or(0, Vec::len)))
        .collect();
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for id in &runnable {
        for p in parents.get(id).into_iter().flatten() {
            children.entry(p.as_str()).or_default().push(id.as_str());
        }
    }
    let mut ready: VecDeque<&str> = runnable
        .iter()
        .filter(|id| remaining.get(id.as_str()) == Some(&0))
        .map(String::as_str)
        .collect();
    let threads = opts.threads.max(1).min(total.max(1));
    let (job_tx, job_rx) = mpsc::channel::<String>();
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (res_tx, res_rx) = mpsc::channel::<NodeResult>();
    let mut results: Vec<NodeResult> = Vec::with_capacity(total);
    let mut compiled = HashMap::new();
    let mut stopped = false;
    // --fail-fast: the node whose failure stopped the run.
    let mut fail_fast_by: Option<String> = None;

    std::thread::scope(|scope| -> Result<(), Diag> {
        for worker in 0..threads {
            let job_rx = Arc::clone(&job_rx);
            let res_tx = res_tx.clone();
            let runner = &runner;
            std::thread::Builder::new()
                .name(format!("xform-worker-{worker}"))
                .stack_size(16 << 20)
                .spawn_scoped(scope, move || runner.worker(worker, &job_rx, &res_tx))
                .map_err(|e| Diag::error("XF0900", format!("cannot start a worker thread: {e}")))?;
        }
        drop(res_tx);
        let mut running = 0usize;
        let mut done = 0usize;
        let mut skipped: HashSet<String> = HashSet::new();
        loop {
            // One job per idle worker: nothing waits in a queue, so a stop
            // (--fail-fast, Ctrl-C) starts nothing more.
            while running < threads && !stopped && !INTERRUPTED.load(Ordering::SeqCst) {
                let Some(id) = ready.pop_front() else { break };
                if skipped.contains(id) {
                    continue;
                }
                if job_tx.send(id.to_owned()).is_err() {
                    break;
                }
                on_event(Event::Started(id));
                running += 1;
            }
            if running == 0 {
                break;
            }
            let r = match res_rx.recv_timeout(std::time::Duration::from_millis(250)) {
                Ok(r) => r,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    on_event(Event::Tick);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            running -= 1;
            done += 1;
            let mut r = r;
            if let Some(first) = &fail_fast_by
                && r.status == Status::Error
            {
                // Cancelled because another node failed: skipped, as dbt says.
                r.status = Status::Skipped;
                r.message = Some(fail_fast_message(first));
                r.diag = None;
            }
            let failed = r.status.blocks();
            if matches!(r.status, Status::Error | Status::Fail)
                && opts.fail_fast
                && fail_fast_by.is_none()
            {
                stopped = true;
                fail_fast_by = Some(r.unique_id.clone());
                // Statements still running are cancelled; their transactions
                // roll back, so their relations stay as they were.
                cancel_running();
            }
            let id = r.unique_id.clone();
            if let Some(c) = &r.compiled_code {
                compiled.insert(id.clone(), c.clone());
            }
            on_event(Event::Finished(&r, done, total));
            results.push(r);
            // Children become ready, or are skipped with their descendants.
            let mut stack = vec![id];
            let mut first = true;
            while let Some(cur) = stack.pop() {
                for &c in children.get(cur.as_str()).into_iter().flatten() {
                    if failed {
                        if skipped.insert(c.to_owned()) {
                            let s = skipped_result(
                                project,
                                c,
                                fail_fast_by.as_deref().map(fail_fast_message),
                            );
                            done += 1;
                            on_event(Event::Finished(&s, done, total));
                            results.push(s);
                            stack.push(c.to_owned());
                        }
                    } else if first && let Some(n) = remaining.get_mut(c) {
                        *n -= 1;
                        if *n == 0 && !skipped.contains(c) {
                            ready.push_back(c);
                        }
                    }
                }
                first = false;
            }
        }
        drop(job_tx);
        // --fail-fast: what never started is skipped too, and says why.
        if let Some(first) = &fail_fast_by {
            let reported: HashSet<&str> = results.iter().map(|r| r.unique_id.as_str()).collect();
            let rest: Vec<&String> = runnable
                .iter()
                .filter(|id| !reported.contains(id.as_str()))
                .collect();
            for id in rest {
                let s = skipped_result(project, id, Some(fail_fast_message(first)));
                done += 1;
                on_event(Event::Finished(&s, done, total));
                results.push(s);
            }
        }
        Ok(())
    })?;
    let schemas: Vec<Value> = schemas_of(project, &runnable)
        .into_iter()
        .map(|(_, s)| Value::from(s))
        .collect();
    let database_schemas: Vec<Value> = schemas_of(project, &runnable)
        .into_iter()
        .map(|(d, s)| Value::from(vec![Value::from(d), Value::from(s)]))
        .collect();
    let end_hooks = if hooks_run {
        run_project_hooks(
            project,
            renderer,
            &shared,
            true,
            &[
                ("results", results_value(project, &results)),
                ("schemas", Value::from(schemas)),
                ("database_schemas", Value::from(database_schemas)),
            ],
        )
    } else {
        Ok(Vec::new())
    };
    if let Some(log) = &shared.log {
        log.flush();
    }
    let end_hooks = end_hooks?;
    Ok(RunOutput {
        results,
        hooks: (start_hooks, end_hooks),
        elapsed: t0.elapsed().as_secs_f64(),
        interrupted: INTERRUPTED.load(Ordering::SeqCst),
        compiled,
    })
}

/// Compiles one node against the live warehouse and returns the first
/// `limit` rows of its query (`xform show`).
pub fn preview(
    project: &Project,
    renderer: &Renderer,
    id: &str,
    limit: usize,
    defer: Option<&DeferPlan>,
) -> Result<crate::adapter::Table, Diag> {
    let node = project
        .nodes
        .get(id)
        .ok_or_else(|| Diag::error("XF0900", format!("`{id}` is not a node")))?;
    let shared = open_shared(project, false, false)?;
    let node = Arc::new(Node::clone(node));
    let nl = Arc::new(NodeLive::without_facts(
        &shared,
        &connect(&shared)?,
        Arc::clone(&node),
        "show",
    ));
    let live_dyn: Arc<dyn crate::jinja::live::Live> = nl.clone();
    let ids = [id.to_owned()];
    let compile_opts = crate::compile::CompileOptions {
        empty: false,
        deferred: match defer {
            Some(plan) => resolve_defer(&shared, plan)?,
            None => HashMap::new(),
        },
        introspect: None,
    };
    let (compiler, diags) =
        crate::compile::Compiler::with_options(project, renderer, &ids, &compile_opts);
    if let Some(d) = diags.0.into_iter().next() {
        return Err(d);
    }
    let (sql, _) =
        compiler.compile_one(renderer, project, &node, Some(Arc::clone(&live_dyn)), None)?;
    let query = format!(
        "select * from (\n{}\n) as xform_preview limit {limit}",
        sql.trim().trim_end_matches(';')
    );
    let result = crate::jinja::live::Live::execute(nl.as_ref(), &query, false, true);
    let _ = nl.finish(result.is_ok());
    result.map(|(_, t)| t).map_err(|m| {
        Diag::error(
            "XF0520",
            format!(
                "database error in `{}` ({})\n  {}",
                node.name,
                node.original_file_path,
                m.trim().replace('\n', "\n  ")
            ),
        )
        .with_help(format!("the query that failed:\n{query}"))
    })
}

/// Runs `on-run-start` or `on-run-end` hooks of every package (the root
/// project's last), rendered with `extra` names (`results`, `schemas`).
fn run_project_hooks(
    project: &Project,
    renderer: &Renderer,
    shared: &Arc<live::Shared>,
    end: bool,
    extra: &[(&'static str, Value)],
) -> Result<Vec<NodeResult>, Diag> {
    // (package, index within the package's list, hook)
    let mut hooks: Vec<(String, usize, String)> = Vec::new();
    for (name, pkg) in &project.packages {
        if pkg.is_root {
            continue;
        }
        let list = if end {
            &pkg.file.on_run_end
        } else {
            &pkg.file.on_run_start
        };
        hooks.extend(
            list.iter()
                .enumerate()
                .map(|(i, h)| (name.clone(), i, h.clone())),
        );
    }
    if let Some(root) = project.root_package() {
        let list = if end {
            &root.file.on_run_end
        } else {
            &root.file.on_run_start
        };
        hooks.extend(
            list.iter()
                .enumerate()
                .map(|(i, h)| (project.root.clone(), i, h.clone())),
        );
    }
    if hooks.is_empty() {
        return Ok(Vec::new());
    }
    let which = if end { "on-run-end" } else { "on-run-start" };
    let worker = connect(shared)?;
    let mut done = Vec::with_capacity(hooks.len());
    for (package, i, hook) in &hooks {
        let started = chrono::Utc::now();
        let t0 = Instant::now();
        let hook_name = format!("{package}-{which}-{i}");
        let mut node = Node::new(ResourceType::Analysis, package, &hook_name);
        node.raw_code.clone_from(hook);
        let nl = Arc::new(NodeLive::without_facts(
            shared,
            &worker,
            Arc::new(node),
            "hooks",
        ));
        let mut ctx = NodeCtx::new(Arc::clone(&renderer.shared), Phase::Compile, package);
        ctx.live = Some(nl.clone());
        for (k, v) in extra {
            ctx.locals.insert(k, v.clone());
        }
        let ctx = Arc::new(ctx);
        let hook_diag = |msg: String| {
            Diag::error(
                "XF0530",
                format!(
                    "{which} hook {} of package `{package}` failed: {msg}",
                    i + 1
                ),
            )
            .with_help(format!("the hook, from dbt_project.yml:\n{}", hook.trim()))
        };
        let sql = renderer
            .env
            .render_str(
                &crate::jinja::mutable::rewrite(hook),
                Value::from_dyn_object(Arc::clone(&ctx)),
            )
            .map_err(|e| hook_diag(crate::jinja::errors::plain_message(&e)))?;
        let compile_done = chrono::Utc::now();
        // dbt keeps each rendered hook where it keeps compiled SQL.
        let _ = write_file(
            &project
                .target_path()
                .join("compiled")
                .join(package)
                .join("dbt_project.yml/hooks")
                .join(format!("{hook_name}.sql")),
            &sql,
        );
        if !sql.trim().is_empty() {
            crate::jinja::live::Live::execute(nl.as_ref(), &sql, false, false)
                .map_err(hook_diag)?;
        }
        nl.finish(true).map_err(hook_diag)?;
        done.push(NodeResult {
            unique_id: format!("operation.{package}.{hook_name}"),
            status: Status::Success,
            message: Some(format!("{package}.{which}.{i} passed")),
            failures: Some(0),
            started,
            compile_done,
            completed: chrono::Utc::now(),
            execution_time: t0.elapsed().as_secs_f64(),
            thread: 0,
            compiled_code: Some(sql),
            relation_name: None,
            rows_affected: None,
            diag: None,
            run_path: None,
        });
    }
    Ok(done)
}

/// `run-operation`: calls a macro with keyword arguments on a live
/// connection and commits what it did. The result, once the macro is found,
/// is what dbt records in `run_results.json` (`macro.<package>.<name>`,
/// `success` or `error`), started at `started`.
pub fn run_operation(
    project: &Project,
    renderer: &Renderer,
    name: &str,
    args: &serde_json::Map<String, serde_json::Value>,
    started: chrono::DateTime<chrono::Utc>,
) -> (Option<NodeResult>, Result<(), Diag>) {
    let mut result: Option<NodeResult> = None;
    let outcome = call_operation(project, renderer, name, args, started, &mut result);
    if let Some(r) = &mut result {
        r.completed = chrono::Utc::now();
        r.execution_time = (r.completed - r.started).as_seconds_f64();
        if outcome.is_err() {
            r.status = Status::Error;
            r.failures = Some(1);
        }
    }
    (result, outcome)
}

fn call_operation(
    project: &Project,
    renderer: &Renderer,
    name: &str,
    args: &serde_json::Map<String, serde_json::Value>,
    started: chrono::DateTime<chrono::Utc>,
    result: &mut Option<NodeResult>,
) -> Result<(), Diag> {
    let shared = open_shared(project, true, false)?;
    let nl = Arc::new(NodeLive::without_facts(
        &shared,
        &connect(&shared)?,
        Arc::new(Node::new(ResourceType::Analysis, &project.root, name)),
        "run-operation",
    ));
    let (package, macro_name) = match name.split_once('.') {
        Some((p, m)) => (Some(p), m),
        None => (None, name),
    };
    let found = match package {
        Some(p) => renderer.shared.macro_in(p, macro_name).map(|e| (p, e)),
        None => renderer.shared.find_operation(macro_name),
    };
    let mut ctx = NodeCtx::new(
        Arc::clone(&renderer.shared),
        Phase::Compile,
        found.map_or(project.root.as_str(), |(p, _)| p),
    );
    ctx.live = Some(nl.clone());
    // dbt's operations resolve refs and sources and see the parsed project
    // in `graph` (dbt-codegen walks `graph.nodes` to find a model's parents).
    let (compiler, _) = crate::compile::Compiler::new(project, renderer, &[]);
    compiler.attach(&mut ctx);
    let ctx = Arc::new(ctx);
    let entry = found.map(|(_, e)| e).cloned().ok_or_else(|| {
        let names = renderer.shared.visible_macro_names(&project.root);
        let mut d = Diag::error("XF0540", format!("no macro named `{name}`"));
        if let Some(c) = crate::diagnostics::closest(macro_name, names.iter().copied()) {
            d = d.with_help(format!("did you mean `{c}`?"));
        }
        d
    })?;
    let now = chrono::Utc::now();
    *result = Some(NodeResult {
        unique_id: entry.unique_id.clone(),
        status: Status::Success,
        message: None,
        failures: Some(0),
        started,
        compile_done: now,
        completed: now,
        execution_time: 0.0,
        thread: 0,
        compiled_code: None,
        relation_name: None,
        rows_affected: None,
        diag: None,
        run_path: None,
    });
    let kwargs: minijinja::value::Kwargs = args
        .iter()
        .map(|(k, v)| (k.clone(), Value::from_serialize(v)))
        .collect();
    match call_macro(renderer, &ctx, macro_name, &entry, &[Value::from(kwargs)]) {
        Ok(_) => nl
            .finish(true)
            .map_err(|m| Diag::error("XF0510", format!("commit failed: {m}"))),
        Err(e) => {
            let _ = nl.finish(false);
            let d = errors::to_diag(&e, project, None);
            Err(nl
                .last_error
                .lock()
                .ok()
                .and_then(|le| le.clone())
                .map_or(d, |(msg, sql)| {
                    Diag::error(
                        "XF0520",
                        format!("database error in operation `{name}`\n  {}", msg.trim()),
                    )
                    .with_help(format!("the statement that failed:\n{}", sql.trim()))
                }))
        }
    }
}

/// The `results` of `on-run-end`: one entry per node, as dbt's
/// `RunResult` reads in Jinja.
fn results_value(project: &Project, results: &[NodeResult]) -> Value {
    let list: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let node = project.nodes.get(&r.unique_id);
            // The fields of dbt's `RunResult`, as `run_results.json` has
            // them, and the node.
            let mut v = crate::artifacts::run_results::result_json(r);
            v["node"] = node.map_or(serde_json::Value::Null, |n| {
                crate::artifacts::manifest::node_json(n)
            });
            v
        })
        .collect();
    Value::from_serialize(list)
}

struct Runner<'a> {
    project: &'a Project,
    renderer: &'a Renderer,
    compiler: &'a crate::compile::Compiler,
    shared: Arc<live::Shared>,
    /// `--event-time-start` and `--event-time-end`.
    event_time: (Option<String>, Option<String>),
    /// `clone`: the state's relation of each node.
    clone: Option<&'a HashMap<String, Relation>>,
    /// Ephemeral models whose compiled SQL this run has written.
    ephemerals_written: Mutex<HashSet<String>>,
}

impl Runner<'_> {
    fn worker(
        &self,
        worker: usize,
        jobs: &Mutex<mpsc::Receiver<String>>,
        results: &mpsc::Sender<NodeResult>,
    ) {
        let conn = match self.shared.warehouse.connect() {
            Ok(c) => c,
            Err(e) => {
                // Every job this worker takes fails with the connection error.
                loop {
                    let Ok(id) = jobs
                        .lock()
                        .map_err(|_| ())
                        .and_then(|rx| rx.recv().map_err(|_| ()))
                    else {
                        return;
                    };
                    let now = chrono::Utc::now();
                    let r = self.failed(
                        &id,
                        now,
                        worker,
                        Diag::error("XF0502", format!("cannot connect: {}", e.message)),
                    );
                    if results.send(r).is_err() {
                        return;
                    }
                }
            }
        };
        if let Ok(mut c) = CANCELLERS.lock() {
            c.push(Arc::from(conn.canceller()));
        }
        let wc = Arc::new(Mutex::new(WorkerConn {
            conn,
            in_transaction: false,
            lost: false,
        }));
        loop {
            let job = match jobs.lock() {
                Ok(rx) => rx.recv(),
                Err(_) => return,
            };
            let Ok(id) = job else { return };
            // A connection lost during an earlier node is replaced, so one
            // dropped connection fails only the node that was using it.
            if let Some(d) = self.reconnect_if_lost(&wc) {
                let r = self.failed(&id, chrono::Utc::now(), worker, d);
                if results.send(r).is_err() {
                    return;
                }
                continue;
            }
            let r = self.run_node(&id, worker, &wc);
            if results.send(r).is_err() {
                return;
            }
        }
    }

    /// Opens a new connection for a worker whose connection died.
    fn reconnect_if_lost(&self, wc: &Mutex<WorkerConn>) -> Option<Diag> {
        let mut w = wc.lock().ok()?;
        if !w.lost && !w.conn.is_lost() {
            return None;
        }
        match self.shared.warehouse.connect() {
            Ok(conn) => {
                if let Ok(mut c) = CANCELLERS.lock() {
                    c.push(Arc::from(conn.canceller()));
                }
                w.conn = conn;
                w.in_transaction = false;
                w.lost = false;
                None
            }
            Err(e) => Some(
                Diag::error(
                    "XF0521",
                    format!(
                        "the connection to the warehouse was lost and cannot be opened again: {}",
                        e.message
                    ),
                )
                .with_help("when the warehouse is back, `xform retry` runs the failed and skipped nodes again"),
            ),
        }
    }

    fn failed(
        &self,
        id: &str,
        started: chrono::DateTime<chrono::Utc>,
        worker: usize,
        d: Diag,
    ) -> NodeResult {
        let now = chrono::Utc::now();
        NodeResult {
            unique_id: id.to_owned(),
            status: Status::Error,
            message: Some(d.message.clone()),
            failures: None,
            started,
            compile_done: now,
            completed: now,
            execution_time: (now - started).as_seconds_f64(),
            thread: worker,
            compiled_code: None,
            relation_name: self
                .project
                .nodes
                .get(id)
                .and_then(|n| n.relation_name.clone()),
            rows_affected: None,
            diag: Some(d),
            run_path: None,
        }
    }

    fn run_node(&self, id: &str, worker: usize, wc: &Arc<Mutex<WorkerConn>>) -> NodeResult {
        if unit::is_unit(self.project, id) {
            return self.run_unit(id, worker, wc);
        }
        let is_microbatch = self.project.nodes.get(id).is_some_and(|n| {
            n.materialized() == "incremental"
                && n.config
                    .get("incremental_strategy")
                    .and_then(serde_json::Value::as_str)
                    == Some("microbatch")
        });
        if !is_microbatch {
            return self.run_attempt(id, worker, wc, None);
        }
        let started = chrono::Utc::now();
        let batches = match self.batches(id, wc) {
            Ok(b) => b,
            Err(d) => return self.failed(id, started, worker, d),
        };
        let n = batches.len();
        let mut last: Option<NodeResult> = None;
        let mut total_time = 0.0;
        for (i, b) in batches.into_iter().enumerate() {
            let mut r = self.run_attempt(id, worker, wc, Some(&(i, b.0, b.1)));
            total_time += r.execution_time;
            if r.status == Status::Error {
                r.message = Some(format!(
                    "batch {} of {n} failed: {}",
                    i + 1,
                    r.message.unwrap_or_default()
                ));
                if let Some(d) = r.diag.as_mut() {
                    d.message = format!("batch {} of {n}: {}", i + 1, d.message);
                }
                r.started = started;
                r.execution_time = total_time;
                return r;
            }
            last = Some(r);
        }
        let mut r = last.unwrap_or_else(|| {
            self.failed(
                id,
                started,
                worker,
                Diag::error("XF0550", "microbatch produced no batch"),
            )
        });
        r.started = started;
        r.execution_time = total_time;
        r.message = Some(format!("OK ({n} batch{})", if n == 1 { "" } else { "es" }));
        r
    }

    /// Writes `target/compiled/...` as dbt does when it compiles a node to
    /// run it: nothing for seeds (no SQL) and snapshots; a file per batch of
    /// a microbatch model (`models/m/m_2024-01-31.sql`); and the compiled SQL
    /// of every ephemeral model a node inlines (dbt builds no ephemeral
    /// model, but writes what it inlined), once per run.
    fn write_compiled(
        &self,
        node: &Node,
        sql: &str,
        ctes: &[(String, String)],
        batch: Option<&(usize, String, String)>,
    ) {
        let target = self.project.target_path();
        for (id, _) in ctes {
            let first = self
                .ephemerals_written
                .lock()
                .is_ok_and(|mut w| w.insert(id.clone()));
            if let (true, Some(e)) = (first, self.project.nodes.get(id))
                && let Some(esql) = self.compiler.ephemeral_sql(self.project, id)
            {
                let _ = write_file(&target.join(compiled_rel(e, "compiled")), &esql);
            }
        }
        if matches!(
            node.resource_type,
            ResourceType::Seed | ResourceType::Snapshot
        ) {
            return;
        }
        let mut rel = compiled_rel(node, "compiled");
        let size = node
            .config
            .get("batch_size")
            .and_then(serde_json::Value::as_str)
            .and_then(microbatch::BatchSize::parse);
        if let (Some((_, start, _)), Some(size)) = (batch, size)
            && let Some(start) = microbatch::parse_time(start)
            && let (Some(stem), Some(ext)) = (rel.file_stem(), rel.extension())
        {
            let (stem, ext) = (stem.to_string_lossy(), ext.to_string_lossy());
            let suffix = microbatch::format_batch_start(start, size);
            rel = rel
                .with_file_name(&*stem)
                .join(format!("{stem}_{suffix}.{ext}"));
        }
        let _ = write_file(&target.join(rel), sql);
    }

    /// The windows a microbatch model runs, as dbt computes them: from
    /// `--event-time-start`, or `begin` on a first run or full refresh, or
    /// `lookback` batches before now; to `--event-time-end` or now, rounded up
    /// to the batch size.
    fn batches(
        &self,
        id: &str,
        wc: &Arc<Mutex<WorkerConn>>,
    ) -> Result<Vec<(String, String)>, Diag> {
        let node = self
            .project
            .nodes
            .get(id)
            .ok_or_else(|| Diag::error("XF0900", format!("`{id}` is not a node")))?;
        let cfg = |k: &str| node.config.get(k).filter(|v| !v.is_null());
        let size_text = cfg("batch_size")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        let size = microbatch::BatchSize::parse(size_text).ok_or_else(|| {
            Diag::error(
                "XF0550",
                format!("microbatch model `{}` needs `batch_size` hour, day, month or year; found `{size_text}`", node.name),
            )
        })?;
        if cfg("event_time").is_none() {
            return Err(Diag::error(
                "XF0550",
                format!(
                    "microbatch model `{}` needs an `event_time` config (the column its rows are batched on)",
                    node.name
                ),
            ));
        }
        let parse = |what: &str, s: &str| {
            microbatch::parse_time(s).ok_or_else(|| {
                Diag::error("XF0551", format!("{what} `{s}` is not a date or timestamp (e.g. 2024-01-31 or 2024-01-31 12:00:00)"))
            })
        };
        let exists = {
            let rel = crate::compile::relation_for(self.project, node);
            let mut w = wc
                .lock()
                .map_err(|_| Diag::error("XF0900", "worker connection poisoned"))?;
            self.shared
                .ensure_listed(w.conn.as_mut(), &node.database, &node.schema)
                .map_err(|e| Diag::error("XF0503", e.message))?;
            drop(w);
            self.shared.contains(&rel)
        };
        let full_refresh = match node.config.get("full_refresh") {
            Some(serde_json::Value::Bool(b)) => *b,
            _ => self.shared.full_refresh,
        };
        let end = match &self.event_time.1 {
            Some(s) => parse("--event-time-end", s)?,
            None => chrono::Utc::now().naive_utc(),
        };
        let end = size.ceil(end);
        let start = if let Some(s) = &self.event_time.0 {
            size.truncate(parse("--event-time-start", s)?)
        } else if !exists || full_refresh {
            let begin = cfg("begin")
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .ok_or_else(|| {
                    Diag::error(
                        "XF0550",
                        format!(
                            "microbatch model `{}` needs a `begin` config for its first run",
                            node.name
                        ),
                    )
                })?;
            size.truncate(parse("`begin`", &begin)?)
        } else {
            let lookback = cfg("lookback")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(1);
            // `end` is on a batch boundary, so the window reaches one batch further back.
            size.offset(end, -(lookback + 1))
        };
        Ok(microbatch::windows(size, start, end)
            .into_iter()
            .map(|(a, b)| (microbatch::format(a), microbatch::format(b)))
            .collect())
    }

    fn run_attempt(
        &self,
        id: &str,
        worker: usize,
        wc: &Arc<Mutex<WorkerConn>>,
        batch: Option<&(usize, String, String)>,
    ) -> NodeResult {
        let started = chrono::Utc::now();
        let t0 = Instant::now();
        let Some(node) = self.project.nodes.get(id) else {
            return self.failed(
                id,
                started,
                worker,
                Diag::error("XF0900", format!("`{id}` is not a node")),
            );
        };
        let mut node = Node::clone(node);
        if let Some((i, _, _)) = batch
            && *i > 0
        {
            // Later batches add to what the first one built.
            node.config
                .insert("full_refresh".into(), serde_json::Value::Bool(false));
        }
        let info_node = Arc::new(node.clone());
        let nl = Arc::new(NodeLive {
            shared: Arc::clone(&self.shared),
            worker: Arc::clone(wc),
            node: Arc::clone(&info_node),
            last_error: Mutex::new(None),
            info: Box::new(info_fn(Arc::clone(&info_node), Arc::clone(&self.shared))),
        });
        let live_dyn: Arc<dyn crate::jinja::live::Live> = nl.clone();
        // Compile with the warehouse at hand; a clone reads the state's
        // relation as it is.
        let compiled = match self.clone {
            Some(rels) => Ok((
                rels.get(id)
                    .map(|r| format!("select * from {}", r.render()))
                    .unwrap_or_default(),
                Vec::new(),
            )),
            None => self.compiler.compile_one(
                self.renderer,
                self.project,
                &node,
                Some(Arc::clone(&live_dyn)),
                batch.map(|(_, s, e)| (s.clone(), e.clone())),
            ),
        };
        let (sql, ctes) = match compiled {
            Ok(v) => v,
            Err(d) => {
                let _ = nl.finish(false);
                return self.failed(
                    id,
                    started,
                    worker,
                    self.db_diag(&node, &nl, None).unwrap_or(d),
                );
            }
        };
        let compile_done = chrono::Utc::now();
        node.compiled_code = Some(sql.clone());
        self.compiler.record_called_macros(&mut node);
        self.write_compiled(&node, &sql, &ctes, batch);
        node.extra_ctes = ctes;

        let mat = if self.clone.is_some() {
            "clone".to_owned()
        } else {
            materialization_name(&node)
        };
        let outcome = self.materialize(&node, &mat, &sql, &live_dyn, batch);
        let (result_value, main_sql, statement_results) = match outcome {
            Ok(v) => v,
            Err((e, main_sql)) => {
                let _ = nl.finish(false);
                let run_path = main_sql.as_ref().map(|s| {
                    let p = self.project.target_path().join(compiled_rel(&node, "run"));
                    let _ = write_file(&p, s);
                    p
                });
                let d = self
                    .db_diag(&node, &nl, run_path.as_deref())
                    .unwrap_or_else(|| {
                        user_facing(errors::to_diag(&e, self.project, Some(&node)), &node, &mat)
                    });
                let mut r = self.failed(id, started, worker, d);
                r.compiled_code = Some(sql);
                r.run_path = run_path;
                r.compile_done = compile_done;
                r.execution_time = t0.elapsed().as_secs_f64();
                return r;
            }
        };
        if let Err(m) = nl.finish(true) {
            let mut r = self.failed(
                id,
                started,
                worker,
                Diag::error("XF0510", format!("commit failed: {m}")),
            );
            r.compiled_code = Some(sql);
            return r;
        }
        let run_path = main_sql.as_ref().map(|s| {
            let p = self.project.target_path().join(compiled_rel(&node, "run"));
            let _ = write_file(&p, s);
            p
        });
        // Relations the materialization returns exist now.
        if let Ok(rels) = result_value.get_attr("relations")
            && let Ok(iter) = rels.try_iter()
        {
            for r in iter {
                if let Some(rel) = crate::jinja::live::as_relation(&r) {
                    live_dyn.cache_added(&rel);
                }
            }
        }
        let mut status = Status::Success;
        let mut failures = None;
        let mut message = Some("OK".to_owned());
        let mut rows_affected = None;
        if node.resource_type == ResourceType::Test {
            let row = statement_results
                .get("main")
                .and_then(|v| v.get_attr("data").ok())
                .and_then(|d| d.get_item_by_index(0).ok())
                .filter(|r| !r.is_undefined());
            let (n, warn, error) = match row {
                Some(r) => (
                    r.get_item_by_index(0)
                        .ok()
                        .and_then(|v| i64::try_from(v).ok())
                        .unwrap_or(0),
                    r.get_item_by_index(1).ok().is_some_and(|v| v.is_true()),
                    r.get_item_by_index(2).ok().is_some_and(|v| v.is_true()),
                ),
                None => (0, false, false),
            };
            let severity = node
                .config
                .get("severity")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("ERROR")
                .to_ascii_uppercase();
            // As dbt's `build_test_run_result`: an error-severity test that
            // meets `error_if` fails; otherwise one that meets `warn_if`
            // warns; otherwise it passes, and reports no failures.
            status = if error && severity == "ERROR" {
                Status::Fail
            } else if warn {
                Status::Warn
            } else {
                Status::Pass
            };
            failures = Some(if status == Status::Pass { 0 } else { n });
            message = match status {
                Status::Pass => None,
                _ => Some(format!(
                    "Got {n} result{}, configured to {} if {}",
                    if n == 1 { "" } else { "s" },
                    if status == Status::Fail {
                        "fail"
                    } else {
                        "warn"
                    },
                    node.config
                        .get(if status == Status::Fail {
                            "error_if"
                        } else {
                            "warn_if"
                        })
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("!= 0")
                )),
            };
        } else if self.clone.is_some() {
            // dbt's words: the clone ran a statement, or found nothing to do.
            if !statement_results.contains_key("main") {
                message = Some("No-op".to_owned());
            }
        } else if node.resource_type == ResourceType::Seed {
            rows_affected = result_value
                .get_attr("rows")
                .ok()
                .and_then(|v| i64::try_from(v).ok());
            message = Some(format!("INSERT {}", rows_affected.unwrap_or(0)));
        }
        let completed = chrono::Utc::now();
        NodeResult {
            unique_id: id.to_owned(),
            status,
            message,
            failures,
            started,
            compile_done,
            completed,
            execution_time: t0.elapsed().as_secs_f64(),
            thread: worker,
            compiled_code: Some(sql),
            relation_name: node.relation_name.clone(),
            rows_affected,
            diag: None,
            run_path,
        }
    }

    /// A diagnostic for the last database error of a node, if there was one.
    fn db_diag(
        &self,
        node: &Node,
        nl: &NodeLive,
        run_path: Option<&std::path::Path>,
    ) -> Option<Diag> {
        let (msg, sql) = nl.last_error.lock().ok()?.clone()?;
        let what = match node.resource_type {
            ResourceType::Test => "test",
            ResourceType::UnitTest => "unit test",
            ResourceType::Seed => "seed",
            ResourceType::Snapshot => "snapshot",
            _ => "model",
        };
        if nl.worker.lock().is_ok_and(|w| w.lost) {
            // Not the SQL's fault: say so, and what is safe to do next.
            return Some(
                Diag::error(
                    "XF0521",
                    format!(
                        "lost the connection to the warehouse while building {what} `{}` ({})\n  {}",
                        node.name,
                        node.original_file_path,
                        msg.trim()
                    ),
                )
                .with_help(
                    "its transaction was rolled back by the server, so its relation is as it was before; the rest of the run went on with a new connection. `xform retry` runs the failed and skipped nodes again",
                ),
            );
        }
        let mut d = Diag::error(
            "XF0520",
            format!(
                "database error in {what} `{}` ({})\n  {}",
                node.name,
                node.original_file_path,
                msg.trim().replace('\n', "\n  ")
            ),
        );
        let line = msg.lines().find_map(|l| {
            l.trim()
                .strip_prefix("LINE ")
                .and_then(|r| r.split(':').next())
                .and_then(|n| n.trim().parse::<usize>().ok())
        });
        let shown = run_path.map_or_else(
            || "the statement".to_owned(),
            |p| self.project.display_path(p),
        );
        let is_main = run_path.is_some_and(|p| std::fs::read_to_string(p).is_ok_and(|s| s == sql));
        d = d.with_help(match (line, is_main) {
            (Some(l), true) => format!("the SQL that failed is in {shown}:{l}"),
            (_, true) => format!("the SQL that failed is in {shown}"),
            _ => format!("the statement that failed:\n{}", sql.trim()),
        });
        Some(d)
    }

    /// Renders the node's materialization macro. Returns its return value,
    /// the SQL of its `main` statement, and its statement results.
    #[allow(clippy::type_complexity)]
    fn materialize(
        &self,
        node: &Node,
        mat: &str,
        sql: &str,
        live: &Arc<dyn crate::jinja::live::Live>,
        batch: Option<&(usize, String, String)>,
    ) -> Result<(Value, Option<String>, HashMap<String, Value>), (minijinja::Error, Option<String>)>
    {
        let shared = &self.renderer.shared;
        let kind = shared.adapter.kind();
        let mut prefixes: Vec<&str> = shared.adapter.dispatch_prefixes().to_vec();
        prefixes.push("default");
        let mut packages: Vec<&str> = vec![shared.root.as_str()];
        packages.extend(
            shared
                .macros
                .keys()
                .map(String::as_str)
                .filter(|p| *p != shared.root && *p != "dbt"),
        );
        packages.push("dbt");
        let entry = prefixes.iter().find_map(|prefix| {
            let name = format!("materialization_{mat}_{prefix}");
            packages
                .iter()
                .find_map(|p| shared.macro_in(p, &name).map(|e| (name.clone(), e.clone())))
        });
        let Some((name, entry)) = entry else {
            return Err((
                minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!(
                        "no materialization `{mat}` for `{kind}`; built in: view, table, incremental, ephemeral, seed, snapshot, test"
                    ),
                ),
                None,
            ));
        };
        let mut ctx = NodeCtx::new(Arc::clone(shared), Phase::Compile, &node.package_name);
        let this = crate::compile::relation_for(self.project, node);
        ctx.this = Some(this);
        let mut model = crate::artifacts::manifest::node_json(node);
        if let (Some((i, start, end)), Some(m)) = (batch, model.as_object_mut()) {
            m.insert(
                "batch".into(),
                serde_json::json!({"id": i, "event_time_start": start, "event_time_end": end}),
            );
        }
        ctx.model = Value::from_serialize(model);
        ctx.config.clone_from(&node.config);
        ctx.live = Some(Arc::clone(live));
        ctx.locals.insert("sql", Value::from(sql));
        ctx.locals.insert("compiled_code", Value::from(sql));
        ctx.locals.insert("pre_hooks", hooks(node, "pre-hook"));
        ctx.locals.insert("post_hooks", hooks(node, "post-hook"));
        ctx.locals
            .insert("database", Value::from(node.database.as_str()));
        ctx.locals
            .insert("schema", Value::from(node.schema.as_str()));
        if let Some(rels) = self.clone {
            ctx.locals.insert(
                "defer_relation",
                rels.get(&node.unique_id)
                    .map_or(Value::from(()), |r| r.clone().into_value()),
            );
        }
        let ctx = Arc::new(ctx);
        let result = call_macro(self.renderer, &ctx, &name, &entry, &[]);
        let main_sql = ctx.main_sql.lock().ok().and_then(|m| m.clone());
        match result {
            Ok(v) => {
                let results = ctx.results.0.lock().map(|r| r.clone()).unwrap_or_default();
                Ok((v, main_sql, results))
            }
            Err(e) => Err((e, main_sql)),
        }
    }
}

/// An error raised inside a built-in materialization is about the user's
/// node: say which one, and keep only the frames in the user's files.
fn user_facing(d: Diag, node: &Node, mat: &str) -> Diag {
    let internal = |d: &Diag| {
        d.location()
            .is_some_and(|(f, _, _)| f.starts_with("<xform>"))
    };
    if !internal(&d) {
        return d;
    }
    let frames: Vec<Diag> = d.related.iter().filter(|r| !internal(r)).cloned().collect();
    let what = match node.resource_type {
        ResourceType::Test => "test",
        ResourceType::Seed => "seed",
        ResourceType::Snapshot => "snapshot",
        _ => "model",
    };
    let mut out = Diag::error(
        d.code,
        format!(
            "{what} `{}` ({}): {}",
            node.name, node.original_file_path, d.message
        ),
    );
    out.help = Some(
        d.help
            .clone()
            .unwrap_or_else(|| format!("raised by the `{mat}` materialization")),
    );
    out.related = frames;
    out
}

/// dbt's hook list for a materialization: `{sql, transaction, index}`.
fn hooks(node: &Node, key: &str) -> Value {
    let list = node
        .config
        .get(key)
        .map(crate::project::config::hook_list)
        .unwrap_or_default();
    let out: Vec<Value> = list
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            let (sql, txn) = match h {
                serde_json::Value::Object(o) => (
                    o.get("sql")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    o.get("transaction")
                        .and_then(serde_json::Value::as_bool)
                        .unwrap_or(true),
                ),
                serde_json::Value::String(s) => (s, true),
                other => (other.to_string(), true),
            };
            Value::from_serialize(serde_json::json!({"sql": sql, "transaction": txn, "index": i}))
        })
        .collect();
    Value::from(out)
}

/// `target/compiled/...` or `target/run/...` for a node.
fn compiled_rel(node: &Node, kind: &str) -> PathBuf {
    let rel = crate::artifacts::manifest::compiled_rel_path(node);
    let rel = rel.strip_prefix("target/compiled/").unwrap_or(&rel);
    PathBuf::from(kind).join(rel)
}

fn write_file(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(path, text)
}

/// Seed columns with their SQL types, and the row count.
type SeedColumns = (Vec<(String, String)>, usize);

/// `adapter.xform(key, ...)`: facts the built-in materializations need that
/// only Rust knows (seed file types, contract columns).
fn info_fn(
    node: Arc<Node>,
    shared: Arc<live::Shared>,
) -> impl Fn(&str, &[Value]) -> Result<Value, String> + Send + Sync + use<> {
    let seed_cache: Mutex<Option<SeedColumns>> = Mutex::new(None);
    move |key: &str, args: &[Value]| -> Result<Value, String> {
        let seed_columns = || -> Result<SeedColumns, String> {
            if let Ok(c) = seed_cache.lock()
                && let Some(v) = c.as_ref()
            {
                return Ok(v.clone());
            }
            let delim = node
                .config
                .get("delimiter")
                .and_then(serde_json::Value::as_str)
                .and_then(|s| s.bytes().next())
                .unwrap_or(b',');
            let file = seed::infer(&node.abs_path, delim)?;
            let overrides = node
                .config
                .get("column_types")
                .and_then(serde_json::Value::as_object);
            let cols: Vec<(String, String)> = file
                .columns
                .iter()
                .map(|(name, kind)| {
                    let t = overrides
                        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                        .and_then(|(_, v)| v.as_str())
                        .map_or_else(|| shared.adapter.seed_type(*kind).to_owned(), str::to_owned);
                    (name.clone(), t)
                })
                .collect();
            if let Ok(mut c) = seed_cache.lock() {
                *c = Some((cols.clone(), file.rows));
            }
            Ok((cols, file.rows))
        };
        match key {
            "seed" => {
                let (cols, rows) = seed_columns()?;
                let quote = node
                    .config
                    .get("quote_columns")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(true);
                let columns: Vec<serde_json::Value> = cols
                    .iter()
                    .map(|(n, t)| {
                        let quoted = if quote {
                            shared.adapter.quote(n)
                        } else {
                            n.clone()
                        };
                        serde_json::json!({"name": n, "type": t, "quoted": quoted})
                    })
                    .collect();
                Ok(Value::from_serialize(
                    serde_json::json!({"columns": columns, "rows": rows}),
                ))
            }
            "seed_load_sql" => {
                let (cols, _) = seed_columns()?;
                let rel = args
                    .first()
                    .and_then(crate::jinja::live::as_relation)
                    .ok_or("seed_load_sql needs the target relation")?;
                let delim = node
                    .config
                    .get("delimiter")
                    .and_then(serde_json::Value::as_str)
                    .and_then(|s| s.chars().next())
                    .unwrap_or(',');
                let load = crate::adapter::CsvLoad {
                    relation: &Relation::render(&rel),
                    path: &node.abs_path,
                    delimiter: delim,
                    columns: &cols,
                    fast: node
                        .config
                        .get("fast")
                        .and_then(serde_json::Value::as_bool)
                        .unwrap_or(true),
                };
                // None: the warehouse streams the file instead (`seed_copy`).
                Ok(shared
                    .warehouse
                    .csv_load_sql(&load)
                    .map_or_else(|| Value::from(()), Value::from))
            }
            "seed_csv" => {
                let delim = node
                    .config
                    .get("delimiter")
                    .and_then(serde_json::Value::as_str)
                    .and_then(|s| s.chars().next())
                    .unwrap_or(',');
                Ok(Value::from_serialize(serde_json::json!({
                    "path": node.abs_path,
                    "delimiter": delim.to_string(),
                })))
            }
            "quote_string" => {
                let s = args.first().map(ToString::to_string).unwrap_or_default();
                Ok(Value::from(crate::adapter::quote_literal(&s)))
            }
            "contract_columns" => {
                use crate::project::constraints::render_column;
                let cols: Vec<serde_json::Value> = node
                    .columns
                    .values()
                    .map(|c| {
                        let name = if c.quote == Some(true) { shared.adapter.quote(&c.name) } else { c.name.clone() };
                        let constraints: Vec<String> =
                            c.constraints.iter().filter_map(render_column).collect();
                        serde_json::json!({"name": name, "data_type": c.data_type, "constraints": constraints})
                    })
                    .collect();
                Ok(Value::from_serialize(cols))
            }
            "contract_model_constraints" => {
                let rendered: Vec<String> = node
                    .constraints
                    .iter()
                    .filter_map(crate::project::constraints::render_model)
                    .collect();
                Ok(Value::from_serialize(rendered))
            }
            other => Err(format!(
                "`adapter.xform('{other}')` is not a known xform fact"
            )),
        }
    }
}
