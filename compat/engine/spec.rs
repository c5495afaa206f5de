//! What to run: a project's `steps.yml`, or commands given on the command
//! line.
//!
//! ```yaml
//! description: what the case covers          # optional, free text
//! expect_xform_error: why xform refuses      # optional, see below
//! statuses: true       # optional: run_results statuses in the recorded dump
//! not_on:              # optional: warehouses the case does not run on, and why
//!   duckdb: dbt-duckdb cannot ...
//! known:               # optional: differences from dbt that are known, and why
//!   - line: "compiled */unit_tests.yml/models/*.sql differs at line *"
//!     why: unit test fixtures are rendered differently
//!     on: postgres       # optional: only on this warehouse
//! steps:
//!   - seed                                   # a command line
//!   - cmd: run --full-refresh
//!     overlay: step_2        # copy <case>/step_2/** over the project first
//!     delete: [models/a.sql] # remove these project files first
//!     exit: 1                # expected exit status of both tools (default 0)
//!     postgres_exit: 1       # the same on Postgres, where it differs
//! ```
//!
//! `steps.yml` and top-level folders named `step_*` (the overlays) are not
//! part of the project. Overlays and deletions persist for later steps.
//! A case with `expect_xform_error` is one where dbt silently does something
//! wrong and xform deliberately refuses: xform must stop with exit status 1
//! at some step.
//!
//! A `known` difference is one the harness reports (as `(known) ...`) but
//! does not fail on: `line` is matched against each difference line
//! (without its `step N (...)` prefix), `*` standing for any text. A known
//! difference that no longer occurs fails the run, so that the list only
//! holds what is still true.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use super::Warehouse;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub expect_xform_error: Option<String>,
    /// Also record `run_results.json` statuses in the dump text
    /// ([`super::Run::render`]); the harness always compares them.
    #[serde(default)]
    pub statuses: bool,
    /// Warehouses this case is not meant for, with the reason.
    #[serde(default)]
    pub not_on: BTreeMap<Warehouse, String>,
    /// Differences from dbt that are known, with the reason.
    #[serde(default)]
    pub known: Vec<Known>,
    pub steps: Vec<StepSpec>,
    /// Whether the steps came from a `steps.yml` (whose `step_*` folders
    /// are overlays, not project files).
    #[serde(skip)]
    pub from_file: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Known {
    /// A difference line, `*` for any text.
    pub line: String,
    pub why: String,
    /// Only on this warehouse.
    #[serde(default)]
    pub on: Option<Warehouse>,
}

impl Known {
    /// Whether `line` is this difference.
    pub fn matches(&self, line: &str) -> bool {
        wildcard_match(&self.line, line)
    }
}

/// `pattern` matches all of `text`, `*` standing for any text.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StepSpec {
    Cmd(String),
    Full(Step),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub cmd: String,
    #[serde(default)]
    pub overlay: Option<String>,
    #[serde(default)]
    pub delete: Vec<String>,
    #[serde(default)]
    pub exit: i32,
    /// The expected exit status on Postgres, where it differs (Postgres
    /// does not cast implicitly where `DuckDB` does).
    #[serde(default)]
    pub postgres_exit: Option<i32>,
}

impl StepSpec {
    pub fn step(&self) -> Step {
        match self {
            StepSpec::Cmd(cmd) => Step {
                cmd: cmd.clone(),
                overlay: None,
                delete: Vec::new(),
                exit: 0,
                postgres_exit: None,
            },
            StepSpec::Full(step) => step.clone(),
        }
    }
}

impl Step {
    /// The exit status both tools should have on `wh`.
    pub fn expected_exit(&self, wh: Warehouse) -> i32 {
        match (wh, self.postgres_exit) {
            (Warehouse::Postgres, Some(e)) => e,
            _ => self.exit,
        }
    }
}

impl Spec {
    /// `<project>/steps.yml`, if there is one.
    pub fn load(project: &Path) -> Result<Option<Spec>> {
        let path = project.join("steps.yml");
        if !path.exists() {
            return Ok(None);
        }
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        let mut spec: Spec =
            serde_saphyr::from_str(&text).with_context(|| format!("{}", path.display()))?;
        if spec.steps.is_empty() {
            bail!("{}: no steps", path.display());
        }
        spec.from_file = true;
        Ok(Some(spec))
    }

    /// Steps from a `;`-separated list of commands (`"seed; build"`).
    pub fn from_commands(commands: &str) -> Result<Spec> {
        let steps: Vec<StepSpec> = commands
            .split(';')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| StepSpec::Cmd(c.to_owned()))
            .collect();
        if steps.is_empty() {
            bail!("no commands in `{commands}`");
        }
        Ok(Spec {
            description: None,
            expect_xform_error: None,
            statuses: false,
            not_on: BTreeMap::new(),
            known: Vec::new(),
            steps,
            from_file: false,
        })
    }

    /// The commands, for a header line: `seed; build`.
    pub fn summary(&self) -> String {
        self.steps
            .iter()
            .map(|s| s.step().cmd)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Splits a command line into arguments the way a shell would for simple
/// cases: whitespace separates, single and double quotes group (so
/// `run --vars '{a: 1}'` is three arguments), a backslash escapes the next
/// character outside single quotes.
pub fn split_args(cmd: &str) -> Result<Vec<String>> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_arg = false;
    let mut quote: Option<char> = None;
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_arg = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_arg = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_arg {
                    args.push(std::mem::take(&mut cur));
                    in_arg = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_arg = true;
            }
        }
    }
    if quote.is_some() {
        bail!("unclosed quote in `{cmd}`");
    }
    if in_arg {
        args.push(cur);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::{split_args, wildcard_match};

    #[test]
    fn known_lines_match_with_wildcards() {
        assert!(wildcard_match(
            "compiled *.sql differs at line *",
            "compiled a/b.sql differs at line 3"
        ));
        assert!(wildcard_match("exit status 0 vs 1", "exit status 0 vs 1"));
        assert!(!wildcard_match("exit status 0 vs 1", "exit status 0 vs 2"));
        assert!(!wildcard_match(
            "compiled *.sql",
            "compiled a.sql: only in dbt"
        ));
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("a*b*c", "abc"));
        assert!(!wildcard_match("a*b*c", "acb"));
    }

    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(
            split_args("run --vars '{a: 1, b: \"x y\"}' -s  tag:x").expect("args"),
            ["run", "--vars", "{a: 1, b: \"x y\"}", "-s", "tag:x"]
        );
        assert_eq!(
            split_args(r#"a "b \" c" d\ e"#).expect("args"),
            ["a", "b \" c", "d e"]
        );
        assert!(split_args("run 'open").is_err());
    }
}
