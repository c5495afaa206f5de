//! Values written as dbt's Python writes them: `json.dumps(v,
//! sort_keys=True)` for the lock file's `sha1_hash`, and `PyYAML`'s
//! `yaml.dump` (block style, sorted keys, list items indented under their
//! key, as dbt's `dbtPackageDumper` does) for `package-lock.yml` and for the
//! `packages.yml` that `--add-package` rewrites.

use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// Python's `repr(float)`: the shortest text that reads back, positional
/// for exponents from -4 to 15, else `1e+16` style.
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let s = format!("{f}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

/// `json.dumps(value, sort_keys=True)` with Python's default separators and
/// `ensure_ascii`.
pub fn py_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(v, &mut out);
    out
}

fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_f64() {
                out.push_str(&py_float(n.as_f64().unwrap_or(0.0)));
            } else {
                out.push_str(&n.to_string());
            }
        }
        Value::String(s) => write_json_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json_str(k, out);
                out.push_str(": ");
                write_json(&m[k], out);
            }
            out.push('}');
        }
    }
}

fn write_json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `yaml.dump(value, Dumper=dbtPackageDumper)`: block style, keys sorted,
/// sequences indented under their key.
pub fn py_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(_) | Value::Array(_) => write_block(v, 0, &mut out),
        scalar => {
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
    out
}

fn is_collection(v: &Value) -> bool {
    matches!(v, Value::Object(m) if !m.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty())
}

/// Writes a non-empty collection starting at the current line; `indent` is
/// the column of its entries.
fn write_block(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut first = true;
            for k in keys {
                if !first || !out.ends_with("- ") {
                    out.push_str(&pad);
                }
                first = false;
                out.push_str(&yaml_str(k));
                out.push(':');
                let x = &m[k];
                if is_collection(x) {
                    out.push('\n');
                    write_block(x, indent + 2, out);
                } else {
                    out.push(' ');
                    out.push_str(&yaml_scalar(x));
                    out.push('\n');
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                out.push_str(&pad);
                out.push_str("- ");
                if is_collection(x) {
                    if x.is_array() {
                        out.push('\n');
                        write_block(x, indent + 2, out);
                    } else {
                        write_block(x, indent + 2, out);
                    }
                } else {
                    out.push_str(&yaml_scalar(x));
                    out.push('\n');
                }
            }
        }
        scalar => {
            out.push_str(&pad);
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => if *b { "true" } else { "false" }.to_owned(),
        Value::Number(n) if n.is_f64() => py_float(n.as_f64().unwrap_or(0.0))
            .replace("Infinity", ".inf")
            .replace("NaN", ".nan"),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_str(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)?(?:[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$")
        .expect("timestamp regex")
});

/// YAML 1.1's base-60 numbers (`1:20`), which `PyYAML` reads as numbers.
static SEXAGESIMAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$").expect("sexagesimal regex")
});

/// Whether `PyYAML` would write `s` as a plain scalar in block context.
fn plain_ok(s: &str) -> bool {
    if s.is_empty()
        || s.starts_with("---")
        || s.starts_with("...")
        || s.starts_with(' ')
        || s.ends_with(' ')
        || s.chars()
            .any(|c| !(c == ' ' || c.is_ascii_graphic()) || c == '\n')
    {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_space = chars.get(i + 1).is_none_or(|n| *n == ' ');
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                return false;
            }
            if (c == '?' || c == ':' || c == '-') && followed_by_space {
                return false;
            }
        } else {
            if c == ':' && followed_by_space {
                return false;
            }
            if c == '#' && chars[i - 1] == ' ' {
                return false;
            }
        }
    }
    // A plain scalar must read back as the same string, not a number,
    // boolean, null or date.
    if TIMESTAMP.is_match(s) || SEXAGESIMAL.is_match(s) || s == "=" || s == "<<" {
        return false;
    }
    matches!(crate::yaml::parse(s), Ok(y) if y.as_str() == Some(s))
}

fn yaml_str(s: &str) -> String {
    if plain_ok(s) {
        return s.to_owned();
    }
    if s.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c == ' ' || c.is_ascii_graphic() => out.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08X}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_as_python_repr() {
        assert_eq!(py_float(1.2), "1.2");
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(1e16), "1e+16");
        assert_eq!(py_float(0.0001), "0.0001");
        assert_eq!(py_float(0.00001), "1e-05");
    }

    #[test]
    fn json_as_python_dumps_it() {
        let v = json!({"b": [1, 1.5, null], "a": "é\"x", "c": {"z": true, "y": false}});
        assert_eq!(
            py_json(&v),
            r#"{"a": "\u00e9\"x", "b": [1, 1.5, null], "c": {"y": false, "z": true}}"#
        );
    }

    #[test]
    fn yaml_as_pyyaml_dumps_it() {
        let v = json!({
            "sha1_hash": "abc",
            "packages": [
                {"package": "dbt-labs/dbt_utils", "version": "1.3.0", "name": "dbt_utils"},
                {"local": "../x", "name": "x"},
                {"package": "a/b", "version": [">=1.0.0", "<2.0.0"]},
                {"git": "https://h/{{ env_var('T') }}/r.git", "revision": "1.0"}
            ]
        });
        assert_eq!(
            py_yaml(&v),
            "packages:\n  - name: dbt_utils\n    package: dbt-labs/dbt_utils\n    version: 1.3.0\n  \
             - local: ../x\n    name: x\n  - package: a/b\n    version:\n      - '>=1.0.0'\n      - <2.0.0\n  \
             - git: https://h/{{ env_var('T') }}/r.git\n    revision: '1.0'\nsha1_hash: abc\n"
        );
    }

    #[test]
    fn strings_that_read_as_other_types_are_quoted() {
        for s in [
            "true",
            "yes",
            "1",
            "1.5",
            "null",
            "~",
            "2024-01-01",
            "",
            " a",
            "- a",
            "a: b",
            "a #b",
            "%x",
            "0123",
            "1_000",
            "1:20",
            "=",
            ">=1",
        ] {
            assert!(yaml_str(s).starts_with('\''), "{s}");
        }
        assert_eq!(yaml_str("é"), "\"\\xE9\"");
        assert_eq!(yaml_str("<2.0.0"), "<2.0.0");
        assert_eq!(yaml_str("a#b"), "a#b");
        assert_eq!(yaml_str("main"), "main");
        assert_eq!(yaml_str("v1.0"), "v1.0");
        assert_eq!(yaml_str("0c3c5f3a"), "0c3c5f3a");
    }
}
