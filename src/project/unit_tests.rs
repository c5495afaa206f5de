//! `unit_tests:` entries of properties YAML (dbt ≥ 1.8): each becomes a
//! `unit_test` node holding its mock inputs, expected rows and overrides.
//! The tested model and the inputs are resolved by the parse phase; the run
//! phase (`execute::unit`) builds and checks the query.
//!
//! Invariant: every shape problem is reported here, with the YAML location,
//! so that a unit test node that exists is well-formed.

use serde_json::{Map, Value};

use super::Project;
use super::properties::YamlFile;
use crate::diagnostics::{Diag, Diags};
use crate::node::{Node, ResourceType, UnitInput, UnitOverrides, UnitRows, UnitTestInfo};
use crate::yaml::Yaml;

/// Adds the unit tests of one `unit_tests:` list.
pub fn add(project: &mut Project, file: &YamlFile, value: &Yaml, diags: &mut Diags) {
    let Some(list) = value.as_seq() else {
        if !value.is_null() {
            diags.push(file.diag(
                "XF0142",
                value,
                format!("`unit_tests:` must be a list, found {}", value.type_name()),
            ));
        }
        return;
    };
    for entry in list {
        match node_of(project, file, entry) {
            Ok(Some(node)) => {
                if project.nodes.contains_key(&node.unique_id) {
                    diags.push(file.diag(
                        "XF0180",
                        entry,
                        format!(
                            "unit test `{}` of model `{}` is declared twice",
                            node.name,
                            node.unit.as_ref().map_or("", |u| u.model.as_str())
                        ),
                    ));
                    continue;
                }
                project.nodes.insert(node.unique_id.clone(), Box::new(node));
            }
            Ok(None) => {}
            Err(d) => diags.push(d),
        }
    }
}

/// The node for one entry; `None` when it is disabled.
fn node_of(project: &Project, file: &YamlFile, e: &Yaml) -> Result<Option<Node>, Diag> {
    if e.as_map().is_none() {
        return Err(file.diag(
            "XF0180",
            e,
            format!(
                "an entry of `unit_tests:` must be a mapping, found {}",
                e.type_name()
            ),
        ));
    }
    for (k, _) in e.as_map().unwrap_or_default() {
        let key = k.as_str().unwrap_or_default();
        if ![
            "name",
            "model",
            "given",
            "expect",
            "overrides",
            "config",
            "description",
            "versions",
        ]
        .contains(&key)
        {
            return Err(file
                .diag(
                    "XF0180",
                    k,
                    format!("unknown key `{key}` in a unit test"),
                )
                .with_help(
                    "a unit test has `name`, `model`, `given`, `expect`, and optionally `overrides`, `config`, `description`, `versions`",
                ));
        }
    }
    let name = required_str(file, e, "name", "a unit test needs a `name`")?;
    let model_y = e
        .get("model")
        .ok_or_else(|| file.diag("XF0181", e, format!("unit test `{name}` has no `model`")))?;
    let model = model_y
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            file.diag(
                "XF0181",
                model_y,
                format!("`model` of unit test `{name}` must be a model name"),
            )
        })?
        .to_owned();

    let mut given = Vec::new();
    if let Some(g) = e.get("given").filter(|g| !g.is_null()) {
        let items = g.as_seq().ok_or_else(|| {
            file.diag(
                "XF0182",
                g,
                format!("`given` of unit test `{name}` must be a list of inputs"),
            )
        })?;
        for item in items {
            let input_y = item.get("input").ok_or_else(|| {
                file.diag(
                    "XF0182",
                    item,
                    format!("an input of unit test `{name}` has no `input` (e.g. `input: ref('orders')`)"),
                )
            })?;
            let input = input_y.as_str().unwrap_or_default().trim().to_owned();
            let rows = rows_of(project, file, item, &name, "given")?;
            given.push(UnitInput {
                input,
                rows,
                span: Some(file.span(input_y)),
                target: None,
            });
        }
    }
    let expect_y = e.get("expect").ok_or_else(|| {
        file.diag(
            "XF0183",
            e,
            format!("unit test `{name}` has no `expect` (the rows the model must return)"),
        )
    })?;
    let expect = rows_of(project, file, expect_y, &name, "expect")?;

    let mut overrides = UnitOverrides::default();
    if let Some(o) = e.get("overrides").filter(|o| !o.is_null()) {
        for (k, v) in o.as_map().unwrap_or_default() {
            let key = k.as_str().unwrap_or_default();
            let target = match key {
                "macros" => &mut overrides.macros,
                "vars" => &mut overrides.vars,
                "env_vars" => &mut overrides.env_vars,
                _ => {
                    return Err(file
                        .diag(
                            "XF0184",
                            k,
                            format!("unknown override `{key}` in unit test `{name}`"),
                        )
                        .with_help("overrides are `macros`, `vars` and `env_vars`"));
                }
            };
            match v.to_json() {
                Value::Object(m) => *target = m,
                Value::Null => {}
                _ => {
                    return Err(file.diag(
                        "XF0184",
                        v,
                        format!("`overrides.{key}` of unit test `{name}` must be a mapping"),
                    ));
                }
            }
        }
    }

    let mut node = Node::new(ResourceType::UnitTest, &file.package, &name);
    node.unique_id = format!("unit_test.{}.{model}.{name}", file.package);
    node.path.clone_from(&file.rel_in_root);
    node.original_file_path.clone_from(&file.rel);
    node.abs_path.clone_from(&file.abs);
    node.span = Some(file.span(e));
    // dbt: the package, the YAML file's folders below its first path part
    // (`models/marts/u.yml` gives `marts`), the model, the test.
    let mut fqn = vec![file.package.clone()];
    let parts: Vec<&str> = file.rel.split('/').collect();
    if parts.len() > 2 {
        fqn.extend(parts[1..parts.len() - 1].iter().map(|s| (*s).to_owned()));
    }
    fqn.push(model.clone());
    fqn.push(name.clone());
    node.fqn = fqn;
    e.get("description")
        .and_then(Yaml::as_str)
        .unwrap_or_default()
        .clone_into(&mut node.description);
    let mut cfg = project
        .packages
        .get(&file.package)
        .map(|p| super::project_config(p, &project.packages, ResourceType::UnitTest, &node.fqn))
        .unwrap_or_default();
    if let Some(Value::Object(m)) = e.get("config").map(Yaml::to_json) {
        super::config::merge_into(&mut cfg, &m);
    }
    node.yaml_config = cfg;
    if node
        .yaml_config
        .get("enabled")
        .is_some_and(|v| !crate::value::truthy(v))
    {
        return Ok(None);
    }
    node.unit = Some(Box::new(UnitTestInfo {
        model,
        model_span: Some(file.span(model_y)),
        given,
        expect,
        overrides,
        raw: e.to_json(),
    }));
    Ok(Some(node))
}

fn required_str(file: &YamlFile, e: &Yaml, key: &str, msg: &str) -> Result<String, Diag> {
    e.get(key)
        .and_then(Yaml::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| file.diag("XF0181", e, msg.to_owned()))
}

/// The rows of a `given` input or of `expect`: `rows` in the entry's
/// `format`, or a `fixture` file under `<test-path>/fixtures/`.
fn rows_of(
    project: &Project,
    file: &YamlFile,
    item: &Yaml,
    test: &str,
    what: &str,
) -> Result<UnitRows, Diag> {
    let format = item
        .get("format")
        .and_then(Yaml::as_str)
        .unwrap_or("dict")
        .to_owned();
    if !matches!(format.as_str(), "dict" | "csv" | "sql") {
        return Err(file.diag(
            "XF0185",
            item.get("format").unwrap_or(item),
            format!("`format` of `{what}` in unit test `{test}` must be dict, csv or sql, found `{format}`"),
        ));
    }
    let (text, rows_y) = match (item.get("rows"), item.get("fixture")) {
        (Some(r), _) => (None, Some(r)),
        (None, Some(f)) => {
            let fname = f.as_str().unwrap_or_default();
            if format == "dict" {
                return Err(file.diag(
                    "XF0186",
                    f,
                    format!(
                        "a `fixture` file needs `format: csv` or `format: sql` (unit test `{test}`)"
                    ),
                ));
            }
            (Some(read_fixture(project, file, f, fname, &format)?), None)
        }
        (None, None) => (None, None),
    };
    if let Some(t) = text {
        return parse_text(file, item, &t, &format, test, what);
    }
    let Some(r) = rows_y else {
        // No rows: a seed input is mocked by the seed's own rows; `expect`
        // without rows expects none.
        return Ok(if format == "dict" && what == "given" {
            UnitRows::FromSeed
        } else {
            UnitRows::Dicts(Vec::new())
        });
    };
    if format != "dict" {
        let Some(t) = r.as_str() else {
            return Err(file.diag(
                "XF0186",
                r,
                format!(
                    "`rows` of `{what}` in unit test `{test}` must be a string in `{format}` format"
                ),
            ));
        };
        return parse_text(file, r, t, &format, test, what);
    }
    if r.is_null() {
        return Ok(UnitRows::Dicts(Vec::new()));
    }
    let Some(seq) = r.as_seq() else {
        return Err(file.diag(
            "XF0186",
            r,
            format!("`rows` of `{what}` in unit test `{test}` must be a list of mappings (or set `format: csv` / `format: sql`)"),
        ));
    };
    let mut out = Vec::with_capacity(seq.len());
    for row in seq {
        match row.to_json() {
            Value::Object(m) => out.push(m),
            _ => {
                return Err(file.diag(
                    "XF0186",
                    row,
                    format!("a row of `{what}` in unit test `{test}` must be a mapping of column to value"),
                ));
            }
        }
    }
    promote_complete_row(&mut out);
    Ok(UnitRows::Dicts(out))
}

/// Swaps the first row without a null into first place, as dbt does with
/// every dict and CSV fixture (some warehouses type a union's columns by its
/// first row); the order shows in the compiled SQL.
pub fn promote_complete_row(rows: &mut [Map<String, Value>]) {
    if let Some(i) = rows.iter().position(|r| r.values().all(|v| !v.is_null())) {
        rows.swap(0, i);
    }
}

fn parse_text(
    file: &YamlFile,
    at: &Yaml,
    text: &str,
    format: &str,
    test: &str,
    what: &str,
) -> Result<UnitRows, Diag> {
    if format == "sql" {
        return Ok(UnitRows::Sql(text.to_owned()));
    }
    let mut rows = csv_rows(text).map_err(|m| {
        file.diag(
            "XF0186",
            at,
            format!("CSV rows of `{what}` in unit test `{test}`: {m}"),
        )
    })?;
    promote_complete_row(&mut rows);
    Ok(UnitRows::Dicts(rows))
}

/// CSV text as dicts of strings; an empty field is NULL, as in dbt. Fields
/// are taken as written, spaces included, as Python's `csv` reads them.
fn csv_rows(text: &str) -> Result<Vec<Map<String, Value>>, String> {
    Ok(csv_records(text)?
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|(k, v)| {
                    let v = if v.is_empty() {
                        Value::Null
                    } else {
                        Value::String(v)
                    };
                    (k, v)
                })
                .collect()
        })
        .collect())
}

/// CSV text as (header, field) pairs per row; blank lines are skipped.
pub fn csv_records(text: &str) -> Result<Vec<Vec<(String, String)>>, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.trim_matches(['\r', '\n']).as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format!("row {}: {e}", i + 1))?;
        if rec.len() != headers.len() {
            return Err(format!(
                "row {} has {} fields, the header has {}",
                i + 1,
                rec.len(),
                headers.len()
            ));
        }
        out.push(
            headers
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_owned))
                .collect(),
        );
    }
    Ok(out)
}

fn read_fixture(
    project: &Project,
    file: &YamlFile,
    at: &Yaml,
    name: &str,
    format: &str,
) -> Result<String, Diag> {
    let Some(pkg) = project.packages.get(&file.package) else {
        return Err(file.diag("XF0187", at, format!("fixture `{name}`: unknown package")));
    };
    let mut looked = Vec::new();
    for tp in &pkg.file.test_paths {
        let base = pkg.dir.join(tp).join("fixtures");
        let found = walkdir::WalkDir::new(&base)
            .into_iter()
            .filter_map(Result::ok)
            .find(|e| {
                e.file_type().is_file()
                    && e.path().file_stem().and_then(|s| s.to_str()) == Some(name)
                    && e.path().extension().and_then(|s| s.to_str()) == Some(format)
            });
        if let Some(f) = found {
            // dbt strips a fixture file's text, as it does every file's.
            return std::fs::read_to_string(f.path())
                .map(|t| t.trim().to_owned())
                .map_err(|e| {
                    file.diag(
                        "XF0187",
                        at,
                        format!("cannot read fixture `{}`: {e}", f.path().display()),
                    )
                });
        }
        looked.push(format!("{tp}/fixtures/"));
    }
    Err(file
        .diag(
            "XF0187",
            at,
            format!("fixture file `{name}.{format}` not found"),
        )
        .with_help(format!("looked in {}", looked.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_strings_and_empty_is_null() {
        let rows = csv_rows("id,name\n1,a\n,b\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["id"], Value::String("1".into()));
        assert_eq!(rows[1]["id"], Value::Null);
        assert_eq!(rows[1]["name"], Value::String("b".into()));
        assert!(csv_rows("id,name\n1\n").is_err());
    }

    #[test]
    fn csv_fields_keep_their_spaces_as_python_reads_them() {
        let rows = csv_rows("id,name\n1, a \n\n2,b\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["name"], Value::String(" a ".into()));
        assert_eq!(rows[1]["id"], Value::String("2".into()));
    }

    #[test]
    fn the_first_row_without_nulls_moves_first() {
        let mut rows = csv_rows("a,b\n1,\n2,x\n,y\n3,z\n").unwrap();
        promote_complete_row(&mut rows);
        let firsts: Vec<&Value> = rows.iter().map(|r| &r["a"]).collect();
        assert_eq!(
            firsts,
            ["2", "1", "", "3"]
                .map(|s| if s.is_empty() {
                    Value::Null
                } else {
                    Value::String(s.into())
                })
                .iter()
                .collect::<Vec<_>>()
        );
        // No complete row: the order stays.
        let mut rows = csv_rows("a,b\n1,\n,y\n").unwrap();
        promote_complete_row(&mut rows);
        assert_eq!(rows[0]["a"], Value::String("1".into()));
    }
}
