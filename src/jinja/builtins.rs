//! dbt's built-in functions, filters and objects that do not depend on the
//! node being rendered (those live in `context`), the `adapter` object, and
//! the built-in macro library embedded from `templates/`.

use std::io::Write as _;
use std::sync::Arc;

use minijinja::value::{Kwargs, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};
use serde_json::Map;

use super::context::{MacroFn, NodeCtx, RETURN_SIGNAL, RETURN_SLOT};
use super::live::ColumnObj;
use super::relation::Relation;
use crate::adapter::ColumnClass;
use crate::project::{MacroDef, Project};

/// Built-in macro files by package. `dbt` is shared by every adapter; the
/// others hold one adapter's overrides and are only loaded for that adapter.
const TEMPLATES: &[(&str, &str, &str)] = &[
    (
        "dbt_duckdb",
        "macros/incremental.sql",
        include_str!("../../templates/duckdb/macros/incremental.sql"),
    ),
    (
        "dbt_duckdb",
        "macros/materializations/hooks.sql",
        include_str!("../../templates/duckdb/macros/hooks.sql"),
    ),
    (
        "dbt_duckdb",
        "macros/grants.sql",
        include_str!("../../templates/duckdb/macros/grants.sql"),
    ),
    (
        "dbt",
        "macros/grants.sql",
        include_str!("../../templates/default/macros/grants.sql"),
    ),
    (
        "dbt_postgres",
        "macros/adapters.sql",
        include_str!("../../templates/postgres/macros/adapters.sql"),
    ),
    (
        "dbt",
        "macros/generic_tests.sql",
        include_str!("../../templates/default/macros/generic_tests.sql"),
    ),
    (
        "dbt",
        "macros/cross_db.sql",
        include_str!("../../templates/default/macros/cross_db.sql"),
    ),
    (
        "dbt",
        "macros/utils.sql",
        include_str!("../../templates/default/macros/utils.sql"),
    ),
    (
        "dbt",
        "macros/dates.sql",
        include_str!("../../templates/default/macros/dates.sql"),
    ),
    (
        "dbt",
        "macros/metadata.sql",
        include_str!("../../templates/default/macros/metadata.sql"),
    ),
    (
        "dbt_duckdb",
        "macros/metadata.sql",
        include_str!("../../templates/duckdb/macros/metadata.sql"),
    ),
    (
        "dbt_postgres",
        "macros/metadata.sql",
        include_str!("../../templates/postgres/macros/metadata.sql"),
    ),
    (
        "dbt_duckdb",
        "macros/utils.sql",
        include_str!("../../templates/duckdb/macros/utils.sql"),
    ),
    (
        "dbt_postgres",
        "macros/utils.sql",
        include_str!("../../templates/postgres/macros/utils.sql"),
    ),
    (
        "dbt",
        "macros/materializations/unit.sql",
        include_str!("../../templates/default/macros/materializations/unit.sql"),
    ),
    (
        "dbt",
        "macros/naming.sql",
        include_str!("../../templates/default/macros/naming.sql"),
    ),
    (
        "dbt",
        "macros/materializations/incremental.sql",
        include_str!("../../templates/default/macros/materializations/incremental.sql"),
    ),
    (
        "dbt",
        "macros/relations.sql",
        include_str!("../../templates/default/macros/relations.sql"),
    ),
    (
        "dbt",
        "macros/materializations/table.sql",
        include_str!("../../templates/default/macros/materializations/table.sql"),
    ),
    (
        "dbt",
        "macros/materializations/view.sql",
        include_str!("../../templates/default/macros/materializations/view.sql"),
    ),
    (
        "dbt",
        "macros/materializations/clone.sql",
        include_str!("../../templates/default/macros/materializations/clone.sql"),
    ),
    (
        "dbt",
        "macros/materializations/seed.sql",
        include_str!("../../templates/default/macros/materializations/seed.sql"),
    ),
    (
        "dbt",
        "macros/materializations/test.sql",
        include_str!("../../templates/default/macros/materializations/test.sql"),
    ),
    (
        "dbt",
        "macros/materializations/snapshot.sql",
        include_str!("../../templates/default/macros/materializations/snapshot.sql"),
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
    env.add_function("__xf_add", super::arith::add);
    env.add_function("__xf_sub", super::arith::sub);
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
    // Python's `print`: standard output, where `dbt run-operation` users
    // collect what dbt-codegen's macros generate.
    env.add_function("print", |msg: Value| -> Value {
        // `str()` of the value: text as it is, the rest as Python prints it.
        let text = msg
            .as_str()
            .map_or_else(|| super::python::repr(&msg), str::to_owned);
        let _ = writeln!(std::io::stdout().lock(), "{text}");
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
    env.add_function("set", super::mutable::make_set);
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
    env.add_global(
        "api",
        Value::from_object(Api {
            column: &crate::adapter::BASE_COLUMN,
        }),
    );
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
    // Jinja2's `Undefined` has a length of 0 (`column.fields | length` on an
    // adapter whose columns have no `fields`).
    for name in ["length", "count"] {
        env.add_filter(name, |v: &Value| -> Result<Value, Error> {
            if v.is_undefined() {
                return Ok(Value::from(0));
            }
            minijinja::filters::length(v).map(Value::from)
        });
    }
    // `list` makes a new Python list, which can be changed (`(xs | list).pop()`).
    env.add_filter(
        "list",
        |state: &State<'_, '_>, v: Value| -> Result<Value, Error> {
            minijinja::filters::list(state, v).map(super::mutable::make_list)
        },
    );
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
            "column_type_missing" => {
                let names = args
                    .last()
                    .and_then(crate::jinja::kwargs_of)
                    .and_then(|k| k.get::<Value>("column_names").ok())
                    .or_else(|| args.first().cloned())
                    .map(|v| super::python::repr(&v))
                    .unwrap_or_default();
                Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "Contracted models require data_type to be defined for each column. Please ensure that the column name and data_type are defined within the YAML configuration for the {names} column(s)."
                    ),
                ))
            }
            "raise_contract_error" => Err(Error::new(
                ErrorKind::InvalidOperation,
                contract_error(
                    args.first().unwrap_or(&Value::UNDEFINED),
                    args.get(1).unwrap_or(&Value::UNDEFINED),
                ),
            )),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("`exceptions` has no method `{method}`"),
            )),
        }
    }
}

/// dbt's contract failure: a table of every column whose name or type
/// differs between the contract (YAML) and the model's query.
fn contract_error(contract: &Value, model: &Value) -> String {
    let cols = |v: &Value| -> Vec<(String, String)> {
        v.try_iter()
            .map(|it| {
                it.map(|c| {
                    let attr = |k: &str| {
                        c.get_attr(k)
                            .ok()
                            .or_else(|| c.get_item(&Value::from(k)).ok())
                            .filter(|x| !x.is_undefined() && !x.is_none())
                            .map(|x| x.to_string())
                            .unwrap_or_default()
                    };
                    // dbt's contract errors show the warehouse's own type
                    // names (`dtype`); YAML columns only have `data_type`.
                    let dtype = attr("dtype");
                    (
                        attr("name"),
                        if dtype.is_empty() {
                            attr("data_type")
                        } else {
                            dtype
                        },
                    )
                })
                .collect()
            })
            .unwrap_or_default()
    };
    let (contract, model) = (cols(contract), cols(model));
    let mut rows: Vec<[String; 4]> = Vec::new();
    for (name, ty) in &model {
        match contract.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, cty)) if cty.eq_ignore_ascii_case(ty) => {}
            Some((_, cty)) => rows.push([
                name.clone(),
                ty.clone(),
                cty.clone(),
                "data type mismatch".into(),
            ]),
            None => rows.push([
                name.clone(),
                ty.clone(),
                String::new(),
                "missing in contract".into(),
            ]),
        }
    }
    for (name, cty) in &contract {
        if !model.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            rows.push([
                name.clone(),
                String::new(),
                cty.clone(),
                "missing in definition".into(),
            ]);
        }
    }
    let header = [
        "column_name".to_owned(),
        "definition_type".to_owned(),
        "contract_type".to_owned(),
        "mismatch_reason".to_owned(),
    ];
    let mut widths = header.clone().map(|h| h.len());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |r: &[String; 4]| {
        let cells: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |", cells.join(" | "))
    };
    let mut out = String::from(
        "this model has an enforced contract that failed: the name, data_type and number of columns in the contract must match the model's query",
    );
    out.push_str("\n\n");
    out.push_str(&line(&header));
    out.push('\n');
    out.push_str(&line(&widths.map(|w| "-".repeat(w))));
    for r in &rows {
        out.push('\n');
        out.push_str(&line(r));
    }
    out
}

/// `api.Relation` and `api.Column`, the adapter's classes.
#[derive(Debug)]
pub struct Api {
    pub column: &'static ColumnClass,
}

impl Object for Api {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "Relation" => Some(Value::from_object(RelationApi)),
            "Column" => Some(Value::from_object(ColumnApi(self.column))),
            _ => None,
        }
    }
}

/// `api.Column`: called, it makes a column; its class methods name types.
#[derive(Debug)]
struct ColumnApi(&'static ColumnClass);

impl Object for ColumnApi {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        ColumnObj::from_args(args, self.0).map(Value::from_object)
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let text = |i: usize| -> String {
            args.get(i)
                .filter(|v| !v.is_none() && !v.is_undefined())
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .unwrap_or_default()
        };
        match method {
            "translate_type" => Ok(Value::from(translate_type(self.0, &text(0)))),
            "numeric_type" => {
                let at = |i: usize| args.get(i).cloned().unwrap_or(Value::from(()));
                Ok(Value::from(super::live::numeric_type(
                    &text(0),
                    &at(1),
                    &at(2),
                )))
            }
            "string_type" => {
                let size = args.first().and_then(Value::as_i64).unwrap_or(256);
                Ok(Value::from(super::live::string_type(size)))
            }
            "create" => {
                let name = text(0);
                let dtype = translate_type(self.0, &text(1));
                ColumnObj::from_args(&[Value::from(name), Value::from(dtype)], self.0)
                    .map(Value::from_object)
            }
            "from_description" => {
                let raw = text(1);
                let mut info_col = ColumnObj::from_args(
                    &[Value::from(text(0)), Value::from(raw.clone())],
                    self.0,
                )?;
                let (base, sizes) = match raw.find('(') {
                    Some(open) => {
                        let close = raw[open..].find(')').map_or(raw.len(), |c| open + c);
                        (
                            raw[..open].to_owned(),
                            Some(raw[open + 1..close].to_owned()),
                        )
                    }
                    None => (raw.clone(), None),
                };
                info_col.dtype = base;
                if let Some(sizes) = sizes {
                    let parts: Vec<&str> = sizes.split(',').collect();
                    let num = |p: &str| {
                        p.trim().parse::<i64>().map_err(|_| {
                            err(format!(
                                "Could not interpret data_type \"{raw}\": could not convert \"{p}\" to an integer"
                            ))
                        })
                    };
                    match parts.as_slice() {
                        [n] => info_col.char_size = Some(num(n)?),
                        [p, s] => {
                            info_col.numeric_precision = Value::from(num(p)?);
                            info_col.numeric_scale = Value::from(num(s)?);
                        }
                        _ => {}
                    }
                }
                Ok(Value::from_object(info_col))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("`api.Column` has no method `{method}`"),
            )),
        }
    }
}

/// `Column.translate_type`: the adapter's type for a label such as
/// `string`, or the name unchanged.
fn translate_type(class: &ColumnClass, dtype: &str) -> String {
    let upper = dtype.to_ascii_uppercase();
    class
        .type_labels
        .iter()
        .find(|(label, _)| *label == upper)
        .map_or_else(|| dtype.to_owned(), |(_, t)| (*t).to_owned())
}

#[derive(Debug)]
struct RelationApi;

impl Object for RelationApi {
    fn call_method(
        self: &Arc<Self>,
        state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if method == "scd_args" {
            // What a snapshot's dbt_scd_id hashes: the unique key
            // column(s), then updated_at.
            let mut out: Vec<Value> = match args.first() {
                Some(k) if k.kind() == ValueKind::Seq => k.try_iter()?.collect(),
                Some(k) => vec![k.clone()],
                None => Vec::new(),
            };
            out.extend(args.get(1).cloned());
            return Ok(Value::from(out));
        }
        if method == "add_ephemeral_prefix" {
            let name = args.first().map(ToString::to_string).unwrap_or_default();
            return Ok(Value::from(format!("__dbt__cte__{name}")));
        }
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
        r.check_name_length(state)?;
        Ok(r.into_value())
    }
}

/// `modules`: `re` (see `pyre`), `itertools` (the parts dbt projects
/// commonly call), `datetime` and `pytz` (see `pydatetime`).
#[derive(Debug)]
struct Modules;

impl Object for Modules {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        match name {
            "re" => Some(Value::from_object(super::pyre::ReModule)),
            "itertools" => Some(Value::from_object(Module("itertools"))),
            "datetime" => Some(Value::from_object(super::pydatetime::Module::Datetime)),
            "pytz" => Some(Value::from_object(super::pydatetime::Module::Pytz)),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Module(&'static str);

impl Object for Module {
    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match (self.0, method) {
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

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "behavior" => Some(Value::from_object(Behavior(
                self.ctx.shared.project_flags.clone(),
            ))),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        state: &State<'_, '_>,
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
            "xform_relation_class" => Ok(Value::from(shared.adapter.relation_class())),
            "xform_relation_max_name_length" => Ok(shared
                .adapter
                .relation_max_name_length()
                .map_or(Value::from(()), Value::from)),
            // dbt: `quote_as_configured(name, 'database'|'schema'|'identifier')`
            // follows the project's `quoting:`.
            "quote_as_configured" if args.get(1).and_then(Value::as_str).is_some() => {
                let s = args.first().map(ToString::to_string).unwrap_or_default();
                let (db, schema, ident) = shared.quoting;
                let quote = match args.get(1).and_then(Value::as_str) {
                    Some("database") => db,
                    Some("schema") => schema,
                    Some("identifier") => ident,
                    Some(other) => {
                        return Err(err(format!(
                            "adapter.quote_as_configured: the quote key must be `database`, `schema` or `identifier`, not `{other}`"
                        )));
                    }
                    None => true,
                };
                Ok(Value::from(if quote {
                    shared.adapter.quote(&s)
                } else {
                    s
                }))
            }
            "quote_as_configured" | "quote_seed_column" => {
                let s = args.first().map(ToString::to_string).unwrap_or_default();
                let quote = args
                    .get(1)
                    .is_none_or(|q| q.is_none() || q.is_undefined() || q.is_true());
                Ok(Value::from(if quote {
                    shared.adapter.quote(&s)
                } else {
                    s
                }))
            }
            _ => match &self.ctx.live {
                Some(live) => live_method(&self.ctx, live.as_ref(), state, method, args),
                None => compile_time_method(method),
            },
        }
    }
}

/// `adapter.behavior`: the adapter's behavior flags, set under `flags:` in
/// `dbt_project.yml` and off by default. A flag is truthy when set;
/// `.setting` and `.no_warn` read it too.
#[derive(Debug)]
struct Behavior(serde_json::Map<String, serde_json::Value>);

impl Object for Behavior {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let on = self.0.get(key.as_str()?).is_some_and(crate::value::truthy);
        Some(Value::from_object(BehaviorFlag(on)))
    }
}

#[derive(Debug)]
struct BehaviorFlag(bool);

impl Object for BehaviorFlag {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn is_true(self: &Arc<Self>) -> bool {
        self.0
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "setting" | "no_warn" => Some(Value::from(self.0)),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0 { "True" } else { "False" })
    }
}

/// Introspection methods while compiling without a warehouse: nothing exists.
fn compile_time_method(method: &str) -> Result<Value, Error> {
    match method {
        "get_relation" | "load_relation" | "get_missing_columns" => Ok(Value::from(())),
        "get_columns_in_relation"
        | "list_relations_without_caching"
        | "get_relations_by_pattern" => Ok(Value::from(Vec::<Value>::new())),
        "check_schema_exists" => Ok(Value::from(false)),
        _ => Err(Error::new(
            ErrorKind::UnknownMethod,
            format!("`adapter.{method}` is not available while compiling"),
        )),
    }
}

/// Positional-or-keyword argument `i`/`name`.
fn arg(args: &[Value], i: usize, name: &str) -> Option<Value> {
    let kwargs = args.last().and_then(crate::jinja::kwargs_of);
    let npos = if kwargs.is_some() {
        args.len() - 1
    } else {
        args.len()
    };
    if i < npos {
        return Some(args[i].clone());
    }
    kwargs
        .and_then(|k| k.get::<Option<Value>>(name).ok().flatten())
        .filter(|v| !v.is_undefined())
}

fn rel_arg(args: &[Value], i: usize, name: &str) -> Result<Relation, Error> {
    arg(args, i, name)
        .as_ref()
        .and_then(super::live::as_relation)
        .ok_or_else(|| err(format!("expected a relation as `{name}`")))
}

fn str_arg(args: &[Value], i: usize, name: &str) -> String {
    arg(args, i, name)
        .filter(|v| !v.is_none())
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .unwrap_or_default()
}

/// Calls a macro by dbt's search order, e.g. `drop_relation`.
fn call_macro(
    ctx: &Arc<NodeCtx>,
    state: &State<'_, '_>,
    name: &str,
    args: &[Value],
) -> Result<Value, Error> {
    let m = ctx
        .macro_value(name, false)
        .ok_or_else(|| err(format!("macro `{name}` is not defined")))?;
    m.call(state, args)
}

/// A snapshot's `hard_deletes` (or legacy `invalidate_hard_deletes`) config
/// as dbt settles it: `ignore`, `invalidate` or `new_record`.
fn hard_deletes_behavior(config: &crate::node::NodeConfig) -> Result<&'static str, Error> {
    let legacy = config
        .get("invalidate_hard_deletes")
        .filter(|v| !v.is_null());
    let mode = config.get("hard_deletes").filter(|v| !v.is_null());
    if legacy.is_some() && mode.is_some() {
        return Err(err(
            "a snapshot cannot set both `invalidate_hard_deletes` and `hard_deletes`",
        ));
    }
    if legacy.is_some_and(crate::value::truthy) {
        return Ok("invalidate");
    }
    match mode.map(|v| v.as_str()) {
        Some(Some("invalidate")) => Ok("invalidate"),
        Some(Some("new_record")) => Ok("new_record"),
        None | Some(Some("ignore")) => Ok("ignore"),
        _ => Err(err(format!(
            "invalid `hard_deletes` {}: expected ignore, invalidate or new_record",
            mode.map(ToString::to_string).unwrap_or_default()
        ))),
    }
}

/// `adapter.*` with a live warehouse.
fn live_method(
    ctx: &Arc<NodeCtx>,
    live: &dyn super::live::Live,
    state: &State<'_, '_>,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    let live_err = |m: String| err(m);
    match method {
        "get_relation" => {
            let r = live
                .get_relation(
                    &str_arg(args, 0, "database"),
                    &str_arg(args, 1, "schema"),
                    &str_arg(args, 2, "identifier"),
                )
                .map_err(live_err)?;
            Ok(r.map_or(Value::from(()), Relation::into_value))
        }
        "load_relation" => {
            let rel = rel_arg(args, 0, "relation")?;
            let r = live
                .get_relation(
                    rel.database.as_deref().unwrap_or_default(),
                    rel.schema.as_deref().unwrap_or_default(),
                    rel.identifier.as_deref().unwrap_or_default(),
                )
                .map_err(live_err)?;
            Ok(r.map_or(Value::from(()), Relation::into_value))
        }
        "get_columns_in_relation" => {
            let rel = rel_arg(args, 0, "relation")?;
            let cols = live.columns(&rel).map_err(live_err)?;
            Ok(super::live::columns_value(
                &cols,
                ctx.shared.adapter.column_class(),
            ))
        }
        "get_column_schema_from_query" => {
            let sql = args
                .first()
                .and_then(Value::as_str)
                .ok_or_else(|| err("adapter.get_column_schema_from_query needs the query text"))?;
            let cols = live.query_columns(sql).map_err(live_err)?;
            Ok(super::live::columns_value(
                &cols,
                ctx.shared.adapter.column_class(),
            ))
        }
        "get_missing_columns" => {
            let from = live
                .columns(&rel_arg(args, 0, "from_relation")?)
                .map_err(live_err)?;
            let to = live
                .columns(&rel_arg(args, 1, "to_relation")?)
                .map_err(live_err)?;
            let missing: Vec<_> = from
                .into_iter()
                .filter(|c| !to.iter().any(|t| t.name.eq_ignore_ascii_case(&c.name)))
                .collect();
            Ok(super::live::columns_value(
                &missing,
                ctx.shared.adapter.column_class(),
            ))
        }
        "list_relations_without_caching" | "list_relations" => {
            let rel = rel_arg(args, 0, "schema_relation")?;
            let rels = live
                .list_relations(
                    rel.database.as_deref().unwrap_or_default(),
                    rel.schema.as_deref().unwrap_or_default(),
                )
                .map_err(live_err)?;
            Ok(Value::from(
                rels.into_iter()
                    .map(Relation::into_value)
                    .collect::<Vec<_>>(),
            ))
        }
        "check_schema_exists" => live
            .schema_exists(&str_arg(args, 0, "database"), &str_arg(args, 1, "schema"))
            .map(Value::from)
            .map_err(live_err),
        "already_exists" => {
            let r = live
                .get_relation(
                    &ctx.shared
                        .target
                        .get_attr("database")
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                    &str_arg(args, 0, "schema"),
                    &str_arg(args, 1, "name"),
                )
                .map_err(live_err)?;
            Ok(Value::from(r.is_some()))
        }
        "create_schema" => call_macro(
            ctx,
            state,
            "create_schema",
            &[rel_arg(args, 0, "relation")?.into_value()],
        ),
        "drop_schema" => call_macro(
            ctx,
            state,
            "drop_schema",
            &[rel_arg(args, 0, "relation")?.into_value()],
        ),
        "drop_relation" => {
            let rel = rel_arg(args, 0, "relation")?;
            let out = call_macro(ctx, state, "drop_relation", &[rel.clone().into_value()])?;
            live.cache_dropped(&rel);
            Ok(out)
        }
        "truncate_relation" => call_macro(
            ctx,
            state,
            "truncate_relation",
            &[rel_arg(args, 0, "relation")?.into_value()],
        ),
        "rename_relation" => {
            let from = rel_arg(args, 0, "from_relation")?;
            let to = rel_arg(args, 1, "to_relation")?;
            let out = call_macro(
                ctx,
                state,
                "rename_relation",
                &[from.clone().into_value(), to.clone().into_value()],
            )?;
            live.cache_renamed(&from, &to);
            Ok(out)
        }
        "cache_added" => {
            live.cache_added(&rel_arg(args, 0, "relation")?);
            Ok(Value::from(""))
        }
        "cache_dropped" => {
            live.cache_dropped(&rel_arg(args, 0, "relation")?);
            Ok(Value::from(""))
        }
        "cache_renamed" => {
            live.cache_renamed(
                &rel_arg(args, 0, "from_relation")?,
                &rel_arg(args, 1, "to_relation")?,
            );
            Ok(Value::from(""))
        }
        "commit" => live.commit().map(|()| Value::from("")).map_err(live_err),
        "begin" => live.begin().map(|()| Value::from("")).map_err(live_err),
        "rollback" => live.rollback().map(|()| Value::from("")).map_err(live_err),
        "execute" => {
            let sql = str_arg(args, 0, "sql");
            let auto_begin = arg(args, 1, "auto_begin").is_some_and(|v| v.is_true());
            let fetch = arg(args, 2, "fetch").is_some_and(|v| v.is_true());
            let (resp, table) = live.execute(&sql, auto_begin, fetch).map_err(live_err)?;
            Ok(Value::from(vec![
                super::live::response_value(&resp),
                super::live::table_value(&table),
            ]))
        }
        "expand_target_column_types" => Ok(Value::from("")),
        "get_hard_deletes_behavior" => hard_deletes_behavior(&ctx.config).map(Value::from),
        "get_incremental_strategy_macro" => {
            let strategy = str_arg(args, 1, "strategy");
            let strategy = if strategy.is_empty() {
                "default".to_owned()
            } else {
                strategy
            };
            let name = format!("get_incremental_{}_sql", strategy.replace('+', "_"));
            ctx.macro_value(&name, false).ok_or_else(|| {
                err(format!(
                    "incremental strategy `{strategy}` has no macro `{name}`; built in: append, merge, delete+insert, microbatch"
                ))
            })
        }
        "xform" => live
            .info(&str_arg(args, 0, "key"), args.get(1..).unwrap_or_default())
            .map_err(live_err),
        _ => Err(Error::new(
            ErrorKind::UnknownMethod,
            format!("`adapter.{method}` is not available in xform"),
        )),
    }
}
