//! dbt's built-in functions, filters and objects that do not depend on the
//! node being rendered (those live in `context`), the `adapter` object, and
//! the built-in macro library embedded from `templates/`.

use std::io::Write as _;
use std::sync::Arc;

use minijinja::value::{Kwargs, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};
use serde_json::Map;

use super::context::{MacroFn, NodeCtx, RETURN_SIGNAL, RETURN_SLOT};
use super::relation::Relation;
use crate::project::{MacroDef, Project};

/// Built-in macro files by package. `dbt` is shared by every adapter; the
/// others hold one adapter's overrides and are only loaded for that adapter.
const TEMPLATES: &[(&str, &str, &str)] = &[
    (
        "dbt",
        "macros/generic_tests.sql",
        include_str!("../../templates/default/macros/generic_tests.sql"),
    ),
    (
        "dbt",
        "macros/naming.sql",
        include_str!("../../templates/default/macros/naming.sql"),
    ),
];

/// Adds the built-in macros to a project's macro table, before the
/// project's own, so that manifest ids read `macro.dbt.<name>`.
pub fn add_builtin_macros(project: &mut Project) {
    for (package, path, text) in TEMPLATES {
        let Ok(blocks) = crate::project::blocks::extract(text) else {
            continue;
        };
        for b in &blocks {
            let (name, src) = crate::project::blocks::as_macro_source(text, b);
            if name.is_empty() {
                continue;
            }
            let uid = format!("macro.{package}.{name}");
            project.macros.insert(
                uid.clone(),
                MacroDef {
                    unique_id: uid,
                    name,
                    package_name: (*package).to_owned(),
                    path: (*path).to_owned(),
                    abs_path: std::path::PathBuf::from(format!(
                        "<xform>/templates/{package}/{path}"
                    )),
                    macro_sql: text[b.start..b.end].to_owned(),
                    template: crate::project::pad_to_line(text, b.start, &src),
                    offset: b.start,
                    description: String::new(),
                    meta: Map::new(),
                    arguments: serde_json::Value::Array(Vec::new()),
                    patch_path: None,
                    builtin: true,
                },
            );
        }
    }
}

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Stores the value and unwinds the macro; `MacroFn::call` catches it.
fn do_return(value: Option<Value>) -> Result<Value, Error> {
    let stored = RETURN_SLOT.with(|s| {
        let mut s = s.borrow_mut();
        match s.last_mut() {
            Some(slot) => {
                *slot = Some(value.unwrap_or(Value::from(())));
                true
            }
            None => false,
        }
    });
    if stored {
        Err(Error::new(ErrorKind::InvalidOperation, RETURN_SIGNAL))
    } else {
        // `return()` outside a macro: dbt renders nothing.
        Ok(Value::from(""))
    }
}

pub fn register_globals(env: &mut Environment<'static>) {
    env.add_function("return", |v: Option<Value>| do_return(v));
    env.add_function("__xf_list", super::mutable::make_list);
    env.add_function("__xf_dict", super::mutable::make_dict);
    env.add_function(
        "env_var",
        |name: String, default: Option<Value>| -> Result<Value, Error> {
            match std::env::var(&name) {
                Ok(v) => Ok(Value::from(v)),
                Err(_) => match default {
                    Some(d) if !d.is_undefined() => Ok(Value::from(d.to_string())),
                    _ => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("environment variable `{name}` is not set and has no default"),
                    )),
                },
            }
        },
    );
    env.add_global("exceptions", Value::from_object(Exceptions));
    env.add_function(
        "log",
        |msg: Value, kwargs: Kwargs| -> Result<Value, Error> {
            let info: Option<bool> = kwargs.get("info")?;
            if info.unwrap_or(false) {
                tracing::info!(target: "xform::jinja", "{msg}");
            } else {
                tracing::debug!(target: "xform::jinja", "{msg}");
            }
            Ok(Value::from(""))
        },
    );
    env.add_function("print", |msg: Value| -> Value {
        let _ = writeln!(std::io::stderr().lock(), "{msg}");
        Value::from("")
    });
    env.add_function(
        "zip",
        |args: minijinja::value::Rest<Value>| -> Result<Value, Error> {
            let lists: Vec<Vec<Value>> = args
                .iter()
                .map(|a| a.try_iter().map(Iterator::collect).unwrap_or_default())
                .collect();
            let n = lists.iter().map(Vec::len).min().unwrap_or(0);
            Ok(Value::from(
                (0..n)
                    .map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))
                    .collect::<Vec<_>>(),
            ))
        },
    );
    env.add_function("set", |v: Option<Value>| -> Value {
        let mut out: Vec<Value> = Vec::new();
        if let Some(v) = v
            && let Ok(iter) = v.try_iter()
        {
            for item in iter {
                if !out.contains(&item) {
                    out.push(item);
                }
            }
        }
        Value::from(out)
    });
    env.add_function(
        "tojson",
        |v: Value, kwargs: Kwargs| -> Result<Value, Error> {
            let sort: Option<bool> = kwargs.get("sort_keys")?;
            super::python::python_json(&v, sort.unwrap_or(false))
                .map(Value::from)
                .map_err(|e| err(format!("cannot convert to JSON: {e}")))
        },
    );
    env.add_function(
        "fromjson",
        |s: String, default: Option<Value>| -> Result<Value, Error> {
            match serde_json::from_str::<serde_json::Value>(&s) {
                Ok(v) => Ok(Value::from_serialize(v)),
                Err(e) => default.ok_or_else(|| err(format!("invalid JSON: {e}"))),
            }
        },
    );
    env.add_function("toyaml", |v: Value| -> Result<Value, Error> {
        serde_saphyr::to_string(&v)
            .map(Value::from)
            .map_err(|e| err(format!("cannot convert to YAML: {e}")))
    });
    env.add_function(
        "fromyaml",
        |s: String, default: Option<Value>| -> Result<Value, Error> {
            match crate::yaml::parse(&s) {
                Ok(y) => Ok(Value::from_serialize(y.to_json())),
                Err(e) => default.ok_or_else(|| err(format!("invalid YAML: {}", e.message))),
            }
        },
    );
    env.add_function("local_md5", |s: String| -> Value {
        Value::from(crate::project::properties::md5_hex(&s))
    });
    env.add_global("api", Value::from_object(Api));
    env.add_global("modules", Value::from_object(Modules));
    env.add_global("dbt_version", Value::from("1.11.0"));
    env.add_filter("as_bool", |v: Value| -> Value {
        match v.as_str() {
            Some(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Value::from(true),
                "false" => Value::from(false),
                _ => v,
            },
            None => v,
        }
    });
    env.add_filter("as_number", |v: Value| -> Value {
        match v.as_str() {
            Some(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| s.trim().parse::<f64>().map(Value::from))
                .unwrap_or(v),
            None => v,
        }
    });
    env.add_filter("as_text", |v: Value| -> Value {
        match v.as_str() {
            Some(_) => v,
            None => Value::from(v.to_string()),
        }
    });
    env.add_filter("as_native", |v: Value| -> Value { v });
}

/// `exceptions.raise_compiler_error(msg)` and friends.
#[derive(Debug)]
struct Exceptions;

impl Object for Exceptions {
    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let msg = args.first().map(ToString::to_string).unwrap_or_default();
        match method {
            "warn" => {
                tracing::warn!(target: "xform::jinja", "{msg}");
                Ok(Value::from(""))
            }
            "raise_compiler_error" | "raise_database_error" | "raise_dependency_error" => {
                Err(Error::new(ErrorKind::InvalidOperation, msg))
            }
            "raise_not_implemented" => Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("not implemented: {msg}"),
            )),
            "raise_fail_fast_error" => Err(Error::new(ErrorKind::InvalidOperation, msg)),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("`exceptions` has no method `{method}`"),
            )),
        }
    }
}

/// `api.Relation.create(...)` and `api.Column`.
#[derive(Debug)]
struct Api;

impl Object for Api {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "Relation" => Some(Value::from_object(RelationApi)),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct RelationApi;

impl Object for RelationApi {
    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if method != "create" {
            return Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("`api.Relation` has no method `{method}`"),
            ));
        }
        let kwargs = args.last().and_then(crate::jinja::kwargs_of);
        let get = |k: &str| -> String {
            kwargs
                .as_ref()
                .and_then(|kw| kw.get::<Option<Value>>(k).ok().flatten())
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let mut r = Relation::new(&get("database"), &get("schema"), &get("identifier"));
        let t = get("type");
        if !t.is_empty() {
            r.kind = Some(t);
        }
        Ok(r.into_value())
    }
}

/// `modules.re`, `modules.datetime`, `modules.itertools` (the parts dbt
/// projects commonly call).
#[derive(Debug)]
struct Modules;

impl Object for Modules {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        match name {
            "re" | "datetime" | "itertools" | "pytz" => {
                Some(Value::from_object(Module(match name {
                    "re" => "re",
                    "datetime" => "datetime",
                    "itertools" => "itertools",
                    _ => "pytz",
                })))
            }
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Module(&'static str);

impl Object for Module {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let k = key.as_str()?;
        match (self.0, k) {
            ("datetime", "datetime" | "date") => Some(Value::from_object(Module(if k == "date" {
                "datetime.date"
            } else {
                "datetime.datetime"
            }))),
            ("pytz", "utc" | "UTC") => Some(Value::from("UTC")),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let s = |i: usize| {
            args.get(i)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let regex = |p: &str| {
            regex::Regex::new(p).map_err(|e| err(format!("invalid regular expression: {e}")))
        };
        match (self.0, method) {
            ("re", "match") => {
                let re = regex(&format!("^(?:{})", s(0)))?;
                Ok(re
                    .find(&s(1))
                    .map_or(Value::from(()), |m| Value::from(m.as_str())))
            }
            ("re", "search") => {
                let re = regex(&s(0))?;
                Ok(re
                    .find(&s(1))
                    .map_or(Value::from(()), |m| Value::from(m.as_str())))
            }
            ("re", "fullmatch") => {
                let re = regex(&format!("^(?:{})$", s(0)))?;
                Ok(re
                    .find(&s(1))
                    .map_or(Value::from(()), |m| Value::from(m.as_str())))
            }
            ("re", "sub") => {
                let re = regex(&s(0))?;
                Ok(Value::from(
                    re.replace_all(&s(2), s(1).as_str()).into_owned(),
                ))
            }
            ("re", "findall") => {
                let re = regex(&s(0))?;
                let text = s(1);
                Ok(Value::from(
                    re.find_iter(&text)
                        .map(|m| Value::from(m.as_str()))
                        .collect::<Vec<_>>(),
                ))
            }
            ("re", "split") => {
                let re = regex(&s(0))?;
                let text = s(1);
                Ok(Value::from(
                    re.split(&text).map(Value::from).collect::<Vec<_>>(),
                ))
            }
            ("re", "escape") => Ok(Value::from(regex::escape(&s(0)))),
            ("re", "compile") => Ok(Value::from(s(0))),
            ("datetime.datetime", "now" | "utcnow") => {
                Ok(super::python::datetime_value(chrono::Utc::now()))
            }
            ("datetime.date", "today") => Ok(Value::from(
                chrono::Utc::now().format("%Y-%m-%d").to_string(),
            )),
            ("itertools", "chain") => {
                let mut out = Vec::new();
                for a in args {
                    if let Ok(it) = a.try_iter() {
                        out.extend(it);
                    }
                }
                Ok(Value::from(out))
            }
            ("itertools", "product") => {
                let lists: Vec<Vec<Value>> = args
                    .iter()
                    .map(|a| a.try_iter().map(Iterator::collect).unwrap_or_default())
                    .collect();
                let mut acc: Vec<Vec<Value>> = vec![Vec::new()];
                for l in &lists {
                    let mut next = Vec::new();
                    for prefix in &acc {
                        for x in l {
                            let mut p = prefix.clone();
                            p.push(x.clone());
                            next.push(p);
                        }
                    }
                    acc = next;
                }
                Ok(Value::from(
                    acc.into_iter().map(Value::from).collect::<Vec<_>>(),
                ))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("`modules.{}.{method}` is not available in xform", self.0),
            )),
        }
    }
}

/// The `adapter` object.
#[derive(Debug)]
pub struct AdapterObj {
    pub ctx: Arc<NodeCtx>,
}

impl Object for AdapterObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let shared = &self.ctx.shared;
        match method {
            "dispatch" => {
                let kwargs = args.last().and_then(crate::jinja::kwargs_of);
                let name = args
                    .first()
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| {
                        kwargs
                            .as_ref()
                            .and_then(|k| k.get::<String>("macro_name").ok())
                    })
                    .ok_or_else(|| err("adapter.dispatch() needs a macro name"))?;
                let namespace = args
                    .get(1)
                    .filter(|v| v.kind() == ValueKind::String)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| {
                        kwargs
                            .as_ref()
                            .and_then(|k| k.get::<Option<String>>("macro_namespace").ok().flatten())
                    });
                if name.contains('.') {
                    return Err(err(format!(
                        "adapter.dispatch(`{name}`): pass the package as `macro_namespace`, not in the name"
                    )));
                }
                let search: Vec<Option<String>> = match &namespace {
                    None => vec![None],
                    Some(ns) => match shared.dispatch.get(ns) {
                        Some(order) => order.iter().cloned().map(Some).collect(),
                        None if ns == "dbt" || shared.packages.contains(ns) => {
                            vec![Some(shared.root.clone()), Some(ns.clone())]
                        }
                        None => {
                            return Err(err(format!(
                                "adapter.dispatch(`{name}`): no package named `{ns}` is installed"
                            )));
                        }
                    },
                };
                let mut prefixes: Vec<&str> = shared.adapter.dispatch_prefixes().to_vec();
                prefixes.push("default");
                let mut tried = Vec::new();
                for pkg in &search {
                    for prefix in &prefixes {
                        let candidate = format!("{prefix}__{name}");
                        let entry = match pkg {
                            Some(p) => shared.macro_in(p, &candidate),
                            None => shared.find_macro(&self.ctx.package, &candidate),
                        };
                        if let Some(e) = entry {
                            return Ok(Value::from_object(MacroFn {
                                ctx: Arc::clone(&self.ctx),
                                name: candidate,
                                unique_id: e.unique_id.clone(),
                                template: e.template.clone(),
                            }));
                        }
                        tried.push(match pkg {
                            Some(p) => format!("{p}.{candidate}"),
                            None => candidate,
                        });
                    }
                }
                Err(err(format!(
                    "adapter.dispatch found no implementation of `{name}`; tried {}",
                    tried.join(", ")
                )))
            }
            "quote" => {
                let s = args.first().map(ToString::to_string).unwrap_or_default();
                Ok(Value::from(shared.adapter.quote(&s)))
            }
            "type" => Ok(Value::from(shared.adapter.kind())),
            "get_relation" | "load_relation" | "get_missing_columns" => Ok(Value::from(())),
            "get_columns_in_relation"
            | "list_relations_without_caching"
            | "get_relations_by_pattern" => Ok(Value::from(Vec::<Value>::new())),
            "check_schema_exists" => Ok(Value::from(false)),
            "quote_as_configured" | "quote_seed_column" => {
                Ok(args.first().cloned().unwrap_or_default())
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("`adapter.{method}` is not available while compiling"),
            )),
        }
    }
}
