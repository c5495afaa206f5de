//! Helpers for loosely typed config values (dbt configs are YAML or Jinja
//! values of any shape).

use serde_json::Value;

/// Python truthiness, which is how dbt reads flags like `enabled`.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !matches!(s.to_ascii_lowercase().as_str(), "" | "false" | "no" | "0"),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A config value that may be one string or a list of strings (`tags`,
/// `unique_key`, hooks) as a list.
pub fn string_list(v: &Value) -> Vec<String> {
    match v {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect(),
        other => vec![other.to_string()],
    }
}

/// Python's `repr()` of a JSON-like value, used where dbt derives names and
/// hashes from `repr` (generic test ids).
pub fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    write_repr(v, &mut out);
    out
}

fn write_repr(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_py_str_repr(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(x, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_str_repr(k, out);
                out.push_str(": ");
                write_repr(x, out);
            }
            out.push('}');
        }
    }
}

/// Python's `repr()` of a string: single quotes unless the text contains a
/// single quote and no double quote.
pub fn py_str_repr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_py_str_repr(s, &mut out);
    out
}

/// Appends Python's `repr()` of a string to `out`.
pub fn write_py_str_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    // Most strings need no escape: copied whole.
    if !s
        .bytes()
        .any(|b| b == b'\\' || b == quote as u8 || b < 0x20 || b == 0x7f)
    {
        out.reserve(s.len() + 2);
        out.push(quote);
        out.push_str(s);
        out.push(quote);
        return;
    }
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = std::fmt::Write::write_fmt(out, format_args!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repr_matches_python() {
        assert_eq!(
            py_repr(&json!({"a": ["x", null, true, 1], "b": "it's"})),
            r#"{'a': ['x', None, True, 1], 'b': "it's"}"#
        );
        assert_eq!(py_str_repr("a'b\"c"), r#"'a\'b"c'"#);
    }
}
