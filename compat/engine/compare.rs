//! dbt's run against xform's: checks, and one line per difference.
//!
//! What counts as a check, step by step:
//!
//! - the exit status (both tools equal, and as `steps.yml` expects);
//! - the set of schemas, when it changed in either tool;
//! - every relation (present in either tool) that the step created or
//!   changed in either tool: kind, columns and their types, rows. A relation
//!   both tools left as it was is not checked again, so a difference is
//!   reported once, at the step that made it;
//! - every node in either tool's `run_results.json` (when the step wrote
//!   one): its status, and a test's number of failing rows;
//! - every file under `target/compiled` that the step wrote or changed in
//!   either tool, byte for byte (but for the files dbt writes for the
//!   pseudo-nodes of unit tests, see
//!   [`super::artifacts::unit_test_scaffolding`], and for the file two
//!   generic tests of the same name share, see
//!   [`super::artifacts::shared_test_files`]);
//! - after `compile` and `parse`, every node, source and exposure of the
//!   manifest (keys in order and values, except `created_at` and
//!   `root_path`), and the parent and child maps.
//!
//! In every line the value on the left is dbt's, on the right xform's.

use std::collections::{BTreeMap, BTreeSet};

use super::artifacts::{Manifest, NodeResult, RunResults};
use super::dump::{Dump, Relation};
use super::spec::{Known, Spec};
use super::{Run, StepOutcome, Warehouse};

/// The checks of one project on one warehouse.
#[derive(Debug, Default)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    /// Checks whose every difference is a known one (`steps.yml` `known:`).
    pub known: usize,
    /// One line per difference, some followed by indented detail lines;
    /// known ones as `(known) ...`.
    pub lines: Vec<String>,
}

/// The report being written, and how often each known difference occurred.
struct Checks<'a> {
    report: Report,
    known: Vec<(&'a Known, usize)>,
}

/// One difference: its line, and details (sample rows, the lines that
/// differ) printed indented below it.
struct Problem {
    line: String,
    details: Vec<String>,
}

fn problem(line: String) -> Problem {
    Problem {
        line,
        details: Vec::new(),
    }
}

impl Checks<'_> {
    fn check(&mut self, prefix: &str, problems: Vec<Problem>) {
        let report = &mut self.report;
        if problems.is_empty() {
            report.passed += 1;
            return;
        }
        let mut unknown = Vec::new();
        let mut known = Vec::new();
        for p in problems {
            match self.known.iter_mut().find(|(k, _)| k.matches(&p.line)) {
                Some((_, hits)) => {
                    *hits += 1;
                    known.push(p);
                }
                None => unknown.push(p),
            }
        }
        if unknown.is_empty() {
            report.known += 1;
        } else {
            report.failed += 1;
        }
        for p in unknown {
            report.lines.push(format!("{prefix}{}", p.line));
            for d in p.details {
                report.lines.push(format!("    {d}"));
            }
        }
        for p in known {
            report.lines.push(format!("(known) {prefix}{}", p.line));
        }
    }
}

/// How many sample rows a row difference shows per side.
const SAMPLES: usize = 3;

/// Compares dbt's run of a project with xform's.
pub fn compare(spec: &Spec, wh: Warehouse, dbt: &Run, xform: &Run) -> Report {
    let mut report = Checks {
        report: Report::default(),
        known: spec
            .known
            .iter()
            .filter(|k| k.on.is_none_or(|on| on == wh))
            .map(|k| (k, 0))
            .collect(),
    };
    let many = spec.steps.len() > 1;
    for (i, spec_step) in spec.steps.iter().enumerate() {
        let n = i + 1;
        let (Some(d), Some(x)) = (dbt.steps.get(i), xform.steps.get(i)) else {
            break;
        };
        let prefix = if many {
            format!("step {n} ({}): ", d.cmd)
        } else {
            String::new()
        };
        if xform.stopped == Some(n) {
            let why = spec.expect_xform_error.as_deref().unwrap_or_default();
            let mut problems = Vec::new();
            if x.exit != 1 || x.output.contains("panicked") {
                problems.push(Problem {
                    line: format!(
                        "xform should refuse with exit status 1 ({why}), exited {}",
                        x.exit
                    ),
                    details: tail(&x.output),
                });
            }
            report.check(&prefix, problems);
            return report.finish();
        }
        let expected = spec.from_file.then(|| spec_step.step().expected_exit(wh));
        report.check(&prefix, exit_problems(d, x, expected));
        let (pd, px) = match i.checked_sub(1) {
            Some(p) => (dbt.steps.get(p), xform.steps.get(p)),
            None => (None, None),
        };
        compare_dumps(
            &mut report,
            &prefix,
            (&d.dump, pd.map(|s| &s.dump)),
            (&x.dump, px.map(|s| &s.dump)),
        );
        let unordered = unordered_unit_tests(d.results.as_ref(), x.results.as_ref());
        compare_results(
            &mut report,
            &prefix,
            (d.results.as_ref(), x.results.as_ref()),
            &unordered,
        );
        compare_compiled(&mut report, &prefix, (d, pd), (x, px), &unordered);
        if d.manifest.is_some() || x.manifest.is_some() {
            compare_manifests(
                &mut report,
                &prefix,
                d.manifest.as_ref(),
                x.manifest.as_ref(),
            );
        }
    }
    if let Some(why) = &spec.expect_xform_error
        && xform.stopped.is_none()
    {
        report.check(
            "",
            vec![problem(format!(
                "xform ran every step, but should refuse ({why})"
            ))],
        );
    }
    report.finish()
}

impl Checks<'_> {
    /// The report, with a failed check for each known difference that did
    /// not occur (the list must only hold what is still true).
    fn finish(mut self) -> Report {
        for (k, hits) in &self.known {
            if *hits > 0 {
                self.report
                    .lines
                    .push(format!("(known, {hits}x) {}: {}", k.line, k.why.trim()));
            }
        }
        let stale: Vec<Problem> = self
            .known
            .iter()
            .filter(|(_, hits)| *hits == 0)
            .map(|(k, _)| {
                problem(format!(
                    "known difference did not occur (remove it from steps.yml): {}",
                    k.line
                ))
            })
            .collect();
        for p in stale {
            self.report.failed += 1;
            self.report.lines.push(p.line);
        }
        self.report
    }
}

/// The last lines of a command's output, for context.
fn tail(output: &str) -> Vec<String> {
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(5)..]
        .iter()
        .map(|l| truncate(l, 160))
        .collect()
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}...")
    }
}

fn exit_problems(d: &StepOutcome, x: &StepOutcome, expected: Option<i32>) -> Vec<Problem> {
    let mut problems = Vec::new();
    if d.exit != x.exit {
        let mut details = Vec::new();
        for (tool, s) in [("dbt", d), ("xform", x)] {
            if s.exit != 0 {
                details.extend(tail(&s.output).into_iter().map(|l| format!("{tool}: {l}")));
            }
        }
        problems.push(Problem {
            line: format!("exit status {} vs {}", d.exit, x.exit),
            details,
        });
    }
    if let Some(e) = expected
        && d.exit != e
    {
        problems.push(Problem {
            line: format!("dbt exited {}, steps.yml expects {e}", d.exit),
            details: tail(&d.output)
                .into_iter()
                .map(|l| format!("dbt: {l}"))
                .collect(),
        });
    }
    problems
}

/// `(this step's dump, the previous step's)` of one tool.
type Dumps<'a> = (&'a Dump, Option<&'a Dump>);

fn compare_dumps(report: &mut Checks, prefix: &str, (d, pd): Dumps, (x, px): Dumps) {
    if pd.is_none_or(|p| p.schemas != d.schemas) || px.is_none_or(|p| p.schemas != x.schemas) {
        let (ds, xs): (BTreeSet<&String>, BTreeSet<&String>) =
            (d.schemas.iter().collect(), x.schemas.iter().collect());
        let problems = ds
            .symmetric_difference(&xs)
            .map(|s| {
                let side = if ds.contains(s) { "dbt" } else { "xform" };
                problem(format!("schema {s}: only in {side}"))
            })
            .collect();
        report.check(prefix, problems);
    }
    let keys: BTreeSet<(&str, &str)> = d
        .relations
        .iter()
        .chain(&x.relations)
        .map(|r| (r.schema.as_str(), r.name.as_str()))
        .collect();
    for (schema, name) in keys {
        let (dr, xr) = (d.get(schema, name), x.get(schema, name));
        let changed = |now: Option<&Relation>, before: Option<&Dump>| match before {
            None => true,
            Some(b) => b.get(schema, name) != now,
        };
        if !changed(dr, pd) && !changed(xr, px) {
            continue;
        }
        report.check(prefix, relation_problems(dr, xr));
    }
}

fn relation_problems(d: Option<&Relation>, x: Option<&Relation>) -> Vec<Problem> {
    let (d, x) = match (d, x) {
        (Some(d), Some(x)) => (d, x),
        (Some(r), None) | (None, Some(r)) => {
            let side = if d.is_some() { "dbt" } else { "xform" };
            return vec![problem(format!(
                "relation {} ({}): only in {side}",
                r.qualified(),
                r.kind
            ))];
        }
        (None, None) => return Vec::new(),
    };
    let name = d.qualified();
    let mut problems = Vec::new();
    if d.kind != x.kind {
        problems.push(problem(format!(
            "relation {name}: {} vs {}",
            d.kind, x.kind
        )));
    }
    problems.extend(column_problems(&name, &d.columns, &x.columns));
    match (&d.rows, &x.rows) {
        (Ok(dr), Ok(xr)) if dr != xr => problems.push(row_problem(&name, dr, xr)),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => {
            let side = if d.rows.is_err() { "dbt" } else { "xform" };
            problems.push(problem(format!(
                "relation {name}: cannot read in {side}: {e}"
            )));
        }
        _ => {}
    }
    problems
}

fn column_problems(name: &str, d: &[(String, String)], x: &[(String, String)]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let dt: BTreeMap<&str, &str> = d.iter().map(|(c, t)| (c.as_str(), t.as_str())).collect();
    let xt: BTreeMap<&str, &str> = x.iter().map(|(c, t)| (c.as_str(), t.as_str())).collect();
    for (c, t) in &dt {
        match xt.get(c) {
            None => problems.push(problem(format!("relation {name}: column {c} only in dbt"))),
            Some(u) if u != t => {
                problems.push(problem(format!(
                    "relation {name}: column {c} type {t} vs {u}"
                )));
            }
            Some(_) => {}
        }
    }
    for c in xt.keys().filter(|c| !dt.contains_key(*c)) {
        problems.push(problem(format!(
            "relation {name}: column {c} only in xform"
        )));
    }
    let order = |cols: &[(String, String)], other: &BTreeMap<&str, &str>| -> Vec<String> {
        cols.iter()
            .filter(|(c, _)| other.contains_key(c.as_str()))
            .map(|(c, _)| c.clone())
            .collect()
    };
    let (od, ox) = (order(d, &xt), order(x, &dt));
    if od != ox {
        problems.push(problem(format!(
            "relation {name}: column order {} vs {}",
            od.join(", "),
            ox.join(", ")
        )));
    }
    problems
}

/// Rows as multisets: what only one side has, with samples.
fn row_problem(name: &str, d: &[String], x: &[String]) -> Problem {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for r in d {
        *counts.entry(r.as_str()).or_default() += 1;
    }
    for r in x {
        *counts.entry(r.as_str()).or_default() -= 1;
    }
    let only = |sign: i64| -> Vec<&str> {
        counts
            .iter()
            .filter(|(_, c)| c.signum() == sign)
            .flat_map(|(r, c)| std::iter::repeat_n(*r, usize::try_from(c.abs()).unwrap_or(0)))
            .collect()
    };
    let (only_d, only_x) = (only(1), only(-1));
    let plural = |n: usize| if n == 1 { "row" } else { "rows" };
    let what = format!(
        "{} {} only in dbt, {} only in xform",
        only_d.len(),
        plural(only_d.len()),
        only_x.len()
    );
    let line = if d.len() == x.len() {
        format!("relation {name}: {what}")
    } else {
        format!(
            "relation {name}: row count {} vs {} ({what})",
            d.len(),
            x.len()
        )
    };
    let mut details = Vec::new();
    for (side, rows) in [("dbt:  ", &only_d), ("xform:", &only_x)] {
        for r in rows.iter().take(SAMPLES) {
            details.push(format!("{side} {}", truncate(r, 200)));
        }
        if rows.len() > SAMPLES {
            details.push(format!("{side} ... {} more", rows.len() - SAMPLES));
        }
    }
    Problem { line, details }
}

/// `model orders`, `test not_null_orders_id` (without the hash),
/// `unit_test orders.test_name`, or the id itself.
pub fn node_label(id: &str) -> String {
    let parts: Vec<&str> = id.split('.').collect();
    match parts.as_slice() {
        ["test", _, name, ..] => format!("test {name}"),
        [kind, _, rest @ ..] if !rest.is_empty() => format!("{kind} {}", rest.join(".")),
        _ => id.to_owned(),
    }
}

/// The unit tests not compared because one tool skipped them after another
/// unit test of the same model failed: `build` runs a model's unit tests one
/// after another in its job and skips the rest after a failure, and dbt's
/// order is a Python set's, so it changes from run to run. The tests that
/// ran in both tools are still compared.
fn unordered_unit_tests(d: Option<&RunResults>, x: Option<&RunResults>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let (Some(d), Some(x)) = (d, x) else {
        return out;
    };
    let model_of = |id: &str| {
        id.strip_prefix("unit_test.")
            .and_then(|rest| rest.rsplit_once('.'))
            .map(|(model, _)| model.to_owned())
    };
    for results in [d, x] {
        let failed_models: BTreeSet<String> = results
            .iter()
            .filter(|(_, r)| r.status == "error" || r.status == "fail")
            .filter_map(|(id, _)| model_of(id))
            .collect();
        for (id, r) in results {
            if r.status == "skipped"
                && model_of(id).is_some_and(|m| failed_models.contains(&m))
                && d.get(id).map(|a| &a.status) != x.get(id).map(|b| &b.status)
            {
                out.insert(id.clone());
            }
        }
    }
    out
}

fn compare_results(
    report: &mut Checks,
    prefix: &str,
    (d, x): (Option<&RunResults>, Option<&RunResults>),
    unordered: &BTreeSet<String>,
) {
    match (d, x) {
        (None, None) => {}
        (Some(_), None) | (None, Some(_)) => {
            let side = if d.is_some() { "dbt" } else { "xform" };
            report.check(
                prefix,
                vec![problem(format!("run_results.json: written by {side} only"))],
            );
        }
        (Some(d), Some(x)) => {
            let ids: BTreeSet<&String> = d
                .keys()
                .chain(x.keys())
                .filter(|id| !unordered.contains(*id))
                .collect();
            for id in ids {
                let problems = match (d.get(id), x.get(id)) {
                    (Some(a), Some(b)) if same_result(id, a, b) => Vec::new(),
                    (a, b) => {
                        let describe = |r: Option<&NodeResult>| {
                            r.map_or_else(|| "not run".to_owned(), NodeResult::describe)
                        };
                        vec![problem(format!(
                            "{}: {} vs {}",
                            node_label(id),
                            describe(a),
                            describe(b)
                        ))]
                    }
                };
                report.check(prefix, problems);
            }
        }
    }
}

/// The same outcome: the same status, and for a test the same number of
/// failing rows (other nodes' `failures` is bookkeeping: dbt counts a
/// microbatch model's failed batches there).
fn same_result(id: &str, a: &NodeResult, b: &NodeResult) -> bool {
    let is_test = id.starts_with("test.") || id.starts_with("unit_test.");
    a.status == b.status && (!is_test || a.failures.unwrap_or(0) == b.failures.unwrap_or(0))
}

/// `(this step, the previous step)` of one tool.
type Steps<'a> = (&'a StepOutcome, Option<&'a StepOutcome>);

fn compare_compiled(
    report: &mut Checks,
    prefix: &str,
    (d, pd): Steps,
    (x, px): Steps,
    unordered: &BTreeSet<String>,
) {
    // A unit test's compiled file: `<package>/<properties file>/.../<name>.sql`.
    let unordered_file = |path: &str| {
        unordered.iter().any(|id| {
            let parts: Vec<&str> = id.split('.').collect();
            let (Some(pkg), Some(name)) = (parts.get(1), parts.last()) else {
                return false;
            };
            path.starts_with(&format!("{pkg}/"))
                && path.ends_with(&format!("/{name}.sql"))
                && (path.contains(".yml/") || path.contains(".yaml/"))
        })
    };
    let paths: BTreeSet<&String> = d
        .compiled
        .keys()
        .chain(x.compiled.keys())
        .filter(|p| !d.scaffolding.contains(*p) && !x.scaffolding.contains(*p))
        .filter(|p| {
            // Written by the tool that ran the test, when the other skipped it.
            let one_side = d.compiled.contains_key(*p) != x.compiled.contains_key(*p);
            !(one_side && unordered_file(p))
        })
        .collect();
    for path in paths {
        let (a, b) = (d.compiled.get(path), x.compiled.get(path));
        let changed = |now: Option<&String>, before: Option<&StepOutcome>| {
            before.is_none_or(|b| b.compiled.get(path) != now)
        };
        if !changed(a, pd) && !changed(b, px) {
            continue;
        }
        let problems = match (a, b) {
            (Some(a), Some(b)) if a == b => Vec::new(),
            (Some(a), Some(b)) => vec![text_problem(&format!("compiled {path}"), a, b)],
            (Some(_), None) => vec![problem(format!("compiled {path}: only in dbt"))],
            (None, Some(_)) => vec![problem(format!("compiled {path}: only in xform"))],
            (None, None) => Vec::new(),
        };
        report.check(prefix, problems);
    }
}

/// `what differs at line N`, with the two lines.
fn text_problem(what: &str, a: &str, b: &str) -> Problem {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.split('\n').collect(), b.split('\n').collect());
    let at = la
        .iter()
        .zip(&lb)
        .position(|(x, y)| x != y)
        .unwrap_or(la.len().min(lb.len()));
    let show = |lines: &[&str]| {
        lines.get(at).map_or_else(
            || "(end of file)".to_owned(),
            |l| format!("{:?}", truncate(l, 160)),
        )
    };
    Problem {
        line: format!("{what} differs at line {}", at + 1),
        details: vec![
            format!("dbt:   {}", show(&la)),
            format!("xform: {}", show(&lb)),
        ],
    }
}

fn compare_manifests(
    report: &mut Checks,
    prefix: &str,
    d: Option<&Manifest>,
    x: Option<&Manifest>,
) {
    let (Some(d), Some(x)) = (d, x) else {
        let side = if d.is_some() { "dbt" } else { "xform" };
        report.check(
            prefix,
            vec![problem(format!("manifest.json: written by {side} only"))],
        );
        return;
    };
    let ids: BTreeSet<&String> = d.entries.keys().chain(x.entries.keys()).collect();
    for id in ids {
        let problems = match (d.entries.get(id), x.entries.get(id)) {
            (Some(a), Some(b)) if a == b && keys(a) == keys(b) => Vec::new(),
            (Some(a), Some(b)) => vec![manifest_node_problem(id, a, b)],
            (Some(_), None) => vec![problem(format!("manifest {id}: only in dbt"))],
            (None, Some(_)) => vec![problem(format!("manifest {id}: only in xform"))],
            (None, None) => Vec::new(),
        };
        report.check(prefix, problems);
    }
    let mut problems = Vec::new();
    for (map, a, b) in [
        ("parent_map", &d.parent_map, &x.parent_map),
        ("child_map", &d.child_map, &x.child_map),
    ] {
        if a != b {
            problems.push(problem(format!("manifest {map} differs")));
        }
    }
    report.check(prefix, problems);
}

fn keys(v: &serde_json::Value) -> Vec<&String> {
    v.as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default()
}

fn manifest_node_problem(id: &str, a: &serde_json::Value, b: &serde_json::Value) -> Problem {
    let (ka, kb) = (keys(a), keys(b));
    let mut differing: Vec<String> = Vec::new();
    let mut details = Vec::new();
    for k in &ka {
        let (va, vb) = (&a[k.as_str()], &b[k.as_str()]);
        if !kb.contains(k) {
            differing.push(format!("{k} (only in dbt)"));
        } else if va != vb {
            differing.push((*k).clone());
            if details.len() < 2 * SAMPLES {
                let (path, va, vb) = first_difference(k, va, vb);
                details.push(format!("{path}: dbt:   {}", truncate(&va.to_string(), 160)));
                details.push(format!("{path}: xform: {}", truncate(&vb.to_string(), 160)));
            }
        }
    }
    for k in kb.iter().filter(|k| !ka.contains(k)) {
        differing.push(format!("{k} (only in xform)"));
    }
    if differing.is_empty() {
        differing.push("key order".to_owned());
    }
    Problem {
        line: format!(
            "manifest {id}: {} {}",
            differing.join(", "),
            if differing.len() == 1 {
                "differs"
            } else {
                "differ"
            }
        ),
        details,
    }
}

/// Where two JSON values first differ: the path (`columns.status.doc_blocks`)
/// and the two values there.
fn first_difference<'a>(
    path: &str,
    a: &'a serde_json::Value,
    b: &'a serde_json::Value,
) -> (String, &'a serde_json::Value, &'a serde_json::Value) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) if x.keys().eq(y.keys()) => {
            for (k, v) in x {
                if y.get(k) != Some(v) {
                    return first_difference(&format!("{path}.{k}"), v, &y[k]);
                }
            }
            (path.to_owned(), a, b)
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                if v != w {
                    return first_difference(&format!("{path}[{i}]"), v, w);
                }
            }
            (path.to_owned(), a, b)
        }
        _ => (path.to_owned(), a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::super::artifacts::NodeResult;
    use super::super::dump::{Dump, Relation};
    use super::super::spec::Spec;
    use super::super::{Run, StepOutcome, Tool, Warehouse};
    use super::{compare, node_label};

    fn relation(name: &str, kind: &str, rows: &[&str]) -> Relation {
        Relation {
            schema: "main".to_owned(),
            name: name.to_owned(),
            kind: kind.to_owned(),
            columns: vec![
                ("id".to_owned(), "INTEGER".to_owned()),
                ("status".to_owned(), "VARCHAR".to_owned()),
            ],
            rows: Ok(rows.iter().map(|r| (*r).to_owned()).collect()),
        }
    }

    fn step(cmd: &str, exit: i32, relations: Vec<Relation>) -> StepOutcome {
        StepOutcome {
            cmd: cmd.to_owned(),
            exit,
            output: String::new(),
            dump: Dump {
                schemas: vec!["main".to_owned()],
                relations,
            },
            results: None,
            compiled: std::collections::BTreeMap::new(),
            manifest: None,
            scaffolding: std::collections::BTreeSet::new(),
        }
    }

    fn run(tool: Tool, steps: Vec<StepOutcome>) -> Run {
        Run {
            tool,
            steps,
            stopped: None,
            dir: tempfile::tempdir().expect("temp dir"),
            database: None,
        }
    }

    #[test]
    fn row_differences_name_the_relation_counts_and_samples() {
        let spec = Spec::from_commands("build").expect("spec");
        let d = run(
            Tool::Dbt,
            vec![step(
                "build",
                0,
                vec![relation(
                    "orders",
                    "table",
                    &["1 | \"paid\"", "2 | \"paid\""],
                )],
            )],
        );
        let x = run(
            Tool::Xform,
            vec![step(
                "build",
                0,
                vec![relation("orders", "table", &["1 | \"paid\""])],
            )],
        );
        let r = compare(&spec, Warehouse::DuckDb, &d, &x);
        assert_eq!(
            r.lines,
            [
                "relation main.orders: row count 2 vs 1 (1 row only in dbt, 0 only in xform)",
                "    dbt:   2 | \"paid\"",
            ]
        );
        // exit status, schemas, the relation
        assert_eq!((r.passed, r.failed), (2, 1));
    }

    #[test]
    fn a_difference_is_reported_at_the_step_that_made_it() {
        let spec = Spec::from_commands("run; seed").expect("spec");
        let steps = |kind: &str| {
            vec![
                step("run", 0, vec![relation("a", kind, &[])]),
                step("seed", 1, vec![relation("a", kind, &[])]),
            ]
        };
        let d = run(Tool::Dbt, steps("table"));
        let x = run(Tool::Xform, steps("view"));
        let r = compare(&spec, Warehouse::DuckDb, &d, &x);
        // Step 2 leaves `a` as it was in both: not checked again.
        assert_eq!(r.lines, ["step 1 (run): relation main.a: table vs view"]);
        assert_eq!((r.passed, r.failed), (3, 1));
    }

    #[test]
    fn statuses_exits_and_compiled_sql_are_compared() {
        let spec = Spec::from_commands("test").expect("spec");
        let mut d = step("test", 0, Vec::new());
        let mut x = step("test", 1, Vec::new());
        let id = "test.shop.not_null_orders_id.abc123";
        d.results = Some(
            [(
                id.to_owned(),
                NodeResult {
                    status: "pass".to_owned(),
                    failures: Some(0),
                },
            )]
            .into(),
        );
        x.results = Some(
            [(
                id.to_owned(),
                NodeResult {
                    status: "fail".to_owned(),
                    failures: Some(3),
                },
            )]
            .into(),
        );
        d.compiled.insert(
            "shop/models/a.sql".to_owned(),
            "select\n1\nfrom t".to_owned(),
        );
        x.compiled.insert(
            "shop/models/a.sql".to_owned(),
            "select\n1\nfrom u".to_owned(),
        );
        x.output = "error: something broke\n".to_owned();
        let r = compare(
            &spec,
            Warehouse::DuckDb,
            &run(Tool::Dbt, vec![d]),
            &run(Tool::Xform, vec![x]),
        );
        assert_eq!(
            r.lines,
            [
                "exit status 0 vs 1",
                "    xform: error: something broke",
                "test not_null_orders_id: pass vs fail (3)",
                "compiled shop/models/a.sql differs at line 3",
                "    dbt:   \"from t\"",
                "    xform: \"from u\"",
            ]
        );
        assert_eq!((r.passed, r.failed), (1, 3));
    }

    #[test]
    fn unit_tests_skipped_after_a_sibling_failed_are_not_compared() {
        let spec = Spec::from_commands("build").expect("spec");
        let results = |statuses: &[(&str, &str)]| {
            Some(
                statuses
                    .iter()
                    .map(|(id, s)| {
                        (
                            (*id).to_owned(),
                            NodeResult {
                                status: (*s).to_owned(),
                                failures: None,
                            },
                        )
                    })
                    .collect(),
            )
        };
        let (ua, ub, uc) = ("unit_test.p.m.a", "unit_test.p.m.b", "unit_test.p.n.c");
        let mut d = step("build", 1, Vec::new());
        let mut x = step("build", 1, Vec::new());
        // dbt ran b first, xform a: each skipped the other. c (another
        // model, skipped by dbt without a failed sibling) is compared.
        d.results = results(&[(ua, "skipped"), (ub, "error"), (uc, "skipped")]);
        x.results = results(&[(ua, "fail"), (ub, "skipped"), (uc, "pass")]);
        d.compiled
            .insert("p/models/u.yml/models/b.sql".to_owned(), "x".to_owned());
        x.compiled
            .insert("p/models/u.yml/models/a.sql".to_owned(), "y".to_owned());
        let r = compare(
            &spec,
            Warehouse::DuckDb,
            &run(Tool::Dbt, vec![d]),
            &run(Tool::Xform, vec![x]),
        );
        assert_eq!(r.lines, ["unit_test n.c: skipped vs pass"]);
    }

    #[test]
    fn json_differences_are_located() {
        let a = serde_json::json!({"columns": {"id": {"doc_blocks": []}, "s": {"doc_blocks": []}}});
        let b = serde_json::json!({"columns": {"id": {"doc_blocks": []}, "s": {"doc_blocks": ["doc.p.x"]}}});
        let (path, x, y) = super::first_difference("n", &a, &b);
        assert_eq!(path, "n.columns.s.doc_blocks");
        assert_eq!(
            (x.to_string(), y.to_string()),
            ("[]".to_owned(), "[\"doc.p.x\"]".to_owned())
        );
    }

    #[test]
    fn node_labels_drop_the_package_and_test_hash() {
        assert_eq!(node_label("model.shop.orders"), "model orders");
        assert_eq!(
            node_label("test.shop.unique_orders_id.abc"),
            "test unique_orders_id"
        );
        assert_eq!(
            node_label("operation.shop.shop-on-run-end-0"),
            "operation shop-on-run-end-0"
        );
        assert_eq!(node_label("odd"), "odd");
    }
}
