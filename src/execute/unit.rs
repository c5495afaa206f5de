//! Running unit tests: mock each `given` input as a CTE of literal rows
//! (typed by the relation it stands for), compile the tested model over the
//! mocks with the test's overrides, run the `unit` materialization, and
//! compare the model's rows with the expected rows as multisets.
//!
//! Invariant: a unit test never writes to the warehouse; the only DDL is the
//! zero-row table `query_columns` creates inside a rolled-back transaction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use minijinja::Value;

use super::live::{NodeLive, WorkerConn};
use super::{NodeResult, Runner, Status, call_macro, compiled_rel, write_file};
use crate::diagnostics::Diag;
use crate::jinja::context::{NodeCtx, Phase};
use crate::jinja::relation::Relation;
use crate::node::{Node, ResourceType, UnitInput, UnitRows, UnitTestInfo};

impl Runner<'_> {
    pub(super) fn run_unit(
        &self,
        id: &str,
        worker: usize,
        wc: &Arc<Mutex<WorkerConn>>,
    ) -> NodeResult {
        let started = chrono::Utc::now();
        let t0 = Instant::now();
        let found = self.project.nodes.get(id).and_then(|t| {
            let unit = t.unit.as_deref()?;
            let model = self.project.nodes.get(t.depends_on_nodes.first()?)?;
            Some((t, unit, model))
        });
        let Some((test, unit, model)) = found else {
            return self.failed(
                id,
                started,
                worker,
                Diag::error("XF0900", format!("`{id}` is not a unit test")),
            );
        };
        let nl = Arc::new(NodeLive::without_facts(
            &self.shared,
            wc,
            Arc::new(Node::clone(test)),
            "unit tests",
        ));
        let live: Arc<dyn crate::jinja::live::Live> = nl.clone();

        let sql = match self.unit_sql(test, unit, model, &live) {
            Ok(s) => s,
            Err(d) => {
                let _ = nl.finish(false);
                let d = self.db_diag(test, &nl, None).unwrap_or(d);
                return self.failed(id, started, worker, d);
            }
        };
        let compile_done = chrono::Utc::now();
        let _ = write_file(
            &self
                .project
                .target_path()
                .join(compiled_rel(test, "compiled")),
            &sql,
        );

        let mut node = test.clone();
        match &unit.expect {
            UnitRows::Dicts(rows) => {
                node.config.insert(
                    "expected_rows".into(),
                    serde_json::Value::Array(
                        rows.iter()
                            .cloned()
                            .map(serde_json::Value::Object)
                            .collect(),
                    ),
                );
            }
            UnitRows::Sql(s) => {
                node.config
                    .insert("expected_sql".into(), serde_json::Value::String(s.clone()));
            }
            // Only a `given` input takes a seed's rows.
            UnitRows::FromSeed => {}
        }
        let mut model_like = node.clone();
        // `model` in the materialization is the tested model, by name.
        model_like.name.clone_from(&model.name);
        let outcome = self.materialize(&model_like, "unit", &sql, &live, None);
        let (main_sql, results) = match outcome {
            Ok((_, main_sql, results)) => (main_sql, results),
            Err((e, main_sql)) => {
                let _ = nl.finish(false);
                let run_path = main_sql.as_ref().map(|s| {
                    let p = self.project.target_path().join(compiled_rel(test, "run"));
                    let _ = write_file(&p, s);
                    p
                });
                let d = self
                    .db_diag(test, &nl, run_path.as_deref())
                    .unwrap_or_else(|| self.unit_diag(test, None, &e));
                let mut r = self.failed(id, started, worker, d);
                r.compiled_code = Some(sql);
                r.run_path = run_path;
                r.compile_done = compile_done;
                r.execution_time = t0.elapsed().as_secs_f64();
                return r;
            }
        };
        let _ = nl.finish(true);
        let run_path = main_sql.as_ref().map(|s| {
            let p = self.project.target_path().join(compiled_rel(test, "run"));
            let _ = write_file(&p, s);
            p
        });
        let table = results
            .get("main")
            .and_then(crate::jinja::live::table_of)
            .unwrap_or_default();
        let diff = compare(&table);
        let (status, message, failures) = match &diff {
            None => (Status::Pass, None, Some(0)),
            Some(text) => (
                Status::Fail,
                Some(format!("actual differs from expected:\n\n{text}")),
                Some(1),
            ),
        };
        NodeResult {
            unique_id: id.to_owned(),
            status,
            message,
            failures,
            started,
            compile_done,
            completed: chrono::Utc::now(),
            execution_time: t0.elapsed().as_secs_f64(),
            thread: worker,
            compiled_code: Some(sql),
            relation_name: None,
            rows_affected: None,
            diag: None,
            run_path,
        }
    }

    /// The tested model's SQL over the mocked inputs. Each input is a
    /// `__dbt__cte__` CTE named as dbt names the ephemeral node it makes of
    /// it: the relation's identifier, `<source>__<table>` for a source, and
    /// the model's identifier for `this`.
    fn unit_sql(
        &self,
        test: &Node,
        unit: &UnitTestInfo,
        model: &Node,
        live: &Arc<dyn crate::jinja::live::Live>,
    ) -> Result<String, Diag> {
        let mut fixtures: HashMap<String, Relation> = HashMap::new();
        let mut ctes: HashMap<String, String> = HashMap::new();
        // Each fixture's compiled SQL and the name of its file.
        let mut files: HashMap<String, (String, String)> = HashMap::new();
        let mut this = None;
        for g in &unit.given {
            let Some(target) = g.target.as_ref().and_then(|t| self.project.nodes.get(t)) else {
                continue;
            };
            let is_this = g.input == "this";
            let sql = self.fixture_sql(test, g, target, is_this, live)?;
            let (key, cte) = if is_this {
                ("this".to_owned(), format!("__dbt__cte__{}", model.alias))
            } else if let Some(s) = &target.source {
                (
                    format!("source:{}.{}", s.source_name, target.name),
                    format!("__dbt__cte__{}__{}", s.source_name, target.name),
                )
            } else {
                (
                    target.unique_id.clone(),
                    format!("__dbt__cte__{}", target.alias),
                )
            };
            let rel = Relation::cte(&cte);
            if is_this {
                this = Some(rel);
            } else {
                fixtures.insert(key.clone(), rel);
            }
            // An input given twice is mocked by the last one, as in dbt.
            ctes.insert(key.clone(), format!(" {cte} as (\n{sql}\n)"));
            let file = format!(
                "{}/{}/{}.sql",
                target.package_name,
                test.original_file_path,
                if is_this { &model.name } else { &target.name }
            );
            files.insert(key, (file, sql));
        }
        let setup = crate::compile::UnitSetup {
            fixtures,
            this,
            overrides: Arc::new(unit.overrides.clone()),
            ctes,
        };
        let (sql, used) = self
            .compiler
            .compile_unit(
                self.renderer,
                self.project,
                model,
                Some(Arc::clone(live)),
                &setup,
            )
            .map_err(|mut d| {
                d.message = format!(
                    "unit test `{}` ({}): {}",
                    test.name, test.original_file_path, d.message
                );
                d
            })?;
        // dbt writes each fixture it inlined as the ephemeral node it made
        // of it, beside the test's own file (every test mocking `orders`
        // rewrites `<yaml>/orders.sql`).
        let compiled = self.project.target_path().join("compiled");
        for key in &used {
            if let Some((file, fixture)) = files.get(key) {
                let _ = write_file(&compiled.join(file), fixture);
            }
        }
        Ok(sql)
    }

    /// The mock rows of one input as a query, rendered as dbt renders the
    /// ephemeral node it makes of the input: `model` is the input (named as
    /// the relation it mocks, a source's table by its name), `this` the
    /// relation whose columns type the rows; `format: sql` rows are Jinja.
    fn fixture_sql(
        &self,
        test: &Node,
        g: &UnitInput,
        target: &Node,
        is_this: bool,
        live: &Arc<dyn crate::jinja::live::Live>,
    ) -> Result<String, Diag> {
        if let UnitRows::Dicts(_) = &g.rows
            && target.is_ephemeral()
            && !is_this
        {
            return Err(self.input_diag(
                test,
                g,
                &format!(
                    "`{}` is an ephemeral model, which has no relation to take column types from; give its rows with `format: sql`",
                    target.name
                ),
            ));
        }
        let shared = &self.renderer.shared;
        let mut ctx = NodeCtx::new(Arc::clone(shared), Phase::Compile, &target.package_name);
        // Deferred inputs take their types from the state's relation.
        ctx.this = Some(self.compiler.ref_relation(self.project, target));
        ctx.model = Value::from_serialize(serde_json::json!({
            "name": target.name,
            "unique_id": target.unique_id,
            "resource_type": "model",
            "package_name": target.package_name,
            "config": {"materialized": "ephemeral"},
        }));
        ctx.live = Some(Arc::clone(live));
        let ctx = Arc::new(ctx);
        let rows = match &g.rows {
            // dbt renders a fixture as a template only when it has Jinja's
            // markers (what it loaded was rendered already).
            UnitRows::Sql(s) if !has_jinja_markers(s) => return Ok(s.clone()),
            UnitRows::Sql(s) => {
                let root = Value::from_dyn_object(Arc::clone(&ctx));
                let source = crate::jinja::mutable::rewrite(s);
                return self
                    .renderer
                    .env
                    .render_str(&source, root)
                    .map_err(|e| self.unit_diag(test, Some(g), &e));
            }
            UnitRows::Dicts(rows) => rows.as_slice(),
            // Read from the seed's file by the parse phase.
            UnitRows::FromSeed => &[],
        };
        let Some(entry) = shared.find_macro(&target.package_name, "get_fixture_sql") else {
            return Err(Diag::error("XF0900", "macro `get_fixture_sql` is missing"));
        };
        let entry = entry.clone();
        let rows_value = Value::from_serialize(rows);
        call_macro(
            self.renderer,
            &ctx,
            "get_fixture_sql",
            &entry,
            &[rows_value, Value::from(())],
        )
        .map(|v| v.to_string())
        .map_err(|e| self.unit_diag(test, Some(g), &e))
    }

    fn input_diag(&self, test: &Node, g: &UnitInput, message: &str) -> Diag {
        let mut d = Diag::error(
            "XF0560",
            format!("unit test `{}`: input `{}`: {message}", test.name, g.input),
        );
        if let Some(s) = &g.span {
            d = d
                .with_source(self.project.source_text(&test.abs_path))
                .with_label(s.offset, s.len, "this input");
        }
        d
    }

    /// An error raised while mocking an input or running the test, placed
    /// at the input (or the test) in the YAML the user wrote.
    fn unit_diag(&self, test: &Node, g: Option<&UnitInput>, e: &minijinja::Error) -> Diag {
        let msg = crate::jinja::errors::plain_message(e);
        if let Some(g) = g {
            return self.input_diag(test, g, &msg);
        }
        let mut d = Diag::error(
            "XF0560",
            format!(
                "unit test `{}` ({}): {msg}",
                test.name, test.original_file_path
            ),
        );
        if let Some(s) = &test.span {
            d = d
                .with_source(self.project.source_text(&test.abs_path))
                .with_label(s.offset, s.len.min(80), "this unit test");
        }
        d
    }
}

/// Whether dbt would render `text` as Jinja: it holds `{{`, `{%`, `{#`,
/// `}}`, `%}` or `#}`.
fn has_jinja_markers(text: &str) -> bool {
    ["{{", "{%", "{#", "}}", "%}", "#}"]
        .iter()
        .any(|m| text.contains(m))
}

/// How many differing rows of each side a failure shows.
const SHOWN: usize = 20;

/// Compares the `actual` and `expected` rows of the unit test query (tagged
/// in its last column) as multisets. `None` when they are equal, else a
/// table of the rows only one side has.
fn compare(table: &crate::adapter::Table) -> Option<String> {
    use std::fmt::Write as _;
    let width = table.columns.len().saturating_sub(1);
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "null".to_owned(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut actual: Vec<Vec<String>> = Vec::new();
    let mut expected: Vec<Vec<String>> = Vec::new();
    for row in &table.rows {
        let cells: Vec<String> = row.iter().take(width).map(text).collect();
        match row.get(width).and_then(serde_json::Value::as_str) {
            Some("expected") => expected.push(cells),
            _ => actual.push(cells),
        }
    }
    actual.sort();
    expected.sort();
    if actual == expected {
        return None;
    }
    let (only_expected, only_actual) = sorted_difference(&expected, &actual);
    let mut lines: Vec<(&str, &[String])> = Vec::new();
    let header: Vec<String> = table
        .columns
        .iter()
        .take(width)
        .map(|(c, _)| c.clone())
        .collect();
    lines.push(("", &header));
    lines.extend(
        only_expected
            .iter()
            .take(SHOWN)
            .map(|r| ("-", r.as_slice())),
    );
    lines.extend(only_actual.iter().take(SHOWN).map(|r| ("+", r.as_slice())));
    let widths: Vec<usize> = (0..width)
        .map(|c| {
            lines
                .iter()
                .map(|(_, r)| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (mark, r) in &lines {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        let line = format!("{mark:1} | {}", cells.join(" | "));
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let more = only_expected.len().saturating_sub(SHOWN) + only_actual.len().saturating_sub(SHOWN);
    if more > 0 {
        let _ = writeln!(out, "  ... and {more} more rows");
    }
    let _ = write!(
        out,
        "\n- expected, missing from the model's rows ({})\n+ returned by the model, not expected ({})",
        only_expected.len(),
        only_actual.len()
    );
    Some(out)
}

/// The rows of each sorted list that the other lacks, counting duplicates.
fn sorted_difference(
    left: &[Vec<String>],
    right: &[Vec<String>],
) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let (mut only_left, mut only_right) = (Vec::new(), Vec::new());
    let (mut li, mut ri) = (0, 0);
    loop {
        match (left.get(li), right.get(ri)) {
            (Some(l), Some(r)) if l == r => {
                li += 1;
                ri += 1;
            }
            (Some(l), Some(r)) if l < r => {
                only_left.push(l.clone());
                li += 1;
            }
            (Some(l), None) => {
                only_left.push(l.clone());
                li += 1;
            }
            (_, Some(r)) => {
                only_right.push(r.clone());
                ri += 1;
            }
            (None, None) => break,
        }
    }
    (only_left, only_right)
}

/// Whether `id` names a unit test.
pub(super) fn is_unit(project: &crate::project::Project, id: &str) -> bool {
    project
        .nodes
        .get(id)
        .is_some_and(|n| n.resource_type == ResourceType::UnitTest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::Table;
    use serde_json::json;

    fn table(rows: &[(&[serde_json::Value], &str)]) -> Table {
        Table {
            columns: vec![
                ("id".into(), "INTEGER".into()),
                ("name".into(), "VARCHAR".into()),
                ("actual_or_expected".into(), "VARCHAR".into()),
            ],
            rows: rows
                .iter()
                .map(|(r, tag)| {
                    let mut v = r.to_vec();
                    v.push(json!(tag));
                    v
                })
                .collect(),
            kinds: Vec::new(),
        }
    }

    #[test]
    fn fixtures_are_rendered_only_with_jinja_markers() {
        assert!(has_jinja_markers("select {{ 1 }}"));
        assert!(has_jinja_markers("select 1 -- }}"));
        assert!(!has_jinja_markers("select '{x}' as a"));
    }

    #[test]
    fn equal_multisets_in_any_order_pass() {
        let t = table(&[
            (&[json!(1), json!("a")], "actual"),
            (&[json!(2), json!(null)], "actual"),
            (&[json!(2), json!(null)], "expected"),
            (&[json!(1), json!("a")], "expected"),
        ]);
        assert_eq!(compare(&t), None);
    }

    #[test]
    fn duplicates_and_differences_are_shown() {
        let t = table(&[
            (&[json!(1), json!("a")], "actual"),
            (&[json!(1), json!("a")], "actual"),
            (&[json!(1), json!("a")], "expected"),
            (&[json!(3), json!("c")], "expected"),
        ]);
        let d = compare(&t).expect("a difference");
        assert!(d.contains("- | 3  | c"), "{d}");
        assert!(d.contains("+ | 1  | a"), "{d}");
        assert!(d.contains("(1)"), "{d}");
    }
}
