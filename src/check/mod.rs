//! `xform check`: validation without a warehouse.
//!
//! Every selected model (and the models they read, for their columns) is
//! rendered as `compile` renders it, then parsed with sqlparser in the
//! target's dialect (an adapter capability). Syntax errors are mapped back
//! through the Jinja render to the model file ([`sourcemap`]). Then
//! [`crate::lineage::infer`] derives every model's columns in DAG order, and
//! the columns are checked against what the project says about them:
//! references to columns that cannot exist, documented or tested columns the
//! model does not produce, enforced contracts that differ from the query.
//!
//! Invariant: nothing is reported about a column set that is not completely
//! known (see `lineage`); the check never opens a connection.

pub mod sourcemap;

use std::collections::HashMap;

use crate::node::FastState;

/// Maps and sets keyed by node ids, with the cheap hasher.
type FastMap<K, V> = HashMap<K, V, FastState>;
type FastSet<K> = std::collections::HashSet<K, FastState>;

use rayon::prelude::*;
use sqlparser::ast::Statement;
use sqlparser::parser::Parser;

use crate::compile::Compiler;
use crate::diagnostics::{Diag, Diags, SourceText, closest};
use crate::graph::Dag;
use crate::jinja::Renderer;
use crate::lineage::{self, Catalog, Inference};
use crate::node::{Node, ResourceType};
use crate::project::Project;
use sourcemap::{Mapped, SourceMap};

/// The outcome for one checked model.
#[derive(Debug)]
pub struct ModelReport {
    pub id: String,
    pub name: String,
    /// The model file as shown to the user.
    pub file: String,
    pub diags: Vec<Diag>,
}

/// Everything a check found.
#[derive(Debug, Default)]
pub struct Report {
    /// Problems not tied to one checked model (ephemeral models that fail
    /// to render, unreadable catalog).
    pub diags: Diags,
    pub models: Vec<ModelReport>,
    pub inference: Inference,
}

impl Report {
    pub fn error_count(&self) -> usize {
        self.diags.error_count()
            + self
                .models
                .iter()
                .map(|m| m.diags.iter().filter(|d| d.is_error()).count())
                .sum::<usize>()
    }

    /// Every diagnostic, models in order.
    pub fn all_diags(&self) -> impl Iterator<Item = &Diag> {
        self.diags
            .0
            .iter()
            .chain(self.models.iter().flat_map(|m| m.diags.iter()))
    }
}

/// A model rendered and parsed.
struct Parsed<'a> {
    rendered: std::borrow::Cow<'a, str>,
    result: Result<Vec<Statement>, Diag>,
}

fn is_sql_model(n: &Node) -> bool {
    n.resource_type == ResourceType::Model
        && !std::path::Path::new(&n.original_file_path)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("py"))
}

/// The selected models and every model they read, transitively.
fn needed(project: &Project, dag: &Dag, selected: &[String]) -> Vec<String> {
    let mut seen: FastSet<&str> = FastSet::default();
    let mut stack: Vec<&str> = selected.iter().map(String::as_str).collect();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        for p in dag.parents(id) {
            if !seen.contains(p) {
                stack.push(p);
            }
        }
    }
    project
        .nodes
        .values()
        .filter(|n| seen.contains(n.unique_id.as_str()) && is_sql_model(n))
        .map(|n| n.unique_id.clone())
        .collect()
}

/// How to check.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options<'a> {
    pub catalog: Option<&'a Catalog>,
    /// Also warn about style: `select *` in marts, unused CTEs, models
    /// without a description or tests.
    pub lints: bool,
    /// Parse as this adapter type parses rather than the target's (for CI
    /// without a `profiles.yml`).
    pub dialect: Option<&'a str>,
    /// Models already rendered (before ephemeral CTEs are injected), by
    /// unique id: they are parsed as they are instead of rendered again.
    pub rendered: Option<&'a HashMap<String, String>>,
}

/// Checks the selected models. `selected` may hold any node ids; models are
/// checked, the rest ignored.
pub fn check(
    project: &Project,
    renderer: &Renderer,
    dag: &Dag,
    selected: &[String],
    opts: Options<'_>,
) -> Report {
    let catalog = opts.catalog;
    let selected: Vec<String> = selected
        .iter()
        .filter(|id| project.nodes.get(*id).is_some_and(|n| is_sql_model(n)))
        .cloned()
        .collect();
    let t0 = std::time::Instant::now();
    let render_ids = needed(project, dag, &selected);
    let pre = opts.rendered;
    let to_render: Vec<String> = render_ids
        .iter()
        .filter(|id| pre.is_none_or(|m| !m.contains_key(*id)))
        .cloned()
        .collect();
    let (compiler, diags) = if to_render.is_empty() {
        (None, Diags::default())
    } else {
        let (c, d) = Compiler::new(project, renderer, &to_render);
        (Some(c), d)
    };
    let kind = opts
        .dialect
        .map_or_else(|| project.target.kind.clone(), str::to_owned);
    let render_one = |id: &str, n: &Node| -> Parsed<'_> {
        let rendered = match (pre.and_then(|m| m.get(id)), &compiler) {
            (Some(sql), _) => Ok(std::borrow::Cow::Borrowed(sql.as_str())),
            (None, Some(c)) => c
                .render(renderer, project, n, None)
                .map(|(sql, _)| std::borrow::Cow::Owned(sql)),
            (None, None) => Err(Diag::error("XF0900", format!("`{id}` was not rendered"))),
        };
        match rendered {
            Ok(sql) => {
                let result = parse(project, n, &kind, &sql);
                Parsed {
                    rendered: sql,
                    result,
                }
            }
            Err(d) => Parsed {
                rendered: std::borrow::Cow::Borrowed(""),
                result: Err(d),
            },
        }
    };
    let mut tests_of: FastMap<&str, Vec<&Node>> = FastMap::default();
    for n in project.nodes.values() {
        if let Some(t) = &n.test
            && let Some(att) = &t.attached_node
        {
            tests_of.entry(att.as_str()).or_default().push(n);
        }
    }
    let selected_set: FastSet<&str> = selected.iter().map(String::as_str).collect();
    let position: FastMap<&str, usize> = render_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let order = dag
        .topo_order()
        .unwrap_or_else(|| project.nodes.keys().cloned().collect());
    // One layer of the DAG at a time, in chunks: a chunk's models are
    // rendered and parsed in parallel, inferred, checked, and their syntax
    // trees dropped, so that memory holds a couple of chunks' trees rather
    // than the whole project's. Nodes of a layer do not read each other, so
    // the next chunk is parsed while this one is inferred, and a chunk's
    // nodes are inferred side by side, then recorded in order.
    let mut inferrer = lineage::Inferrer::new(project, catalog);
    let mut models: Vec<(usize, ModelReport)> = Vec::new();
    let (mut rendered_count, mut infer_time) = (0, std::time::Duration::ZERO);
    let chunk = rayon::current_num_threads().max(1) * 64;
    let layers = layers(dag, &order);
    let chunks: Vec<&[&str]> = layers.iter().flat_map(|l| l.chunks(chunk)).collect();
    // One entry per id of the chunk, in its order: `None` for a node that
    // is not a model to check.
    let parse_chunk = |layer: &[&str]| -> Vec<Option<(usize, Parsed<'_>)>> {
        layer
            .par_iter()
            .map(|id| {
                let at = *position.get(*id)?;
                project
                    .nodes
                    .get(*id)
                    .map(|n| (at, render_one(&render_ids[at], n)))
            })
            .collect()
    };
    let mut next = chunks.first().map(|c| parse_chunk(c));
    for i in 0..chunks.len() {
        let parsed = next.take().unwrap_or_default();
        rendered_count += parsed.iter().flatten().count();
        let infer_chunk = || {
            let t = std::time::Instant::now();
            let found: Vec<_> = chunks[i]
                .par_iter()
                .zip(&parsed)
                .map(|(id, p)| {
                    let stmts = p
                        .as_ref()
                        .and_then(|(_, p)| p.result.as_ref().ok())
                        .map(Vec::as_slice);
                    inferrer.infer(id, stmts)
                })
                .collect();
            for (id, found) in chunks[i].iter().zip(found) {
                if let Some(found) = found {
                    inferrer.commit(id, found);
                }
            }
            infer_time += t.elapsed();
            let inference = inferrer.inference();
            for (at, p) in parsed.iter().flatten() {
                let id = render_ids[*at].as_str();
                if !selected_set.contains(id) {
                    continue;
                }
                let Some(n) = project.nodes.get(id) else {
                    continue;
                };
                let mut ds = Vec::new();
                if let Err(d) = &p.result {
                    ds.push(d.clone());
                } else {
                    if let Some(unknown) = inference.unknown_columns.get(id) {
                        for u in unknown {
                            ds.push(unknown_column(project, n, &p.rendered, u));
                        }
                    }
                    if let Some(shape) = inferrer.inferred(id)
                        && shape.complete
                    {
                        check_columns(project, n, shape, tests_of.get(id), &mut ds);
                    }
                    if opts.lints {
                        lint(project, n, p, inference, tests_of.get(id), &mut ds);
                    }
                }
                models.push((
                    *at,
                    ModelReport {
                        id: id.to_owned(),
                        name: n.name.clone(),
                        file: project.display_path(&n.abs_path),
                        diags: ds,
                    },
                ));
            }
            // Freeing a chunk's syntax trees is a good share of the work:
            // done in parallel, not on the thread that infers.
            parsed.into_par_iter().for_each(drop);
        };
        next = rayon::join(infer_chunk, || chunks.get(i + 1).map(|c| parse_chunk(c))).1;
    }
    tracing::debug!(
        "rendered, parsed and inferred {rendered_count} models in {:?} (inference: {infer_time:?})",
        t0.elapsed()
    );
    models.sort_unstable_by_key(|(i, _)| *i);
    let models = models.into_iter().map(|(_, m)| m).collect();
    let inference = inferrer.finish();
    Report {
        diags,
        models,
        inference,
    }
}

/// The nodes of `order` (topological) in layers: a node's layer is one
/// more than its deepest parent's, so the nodes of a layer are independent
/// of each other and come after everything they read.
fn layers<'a>(dag: &Dag, order: &'a [String]) -> Vec<Vec<&'a str>> {
    let mut depth: FastMap<&str, usize> =
        FastMap::with_capacity_and_hasher(order.len(), FastState::default());
    let mut out: Vec<Vec<&str>> = Vec::new();
    for id in order {
        let d = dag
            .parents(id)
            .into_iter()
            .filter_map(|p| depth.get(p).map(|d| d + 1))
            .max()
            .unwrap_or(0);
        depth.insert(id.as_str(), d);
        if out.len() <= d {
            out.resize_with(d + 1, Vec::new);
        }
        out[d].push(id.as_str());
    }
    out
}

/// Style warnings (`--warn`).
fn lint(
    project: &Project,
    n: &Node,
    p: &Parsed,
    inference: &Inference,
    tests: Option<&Vec<&Node>>,
    out: &mut Vec<Diag>,
) {
    let source = || model_source(project, n);
    let place = |d: Diag, line: u64, col: u64, label: &str| match locate(
        n,
        &p.rendered,
        usize::try_from(line).unwrap_or(0),
        usize::try_from(col).unwrap_or(0),
    ) {
        Some((offset, len, _)) => d.with_source(source()).with_label(offset, len, label),
        None => d.with_source(source()).with_label(n.raw_offset, 1, label),
    };
    let is_mart = n.fqn.iter().any(|f| f == "marts" || f == "mart");
    if is_mart
        && let Ok(stmts) = &p.result
        && let Some(Statement::Query(q)) = stmts.last()
        && let sqlparser::ast::SetExpr::Select(s) = q.body.as_ref()
    {
        for item in &s.projection {
            let (sqlparser::ast::SelectItem::Wildcard(opts)
            | sqlparser::ast::SelectItem::QualifiedWildcard(_, opts)) = item
            else {
                continue;
            };
            let at = opts.wildcard_token.0.span.start;
            let d = Diag::warning("XF0730", format!("mart model `{}` selects `*`", n.name))
                .with_help(
                    "list the columns, so that a change upstream cannot change the mart silently",
                );
            out.push(place(d, at.line, at.column, "here"));
        }
    }
    for cte in inference
        .unused_ctes
        .get(&n.unique_id)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let d = Diag::warning(
            "XF0731",
            format!("CTE `{}` of model `{}` is never used", cte.name, n.name),
        );
        out.push(place(d, cte.line, cte.column, "defined here"));
    }
    if n.description.trim().is_empty() {
        out.push(
            Diag::warning("XF0732", format!("model `{}` has no description", n.name))
                .with_source(source())
                .with_label(n.raw_offset, 1, "")
                .with_help("describe it in a properties YAML file"),
        );
    }
    if tests.is_none_or(Vec::is_empty) {
        out.push(
            Diag::warning("XF0733", format!("model `{}` has no data tests", n.name))
                .with_source(source())
                .with_label(n.raw_offset, 1, ""),
        );
    }
}

/// Parses a model's rendered SQL in the target's dialect.
fn parse(project: &Project, n: &Node, kind: &str, sql: &str) -> Result<Vec<Statement>, Diag> {
    let Some(dialect) = crate::adapter::for_kind(kind).and_then(|a| a.sql_dialect()) else {
        return Ok(Vec::new());
    };
    Parser::new(dialect.as_ref())
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| syntax_error(project, n, sql, &e.to_string()))
}

/// Splits sqlparser's ` at Line: l, Column: c` suffix off a message.
fn split_location(msg: &str) -> (String, Option<(usize, usize)>) {
    let msg = msg.strip_prefix("sql parser error: ").unwrap_or(msg);
    if let Some(at) = msg.rfind(" at Line: ") {
        let rest = &msg[at + " at Line: ".len()..];
        if let Some((l, c)) = rest.split_once(", Column: ")
            && let (Ok(l), Ok(c)) = (l.trim().parse(), c.trim().parse())
        {
            return (msg[..at].to_owned(), Some((l, c)));
        }
    }
    (msg.to_owned(), None)
}

/// Where a rendered SQL position is in the model file: (offset, len, the tag
/// that generated it when it is not literal text).
fn locate(
    n: &Node,
    rendered: &str,
    line: usize,
    col: usize,
) -> Option<(usize, usize, Option<String>)> {
    if line == 0 {
        return None;
    }
    let pos = crate::span::offset_of(rendered, line, col);
    let map = SourceMap::new(&n.raw_code, rendered);
    match map.map(pos)? {
        Mapped::Literal(raw) => {
            let len = rendered[pos.min(rendered.len())..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .map(char::len_utf8)
                .sum::<usize>()
                .max(1);
            let len = len.min(n.raw_code.len().saturating_sub(raw)).max(1);
            Some((n.raw_offset + raw, len, None))
        }
        Mapped::Generated { start, end } => Some((
            n.raw_offset + start,
            end - start,
            Some(n.raw_code[start..end].to_owned()),
        )),
    }
}

fn model_source(project: &Project, n: &Node) -> SourceText {
    project.source_text(&n.abs_path)
}

fn syntax_error(project: &Project, n: &Node, rendered: &str, msg: &str) -> Diag {
    let (message, at) = split_location(msg);
    let source = model_source(project, n);
    let mut d = Diag::error(
        "XF0701",
        format!("model `{}` is not valid SQL: {message}", n.name),
    );
    let at = at.map(|(l, c)| back_to_token(rendered, l, c, &message));
    match at.and_then(|(l, c)| locate(n, rendered, l, c)) {
        Some((offset, len, None)) => {
            d = d.with_source(source).with_label(offset, len, "here");
        }
        Some((offset, len, Some(tag))) => {
            let (rl, rc) = at.unwrap_or_default();
            d = d
                .with_source(source)
                .with_label(offset, len, "in code generated here")
                .with_help(format!(
                    "the error is in code generated by `{}` at line {rl}, column {rc} of the compiled SQL",
                    tag.trim()
                ));
        }
        None => {
            d = d
                .with_source(source)
                .with_label(n.raw_offset, 1, "in this model");
        }
    }
    d
}

/// sqlparser sometimes reports the position after the offending token; when
/// the token it names ends just before, point at the token instead.
fn back_to_token(rendered: &str, line: usize, col: usize, message: &str) -> (usize, usize) {
    let Some(found) = message.rsplit_once("found: ").map(|(_, f)| f.trim()) else {
        return (line, col);
    };
    if found.is_empty() || !found.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return (line, col);
    }
    let pos = crate::span::offset_of(rendered, line, col);
    let here = rendered.get(pos..).unwrap_or("");
    if here
        .get(..found.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(found))
    {
        return (line, col);
    }
    let before = rendered.get(..pos).unwrap_or("").trim_end();
    if before.len() >= found.len()
        && before
            .get(before.len() - found.len()..)
            .is_some_and(|t| t.eq_ignore_ascii_case(found))
    {
        return crate::span::line_col(rendered, before.len() - found.len());
    }
    (line, col)
}

fn unknown_column(project: &Project, n: &Node, rendered: &str, u: &lineage::UnknownColumn) -> Diag {
    let line = usize::try_from(u.line).unwrap_or(0);
    let col = usize::try_from(u.column).unwrap_or(0);
    let message = match &u.relation {
        Some(rel) => format!("column `{}` does not exist in `{rel}`", u.name),
        None => format!(
            "column `{}` does not exist in any relation this query reads",
            u.name
        ),
    };
    let mut d = Diag::error("XF0702", message).with_source(model_source(project, n));
    match locate(n, rendered, line, col) {
        Some((offset, len, None)) => d = d.with_label(offset, len, "not a known column"),
        Some((offset, len, Some(_))) => {
            d = d.with_label(
                offset,
                len,
                format!("`{}` is in code generated here", u.name),
            );
        }
        None => d = d.with_label(n.raw_offset, 1, ""),
    }
    let mut candidates = u.candidates.clone();
    candidates.dedup();
    if let Some(best) = closest(&u.name, candidates.iter().map(String::as_str)) {
        d = d.with_help(format!("did you mean `{best}`?"));
    } else if !candidates.is_empty() {
        d = d.with_help(format!("known columns: {}", list(&candidates)));
    }
    d
}

fn list(names: &[String]) -> String {
    const MAX: usize = 12;
    let mut out: Vec<String> = names.iter().take(MAX).map(|n| format!("`{n}`")).collect();
    if names.len() > MAX {
        out.push(format!("and {} more", names.len() - MAX));
    }
    out.join(", ")
}

fn yaml_place(project: &Project, n: &Node, column: &str) -> Option<(SourceText, usize, usize)> {
    let c = n.columns.get(column)?;
    let span = c.span.as_ref()?;
    Some((project.source_text(&span.file), span.offset, span.len))
}

/// Documented columns, tested columns and the contract against the
/// inferred (complete) columns of a model.
fn check_columns(
    project: &Project,
    n: &Node,
    shape: &lineage::Shape,
    tests: Option<&Vec<&Node>>,
    out: &mut Vec<Diag>,
) {
    let produced: Vec<String> = shape.columns.iter().map(|c| c.name.clone()).collect();
    let has = |name: &str| produced.iter().any(|p| p.eq_ignore_ascii_case(name));
    let suggest = |d: Diag, name: &str| match closest(name, produced.iter().map(String::as_str)) {
        Some(best) => d.with_help(format!("did you mean `{best}`?")),
        None => d.with_help(format!("the model produces {}", list(&produced))),
    };
    let enforced = lineage::contract_enforced(n);
    let tested: Vec<(&Node, &str)> = tests
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|t| tested_column(t).map(|c| (*t, c)))
        .collect();
    for (key, c) in &n.columns {
        if has(&c.name) {
            continue;
        }
        let is_tested = tested
            .iter()
            .any(|(_, col)| col.eq_ignore_ascii_case(&c.name));
        // A column that is only documented breaks nothing that runs, so it
        // is a warning; a test on it or a contract would fail in the
        // warehouse.
        let d = if enforced {
            Diag::error(
                "XF0705",
                format!(
                    "model `{}` has an enforced contract declaring column `{}`, which its query does not produce",
                    n.name, c.name
                ),
            )
        } else if is_tested {
            Diag::error(
                "XF0703",
                format!(
                    "column `{}` is documented and tested for model `{}`, which does not produce it",
                    c.name, n.name
                ),
            )
        } else {
            Diag::warning(
                "XF0703",
                format!(
                    "column `{}` is documented for model `{}`, which does not produce it",
                    c.name, n.name
                ),
            )
        };
        let mut d = d;
        if let Some((src, off, len)) = yaml_place(project, n, key) {
            d = d.with_source(src).with_label(off, len, "declared here");
        }
        out.push(suggest(d, &c.name));
    }
    if enforced && !n.columns.is_empty() {
        let extra: Vec<String> = produced
            .iter()
            .filter(|p| !n.columns.values().any(|c| c.name.eq_ignore_ascii_case(p)))
            .cloned()
            .collect();
        if !extra.is_empty() {
            let mut d = Diag::error(
                "XF0705",
                format!(
                    "model `{}` has an enforced contract, but its query also produces {} not declared in it",
                    n.name,
                    list(&extra)
                ),
            )
            .with_help("declare the columns in the model's YAML `columns:` or remove them from the query");
            if let Some((src, off, len)) = n
                .columns
                .keys()
                .next()
                .and_then(|k| yaml_place(project, n, k))
            {
                d = d
                    .with_source(src)
                    .with_label(off, len, "the contract's columns start here");
            }
            out.push(d);
        }
        for (key, c) in &n.columns {
            let Some(declared) = c.data_type.as_deref() else {
                continue;
            };
            let Some(found) = shape
                .columns
                .iter()
                .find(|x| x.name.eq_ignore_ascii_case(&c.name))
                .and_then(|x| x.data_type.as_deref())
            else {
                continue;
            };
            if let (Some(a), Some(b)) = (canonical_type(declared), canonical_type(found))
                && a != b
            {
                let mut d = Diag::error(
                    "XF0706",
                    format!(
                        "column `{}` of model `{}` is declared `{declared}` in its enforced contract, but the query gives `{found}`",
                        c.name, n.name
                    ),
                )
                .with_help(format!("cast it in the query, e.g. `cast({} as {declared})`", c.name));
                if let Some((src, off, len)) = yaml_place(project, n, key) {
                    d = d.with_source(src).with_label(off, len, "declared here");
                }
                out.push(d);
            }
        }
    }
    for (t, bare) in tested {
        if has(bare)
            || n.columns
                .values()
                .any(|c| c.name.eq_ignore_ascii_case(bare))
        {
            // Produced, or already reported as a documented column.
            continue;
        }
        let mut d = Diag::error(
            "XF0704",
            format!(
                "test `{}` is on column `{bare}`, which model `{}` does not produce",
                t.name, n.name
            ),
        );
        if let Some(span) = &t.span {
            d = d.with_source(project.source_text(&span.file)).with_label(
                span.offset,
                span.len,
                "test declared here",
            );
        }
        out.push(suggest(d, bare));
    }
}

/// The plain column a data test is on, when it names one (not an
/// expression).
fn tested_column(t: &Node) -> Option<&str> {
    let info = t.test.as_ref()?;
    let col = info.column_name.as_deref().or_else(|| {
        info.metadata
            .as_ref()
            .and_then(|m| m.kwargs.get("column_name"))
            .and_then(serde_json::Value::as_str)
    })?;
    let bare = col.trim_matches(|c| c == '"' || c == '`');
    (!bare.is_empty() && bare.chars().all(|c| c.is_alphanumeric() || c == '_')).then_some(bare)
}

/// A type name reduced to a family the warehouses agree on, or `None` when
/// it is not one xform can compare safely.
fn canonical_type(t: &str) -> Option<&'static str> {
    let t = t.trim().to_ascii_lowercase();
    let base = t.split('(').next().unwrap_or("").trim();
    Some(match base {
        "int" | "integer" | "int4" | "signed" => "integer",
        "bigint" | "int8" | "long" => "bigint",
        "smallint" | "int2" | "short" => "smallint",
        "text" | "varchar" | "string" | "character varying" => "text",
        "double" | "double precision" | "float8" => "double",
        "real" | "float4" => "real",
        "bool" | "boolean" => "boolean",
        "date" => "date",
        "timestamp" | "timestamp without time zone" | "datetime" => "timestamp",
        "timestamptz" | "timestamp with time zone" => "timestamptz",
        "numeric" | "decimal" => "decimal",
        _ => return None,
    })
}

/// Reads `--catalog`.
pub fn read_catalog(path: &std::path::Path) -> Result<Catalog, Diag> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diag::error(
            "XF0710",
            format!("cannot read catalog `{}`: {e}", path.display()),
        )
    })?;
    Catalog::parse(&text).map_err(|e| {
        Diag::error(
            "XF0710",
            format!("catalog `{}` is not valid JSON: {e}", path.display()),
        )
        .with_help("pass a `catalog.json` written by `dbt docs generate`")
    })
}
