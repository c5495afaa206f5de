//! Python Jinja's `varargs` and `kwargs` in macros.
//!
//! In Jinja2 a macro whose body mentions `kwargs` accepts keyword arguments
//! it does not declare and sees them in the `kwargs` dict; one that mentions
//! `varargs` accepts extra positional arguments as the `varargs` list.
//! Packages rely on this (`dbt_utils`' `test_not_null_proportion(model,
//! group_by_columns=[])` reads `kwargs.get('column_name')`). minijinja has
//! neither, so before a macro is compiled its signature gets the missing
//! parameters (`kwargs=none`, `varargs=none`), and [`super::context::MacroFn`]
//! moves undeclared arguments into them at each call. The rewrite only
//! touches the `{% macro ... %}` tag and never adds lines.
//!
//! Jinja2 also evaluates a parameter's default after the parameters before
//! it are bound, so `generate_source(schema_name, name=schema_name)` names
//! the source after the schema; minijinja evaluates defaults before any
//! parameter is bound. `late_defaults` moves such defaults into the body.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Names of the catch-all parameters, in the order they are added.
pub const CATCH_ALLS: [&str; 2] = ["varargs", "kwargs"];

/// Adds `varargs`/`kwargs` parameters to the macro defined in `src` when its
/// body mentions them and the signature does not declare them.
pub fn add_catch_alls(src: &str) -> Cow<'_, str> {
    if !src.contains("kwargs") && !src.contains("varargs") {
        return Cow::Borrowed(src);
    }
    let Some((open, close)) = signature_parens(src) else {
        return Cow::Borrowed(src);
    };
    let params = &src[open + 1..close];
    let body = &src[close..];
    let missing: Vec<&str> = CATCH_ALLS
        .into_iter()
        .filter(|name| mentions(body, name) && !mentions(params, name))
        .collect();
    if missing.is_empty() {
        return Cow::Borrowed(src);
    }
    let mut out = String::with_capacity(src.len() + 32);
    out.push_str(&src[..close]);
    let mut first = params.trim().is_empty();
    for name in missing {
        if !first {
            out.push_str(", ");
        }
        first = false;
        out.push_str(name);
        out.push_str("=none");
    }
    out.push_str(&src[close..]);
    Cow::Owned(out)
}

/// Moves a default that reads an earlier parameter (`name=schema_name`)
/// from the signature to the start of the body, as
/// `{% if name is undefined %}{% set name = schema_name %}{% endif %}` on
/// the tag's own line; the signature's default becomes an unbound name, so
/// the parameter is undefined when the caller does not pass it.
pub fn late_defaults(src: &str) -> Cow<'_, str> {
    let Some((open, close)) = signature_parens(src) else {
        return Cow::Borrowed(src);
    };
    let params = split_params(&src[open + 1..close]);
    let mut earlier: Vec<&str> = Vec::new();
    // (byte range of the default in `src`, parameter, default text)
    let mut moved: Vec<(std::ops::Range<usize>, &str, &str)> = Vec::new();
    for (start, text) in params {
        let (name, default) = match text.split_once('=') {
            Some((n, d)) => (n.trim(), Some(d)),
            None => (text.trim(), None),
        };
        if let Some(d) = default {
            let code = without_strings(d);
            if earlier.iter().any(|p| mentions(&code, p)) {
                let d_start = open + 1 + start + text.len() - d.len();
                moved.push((d_start..d_start + d.len(), name, d.trim()));
            }
        }
        earlier.push(name);
    }
    if moved.is_empty() {
        return Cow::Borrowed(src);
    }
    let Some(tag_end) = src[close..].find("%}").map(|i| close + i) else {
        return Cow::Borrowed(src);
    };
    let trim = if src[..tag_end].ends_with('-') {
        "-"
    } else {
        ""
    };
    let mut out = String::with_capacity(src.len() + 64);
    let mut last = 0;
    for (range, _, _) in &moved {
        out.push_str(&src[last..range.start]);
        out.push_str("__xf_unbound_default");
        last = range.end;
    }
    out.push_str(&src[last..tag_end + 2]);
    for (_, name, default) in &moved {
        let _ = write!(
            out,
            "{{% if {name} is undefined %}}{{% set {name} = {default} %}}{{% endif {trim}%}}"
        );
    }
    out.push_str(&src[tag_end + 2..]);
    Cow::Owned(out)
}

/// The parameters of a signature split at top-level commas, each with its
/// byte offset in `params`.
fn split_params(params: &str) -> Vec<(usize, &str)> {
    let b = params.as_bytes();
    let mut out = Vec::new();
    let (mut depth, mut quote, mut start) = (0usize, None::<u8>, 0);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(_) if c == b'\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                b',' if depth == 0 => {
                    out.push((start, &params[start..i]));
                    start = i + 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    if !params[start..].trim().is_empty() {
        out.push((start, &params[start..]));
    }
    out
}

/// `text` with the contents of its string literals blanked out.
fn without_strings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        let Some(q) = quote else {
            if c == '\'' || c == '"' {
                quote = Some(c);
            }
            out.push(c);
            continue;
        };
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == q {
            quote = None;
            out.push(c);
            continue;
        }
        out.push(' ');
    }
    out
}

/// Byte offsets of the parentheses around the first macro's parameters.
fn signature_parens(src: &str) -> Option<(usize, usize)> {
    let start = src.find("{%")?;
    let rest = &src[start + 2..];
    let after_dash = rest.trim_start_matches(['-', '+']).trim_start();
    let name_part = after_dash.strip_prefix("macro")?;
    let open = start + 2 + (rest.len() - name_part.len()) + name_part.find('(')?;
    let b = src.as_bytes();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut i = open;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return (c == b')').then_some((open, i));
                    }
                }
                b'%' if b.get(i + 1) == Some(&b'}') => return None,
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// Whether `text` has `name` as a whole identifier.
fn mentions(text: &str, name: &str) -> bool {
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = text.as_bytes();
    text.match_indices(name).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| b[j]);
        let after = b.get(i + name.len()).copied();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_kwargs_when_the_body_reads_it() {
        let src = "{% macro t(model, cols=[]) %}{{ kwargs.get('x') }}{% endmacro %}";
        assert_eq!(
            add_catch_alls(src),
            "{% macro t(model, cols=[], kwargs=none) %}{{ kwargs.get('x') }}{% endmacro %}"
        );
    }

    #[test]
    fn adds_both_to_an_empty_signature() {
        let src = "{%- macro t() -%}{{ varargs }}{{ kwargs }}{% endmacro %}";
        assert_eq!(
            add_catch_alls(src),
            "{%- macro t(varargs=none, kwargs=none) -%}{{ varargs }}{{ kwargs }}{% endmacro %}"
        );
    }

    #[test]
    fn moves_defaults_that_read_earlier_parameters_into_the_body() {
        let src = "{% macro g(schema_name, db=target.database, name=schema_name, t='schema_name') -%}\n{{ name }}{% endmacro %}";
        assert_eq!(
            late_defaults(src),
            "{% macro g(schema_name, db=target.database, name=__xf_unbound_default, t='schema_name') -%}\
             {% if name is undefined %}{% set name = schema_name %}{% endif -%}\n{{ name }}{% endmacro %}"
        );
        let plain = "{% macro g(a, b=1, c='a') %}{% endmacro %}";
        assert_eq!(late_defaults(plain), plain);
    }

    #[test]
    fn leaves_declared_and_unrelated_names() {
        let declared = "{% macro t(kwargs) %}{{ kwargs }}{% endmacro %}";
        assert_eq!(add_catch_alls(declared), declared);
        let unrelated = "{% macro t(a) %}{{ my_kwargs }}{% endmacro %}";
        assert_eq!(add_catch_alls(unrelated), unrelated);
    }
}
