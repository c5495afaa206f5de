//! User-facing problems.
//!
//! Every problem with the user's project is a [`Diag`]: a stable code, a
//! message, and, whenever the problem has a place, a span in the file the user
//! wrote (never in rendered SQL). Phases collect diagnostics instead of
//! stopping at the first, so one bad model does not hide the others. Only the
//! `cli` module renders them.
//!
//! Codes are grouped by phase:
//! - `XF01xx` loading files, YAML, `dbt_project.yml`, profiles
//! - `XF02xx` Jinja rendering (syntax, undefined names, macro errors)
//! - `XF03xx` graph and selection
//! - `XF04xx` compilation (refs, sources, cycles)
//! - `XF06xx` `deps` (package declarations, hub, git, lock file)
//! - `XF07xx` `check` and `lineage` (SQL syntax, columns, contracts)
//! - `XF09xx` xform itself failed (exit code 2)

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, Severity, SourceCode};

/// A file's name as shown to the user and its full text, shared by every
/// diagnostic that points into it.
#[derive(Clone, Debug)]
pub struct SourceText {
    pub name: String,
    pub text: Arc<str>,
}

impl SourceText {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }

    /// Reads a file for a diagnostic; a file that cannot be read gives an
    /// empty text so the message still shows.
    pub fn read(display_name: impl Into<String>, path: &Path) -> Self {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        Self::new(display_name, text)
    }
}

/// One labelled place in a source.
#[derive(Clone, Debug)]
pub struct Label {
    pub offset: usize,
    pub len: usize,
    pub text: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Diag {
    pub code: &'static str,
    pub message: String,
    pub severity: Severity,
    pub source: Option<SourceText>,
    named: Option<NamedSource<Arc<str>>>,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    /// Further places, e.g. each frame of a macro call stack, shown below.
    pub related: Vec<Diag>,
}

impl Diag {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            severity: Severity::Error,
            source: None,
            named: None,
            labels: Vec::new(),
            help: None,
            related: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    #[must_use]
    pub fn with_source(mut self, source: SourceText) -> Self {
        self.named = Some(NamedSource::new(
            source.name.clone(),
            Arc::clone(&source.text),
        ));
        self.source = Some(source);
        self
    }

    #[must_use]
    pub fn with_label(mut self, offset: usize, len: usize, text: impl Into<String>) -> Self {
        let text = text.into();
        self.labels.push(Label {
            offset,
            len,
            text: (!text.is_empty()).then_some(text),
        });
        self
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn with_related(mut self, related: Diag) -> Self {
        self.related.push(related);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col` of the first label, for one-line summaries and
    /// machine-readable output.
    pub fn location(&self) -> Option<(String, usize, usize)> {
        let src = self.source.as_ref()?;
        let label = self.labels.first()?;
        let (line, col) = crate::span::line_col(&src.text, label.offset);
        Some((src.name.clone(), line, col))
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diag {}

impl Diagnostic for Diag {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("xform::{}", self.code)))
    }

    fn severity(&self) -> Option<Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.named.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.source.is_none() || self.labels.is_empty() {
            return None;
        }
        Some(Box::new(
            self.labels
                .iter()
                .map(|l| LabeledSpan::new(l.text.clone(), l.offset, l.len)),
        ))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|d| d as &dyn Diagnostic)))
    }
}

impl Diag {
    /// Renders the diagnostic as text with code frames; `width` fixes the
    /// wrapping so output is stable in tests and logs.
    pub fn render(&self, color: bool, width: usize) -> String {
        let theme = if color {
            miette::GraphicalTheme::unicode()
        } else {
            miette::GraphicalTheme::unicode_nocolor()
        };
        let handler = miette::GraphicalReportHandler::new_themed(theme)
            .with_width(width)
            .with_links(false);
        let mut out = String::new();
        if handler.render_report(&mut out, self).is_err() {
            out = format!("error[{}]: {}\n", self.code, self.message);
        }
        out
    }
}

/// Suggests the closest candidate to `wanted` for "did you mean" help.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(&str, f64)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(wanted, c);
        if score > 0.8 && best.is_none_or(|(_, s)| score > s) {
            best = Some((c, score));
        }
    }
    best.map(|(c, _)| c)
}

/// Collected diagnostics of a phase.
#[derive(Debug, Default)]
pub struct Diags(pub Vec<Diag>);

impl Diags {
    pub fn push(&mut self, d: Diag) {
        self.0.push(d);
    }
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diag>) {
        self.0.extend(other);
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diag::is_error)
    }
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }
}
