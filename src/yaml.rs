//! YAML with source locations.
//!
//! dbt's YAML files are loosely typed (a test is a string or a one-key map, a
//! config is anything), so they are read into a generic tree whose every node
//! remembers where it was written. Typed readers in `project` walk that tree
//! and can point a diagnostic at the exact key or value.

use std::fmt;

use serde_json::{Map, Number, Value};
use serde_saphyr::granit_parser;

mod fast;

/// A YAML value with the byte range it was read from.
#[derive(Clone, Debug)]
pub struct Yaml {
    pub kind: YamlKind,
    /// Byte offset and length in the file.
    pub offset: usize,
    pub len: usize,
    pub line: usize,
    pub col: usize,
}

#[derive(Clone, Debug)]
pub enum YamlKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Yaml>),
    /// Keys keep their own locations for "unknown key" style errors.
    Map(Vec<(Yaml, Yaml)>),
}

/// A YAML syntax or structure error with its location.
#[derive(Debug, Clone)]
pub struct YamlError {
    pub message: String,
    pub offset: usize,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Parses one YAML document. An empty file is `Null`.
///
/// The common part of YAML is read by [`fast`]; anything else by the
/// general parser, whose events build the tree directly (several times
/// faster than going through serde on large properties files). Plain
/// scalars are typed as `PyYAML` types them, since dbt reads YAML with it:
/// `yes`/`no`/`on`/`off` are booleans, `1e3` is text, `~` is null.
pub fn parse(text: &str) -> Result<Yaml, YamlError> {
    if text.trim().is_empty() {
        return Ok(Yaml::null());
    }
    if let Some(y) = fast::parse(text) {
        return Ok(y);
    }
    Builder::new(text).run()
}

struct Builder<'a> {
    text: &'a str,
    parser: granit_parser::Parser<'a, granit_parser::StrInput<'a>>,
    anchors: std::collections::HashMap<usize, Yaml>,
}

enum Frame {
    Seq(Yaml, Vec<Yaml>, usize),
    Map(Yaml, Vec<(Yaml, Yaml)>, Option<Yaml>, usize),
}

impl<'a> Builder<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            parser: granit_parser::Parser::new_from_str(text),
            anchors: std::collections::HashMap::new(),
        }
    }

    fn at(&self, m: &granit_parser::Marker) -> (usize, usize, usize) {
        let line = m.line().max(1);
        let col = m.col() + 1;
        let offset = m
            .byte_offset()
            .unwrap_or_else(|| crate::span::offset_of(self.text, line, col));
        (offset, line, col)
    }

    fn error(&self, e: &granit_parser::ScanError) -> YamlError {
        let (offset, line, col) = self.at(e.marker());
        YamlError {
            message: first_line(&e.to_string()),
            offset,
            line,
            col,
        }
    }

    fn run(mut self) -> Result<Yaml, YamlError> {
        use granit_parser::Event;
        let mut stack: Vec<Frame> = Vec::new();
        let mut root: Option<Yaml> = None;
        while let Some(next) = self.parser.next_event() {
            let (event, span) = next.map_err(|e| self.error(&e))?;
            let (offset, line, col) = self.at(&span.start);
            let end = span.end.byte_offset().unwrap_or(offset);
            let node = |kind| Yaml {
                kind,
                offset,
                len: end.saturating_sub(offset),
                line,
                col,
            };
            let value = match event {
                Event::SequenceStart(_, anchor, _) => {
                    stack.push(Frame::Seq(node(YamlKind::Null), Vec::new(), anchor));
                    continue;
                }
                Event::MappingStart(_, anchor, _) => {
                    stack.push(Frame::Map(node(YamlKind::Null), Vec::new(), None, anchor));
                    continue;
                }
                Event::SequenceEnd => match stack.pop() {
                    Some(Frame::Seq(mut y, items, anchor)) => {
                        y.kind = YamlKind::Seq(items);
                        y.len = end.saturating_sub(y.offset);
                        self.remember(anchor, &y);
                        y
                    }
                    _ => continue,
                },
                Event::MappingEnd => match stack.pop() {
                    Some(Frame::Map(mut y, pairs, _, anchor)) => {
                        y.kind = YamlKind::Map(merge_keys(pairs));
                        y.len = end.saturating_sub(y.offset);
                        self.remember(anchor, &y);
                        y
                    }
                    _ => continue,
                },
                Event::Scalar(text, style, anchor, tag) => {
                    let kind = scalar_kind(&text, style, tag.as_deref());
                    let y = node(kind);
                    self.remember(anchor, &y);
                    y
                }
                Event::Alias(id) => match self.anchors.get(&id) {
                    Some(y) => {
                        let mut y = y.clone();
                        y.offset = offset;
                        y.line = line;
                        y.col = col;
                        y
                    }
                    None => {
                        return Err(YamlError {
                            message: "unknown anchor".into(),
                            offset,
                            line,
                            col,
                        });
                    }
                },
                _ => continue,
            };
            match stack.last_mut() {
                Some(Frame::Seq(_, items, _)) => items.push(value),
                Some(Frame::Map(_, pairs, key, _)) => match key.take() {
                    Some(k) => pairs.push((k, value)),
                    None => *key = Some(value),
                },
                None => {
                    if root.is_none() {
                        root = Some(value);
                    }
                }
            }
        }
        Ok(root.unwrap_or_else(Yaml::null))
    }

    fn remember(&mut self, anchor: usize, y: &Yaml) {
        if anchor != 0 {
            self.anchors.insert(anchor, y.clone());
        }
    }
}

/// Applies YAML merge keys (`<<: *base`): merged entries come first and
/// explicit keys win, as in `PyYAML`.
fn merge_keys(pairs: Vec<(Yaml, Yaml)>) -> Vec<(Yaml, Yaml)> {
    let is_merge = |k: &Yaml| matches!(&k.kind, YamlKind::Str(s) if s == "<<");
    if !pairs.iter().any(|(k, _)| is_merge(k)) {
        return pairs;
    }
    let mut merged: Vec<(Yaml, Yaml)> = Vec::new();
    let mut explicit: Vec<(Yaml, Yaml)> = Vec::new();
    for (k, v) in pairs {
        if !is_merge(&k) {
            explicit.push((k, v));
            continue;
        }
        let sources: Vec<Yaml> = match v.kind {
            YamlKind::Seq(items) => items,
            _ => vec![v],
        };
        for src in sources {
            if let YamlKind::Map(entries) = src.kind {
                for (mk, mv) in entries {
                    if !merged.iter().any(|(k2, _)| k2.key_str() == mk.key_str()) {
                        merged.push((mk, mv));
                    }
                }
            }
        }
    }
    merged.retain(|(k, _)| !explicit.iter().any(|(e, _)| e.key_str() == k.key_str()));
    merged.extend(explicit);
    merged
}

/// Types a scalar the way the `PyYAML` safe loader does (YAML 1.1).
fn scalar_kind(
    text: &str,
    style: granit_parser::ScalarStyle,
    tag: Option<&granit_parser::Tag>,
) -> YamlKind {
    if let Some(tag) = tag
        && tag.is_yaml_core_schema()
    {
        return match tag.suffix() {
            "null" => YamlKind::Null,
            "bool" => bool_of(text).map_or_else(|| YamlKind::Str(text.to_owned()), YamlKind::Bool),
            "int" => int_of(text).map_or_else(|| YamlKind::Str(text.to_owned()), YamlKind::Int),
            "float" => float_of(text)
                .or_else(|| int_of(text).map(|i| i as f64))
                .map_or_else(|| YamlKind::Str(text.to_owned()), YamlKind::Float),
            _ => YamlKind::Str(text.to_owned()),
        };
    }
    if style != granit_parser::ScalarStyle::Plain {
        return YamlKind::Str(text.to_owned());
    }
    plain_kind(text)
}

/// The type of a plain (unquoted, untagged) scalar. Most are names: the
/// first character rules out the other types quickly.
fn plain_kind(text: &str) -> YamlKind {
    let first = text.as_bytes().first().copied().unwrap_or(b'~');
    let typed = match first {
        b'0'..=b'9' | b'+' | b'-' | b'.' => int_of(text)
            .map(YamlKind::Int)
            .or_else(|| float_of(text).map(YamlKind::Float)),
        b'~' | b'n' | b'N' if matches!(text, "" | "~" | "null" | "Null" | "NULL") => {
            Some(YamlKind::Null)
        }
        b'n' | b'N' | b'y' | b'Y' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' => {
            bool_of(text).map(YamlKind::Bool)
        }
        _ => None,
    };
    typed.unwrap_or_else(|| YamlKind::Str(text.to_owned()))
}

fn bool_of(t: &str) -> Option<bool> {
    match t {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn int_of(t: &str) -> Option<i64> {
    let (neg, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if body.is_empty() || body.starts_with('_') {
        return None;
    }
    let owned;
    let digits = if body.contains('_') {
        owned = body.replace('_', "");
        owned.as_str()
    } else {
        body
    };
    let value = if let Some(h) = digits.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(b) = digits.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else if digits.bytes().all(|c| c.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -value } else { value })
}

/// A `PyYAML` float: digits with a point, an exponent only with a sign
/// (`1.5e+3`), `.inf`, `.nan`.
fn float_of(t: &str) -> Option<f64> {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    match body {
        ".inf" | ".Inf" | ".INF" => {
            return Some(if t.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        ".nan" | ".NaN" | ".NAN" if body.len() == t.len() => return Some(f64::NAN),
        _ => {}
    }
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int_part, frac) = mantissa.split_once('.')?;
    let ok_digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit() || c == b'_');
    if !ok_digits(int_part) || !ok_digits(frac) || (int_part.is_empty() && frac.is_empty()) {
        return None;
    }
    if int_part.starts_with('_') {
        return None;
    }
    if let Some(e) = exp {
        let digits = e.strip_prefix(['-', '+'])?;
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    t.replace('_', "").parse().ok()
}

fn first_line(s: &str) -> String {
    let mut line = s.lines().next().unwrap_or("invalid YAML").trim();
    // The span already gives the position: drop "error: line X column Y: ".
    if let Some(rest) = line.strip_prefix("error: ") {
        line = rest;
    }
    if line.starts_with("line ")
        && let Some((_, rest)) = line.split_once(": ")
    {
        line = rest;
    }
    // The parser appends " at char N line X column Y"; the span says that.
    match line.find(" at char ").or_else(|| line.find(" at line ")) {
        Some(i) => line[..i].to_owned(),
        None => line.to_owned(),
    }
}

impl Yaml {
    pub const fn null() -> Self {
        Self {
            kind: YamlKind::Null,
            offset: 0,
            len: 0,
            line: 1,
            col: 1,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            YamlKind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub const fn is_null(&self) -> bool {
        matches!(self.kind, YamlKind::Null)
    }

    pub fn as_seq(&self) -> Option<&[Yaml]> {
        match &self.kind {
            YamlKind::Seq(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Yaml, Yaml)]> {
        match &self.kind {
            YamlKind::Map(v) => Some(v),
            _ => None,
        }
    }

    /// Value of `key` in a mapping (the last one, if the key is repeated,
    /// as `PyYAML` reads it).
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        self.as_map()?
            .iter()
            .rev()
            .find(|(k, _)| k.key_is(key))
            .map(|(_, v)| v)
    }

    /// Whether this mapping key reads as `key`.
    fn key_is(&self, key: &str) -> bool {
        match &self.kind {
            YamlKind::Str(s) => s == key,
            YamlKind::Seq(_) | YamlKind::Map(_) => false,
            _ => self.key_str().as_deref() == Some(key),
        }
    }

    /// A mapping key as text (YAML allows `1:` or `true:` as keys).
    pub fn key_str(&self) -> Option<String> {
        match &self.kind {
            YamlKind::Str(s) => Some(s.clone()),
            YamlKind::Int(i) => Some(i.to_string()),
            YamlKind::Bool(b) => Some(b.to_string()),
            YamlKind::Float(f) => Some(f.to_string()),
            YamlKind::Null => Some("null".to_owned()),
            _ => None,
        }
    }

    /// A short word for the value's type, for "expected X, found Y" errors.
    pub const fn type_name(&self) -> &'static str {
        match self.kind {
            YamlKind::Null => "null",
            YamlKind::Bool(_) => "a boolean",
            YamlKind::Int(_) | YamlKind::Float(_) => "a number",
            YamlKind::Str(_) => "a string",
            YamlKind::Seq(_) => "a list",
            YamlKind::Map(_) => "a mapping",
        }
    }

    /// The value as JSON, dropping locations.
    pub fn to_json(&self) -> Value {
        self.to_json_with(&|_| None)
    }

    /// The value as JSON, with strings replaced where `replace` says (by the
    /// text a string had before it was rendered, for example).
    pub fn to_json_with(&self, replace: &dyn Fn(&Self) -> Option<Value>) -> Value {
        if let Some(v) = replace(self) {
            return v;
        }
        match &self.kind {
            YamlKind::Null => Value::Null,
            YamlKind::Bool(b) => Value::Bool(*b),
            YamlKind::Int(i) => Value::Number((*i).into()),
            YamlKind::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            YamlKind::Str(s) => Value::String(s.clone()),
            YamlKind::Seq(v) => Value::Array(v.iter().map(|x| x.to_json_with(replace)).collect()),
            YamlKind::Map(v) => {
                let mut m = Map::new();
                for (k, x) in v {
                    if let Some(k) = k.key_str() {
                        m.insert(k, x.to_json_with(replace));
                    }
                }
                Value::Object(m)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_locations_of_nested_values() {
        let text = "models:\n  - name: orders\n    description: hi\n";
        let y = parse(text).unwrap();
        let m = &y.get("models").unwrap().as_seq().unwrap()[0];
        let name = m.get("name").unwrap();
        assert_eq!(name.as_str(), Some("orders"));
        assert_eq!((name.line, name.col), (2, 11));
        assert_eq!(&text[name.offset..name.offset + 6], "orders");
    }

    #[test]
    fn reports_syntax_errors_with_position() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line >= 1);
        assert!(!err.message.is_empty());
    }

    #[test]
    fn types_scalars_like_pyyaml() {
        let y = parse("a: yes\nb: off\nc: 1e3\nd: 1.5e+3\ne: ~\nf: '1'\ng: 0x1f\nh: 010\ni: .inf\nj: !!str 12\nk: 1_000\n").unwrap();
        assert_eq!(
            y.to_json(),
            serde_json::json!({"a": true, "b": false, "c": "1e3", "d": 1500.0, "e": null, "f": "1", "g": 31, "h": 8, "i": null, "j": "12", "k": 1000})
        );
    }

    #[test]
    fn resolves_anchors_and_merge_keys() {
        let y = parse("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\nl: *b\n").unwrap();
        assert_eq!(
            y.to_json(),
            serde_json::json!({"base": {"x": 1, "y": 2}, "m": {"x": 1, "y": 3}, "l": {"x": 1, "y": 2}})
        );
    }

    #[test]
    fn converts_to_json() {
        let y = parse("a: 1\nb: [x, true, null, 1.5]\n").unwrap();
        assert_eq!(
            y.to_json(),
            serde_json::json!({"a": 1, "b": ["x", true, null, 1.5]})
        );
    }
}
