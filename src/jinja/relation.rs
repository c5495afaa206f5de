//! `Relation`: what `ref()`, `source()`, `this` and `api.Relation.create()`
//! return. Renders as the quoted, fully qualified name.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relation {
    pub database: Option<String>,
    pub schema: Option<String>,
    pub identifier: Option<String>,
    /// `table`, `view`, `cte`, `materialized_view`, `external` or unknown.
    pub kind: Option<String>,
    /// Which parts are quoted: database, schema, identifier.
    pub quote: (bool, bool, bool),
    /// Which parts render: database, schema, identifier.
    pub include: (bool, bool, bool),
    pub quote_char: char,
    /// Set for ephemeral models: renders as the CTE name only.
    pub cte_name: Option<String>,
}

impl Relation {
    pub fn new(database: &str, schema: &str, identifier: &str) -> Self {
        Self {
            database: (!database.is_empty()).then(|| database.to_owned()),
            schema: (!schema.is_empty()).then(|| schema.to_owned()),
            identifier: (!identifier.is_empty()).then(|| identifier.to_owned()),
            kind: None,
            quote: (true, true, true),
            include: (true, true, true),
            quote_char: '"',
            cte_name: None,
        }
    }

    pub fn cte(name: &str) -> Self {
        Self {
            cte_name: Some(name.to_owned()),
            kind: Some("cte".to_owned()),
            ..Self::new("", "", name)
        }
    }

    fn quoted(&self, part: &str, quote: bool) -> String {
        if quote {
            let q = self.quote_char;
            let escaped = part.replace(q, &format!("{q}{q}"));
            format!("{q}{escaped}{q}")
        } else {
            part.to_owned()
        }
    }

    pub fn render(&self) -> String {
        if let Some(cte) = &self.cte_name {
            return cte.clone();
        }
        let mut parts = Vec::with_capacity(3);
        if self.include.0
            && let Some(d) = &self.database
        {
            parts.push(self.quoted(d, self.quote.0));
        }
        if self.include.1
            && let Some(s) = &self.schema
        {
            parts.push(self.quoted(s, self.quote.1));
        }
        if self.include.2
            && let Some(i) = &self.identifier
        {
            parts.push(self.quoted(i, self.quote.2));
        }
        parts.join(".")
    }

    pub fn into_value(self) -> Value {
        Value::from_object(self)
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

fn opt(v: Option<&String>) -> Value {
    v.map_or(Value::from(()), |s| Value::from(s.as_str()))
}

fn flag(kwargs: &Kwargs, key: &str, current: bool) -> Result<bool, Error> {
    match kwargs.get::<Option<Value>>(key)? {
        Some(v) if v.is_none() || v.is_undefined() => Ok(current),
        Some(v) => Ok(v.is_true()),
        None => Ok(current),
    }
}

/// dbt's relations are read-only mappings (`relation is mapping` holds, and
/// `relation.get('metadata')` names the class, which is how `dbt_utils` tells
/// a relation from a string).
impl Object for Relation {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn custom_cmp(
        self: &Arc<Self>,
        other: &minijinja::value::DynObject,
    ) -> Option<std::cmp::Ordering> {
        let other = other.downcast_ref::<Relation>()?;
        let key = |r: &Relation| (r.render(), r.kind.clone());
        Some(key(self).cmp(&key(other)))
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "database" => opt(self.database.as_ref()),
            "schema" => opt(self.schema.as_ref()),
            "identifier" | "name" | "table" => opt(self.identifier.as_ref()),
            "type" => opt(self.kind.as_ref()),
            "is_table" => Value::from(self.kind.as_deref() == Some("table")),
            "is_view" => Value::from(self.kind.as_deref() == Some("view")),
            "is_cte" => Value::from(self.kind.as_deref() == Some("cte")),
            "is_materialized_view" => {
                Value::from(self.kind.as_deref() == Some("materialized_view"))
            }
            "quote_character" => Value::from(self.quote_char.to_string()),
            "path" => Value::from_serialize(serde_json::json!({
                "database": self.database, "schema": self.schema, "identifier": self.identifier
            })),
            "quote_policy" => Value::from_serialize(serde_json::json!({
                "database": self.quote.0, "schema": self.quote.1, "identifier": self.quote.2
            })),
            "include_policy" => Value::from_serialize(serde_json::json!({
                "database": self.include.0, "schema": self.include.1, "identifier": self.include.2
            })),
            "is_pointer" | "is_function" | "dbt_created" => Value::from(false),
            "limit" | "event_time_filter" | "catalog" => Value::from(()),
            "require_alias" => Value::from(true),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["database", "schema", "identifier", "type"])
    }

    fn call_method(
        self: &Arc<Self>,
        state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let kwargs = args
            .last()
            .and_then(crate::jinja::kwargs_of)
            .unwrap_or_else(|| std::iter::empty::<(String, Value)>().collect());
        match method {
            "render" => Ok(Value::from(Relation::render(self))),
            "include" => {
                let mut r = (**self).clone();
                r.include = (
                    flag(&kwargs, "database", r.include.0)?,
                    flag(&kwargs, "schema", r.include.1)?,
                    flag(&kwargs, "identifier", r.include.2)?,
                );
                Ok(r.into_value())
            }
            "quote" => {
                let mut r = (**self).clone();
                r.quote = (
                    flag(&kwargs, "database", r.quote.0)?,
                    flag(&kwargs, "schema", r.quote.1)?,
                    flag(&kwargs, "identifier", r.quote.2)?,
                );
                Ok(r.into_value())
            }
            "incorporate" => {
                let mut r = (**self).clone();
                if let Some(t) = kwargs.get::<Option<String>>("type")? {
                    r.kind = Some(t);
                }
                if let Some(path) = kwargs.get::<Option<Value>>("path")? {
                    for (key, slot) in [
                        ("database", &mut r.database),
                        ("schema", &mut r.schema),
                        ("identifier", &mut r.identifier),
                    ] {
                        if let Ok(v) = path.get_attr(key)
                            && !v.is_undefined()
                        {
                            *slot = v.as_str().map(str::to_owned);
                        }
                    }
                }
                r.check_name_length(state)?;
                Ok(r.into_value())
            }
            "replace_path" => {
                let mut r = (**self).clone();
                for (key, slot) in [
                    ("database", &mut r.database),
                    ("schema", &mut r.schema),
                    ("identifier", &mut r.identifier),
                ] {
                    if let Some(v) = kwargs.get::<Option<Value>>(key)? {
                        *slot = v.as_str().map(str::to_owned);
                    }
                }
                Ok(r.into_value())
            }
            // dbt's `InformationSchema`: `<database>.INFORMATION_SCHEMA.<view>`,
            // the database quoted as the relation's, the rest as written.
            "information_schema" | "information_schema_only" => {
                let view = args
                    .first()
                    .and_then(Value::as_str)
                    .filter(|_| method == "information_schema")
                    .map(str::to_owned);
                let r = Relation {
                    database: self.database.clone(),
                    schema: Some("INFORMATION_SCHEMA".to_owned()),
                    include: (self.database.is_some(), true, view.is_some()),
                    identifier: view,
                    kind: Some("view".to_owned()),
                    quote: (self.quote.0, false, false),
                    quote_char: self.quote_char,
                    cte_name: None,
                };
                Ok(r.into_value())
            }
            "relation_max_name_length" => max_name_length(state)
                .map(Value::from)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::UnknownMethod,
                        "relation has no method `relation_max_name_length` on this warehouse: it does not cut names short",
                    )
                }),
            "without_identifier" => {
                let mut r = (**self).clone();
                r.include.2 = false;
                Ok(r.into_value())
            }
            "get" => {
                let key = args.first().and_then(Value::as_str).unwrap_or_default();
                if key == "metadata" {
                    let class = state
                        .lookup("adapter")
                        .and_then(|a| a.call_method(state, "xform_relation_class", &[]).ok())
                        .unwrap_or(Value::from("BaseRelation"));
                    return Ok(Value::from_iter([("type", class)]));
                }
                Ok(self
                    .get_value(&Value::from(key))
                    .or_else(|| args.get(1).cloned())
                    .unwrap_or(Value::from(())))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("relation has no method `{method}`"),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Relation::render(self))
    }
}

/// The adapter's `relation_max_name_length()`, when it has one.
fn max_name_length(state: &State<'_, '_>) -> Option<usize> {
    let v = state
        .lookup("adapter")?
        .call_method(state, "xform_relation_max_name_length", &[])
        .ok()?;
    usize::try_from(v).ok()
}

impl Relation {
    /// As dbt's Postgres relation: a relation of a known type whose name is
    /// longer than the warehouse keeps is refused, rather than created
    /// under a shortened name that another relation may already have.
    pub fn check_name_length(&self, state: &State<'_, '_>) -> Result<(), Error> {
        let (Some(_), Some(id)) = (&self.kind, &self.identifier) else {
            return Ok(());
        };
        match max_name_length(state) {
            Some(max) if id.chars().count() > max => Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("Relation name '{id}' is longer than {max} characters"),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_quoted_parts() {
        let r = Relation::new("shop", "main", "orders");
        assert_eq!(r.render(), r#""shop"."main"."orders""#);
        let mut r2 = r.clone();
        r2.include = (false, true, true);
        assert_eq!(r2.render(), r#""main"."orders""#);
        assert_eq!(Relation::cte("__dbt__cte__x").render(), "__dbt__cte__x");
    }

    #[test]
    fn information_schema_is_the_databases() {
        let mut env = minijinja::Environment::new();
        env.add_global("r", Relation::new("shop", "main", "orders").into_value());
        assert_eq!(
            env.render_str(
                "{{ r.information_schema('columns') }} {{ r.information_schema_only() }}",
                ()
            )
            .expect("renders"),
            r#""shop".INFORMATION_SCHEMA.columns "shop".INFORMATION_SCHEMA"#
        );
    }
}
