//! Contract constraints in properties YAML: on a column (`columns[].constraints`)
//! or on the model (`constraints:` beside `columns:`). They are read into
//! [`Constraint`]s with dbt's defaults, checked as dbt checks them, and a
//! foreign key's `to: ref('x')` becomes a dependency of the model.

use super::properties::YamlFile;
use crate::diagnostics::{Diags, closest};
use crate::node::{Constraint, ConstraintKind, RefCall};
use crate::yaml::{Yaml, YamlKind};

/// Reads a `constraints:` list. `model_level` constraints may name
/// `columns:`; column constraints may not.
pub fn read(file: &YamlFile, list: &Yaml, model_level: bool, diags: &mut Diags) -> Vec<Constraint> {
    let Some(items) = list.as_seq() else {
        if !list.is_null() {
            diags.push(file.diag(
                "XF0152",
                list,
                format!("`constraints:` must be a list, found {}", list.type_name()),
            ));
        }
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| one(file, item, model_level, diags))
        .collect()
}

fn one(file: &YamlFile, item: &Yaml, model_level: bool, diags: &mut Diags) -> Option<Constraint> {
    if item.as_map().is_none() {
        diags.push(file.diag(
            "XF0152",
            item,
            "a constraint must be a mapping with a `type:`, e.g. `- type: not_null`",
        ));
        return None;
    }
    let Some(type_y) = item.get("type") else {
        diags.push(file.diag("XF0152", item, "this constraint has no `type:`"));
        return None;
    };
    let written = type_y.as_str().unwrap_or_default();
    let Some(kind) = ConstraintKind::parse(written) else {
        let mut d = file.diag(
            "XF0152",
            type_y,
            format!(
                "unknown constraint type `{written}`; expected one of {}",
                ConstraintKind::ALL.join(", ")
            ),
        );
        if let Some(c) = closest(written, ConstraintKind::ALL) {
            d = d.with_help(format!("did you mean `{c}`?"));
        }
        diags.push(d);
        return None;
    };
    let text = |key: &str| -> Option<String> {
        item.get(key)
            .filter(|v| !v.is_null())
            .map(|v| match v.as_str() {
                Some(s) => s.to_owned(),
                None => v.to_json().to_string(),
            })
    };
    let strings = |key: &str| -> Vec<String> {
        item.get(key)
            .and_then(Yaml::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let flag = |key: &str| !matches!(item.get(key).map(|v| &v.kind), Some(YamlKind::Bool(false)));
    let columns = if model_level {
        Some(strings("columns"))
    } else {
        if let Some(c) = item.get("columns") {
            diags.push(file.diag(
                "XF0152",
                c,
                "`columns:` belongs on a model-level constraint (under the model's `constraints:`), not on a column's",
            ));
        }
        None
    };
    let to = text("to");
    if let (Some(to), Some(at)) = (&to, item.get("to"))
        && parse_to(to).is_none()
    {
        diags.push(file.diag(
            "XF0153",
            at,
            format!("a foreign key's `to:` must be `ref('model')` or `source('source', 'table')`, found `{to}`"),
        ));
        return None;
    }
    Some(Constraint {
        kind,
        name: text("name"),
        expression: text("expression"),
        warn_unenforced: flag("warn_unenforced"),
        warn_unsupported: flag("warn_unsupported"),
        to,
        to_columns: strings("to_columns"),
        columns,
        to_relation: None,
        to_span: item.get("to").map(|t| file.span(t)),
    })
}

/// dbt's rule: one primary key per model, on one column or as a
/// model-level constraint over several.
pub fn check_primary_keys(
    file: &YamlFile,
    at: &Yaml,
    model: &str,
    column_pks: &[&str],
    model_level: &[Constraint],
    diags: &mut Diags,
) {
    if column_pks.len() > 1 {
        diags.push(
            file.diag(
                "XF0154",
                at,
                format!(
                    "model `{model}` has a primary key constraint on {} columns ({}); a key over several columns is one model-level constraint",
                    column_pks.len(),
                    column_pks.join(", ")
                ),
            )
            .with_help(format!(
                "constraints:\n  - type: primary_key\n    columns: [{}]",
                column_pks.join(", ")
            )),
        );
    }
    if !column_pks.is_empty()
        && model_level
            .iter()
            .any(|c| c.kind == ConstraintKind::PrimaryKey)
    {
        diags.push(file.diag(
            "XF0154",
            at,
            format!("model `{model}` declares its primary key twice: on column `{}` and as a model-level constraint", column_pks[0]),
        ));
    }
}

/// The parent named by a foreign key's `to:`.
pub enum ToTarget {
    Ref(RefCall),
    Source(String, String),
}

/// Reads `ref('m')`, `ref('pkg', 'm')`, `ref('m', v=2)` or
/// `source('s', 't')`, with either quote and any spacing.
pub fn parse_to(to: &str) -> Option<ToTarget> {
    let t = to.trim();
    let t = t
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .map_or(t, str::trim);
    let (func, rest) = t.split_once('(')?;
    let args = rest.trim_end().strip_suffix(')')?;
    let mut positional = Vec::new();
    let mut version = None;
    for arg in args.split(',') {
        let arg = arg.trim();
        if let Some((k, v)) = arg.split_once('=') {
            if matches!(k.trim(), "v" | "version") {
                version = Some(crate::node::Version::from_literal(v)?);
                continue;
            }
            return None;
        }
        positional.push(unquote(arg)?.to_owned());
    }
    match (func.trim(), positional.as_slice()) {
        ("ref", [name]) => Some(ToTarget::Ref(RefCall {
            name: name.clone(),
            package: None,
            version,
        })),
        ("ref", [pkg, name]) => Some(ToTarget::Ref(RefCall {
            name: name.clone(),
            package: Some(pkg.clone()),
            version,
        })),
        ("source", [s, t]) if version.is_none() => Some(ToTarget::Source(s.clone(), t.clone())),
        _ => None,
    }
}

fn unquote(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    (b.len() >= 2 && (b[0] == b'\'' || b[0] == b'"') && b[b.len() - 1] == b[0])
        .then(|| &s[1..s.len() - 1])
}

/// A column constraint as DDL after the column's type, as dbt renders it
/// (`None`: nothing to render, e.g. a `check` without an expression).
pub fn render_column(c: &Constraint) -> Option<String> {
    let expr = c.expression.as_deref().unwrap_or("");
    let out = match c.kind {
        ConstraintKind::Check if !expr.is_empty() => format!("check ({expr})"),
        ConstraintKind::NotNull => format!("not null {expr}"),
        ConstraintKind::Unique => format!("unique {expr}"),
        ConstraintKind::PrimaryKey => format!("primary key {expr}"),
        ConstraintKind::ForeignKey => match (&c.to_relation, c.to_columns.is_empty()) {
            (Some(rel), false) => format!("references {rel} ({})", c.to_columns.join(", ")),
            _ if !expr.is_empty() => format!("references {expr}"),
            _ => return None,
        },
        ConstraintKind::Custom if !expr.is_empty() => expr.to_owned(),
        _ => return None,
    };
    Some(out.trim().to_owned())
}

/// A model-level constraint as a table element, as dbt renders it.
pub fn render_model(c: &Constraint) -> Option<String> {
    let prefix = c
        .name
        .as_deref()
        .map(|n| format!("constraint {n} "))
        .unwrap_or_default();
    let cols = c.columns.as_deref().unwrap_or_default().join(", ");
    let expr = c.expression.as_deref().filter(|e| !e.is_empty());
    let with_expr = expr.map(|e| format!(" {e}")).unwrap_or_default();
    Some(match c.kind {
        ConstraintKind::Check => format!("{prefix}check ({})", expr?),
        ConstraintKind::Unique => format!("{prefix}unique{with_expr} ({cols})"),
        ConstraintKind::PrimaryKey => format!("{prefix}primary key{with_expr} ({cols})"),
        ConstraintKind::ForeignKey => match (&c.to_relation, c.to_columns.is_empty()) {
            (Some(rel), false) => format!(
                "{prefix}foreign key ({cols}) references {rel} ({})",
                c.to_columns.join(", ")
            ),
            _ => format!("{prefix}foreign key ({cols}) references {}", expr?),
        },
        ConstraintKind::Custom => format!("{prefix}{}", expr?),
        ConstraintKind::NotNull => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fk(to: Option<&str>, cols: &[&str], expr: Option<&str>) -> Constraint {
        Constraint {
            kind: ConstraintKind::ForeignKey,
            name: None,
            expression: expr.map(str::to_owned),
            warn_unenforced: true,
            warn_unsupported: true,
            to: None,
            to_columns: cols.iter().map(|c| (*c).to_owned()).collect(),
            columns: Some(vec!["customer_id".into()]),
            to_relation: to.map(str::to_owned),
            to_span: None,
        }
    }

    #[test]
    fn parses_the_shapes_of_to() {
        let r = |s: &str| match parse_to(s) {
            Some(ToTarget::Ref(r)) => format!(
                "ref {:?} {} {:?}",
                r.package,
                r.name,
                r.version.as_ref().map(|v| (v.text(), v.is_str()))
            ),
            Some(ToTarget::Source(s, t)) => format!("source {s}.{t}"),
            None => "none".into(),
        };
        assert_eq!(r("ref('customers')"), "ref None customers None");
        assert_eq!(
            r(r#" ref( "pkg" , "customers" ) "#),
            "ref Some(\"pkg\") customers None"
        );
        assert_eq!(
            r("ref('customers', v=2)"),
            "ref None customers Some((\"2\", false))"
        );
        assert_eq!(
            r("ref('customers', version='beta')"),
            "ref None customers Some((\"beta\", true))"
        );
        assert_eq!(r("{{ source('raw', 'users') }}"), "source raw.users");
        assert_eq!(r("customers"), "none");
        assert_eq!(r("ref(customers)"), "none");
        assert_eq!(r("source('raw')"), "none");
    }

    #[test]
    fn renders_like_dbt() {
        let mut c = fk(Some("\"db\".\"main\".\"customers\""), &["id"], None);
        assert_eq!(
            render_model(&c).as_deref(),
            Some("foreign key (customer_id) references \"db\".\"main\".\"customers\" (id)")
        );
        assert_eq!(
            render_column(&c).as_deref(),
            Some("references \"db\".\"main\".\"customers\" (id)")
        );
        c.name = Some("fk_customer".into());
        assert!(
            render_model(&c).is_some_and(|s| s.starts_with("constraint fk_customer foreign key"))
        );
        let by_expr = fk(None, &[], Some("customers (id)"));
        assert_eq!(
            render_column(&by_expr).as_deref(),
            Some("references customers (id)")
        );
        let nothing = fk(None, &[], None);
        assert_eq!(render_column(&nothing), None);
        assert_eq!(render_model(&nothing), None);
        let mut pk = fk(None, &[], None);
        pk.kind = ConstraintKind::PrimaryKey;
        pk.columns = Some(vec!["a".into(), "b".into()]);
        assert_eq!(render_model(&pk).as_deref(), Some("primary key (a, b)"));
        assert_eq!(render_column(&pk).as_deref(), Some("primary key"));
        pk.kind = ConstraintKind::Check;
        assert_eq!(render_model(&pk), None, "a check needs an expression");
        pk.expression = Some("a < b".into());
        assert_eq!(render_model(&pk).as_deref(), Some("check (a < b)"));
    }
}
