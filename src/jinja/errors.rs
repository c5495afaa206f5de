//! Turning minijinja errors into diagnostics that point at the file the user
//! wrote, with the macro call stack as related frames.

use minijinja::{Error, ErrorKind};

use crate::diagnostics::{Diag, SourceText, closest};
use crate::node::Node;
use crate::project::Project;

/// The message of an error without location decoration.
pub fn plain_message(e: &Error) -> String {
    let mut inner = e;
    while let Some(src) = std::error::Error::source(inner).and_then(|s| s.downcast_ref::<Error>()) {
        inner = src;
    }
    inner
        .detail()
        .map_or_else(|| inner.kind().to_string(), str::to_owned)
}

/// Where a template position is in the user's files.
struct Place {
    source: SourceText,
    offset: usize,
    len: usize,
    what: String,
}

#[allow(clippy::many_single_char_names)]
fn place(e: &Error, project: &Project, node: Option<&Node>) -> Option<Place> {
    let name = e.name()?;
    let range = e.range();
    let line = e.line()?;
    if let Some(uid) = name.strip_prefix("macro:") {
        let m = project.macros.get(uid)?;
        let source = if m.builtin {
            SourceText::new(m.abs_path.display().to_string(), m.template.as_str())
        } else {
            project.source_text(&m.abs_path)
        };
        // Macro templates are padded to the file's lines and columns, so a
        // template position is a file position.
        let (offset, len) = match &range {
            Some(r) => {
                let (l, c) = crate::span::line_col(&m.template, r.start);
                (crate::span::offset_of(&source.text, l, c), r.len())
            }
            None => (crate::span::offset_of(&source.text, line, 1), 1),
        };
        return Some(Place {
            source,
            offset,
            len,
            what: format!("macro `{}`", m.name),
        });
    }
    let uid = name.strip_prefix("node:")?;
    let n = project
        .nodes
        .get(uid)
        .map(|n| &**n)
        .or(node.filter(|n| n.unique_id == uid))?;
    let source = project.source_text(&n.abs_path);
    if n.test.as_ref().is_some_and(|t| t.metadata.is_some())
        || n.resource_type == crate::node::ResourceType::Exposure
    {
        // Generated code: point at the YAML entry that declared it.
        let span = n.span.as_ref()?;
        return Some(Place {
            source,
            offset: span.offset,
            len: span.len,
            what: format!("{} `{}`", n.resource_type, n.name),
        });
    }
    let (offset, len) = if let Some(r) = &range {
        (n.raw_offset + r.start, r.len())
    } else {
        let (l, _) = crate::span::line_col(&source.text, n.raw_offset);
        (crate::span::offset_of(&source.text, l + line - 1, 1), 1)
    };
    Some(Place {
        source,
        offset,
        len,
        what: format!("{} `{}`", n.resource_type, n.name),
    })
}

/// Converts a render error. Outer errors of the chain are the call sites
/// (node, then each macro); the innermost one is what went wrong.
pub fn to_diag(e: &Error, project: &Project, node: Option<&Node>) -> Diag {
    let mut chain: Vec<&Error> = vec![e];
    let mut cur = e;
    while let Some(src) = std::error::Error::source(cur).and_then(|s| s.downcast_ref::<Error>()) {
        chain.push(src);
        cur = src;
    }
    let inner = chain.last().copied().unwrap_or(e);
    let mut message = inner
        .detail()
        .map_or_else(|| inner.kind().to_string(), str::to_owned);
    let code = match inner.kind() {
        _ if message.starts_with("required var ") => "XF0206",
        _ if message.starts_with("environment variable ") => "XF0207",
        _ if message.contains("calls deep; is it calling itself") => "XF0208",
        ErrorKind::SyntaxError => "XF0202",
        ErrorKind::UnknownFunction | ErrorKind::UndefinedError => "XF0203",
        ErrorKind::UnknownMethod => "XF0204",
        _ => "XF0205",
    };
    let mut help = None;
    if matches!(inner.kind(), ErrorKind::UnknownFunction) {
        let missing = message
            .trim_start_matches("unknown function: ")
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_matches('`')
            .to_owned();
        message = format!("`{missing}` is not a macro or function in scope");
        if let Some(n) = node {
            let names: Vec<String> = project
                .macros
                .values()
                .filter(|m| {
                    m.package_name == n.package_name || m.package_name == project.root || m.builtin
                })
                .map(|m| m.name.clone())
                .collect();
            if let Some(c) = closest(&missing, names.iter().map(String::as_str)) {
                help = Some(format!("did you mean `{c}`?"));
            }
        }
    } else if matches!(inner.kind(), ErrorKind::SyntaxError) {
        message = format!("Jinja syntax error: {message}");
    }
    let mut d = Diag::error(code, message);
    if let Some(h) = help {
        d = d.with_help(h);
    }
    // The innermost error carrying a location is the primary place.
    let located: Vec<(&Error, Place)> = chain
        .iter()
        .filter_map(|x| place(x, project, node).map(|p| (*x, p)))
        .collect();
    if let Some((_, p)) = located.last() {
        d = d.with_source(p.source.clone()).with_label(
            p.offset,
            p.len.max(1),
            format!("in {}", p.what),
        );
    } else if let Some(n) = node {
        d = d.with_source(project.source_text(&n.abs_path));
        if let Some(span) = &n.span {
            d = d.with_label(
                span.offset,
                1,
                format!("while rendering {} `{}`", n.resource_type, n.name),
            );
        }
    }
    let code = d.code;
    // Deep (runaway) call chains show their innermost and outermost frames.
    let frames: Vec<&Place> = located.iter().rev().skip(1).map(|(_, p)| p).collect();
    let keep = 6;
    for (i, p) in frames.iter().enumerate() {
        if frames.len() > 2 * keep && i == keep {
            d = d.with_related(Diag::error(
                code,
                format!("... {} more calls ...", frames.len() - 2 * keep),
            ));
        }
        if frames.len() > 2 * keep && i >= keep && i < frames.len() - keep {
            continue;
        }
        d = d.with_related(
            Diag::error(code, format!("called from {}", p.what))
                .with_source(p.source.clone())
                .with_label(p.offset, p.len.max(1), "called here"),
        );
    }
    d
}
