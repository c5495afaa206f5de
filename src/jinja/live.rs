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
use crate::adapter::{ColumnInfo, Response, Table};

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

/// dbt's `load_result(name)` value: `response`, `data` (rows as lists) and
/// `table`.
pub fn result_value(r: &Response, t: &Table) -> Value {
    let data: Vec<Value> = t
        .rows
        .iter()
        .map(|row| Value::from(row.iter().map(Value::from_serialize).collect::<Vec<_>>()))
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
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "print_table" | "print_json" => {
                let mut out = String::new();
                let names: Vec<&str> = self.0.columns.iter().map(|(n, _)| n.as_str()).collect();
                out.push_str(&names.join(" | "));
                for row in &self.0.rows {
                    out.push('\n');
                    let cells: Vec<String> = row.iter().map(cell_text).collect();
                    out.push_str(&cells.join(" | "));
                }
                tracing::info!(target: "xform::jinja", "{out}");
                Ok(Value::from(""))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("table has no method `{method}`"),
            )),
        }
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
        row.get(idx).map(Value::from_serialize)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.rows.get(self.1).map_or(0, Vec::len))
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
                let mut out: Vec<Value> = Vec::new();
                for row in &self.0.rows {
                    let v = row.get(self.1).cloned().unwrap_or_default();
                    if method == "values_without_nulls" && v.is_null() {
                        continue;
                    }
                    let v = Value::from_serialize(v);
                    if method == "values_distinct" && out.contains(&v) {
                        continue;
                    }
                    out.push(v);
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

/// A warehouse column as dbt's `Column`: `name`, `data_type`, `dtype`,
/// `quoted`, `is_string()`, `is_number()`, ...
#[derive(Debug, Clone)]
pub struct ColumnObj {
    pub name: String,
    pub dtype: String,
    pub quote: char,
}

impl ColumnObj {
    pub fn new(info: &ColumnInfo) -> Self {
        Self {
            name: info.name.clone(),
            dtype: info.data_type.clone(),
            quote: '"',
        }
    }

    fn base_type(&self) -> String {
        let t = self.dtype.to_ascii_lowercase();
        t.split('(').next().unwrap_or_default().trim().to_owned()
    }

    fn is_string(&self) -> bool {
        matches!(
            self.base_type().as_str(),
            "text" | "varchar" | "character varying" | "char" | "character" | "string" | "bpchar"
        )
    }

    fn is_number(&self) -> bool {
        self.is_integer() || self.is_float() || self.is_numeric()
    }

    fn is_integer(&self) -> bool {
        matches!(
            self.base_type().as_str(),
            "integer"
                | "int"
                | "int4"
                | "int8"
                | "int2"
                | "bigint"
                | "smallint"
                | "tinyint"
                | "hugeint"
                | "ubigint"
                | "uinteger"
                | "usmallint"
                | "utinyint"
                | "uhugeint"
                | "serial"
                | "bigserial"
        )
    }

    fn is_float(&self) -> bool {
        matches!(
            self.base_type().as_str(),
            "double" | "float" | "real" | "float4" | "float8" | "double precision"
        )
    }

    fn is_numeric(&self) -> bool {
        matches!(self.base_type().as_str(), "decimal" | "numeric")
    }
}

impl Object for ColumnObj {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" | "column" => Some(Value::from(self.name.as_str())),
            "dtype" | "data_type" | "expanded_data_type" => Some(Value::from(self.dtype.as_str())),
            "quoted" => Some(Value::from(format!(
                "{q}{}{q}",
                self.name
                    .replace(self.quote, &format!("{0}{0}", self.quote)),
                q = self.quote
            ))),
            "char_size" | "numeric_precision" | "numeric_scale" => Some(Value::from(())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        Ok(Value::from(match method {
            "is_string" => self.is_string(),
            "is_number" => self.is_number(),
            "is_integer" => self.is_integer(),
            "is_float" => self.is_float(),
            "is_numeric" => self.is_numeric(),
            "string_type" | "numeric_type" => return Ok(Value::from(self.dtype.as_str())),
            _ => {
                return Err(Error::new(
                    ErrorKind::UnknownMethod,
                    format!("column has no method `{method}`"),
                ));
            }
        }))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["name", "data_type"])
    }
}

pub fn columns_value(cols: &[ColumnInfo]) -> Value {
    Value::from(
        cols.iter()
            .map(|c| Value::from_object(ColumnObj::new(c)))
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
