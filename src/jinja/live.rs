//! The run phase's Jinja surface: a live warehouse behind `statement`,
//! `run_query`, `load_result`, `is_incremental()` and the `adapter` methods
//! that read or change the warehouse.
//!
//! The execution engine implements [`Live`]; this module only turns its
//! answers into the objects dbt's macros expect (agate-like tables, columns,
//! relations).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

use super::relation::Relation;
use crate::adapter::{ColumnClass, ColumnInfo, Response, Table};

/// A warehouse connection as one node's render sees it.
pub trait Live: Send + Sync {
    /// Runs SQL; with `auto_begin`, opens a transaction first when none is
    /// open. With `fetch`, returns the rows.
    fn execute(
        &self,
        sql: &str,
        auto_begin: bool,
        fetch: bool,
    ) -> Result<(Response, Table), String>;
    fn begin(&self) -> Result<(), String>;
    fn commit(&self) -> Result<(), String>;
    fn rollback(&self) -> Result<(), String>;
    /// The relation as it exists in the warehouse (from the relation cache).
    fn get_relation(
        &self,
        database: &str,
        schema: &str,
        identifier: &str,
    ) -> Result<Option<Relation>, String>;
    /// The relations of one schema.
    fn list_relations(&self, database: &str, schema: &str) -> Result<Vec<Relation>, String>;
    fn columns(&self, relation: &Relation) -> Result<Vec<ColumnInfo>, String>;
    /// The columns a query returns, with their types, without running it
    /// over any row and without leaving anything behind.
    fn query_columns(&self, sql: &str) -> Result<Vec<ColumnInfo>, String>;
    fn cache_added(&self, relation: &Relation);
    fn cache_dropped(&self, relation: &Relation);
    fn cache_renamed(&self, from: &Relation, to: &Relation);
    /// Whether the schema exists.
    fn schema_exists(&self, database: &str, schema: &str) -> Result<bool, String>;
    /// `--full-refresh`.
    fn full_refresh(&self) -> bool;
    /// Run-phase facts handed to materializations through `adapter.xform(...)`.
    fn info(&self, key: &str, args: &[Value]) -> Result<Value, String>;
}

/// Statement results of one node's render (`statement(name)` and
/// `store_result`), read back by `load_result`.
#[derive(Debug, Default)]
pub struct Results(pub Mutex<HashMap<String, Value>>);

pub fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// The `response` of a statement, as dbt's `AdapterResponse`.
pub fn response_value(r: &Response) -> Value {
    Value::from_serialize(serde_json::json!({
        "_message": r.message,
        "code": r.message,
        "rows_affected": r.rows_affected,
    }))
}

/// Cell `col` of a row as a template value: dates and timestamps as
/// Python's, the rest as their JSON.
fn cell_value(t: &Table, col: usize, v: &serde_json::Value) -> Value {
    if let Some(kind) = t.kinds.get(col).copied()
        && let Some(text) = v.as_str()
        && let Some(x) = super::pydatetime::cell_value(kind, text)
    {
        return x;
    }
    Value::from_serialize(v)
}

/// dbt's `load_result(name)` value: `response`, `data` (rows as lists) and
/// `table`.
pub fn result_value(r: &Response, t: &Table) -> Value {
    let data: Vec<Value> = t
        .rows
        .iter()
        .map(|row| {
            Value::from(
                row.iter()
                    .enumerate()
                    .map(|(i, v)| cell_value(t, i, v))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    Value::from_iter([
        ("response", response_value(r)),
        ("data", Value::from(data)),
        ("table", table_value(t)),
    ])
}

/// An agate-like table: `.columns`, `.column_names`, `.rows`, `len()`.
pub fn table_value(t: &Table) -> Value {
    Value::from_object(TableObj(Arc::new(t.clone())))
}

/// The table behind a `table_value` (or a `load_result` value's `table`).
pub fn table_of(v: &Value) -> Option<Arc<Table>> {
    let t = v
        .get_attr("table")
        .ok()
        .filter(|t| !t.is_undefined())
        .unwrap_or_else(|| v.clone());
    t.downcast_object_ref::<TableObj>()
        .map(|t| Arc::clone(&t.0))
}

#[derive(Debug)]
struct TableObj(Arc<Table>);

impl Object for TableObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return self.0.rows.get(i).map(|_| row_value(&self.0, i));
        }
        match key.as_str()? {
            "columns" => Some(Value::from_object(ColumnsObj(Arc::clone(&self.0)))),
            "column_names" => Some(Value::from(
                self.0
                    .columns
                    .iter()
                    .map(|(n, _)| Value::from(n.as_str()))
                    .collect::<Vec<_>>(),
            )),
            "column_types" => Some(Value::from(
                self.0
                    .columns
                    .iter()
                    .map(|(_, t)| Value::from(t.as_str()))
                    .collect::<Vec<_>>(),
            )),
            "rows" => Some(Value::from(
                (0..self.0.rows.len())
                    .map(|i| row_value(&self.0, i))
                    .collect::<Vec<_>>(),
            )),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.rows.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            // dbt prints to stdout; xform keeps stdout for data, so the
            // table goes to the log (stderr) in agate's layout.
            "print_table" => {
                let kwargs = args.last().and_then(super::kwargs_of);
                let limit = |k: &str, d: usize| {
                    kwargs
                        .as_ref()
                        .and_then(|kw| kw.get::<Option<usize>>(k).ok().flatten())
                        .unwrap_or(d)
                };
                let out = agate_print_table(
                    &self.0,
                    limit("max_rows", 20),
                    limit("max_columns", 6),
                    limit("max_column_width", 20),
                );
                tracing::info!(target: "xform::jinja", "{out}");
                Ok(Value::from(()))
            }
            "print_json" => {
                let rows: Vec<serde_json::Value> = self
                    .0
                    .rows
                    .iter()
                    .map(|r| {
                        serde_json::Value::Object(
                            self.0
                                .columns
                                .iter()
                                .map(|(n, _)| n.clone())
                                .zip(r.iter().cloned())
                                .collect(),
                        )
                    })
                    .collect();
                tracing::info!(target: "xform::jinja", "{}", serde_json::Value::Array(rows));
                Ok(Value::from(()))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("table has no method `{method}`"),
            )),
        }
    }
}

/// agate's `Table.print_table`: `| a | b |` rows under a `| - | - |` rule,
/// numbers right-aligned with thousands separators and at most three
/// decimals, nulls empty, long text cut with `...`, and a `...` row or
/// column where rows or columns were left out.
fn agate_print_table(t: &Table, max_rows: usize, max_columns: usize, max_width: usize) -> String {
    let ncols = t.columns.len().min(max_columns);
    let cols_cut = t.columns.len() > max_columns;
    let rows_cut = t.rows.len() > max_rows;
    let numeric: Vec<bool> = (0..ncols)
        .map(|c| {
            t.rows
                .iter()
                .filter_map(|r| r.get(c))
                .all(|v| v.is_number() || v.is_null())
                && t.rows
                    .iter()
                    .any(|r| r.get(c).is_some_and(serde_json::Value::is_number))
        })
        .collect();
    let fit = |s: String| {
        if s.chars().count() > max_width {
            let kept: String = s.chars().take(max_width.saturating_sub(3)).collect();
            format!("{kept}...")
        } else {
            s
        }
    };
    let mut header: Vec<String> = t.columns[..ncols]
        .iter()
        .map(|(n, _)| fit(n.clone()))
        .collect();
    let mut body: Vec<Vec<String>> = t
        .rows
        .iter()
        .take(max_rows)
        .map(|r| {
            (0..ncols)
                .map(|c| fit(r.get(c).map(agate_cell).unwrap_or_default()))
                .collect()
        })
        .collect();
    let mut right = numeric;
    if cols_cut {
        header.push("...".to_owned());
        right.push(false);
        for row in &mut body {
            row.push("...".to_owned());
        }
    }
    if rows_cut {
        body.push(vec!["...".to_owned(); header.len()]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            body.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, s)| {
                let w = widths[c];
                if right[c] {
                    format!("{s:>w$}")
                } else {
                    format!("{s:<w$}")
                }
            })
            .collect();
        format!("| {} |", parts.join(" | "))
    };
    let mut out = line(&header);
    out.push('\n');
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str("| ");
    out.push_str(&rule.join(" | "));
    out.push_str(" |");
    for row in &body {
        out.push('\n');
        out.push_str(&line(row));
    }
    out
}

/// A cell as agate prints it: numbers grouped by thousands with at most
/// three decimals, nulls empty.
fn agate_cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::Number(n) => {
            let f = n.as_f64().unwrap_or_default();
            let text = if n.is_f64() {
                let s = format!("{f:.3}");
                s.trim_end_matches('0').trim_end_matches('.').to_owned()
            } else {
                n.to_string()
            };
            let (sign, digits) = text
                .strip_prefix('-')
                .map_or(("", text.as_str()), |d| ("-", d));
            let (int, frac) = digits
                .split_once('.')
                .map_or((digits, None), |(i, f)| (i, Some(f)));
            let mut grouped = String::new();
            for (i, ch) in int.chars().enumerate() {
                if i > 0 && (int.len() - i) % 3 == 0 {
                    grouped.push(',');
                }
                grouped.push(ch);
            }
            match frac {
                Some(f) => format!("{sign}{grouped}.{f}"),
                None => format!("{sign}{grouped}"),
            }
        }
        other => cell_text(other),
    }
}

fn cell_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "None".to_owned(),
        other => other.to_string(),
    }
}

fn row_value(t: &Arc<Table>, i: usize) -> Value {
    Value::from_object(RowObj(Arc::clone(t), i))
}

#[derive(Debug)]
struct RowObj(Arc<Table>, usize);

impl Object for RowObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let row = self.0.rows.get(self.1)?;
        let idx = if let Some(name) = key.as_str() {
            self.0.columns.iter().position(|(n, _)| n == name)?
        } else {
            let i = key.as_i64()?;
            let len = i64::try_from(row.len()).ok()?;
            usize::try_from(if i < 0 { len + i } else { i }).ok()?
        };
        row.get(idx).map(|v| cell_value(&self.0, idx, v))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.rows.get(self.1).map_or(0, Vec::len))
    }

    /// agate's `Row`, a `MappedSequence`: cells by column name too.
    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let row = self.0.rows.get(self.1).cloned().unwrap_or_default();
        let cells = || {
            row.iter()
                .enumerate()
                .map(|(i, v)| cell_value(&self.0, i, v))
        };
        let names = || self.0.columns.iter().map(|(n, _)| Value::from(n.as_str()));
        match method {
            "keys" => Ok(Value::from(names().collect::<Vec<_>>())),
            "values" => Ok(Value::from(cells().collect::<Vec<_>>())),
            "items" => Ok(Value::from(
                names()
                    .zip(cells())
                    .map(|(k, v)| Value::from(vec![k, v]))
                    .collect::<Vec<_>>(),
            )),
            "dict" => Ok(names().zip(cells()).collect::<Value>()),
            "get" => {
                let key = args.first().cloned().unwrap_or_default();
                Ok(self
                    .get_value(&key)
                    .or_else(|| args.get(1).cloned())
                    .unwrap_or(Value::from(())))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("row has no method `{method}`"),
            )),
        }
    }
}

#[derive(Debug)]
struct ColumnsObj(Arc<Table>);

impl Object for ColumnsObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let idx = if let Some(name) = key.as_str() {
            self.0.columns.iter().position(|(n, _)| n == name)?
        } else {
            key.as_usize()?
        };
        (idx < self.0.columns.len())
            .then(|| Value::from_object(TableColumn(Arc::clone(&self.0), idx)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.columns.len())
    }

    /// agate's `MappedSequence`: the columns by name as well as in order.
    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let column = |i: usize| Value::from_object(TableColumn(Arc::clone(&self.0), i));
        let names = || self.0.columns.iter().map(|(n, _)| Value::from(n.as_str()));
        let n = self.0.columns.len();
        match method {
            "keys" => Ok(Value::from(names().collect::<Vec<_>>())),
            "values" => Ok(Value::from((0..n).map(column).collect::<Vec<_>>())),
            "items" => Ok(Value::from(
                names()
                    .zip((0..n).map(column))
                    .map(|(k, v)| Value::from(vec![k, v]))
                    .collect::<Vec<_>>(),
            )),
            "get" => {
                let key = args.first().cloned().unwrap_or_default();
                Ok(self
                    .get_value(&key)
                    .or_else(|| args.get(1).cloned())
                    .unwrap_or(Value::from(())))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("columns have no method `{method}`"),
            )),
        }
    }
}

#[derive(Debug)]
struct TableColumn(Arc<Table>, usize);

impl Object for TableColumn {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" => Some(Value::from(self.0.columns[self.1].0.as_str())),
            "data_type" => Some(Value::from(self.0.columns[self.1].1.as_str())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "values" | "values_distinct" | "values_without_nulls" => {
                let mut seen: Vec<&serde_json::Value> = Vec::new();
                let mut out: Vec<Value> = Vec::new();
                for row in &self.0.rows {
                    let v = row.get(self.1).unwrap_or(&serde_json::Value::Null);
                    if method == "values_without_nulls" && v.is_null() {
                        continue;
                    }
                    if method == "values_distinct" {
                        if seen.contains(&v) {
                            continue;
                        }
                        seen.push(v);
                    }
                    out.push(cell_value(&self.0, self.1, v));
                }
                Ok(Value::from(out))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("column has no method `{method}`"),
            )),
        }
    }
}

/// A column as dbt's `Column` (the adapter's subclass of it): `name`,
/// `dtype`, `char_size`, `numeric_precision`, `numeric_scale`, the derived
/// `data_type` and `quoted`, and `is_string()`, `is_number()`, ...
#[derive(Debug, Clone)]
pub struct ColumnObj {
    pub name: String,
    pub dtype: String,
    pub char_size: Option<i64>,
    pub numeric_precision: Value,
    pub numeric_scale: Value,
    pub class: &'static ColumnClass,
}

impl ColumnObj {
    /// A column as the warehouse describes it. Where the adapter's types
    /// carry their sizes in the name, they are read out as dbt reads them
    /// from `information_schema`.
    pub fn new(info: &ColumnInfo, class: &'static ColumnClass) -> Self {
        let mut col = Self {
            name: info.name.clone(),
            dtype: info.data_type.clone(),
            char_size: None,
            numeric_precision: Value::from(()),
            numeric_scale: Value::from(()),
            class,
        };
        if class.splits_modifiers {
            col.split_modifiers();
        }
        col
    }

    /// `character varying(10)` is `character varying` of size 10,
    /// `numeric(18,3)` is `numeric` with precision and scale, other
    /// modifiers (`timestamp(3) without time zone`) are dropped, and arrays
    /// are `ARRAY`, as Postgres's `information_schema.columns` says.
    fn split_modifiers(&mut self) {
        if self.dtype.ends_with("[]") {
            "ARRAY".clone_into(&mut self.dtype);
            return;
        }
        let (Some(open), Some(close)) = (self.dtype.find('('), self.dtype.find(')')) else {
            return;
        };
        if close < open {
            return;
        }
        let inner = self.dtype[open + 1..close].to_owned();
        let base = format!(
            "{} {}",
            self.dtype[..open].trim(),
            self.dtype[close + 1..].trim()
        )
        .trim()
        .to_owned();
        let nums: Vec<Option<i64>> = inner.split(',').map(|p| p.trim().parse().ok()).collect();
        match (base.as_str(), nums.as_slice()) {
            ("character varying" | "character" | "bit" | "bit varying", [Some(n)]) => {
                self.char_size = Some(*n);
            }
            ("numeric" | "decimal", [Some(p), Some(sc)]) => {
                self.numeric_precision = Value::from(*p);
                self.numeric_scale = Value::from(*sc);
            }
            ("numeric" | "decimal", [Some(p)]) => {
                self.numeric_precision = Value::from(*p);
                self.numeric_scale = Value::from(0);
            }
            _ => {}
        }
        self.dtype = base;
    }

    /// dbt's `Column(column, dtype, char_size, numeric_precision,
    /// numeric_scale)` from positional or keyword arguments.
    pub fn from_args(args: &[Value], class: &'static ColumnClass) -> Result<Self, Error> {
        let kwargs = args.last().and_then(super::kwargs_of);
        let npos = if kwargs.is_some() {
            args.len() - 1
        } else {
            args.len()
        };
        let get = |i: usize, names: &[&str]| -> Value {
            if i < npos {
                return args[i].clone();
            }
            names
                .iter()
                .find_map(|n| {
                    kwargs
                        .as_ref()
                        .and_then(|k| k.get::<Option<Value>>(n).ok().flatten())
                })
                .unwrap_or(Value::from(()))
        };
        let text = |v: Value| -> Option<String> {
            (!v.is_none() && !v.is_undefined())
                .then(|| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        };
        let name =
            text(get(0, &["column", "name"])).ok_or_else(|| err("Column() needs a column name"))?;
        let dtype =
            text(get(1, &["dtype", "data_type"])).ok_or_else(|| err("Column() needs a dtype"))?;
        let size = get(2, &["char_size"]);
        let char_size = size
            .as_i64()
            .or_else(|| size.as_str().and_then(|t| t.trim().parse().ok()));
        let none_if_undefined = |v: Value| if v.is_undefined() { Value::from(()) } else { v };
        Ok(Self {
            name,
            dtype,
            char_size,
            numeric_precision: none_if_undefined(get(3, &["numeric_precision"])),
            numeric_scale: none_if_undefined(get(4, &["numeric_scale"])),
            class,
        })
    }

    fn lower(&self) -> String {
        self.dtype.to_ascii_lowercase()
    }

    fn is_string(&self) -> bool {
        matches!(
            self.lower().as_str(),
            "text" | "character varying" | "character" | "varchar"
        )
    }

    fn is_integer(&self) -> bool {
        self.class.integer_types.contains(&self.lower().as_str())
    }

    fn is_float(&self) -> bool {
        self.class.float_types.contains(&self.lower().as_str())
    }

    fn is_numeric(&self) -> bool {
        matches!(self.lower().as_str(), "numeric" | "decimal")
    }

    fn is_number(&self) -> bool {
        self.is_integer() || self.is_numeric() || self.is_float()
    }

    fn string_size(&self) -> Result<i64, Error> {
        if !self.is_string() {
            return Err(err("Called string_size() on non-string field!"));
        }
        Ok(match self.char_size {
            Some(n) if self.dtype != "text" => n,
            _ => 256,
        })
    }

    /// What dbt renders a column's type as: strings with their size,
    /// numerics with precision and scale when known.
    pub fn data_type(&self) -> String {
        if self.is_string() {
            let lower = self.lower();
            if self.class.keeps_unsized_strings
                && (lower == "text" || (lower == "character varying" && self.char_size.is_none()))
            {
                return self.dtype.clone();
            }
            string_type(self.string_size().unwrap_or(256))
        } else if self.is_numeric() {
            numeric_type(&self.dtype, &self.numeric_precision, &self.numeric_scale)
        } else {
            self.dtype.clone()
        }
    }
}

/// `Column.string_type(size)`.
pub fn string_type(size: i64) -> String {
    format!("character varying({size})")
}

/// `Column.numeric_type(dtype, precision, scale)`: the sizes only when both
/// are known.
pub fn numeric_type(dtype: &str, precision: &Value, scale: &Value) -> String {
    let known = |v: &Value| !v.is_none() && !v.is_undefined();
    if known(precision) && known(scale) {
        format!("{dtype}({precision},{scale})")
    } else {
        dtype.to_owned()
    }
}

impl Object for ColumnObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" | "column" => Some(Value::from(self.name.as_str())),
            "dtype" => Some(Value::from(self.dtype.as_str())),
            "data_type" | "expanded_data_type" => Some(Value::from(self.data_type())),
            "quoted" => Some(Value::from(format!("\"{}\"", self.name))),
            "char_size" => Some(self.char_size.map_or(Value::from(()), Value::from)),
            "numeric_precision" => Some(self.numeric_precision.clone()),
            "numeric_scale" => Some(self.numeric_scale.clone()),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        Ok(Value::from(match method {
            "is_string" => self.is_string(),
            "is_number" => self.is_number(),
            "is_integer" => self.is_integer(),
            "is_float" => self.is_float(),
            "is_numeric" => self.is_numeric(),
            "string_size" => return self.string_size().map(Value::from),
            "can_expand_to" => {
                let other = args
                    .first()
                    .and_then(|o| o.downcast_object_ref::<ColumnObj>())
                    .ok_or_else(|| err("can_expand_to needs a column"))?;
                if !self.is_string() || !other.is_string() {
                    false
                } else {
                    other.string_size()? > self.string_size()?
                }
            }
            "literal" => {
                let v = args.first().map(ToString::to_string).unwrap_or_default();
                return Ok(Value::from(format!("{v}::{}", self.data_type())));
            }
            "string_type" => {
                let size = args.first().and_then(Value::as_i64).unwrap_or(256);
                return Ok(Value::from(string_type(size)));
            }
            "numeric_type" => {
                let at = |i: usize| args.get(i).cloned().unwrap_or(Value::from(()));
                let dtype = at(0).to_string();
                return Ok(Value::from(numeric_type(&dtype, &at(1), &at(2))));
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::UnknownMethod,
                    format!("column has no method `{method}`"),
                ));
            }
        }))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Column {} ({})>", self.name, self.data_type())
    }
}

pub fn columns_value(cols: &[ColumnInfo], class: &'static ColumnClass) -> Value {
    Value::from(
        cols.iter()
            .map(|c| Value::from_object(ColumnObj::new(c, class)))
            .collect::<Vec<_>>(),
    )
}

/// Reads a relation argument back into a [`Relation`].
pub fn as_relation(v: &Value) -> Option<Relation> {
    if let Some(r) = v.downcast_object_ref::<Relation>() {
        return Some(r.clone());
    }
    if v.is_none() || v.is_undefined() {
        return None;
    }
    let get = |k: &str| {
        v.get_attr(k)
            .ok()
            .and_then(|x| x.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let ident = get("identifier");
    if ident.is_empty() && get("schema").is_empty() {
        return None;
    }
    let mut r = Relation::new(&get("database"), &get("schema"), &ident);
    let t = get("type");
    if !t.is_empty() {
        r.kind = Some(t);
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_tables_as_agate_does() {
        let t = Table {
            columns: vec![
                ("name".to_owned(), "text".to_owned()),
                ("amount".to_owned(), "number".to_owned()),
            ],
            rows: vec![
                vec![serde_json::json!("ada"), serde_json::json!(1234.5)],
                vec![
                    serde_json::json!("a very long name indeed"),
                    serde_json::Value::Null,
                ],
                vec![serde_json::json!("grace"), serde_json::json!(7)],
            ],
            kinds: Vec::new(),
        };
        assert_eq!(
            agate_print_table(&t, 2, 6, 20),
            "| name                 |  amount |\n\
             | -------------------- | ------- |\n\
             | ada                  | 1,234.5 |\n\
             | a very long name ... |         |\n\
             | ...                  |     ... |"
        );
    }
}
