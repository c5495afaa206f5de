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

use std::borrow::Cow;

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
    fn leaves_declared_and_unrelated_names() {
        let declared = "{% macro t(kwargs) %}{{ kwargs }}{% endmacro %}";
        assert_eq!(add_catch_alls(declared), declared);
        let unrelated = "{% macro t(a) %}{{ my_kwargs }}{% endmacro %}";
        assert_eq!(add_catch_alls(unrelated), unrelated);
    }
}
