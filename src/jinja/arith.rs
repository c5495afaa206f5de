//! `+` and `-` on dates, datetimes and timedeltas, as Python computes
//! them (`run_started_at - modules.datetime.timedelta(days=1)`,
//! `(end - start).days`).
//!
//! minijinja's operators work on its own value types only, so in templates
//! that handle dates (`needs_rewrite`) each binary `+` and `-` of a tag is
//! rewritten, before compiling, into a call (`a - b + c` becomes
//! `__xf_add(__xf_sub(a , b) , c)`, on the same lines) following Jinja's
//! precedence: `*`, `/`, `%`, `~`, filters and tests bind tighter, so they
//! stay inside an operand; comparisons, `and`/`or`/`not`, `if`/`else`,
//! commas, colons and `=` end one. The functions compute date arithmetic
//! and hand every other pair of values to minijinja's own operator.

use std::borrow::Cow;
use std::sync::LazyLock;

use chrono::TimeDelta;
use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind, Expression};

use super::pydatetime::{PyDate, PyDateTime, PyTimedelta};

/// Whether a template may do date arithmetic: it names something that
/// makes or reads dates. Templates that do not keep their operators.
pub fn needs_rewrite(src: &str) -> bool {
    [
        "datetime",
        "timedelta",
        "run_started_at",
        ".today(",
        ".now(",
        ".days",
        "total_seconds",
    ]
    .iter()
    .any(|h| src.contains(h))
}

/// Jinja keywords that end an operand of `+`/`-` (lower precedence, or the
/// start of a tag's statement). `is` is absent: tests bind tighter.
const ENDS_OPERAND: &[&str] = &[
    "and",
    "or",
    "not",
    "if",
    "else",
    "elif",
    "in",
    "set",
    "do",
    "for",
    "with",
    "recursive",
    "import",
    "from",
    "as",
    "call",
    "filter",
    "print",
    "macro",
    "without",
    "context",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Space,
    Str,
    Num,
    Name,
    /// An operator or punctuation that is not a bracket.
    Op,
    Open,
    Close,
}

fn tokenize(expr: &str) -> Vec<(Tok, &str)> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let c = b[i];
        let kind = match c {
            b'\'' | b'"' => {
                i += 1;
                while i < b.len() && b[i] != c {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(b.len());
                Tok::Str
            }
            b'0'..=b'9' => {
                while i < b.len() {
                    let d = b[i];
                    let exponent_sign = (d == b'-' || d == b'+') && matches!(b[i - 1], b'e' | b'E');
                    if d.is_ascii_alphanumeric() || d == b'_' || d == b'.' || exponent_sign {
                        i += 1;
                    } else {
                        break;
                    }
                }
                Tok::Num
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80)
                {
                    i += 1;
                }
                Tok::Name
            }
            c if c.is_ascii_whitespace() => {
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                Tok::Space
            }
            b'(' | b'[' | b'{' => {
                i += 1;
                Tok::Open
            }
            b')' | b']' | b'}' => {
                i += 1;
                Tok::Close
            }
            _ => {
                let two = expr.get(i..i + 2).unwrap_or("");
                i += if ["==", "!=", "<=", ">=", "//", "**"].contains(&two) {
                    2
                } else {
                    1
                };
                Tok::Op
            }
        };
        out.push((kind, &expr[start..i]));
    }
    out
}

/// One item of a nesting level: a token, or a bracketed group (already
/// rewritten inside), which is a single operand.
struct Item {
    kind: Tok,
    text: String,
}

/// Rewrites the binary `+`/`-` of one tag's expression text.
pub fn rewrite_expr(expr: &str) -> Cow<'_, str> {
    if !expr.contains('+') && !expr.contains('-') {
        return Cow::Borrowed(expr);
    }
    let toks = tokenize(expr);
    let mut pos = 0;
    let out = level(&toks, &mut pos);
    if out == expr {
        Cow::Borrowed(expr)
    } else {
        Cow::Owned(out)
    }
}

/// Rewrites tokens from `pos` up to the closing bracket of this level (or
/// the end), which it leaves unconsumed.
fn level(toks: &[(Tok, &str)], pos: &mut usize) -> String {
    let mut items: Vec<Item> = Vec::new();
    while *pos < toks.len() {
        let (kind, text) = toks[*pos];
        match kind {
            Tok::Close => break,
            Tok::Open => {
                *pos += 1;
                let inner = level(toks, pos);
                let mut group = String::from(text);
                group.push_str(&inner);
                if let Some((Tok::Close, close)) = toks.get(*pos) {
                    group.push_str(close);
                    *pos += 1;
                }
                // A call or subscript continues the operand before it.
                match items.last_mut() {
                    Some(prev) if ends_value(prev) => {
                        prev.text.push_str(&group);
                        prev.kind = Tok::Close;
                    }
                    _ => items.push(Item {
                        kind: Tok::Close,
                        text: group,
                    }),
                }
                continue;
            }
            _ => items.push(Item {
                kind,
                text: text.to_owned(),
            }),
        }
        *pos += 1;
    }
    let mut out = String::new();
    let mut segment: Vec<Item> = Vec::new();
    let mut prev_word: Option<String> = None;
    for item in items {
        let boundary = match item.kind {
            Tok::Op => matches!(
                item.text.as_str(),
                "," | ":" | "=" | "==" | "!=" | "<" | ">" | "<=" | ">="
            ),
            Tok::Name => {
                ENDS_OPERAND.contains(&item.text.as_str())
                    && !(item.text == "not" && prev_word.as_deref() == Some("is"))
            }
            _ => false,
        };
        if item.kind != Tok::Space {
            prev_word = Some(item.text.clone());
        }
        if boundary {
            out.push_str(&segment_text(&segment));
            segment.clear();
            out.push_str(&item.text);
        } else {
            segment.push(item);
        }
    }
    out.push_str(&segment_text(&segment));
    out
}

fn ends_value(item: &Item) -> bool {
    match item.kind {
        Tok::Str | Tok::Num | Tok::Close => true,
        Tok::Name => !ENDS_OPERAND.contains(&item.text.as_str()) && item.text != "is",
        _ => false,
    }
}

/// One operand-level run of items: its binary `+`/`-` become calls.
fn segment_text(items: &[Item]) -> String {
    let mut ops: Vec<(usize, &str)> = Vec::new();
    let mut last: Option<&Item> = None;
    for (i, item) in items.iter().enumerate() {
        if item.kind == Tok::Space {
            continue;
        }
        if item.kind == Tok::Op
            && (item.text == "+" || item.text == "-")
            && last.is_some_and(ends_value)
        {
            ops.push((
                i,
                if item.text == "+" {
                    "__xf_add("
                } else {
                    "__xf_sub("
                },
            ));
        }
        last = Some(item);
    }
    let mut out = String::new();
    if ops.is_empty() {
        for item in items {
            out.push_str(&item.text);
        }
        return out;
    }
    let first = items.iter().position(|i| i.kind != Tok::Space).unwrap_or(0);
    let mut next_op = 0;
    for (i, item) in items.iter().enumerate() {
        if i == first {
            for (_, call) in ops.iter().rev() {
                out.push_str(call);
            }
        }
        if next_op < ops.len() && ops[next_op].0 == i {
            if next_op > 0 {
                out.push(')');
            }
            out.push(',');
            next_op += 1;
            continue;
        }
        out.push_str(&item.text);
    }
    // Close the last call after the operand's text but before trailing
    // spaces, which belong to the tag.
    let trimmed = out.trim_end().len();
    let tail = out.split_off(trimmed);
    out.push(')');
    out.push_str(&tail);
    out
}

static ENV: LazyLock<Environment<'static>> = LazyLock::new(Environment::new);
static ADD: LazyLock<Result<Expression<'static, 'static>, Error>> =
    LazyLock::new(|| ENV.compile_expression_owned("a + b"));
static SUB: LazyLock<Result<Expression<'static, 'static>, Error>> =
    LazyLock::new(|| ENV.compile_expression_owned("a - b"));

#[allow(clippy::needless_pass_by_value)] // handed on to the context
fn fallback(
    expr: &LazyLock<Result<Expression<'static, 'static>, Error>>,
    a: Value,
    b: Value,
) -> Result<Value, Error> {
    match &**expr {
        Ok(e) => e.eval(minijinja::context! { a => a, b => b }),
        Err(e) => Err(Error::new(ErrorKind::InvalidOperation, e.to_string())),
    }
}

fn type_error(op: &str, a: &Value, b: &Value) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("unsupported operand type(s) for {op}: `{a}` and `{b}`"),
    )
}

fn overflow() -> Error {
    Error::new(ErrorKind::InvalidOperation, "date value out of range")
}

fn shift_datetime(dt: &PyDateTime, delta: TimeDelta) -> Result<Value, Error> {
    // Python adds to the wall-clock time and keeps the zone's offset as it
    // was (pytz does not normalize).
    let naive = dt.naive.checked_add_signed(delta).ok_or_else(overflow)?;
    Ok(PyDateTime { naive, tz: dt.tz }.into_value())
}

fn shift_date(d: PyDate, delta: TimeDelta) -> Result<Value, Error> {
    // Only whole days count, as Python's `date + timedelta`.
    let days = TimeDelta::days(delta.num_seconds().div_euclid(86_400));
    d.0.checked_add_signed(days)
        .map(|d| Value::from_object(PyDate(d)))
        .ok_or_else(overflow)
}

fn delta(d: TimeDelta) -> Value {
    Value::from_object(PyTimedelta(d))
}

/// `__xf_add(a, b)`: `a + b`.
#[allow(clippy::needless_pass_by_value)] // minijinja passes function arguments by value
pub fn add(a: Value, b: Value) -> Result<Value, Error> {
    let td = |v: &Value| v.downcast_object_ref::<PyTimedelta>().map(|t| t.0);
    if let Some(t) = td(&b) {
        if let Some(dt) = a.downcast_object_ref::<PyDateTime>() {
            return shift_datetime(dt, t);
        }
        if let Some(d) = a.downcast_object_ref::<PyDate>() {
            return shift_date(*d, t);
        }
        if let Some(s) = td(&a) {
            return s.checked_add(&t).map(delta).ok_or_else(overflow);
        }
    }
    if let Some(t) = td(&a) {
        if let Some(dt) = b.downcast_object_ref::<PyDateTime>() {
            return shift_datetime(dt, t);
        }
        if let Some(d) = b.downcast_object_ref::<PyDate>() {
            return shift_date(*d, t);
        }
    }
    if is_date(&a) || is_date(&b) || td(&a).is_some() || td(&b).is_some() {
        return Err(type_error("+", &a, &b));
    }
    fallback(&ADD, a, b)
}

fn is_date(v: &Value) -> bool {
    v.downcast_object_ref::<PyDateTime>().is_some() || v.downcast_object_ref::<PyDate>().is_some()
}

/// `__xf_sub(a, b)`: `a - b`.
#[allow(clippy::needless_pass_by_value)] // minijinja passes function arguments by value
pub fn sub(a: Value, b: Value) -> Result<Value, Error> {
    if let Some(t) = b.downcast_object_ref::<PyTimedelta>().map(|t| t.0) {
        let neg = TimeDelta::zero().checked_sub(&t).ok_or_else(overflow)?;
        if is_date(&a) || a.downcast_object_ref::<PyTimedelta>().is_some() {
            return add(a, delta(neg));
        }
    }
    if let (Some(x), Some(y)) = (
        a.downcast_object_ref::<PyDateTime>(),
        b.downcast_object_ref::<PyDateTime>(),
    ) {
        return x.minus(y).map(delta);
    }
    if let (Some(x), Some(y)) = (
        a.downcast_object_ref::<PyDate>(),
        b.downcast_object_ref::<PyDate>(),
    ) {
        return Ok(delta(x.0.signed_duration_since(y.0)));
    }
    if is_date(&a) || is_date(&b) || b.downcast_object_ref::<PyTimedelta>().is_some() {
        return Err(type_error("-", &a, &b));
    }
    fallback(&SUB, a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_binary_plus_and_minus_by_precedence() {
        assert_eq!(
            rewrite_expr(" a - b + c "),
            " __xf_add(__xf_sub(a , b ), c) "
        );
        assert_eq!(
            rewrite_expr(" set x = f(a) - g.h[1] * 2 if -y > 0 else z|int + 1 "),
            " set x = __xf_sub(f(a) , g.h[1] * 2) if -y > 0 else __xf_add(z|int , 1) "
        );
        assert_eq!(
            rewrite_expr(" (a - b).days, 'x-y' ~ c, d is not none and -1 "),
            " (__xf_sub(a , b)).days, 'x-y' ~ c, d is not none and -1 "
        );
        assert_eq!(rewrite_expr(" 1e-5 "), " 1e-5 ");
        assert!(matches!(rewrite_expr(" not a "), Cow::Borrowed(_)));
    }

    #[test]
    fn computes_dates_as_python_and_the_rest_as_before() {
        let mut env = Environment::new();
        env.add_function("__xf_add", add);
        env.add_function("__xf_sub", sub);
        env.add_function("__xf_list", super::super::mutable::make_list);
        env.add_global(
            "datetime",
            Value::from_object(super::super::pydatetime::Module::Datetime),
        );
        let src = super::super::mutable::rewrite(
            "{% set d = datetime.date(2024, 3, 1) - datetime.timedelta(1) %}{{ d }} \
             {{ (datetime.datetime(2024, 1, 2, 6) - datetime.datetime(2024, 1, 1)).days }} \
             {{- datetime.datetime(2024, 1, 1) + datetime.timedelta(hours=30) -}} \
             {{ 1 + 2 - 4 }} {{ 'a' + 'b' }} {{ [1] + [2] }} {{ 2 - 0.5 }}",
        )
        .into_owned();
        assert!(src.contains("__xf_sub"), "{src}");
        assert_eq!(
            env.render_str(&src, ()).expect("renders"),
            "2024-02-29 12024-01-02 06:00:00-1 ab [1, 2] 1.5"
        );
        let src = super::super::mutable::rewrite("{{ datetime.timedelta(1) + 1 }}").into_owned();
        let e = env
            .render_str(&src, ())
            .expect_err("a timedelta plus a number");
        assert!(e.to_string().contains("unsupported operand"), "{e}");
    }
}
