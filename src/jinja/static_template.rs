//! Templates that need no Jinja engine: text, comments, and `{{ … }}` tags
//! that each hold one call of `ref`, `source`, `config` or `var` with
//! literal arguments. Most models look like this; it is the shape dbt's
//! static parser reads without rendering, plus `var`.
//!
//! Such a template renders the same in every context except for what its
//! calls return, so xform evaluates it without compiling it: each call goes
//! to the function a render would call (`context::do_ref`, `do_source`,
//! `do_config`, `do_var`) with the values its literals stand for, built as the
//! render builds them (list and dict literals mutable, as `mutable`
//! makes them), and the text around the calls is copied.
//!
//! Invariant: for a template `parse` accepts, `render` returns what
//! minijinja renders and records the same calls in the context. Anything
//! else (a statement tag, whitespace control, a filter, an escape in a
//! string, a call that fails) is left to the ordinary render, which also
//! reports errors at their place in the file.

use minijinja::Error;
use minijinja::value::{Kwargs, Value};

use super::context::{NodeCtx, do_config, do_ref, do_source, do_var};

/// A template of text and literal `ref`/`source`/`config`/`var` calls.
#[derive(Debug)]
pub struct StaticTemplate<'a> {
    parts: Vec<Part<'a>>,
    text_len: usize,
}

#[derive(Debug)]
enum Part<'a> {
    Text(&'a str),
    Call(Func, Vec<Literal<'a>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Ref,
    Source,
    Config,
    Var,
}

/// A literal argument, turned into a value when the call is made (list and
/// dict values are mutable, so each call gets its own).
#[derive(Debug)]
enum Literal<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
    None,
    List(Vec<Literal<'a>>),
    Dict(Vec<(&'a str, Literal<'a>)>),
    Kwargs(Vec<(&'a str, Literal<'a>)>),
}

impl Literal<'_> {
    fn value(&self) -> Value {
        match self {
            Literal::Str(s) => Value::from(*s),
            Literal::Int(i) => Value::from(*i),
            Literal::Bool(b) => Value::from(*b),
            Literal::None => Value::from(()),
            Literal::List(items) => super::mutable::make_list(Value::from(
                items.iter().map(Literal::value).collect::<Vec<_>>(),
            )),
            Literal::Dict(pairs) => super::mutable::make_dict(
                pairs
                    .iter()
                    .map(|(k, v)| (Value::from(*k), v.value()))
                    .collect(),
            ),
            Literal::Kwargs(pairs) => Value::from(
                pairs
                    .iter()
                    .map(|(k, v)| (*k, v.value()))
                    .collect::<Kwargs>(),
            ),
        }
    }
}

impl<'a> StaticTemplate<'a> {
    /// The template, when it has the static shape.
    pub fn parse(source: &'a str) -> Option<Self> {
        // As the environment is set up: one trailing newline is dropped.
        let mut src = source;
        if let Some(s) = src.strip_suffix('\n') {
            src = s;
        }
        if let Some(s) = src.strip_suffix('\r') {
            src = s;
        }
        let b = src.as_bytes();
        let mut parts = Vec::new();
        let mut text_len = 0;
        let mut text_start = 0;
        let mut i = 0;
        let mut push_text = |parts: &mut Vec<Part<'a>>, text: &'a str| {
            if !text.is_empty() {
                text_len += text.len();
                parts.push(Part::Text(text));
            }
        };
        while let Some(off) = src[i..].find('{') {
            let at = i + off;
            match b.get(at + 1) {
                Some(b'{') => {
                    push_text(&mut parts, &src[text_start..at]);
                    let mut p = Scanner { s: src, i: at + 2 };
                    if matches!(b.get(p.i), Some(b'-' | b'+')) {
                        return None;
                    }
                    p.ws();
                    let func = match p.ident()? {
                        "ref" => Func::Ref,
                        "source" => Func::Source,
                        "config" => Func::Config,
                        "var" => Func::Var,
                        _ => return None,
                    };
                    p.ws();
                    p.eat(b'(')?;
                    let args = p.args()?;
                    p.ws();
                    if !src[p.i..].starts_with("}}") {
                        return None;
                    }
                    parts.push(Part::Call(func, args));
                    i = p.i + 2;
                    text_start = i;
                }
                Some(b'#') => {
                    if matches!(b.get(at + 2), Some(b'-' | b'+')) {
                        return None;
                    }
                    let end = at + 2 + src[at + 2..].find("#}")?;
                    if end > at + 2 && matches!(b[end - 1], b'-' | b'+') {
                        return None;
                    }
                    push_text(&mut parts, &src[text_start..at]);
                    i = end + 2;
                    text_start = i;
                }
                Some(b'%') => return None,
                _ => i = at + 1,
            }
        }
        push_text(&mut parts, &src[text_start..]);
        Some(Self { parts, text_len })
    }

    /// Renders the template in `ctx`, recording its calls there as a render
    /// does. An error means the ordinary render should be used instead.
    pub fn render(&self, ctx: &NodeCtx) -> Result<String, Error> {
        let mut out = String::with_capacity(self.text_len + 64 * self.parts.len());
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Call(func, args) => {
                    let args: Vec<Value> = args.iter().map(Literal::value).collect();
                    let v = match func {
                        Func::Ref => do_ref(ctx, &args)?,
                        Func::Source => do_source(ctx, &args)?,
                        Func::Config => do_config(ctx, &args)?,
                        Func::Var => do_var(ctx, &args)?,
                    };
                    out.push_str(&super::python::format_text(&v));
                }
            }
        }
        Ok(out)
    }
}

/// A cursor over the inside of one `{{ … }}` tag.
struct Scanner<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek() == Some(c)).then(|| self.i += 1)
    }

    fn ident(&mut self) -> Option<&'a str> {
        let start = self.i;
        let b = self.s.as_bytes();
        if !b
            .get(start)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        {
            return None;
        }
        let mut end = start + 1;
        while b
            .get(end)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            end += 1;
        }
        // A name running on in other letters is no name this scanner knows.
        if b.get(end).is_some_and(|c| !c.is_ascii()) {
            return None;
        }
        self.i = end;
        Some(&self.s[start..end])
    }

    /// Call arguments up to and including the `)`: positional literals,
    /// then `name=literal` pairs (gathered into one trailing kwargs value,
    /// as minijinja passes them).
    fn args(&mut self) -> Option<Vec<Literal<'a>>> {
        let mut args = Vec::new();
        let mut kwargs: Vec<(&'a str, Literal<'a>)> = Vec::new();
        self.ws();
        if self.eat(b')').is_some() {
            return Some(args);
        }
        loop {
            self.ws();
            let save = self.i;
            let mut named = None;
            if let Some(name) = self.ident() {
                self.ws();
                if self.peek() == Some(b'=') && self.s.as_bytes().get(self.i + 1) != Some(&b'=') {
                    self.i += 1;
                    named = Some(name);
                } else {
                    self.i = save;
                }
            }
            self.ws();
            let value = self.literal()?;
            match named {
                Some(name) => {
                    if kwargs.iter().any(|(k, _)| *k == name) {
                        return None;
                    }
                    kwargs.push((name, value));
                }
                None if kwargs.is_empty() => args.push(value),
                None => return None,
            }
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b')' => {
                    self.i += 1;
                    break;
                }
                _ => return None,
            }
        }
        if !kwargs.is_empty() {
            args.push(Literal::Kwargs(kwargs));
        }
        Some(args)
    }

    /// Comma-separated items up to and including `close` (no trailing comma).
    fn items<T>(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Vec<T>> {
        let mut items = Vec::new();
        self.ws();
        if self.eat(close).is_some() {
            return Some(items);
        }
        loop {
            self.ws();
            items.push(item(self)?);
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                c if c == close => {
                    self.i += 1;
                    return Some(items);
                }
                _ => return None,
            }
        }
    }

    fn literal(&mut self) -> Option<Literal<'a>> {
        match self.peek()? {
            q @ (b'\'' | b'"') => {
                let start = self.i + 1;
                let len = self.s[start..].find(q as char)?;
                let text = &self.s[start..start + len];
                if text.contains(['\\', '\n', '\r']) {
                    return None;
                }
                self.i = start + len + 1;
                Some(Literal::Str(text))
            }
            b'0'..=b'9' => {
                let b = self.s.as_bytes();
                let start = self.i;
                let mut end = start;
                while b.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
                // Floats, underscores, suffixes and leading zeros: the render's.
                if b.get(end)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_'))
                    || (end - start > 1 && b[start] == b'0')
                    || end - start > 18
                {
                    return None;
                }
                self.i = end;
                self.s[start..end].parse().ok().map(Literal::Int)
            }
            b'[' => {
                self.i += 1;
                self.items(b']', Self::literal).map(Literal::List)
            }
            b'{' => {
                self.i += 1;
                self.items(b'}', |p| {
                    let Literal::Str(key) = p.literal()? else {
                        return None;
                    };
                    p.ws();
                    p.eat(b':')?;
                    p.ws();
                    Some((key, p.literal()?))
                })
                .map(Literal::Dict)
            }
            _ => match self.ident()? {
                "true" | "True" => Some(Literal::Bool(true)),
                "false" | "False" => Some(Literal::Bool(false)),
                "none" | "None" => Some(Literal::None),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(src: &str) -> Option<Vec<String>> {
        StaticTemplate::parse(src).map(|t| {
            t.parts
                .iter()
                .map(|p| match p {
                    Part::Text(t) => format!("text {t:?}"),
                    Part::Call(f, args) => format!("{f:?} {args:?}"),
                })
                .collect()
        })
    }

    #[test]
    fn text_comments_and_literal_calls_are_static() {
        let got = shape(
            "{{ config(materialized='table', tags=['a', \"b\"], meta={'n': 1, 'ok': True}) }}\n\
             select * from {{ ref( 'pkg' ,\n 'm', v=2 ) }} {# {{ nope() }} #}\
             join {{source('raw','t')}} on {x} }}\r\n",
        )
        .expect("static");
        assert_eq!(got.len(), 7, "{got:#?}");
        assert!(
            got[0].starts_with("Config [Kwargs([(\"materialized\", Str(\"table\"))"),
            "{}",
            got[0]
        );
        assert_eq!(
            got[2],
            "Ref [Str(\"pkg\"), Str(\"m\"), Kwargs([(\"v\", Int(2))])]"
        );
        // The comment is gone; one trailing newline (and its \r) is dropped.
        assert_eq!(got[3..5], ["text \" \"", "text \"join \""]);
        assert_eq!(got[6], "text \" on {x} }}\"");
        assert_eq!(
            shape("select 1\n\n").expect("static"),
            ["text \"select 1\\n\""]
        );
        assert_eq!(shape("").expect("static"), Vec::<String>::new());
    }

    #[test]
    fn anything_else_is_left_to_the_render() {
        for src in [
            "{% if x %}a{% endif %}",
            "{{- ref('a') }}",
            "{{ ref('a') -}}",
            "{{+ ref('a') }}",
            "{#- c #}x",
            "{# c -#}x",
            "{{ ref('a') | upper }}",
            "{{ ref('a').identifier }}",
            "{{ env_var('x') }}",
            "{{ my_macro() }}",
            "{{ ref('a\\'b') }}",
            "{{ ref('a' 'b') }}",
            "{{ ref('a',) }}",
            "{{ config(x=1.5) }}",
            "{{ config(x=1_000) }}",
            "{{ config(x=007) }}",
            "{{ config(x=-1) }}",
            "{{ config(x=(1, 2)) }}",
            "{{ config(x=y) }}",
            "{{ config(x=1, x=2) }}",
            "{{ config(x=1, 'a') }}",
            "{{ config(x={1: 2}) }}",
            "{{ ref('a') }",
            "{{ ref('a'",
            "{# never closed",
            "{{ refé('a') }}",
        ] {
            assert!(StaticTemplate::parse(src).is_none(), "{src}");
        }
    }
}
