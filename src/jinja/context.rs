//! The per-node Jinja context: `ref`, `source`, `config`, `var`, `this`,
//! `model`, macros by dbt's search order, and the `return()` mechanism.

use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};
use serde_json::Map;

use super::Shared;
use super::relation::Relation;
use crate::node::RefCall;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// dbt's parse: `execute` is false, `ref`/`source`/`config` are recorded.
    Parse,
    /// Rendering SQL: `execute` is true and refs resolve to relations.
    Compile,
}

/// What the parse phase learned from rendering a node.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub refs: Vec<RefCall>,
    pub sources: Vec<[String; 2]>,
    pub config: Map<String, serde_json::Value>,
    /// Macros called directly from the node's own template.
    pub macros: Vec<String>,
    /// Ephemeral models referenced while compiling, in order of first use.
    pub ephemerals: Vec<String>,
    /// `var()` values read while parsing, in order of first read.
    pub vars: Vec<(String, serde_json::Value)>,
}

/// How a `ref()` or `source()` resolves while compiling.
pub trait Resolver: Send + Sync {
    /// The relation for `ref(...)`, or an error message.
    fn resolve_ref(&self, from_package: &str, call: &RefCall) -> Result<Resolved, String>;
    fn resolve_source(&self, source: &str, table: &str) -> Result<Relation, String>;
    /// A source table's `event_time` config.
    fn source_event_time(&self, _source: &str, _table: &str) -> Option<String> {
        None
    }
}

pub struct Resolved {
    pub unique_id: String,
    pub relation: Relation,
    pub ephemeral: bool,
    /// The resource's `event_time` config, for microbatch filtering.
    pub event_time: Option<String>,
}

/// A microbatch window: refs and sources with an `event_time` read only
/// rows in `[start, end)`, rendered as dbt renders them.
fn event_time_filtered(
    rel: Relation,
    event_time: Option<&str>,
    batch: Option<&(String, String)>,
    alias: bool,
) -> Relation {
    let (Some(et), Some((start, end))) = (event_time, batch) else {
        return rel;
    };
    if rel.cte_name.is_some() {
        return rel;
    }
    let ident = rel.identifier.clone().unwrap_or_default();
    let mut out = rel.clone();
    let alias = if alias {
        format!(" _dbt_et_filter_subq_{ident}")
    } else {
        String::new()
    };
    out.cte_name = Some(format!(
        "(select * from {} where {et} >= '{start}' and {et} < '{end}'){alias}",
        rel.render()
    ));
    out
}

/// Everything a node's render needs beyond the project-wide [`Shared`].
pub struct NodeCtx {
    pub shared: Arc<Shared>,
    pub phase: Phase,
    pub package: String,
    /// The node's `this` relation.
    pub this: Option<Relation>,
    /// The `model` variable: the node as dbt's manifest describes it.
    pub model: Value,
    /// The node's final config, readable through `config.get` while compiling.
    pub config: crate::node::NodeConfig,
    pub resolver: Option<Arc<dyn Resolver>>,
    /// The `graph` variable while compiling (built only when a template
    /// mentions it).
    pub graph: Option<Value>,
    pub recorded: Mutex<Recorded>,
    /// Depth of macro calls, to record only direct calls.
    pub depth: Mutex<usize>,
    /// The warehouse, in the run phase only.
    pub live: Option<Arc<dyn super::live::Live>>,
    /// Results of `statement` blocks, by name.
    pub results: super::live::Results,
    /// Extra names of a materialization's context (`sql`, `pre_hooks`, ...).
    pub locals: std::collections::HashMap<&'static str, Value>,
    /// The SQL of the `main` statement, as run.
    pub main_sql: Mutex<Option<String>>,
    /// The microbatch window being compiled, as dbt prints the bounds.
    pub batch: Option<(String, String)>,
    /// A unit test's `overrides:` of macros, vars and environment variables.
    pub overrides: Option<Arc<crate::node::UnitOverrides>>,
}

impl fmt::Debug for NodeCtx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeCtx")
            .field("package", &self.package)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl NodeCtx {
    pub fn new(shared: Arc<Shared>, phase: Phase, package: &str) -> Self {
        Self {
            shared,
            phase,
            package: package.to_owned(),
            this: None,
            model: Value::from(()),
            config: crate::node::NodeConfig::default(),
            resolver: None,
            graph: None,
            recorded: Mutex::new(Recorded::default()),
            depth: Mutex::new(0),
            live: None,
            results: super::live::Results::default(),
            locals: std::collections::HashMap::new(),
            main_sql: Mutex::new(None),
            batch: None,
            overrides: None,
        }
    }

    pub fn take_recorded(&self) -> Recorded {
        self.recorded
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default()
    }

    fn record(&self, f: impl FnOnce(&mut Recorded)) {
        if let Ok(mut r) = self.recorded.lock() {
            f(&mut r);
        }
    }

    fn depth(&self) -> usize {
        self.depth.lock().map_or(0, |d| *d)
    }

    /// `should_full_refresh()`: the model's `full_refresh` config, else
    /// `--full-refresh`.
    pub fn should_full_refresh(&self) -> bool {
        match self.config.get("full_refresh") {
            Some(serde_json::Value::Bool(b)) => *b,
            _ => self.live.as_ref().is_some_and(|l| l.full_refresh()),
        }
    }

    /// `is_incremental()`: the model is incremental, its table exists, and
    /// this is not a full refresh.
    fn is_incremental(&self) -> Result<bool, Error> {
        let (Some(live), Some(this)) = (&self.live, &self.this) else {
            return Ok(false);
        };
        let materialized = self
            .config
            .get("materialized")
            .and_then(serde_json::Value::as_str);
        if materialized != Some("incremental") || self.should_full_refresh() {
            return Ok(false);
        }
        let existing = live
            .get_relation(
                this.database.as_deref().unwrap_or_default(),
                this.schema.as_deref().unwrap_or_default(),
                this.identifier.as_deref().unwrap_or_default(),
            )
            .map_err(|m| err(ErrorKind::InvalidOperation, m))?;
        Ok(existing.is_some_and(|r| r.kind.as_deref() == Some("table")))
    }
}

fn err(kind: ErrorKind, msg: impl Into<String>) -> Error {
    Error::new(kind, msg.into())
}

fn split_kwargs(args: &[Value]) -> (&[Value], Option<Kwargs>) {
    match args.last().and_then(crate::jinja::kwargs_of) {
        Some(k) => (&args[..args.len() - 1], Some(k)),
        None => (args, None),
    }
}

/// A function of the node context, callable from Jinja.
#[derive(Debug)]
struct CtxFn {
    ctx: Arc<NodeCtx>,
    name: &'static str,
}

impl Object for CtxFn {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        match self.name {
            "ref" => do_ref(&self.ctx, args),
            "source" => do_source(&self.ctx, args),
            "config" => do_config(&self.ctx, args),
            "var" => do_var(&self.ctx, args),
            "is_incremental" | "should_full_refresh" => {
                // dbt's are macros; record them as the node's dependency.
                if self.ctx.depth() == 0 {
                    let uid = format!("macro.dbt.{}", self.name);
                    self.ctx.record(|r| {
                        if !r.macros.contains(&uid) {
                            r.macros.push(uid);
                        }
                    });
                }
                if self.name == "is_incremental" {
                    self.ctx.is_incremental().map(Value::from)
                } else {
                    Ok(Value::from(self.ctx.should_full_refresh()))
                }
            }
            "doc" => do_doc(&self.ctx, args),
            "statement" => do_statement(&self.ctx, state, args),
            "render" => {
                let text = args.first().map(ToString::to_string).unwrap_or_default();
                let root = Value::from_dyn_object(Arc::clone(&self.ctx));
                state.env().render_str(&text, root).map(Value::from)
            }
            "load_result" => {
                let name = args.first().and_then(Value::as_str).unwrap_or_default();
                Ok(self
                    .ctx
                    .results
                    .0
                    .lock()
                    .ok()
                    .and_then(|r| r.get(name).cloned())
                    .unwrap_or(Value::from(())))
            }
            "store_result" | "store_raw_result" => {
                let (pos, kwargs) = split_kwargs(args);
                let get = |i: usize, k: &str| {
                    pos.get(i)
                        .cloned()
                        .or_else(|| kwargs.as_ref().and_then(|kw| kw.get::<Value>(k).ok()))
                        .unwrap_or(Value::from(()))
                };
                let name = get(0, "name").to_string();
                let response = get(1, "response");
                let table = get(2, "agate_table");
                let value = Value::from_iter([
                    ("response", response),
                    (
                        "data",
                        table
                            .get_attr("rows")
                            .unwrap_or(Value::from(Vec::<Value>::new())),
                    ),
                    ("table", table),
                ]);
                if let Ok(mut r) = self.ctx.results.0.lock() {
                    r.insert(name, value);
                }
                Ok(Value::from(""))
            }
            _ => Err(err(ErrorKind::UnknownFunction, self.name)),
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if self.name != "config" {
            return Err(err(
                ErrorKind::UnknownMethod,
                format!("`{}` has no method `{method}`", self.name),
            ));
        }
        let (pos, kwargs) = split_kwargs(args);
        let key = pos
            .first()
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| kwargs.as_ref().and_then(|k| k.get::<String>("name").ok()))
            .unwrap_or_default();
        let default = pos
            .get(1)
            .cloned()
            .or_else(|| kwargs.as_ref().and_then(|k| k.get::<Value>("default").ok()));
        // While parsing, `config()` calls seen so far count too.
        let found = self
            .ctx
            .config
            .get(&key)
            .filter(|v| !v.is_null())
            .cloned()
            .or_else(|| {
                self.ctx
                    .recorded
                    .lock()
                    .ok()
                    .and_then(|r| r.config.get(&key).cloned())
            })
            .filter(|v| !v.is_null());
        match method {
            "get" => Ok(found
                .map(Value::from_serialize)
                .or(default)
                .unwrap_or(Value::from(()))),
            "require" => match found {
                Some(v) => Ok(Value::from_serialize(v)),
                None if self.ctx.phase == Phase::Parse => Ok(Value::from(())),
                None => Err(err(
                    ErrorKind::InvalidOperation,
                    format!("config `{key}` is required but not set"),
                )),
            },
            "set" | "update" => Ok(Value::from("")),
            "persist_relation_docs" | "persist_column_docs" => {
                let pd = self.ctx.config.get("persist_docs");
                let k = if method == "persist_relation_docs" {
                    "relation"
                } else {
                    "columns"
                };
                Ok(Value::from(
                    pd.and_then(|p| p.get(k)).is_some_and(crate::value::truthy),
                ))
            }
            _ => Err(err(
                ErrorKind::UnknownMethod,
                format!("`config` has no method `{method}`"),
            )),
        }
    }
}

/// `{% call statement(name, fetch_result=False, auto_begin=True) %}`: runs
/// the block's SQL on the live warehouse and keeps the result for
/// `load_result(name)`. Without a warehouse it does nothing, as in dbt's
/// parse and compile.
fn do_statement(ctx: &NodeCtx, state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    let (pos, kwargs) = split_kwargs(args);
    let get = |i: usize, k: &str| -> Option<Value> {
        pos.get(i)
            .cloned()
            .or_else(|| {
                kwargs
                    .as_ref()
                    .and_then(|kw| kw.get::<Option<Value>>(k).ok().flatten())
            })
            .filter(|v| !v.is_none() && !v.is_undefined())
    };
    let name = get(0, "name").map(|v| v.to_string());
    let fetch = get(1, "fetch_result").is_some_and(|v| v.is_true());
    let auto_begin = get(2, "auto_begin").is_none_or(|v| v.is_true());
    let caller = kwargs
        .as_ref()
        .and_then(|kw| kw.get::<Option<Value>>("caller").ok().flatten());
    let sql = match caller {
        Some(c) => c.call(state, &[])?.to_string(),
        None => String::new(),
    };
    if let Some(kw) = &kwargs {
        // Every keyword is consumed: minijinja rejects unused ones.
        for k in kw.args() {
            let _ = kw.peek::<Value>(k);
        }
        let _ = kw.assert_all_used();
    }
    let Some(live) = &ctx.live else {
        return Ok(Value::from(""));
    };
    if name.as_deref() == Some("main")
        && let Ok(mut m) = ctx.main_sql.lock()
    {
        *m = Some(sql.clone());
    }
    let (response, table) = live
        .execute(&sql, auto_begin, fetch)
        .map_err(|m| err(ErrorKind::InvalidOperation, m))?;
    if let Some(name) = name {
        let value = super::live::result_value(&response, &table);
        if let Ok(mut r) = ctx.results.0.lock() {
            r.insert(name, value);
        }
    }
    Ok(Value::from(""))
}

/// `ref(...)` in this node's context.
pub fn do_ref(ctx: &NodeCtx, args: &[Value]) -> Result<Value, Error> {
    let (pos, kwargs) = split_kwargs(args);
    let strs: Vec<String> = pos
        .iter()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .collect();
    let (package, name) = match strs.as_slice() {
        [name] => (None, name.clone()),
        [pkg, name] => (Some(pkg.clone()), name.clone()),
        _ => {
            return Err(err(
                ErrorKind::InvalidOperation,
                format!("ref() takes 1 or 2 arguments, got {}", strs.len()),
            ));
        }
    };
    // dbt reads `version=` before `v=`, and a falsy value as no version.
    let version = kwargs.as_ref().and_then(|k| {
        ["version", "v"]
            .iter()
            .filter_map(|key| k.get::<Option<Value>>(key).ok().flatten())
            .map(|v| serde_json::to_value(&v).unwrap_or(serde_json::Value::Null))
            .find(crate::value::truthy)
            .and_then(|v| crate::node::Version::from_json(&v))
    });
    let call = RefCall {
        name,
        package,
        version,
    };
    match ctx.phase {
        Phase::Parse => {
            let rel = Relation::new("", "", &call.name);
            // Every call is recorded, repeats too, as dbt lists them.
            ctx.record(|r| r.refs.push(call));
            Ok(rel.into_value())
        }
        Phase::Compile => {
            let Some(resolver) = &ctx.resolver else {
                return Ok(Relation::new("", "", &call.name).into_value());
            };
            let resolved = resolver
                .resolve_ref(&ctx.package, &call)
                .map_err(|m| err(ErrorKind::InvalidOperation, m))?;
            if resolved.ephemeral {
                ctx.record(|r| {
                    if !r.ephemerals.contains(&resolved.unique_id) {
                        r.ephemerals.push(resolved.unique_id.clone());
                    }
                });
            }
            Ok(event_time_filtered(
                resolved.relation,
                resolved.event_time.as_deref(),
                ctx.batch.as_ref(),
                ctx.shared.adapter.subquery_needs_alias(),
            )
            .into_value())
        }
    }
}

/// `source(...)` in this node's context.
pub fn do_source(ctx: &NodeCtx, args: &[Value]) -> Result<Value, Error> {
    let (pos, _) = split_kwargs(args);
    let [src, tbl] = pos else {
        return Err(err(
            ErrorKind::InvalidOperation,
            format!(
                "source() takes 2 arguments (source name, table name), got {}",
                pos.len()
            ),
        ));
    };
    let src = src.as_str().map_or_else(|| src.to_string(), str::to_owned);
    let tbl = tbl.as_str().map_or_else(|| tbl.to_string(), str::to_owned);
    match ctx.phase {
        Phase::Parse => {
            let pair = [src.clone(), tbl.clone()];
            ctx.record(|r| r.sources.push(pair));
            Ok(Relation::new("", &src, &tbl).into_value())
        }
        Phase::Compile => match &ctx.resolver {
            Some(res) => res
                .resolve_source(&src, &tbl)
                .map(|r| {
                    let et = res.source_event_time(&src, &tbl);
                    event_time_filtered(
                        r,
                        et.as_deref(),
                        ctx.batch.as_ref(),
                        ctx.shared.adapter.subquery_needs_alias(),
                    )
                    .into_value()
                })
                .map_err(|m| err(ErrorKind::InvalidOperation, m)),
            None => Ok(Relation::new("", &src, &tbl).into_value()),
        },
    }
}

pub fn do_config(ctx: &NodeCtx, args: &[Value]) -> Result<Value, Error> {
    if ctx.phase != Phase::Parse {
        return Ok(Value::from(""));
    }
    let (pos, kwargs) = split_kwargs(args);
    let mut m = Map::new();
    if let Some(first) = pos.first() {
        match serde_json::to_value(first) {
            Ok(serde_json::Value::Object(o)) => m.extend(o),
            _ => {
                return Err(err(
                    ErrorKind::InvalidOperation,
                    "config() takes keyword arguments or one mapping",
                ));
            }
        }
    }
    if let Some(k) = kwargs {
        for key in k.args() {
            let v: Value = k.get(key)?;
            m.insert(
                key.to_owned(),
                serde_json::to_value(&v).unwrap_or(serde_json::Value::Null),
            );
        }
    }
    ctx.record(|r| crate::project::config::merge_into(&mut r.config, &m));
    Ok(Value::from(""))
}

pub fn do_var(ctx: &NodeCtx, args: &[Value]) -> Result<Value, Error> {
    let (pos, kwargs) = split_kwargs(args);
    let Some(name) = pos.first().and_then(Value::as_str) else {
        return Err(err(
            ErrorKind::InvalidOperation,
            "var() needs a variable name",
        ));
    };
    let found = if let Some(v) = ctx.overrides.as_ref().and_then(|o| o.vars.get(name)) {
        Value::from_serialize(v)
    } else if let Some(v) = ctx.shared.vars.get(&ctx.package).and_then(|m| m.get(name)) {
        Value::from_serialize(v)
    } else if let Some(d) = pos
        .get(1)
        .cloned()
        .or_else(|| kwargs.and_then(|k| k.get::<Value>("default").ok()))
    {
        d
    } else {
        return Err(err(
            ErrorKind::InvalidOperation,
            format!(
                "required var `{name}` is not set: define it under `vars:` in dbt_project.yml or pass it with --vars"
            ),
        ));
    };
    // The parse phase notes what the node read, so that a later run can
    // tell when a value it depends on changed.
    if ctx.phase == Phase::Parse {
        ctx.record(|r| {
            if !r.vars.iter().any(|(n, _)| n == name) {
                let json = serde_json::to_value(&found).unwrap_or(serde_json::Value::Null);
                r.vars.push((name.to_owned(), json));
            }
        });
    }
    Ok(found)
}

fn do_doc(ctx: &NodeCtx, args: &[Value]) -> Result<Value, Error> {
    let strs: Vec<&str> = args.iter().filter_map(Value::as_str).collect();
    let (pkg, name) = match strs.as_slice() {
        [n] => (None, *n),
        [p, n] => (Some(*p), *n),
        _ => {
            return Err(err(
                ErrorKind::InvalidOperation,
                "doc() takes 1 or 2 arguments",
            ));
        }
    };
    let shared = &ctx.shared;
    let found = match pkg {
        Some(p) => shared.docs.get(&(p.to_owned(), name.to_owned())),
        None => shared
            .docs
            .get(&(ctx.package.clone(), name.to_owned()))
            .or_else(|| shared.docs.get(&(shared.root.clone(), name.to_owned())))
            .or_else(|| {
                shared
                    .docs
                    .iter()
                    .find(|((_, n), _)| n == name)
                    .map(|(_, v)| v)
            }),
    };
    found.map(|s| Value::from(s.as_str())).ok_or_else(|| {
        err(
            ErrorKind::InvalidOperation,
            format!("documentation `{name}` is not defined"),
        )
    })
}

/// A package name used as a namespace: `dbt_utils.star(...)`.
#[derive(Debug)]
struct PackageNs {
    ctx: Arc<NodeCtx>,
    package: String,
}

impl Object for PackageNs {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        // A unit test's override of `package.macro` replaces it here too.
        if let Some(v) = self
            .ctx
            .overrides
            .as_ref()
            .and_then(|o| o.macros.get(&format!("{}.{name}", self.package)))
        {
            let v = Value::from_serialize(v);
            return Some(Value::from_function(
                move |_args: minijinja::value::Rest<Value>| v.clone(),
            ));
        }
        let entry = self.ctx.shared.macro_in(&self.package, name)?;
        Some(Value::from_object(MacroFn {
            ctx: Arc::clone(&self.ctx),
            name: name.to_owned(),
            unique_id: entry.unique_id.clone(),
            template: entry.template.clone(),
        }))
    }
}

/// A macro bound to the node context it is called from.
#[derive(Debug)]
pub struct MacroFn {
    pub ctx: Arc<NodeCtx>,
    pub name: String,
    pub unique_id: String,
    pub template: String,
}

thread_local! {
    /// The value of the innermost `return(...)`; see [`super::builtins`].
    pub static RETURN_SLOT: std::cell::RefCell<Vec<Option<Value>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How deep macro calls may nest before rendering stops with an error.
const MAX_MACRO_DEPTH: usize = 100;

/// The detail text of the error `return()` raises to unwind a macro.
pub const RETURN_SIGNAL: &str = "\u{0}xform-return";

impl Object for MacroFn {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" => Some(Value::from(self.name.as_str())),
            "unique_id" => Some(Value::from(self.unique_id.as_str())),
            _ => None,
        }
    }

    fn call(self: &Arc<Self>, state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let depth = self.ctx.depth();
        // Each macro call renders in a fresh template state, so minijinja's
        // own recursion limit does not see the chain: bound it here.
        if depth >= MAX_MACRO_DEPTH {
            return Err(err(
                ErrorKind::InvalidOperation,
                format!(
                    "macro `{}` is nested more than {MAX_MACRO_DEPTH} calls deep; is it calling itself without end?",
                    self.name
                ),
            ));
        }
        if depth == 0 {
            let uid = self.unique_id.clone();
            self.ctx.record(|r| {
                if !r.macros.contains(&uid) {
                    r.macros.push(uid);
                }
            });
        }
        let env = state.env();
        let tmpl = env.get_template(&self.template)?;
        let ctx_value = Value::from_dyn_object(Arc::clone(&self.ctx));
        #[allow(deprecated)]
        let mstate = tmpl.eval_to_state(ctx_value)?;
        let Some(mac) = mstate.lookup(&self.name) else {
            return Err(err(
                ErrorKind::UnknownFunction,
                format!("macro `{}` did not define itself", self.name),
            ));
        };
        // A `{% call %}` body is a macro of the caller's template: it can
        // only run in the caller's state, so it is rendered here and handed
        // to the callee as text.
        let args = bind_caller(state, args)?;
        let args = bind_catch_alls(&mac, args)?;
        if let Ok(mut d) = self.ctx.depth.lock() {
            *d += 1;
        }
        RETURN_SLOT.with(|s| s.borrow_mut().push(None));
        let result = mac.call(&mstate, &args);
        let returned = RETURN_SLOT.with(|s| s.borrow_mut().pop().flatten());
        if let Ok(mut d) = self.ctx.depth.lock() {
            *d = d.saturating_sub(1);
        }
        match result {
            Ok(v) => Ok(returned.unwrap_or(v)),
            Err(e) if is_return_signal(&e) => Ok(returned.unwrap_or(Value::from(()))),
            Err(e) => Err(Error::new(
                e.kind(),
                format!("in macro `{}` ({})", self.name, self.unique_id),
            )
            .with_source(e)),
        }
    }
}

/// Moves the arguments a macro does not declare into its `varargs` and
/// `kwargs` parameters, when it has them (see [`super::signature`]).
fn bind_catch_alls(mac: &Value, args: Vec<Value>) -> Result<Vec<Value>, Error> {
    let declared: Vec<String> = mac
        .get_attr("arguments")
        .ok()
        .and_then(|a| a.try_iter().ok())
        .map(|it| it.filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let takes = |n: &str| declared.iter().any(|d| d == n);
    let (takes_varargs, takes_kwargs) = (takes("varargs"), takes("kwargs"));
    if !takes_varargs && !takes_kwargs {
        return Ok(args);
    }
    let regular: Vec<&str> = declared
        .iter()
        .map(String::as_str)
        .filter(|d| !super::signature::CATCH_ALLS.contains(d))
        .collect();
    let (pos, kwargs) = split_kwargs(&args);
    let mut out: Vec<Value> = pos.iter().take(regular.len()).cloned().collect();
    let extra_pos: Vec<Value> = pos.iter().skip(regular.len()).cloned().collect();
    if !extra_pos.is_empty() && !takes_varargs {
        return Err(err(
            ErrorKind::TooManyArguments,
            format!(
                "macro takes {} positional arguments, got {}",
                regular.len(),
                pos.len()
            ),
        ));
    }
    let mut known: Vec<(String, Value)> = Vec::new();
    let mut extra: Vec<(Value, Value)> = Vec::new();
    if let Some(k) = &kwargs {
        for key in k.args() {
            let v: Value = k.peek(key)?;
            if regular.contains(&key) || key == "caller" {
                known.push((key.to_owned(), v));
            } else {
                extra.push((Value::from(key), v));
            }
        }
    }
    if !extra.is_empty() && !takes_kwargs {
        let names: Vec<String> = extra.iter().map(|(k, _)| k.to_string()).collect();
        return Err(err(
            ErrorKind::TooManyArguments,
            format!("unknown keyword argument `{}`", names.join("`, `")),
        ));
    }
    if takes_varargs {
        known.push(("varargs".to_owned(), Value::from(extra_pos)));
    }
    if takes_kwargs {
        known.push((
            "kwargs".to_owned(),
            super::mutable::make_dict(Value::from_iter(extra)),
        ));
    }
    out.push(Value::from(Kwargs::from_iter(known)));
    Ok(out)
}

/// Replaces a `caller` keyword argument by its rendered body.
fn bind_caller(state: &State<'_, '_>, args: &[Value]) -> Result<Vec<Value>, Error> {
    let Some(kwargs) = args.last().and_then(crate::jinja::kwargs_of) else {
        return Ok(args.to_vec());
    };
    let Ok(caller) = kwargs.peek::<Value>("caller") else {
        return Ok(args.to_vec());
    };
    let body = caller.call(state, &[])?;
    let mut pairs: Vec<(String, Value)> = Vec::new();
    for k in kwargs.args() {
        if k == "caller" {
            pairs.push((
                k.to_owned(),
                Value::from_object(RenderedCaller(body.clone())),
            ));
        } else if let Ok(v) = kwargs.peek::<Value>(k) {
            pairs.push((k.to_owned(), v));
        }
    }
    let mut out = args[..args.len() - 1].to_vec();
    out.push(Value::from(minijinja::value::Kwargs::from_iter(pairs)));
    Ok(out)
}

/// The body of a `{% call %}` block, already rendered.
#[derive(Debug)]
struct RenderedCaller(Value);

impl Object for RenderedCaller {
    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        if args.is_empty() {
            Ok(self.0.clone())
        } else {
            Err(err(
                ErrorKind::InvalidOperation,
                "caller() with arguments is not supported when the macro is defined in another file",
            ))
        }
    }
}

/// Whether an error (or its cause) is the unwinding of `return()`.
pub fn is_return_signal(e: &Error) -> bool {
    e.detail() == Some(RETURN_SIGNAL)
}

impl Object for NodeCtx {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        if let Some(v) = self.locals.get(name) {
            return Some(v.clone());
        }
        if let Some(o) = &self.overrides {
            if let Some(v) = o.macros.get(name) {
                let v = Value::from_serialize(v);
                return Some(Value::from_function(
                    move |_args: minijinja::value::Rest<Value>| v.clone(),
                ));
            }
            if name == "env_var" && !o.env_vars.is_empty() {
                let o = Arc::clone(o);
                return Some(Value::from_function(
                    move |args: minijinja::value::Rest<Value>| -> Result<Value, Error> {
                        let key = args.first().and_then(Value::as_str).unwrap_or_default();
                        if let Some(v) = o.env_vars.get(key) {
                            return Ok(Value::from(
                                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                            ));
                        }
                        match (std::env::var(key), args.get(1)) {
                            (Ok(v), _) => Ok(Value::from(v)),
                            (Err(_), Some(d)) if !d.is_undefined() => {
                                Ok(Value::from(d.to_string()))
                            }
                            _ => Err(err(
                                ErrorKind::InvalidOperation,
                                format!(
                                    "environment variable `{key}` is not set and has no default"
                                ),
                            )),
                        }
                    },
                ));
            }
        }
        let f = |n: &'static str| {
            Some(Value::from_object(CtxFn {
                ctx: Arc::clone(self),
                name: n,
            }))
        };
        // A project macro named like a context function overrides it, as in
        // dbt (`builtins.ref` stays the original).
        let overridable = matches!(
            name,
            "ref" | "source" | "is_incremental" | "should_full_refresh"
        );
        if overridable && let Some(m) = self.macro_value(name, true) {
            return Some(m);
        }
        match name {
            "ref" => return f("ref"),
            "source" => return f("source"),
            "config" => return f("config"),
            "var" => return f("var"),
            "doc" => return f("doc"),
            "is_incremental" => return f("is_incremental"),
            "should_full_refresh" => return f("should_full_refresh"),
            "statement" => return f("statement"),
            "render" => return f("render"),
            "load_result" => return f("load_result"),
            "store_result" => return f("store_result"),
            "store_raw_result" => return f("store_raw_result"),
            "execute" => return Some(Value::from(self.phase == Phase::Compile)),
            "this" => return self.this.clone().map(Relation::into_value),
            "model" => return Some(self.model.clone()),
            "target" => return Some(self.shared.target.clone()),
            "project_name" => return Some(Value::from(self.shared.root.as_str())),
            "invocation_id" => return Some(Value::from(self.shared.invocation_id.as_str())),
            "run_started_at" => {
                return Some(super::pydatetime::utc_value(self.shared.run_started_at));
            }
            "flags" => return Some(self.shared.flags.clone()),
            "builtins" => {
                return Some(Value::from_object(Builtins {
                    ctx: Arc::clone(self),
                }));
            }
            "api" => {
                return Some(Value::from_object(super::builtins::Api {
                    column: self.shared.adapter.column_class(),
                }));
            }
            "adapter" => {
                return Some(Value::from_object(super::builtins::AdapterObj {
                    ctx: Arc::clone(self),
                }));
            }
            "graph" => {
                return Some(self.graph.clone().unwrap_or_else(|| {
                    Value::from_serialize(serde_json::json!({
                        "nodes": {}, "sources": {}, "exposures": {}, "metrics": {}, "groups": {},
                        "semantic_models": {}, "saved_queries": {}, "unit_tests": {},
                    }))
                }));
            }
            "selected_resources" => return Some(self.shared.selected.clone()),
            "context" => return Some(Value::from_dyn_object(Arc::clone(self))),
            _ => {}
        }
        if let Some(m) = self.macro_value(name, false) {
            return Some(m);
        }
        if self.shared.packages.contains(name) {
            return Some(Value::from_object(PackageNs {
                ctx: Arc::clone(self),
                package: name.to_owned(),
            }));
        }
        None
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::NonEnumerable
    }
}

impl NodeCtx {
    /// A macro by dbt's search order; with `root_only`, only a root-project
    /// macro (for overrides of context functions).
    pub fn macro_value(self: &Arc<Self>, name: &str, root_only: bool) -> Option<Value> {
        let shared = &self.shared;
        let entry = if root_only {
            shared.macro_in(&shared.root, name)
        } else {
            shared.find_macro(&self.package, name)
        }?;
        Some(Value::from_object(MacroFn {
            ctx: Arc::clone(self),
            name: name.to_owned(),
            unique_id: entry.unique_id.clone(),
            template: entry.template.clone(),
        }))
    }
}

/// `builtins`: the original `ref`, `source` and `config`, even when a project
/// overrides them.
#[derive(Debug)]
struct Builtins {
    ctx: Arc<NodeCtx>,
}

impl Object for Builtins {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name: &'static str = match key.as_str()? {
            "ref" => "ref",
            "source" => "source",
            "config" => "config",
            "var" => "var",
            _ => return None,
        };
        Some(Value::from_object(CtxFn {
            ctx: Arc::clone(&self.ctx),
            name,
        }))
    }
}
