//! Node selection as dbt-core 1.11 does it: `--select`, `--exclude`,
//! `--selector`, `selectors.yml`, graph operators and indirect selection of
//! tests.
//!
//! A selection is parsed into a `Spec` tree first (so that syntax errors
//! surface before any work), then evaluated against the project graph. Like
//! dbt, every criterion yields two sets: nodes selected directly and tests
//! that were only touched indirectly (some but not all of their parents
//! selected). Set operations combine both and may promote indirect tests when
//! the combined selection covers all their parents.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet, VecDeque};

use indexmap::{IndexMap, IndexSet};
use serde_json::Value;

use crate::graph::Dag;
use crate::node::{Node, ResourceType, Version};

/// How tests next to selected nodes join the selection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IndirectSelection {
    /// A test joins when any of its parents is selected.
    #[default]
    Eager,
    /// A test joins only when all of its parents are selected.
    Cautious,
    /// A test joins when each parent is selected or upstream of a selected node.
    Buildable,
    /// Tests never join indirectly.
    Empty,
}

impl IndirectSelection {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "eager" => Self::Eager,
            "cautious" => Self::Cautious,
            "buildable" => Self::Buildable,
            "empty" => Self::Empty,
            _ => return None,
        })
    }
}

/// What the command line asked for.
#[derive(Clone, Copy)]
pub struct SelectOptions<'a> {
    pub select: &'a [String],
    pub exclude: &'a [String],
    pub selector: Option<&'a str>,
    /// Keep only these resource types at the end; empty keeps all.
    pub resource_types: &'a [ResourceType],
    pub indirect_selection: IndirectSelection,
    /// Whether a `default: true` selector applies when nothing is selected.
    pub default_selector_allowed: bool,
    /// The artifacts of an earlier run (`--state`), for `state:` and `result:`.
    pub state: Option<&'a dyn StateLookup>,
}

/// What a `state:` criterion asks of a node, compared with the state manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateSelector {
    /// Not in the state manifest.
    New,
    /// In the state manifest.
    Old,
    /// New, or different from its state counterpart in any aspect.
    Modified(Option<Aspect>),
    /// In the state manifest and not modified.
    Unmodified,
}

/// One aspect of `state:modified.<aspect>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aspect {
    Body,
    Configs,
    Relation,
    PersistedDescriptions,
    Contract,
    Macros,
    /// xform: a `var()` the node reads has another value.
    Vars,
    /// xform: the columns of a source the node reads (or of the source itself) changed.
    Sources,
}

impl StateSelector {
    /// Every value `state:` accepts.
    pub const NAMES: &'static [&'static str] = &[
        "new",
        "old",
        "modified",
        "unmodified",
        "modified.body",
        "modified.configs",
        "modified.relation",
        "modified.persisted_descriptions",
        "modified.contract",
        "modified.macros",
        "modified.vars",
        "modified.sources",
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "new" => Self::New,
            "old" => Self::Old,
            "modified" => Self::Modified(None),
            "unmodified" => Self::Unmodified,
            _ => Self::Modified(Some(match s.strip_prefix("modified.")? {
                "body" => Aspect::Body,
                "configs" => Aspect::Configs,
                "relation" => Aspect::Relation,
                "persisted_descriptions" => Aspect::PersistedDescriptions,
                "contract" => Aspect::Contract,
                "macros" => Aspect::Macros,
                "vars" => Aspect::Vars,
                "sources" => Aspect::Sources,
                _ => return None,
            })),
        })
    }
}

/// The statuses `result:` accepts, as `run_results.json` spells them.
pub const RESULT_STATUSES: &[&str] = &[
    "success",
    "error",
    "fail",
    "warn",
    "skipped",
    "pass",
    "runtime error",
    "no-op",
    "partial success",
];

/// The artifacts of an earlier run, answering `state:` and `result:`
/// criteria. Errors are finished diagnostics (a missing or malformed
/// artifact).
pub trait StateLookup {
    /// The unique ids that `state:<selector>` matches.
    fn state(&self, selector: StateSelector) -> Result<HashSet<String>, crate::diagnostics::Diag>;
    /// The unique ids whose status in the earlier run was `status`.
    fn result(&self, status: &str) -> Result<HashSet<String>, crate::diagnostics::Diag>;
}

/// Errors in selection strings and `selectors.yml`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SelectError {
    #[error("unknown selection method `{method}` in `{spec}`")]
    #[diagnostic(code(xform::XF0301))]
    UnknownMethod {
        method: String,
        spec: String,
        #[help]
        help: Option<String>,
    },
    #[error("malformed selection `{spec}`: {reason}")]
    #[diagnostic(code(xform::XF0302))]
    Malformed {
        spec: String,
        reason: String,
        #[help]
        help: Option<String>,
    },
    #[error("unknown selector `{name}`")]
    #[diagnostic(code(xform::XF0303))]
    UnknownSelector {
        name: String,
        #[help]
        help: Option<String>,
    },
    #[error("invalid definition of selector `{name}` in `selectors.yml`: {reason}")]
    #[diagnostic(code(xform::XF0304))]
    InvalidSelector {
        name: String,
        reason: String,
        #[help]
        help: Option<String>,
    },
    #[error("invalid `selectors.yml`: {reason}")]
    #[diagnostic(
        code(xform::XF0304),
        help(
            "`selectors.yml` must have a `selectors:` list of entries with `name` and `definition`"
        )
    )]
    InvalidSelectorsFile { reason: String },
    #[error("the `{method}:` selection method in `{spec}` needs `--state <dir>`")]
    #[diagnostic(
        code(xform::XF0305),
        help(
            "`state:` and `result:` compare with the artifacts of an earlier run: pass the folder holding its manifest.json (and run_results.json), e.g. `--state prod-artifacts/` (or set DBT_STATE)"
        )
    )]
    NeedsState { method: String, spec: String },
    /// A problem with the state artifacts, already a diagnostic.
    #[error("{}", .0.message)]
    State(Box<crate::diagnostics::Diag>),
}

impl SelectError {
    fn help_text(&self) -> Option<String> {
        miette::Diagnostic::help(self).map(|h| h.to_string())
    }

    fn malformed(spec: &str, reason: impl Into<String>, help: Option<String>) -> Self {
        Self::Malformed {
            spec: spec.to_owned(),
            reason: reason.into(),
            help,
        }
    }
}

// ---------------------------------------------------------------------------
// Selection trees

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetOp {
    Union,
    Intersection,
    /// The first part minus all the others.
    Difference,
}

#[derive(Clone, Debug)]
enum Spec {
    /// Every selectable node (no `--select`).
    All,
    Criteria(Box<Criteria>),
    Set {
        op: SetOp,
        parts: Vec<Spec>,
        indirect: Option<IndirectSelection>,
    },
}

impl Spec {
    fn set(op: SetOp, parts: Vec<Spec>) -> Self {
        Self::Set {
            op,
            parts,
            indirect: None,
        }
    }
}

/// One selection atom such as `2+tag:nightly+`.
#[derive(Clone, Debug)]
struct Criteria {
    raw: String,
    matcher: Matcher,
    childrens_parents: bool,
    /// `Some(depth)` when ancestors are wanted; `depth` `None` means all.
    parents: Option<Option<usize>>,
    children: Option<Option<usize>>,
    indirect: Option<IndirectSelection>,
}

const METHODS: &[&str] = &[
    "fqn",
    "tag",
    "group",
    "access",
    "source",
    "path",
    "file",
    "package",
    "config",
    "test_name",
    "test_type",
    "resource_type",
    "exposure",
    "metric",
    "semantic_model",
    "saved_query",
    "unit_test",
    "version",
    "state",
    "result",
    "source_status",
];

/// Resource types dbt knows that xform has no nodes for; selecting them is
/// valid and finds nothing.
const OTHER_RESOURCE_TYPES: &[&str] = &[
    "metric",
    "semantic_model",
    "saved_query",
    "doc",
    "operation",
    "sql_operation",
    "rpc",
    "function",
    "fixture",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VersionSel {
    Latest,
    Prerelease,
    Old,
    None,
}

#[derive(Clone, Debug)]
enum PathSeg {
    /// `**`: any number of folders.
    AnyDirs,
    Pat(Pattern),
}

/// What a criterion matches before graph operators apply.
#[derive(Clone, Debug)]
enum Matcher {
    Fqn(FqnSel),
    Tag(Pattern),
    Group(Pattern),
    Access(String),
    Source {
        package: Pattern,
        source: Pattern,
        table: Pattern,
    },
    Exposure {
        package: Pattern,
        name: Pattern,
    },
    /// Segments of a glob relative to the project root; empty matches all.
    Path(Vec<PathSeg>),
    File(Pattern),
    /// `None` is `package:this`, the root project.
    Package(Option<Pattern>),
    Config {
        keys: Vec<String>,
        value: String,
    },
    TestName {
        name: Pattern,
        qualified: Option<(Pattern, Pattern)>,
    },
    TestType {
        generic: bool,
        singular: bool,
        unit: bool,
    },
    ResourceType(Option<ResourceType>),
    UnitTest {
        package: Option<Pattern>,
        name: Pattern,
        fqn: Option<FqnSel>,
    },
    Version(VersionSel),
    /// Methods for resources xform does not have (metrics, saved queries…).
    Nothing,
    State(StateSelector),
    Result(String),
    SourceStatus,
}

// ---------------------------------------------------------------------------
// fnmatch-style patterns (`*`, `?`, `[abc]`, `[!a-z]`), case-sensitive

#[derive(Clone, Debug)]
enum Tok {
    Star,
    Any,
    Lit(char),
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

#[derive(Clone, Debug)]
struct Pattern {
    toks: Vec<Tok>,
    /// Set when the pattern has no wildcards, for a plain comparison.
    literal: Option<String>,
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '[', ']'])
}

impl Pattern {
    fn new(pat: &str) -> Self {
        let chars: Vec<char> = pat.chars().collect();
        let mut toks = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => {
                    if !matches!(toks.last(), Some(Tok::Star)) {
                        toks.push(Tok::Star);
                    }
                    i += 1;
                }
                '?' => {
                    toks.push(Tok::Any);
                    i += 1;
                }
                '[' => {
                    if let Some((tok, next)) = Self::class(&chars, i + 1) {
                        toks.push(tok);
                        i = next;
                    } else {
                        toks.push(Tok::Lit('['));
                        i += 1;
                    }
                }
                c => {
                    toks.push(Tok::Lit(c));
                    i += 1;
                }
            }
        }
        let literal = toks
            .iter()
            .all(|t| matches!(t, Tok::Lit(_)))
            .then(|| pat.to_owned());
        Self { toks, literal }
    }

    /// Parses a `[...]` class starting after the `[`; `None` when unclosed.
    fn class(chars: &[char], start: usize) -> Option<(Tok, usize)> {
        let mut i = start;
        let negated = chars.get(i) == Some(&'!');
        if negated {
            i += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = *chars.get(i)?;
            if c == ']' && !first {
                return Some((Tok::Class { negated, ranges }, i + 1));
            }
            first = false;
            if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&e| e != ']') {
                let end = *chars.get(i + 2)?;
                ranges.push((c, end));
                i += 3;
            } else {
                ranges.push((c, c));
                i += 1;
            }
        }
    }

    fn tok_matches(tok: &Tok, c: char) -> bool {
        match tok {
            Tok::Star | Tok::Any => true,
            Tok::Lit(l) => *l == c,
            Tok::Class { negated, ranges } => {
                ranges.iter().any(|&(a, b)| a <= c && c <= b) != *negated
            }
        }
    }

    fn matches(&self, text: &str) -> bool {
        if let Some(lit) = &self.literal {
            return lit == text;
        }
        let s: Vec<char> = text.chars().collect();
        let p = &self.toks;
        let (mut si, mut pi) = (0usize, 0usize);
        let mut backtrack: Option<(usize, usize)> = None;
        while si < s.len() {
            match p.get(pi) {
                Some(Tok::Star) => {
                    backtrack = Some((pi, si));
                    pi += 1;
                }
                Some(tok) if Self::tok_matches(tok, s[si]) => {
                    pi += 1;
                    si += 1;
                }
                _ => match backtrack {
                    Some((bp, bs)) => {
                        pi = bp + 1;
                        si = bs + 1;
                        backtrack = Some((bp, bs + 1));
                    }
                    None => return false,
                },
            }
        }
        p[pi..].iter().all(|t| matches!(t, Tok::Star))
    }
}

// ---------------------------------------------------------------------------
// fqn matching

#[derive(Clone, Debug)]
struct FqnSel {
    raw: String,
    parts: Vec<String>,
    /// From the first part with a wildcard on, the rest of the selector is
    /// one pattern against the rest of the fqn joined by dots.
    wildcard_from: Option<(usize, Pattern)>,
}

impl FqnSel {
    fn new(raw: &str) -> Self {
        let parts: Vec<String> = raw.split('.').map(str::to_owned).collect();
        let wildcard_from = parts
            .iter()
            .position(|p| has_wildcard(p))
            .map(|i| (i, Pattern::new(&parts[i..].join("."))));
        Self {
            raw: raw.to_owned(),
            parts,
            wildcard_from,
        }
    }

    /// Whether the selector matches the start of `flat`.
    fn prefix_matches(&self, flat: &[String]) -> bool {
        if flat.len() < self.parts.len() {
            return false;
        }
        let exact_until = self
            .wildcard_from
            .as_ref()
            .map_or(self.parts.len(), |w| w.0);
        if self.parts[..exact_until] != flat[..exact_until] {
            return false;
        }
        match &self.wildcard_from {
            Some((i, pat)) => pat.matches(&flat[*i..].join(".")),
            None => true,
        }
    }

    fn matches(&self, fqn: &[String], versioned: bool) -> bool {
        let n = fqn.len();
        if versioned && n >= 2 {
            // The model's name, or its last two fqn parts joined by `_`
            // against the selector's last two dotted parts joined alike:
            // `dim.v2` and `dim_v2` select `[..., dim, v2]`.
            let tail = &self.parts[self.parts.len().saturating_sub(2)..];
            if fqn[n - 2] == self.raw || format!("{}_{}", fqn[n - 2], fqn[n - 1]) == tail.join("_")
            {
                return true;
            }
        } else if fqn.last().is_some_and(|l| *l == self.raw) {
            return true;
        }
        let flat: Vec<String> = fqn
            .iter()
            .flat_map(|s| s.split('.'))
            .map(str::to_owned)
            .collect();
        // Either the whole fqn, or the fqn without its package.
        if self.prefix_matches(&flat) || (!flat.is_empty() && self.prefix_matches(&flat[1..])) {
            return true;
        }
        // A bare wildcard (`dim_*`) also matches the node's own name: the
        // leaf, or the model's name for a version.
        match &self.wildcard_from {
            Some((_, pat)) if !self.raw.contains('.') => {
                let leaf = if versioned && n >= 2 {
                    fqn.get(n - 2)
                } else {
                    fqn.last()
                };
                leaf.is_some_and(|l| pat.matches(l))
            }
            _ => false,
        }
    }
}

/// The fqn as dbt has it, with `v<version>` last for versioned models.
fn effective_fqn(node: &Node) -> Vec<String> {
    let mut fqn = if node.fqn.is_empty() {
        vec![node.package_name.clone(), node.name.clone()]
    } else {
        node.fqn.clone()
    };
    if let Some(v) = &node.version {
        let tail = format!("v{v}");
        if fqn.last() != Some(&tail) {
            fqn.push(tail);
        }
    }
    fqn
}

// ---------------------------------------------------------------------------
// Parsing selection strings

fn parse_depth(spec: &str, digits: &str) -> Result<Option<usize>, SelectError> {
    if digits.is_empty() {
        return Ok(None);
    }
    digits.parse().map(Some).map_err(|_| {
        SelectError::malformed(
            spec,
            format!("expected a graph depth, found `{digits}`"),
            None,
        )
    })
}

/// Parses one atom: `[@][N+][method[.arg]:]value[+N]`.
fn parse_atom(raw: &str) -> Result<Criteria, SelectError> {
    let mut rest = raw;
    let childrens_parents = match rest.strip_prefix('@') {
        Some(r) => {
            rest = r;
            true
        }
        None => false,
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let parents = if rest[digits..].starts_with('+') {
        let depth = parse_depth(raw, &rest[..digits])?;
        rest = &rest[digits + 1..];
        Some(depth)
    } else {
        None
    };
    let without_digits = rest.trim_end_matches(|c: char| c.is_ascii_digit());
    let children = match without_digits.strip_suffix('+') {
        Some(value) => {
            let depth = parse_depth(raw, &rest[without_digits.len()..])?;
            rest = value;
            Some(depth)
        }
        None => None,
    };
    if childrens_parents && (parents.is_some() || children.is_some()) {
        return Err(SelectError::malformed(
            raw,
            "the `@` prefix cannot be combined with `+`",
            Some(
                "`@model` already includes the children of `model` and all their ancestors".into(),
            ),
        ));
    }
    let (method, value) = match rest.find(':') {
        Some(i)
            if i > 0
                && rest[..i]
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '.') =>
        {
            (Some(&rest[..i]), &rest[i + 1..])
        }
        _ => (None, rest),
    };
    if value.starts_with('+') || value.starts_with('@') {
        return Err(SelectError::malformed(
            raw,
            format!("expected a node name, found `{value}`"),
            Some("graph operators go around the whole selector, as in `+tag:nightly+`".into()),
        ));
    }
    let matcher = build_matcher(raw, method, value)?;
    Ok(Criteria {
        raw: raw.to_owned(),
        matcher,
        childrens_parents,
        parents,
        children,
        indirect: None,
    })
}

/// dbt's choice of method for a value without one.
fn default_method(value: &str) -> &'static str {
    let lower = value.to_ascii_lowercase();
    if value.contains(['/', '\\']) {
        "path"
    } else if [".sql", ".py", ".csv"].iter().any(|e| lower.ends_with(e)) {
        "file"
    } else {
        "fqn"
    }
}

fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn unknown_method(spec: &str, method: &str) -> SelectError {
    let list = METHODS
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let help = match closest(method, METHODS.iter().copied()) {
        Some(m) => format!("did you mean `{m}`? Valid methods are {list}"),
        None => format!("valid methods are {list}"),
    };
    SelectError::UnknownMethod {
        method: method.to_owned(),
        spec: spec.to_owned(),
        help: Some(help),
    }
}

fn path_matcher(value: &str) -> Matcher {
    let norm = value.replace('\\', "/");
    let segs = norm
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .map(|s| {
            if s == "**" {
                PathSeg::AnyDirs
            } else {
                PathSeg::Pat(Pattern::new(s))
            }
        })
        .collect();
    Matcher::Path(segs)
}

fn build_matcher(spec: &str, method: Option<&str>, value: &str) -> Result<Matcher, SelectError> {
    let (name, args): (&str, Vec<&str>) = match method {
        Some(m) => {
            let mut parts = m.split('.');
            let name = parts.next().unwrap_or_default();
            (name, parts.collect())
        }
        None => (default_method(value), Vec::new()),
    };
    if !METHODS.contains(&name) {
        return Err(unknown_method(spec, name));
    }
    if value.is_empty() {
        let reason = match method {
            Some(m) => format!("expected a value after `{m}:`, found nothing"),
            None => "expected a node name or `method:value`, found nothing".to_owned(),
        };
        return Err(SelectError::malformed(spec, reason, None));
    }
    let bad_value = |expected: &str| {
        SelectError::malformed(
            spec,
            format!("expected {expected} after `{name}:`, found `{value}`"),
            None,
        )
    };
    Ok(match name {
        "fqn" => Matcher::Fqn(FqnSel::new(value)),
        "tag" => Matcher::Tag(Pattern::new(value)),
        "group" => Matcher::Group(Pattern::new(value)),
        "access" => match value {
            "public" | "protected" | "private" => Matcher::Access(value.to_owned()),
            _ => return Err(bad_value("`public`, `protected` or `private`")),
        },
        "source" => {
            let parts: Vec<&str> = value.split('.').collect();
            let (package, source, table) = match parts.as_slice() {
                [s] => ("*", *s, "*"),
                [s, t] => ("*", *s, *t),
                [p, s, t] => (*p, *s, *t),
                _ => {
                    return Err(bad_value(
                        "`source_name`, `source_name.table_name` or `package.source_name.table_name`",
                    ));
                }
            };
            Matcher::Source {
                package: Pattern::new(package),
                source: Pattern::new(source),
                table: Pattern::new(table),
            }
        }
        "exposure" => {
            let parts: Vec<&str> = value.split('.').collect();
            let (package, name) = match parts.as_slice() {
                [n] => ("*", *n),
                [p, n] => (*p, *n),
                _ => return Err(bad_value("`exposure_name` or `package.exposure_name`")),
            };
            Matcher::Exposure {
                package: Pattern::new(package),
                name: Pattern::new(name),
            }
        }
        "path" => path_matcher(value),
        "file" => Matcher::File(Pattern::new(value)),
        "package" => Matcher::Package((value != "this").then(|| Pattern::new(value))),
        "config" => {
            if args.is_empty() || args.iter().any(|a| a.is_empty()) {
                return Err(SelectError::malformed(
                    spec,
                    format!(
                        "expected `config.<key>:<value>`, found `{}:`",
                        method.unwrap_or(name)
                    ),
                    Some("for example `config.materialized:table`".into()),
                ));
            }
            Matcher::Config {
                keys: args.iter().map(|a| (*a).to_owned()).collect(),
                value: value.to_owned(),
            }
        }
        "test_name" => Matcher::TestName {
            name: Pattern::new(value),
            qualified: value
                .split_once('.')
                .map(|(ns, n)| (Pattern::new(ns), Pattern::new(n))),
        },
        "test_type" => {
            let (generic, singular, unit) = match value {
                "generic" | "schema" => (true, false, false),
                "singular" | "data" => (false, true, false),
                "unit" => (false, false, true),
                _ => return Err(bad_value("`generic`, `singular` or `unit`")),
            };
            Matcher::TestType {
                generic,
                singular,
                unit,
            }
        }
        "resource_type" => match ResourceType::parse(value) {
            Some(rt) => Matcher::ResourceType(Some(rt)),
            None if OTHER_RESOURCE_TYPES.contains(&value) => Matcher::ResourceType(None),
            None => {
                return Err(bad_value(
                    "a resource type such as `model`, `seed`, `snapshot`, `test`, `unit_test`, `source`, `exposure` or `analysis`",
                ));
            }
        },
        "unit_test" => {
            let parts: Vec<&str> = value.split('.').collect();
            let (package, name) = match parts.as_slice() {
                [n] => (None, *n),
                [p, n] => (Some(Pattern::new(p)), *n),
                _ => (None, ""),
            };
            Matcher::UnitTest {
                package,
                name: Pattern::new(name),
                fqn: (parts.len() >= 2).then(|| FqnSel::new(value)),
            }
        }
        "version" => Matcher::Version(match value {
            "latest" => VersionSel::Latest,
            "prerelease" => VersionSel::Prerelease,
            "old" => VersionSel::Old,
            "none" => VersionSel::None,
            _ => return Err(bad_value("`latest`, `prerelease`, `old` or `none`")),
        }),
        "metric" | "semantic_model" | "saved_query" => Matcher::Nothing,
        "state" => {
            let Some(sel) = StateSelector::parse(value) else {
                let list = StateSelector::NAMES
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(SelectError::malformed(
                    spec,
                    format!("expected one of {list} after `state:`, found `{value}`"),
                    closest(value, StateSelector::NAMES.iter().copied())
                        .map(|c| format!("did you mean `state:{c}`?")),
                ));
            };
            Matcher::State(sel)
        }
        "result" => {
            if !RESULT_STATUSES.contains(&value) {
                return Err(SelectError::malformed(
                    spec,
                    format!(
                        "expected a run status ({}) after `result:`, found `{value}`",
                        RESULT_STATUSES
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    closest(value, RESULT_STATUSES.iter().copied())
                        .map(|c| format!("did you mean `result:{c}`?")),
                ));
            }
            Matcher::Result(value.to_owned())
        }
        _ => Matcher::SourceStatus,
    })
}

/// Command-line arguments: each splits on whitespace into a union, commas
/// inside a member intersect, and the arguments are a union.
fn parse_cli(args: &[String]) -> Result<Spec, SelectError> {
    let mut union = Vec::new();
    for arg in args {
        for member in arg.split_whitespace() {
            let mut inter = Vec::new();
            for part in member.split(',') {
                if part.is_empty() {
                    return Err(SelectError::malformed(
                        member,
                        "expected a selector on each side of `,`, found nothing",
                        Some("commas intersect selectors, as in `tag:nightly,config.materialized:table`".into()),
                    ));
                }
                inter.push(Spec::Criteria(Box::new(parse_atom(part)?)));
            }
            union.push(Spec::set(SetOp::Intersection, inter));
        }
    }
    Ok(Spec::set(SetOp::Union, union))
}

/// Checks a `--select`/`--exclude` string before any project work.
pub fn parse_selection(s: &str) -> Result<(), SelectError> {
    parse_cli(&[s.to_owned()]).map(|_| ())
}

// ---------------------------------------------------------------------------
// selectors.yml

/// The selectors of `selectors.yml`, parsed and with references resolved.
#[derive(Clone, Debug, Default)]
pub struct Selectors {
    specs: IndexMap<String, Spec>,
    default: Option<String>,
}

struct YamlCtx<'a> {
    raw: IndexMap<String, &'a Value>,
    done: HashMap<String, Spec>,
    stack: Vec<String>,
}

fn invalid(name: &str, reason: impl Into<String>) -> SelectError {
    SelectError::InvalidSelector {
        name: name.to_owned(),
        reason: reason.into(),
        help: None,
    }
}

/// Turns an error in a selection string inside a selector into XF0304.
fn in_selector(name: &str, e: SelectError) -> SelectError {
    match e {
        SelectError::InvalidSelector { .. } | SelectError::InvalidSelectorsFile { .. } => e,
        other => SelectError::InvalidSelector {
            name: name.to_owned(),
            help: other.help_text(),
            reason: other.to_string(),
        },
    }
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn yaml_bool(name: &str, key: &str, v: Option<&Value>) -> Result<bool, SelectError> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(invalid(
            name,
            format!(
                "expected `true` or `false` for `{key}`, found `{}`",
                compact(other)
            ),
        )),
    }
}

fn yaml_depth(name: &str, key: &str, v: Option<&Value>) -> Result<Option<usize>, SelectError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => {
            Ok(n.as_u64().and_then(|d| usize::try_from(d).ok()))
        }
        Some(Value::String(s)) if s.parse::<usize>().is_ok() => Ok(s.parse().ok()),
        Some(other) => Err(invalid(
            name,
            format!(
                "expected a whole number for `{key}`, found `{}`",
                compact(other)
            ),
        )),
    }
}

impl YamlCtx<'_> {
    fn resolve(&mut self, name: &str, referrer: &str) -> Result<Spec, SelectError> {
        if let Some(spec) = self.done.get(name) {
            return Ok(spec.clone());
        }
        if self.stack.iter().any(|s| s == name) {
            let mut cycle = self.stack.clone();
            cycle.push(name.to_owned());
            return Err(SelectError::InvalidSelector {
                name: name.to_owned(),
                reason: format!("selector references form a cycle: {}", cycle.join(" -> ")),
                help: Some("a selector cannot include itself through `method: selector`".into()),
            });
        }
        let Some(def) = self.raw.get(name).copied() else {
            return Err(SelectError::InvalidSelector {
                name: referrer.to_owned(),
                reason: format!("it references selector `{name}`, which is not defined"),
                help: closest(name, self.raw.keys().map(String::as_str))
                    .map(|c| format!("did you mean `{c}`?")),
            });
        };
        self.stack.push(name.to_owned());
        let spec = self.definition(name, def);
        self.stack.pop();
        let spec = spec?;
        self.done.insert(name.to_owned(), spec.clone());
        Ok(spec)
    }

    fn definition(&mut self, name: &str, def: &Value) -> Result<Spec, SelectError> {
        match def {
            Value::String(s) => {
                parse_cli(std::slice::from_ref(s)).map_err(|e| in_selector(name, e))
            }
            Value::Object(m) => {
                let has_union = m.contains_key("union");
                let has_inter = m.contains_key("intersection");
                if has_union && has_inter {
                    return Err(invalid(
                        name,
                        "a definition may have `union` or `intersection`, not both",
                    ));
                }
                if has_union || has_inter {
                    let (key, op) = if has_union {
                        ("union", SetOp::Union)
                    } else {
                        ("intersection", SetOp::Intersection)
                    };
                    return self.set_definition(name, key, op, m.get(key));
                }
                if m.get("method").and_then(Value::as_str) == Some("selector") {
                    let Some(target) = m.get("value").and_then(Value::as_str) else {
                        return Err(invalid(
                            name,
                            "expected the name of a selector as the `value` of `method: selector`",
                        ));
                    };
                    return self.resolve(target, name);
                }
                if m.contains_key("method") && m.contains_key("value") {
                    let base = self.criteria(name, m)?;
                    return match m.get("exclude") {
                        None => Ok(base),
                        Some(ex) => {
                            let ex = self.exclusions(name, ex)?;
                            Ok(Spec::set(SetOp::Difference, vec![base, ex]))
                        }
                    };
                }
                if let (1, Some((key, value))) = (m.len(), m.iter().next()) {
                    let mut dict = serde_json::Map::new();
                    dict.insert("method".into(), Value::String(key.clone()));
                    dict.insert("value".into(), value.clone());
                    return self.criteria(name, &dict);
                }
                Err(invalid(
                    name,
                    format!(
                        "expected `method` and `value`, `union`, `intersection` or a single `method: value` pair, found `{}`",
                        compact(def)
                    ),
                ))
            }
            other => Err(invalid(
                name,
                format!(
                    "expected a string or a mapping as the definition, found `{}`",
                    compact(other)
                ),
            )),
        }
    }

    #[allow(clippy::unused_self)] // a method so errors can name the selector being read
    fn list<'v>(
        &self,
        name: &str,
        key: &str,
        v: Option<&'v Value>,
    ) -> Result<&'v [Value], SelectError> {
        match v {
            Some(Value::Array(items)) => Ok(items),
            other => Err(invalid(
                name,
                format!(
                    "expected a list for `{key}`, found `{}`",
                    other.map(compact).unwrap_or_default()
                ),
            )),
        }
    }

    fn set_definition(
        &mut self,
        name: &str,
        key: &str,
        op: SetOp,
        v: Option<&Value>,
    ) -> Result<Spec, SelectError> {
        let items = self.list(name, key, v)?;
        let mut parts = Vec::new();
        let mut exclude = None;
        for item in items {
            let only_exclude = item
                .as_object()
                .and_then(|o| (o.len() == 1).then(|| o.get("exclude")).flatten());
            if let Some(ex) = only_exclude {
                if exclude.is_some() {
                    return Err(invalid(
                        name,
                        format!("`{key}` may contain only one `exclude` entry"),
                    ));
                }
                exclude = Some(self.exclusions(name, ex)?);
            } else {
                parts.push(self.definition(name, item)?);
            }
        }
        let set = Spec::set(op, parts);
        Ok(match exclude {
            None => set,
            Some(ex) => Spec::set(SetOp::Difference, vec![set, ex]),
        })
    }

    fn exclusions(&mut self, name: &str, v: &Value) -> Result<Spec, SelectError> {
        let items = self.list(name, "exclude", Some(v))?;
        let mut parts = Vec::with_capacity(items.len());
        for item in items {
            parts.push(self.definition(name, item)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Spec::set(SetOp::Union, parts)
        })
    }

    #[allow(clippy::unused_self)]
    fn criteria(
        &mut self,
        name: &str,
        m: &serde_json::Map<String, Value>,
    ) -> Result<Spec, SelectError> {
        let method = match m.get("method") {
            Some(Value::String(s)) => s.as_str(),
            other => {
                return Err(invalid(
                    name,
                    format!(
                        "expected a method name, found `{}`",
                        other.map(compact).unwrap_or_default()
                    ),
                ));
            }
        };
        let value_json = m.get("value").unwrap_or(&Value::Null);
        let Some(value) = scalar_string(value_json) else {
            return Err(invalid(
                name,
                format!(
                    "expected a string as the `value` of `{method}`, found `{}`",
                    compact(value_json)
                ),
            ));
        };
        let raw = format!("{method}:{value}");
        let matcher =
            build_matcher(&raw, Some(method), &value).map_err(|e| in_selector(name, e))?;
        let childrens_parents = yaml_bool(name, "childrens_parents", m.get("childrens_parents"))?;
        let parents = yaml_bool(name, "parents", m.get("parents"))?;
        let children = yaml_bool(name, "children", m.get("children"))?;
        if childrens_parents && (parents || children) {
            return Err(invalid(
                name,
                "`childrens_parents` cannot be combined with `parents` or `children`",
            ));
        }
        let parents_depth = yaml_depth(name, "parents_depth", m.get("parents_depth"))?;
        let children_depth = yaml_depth(name, "children_depth", m.get("children_depth"))?;
        let indirect = match m.get("indirect_selection") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_str().and_then(IndirectSelection::parse) {
                Some(i) => Some(i),
                None => {
                    return Err(SelectError::InvalidSelector {
                        name: name.to_owned(),
                        reason: format!(
                            "expected `eager`, `cautious`, `buildable` or `empty` for `indirect_selection`, found `{}`",
                            compact(v)
                        ),
                        help: None,
                    });
                }
            },
        };
        Ok(Spec::Criteria(Box::new(Criteria {
            raw,
            matcher,
            childrens_parents,
            parents: parents.then_some(parents_depth),
            children: children.then_some(children_depth),
            indirect,
        })))
    }
}

impl Selectors {
    /// `doc` is the whole selectors.yml as JSON (`{"selectors": [...]}`) or
    /// `Value::Null` when there is none.
    pub fn parse(doc: &Value) -> Result<Self, SelectError> {
        let entries: &[Value] = match doc {
            Value::Null => return Ok(Self::default()),
            Value::Object(m) => match m.get("selectors") {
                None | Some(Value::Null) => &[],
                Some(Value::Array(a)) => a,
                Some(other) => {
                    return Err(SelectError::InvalidSelectorsFile {
                        reason: format!(
                            "expected a list under `selectors`, found `{}`",
                            compact(other)
                        ),
                    });
                }
            },
            other => {
                return Err(SelectError::InvalidSelectorsFile {
                    reason: format!(
                        "expected a mapping at the top level, found `{}`",
                        compact(other)
                    ),
                });
            }
        };
        let mut raw = IndexMap::new();
        let mut default: Option<String> = None;
        for (i, entry) in entries.iter().enumerate() {
            let Some(m) = entry.as_object() else {
                return Err(SelectError::InvalidSelectorsFile {
                    reason: format!("entry {} is not a mapping", i + 1),
                });
            };
            let Some(name) = m.get("name").and_then(Value::as_str) else {
                return Err(SelectError::InvalidSelectorsFile {
                    reason: format!("entry {} has no `name`", i + 1),
                });
            };
            let Some(def) = m.get("definition") else {
                return Err(invalid(name, "it has no `definition`"));
            };
            if raw.insert(name.to_owned(), def).is_some() {
                return Err(invalid(name, "the name is used by more than one selector"));
            }
            let is_default = match m.get("default") {
                None | Some(Value::Null) => false,
                Some(v) => crate::value::truthy(v),
            };
            if is_default {
                if let Some(first) = &default {
                    return Err(invalid(
                        name,
                        format!("selector `{first}` is already marked `default: true`"),
                    ));
                }
                default = Some(name.to_owned());
            }
        }
        let names: Vec<String> = raw.keys().cloned().collect();
        let mut ctx = YamlCtx {
            raw,
            done: HashMap::new(),
            stack: Vec::new(),
        };
        let mut specs = IndexMap::new();
        for name in names {
            let spec = ctx.resolve(&name, &name)?;
            specs.insert(name, spec);
        }
        Ok(Self { specs, default })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.specs.keys().map(String::as_str)
    }

    /// The selector marked `default: true`, if any.
    pub fn default_name(&self) -> Option<&str> {
        self.default.as_deref()
    }
}

// ---------------------------------------------------------------------------
// Evaluation

/// A set of node indices (positions in the `nodes` map).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Bits(Vec<bool>);

impl Bits {
    fn empty(n: usize) -> Self {
        Self(vec![false; n])
    }
    fn contains(&self, i: usize) -> bool {
        self.0.get(i).copied().unwrap_or(false)
    }
    fn insert(&mut self, i: usize) {
        if let Some(b) = self.0.get_mut(i) {
            *b = true;
        }
    }
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, b)| **b)
            .map(|(i, _)| i)
    }
    fn union_with(&mut self, other: &Self) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= *b;
        }
    }
    fn intersect_with(&mut self, other: &Self) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a &= *b;
        }
    }
    fn subtract(&mut self, other: &Self) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a &= !*b;
        }
    }
}

struct Ctx<'a> {
    nodes: &'a crate::node::NodeMap,
    dag: &'a Dag,
    /// Parents and children of each node by index, built when a selector
    /// first walks the graph (selecting everything never does).
    adjacency: std::sync::OnceLock<Adjacency>,
    universe: Bits,
    sources: Bits,
    root_package: Option<&'a str>,
    /// Latest version per (package, model name), where models do not say.
    latest: HashMap<(&'a str, &'a str), &'a Version>,
    default_mode: IndirectSelection,
    state: Option<&'a dyn StateLookup>,
}

struct Adjacency {
    parents: Vec<Vec<usize>>,
    children: Vec<Vec<usize>>,
}

fn is_indirect_type(node: &Node) -> bool {
    matches!(
        node.resource_type,
        ResourceType::Test | ResourceType::UnitTest
    )
}

fn config_matches(v: &Value, wanted: &str, case_insensitive: bool) -> bool {
    match v {
        Value::String(s) => {
            if case_insensitive {
                s.eq_ignore_ascii_case(wanted)
            } else {
                s == wanted
            }
        }
        Value::Bool(b) => wanted.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Value::Number(n) => n.to_string() == wanted,
        _ => false,
    }
}

fn path_glob(pat: &[PathSeg], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((PathSeg::AnyDirs, rest)) => (0..=path.len()).any(|i| path_glob(rest, &path[i..])),
        Some((PathSeg::Pat(p), rest)) => path
            .split_first()
            .is_some_and(|(first, tail)| p.matches(first) && path_glob(rest, tail)),
    }
}

fn path_segments(p: &str) -> Vec<&str> {
    p.split(['/', '\\'])
        .filter(|s| !s.is_empty() && *s != ".")
        .collect()
}

impl<'a> Ctx<'a> {
    fn new(
        nodes: &'a crate::node::NodeMap,
        dag: &'a Dag,
        default_mode: IndirectSelection,
        state: Option<&'a dyn StateLookup>,
    ) -> Self {
        let n = nodes.len();
        let mut universe = Bits::empty(n);
        let mut sources = Bits::empty(n);
        let mut latest: HashMap<(&str, &str), &Version> = HashMap::new();
        for (i, node) in nodes.values().enumerate() {
            if !matches!(
                node.resource_type,
                ResourceType::Macro | ResourceType::Group
            ) && node.enabled()
            {
                universe.insert(i);
            }
            if node.resource_type == ResourceType::Source {
                sources.insert(i);
            }
            if let (ResourceType::Model, Some(v)) = (node.resource_type, &node.version) {
                let key = (node.package_name.as_str(), node.name.as_str());
                let entry = latest.entry(key).or_insert(v);
                if v.cmp_dbt(entry) == Ordering::Greater {
                    *entry = v;
                }
            }
        }
        // dbt reads `this` as the root project; the loader puts it first.
        let root_package = nodes
            .values()
            .find(|n| n.resource_type != ResourceType::Macro)
            .map(|n| n.package_name.as_str());
        Self {
            nodes,
            dag,
            adjacency: std::sync::OnceLock::new(),
            universe,
            sources,
            root_package,
            latest,
            default_mode,
            state,
        }
    }

    fn adjacency(&self) -> &Adjacency {
        self.adjacency.get_or_init(|| {
            let index = |ids: Vec<&str>| -> Vec<usize> {
                ids.into_iter()
                    .filter_map(|p| self.nodes.get_index_of(p))
                    .collect()
            };
            let (parents, children) = self
                .nodes
                .keys()
                .map(|id| (index(self.dag.parents(id)), index(self.dag.children(id))))
                .unzip();
            Adjacency { parents, children }
        })
    }

    fn node(&self, i: usize) -> Option<&'a Node> {
        self.nodes.get_index(i).map(|(_, n)| &**n)
    }

    fn empty(&self) -> Bits {
        Bits::empty(self.nodes.len())
    }

    /// Nodes reachable from `start` within `depth` edges, not counting `start`
    /// itself unless reached from another start node.
    fn walk(&self, start: &Bits, up: bool, depth: Option<usize>) -> Bits {
        let adj = if up {
            &self.adjacency().parents
        } else {
            &self.adjacency().children
        };
        let mut out = self.empty();
        let mut dist: Vec<Option<usize>> = vec![None; self.nodes.len()];
        let mut queue = VecDeque::new();
        for i in start.iter() {
            dist[i] = Some(0);
            queue.push_back(i);
        }
        while let Some(i) = queue.pop_front() {
            let d = dist[i].unwrap_or(0);
            if depth.is_some_and(|max| d >= max) {
                continue;
            }
            for &n in &adj[i] {
                out.insert(n);
                if dist[n].is_none() {
                    dist[n] = Some(d + 1);
                    queue.push_back(n);
                }
            }
        }
        out
    }

    fn version_matches(&self, node: &Node, sel: VersionSel) -> bool {
        if node.resource_type != ResourceType::Model {
            return false;
        }
        let Some(v) = node.version.as_ref() else {
            return sel == VersionSel::None;
        };
        let latest = node.latest_version.as_ref().or_else(|| {
            self.latest
                .get(&(node.package_name.as_str(), node.name.as_str()))
                .copied()
        });
        let Some(latest) = latest else {
            return false;
        };
        let ord = v.cmp_dbt(latest);
        match sel {
            // dbt's `is_latest_version` is Python's `==` on the values.
            VersionSel::Latest => v.same(latest),
            VersionSel::Prerelease => ord == Ordering::Greater,
            VersionSel::Old => ord == Ordering::Less,
            VersionSel::None => false,
        }
    }

    fn matches(&self, m: &Matcher, node: &Node) -> bool {
        match m {
            Matcher::Fqn(sel) => sel.matches(&effective_fqn(node), node.version.is_some()),
            Matcher::Tag(p) => {
                node.tags.iter().any(|t| p.matches(t))
                    || node
                        .config
                        .get("tags")
                        .is_some_and(|v| crate::value::string_list(v).iter().any(|t| p.matches(t)))
            }
            Matcher::Group(p) => node
                .config
                .get("group")
                .and_then(Value::as_str)
                .is_some_and(|g| p.matches(g)),
            Matcher::Access(a) => {
                node.resource_type == ResourceType::Model
                    && node
                        .config
                        .get("access")
                        .and_then(Value::as_str)
                        .unwrap_or("protected")
                        == a
            }
            Matcher::Source {
                package,
                source,
                table,
            } => {
                node.resource_type == ResourceType::Source
                    && package.matches(&node.package_name)
                    && node
                        .source
                        .as_ref()
                        .is_some_and(|s| source.matches(&s.source_name))
                    && table.matches(&node.name)
            }
            Matcher::Exposure { package, name } => {
                node.resource_type == ResourceType::Exposure
                    && package.matches(&node.package_name)
                    && name.matches(&node.name)
            }
            Matcher::Path(segs) => {
                if segs.is_empty() {
                    return true;
                }
                let ofp = path_segments(&node.original_file_path);
                if !ofp.is_empty() && (1..=ofp.len()).any(|k| path_glob(segs, &ofp[..k])) {
                    return true;
                }
                node.patch_path.as_deref().is_some_and(|p| {
                    let rel = p.split_once("://").map_or(p, |(_, r)| r);
                    path_glob(segs, &path_segments(rel))
                })
            }
            Matcher::File(p) => {
                let name = node
                    .original_file_path
                    .rsplit(['/', '\\'])
                    .next()
                    .unwrap_or_default();
                let stem = match name.rfind('.') {
                    Some(i) if i > 0 => &name[..i],
                    _ => name,
                };
                !name.is_empty() && (p.matches(name) || p.matches(stem))
            }
            Matcher::Package(p) => match p {
                Some(p) => p.matches(&node.package_name),
                None => self.root_package == Some(node.package_name.as_str()),
            },
            Matcher::Config { keys, value } => {
                let Some((first, rest)) = keys.split_first() else {
                    return false;
                };
                let mut cur = node.config.get(first.as_str());
                for k in rest {
                    cur = cur.and_then(|v| v.get(k.as_str()));
                }
                let ci = rest.is_empty() && first == "severity";
                match cur {
                    Some(Value::Array(items)) => items.iter().any(|v| config_matches(v, value, ci)),
                    Some(v) => config_matches(v, value, ci),
                    None => false,
                }
            }
            Matcher::TestName { name, qualified } => match node.resource_type {
                ResourceType::Test => node
                    .test
                    .as_ref()
                    .and_then(|t| t.metadata.as_ref())
                    .is_some_and(|md| {
                        name.matches(&md.name)
                            || qualified.as_ref().is_some_and(|(ns, n)| {
                                md.namespace.as_deref().is_some_and(|s| ns.matches(s))
                                    && n.matches(&md.name)
                            })
                    }),
                ResourceType::UnitTest => name.matches(&node.name),
                _ => false,
            },
            Matcher::TestType {
                generic,
                singular,
                unit,
            } => match node.test_type() {
                Some("generic") => *generic,
                Some("singular") => *singular,
                Some("unit") => *unit,
                _ => false,
            },
            Matcher::ResourceType(rt) => rt.is_some_and(|rt| node.resource_type == rt),
            Matcher::UnitTest { package, name, fqn } => {
                node.resource_type == ResourceType::UnitTest
                    && ((name.matches(&node.name)
                        && package
                            .as_ref()
                            .is_none_or(|p| p.matches(&node.package_name)))
                        || fqn
                            .as_ref()
                            .is_some_and(|f| f.matches(&effective_fqn(node), false)))
            }
            Matcher::Version(sel) => self.version_matches(node, *sel),
            Matcher::Nothing | Matcher::State(_) | Matcher::Result(_) | Matcher::SourceStatus => {
                false
            }
        }
    }

    fn parents_of(&self, i: usize) -> &[usize] {
        self.adjacency().parents.get(i).map_or(&[], Vec::as_slice)
    }

    fn covered(&self, i: usize, by: &Bits) -> bool {
        self.parents_of(i).iter().all(|&p| by.contains(p))
    }

    /// Adds tests next to `selected`: returns (direct, indirect-only).
    fn expand(&self, selected: &Bits, mode: IndirectSelection) -> (Bits, Bits) {
        let mut direct = selected.clone();
        let mut indirect = self.empty();
        let buildable = (mode == IndirectSelection::Buildable).then(|| {
            let mut b = self.walk(selected, true, None);
            b.union_with(selected);
            b.union_with(&self.sources);
            b
        });
        let successors = self.walk(selected, false, Some(1));
        for c in successors.iter() {
            let Some(node) = self.node(c) else { continue };
            if !self.universe.contains(c) || !is_indirect_type(node) {
                continue;
            }
            if mode == IndirectSelection::Eager
                || self.covered(c, selected)
                || buildable.as_ref().is_some_and(|b| self.covered(c, b))
            {
                direct.insert(c);
            } else {
                indirect.insert(c);
            }
        }
        (direct, indirect)
    }

    /// Promotes tests seen indirectly whose parents the combined selection covers.
    fn incorporate(&self, mut direct: Bits, indirect: &Bits, mode: IndirectSelection) -> Bits {
        if &direct == indirect {
            return direct;
        }
        let cover = match mode {
            IndirectSelection::Cautious => direct.clone(),
            IndirectSelection::Buildable => {
                let mut b = self.walk(&direct, true, None);
                b.union_with(&direct);
                b
            }
            IndirectSelection::Eager | IndirectSelection::Empty => return direct,
        };
        for i in indirect.iter() {
            if self.node(i).is_some_and(is_indirect_type) && self.covered(i, &cover) {
                direct.insert(i);
            }
        }
        direct
    }

    fn eval(&self, spec: &Spec) -> Result<(Bits, Bits), SelectError> {
        match spec {
            Spec::All => Ok((self.universe.clone(), self.empty())),
            Spec::Criteria(c) => self.eval_criteria(c),
            Spec::Set {
                op,
                parts,
                indirect,
            } => {
                let mut directs = Vec::with_capacity(parts.len());
                let mut indirects = Vec::with_capacity(parts.len());
                for p in parts {
                    let (d, mut i) = self.eval(p)?;
                    i.union_with(&d);
                    directs.push(d);
                    indirects.push(i);
                }
                let initial = self.combine(*op, directs);
                let indirect_all = self.combine(*op, indirects);
                let mode = indirect.unwrap_or(self.default_mode);
                let direct = self.incorporate(initial, &indirect_all, mode);
                Ok((direct, indirect_all))
            }
        }
    }

    fn combine(&self, op: SetOp, sets: Vec<Bits>) -> Bits {
        let mut it = sets.into_iter();
        let Some(mut acc) = it.next() else {
            return self.empty();
        };
        for s in it {
            match op {
                SetOp::Union => acc.union_with(&s),
                SetOp::Intersection => acc.intersect_with(&s),
                SetOp::Difference => acc.subtract(&s),
            }
        }
        acc
    }

    /// The ids a `state:` or `result:` criterion matches, or `None` for
    /// criteria that look at nodes one by one.
    fn state_ids(&self, c: &Criteria) -> Result<Option<HashSet<String>>, SelectError> {
        let needs = |method: &str| SelectError::NeedsState {
            method: method.to_owned(),
            spec: c.raw.clone(),
        };
        let boxed = |d| SelectError::State(Box::new(d));
        match &c.matcher {
            Matcher::State(s) => {
                let lookup = self.state.ok_or_else(|| needs("state"))?;
                lookup.state(*s).map(Some).map_err(boxed)
            }
            Matcher::Result(status) => {
                let lookup = self.state.ok_or_else(|| needs("result"))?;
                lookup.result(status).map(Some).map_err(boxed)
            }
            Matcher::SourceStatus => Err(boxed(
                crate::diagnostics::Diag::error(
                    "XF0347",
                    format!(
                        "`{}`: `source_status:` selection is not supported",
                        c.raw
                    ),
                )
                .with_help(
                    "it compares source freshness results (sources.json), and xform has no `source freshness` command yet",
                ),
            )),
            _ => Ok(None),
        }
    }

    fn eval_criteria(&self, c: &Criteria) -> Result<(Bits, Bits), SelectError> {
        let from_state = self.state_ids(c)?;
        let mut collected = self.empty();
        for i in self.universe.iter() {
            let hit = match &from_state {
                Some(ids) => self
                    .nodes
                    .get_index(i)
                    .is_some_and(|(id, _)| ids.contains(id)),
                None => self.node(i).is_some_and(|n| self.matches(&c.matcher, n)),
            };
            if hit {
                collected.insert(i);
            }
        }
        let mut selected = collected.clone();
        if c.childrens_parents {
            let mut base = self.walk(&collected, false, None);
            base.union_with(&collected);
            let up = self.walk(&base, true, None);
            selected.union_with(&base);
            selected.union_with(&up);
        }
        if let Some(depth) = c.parents {
            selected.union_with(&self.walk(&collected, true, depth));
        }
        if let Some(depth) = c.children {
            selected.union_with(&self.walk(&collected, false, depth));
        }
        selected.intersect_with(&self.universe);
        let mode = c.indirect.unwrap_or(self.default_mode);
        if mode == IndirectSelection::Empty {
            return Ok((selected, self.empty()));
        }
        Ok(self.expand(&selected, mode))
    }
}

/// The ids selected by the command line, in `nodes` order.
pub fn select(
    nodes: &crate::node::NodeMap,
    dag: &Dag,
    selectors: &Selectors,
    opts: &SelectOptions,
) -> Result<IndexSet<String>, SelectError> {
    let spec = if let Some(name) = opts.selector {
        if let Some(spec) = selectors.specs.get(name) {
            spec.clone()
        } else {
            let help = match closest(name, selectors.names()) {
                Some(c) => Some(format!("did you mean `{c}`?")),
                None if selectors.specs.is_empty() => {
                    Some("there is no `selectors.yml`, or it defines no selectors".into())
                }
                None => Some(format!(
                    "defined selectors: {}",
                    selectors
                        .names()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            return Err(SelectError::UnknownSelector {
                name: name.to_owned(),
                help,
            });
        }
    } else {
        let default =
            (opts.select.is_empty() && opts.exclude.is_empty() && opts.default_selector_allowed)
                .then(|| {
                    selectors
                        .default
                        .as_ref()
                        .and_then(|d| selectors.specs.get(d))
                })
                .flatten();
        if let Some(spec) = default {
            spec.clone()
        } else {
            let include = if opts.select.is_empty() {
                Spec::All
            } else {
                parse_cli(opts.select)?
            };
            if opts.exclude.is_empty() {
                include
            } else {
                Spec::set(SetOp::Difference, vec![include, parse_cli(opts.exclude)?])
            }
        }
    };
    let ctx = Ctx::new(nodes, dag, opts.indirect_selection, opts.state);
    let (mut direct, _) = ctx.eval(&spec)?;
    direct.intersect_with(&ctx.universe);
    let wanted: HashSet<ResourceType> = opts.resource_types.iter().copied().collect();
    Ok(direct
        .iter()
        .filter_map(|i| nodes.get_index(i))
        .filter(|(_, n)| wanted.is_empty() || wanted.contains(&n.resource_type))
        .map(|(id, _)| id.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{SourceInfo, TestInfo, TestMetadata};
    use serde_json::json;

    fn base(rt: ResourceType, id: &str, pkg: &str, name: &str, fqn: &[&str], file: &str) -> Node {
        let mut n = Node::new(rt, pkg, name);
        n.unique_id = id.to_owned();
        n.fqn = fqn.iter().map(|s| (*s).to_owned()).collect();
        n.original_file_path = file.to_owned();
        n
    }

    fn deps(mut n: Node, parents: &[&str]) -> Node {
        n.depends_on_nodes = parents.iter().map(|s| (*s).to_owned()).collect();
        n
    }

    fn generic_test(
        id: &str,
        name: &str,
        macro_name: &str,
        ns: Option<&str>,
        parents: &[&str],
    ) -> Node {
        let mut n = base(
            ResourceType::Test,
            id,
            "shop",
            name,
            &["shop", "marts", name],
            "models/marts/schema.yml",
        );
        n.test = Some(Box::new(TestInfo {
            metadata: Some(TestMetadata {
                name: macro_name.to_owned(),
                kwargs: serde_json::Map::new(),
                namespace: ns.map(str::to_owned),
            }),
            ..TestInfo::default()
        }));
        deps(n, parents)
    }

    fn source(table: &str) -> Node {
        let mut n = base(
            ResourceType::Source,
            &format!("source.shop.raw.{table}"),
            "shop",
            table,
            &["shop", "staging", "raw", table],
            "models/staging/sources.yml",
        );
        n.source = Some(Box::new(SourceInfo {
            source_name: "raw".into(),
            ..SourceInfo::default()
        }));
        n
    }

    fn model(name: &str, folder: &str, parents: &[&str]) -> Node {
        let n = base(
            ResourceType::Model,
            &format!("model.shop.{name}"),
            "shop",
            name,
            &["shop", folder, name],
            &format!("models/{folder}/{name}.sql"),
        );
        deps(n, parents)
    }

    /// raw.orders -> `stg_orders` -> orders -> report -> dashboard
    /// raw.customers -> `stg_customers` -> {orders, customers}
    /// tests: `unique_orders_id(orders)`, relationships(orders, customers),
    /// `assert_positive(orders`, singular), expr(customers, `dbt_utils`),
    /// unit test on orders; plus a seed, versioned models, a package model
    /// and a macro.
    fn project() -> crate::node::NodeMap {
        let mut v = Vec::new();
        v.push(source("orders"));
        v.push(source("customers"));
        let mut stg_orders = model("stg_orders", "staging", &["source.shop.raw.orders"]);
        stg_orders.tags = vec!["staging".into()];
        stg_orders
            .config
            .insert("materialized".into(), json!("view"));
        v.push(stg_orders);
        let mut stg_customers = model("stg_customers", "staging", &["source.shop.raw.customers"]);
        stg_customers.tags = vec!["staging".into(), "pii".into()];
        stg_customers
            .config
            .insert("materialized".into(), json!("view"));
        v.push(stg_customers);
        let mut orders = model(
            "orders",
            "marts",
            &["model.shop.stg_orders", "model.shop.stg_customers"],
        );
        orders.tags = vec!["nightly".into()];
        orders.config.insert("materialized".into(), json!("table"));
        orders.config.insert("group".into(), json!("finance"));
        orders.config.insert("access".into(), json!("public"));
        orders.config.insert("tags".into(), json!(["nightly"]));
        orders
            .config
            .insert("meta".into(), json!({"owner": {"team": "fin"}}));
        orders
            .config
            .insert("partition_by".into(), json!(["day", "region"]));
        orders.patch_path = Some("shop://models/marts/schema.yml".into());
        v.push(orders);
        let mut customers = model("customers", "marts", &["model.shop.stg_customers"]);
        customers
            .config
            .insert("materialized".into(), json!("table"));
        customers
            .config
            .insert("contract".into(), json!({"enforced": true}));
        customers.config.insert("threads".into(), json!(4));
        v.push(customers);
        v.push(model("report", "reporting", &["model.shop.orders"]));
        v.push(generic_test(
            "test.shop.unique_orders_id",
            "unique_orders_id",
            "unique",
            None,
            &["model.shop.orders"],
        ));
        v.push(generic_test(
            "test.shop.relationships_orders",
            "relationships_orders",
            "relationships",
            None,
            &["model.shop.orders", "model.shop.customers"],
        ));
        let mut sing = base(
            ResourceType::Test,
            "test.shop.assert_positive",
            "shop",
            "assert_positive",
            &["shop", "assert_positive"],
            "tests/assert_positive.sql",
        );
        sing.config.insert("severity".into(), json!("ERROR"));
        v.push(deps(sing, &["model.shop.orders"]));
        v.push(generic_test(
            "test.shop.expr_customers",
            "expr_customers",
            "expression_is_true",
            Some("dbt_utils"),
            &["model.shop.customers"],
        ));
        let ut = base(
            ResourceType::UnitTest,
            "unit_test.shop.orders.test_orders_calc",
            "shop",
            "test_orders_calc",
            &["shop", "marts", "orders", "test_orders_calc"],
            "models/marts/schema.yml",
        );
        v.push(deps(ut, &["model.shop.orders"]));
        let ex = base(
            ResourceType::Exposure,
            "exposure.shop.dashboard",
            "shop",
            "dashboard",
            &["shop", "dashboard"],
            "models/exposures.yml",
        );
        v.push(deps(ex, &["model.shop.report"]));
        v.push(base(
            ResourceType::Seed,
            "seed.shop.country_codes",
            "shop",
            "country_codes",
            &["shop", "country_codes"],
            "seeds/country_codes.csv",
        ));
        for ver in ["1", "2", "3"] {
            let mut m = base(
                ResourceType::Model,
                &format!("model.shop.dim.v{ver}"),
                "shop",
                "dim",
                &["shop", "marts", "dim", &format!("v{ver}")],
                &format!("models/marts/dim_v{ver}.sql"),
            );
            m.version = Some(ver.into());
            m.latest_version = Some("2".into());
            v.push(m);
        }
        v.push(base(
            ResourceType::Model,
            "model.util.helper",
            "util",
            "helper",
            &["util", "helpers", "helper"],
            "models/helpers/helper.sql",
        ));
        v.push(base(
            ResourceType::Macro,
            "macro.shop.my_macro",
            "shop",
            "my_macro",
            &["shop", "my_macro"],
            "macros/my_macro.sql",
        ));
        let mut disabled = model("old_model", "marts", &[]);
        disabled.config.insert("enabled".into(), json!(false));
        v.push(disabled);
        v.into_iter()
            .map(|n| (n.unique_id.clone(), Box::new(n)))
            .collect()
    }

    fn run_full(
        select: &[&str],
        exclude: &[&str],
        selector: Option<&str>,
        sels: &Value,
        mode: IndirectSelection,
        types: &[ResourceType],
    ) -> Result<Vec<String>, SelectError> {
        let nodes = project();
        let dag = Dag::build(&nodes);
        let selectors = Selectors::parse(sels)?;
        let select: Vec<String> = select.iter().map(|s| (*s).to_owned()).collect();
        let exclude: Vec<String> = exclude.iter().map(|s| (*s).to_owned()).collect();
        let opts = SelectOptions {
            select: &select,
            exclude: &exclude,
            selector,
            resource_types: types,
            indirect_selection: mode,
            default_selector_allowed: true,
            state: None,
        };
        Ok(select_fn(&nodes, &dag, &selectors, &opts)?
            .into_iter()
            .collect())
    }

    use super::select as select_fn;

    /// The ids a selection yields with the given indirect-selection mode.
    fn sel_mode(select: &[&str], exclude: &[&str], mode: IndirectSelection) -> Vec<String> {
        match run_full(select, exclude, None, &Value::Null, mode, &[]) {
            Ok(v) => v,
            Err(e) => panic!("selection failed: {e}"),
        }
    }

    /// Selection without indirect tests (`--indirect-selection empty`), to
    /// keep expectations short where the case is not about tests.
    fn sel(select: &[&str]) -> Vec<String> {
        sel_mode(select, &[], IndirectSelection::Empty)
    }

    fn ids(list: &[&str]) -> Vec<String> {
        let nodes = project();
        // Expected ids in `nodes` order.
        let mut v: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
        v.sort_by_key(|id| nodes.get_index_of(id).unwrap_or(usize::MAX));
        v
    }

    fn err(select: &str) -> SelectError {
        match run_full(
            &[select],
            &[],
            None,
            &Value::Null,
            IndirectSelection::Eager,
            &[],
        ) {
            Ok(v) => panic!("expected an error for `{select}`, got {v:?}"),
            Err(e) => e,
        }
    }

    fn code(e: &SelectError) -> String {
        miette::Diagnostic::code(e)
            .map(|c| c.to_string())
            .unwrap_or_default()
    }

    fn with_selectors(doc: &Value, selector: Option<&str>) -> Result<Vec<String>, SelectError> {
        run_full(&[], &[], selector, doc, IndirectSelection::Eager, &[])
    }

    const ALL_BUT_HIDDEN: &[&str] = &[
        "source.shop.raw.orders",
        "source.shop.raw.customers",
        "model.shop.stg_orders",
        "model.shop.stg_customers",
        "model.shop.orders",
        "model.shop.customers",
        "model.shop.report",
        "test.shop.unique_orders_id",
        "test.shop.relationships_orders",
        "test.shop.assert_positive",
        "test.shop.expr_customers",
        "unit_test.shop.orders.test_orders_calc",
        "exposure.shop.dashboard",
        "seed.shop.country_codes",
        "model.shop.dim.v1",
        "model.shop.dim.v2",
        "model.shop.dim.v3",
        "model.util.helper",
    ];

    // --- whole-selection behaviour ---------------------------------------

    #[test]
    fn no_selection_selects_every_enabled_node_but_macros() {
        assert_eq!(
            sel_mode(&[], &[], IndirectSelection::Eager),
            ids(ALL_BUT_HIDDEN)
        );
    }

    #[test]
    fn resource_type_option_filters_the_final_set() {
        let got = run_full(
            &["+orders"],
            &[],
            None,
            &Value::Null,
            IndirectSelection::Eager,
            &[ResourceType::Source, ResourceType::Test],
        )
        .unwrap();
        assert_eq!(
            got,
            ids(&[
                "source.shop.raw.orders",
                "source.shop.raw.customers",
                "test.shop.unique_orders_id",
                "test.shop.relationships_orders",
                "test.shop.assert_positive",
            ])
        );
    }

    #[test]
    fn unknown_names_select_nothing() {
        assert_eq!(sel(&["no_such_model"]), ids(&[]));
    }

    #[test]
    fn disabled_nodes_are_never_selected() {
        assert_eq!(sel(&["old_model"]), ids(&[]));
    }

    // --- methods -----------------------------------------------------------

    #[test]
    fn bare_name_selects_by_fqn_leaf() {
        assert_eq!(
            sel(&["orders"]),
            ids(&["source.shop.raw.orders", "model.shop.orders"])
        );
    }

    #[test]
    fn fqn_matches_folder_prefix_with_or_without_package() {
        let staging = ids(&[
            "source.shop.raw.orders",
            "source.shop.raw.customers",
            "model.shop.stg_orders",
            "model.shop.stg_customers",
        ]);
        assert_eq!(sel(&["staging"]), staging);
        assert_eq!(sel(&["shop.staging"]), staging);
        assert_eq!(
            sel(&["fqn:staging.stg_orders"]),
            ids(&["model.shop.stg_orders"])
        );
        assert_eq!(sel(&["util"]), ids(&["model.util.helper"]));
    }

    #[test]
    fn fqn_wildcards_match_the_rest_of_the_name() {
        assert_eq!(
            sel(&["staging.stg_*"]),
            ids(&["model.shop.stg_orders", "model.shop.stg_customers"])
        );
        assert_eq!(
            sel(&["fqn:*.stg_?ustomers"]),
            ids(&["model.shop.stg_customers"])
        );
        // A bare pattern (no dot) also matches the node's name, however
        // deep its folder (dbt >= 1.11).
        assert_eq!(
            sel(&["fqn:stg_?ustomers"]),
            ids(&["model.shop.stg_customers"])
        );
        assert_eq!(sel(&["reporting.*"]), ids(&["model.shop.report"]));
        assert_eq!(sel(&["fqn:*"]), sel(&[]));
    }

    #[test]
    fn fqn_matches_versioned_models_by_name_and_version() {
        let all = ids(&[
            "model.shop.dim.v1",
            "model.shop.dim.v2",
            "model.shop.dim.v3",
        ]);
        assert_eq!(sel(&["dim"]), all);
        assert_eq!(sel(&["dim_v2"]), ids(&["model.shop.dim.v2"]));
        assert_eq!(sel(&["dim.v3"]), ids(&["model.shop.dim.v3"]));
        // A bare wildcard matches the model's name, not `v3`.
        assert_eq!(sel(&["di*"]), all);
        assert_eq!(sel(&["v*"]), ids(&[]));
    }

    #[test]
    fn tag_method_supports_wildcards() {
        assert_eq!(
            sel(&["tag:staging"]),
            ids(&["model.shop.stg_orders", "model.shop.stg_customers"])
        );
        assert_eq!(sel(&["tag:n*ly"]), ids(&["model.shop.orders"]));
        assert_eq!(sel(&["tag:[p]ii"]), ids(&["model.shop.stg_customers"]));
    }

    #[test]
    fn path_method_matches_files_folders_and_globs() {
        assert_eq!(
            sel(&["path:models/marts/orders.sql"]),
            ids(&["model.shop.orders"])
        );
        assert_eq!(
            sel(&["models/staging"]),
            ids(&[
                "source.shop.raw.orders",
                "source.shop.raw.customers",
                "model.shop.stg_orders",
                "model.shop.stg_customers",
            ])
        );
        assert_eq!(
            sel(&["path:models/staging/stg_*.sql"]),
            ids(&["model.shop.stg_orders", "model.shop.stg_customers"])
        );
        assert_eq!(sel(&["path:seeds/"]), ids(&["seed.shop.country_codes"]));
        assert_eq!(sel(&["path:**/helper.sql"]), ids(&["model.util.helper"]));
    }

    #[test]
    fn path_method_matches_the_yaml_that_patches_a_model() {
        assert_eq!(
            sel(&["path:models/marts/schema.yml"]),
            ids(&[
                "model.shop.orders",
                "test.shop.unique_orders_id",
                "test.shop.relationships_orders",
                "test.shop.expr_customers",
                "unit_test.shop.orders.test_orders_calc",
            ])
        );
    }

    #[test]
    fn file_method_matches_name_with_or_without_extension() {
        assert_eq!(sel(&["file:orders.sql"]), ids(&["model.shop.orders"]));
        assert_eq!(sel(&["file:stg_orders"]), ids(&["model.shop.stg_orders"]));
        assert_eq!(
            sel(&["country_codes.csv"]),
            ids(&["seed.shop.country_codes"])
        );
    }

    #[test]
    fn config_method_compares_strings_booleans_lists_and_nested_keys() {
        assert_eq!(
            sel(&["config.materialized:table"]),
            ids(&["model.shop.orders", "model.shop.customers"])
        );
        assert_eq!(
            sel(&["config.contract.enforced:true"]),
            ids(&["model.shop.customers"])
        );
        assert_eq!(
            sel(&["config.meta.owner.team:fin"]),
            ids(&["model.shop.orders"])
        );
        assert_eq!(
            sel(&["config.partition_by:region"]),
            ids(&["model.shop.orders"])
        );
        assert_eq!(sel(&["config.threads:4"]), ids(&["model.shop.customers"]));
        // Every test has severity ERROR by default, as in dbt.
        assert_eq!(
            sel(&["config.severity:error"]),
            ids(&[
                "test.shop.unique_orders_id",
                "test.shop.relationships_orders",
                "test.shop.assert_positive",
                "test.shop.expr_customers"
            ])
        );
        assert_eq!(sel(&["config.enabled:false"]), ids(&[]));
    }

    #[test]
    fn package_method_matches_names_and_this() {
        assert_eq!(sel(&["package:util"]), ids(&["model.util.helper"]));
        assert_eq!(sel(&["package:ut*"]), ids(&["model.util.helper"]));
        let mut shop: Vec<&str> = ALL_BUT_HIDDEN.to_vec();
        shop.retain(|id| *id != "model.util.helper");
        assert_eq!(sel(&["package:this"]), ids(&shop));
    }

    #[test]
    fn resource_type_method_matches_types() {
        assert_eq!(
            sel(&["resource_type:seed"]),
            ids(&["seed.shop.country_codes"])
        );
        assert_eq!(
            sel(&["resource_type:unit_test"]),
            ids(&["unit_test.shop.orders.test_orders_calc"])
        );
        assert_eq!(sel(&["resource_type:metric"]), ids(&[]));
        assert_eq!(sel(&["resource_type:macro"]), ids(&[]));
    }

    #[test]
    fn source_method_accepts_one_two_or_three_parts() {
        let both = ids(&["source.shop.raw.orders", "source.shop.raw.customers"]);
        assert_eq!(sel(&["source:raw"]), both);
        assert_eq!(
            sel(&["source:raw.orders"]),
            ids(&["source.shop.raw.orders"])
        );
        assert_eq!(
            sel(&["source:shop.raw.cust*"]),
            ids(&["source.shop.raw.customers"])
        );
        assert_eq!(sel(&["source:*"]), both);
        assert_eq!(sel(&["source:other.raw.orders"]), ids(&[]));
    }

    #[test]
    fn exposure_method_matches_exposures() {
        assert_eq!(
            sel(&["exposure:dashboard"]),
            ids(&["exposure.shop.dashboard"])
        );
        assert_eq!(
            sel(&["exposure:shop.dash*"]),
            ids(&["exposure.shop.dashboard"])
        );
        assert_eq!(sel(&["exposure:orders"]), ids(&[]));
    }

    #[test]
    fn test_type_method_separates_generic_singular_and_unit() {
        let generic = ids(&[
            "test.shop.unique_orders_id",
            "test.shop.relationships_orders",
            "test.shop.expr_customers",
        ]);
        assert_eq!(sel(&["test_type:generic"]), generic);
        assert_eq!(sel(&["test_type:schema"]), generic);
        assert_eq!(
            sel(&["test_type:singular"]),
            ids(&["test.shop.assert_positive"])
        );
        assert_eq!(
            sel(&["test_type:data"]),
            ids(&["test.shop.assert_positive"])
        );
        assert_eq!(
            sel(&["test_type:unit"]),
            ids(&["unit_test.shop.orders.test_orders_calc"])
        );
    }

    #[test]
    fn test_name_method_matches_macro_name_and_namespace() {
        assert_eq!(
            sel(&["test_name:unique"]),
            ids(&["test.shop.unique_orders_id"])
        );
        assert_eq!(
            sel(&["test_name:expression_is_true"]),
            ids(&["test.shop.expr_customers"])
        );
        assert_eq!(
            sel(&["test_name:dbt_utils.expression_is_true"]),
            ids(&["test.shop.expr_customers"])
        );
        assert_eq!(sel(&["test_name:other.expression_is_true"]), ids(&[]));
        assert_eq!(
            sel(&["test_name:rel*"]),
            ids(&["test.shop.relationships_orders"])
        );
    }

    #[test]
    fn group_and_access_methods_read_model_config() {
        assert_eq!(sel(&["group:finance"]), ids(&["model.shop.orders"]));
        assert_eq!(sel(&["access:public"]), ids(&["model.shop.orders"]));
        assert_eq!(
            sel(&["access:protected"]),
            ids(&[
                "model.shop.stg_orders",
                "model.shop.stg_customers",
                "model.shop.customers",
                "model.shop.report",
                "model.shop.dim.v1",
                "model.shop.dim.v2",
                "model.shop.dim.v3",
                "model.util.helper",
            ])
        );
    }

    #[test]
    fn version_method_compares_with_latest_version() {
        assert_eq!(sel(&["version:latest"]), ids(&["model.shop.dim.v2"]));
        assert_eq!(sel(&["version:prerelease"]), ids(&["model.shop.dim.v3"]));
        assert_eq!(sel(&["version:old"]), ids(&["model.shop.dim.v1"]));
        assert_eq!(
            sel(&["version:none"]),
            ids(&[
                "model.shop.stg_orders",
                "model.shop.stg_customers",
                "model.shop.orders",
                "model.shop.customers",
                "model.shop.report",
                "model.util.helper",
            ])
        );
    }

    #[test]
    fn unit_test_method_matches_unit_tests_only() {
        let ut = ids(&["unit_test.shop.orders.test_orders_calc"]);
        assert_eq!(sel(&["unit_test:test_orders_calc"]), ut);
        assert_eq!(sel(&["unit_test:shop.test_*"]), ut);
        assert_eq!(sel(&["unit_test:orders"]), ids(&[]));
    }

    #[test]
    fn metric_and_saved_query_methods_select_nothing() {
        assert_eq!(
            sel(&["metric:revenue", "saved_query:*", "semantic_model:x"]),
            ids(&[])
        );
    }

    // --- graph operators ----------------------------------------------------

    #[test]
    fn plus_prefix_adds_all_ancestors() {
        assert_eq!(
            sel(&["+orders"]),
            ids(&[
                "source.shop.raw.orders",
                "source.shop.raw.customers",
                "model.shop.stg_orders",
                "model.shop.stg_customers",
                "model.shop.orders",
            ])
        );
    }

    #[test]
    fn n_plus_prefix_limits_ancestor_depth() {
        assert_eq!(
            sel(&["1+orders.sql"]),
            ids(&[
                "model.shop.stg_orders",
                "model.shop.stg_customers",
                "model.shop.orders"
            ])
        );
        assert_eq!(
            sel(&["2+report"]),
            ids(&[
                "model.shop.orders",
                "model.shop.report",
                "model.shop.stg_orders",
                "model.shop.stg_customers"
            ])
        );
    }

    #[test]
    fn plus_suffix_adds_all_descendants() {
        assert_eq!(
            sel(&["stg_customers+"]),
            ids(&[
                "model.shop.stg_customers",
                "model.shop.orders",
                "model.shop.customers",
                "model.shop.report",
                "test.shop.unique_orders_id",
                "test.shop.relationships_orders",
                "test.shop.assert_positive",
                "test.shop.expr_customers",
                "unit_test.shop.orders.test_orders_calc",
                "exposure.shop.dashboard",
            ])
        );
    }

    #[test]
    fn plus_n_suffix_limits_descendant_depth() {
        assert_eq!(
            sel(&["stg_orders+2"]),
            ids(&[
                "model.shop.stg_orders",
                "model.shop.orders",
                "model.shop.report",
                "test.shop.unique_orders_id",
                "test.shop.relationships_orders",
                "test.shop.assert_positive",
                "unit_test.shop.orders.test_orders_calc",
            ])
        );
        assert_eq!(sel(&["report+0"]), ids(&["model.shop.report"]));
    }

    #[test]
    fn at_prefix_adds_descendants_and_their_ancestors() {
        assert_eq!(
            sel(&["@marts.customers"]),
            ids(&[
                "source.shop.raw.customers",
                "model.shop.stg_customers",
                "model.shop.customers",
                "test.shop.expr_customers",
                // the relationships test is a child of customers; its other
                // parent `orders` and all of orders' ancestors come along.
                "test.shop.relationships_orders",
                "model.shop.orders",
                "model.shop.stg_orders",
                "source.shop.raw.orders",
            ])
        );
    }

    #[test]
    fn depth_digits_inside_names_are_not_operators() {
        let nodes = project();
        let mut nodes2 = nodes.clone();
        let m = model("model_2", "marts", &[]);
        nodes2.insert(m.unique_id.clone(), Box::new(m));
        let dag = Dag::build(&nodes2);
        let select = vec!["model_2".to_owned()];
        let opts = SelectOptions {
            select: &select,
            exclude: &[],
            selector: None,
            resource_types: &[],
            indirect_selection: IndirectSelection::Eager,
            default_selector_allowed: true,
            state: None,
        };
        let got: Vec<String> = select_fn(&nodes2, &dag, &Selectors::default(), &opts)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(got, vec!["model.shop.model_2".to_owned()]);
    }

    // --- set operations -------------------------------------------------------

    #[test]
    fn whitespace_and_separate_arguments_are_unions() {
        let expected = ids(&[
            "model.shop.report",
            "seed.shop.country_codes",
            "model.util.helper",
        ]);
        assert_eq!(sel(&["report country_codes", "helper"]), expected);
        assert_eq!(sel(&["  report\tcountry_codes  helper "]), expected);
    }

    #[test]
    fn commas_intersect() {
        assert_eq!(
            sel(&["tag:staging,tag:pii"]),
            ids(&["model.shop.stg_customers"])
        );
        assert_eq!(
            sel(&["+orders,resource_type:source"]),
            ids(&["source.shop.raw.orders", "source.shop.raw.customers"])
        );
        assert_eq!(sel(&["tag:staging,tag:nightly"]), ids(&[]));
    }

    #[test]
    fn exclude_removes_nodes_after_selection() {
        assert_eq!(
            sel_mode(
                &["+orders"],
                &["source:raw", "stg_orders"],
                IndirectSelection::Empty
            ),
            ids(&["model.shop.stg_customers", "model.shop.orders"])
        );
        let mut all: Vec<&str> = ALL_BUT_HIDDEN.to_vec();
        all.retain(|id| !id.starts_with("model.shop.dim"));
        assert_eq!(sel_mode(&[], &["dim"], IndirectSelection::Empty), ids(&all));
    }

    // --- indirect selection ------------------------------------------------------

    #[test]
    fn eager_adds_tests_with_any_parent_selected() {
        assert_eq!(
            sel_mode(&["orders"], &[], IndirectSelection::Eager),
            ids(&[
                "source.shop.raw.orders",
                "model.shop.orders",
                "test.shop.unique_orders_id",
                "test.shop.relationships_orders",
                "test.shop.assert_positive",
                "unit_test.shop.orders.test_orders_calc",
            ])
        );
    }

    #[test]
    fn cautious_adds_tests_only_when_all_parents_are_selected() {
        assert_eq!(
            sel_mode(&["orders.sql"], &[], IndirectSelection::Cautious),
            ids(&[
                "model.shop.orders",
                "test.shop.unique_orders_id",
                "test.shop.assert_positive",
                "unit_test.shop.orders.test_orders_calc",
            ])
        );
    }

    #[test]
    fn cautious_union_promotes_tests_covered_by_both_members() {
        assert_eq!(
            sel_mode(
                &["orders.sql", "customers.sql"],
                &[],
                IndirectSelection::Cautious
            ),
            ids(&[
                "model.shop.orders",
                "model.shop.customers",
                "test.shop.unique_orders_id",
                "test.shop.relationships_orders",
                "test.shop.assert_positive",
                "test.shop.expr_customers",
                "unit_test.shop.orders.test_orders_calc",
            ])
        );
    }

    #[test]
    fn buildable_adds_tests_whose_other_parents_are_upstream() {
        // A test on `report` and `stg_orders`: stg_orders is upstream of report.
        let mut nodes = project();
        let t = generic_test(
            "test.shop.cross",
            "cross",
            "equal_rowcount",
            None,
            &["model.shop.report", "model.shop.stg_orders"],
        );
        nodes.insert(t.unique_id.clone(), Box::new(t));
        let dag = Dag::build(&nodes);
        let select = vec!["report".to_owned()];
        let run = |mode| -> Vec<String> {
            let opts = SelectOptions {
                select: &select,
                exclude: &[],
                selector: None,
                resource_types: &[],
                indirect_selection: mode,
                default_selector_allowed: true,
                state: None,
            };
            select_fn(&nodes, &dag, &Selectors::default(), &opts)
                .unwrap()
                .into_iter()
                .collect()
        };
        assert_eq!(
            run(IndirectSelection::Buildable),
            vec!["model.shop.report".to_owned(), "test.shop.cross".to_owned()]
        );
        assert_eq!(
            run(IndirectSelection::Cautious),
            vec!["model.shop.report".to_owned()]
        );
        assert_eq!(
            run(IndirectSelection::Eager),
            vec!["model.shop.report".to_owned(), "test.shop.cross".to_owned()]
        );
    }

    #[test]
    fn buildable_still_needs_unrelated_parents_selected() {
        assert_eq!(
            sel_mode(&["orders.sql"], &[], IndirectSelection::Buildable),
            ids(&[
                "model.shop.orders",
                "test.shop.unique_orders_id",
                "test.shop.assert_positive",
                "unit_test.shop.orders.test_orders_calc",
            ])
        );
    }

    #[test]
    fn empty_mode_adds_no_tests() {
        assert_eq!(
            sel_mode(&["orders.sql"], &[], IndirectSelection::Empty),
            ids(&["model.shop.orders"])
        );
    }

    #[test]
    fn eager_exclusion_removes_tests_touching_an_excluded_node() {
        assert_eq!(
            sel_mode(
                &["orders.sql", "customers.sql"],
                &["customers.sql"],
                IndirectSelection::Eager
            ),
            ids(&[
                "model.shop.orders",
                "test.shop.unique_orders_id",
                "test.shop.assert_positive",
                "unit_test.shop.orders.test_orders_calc",
            ])
        );
    }

    #[test]
    fn cautious_exclusion_keeps_tests_with_unexcluded_parents() {
        assert_eq!(
            sel_mode(
                &["orders.sql", "customers.sql"],
                &["customers.sql"],
                IndirectSelection::Cautious
            ),
            ids(&[
                "model.shop.orders",
                "test.shop.unique_orders_id",
                "test.shop.relationships_orders",
                "test.shop.assert_positive",
                "unit_test.shop.orders.test_orders_calc",
            ])
        );
    }

    // --- selectors.yml --------------------------------------------------------

    fn selectors_doc() -> Value {
        json!({"selectors": [
            {"name": "nightly_str", "definition": "tag:nightly report"},
            {"name": "stg_children", "definition": {
                "method": "tag", "value": "staging", "children": true, "children_depth": 1,
                "indirect_selection": "empty"}},
            {"name": "short", "definition": {"tag": "pii"}},
            {"name": "mixed", "definition": {"union": [
                {"method": "path", "value": "models/staging"},
                "report",
                {"exclude": [{"method": "source", "value": "raw"}]},
            ]}},
            {"name": "inter", "definition": {"intersection": [
                {"method": "tag", "value": "staging"},
                {"method": "fqn", "value": "staging.stg_*"},
                {"union": [{"tag": "pii"}, {"method": "fqn", "value": "orders"}]},
            ]}},
            {"name": "parents_only", "definition": {
                "method": "fqn", "value": "orders", "parents": true, "parents_depth": 1,
                "exclude": [{"method": "resource_type", "value": "source"}],
                "indirect_selection": "empty"}},
            {"name": "at", "definition": {"method": "fqn", "value": "report",
                "childrens_parents": true, "indirect_selection": "empty"}},
            {"name": "reuse", "definition": {"union": [
                {"method": "selector", "value": "short"},
                {"method": "fqn", "value": "helper"},
            ]}},
            {"name": "later_ref", "definition": {"method": "selector", "value": "defined_later"}},
            {"name": "defined_later", "definition": "seed.shop.country_codes country_codes"},
            {"name": "seeds", "default": true, "definition": {"method": "resource_type", "value": "seed"}},
        ]})
    }

    fn selector(name: &str) -> Vec<String> {
        with_selectors(&selectors_doc(), Some(name)).unwrap()
    }

    #[test]
    fn selector_string_definition_uses_cli_syntax() {
        assert_eq!(
            selector("nightly_str"),
            ids(&[
                "model.shop.orders",
                "model.shop.report",
                "test.shop.unique_orders_id",
                "test.shop.relationships_orders",
                "test.shop.assert_positive",
                "unit_test.shop.orders.test_orders_calc",
            ])
        );
    }

    #[test]
    fn selector_method_dict_with_children_depth() {
        assert_eq!(
            selector("stg_children"),
            ids(&[
                "model.shop.stg_orders",
                "model.shop.stg_customers",
                "model.shop.orders",
                "model.shop.customers",
            ])
        );
    }

    #[test]
    fn selector_shorthand_key_value() {
        assert_eq!(selector("short"), ids(&["model.shop.stg_customers"]));
    }

    #[test]
    fn selector_union_with_exclude_entry() {
        assert_eq!(
            selector("mixed"),
            ids(&[
                "model.shop.stg_orders",
                "model.shop.stg_customers",
                "model.shop.report",
            ])
        );
    }

    #[test]
    fn selector_nested_intersection_and_union() {
        assert_eq!(selector("inter"), ids(&["model.shop.stg_customers"]));
    }

    #[test]
    fn selector_parents_depth_and_exclude() {
        assert_eq!(
            selector("parents_only"),
            ids(&[
                "model.shop.stg_orders",
                "model.shop.stg_customers",
                "model.shop.orders"
            ])
        );
    }

    #[test]
    fn selector_childrens_parents() {
        assert_eq!(
            selector("at"),
            ids(&[
                "source.shop.raw.orders",
                "source.shop.raw.customers",
                "model.shop.stg_orders",
                "model.shop.stg_customers",
                "model.shop.orders",
                "model.shop.report",
                "exposure.shop.dashboard",
            ])
        );
    }

    #[test]
    fn selector_references_other_selectors_in_any_order() {
        assert_eq!(
            selector("reuse"),
            ids(&["model.shop.stg_customers", "model.util.helper"])
        );
        assert_eq!(selector("later_ref"), ids(&["seed.shop.country_codes"]));
    }

    #[test]
    fn default_selector_applies_without_select_or_exclude() {
        assert_eq!(
            with_selectors(&selectors_doc(), None).unwrap(),
            ids(&["seed.shop.country_codes"])
        );
        let got = run_full(
            &["report"],
            &[],
            None,
            &selectors_doc(),
            IndirectSelection::Empty,
            &[],
        )
        .unwrap();
        assert_eq!(got, ids(&["model.shop.report"]));
    }

    #[test]
    fn default_selector_is_ignored_when_not_allowed() {
        let nodes = project();
        let dag = Dag::build(&nodes);
        let selectors = Selectors::parse(&selectors_doc()).unwrap();
        let opts = SelectOptions {
            select: &[],
            exclude: &[],
            selector: None,
            resource_types: &[],
            indirect_selection: IndirectSelection::Eager,
            default_selector_allowed: false,
            state: None,
        };
        let got: Vec<String> = select_fn(&nodes, &dag, &selectors, &opts)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(got, ids(ALL_BUT_HIDDEN));
    }

    #[test]
    fn selector_option_overrides_select_arguments() {
        let got = run_full(
            &["report"],
            &[],
            Some("short"),
            &selectors_doc(),
            IndirectSelection::Eager,
            &[],
        )
        .unwrap();
        assert_eq!(got, ids(&["model.shop.stg_customers"]));
    }

    #[test]
    fn selectors_names_lists_definitions_in_file_order() {
        let s = Selectors::parse(&selectors_doc()).unwrap();
        assert_eq!(s.names().next(), Some("nightly_str"));
        assert_eq!(s.names().count(), 11);
        assert_eq!(s.default_name(), Some("seeds"));
        assert_eq!(Selectors::parse(&Value::Null).unwrap().names().count(), 0);
    }

    // --- errors ---------------------------------------------------------------------

    #[test]
    fn unknown_method_is_xf0301_with_suggestion() {
        let e = err("tags:nightly");
        assert_eq!(code(&e), "xform::XF0301");
        assert_eq!(
            e.to_string(),
            "unknown selection method `tags` in `tags:nightly`"
        );
        assert!(e.help_text().unwrap().starts_with("did you mean `tag`?"));
    }

    #[test]
    fn malformed_selections_are_xf0302() {
        for bad in [
            "tag:",
            "+",
            "@+orders",
            "@orders+",
            "a,,b",
            "config:table",
            "test_type:weird",
            "resource_type:table",
            "version:newest",
            "source:a.b.c.d",
            "exposure:a.b.c",
            "access:open",
            "++orders",
        ] {
            let e = err(bad);
            assert_eq!(code(&e), "xform::XF0302", "{bad}: {e}");
        }
        assert_eq!(
            err("tag:").to_string(),
            "malformed selection `tag:`: expected a value after `tag:`, found nothing"
        );
    }

    #[test]
    fn unknown_selector_is_xf0303_with_suggestion() {
        let e = with_selectors(&selectors_doc(), Some("shrot")).unwrap_err();
        assert_eq!(code(&e), "xform::XF0303");
        assert_eq!(e.to_string(), "unknown selector `shrot`");
        assert_eq!(e.help_text().as_deref(), Some("did you mean `short`?"));
    }

    #[test]
    fn invalid_selector_definitions_are_xf0304() {
        let cases = [
            json!({"selectors": [{"name": "a", "definition": {"method": "selector", "value": "b"}},
                                 {"name": "b", "definition": {"method": "selector", "value": "a"}}]}),
            json!({"selectors": [{"name": "a", "definition": {"method": "selector", "value": "zz"}}]}),
            json!({"selectors": [{"name": "a", "definition": {"method": "tagz", "value": "x"}}]}),
            json!({"selectors": [{"name": "a", "definition": "tag:"}]}),
            json!({"selectors": [{"name": "a", "definition": {"union": "tag:x"}}]}),
            json!({"selectors": [{"name": "a", "definition": {"union": [], "intersection": []}}]}),
            json!({"selectors": [{"name": "a", "definition": {"method": "tag"}}]}),
            json!({"selectors": [{"name": "a", "definition": {"method": "tag", "value": "x",
                                                              "indirect_selection": "lazy"}}]}),
            json!({"selectors": [{"name": "a", "definition": {"union": [
                {"exclude": ["x"]}, {"exclude": ["y"]}]}}]}),
            json!({"selectors": [{"name": "a", "definition": 5}]}),
            json!({"selectors": [{"name": "a"}]}),
            json!({"selectors": [{"name": "a", "definition": "x"}, {"name": "a", "definition": "y"}]}),
            json!({"selectors": [{"name": "a", "default": true, "definition": "x"},
                                 {"name": "b", "default": true, "definition": "y"}]}),
            json!({"selectors": {"name": "a"}}),
            json!({"selectors": [{"definition": "x"}]}),
        ];
        for doc in cases {
            let e = Selectors::parse(&doc).unwrap_err();
            assert_eq!(code(&e), "xform::XF0304", "{doc}: {e}");
        }
        let e = Selectors::parse(&json!({"selectors": [
            {"name": "a", "definition": {"method": "selector", "value": "b"}},
            {"name": "b", "definition": {"method": "selector", "value": "a"}}]}))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid definition of selector `a` in `selectors.yml`: selector references form a cycle: a -> b -> a"
        );
    }

    #[test]
    fn state_methods_need_state_xf0305() {
        for s in ["state:modified", "result:error+"] {
            let e = err(s);
            assert_eq!(code(&e), "xform::XF0305", "{s}");
            assert!(parse_selection(s).is_ok(), "{s} is valid syntax");
        }
        assert_eq!(
            err("state:modified").to_string(),
            "the `state:` selection method in `state:modified` needs `--state <dir>`"
        );
        // A selectors.yml may define state selectors without breaking other commands.
        let doc = json!({"selectors": [{"name": "ci", "definition": "state:modified+"}]});
        assert!(Selectors::parse(&doc).is_ok());
        assert_eq!(
            code(&with_selectors(&doc, Some("ci")).unwrap_err()),
            "xform::XF0305"
        );
    }

    #[test]
    fn state_values_are_checked_when_parsed() {
        for s in ["state:modifed", "state:modified.bodies", "result:errored"] {
            assert_eq!(
                parse_selection(s).map_err(|e| code(&e)),
                Err("xform::XF0302".to_owned()),
                "{s}"
            );
        }
        let e = parse_selection("state:modifed").unwrap_err();
        assert_eq!(
            e.help_text().as_deref(),
            Some("did you mean `state:modified`?")
        );
        // source_status: parses, and says why it cannot be evaluated.
        assert!(parse_selection("source_status:fresher+").is_ok());
        match err("source_status:fresher+") {
            SelectError::State(d) => assert_eq!(d.code, "XF0347"),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// A state where `stg_orders` is modified and `orders` errored last time.
    struct FakeState;

    impl StateLookup for FakeState {
        fn state(
            &self,
            selector: StateSelector,
        ) -> Result<HashSet<String>, crate::diagnostics::Diag> {
            Ok(match selector {
                StateSelector::Modified(None | Some(Aspect::Body)) => {
                    ["model.shop.stg_orders".to_owned()].into()
                }
                StateSelector::New => ["model.shop.report".to_owned()].into(),
                _ => HashSet::new(),
            })
        }

        fn result(&self, status: &str) -> Result<HashSet<String>, crate::diagnostics::Diag> {
            if status == "runtime error" {
                return Err(crate::diagnostics::Diag::error(
                    "XF0343",
                    "no run_results.json",
                ));
            }
            Ok(if status == "error" {
                ["model.shop.orders".to_owned()].into()
            } else {
                HashSet::new()
            })
        }
    }

    fn with_state(
        select: &[&str],
        exclude: &[&str],
        sels: &Value,
    ) -> Result<Vec<String>, SelectError> {
        let nodes = project();
        let dag = Dag::build(&nodes);
        let selectors = Selectors::parse(sels)?;
        let select: Vec<String> = select.iter().map(|s| (*s).to_owned()).collect();
        let exclude: Vec<String> = exclude.iter().map(|s| (*s).to_owned()).collect();
        let opts = SelectOptions {
            select: &select,
            exclude: &exclude,
            selector: sels.get("use").and_then(Value::as_str),
            resource_types: &[ResourceType::Model],
            indirect_selection: IndirectSelection::Empty,
            default_selector_allowed: true,
            state: Some(&FakeState),
        };
        Ok(select_fn(&nodes, &dag, &selectors, &opts)?
            .into_iter()
            .collect())
    }

    #[test]
    fn state_and_result_criteria_take_graph_operators_and_sets() {
        let none = Value::Null;
        assert_eq!(
            with_state(&["state:modified"], &[], &none).unwrap(),
            ids(&["model.shop.stg_orders"])
        );
        assert_eq!(
            with_state(&["state:modified+"], &[], &none).unwrap(),
            ids(&[
                "model.shop.stg_orders",
                "model.shop.orders",
                "model.shop.report"
            ])
        );
        assert_eq!(
            with_state(&["state:modified+"], &["state:new"], &none).unwrap(),
            ids(&["model.shop.stg_orders", "model.shop.orders"])
        );
        assert_eq!(
            with_state(&["state:modified+,result:error"], &[], &none).unwrap(),
            ids(&["model.shop.orders"])
        );
        assert_eq!(
            with_state(&["state:modified.macros"], &[], &none).unwrap(),
            Vec::<String>::new()
        );
        let doc = json!({"use": "ci", "selectors": [{"name": "ci", "definition": {
            "union": [{"method": "state", "value": "modified", "children": true},
                      {"exclude": [{"method": "result", "value": "error"}]}]}}]});
        assert_eq!(
            with_state(&[], &[], &doc).unwrap(),
            ids(&["model.shop.stg_orders", "model.shop.report"])
        );
        let runtime = json!({"use": "rt", "selectors": [{"name": "rt", "definition":
            {"method": "result", "value": "runtime error"}}]});
        match with_state(&[], &[], &runtime) {
            Err(SelectError::State(d)) => assert_eq!(d.code, "XF0343"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn parse_selection_validates_early() {
        assert!(parse_selection("+tag:nightly,config.materialized:table 2+orders+3 @x").is_ok());
        assert_eq!(
            parse_selection("tagg:x").map_err(|e| code(&e)),
            Err("xform::XF0301".to_owned())
        );
        assert_eq!(
            parse_selection("config:x").map_err(|e| code(&e)),
            Err("xform::XF0302".to_owned())
        );
    }

    #[test]
    fn fnmatch_patterns_follow_python_rules() {
        assert!(Pattern::new("a*c").matches("abbbc"));
        assert!(Pattern::new("a?c").matches("abc"));
        assert!(!Pattern::new("a?c").matches("ac"));
        assert!(Pattern::new("[a-c]x").matches("bx"));
        assert!(!Pattern::new("[!a-c]x").matches("bx"));
        assert!(Pattern::new("[]]").matches("]"));
        assert!(Pattern::new("a[b").matches("a[b"));
        assert!(Pattern::new("*").matches(""));
        assert!(Pattern::new("*.*").matches("a.b.c"));
    }
}
