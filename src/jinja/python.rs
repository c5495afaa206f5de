//! Python behaviour that dbt templates rely on: values print the way Python
//! prints them (`None`, `True`, `['a', 'b']`), strings, lists and dicts have
//! their Python methods (dates and times are in `pydatetime`).

use std::borrow::Cow;
use std::fmt::Write as _;

use minijinja::value::{ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, Output, State};

/// Formats a value for `{{ ... }}` output as Jinja2 under Python does.
pub fn format_value(
    out: &mut Output<'_>,
    _state: &State<'_, '_>,
    value: &Value,
) -> Result<(), Error> {
    out.write_str(&format_text(value)).map_err(Error::from)
}

/// The text `{{ value }}` writes.
pub fn format_text(value: &Value) -> Cow<'_, str> {
    match value.kind() {
        ValueKind::Undefined => Cow::Borrowed(""),
        ValueKind::String => Cow::Borrowed(value.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Map | ValueKind::None | ValueKind::Bool => {
            Cow::Owned(repr(value))
        }
        ValueKind::Number => Cow::Owned(number(value)),
        _ => Cow::Owned(value.to_string()),
    }
}

fn number(v: &Value) -> String {
    if v.as_i64().is_some() || v.to_string().parse::<i128>().is_ok() {
        return v.to_string();
    }
    match f64::try_from(v.clone()) {
        Ok(f) => float_repr(f),
        Err(_) => v.to_string(),
    }
}

/// Python's `repr(float)`: shortest round-trip digits, always with a point.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format!("{f:?}");
    if s.contains('e') {
        // Rust writes 1e20 where Python writes 1e+20.
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = e.parse().unwrap_or(0);
        if (-5..16).contains(&exp) {
            return format!("{f}");
        }
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    s
}

/// Python's `repr()` of a Jinja value.
pub fn repr(v: &Value) -> String {
    let mut out = String::new();
    write_repr(v, &mut out);
    out
}

fn write_repr(v: &Value, out: &mut String) {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if v.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push_str(&number(v)),
        ValueKind::String => {
            out.push_str(&crate::value::py_str_repr(v.as_str().unwrap_or_default()));
        }
        ValueKind::Seq | ValueKind::Iterable => {
            // minijinja has no tuples: every sequence prints as a list.
            out.push('[');
            if let Ok(iter) = v.try_iter() {
                for (i, item) in iter.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(&item, out);
                }
            }
            out.push(']');
        }
        ValueKind::Map => {
            // Objects that render themselves (relations) print as their text.
            if let Some(obj) = v.as_object()
                && (matches!(obj.repr(), ObjectRepr::Plain)
                    || v.downcast_object_ref::<super::relation::Relation>()
                        .is_some())
            {
                let _ = write!(out, "{v}");
                return;
            }
            out.push('{');
            if let Ok(iter) = v.try_iter() {
                for (i, key) in iter.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(&key, out);
                    out.push_str(": ");
                    let val = v.get_item(&key).unwrap_or_default();
                    write_repr(&val, out);
                }
            }
            out.push('}');
        }
        _ => {
            let _ = write!(out, "{v}");
        }
    }
}

/// Python methods on strings, lists and dicts, then minijinja-contrib's set.
pub fn unknown_method(
    state: &State<'_, '_>,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    if let Some(s) = value.as_str() {
        match method {
            "format" => return Ok(Value::from(py_format(s, args))),
            "isdigit" | "isnumeric" | "isdecimal" => {
                return Ok(Value::from(
                    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()),
                ));
            }
            "isalpha" => {
                return Ok(Value::from(
                    !s.is_empty() && s.chars().all(char::is_alphabetic),
                ));
            }
            "isalnum" => {
                return Ok(Value::from(
                    !s.is_empty() && s.chars().all(char::is_alphanumeric),
                ));
            }
            "zfill" => {
                let width = args.first().and_then(Value::as_usize).unwrap_or(0);
                return Ok(Value::from(format!("{s:0>width$}")));
            }
            _ => {}
        }
    }
    if value.kind() == ValueKind::Seq && method == "index" {
        let needle = args.first().cloned().unwrap_or_default();
        if let Ok(iter) = value.try_iter() {
            for (i, item) in iter.enumerate() {
                if item == needle {
                    return Ok(Value::from(i));
                }
            }
        }
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "value is not in list",
        ));
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// `'{} and {}'.format(a, b)` with positional `{}` and `{0}` fields.
fn py_format(fmt: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut auto = 0usize;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '{' {
            if chars.peek() == Some(&'{') {
                chars.next();
                out.push('{');
                continue;
            }
            let mut field = String::new();
            for n in chars.by_ref() {
                if n == '}' {
                    break;
                }
                field.push(n);
            }
            let idx = field.parse::<usize>().unwrap_or_else(|_| {
                auto += 1;
                auto - 1
            });
            if let Some(v) = args.get(idx) {
                if let Some(s) = v.as_str() {
                    out.push_str(s);
                } else {
                    let _ = write!(out, "{v}");
                }
            }
        } else if c == '}' && chars.peek() == Some(&'}') {
            chars.next();
            out.push('}');
        } else {
            out.push(c);
        }
    }
    out
}

/// JSON as Python's `json.dumps` writes it by default: `", "` between
/// items and `": "` after keys.
pub fn python_json(
    v: &impl serde::Serialize,
    sort_keys: bool,
) -> Result<String, serde_json::Error> {
    struct PyFormatter;
    impl serde_json::ser::Formatter for PyFormatter {
        fn begin_array_value<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first { Ok(()) } else { w.write_all(b", ") }
        }
        fn begin_object_key<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first { Ok(()) } else { w.write_all(b", ") }
        }
        fn begin_object_value<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
        ) -> std::io::Result<()> {
            w.write_all(b": ")
        }
    }
    let mut value = serde_json::to_value(v)?;
    if sort_keys {
        sort_json(&mut value);
    }
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PyFormatter);
    serde::Serialize::serialize(&value, &mut ser)?;
    Ok(String::from_utf8(out).unwrap_or_default())
}

fn sort_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            let mut entries: Vec<(String, serde_json::Value)> =
                std::mem::take(m).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, mut x) in entries {
                sort_json(&mut x);
                m.insert(k, x);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(sort_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python() {
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(1.5), "1.5");
        assert_eq!(float_repr(1e20), "1e+20");
    }

    #[test]
    fn format_positional() {
        assert_eq!(
            py_format("{} and {}", &[Value::from("a"), Value::from(1)]),
            "a and 1"
        );
        assert_eq!(
            py_format("{1}{0}", &[Value::from("a"), Value::from("b")]),
            "ba"
        );
    }
}
