//! YAML with source locations.
//!
//! dbt's YAML files are loosely typed (a test is a string or a one-key map, a
//! config is anything), so they are read into a generic tree whose every node
//! remembers where it was written. Typed readers in `project` walk that tree
//! and can point a diagnostic at the exact key or value.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::Spanned;

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
pub fn parse(text: &str) -> Result<Yaml, YamlError> {
    if text.trim().is_empty() {
        return Ok(Yaml::null());
    }
    let spanned: Result<Spanned<Raw>, _> = serde_saphyr::from_str(text);
    match spanned {
        Ok(s) => Ok(s.into_yaml(text)),
        Err(e) => {
            let (line, col) = e
                .location()
                .map_or((1, 1), |l| (to_usize(l.line()), to_usize(l.column())));
            let offset = crate::span::offset_of(text, line, col);
            let message = first_line(&e.to_string());
            Err(YamlError {
                message,
                offset,
                line,
                col,
            })
        }
    }
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
    // serde-saphyr appends " at line X column Y"; the span already says that.
    match line.find(" at line ") {
        Some(i) => line[..i].to_owned(),
        None => line.to_owned(),
    }
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
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

    /// Value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.key_str().as_deref() == Some(key))
            .map(|(_, v)| v)
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
        match &self.kind {
            YamlKind::Null => Value::Null,
            YamlKind::Bool(b) => Value::Bool(*b),
            YamlKind::Int(i) => Value::Number((*i).into()),
            YamlKind::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            YamlKind::Str(s) => Value::String(s.clone()),
            YamlKind::Seq(v) => Value::Array(v.iter().map(Self::to_json).collect()),
            YamlKind::Map(v) => {
                let mut m = Map::new();
                for (k, x) in v {
                    if let Some(k) = k.key_str() {
                        m.insert(k, x.to_json());
                    }
                }
                Value::Object(m)
            }
        }
    }
}

/// The tree as serde-saphyr produces it, before byte offsets are attached.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

trait IntoYaml {
    fn into_yaml(self, text: &str) -> Yaml;
}

impl IntoYaml for Spanned<Raw> {
    fn into_yaml(self, text: &str) -> Yaml {
        let loc = self.referenced;
        let line = to_usize(loc.line()).max(1);
        let col = to_usize(loc.column()).max(1);
        let span = loc.span();
        let offset = span
            .byte_offset()
            .map_or_else(|| crate::span::offset_of(text, line, col), to_usize);
        let len = span.byte_len().map_or(0, to_usize);
        let kind = match self.value {
            Raw::Null => YamlKind::Null,
            Raw::Bool(b) => YamlKind::Bool(b),
            Raw::Int(i) => YamlKind::Int(i),
            Raw::Float(f) => YamlKind::Float(f),
            Raw::Str(s) => YamlKind::Str(s),
            Raw::Seq(v) => YamlKind::Seq(v.into_iter().map(|x| x.into_yaml(text)).collect()),
            Raw::Map(v) => YamlKind::Map(
                v.into_iter()
                    .map(|(k, x)| (k.into_yaml(text), x.into_yaml(text)))
                    .collect(),
            ),
        };
        Yaml {
            kind,
            offset,
            len,
            line,
            col,
        }
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut out = Vec::new();
        while let Some(x) = seq.next_element::<Spanned<Raw>>()? {
            out.push(x);
        }
        Ok(Raw::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut out = Vec::new();
        while let Some((k, v)) = map.next_entry::<Spanned<Raw>, Spanned<Raw>>()? {
            out.push((k, v));
        }
        Ok(Raw::Map(out))
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
    fn converts_to_json() {
        let y = parse("a: 1\nb: [x, true, null, 1.5]\n").unwrap();
        assert_eq!(
            y.to_json(),
            serde_json::json!({"a": 1, "b": ["x", true, null, 1.5]})
        );
    }
}
