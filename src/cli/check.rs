//! `xform check` and `xform lineage`.

use std::fmt::Write as _;
use std::time::Instant;

use super::args::{CheckArgs, CheckFormat, LineageArgs, LineageFormat};
use super::{GlobalArgs, Outcome, Printer};
use crate::check::Report;
use crate::diagnostics::{Diag, Diags};
use crate::lineage::{ColumnEdge, ColumnId, Direction, LineageGraph};
use crate::node::ResourceType;

pub(super) fn check_command(g: &GlobalArgs, a: &CheckArgs, printer: &Printer) -> Outcome {
    let t0 = Instant::now();
    let prefix = repo_prefix(g);
    let loaded = match super::load(g, true) {
        Ok(l) => l,
        Err(d) => return emit(a.format, &prefix, printer, &d, None),
    };
    if loaded.diags.has_errors() {
        return emit(a.format, &prefix, printer, &loaded.diags, None);
    }
    let catalog = match a.catalog.as_deref().map(crate::check::read_catalog) {
        Some(Err(d)) => return emit(a.format, &prefix, printer, &Diags(vec![d]), None),
        Some(Ok(c)) => Some(c),
        None => None,
    };
    let ids = match super::select_nodes(&loaded, &a.select, &[], printer) {
        Ok(ids) => ids,
        Err(d) => return emit(a.format, &prefix, printer, &Diags(vec![d]), None),
    };
    let report = crate::check::check(
        &loaded.project,
        &loaded.renderer,
        &loaded.dag,
        &ids,
        crate::check::Options {
            catalog: catalog.as_ref(),
            lints: a.warn,
            dialect: a.dialect.as_deref(),
            rendered: None,
        },
    );
    let outcome = emit(a.format, &prefix, printer, &loaded.diags, Some(&report));
    if a.format == CheckFormat::Human && matches!(outcome, Outcome::Ok) {
        printer.info(&format!(
            "Checked {} model{} in {:.2}s: no errors",
            report.models.len(),
            if report.models.len() == 1 { "" } else { "s" },
            t0.elapsed().as_secs_f64()
        ));
    }
    super::exit_without_drop(loaded);
    outcome
}

/// Prints the diagnostics of a check in `format`; user error when any is an
/// error.
/// The project folder relative to the root of its git repository: GitHub
/// wants annotation paths relative to the repository.
fn repo_prefix(g: &GlobalArgs) -> String {
    let dir = g
        .project_dir
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    let Ok(dir) = dir.canonicalize() else {
        return String::new();
    };
    dir.ancestors()
        .find(|a| a.join(".git").exists())
        .and_then(|root| dir.strip_prefix(root).ok())
        .map(|rel| rel.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default()
}

fn emit(
    format: CheckFormat,
    prefix: &str,
    printer: &Printer,
    early: &Diags,
    report: Option<&Report>,
) -> Outcome {
    let all: Vec<&Diag> = early
        .0
        .iter()
        .chain(report.into_iter().flat_map(Report::all_diags))
        .collect();
    let errors = all.iter().filter(|d| d.is_error()).count();
    match format {
        CheckFormat::Human => {
            for d in &all {
                printer.diag(d);
            }
        }
        CheckFormat::Github => {
            for d in &all {
                printer.data(&github_annotation(d, prefix));
            }
        }
        CheckFormat::Json => {
            let diags: Vec<serde_json::Value> = all.iter().map(|d| diag_json(d)).collect();
            let v = serde_json::json!({
                "models_checked": report.map_or(0, |r| r.models.len()),
                "errors": errors,
                "diagnostics": diags,
            });
            printer.data(&v.to_string());
        }
        CheckFormat::Junit => printer.data(&junit(early, report)),
    }
    if errors > 0 {
        if format == CheckFormat::Human {
            return super::fail_count(printer, &Diags(all.into_iter().cloned().collect()));
        }
        return Outcome::UserError;
    }
    Outcome::Ok
}

fn diag_json(d: &Diag) -> serde_json::Value {
    let loc = d.location();
    serde_json::json!({
        "code": d.code,
        "severity": if d.is_error() { "error" } else { "warning" },
        "message": d.message,
        "file": loc.as_ref().map(|l| &l.0),
        "line": loc.as_ref().map(|l| l.1),
        "column": loc.as_ref().map(|l| l.2),
        "help": d.help,
    })
}

/// A GitHub Actions workflow command (`::error file=...::message`).
fn github_annotation(d: &Diag, prefix: &str) -> String {
    fn data(s: &str) -> String {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    }
    fn prop(s: &str) -> String {
        data(s).replace(':', "%3A").replace(',', "%2C")
    }
    let level = if d.is_error() { "error" } else { "warning" };
    let mut props = vec![format!("title={}", prop(d.code))];
    if let Some((file, line, col)) = d.location() {
        props.insert(0, format!("col={col}"));
        props.insert(0, format!("line={line}"));
        let file = if prefix.is_empty() || std::path::Path::new(&file).is_absolute() {
            file
        } else {
            format!("{prefix}/{file}")
        };
        props.insert(0, format!("file={}", prop(&file)));
    }
    let mut msg = d.message.clone();
    if let Some(h) = &d.help {
        let _ = write!(msg, "\nhelp: {h}");
    }
    format!("::{level} {}::{}", props.join(","), data(&msg))
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn failure_text(diags: &[&Diag]) -> String {
    diags
        .iter()
        .map(|d| {
            let at = d
                .location()
                .map(|(f, l, c)| format!("{f}:{l}:{c}: "))
                .unwrap_or_default();
            let help = d
                .help
                .as_ref()
                .map(|h| format!(" (help: {h})"))
                .unwrap_or_default();
            format!("{at}[{}] {}{help}", d.code, d.message)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A `JUnit` report: one test case per checked model, and one for problems of
/// the project as a whole.
fn junit(early: &Diags, report: Option<&Report>) -> String {
    let mut cases = String::new();
    let mut tests = 0;
    let mut failures = 0;
    let mut case = |name: &str, class: &str, diags: Vec<&Diag>| {
        tests += 1;
        let errs: Vec<&Diag> = diags.into_iter().filter(|d| d.is_error()).collect();
        let _ = write!(
            cases,
            "    <testcase name=\"{}\" classname=\"{}\"",
            xml(name),
            xml(class)
        );
        if errs.is_empty() {
            cases.push_str("/>\n");
        } else {
            failures += 1;
            let _ = write!(
                cases,
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                xml(&errs[0].message),
                xml(&failure_text(&errs))
            );
        }
    };
    let project_diags: Vec<&Diag> = early
        .0
        .iter()
        .chain(report.into_iter().flat_map(|r| r.diags.0.iter()))
        .collect();
    if report.is_none() || !project_diags.is_empty() {
        case("project", "xform.check", project_diags);
    }
    for m in report.map(|r| r.models.as_slice()).unwrap_or_default() {
        case(&m.id, &m.file, m.diags.iter().collect());
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"xform check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">\n{cases}  </testsuite>\n</testsuites>"
    )
}

/// The node a `lineage` argument names: a unique id, a model, seed or
/// snapshot name, or `source_name.table`.
fn find_node(project: &crate::project::Project, name: &str) -> Option<String> {
    if project.nodes.contains_key(name) {
        return Some(name.to_owned());
    }
    let candidates = project.nodes.values().filter(|n| {
        matches!(
            n.resource_type,
            ResourceType::Model
                | ResourceType::Seed
                | ResourceType::Snapshot
                | ResourceType::Source
        )
    });
    let mut found = None;
    for n in candidates {
        let matches = match n.resource_type {
            ResourceType::Source => n
                .source
                .as_ref()
                .is_some_and(|s| format!("{}.{}", s.source_name, n.name) == name),
            _ => n.name == name,
        };
        if matches {
            // The root project's node wins over a package's.
            if found.is_none() || n.package_name == project.root {
                found = Some(n.unique_id.clone());
            }
        }
    }
    found
}

pub(super) fn lineage_command(g: &GlobalArgs, a: &LineageArgs, printer: &Printer) -> Outcome {
    let loaded = match super::load(g, true) {
        Ok(l) => l,
        Err(d) => return super::fail(printer, &d),
    };
    printer.diags(&loaded.diags);
    if loaded.diags.has_errors() {
        return super::fail_count(printer, &loaded.diags);
    }
    let catalog = match a.catalog.as_deref().map(crate::check::read_catalog) {
        Some(Err(d)) => return super::fail(printer, &Diags(vec![d])),
        Some(Ok(c)) => Some(c),
        None => None,
    };
    let found = find_node(&loaded.project, &a.node)
        .map(|id| (id, None))
        .or_else(|| {
            a.node
                .rsplit_once('.')
                .and_then(|(n, c)| find_node(&loaded.project, n).map(|id| (id, Some(c.to_owned()))))
        });
    let Some((node, column)) = found else {
        let names = loaded
            .project
            .nodes
            .values()
            .filter(|n| n.resource_type == ResourceType::Model)
            .map(|n| n.name.as_str());
        let mut d = Diag::error(
            "XF0720",
            format!("`{}` is not a model, seed, snapshot or source", a.node),
        );
        if let Some(best) = crate::diagnostics::closest(&a.node, names) {
            d = d.with_help(format!("did you mean `{best}`?"));
        }
        return super::fail(printer, &Diags(vec![d]));
    };
    let ids: Vec<String> = loaded.project.nodes.keys().cloned().collect();
    let report = crate::check::check(
        &loaded.project,
        &loaded.renderer,
        &loaded.dag,
        &ids,
        crate::check::Options {
            catalog: catalog.as_ref(),
            lints: false,
            dialect: None,
            rendered: None,
        },
    );
    let graph = &report.inference.graph;
    let dirs: Vec<Direction> = match (a.upstream, a.downstream) {
        (true, false) => vec![Direction::Upstream],
        (false, true) => vec![Direction::Downstream],
        _ => vec![Direction::Upstream, Direction::Downstream],
    };
    let out = match column {
        None => model_lineage(&loaded.dag, &node, &dirs, a.format),
        Some(col) => {
            let Some(c) = graph.column(&node, &col) else {
                let known: Vec<&str> = graph
                    .nodes
                    .get(&node)
                    .map(|n| n.columns.iter().map(|c| c.name.as_str()).collect())
                    .unwrap_or_default();
                let mut d = Diag::error("XF0721", format!("`{node}` has no known column `{col}`"));
                if let Some(best) = crate::diagnostics::closest(&col, known.iter().copied()) {
                    d = d.with_help(format!("did you mean `{best}`?"));
                } else if graph.nodes.get(&node).is_some_and(|n| !n.columns_complete) {
                    d = d.with_help(
                        "its columns are not all known: declare them in YAML or pass --catalog",
                    );
                }
                return super::fail(printer, &Diags(vec![d]));
            };
            let start = ColumnId {
                node: node.clone(),
                column: c.name.clone(),
            };
            column_lineage(graph, &start, &dirs, a.format)
        }
    };
    printer.data(out.trim_end());
    super::exit_without_drop(loaded);
    Outcome::Ok
}

fn dir_name(d: Direction) -> &'static str {
    match d {
        Direction::Upstream => "upstream",
        Direction::Downstream => "downstream",
    }
}

fn model_lineage(
    dag: &crate::graph::Dag,
    node: &str,
    dirs: &[Direction],
    format: LineageFormat,
) -> String {
    let mut edges: Vec<(Direction, String, String)> = Vec::new();
    for &d in dirs {
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![node.to_owned()];
        while let Some(at) = stack.pop() {
            let next: Vec<&str> = match d {
                Direction::Upstream => dag.parents(&at),
                Direction::Downstream => dag.children(&at),
            };
            for n in next {
                edges.push((d, at.clone(), n.to_owned()));
                if seen.insert(n.to_owned()) {
                    stack.push(n.to_owned());
                }
            }
        }
    }
    match format {
        LineageFormat::Json => {
            let mut v = serde_json::json!({ "node": node });
            for &d in dirs {
                let mut ids: Vec<&str> = edges
                    .iter()
                    .filter(|e| e.0 == d)
                    .map(|e| e.2.as_str())
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                v[dir_name(d)] = serde_json::json!(ids);
            }
            v.to_string()
        }
        LineageFormat::Dot => {
            let mut out = String::from("digraph lineage {\n  rankdir=LR;\n");
            let mut lines: Vec<String> = edges
                .iter()
                .map(|(d, a, b)| match d {
                    Direction::Upstream => format!("  {} -> {};\n", dot_id(b), dot_id(a)),
                    Direction::Downstream => format!("  {} -> {};\n", dot_id(a), dot_id(b)),
                })
                .collect();
            lines.sort();
            lines.dedup();
            out.extend(lines);
            out.push('}');
            out
        }
        LineageFormat::Text => {
            let mut out = format!("{node}\n");
            for &d in dirs {
                let _ = writeln!(out, "{}:", dir_name(d));
                let arrow = if d == Direction::Upstream { "<-" } else { "->" };
                tree(&mut out, node, arrow, &|at: &str| {
                    let mut next: Vec<(String, String)> = edges
                        .iter()
                        .filter(|e| e.0 == d && e.1 == at)
                        .map(|e| (e.2.clone(), String::new()))
                        .collect();
                    next.sort();
                    next.dedup();
                    next
                });
            }
            out
        }
    }
}

fn column_lineage(
    graph: &LineageGraph,
    start: &ColumnId,
    dirs: &[Direction],
    format: LineageFormat,
) -> String {
    let walks: Vec<(Direction, Vec<(usize, ColumnEdge)>)> =
        dirs.iter().map(|&d| (d, graph.walk(start, d))).collect();
    let label = |c: &ColumnId| format!("{}.{}", c.node, c.column);
    match format {
        LineageFormat::Json => {
            let mut v = serde_json::json!({ "node": start.node, "column": start.column });
            for (d, edges) in &walks {
                let list: Vec<&ColumnEdge> = edges.iter().map(|(_, e)| e).collect();
                v[dir_name(*d)] = serde_json::to_value(list).unwrap_or_default();
            }
            v.to_string()
        }
        LineageFormat::Dot => {
            let mut out = String::from("digraph lineage {\n  rankdir=LR;\n");
            let mut lines: Vec<String> = walks
                .iter()
                .flat_map(|(_, es)| es.iter())
                .map(|(_, e)| {
                    format!(
                        "  {} -> {} [label={}];\n",
                        dot_id(&label(&e.from)),
                        dot_id(&label(&e.to)),
                        e.kind.as_str()
                    )
                })
                .collect();
            lines.sort();
            lines.dedup();
            out.extend(lines);
            out.push('}');
            out
        }
        LineageFormat::Text => {
            let mut out = format!("{}\n", label(start));
            for (d, edges) in &walks {
                let _ = writeln!(out, "{}:", dir_name(*d));
                let arrow = if *d == Direction::Upstream {
                    "<-"
                } else {
                    "->"
                };
                let d = *d;
                tree(&mut out, &label(start), arrow, &|at: &str| {
                    let mut next: Vec<(String, String)> = edges
                        .iter()
                        .filter(|(_, e)| {
                            let here = if d == Direction::Upstream {
                                &e.to
                            } else {
                                &e.from
                            };
                            label(here) == at
                        })
                        .map(|(_, e)| {
                            let there = if d == Direction::Upstream {
                                &e.from
                            } else {
                                &e.to
                            };
                            (label(there), format!(" ({})", e.kind.as_str()))
                        })
                        .collect();
                    next.sort();
                    next.dedup();
                    next
                });
            }
            out
        }
    }
}

/// Prints a tree depth first; a node already printed is not expanded again.
fn tree(out: &mut String, root: &str, arrow: &str, next: &dyn Fn(&str) -> Vec<(String, String)>) {
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<(usize, String, String)> = next(root)
        .into_iter()
        .rev()
        .map(|(n, note)| (1, n, note))
        .collect();
    if stack.is_empty() {
        out.push_str("  (none)\n");
    }
    while let Some((depth, at, note)) = stack.pop() {
        let first = seen.insert(at.clone());
        let _ = writeln!(
            out,
            "{}{arrow} {at}{note}{}",
            "  ".repeat(depth),
            if first { "" } else { " ..." }
        );
        if first {
            for (n, note) in next(&at).into_iter().rev() {
                stack.push((depth + 1, n, note));
            }
        }
    }
}

fn dot_id(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
