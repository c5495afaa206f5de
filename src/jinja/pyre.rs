//! Python's `re` as dbt templates see it (`modules.re`): patterns in
//! Python's syntax, `Match` and `Pattern` objects, and the module's
//! functions with Python's results (`findall` returns the groups when the
//! pattern has some, `sub` expands `\1` and `\g<name>`, positions count
//! characters).
//!
//! Patterns are translated to `fancy_regex`'s syntax (look-around and
//! backreferences need it) by `translate`: verbose mode is applied here,
//! because Rust's verbose mode also drops spaces inside classes; a `{` that
//! does not start a repetition is a literal, as in Python; `$` without
//! `MULTILINE` also matches before a final newline.

use std::fmt::{self, Write as _};
use std::sync::{Arc, OnceLock};

use minijinja::value::{Kwargs, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Python's flag values (`re.I`, `re.IGNORECASE`, ...).
const IGNORECASE: i64 = 2;
const LOCALE: i64 = 4;
const MULTILINE: i64 = 8;
const DOTALL: i64 = 16;
const UNICODE: i64 = 32;
const VERBOSE: i64 = 64;
const ASCII: i64 = 256;

fn flag_of(letter: char) -> Option<i64> {
    Some(match letter {
        'i' => IGNORECASE,
        'L' => LOCALE,
        'm' => MULTILINE,
        's' => DOTALL,
        'u' => UNICODE,
        'x' => VERBOSE,
        'a' => ASCII,
        _ => return None,
    })
}

/// The module attribute for a flag name, if `name` is one.
fn flag_named(name: &str) -> Option<i64> {
    Some(match name {
        "I" | "IGNORECASE" => IGNORECASE,
        "L" | "LOCALE" => LOCALE,
        "M" | "MULTILINE" => MULTILINE,
        "S" | "DOTALL" => DOTALL,
        "U" | "UNICODE" => UNICODE,
        "X" | "VERBOSE" => VERBOSE,
        "A" | "ASCII" => ASCII,
        "NOFLAG" => 0,
        _ => return None,
    })
}

/// Reads `{m}`, `{m,}`, `{m,n}` or `{,n}` at the start of `s` (which begins
/// with `{`): the repetition in Rust's spelling and its length in `s`.
fn repetition(s: &[char]) -> Option<(String, usize)> {
    let close = s.iter().position(|&c| c == '}')?;
    let inner: String = s[1..close].iter().collect();
    let (lo, hi) = match inner.split_once(',') {
        Some((lo, hi)) => (lo, Some(hi)),
        None => (inner.as_str(), None),
    };
    let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    let ok = match hi {
        None => digits(lo),
        Some(hi) => (digits(lo) || lo.is_empty()) && (digits(hi) || hi.is_empty()),
    };
    if !ok || (lo.is_empty() && hi.is_none_or(str::is_empty)) {
        return None;
    }
    let lo = if lo.is_empty() { "0" } else { lo };
    let text = match hi {
        None => format!("{{{lo}}}"),
        Some(hi) => format!("{{{lo},{hi}}}"),
    };
    Some((text, close + 1))
}

/// Python's pattern `pattern` with `flags` in `fancy_regex`'s syntax, and
/// the flags in effect (the argument's and the pattern's own global ones).
fn translate(pattern: &str, flags: i64) -> Result<(String, i64), String> {
    let chars: Vec<char> = pattern.chars().collect();
    // Global inline flags (`(?ix)`) apply to the whole pattern in Python,
    // wherever they stand; they are collected first so verbose mode is known.
    let mut flags = flags;
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class && chars.get(i + 1) == Some(&'?') => {
                let mut j = i + 2;
                let mut f = 0;
                while let Some(v) = chars.get(j).and_then(|&c| flag_of(c)) {
                    f |= v;
                    j += 1;
                }
                if j > i + 2 && chars.get(j) == Some(&')') {
                    flags |= f;
                }
            }
            _ => {}
        }
        i += 1;
    }
    let verbose = flags & VERBOSE != 0;
    let mut out = String::new();
    if flags & IGNORECASE != 0 {
        out.push_str("(?i)");
    }
    if flags & MULTILINE != 0 {
        out.push_str("(?m)");
    }
    if flags & DOTALL != 0 {
        out.push_str("(?s)");
    }
    let mut i = 0;
    // Inside a class: the position of its `[`, to tell a leading `]`.
    let mut class_start: Option<usize> = None;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let Some(&n) = chars.get(i + 1) else {
                return Err("bad escape (end of pattern)".into());
            };
            i += 2;
            match n {
                'Z' => out.push_str(r"\z"),
                'a' => out.push_str(r"\x07"),
                'd' | 'D' | 'w' | 'W' | 's' | 'S' | 'b' | 'B' | 'A' | 'n' | 't' | 'r' | 'f'
                | 'v' => {
                    out.push('\\');
                    out.push(n);
                }
                'x' | 'u' | 'U' => {
                    let len = match n {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = chars.iter().skip(i).take(len).collect();
                    if hex.len() != len || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                        return Err(format!("incomplete escape \\{n}{hex}"));
                    }
                    let _ = write!(out, "\\x{{{hex}}}");
                    i += len;
                }
                '0'..='9' if class_start.is_none() && n != '0' => {
                    let mut num = n.to_string();
                    if let Some(&d) = chars.get(i).filter(|d| d.is_ascii_digit()) {
                        num.push(d);
                        i += 1;
                    }
                    let _ = write!(out, "\\{num}");
                }
                '0'..='7' => {
                    let mut oct = n.to_string();
                    while oct.len() < 3
                        && let Some(&d) = chars.get(i).filter(|d| ('0'..='7').contains(*d))
                    {
                        oct.push(d);
                        i += 1;
                    }
                    let code = u32::from_str_radix(&oct, 8).map_err(|e| e.to_string())?;
                    let _ = write!(out, "\\x{{{code:x}}}");
                }
                n if n.is_ascii_alphanumeric() => return Err(format!("bad escape \\{n}")),
                n => out.push_str(&regex::escape(&n.to_string())),
            }
            continue;
        }
        if let Some(start) = class_start {
            match c {
                ']' if i > start + 1 && !(i == start + 2 && chars[start + 1] == '^') => {
                    class_start = None;
                    out.push(']');
                }
                // Rust reads these as nested classes and set operations.
                '[' | '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                ']' => out.push_str(r"\]"),
                '-' if chars.get(i + 1) == Some(&'-') => out.push_str(r"\-"),
                _ => out.push(c),
            }
            i += 1;
            continue;
        }
        match c {
            '[' => {
                class_start = Some(i);
                out.push('[');
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                    class_start = Some(i - 1);
                }
            }
            c if verbose && c.is_whitespace() => {}
            '#' if verbose => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '{' => match repetition(&chars[i..]) {
                Some((text, len)) => {
                    out.push_str(&text);
                    i += len;
                    continue;
                }
                None => out.push_str(r"\{"),
            },
            '}' => out.push_str(r"\}"),
            '$' if flags & MULTILINE == 0 => out.push_str(r"(?:\z|(?=\n\z))"),
            '(' if chars.get(i + 1) == Some(&'?') => {
                let rest: String = chars[i + 2..].iter().take(3).collect();
                if rest.starts_with('#') {
                    while i < chars.len() && chars[i] != ')' {
                        i += 1;
                    }
                } else if rest.starts_with("P=") {
                    let close = chars[i..]
                        .iter()
                        .position(|&c| c == ')')
                        .ok_or("missing ), unterminated name")?;
                    let name: String = chars[i + 4..i + close].iter().collect();
                    let _ = write!(out, "\\k<{name}>");
                    i += close;
                } else if rest.starts_with("P<") {
                    out.push_str("(?P<");
                    i += 3;
                } else {
                    // Flag groups: global ones were read above; scoped ones
                    // keep the flags Rust knows.
                    let mut j = i + 2;
                    let mut kept = String::new();
                    while let Some(&f) = chars.get(j) {
                        if f == '-' || "imsx".contains(f) {
                            if f != 'x' {
                                kept.push(f);
                            }
                        } else if flag_of(f).is_none() {
                            break;
                        }
                        j += 1;
                    }
                    if j == i + 2 {
                        out.push_str("(?");
                        i += 1;
                    } else if chars.get(j) == Some(&')') {
                        i = j;
                    } else if chars.get(j) == Some(&':') {
                        let kept = kept.trim_end_matches('-');
                        if kept.is_empty() {
                            out.push_str("(?:");
                        } else {
                            let _ = write!(out, "(?{kept}:");
                        }
                        i = j;
                    } else {
                        out.push_str("(?");
                        i += 1;
                    }
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    if class_start.is_some() {
        return Err("unterminated character set".into());
    }
    Ok((out, flags))
}

/// A compiled Python pattern (`re.compile`'s result, and what every module
/// function compiles).
#[derive(Debug)]
pub struct Pattern {
    source: String,
    flags: i64,
    body: String,
    search: fancy_regex::Regex,
    anchored: OnceLock<Result<fancy_regex::Regex, String>>,
    full: OnceLock<Result<fancy_regex::Regex, String>>,
}

fn build(re: &str) -> Result<fancy_regex::Regex, String> {
    fancy_regex::RegexBuilder::new(re)
        .backtrack_limit(10_000_000)
        .build()
        .map_err(|e| e.to_string())
}

impl Pattern {
    pub fn new(pattern: &str, flags: i64) -> Result<Self, Error> {
        let invalid = |e: String| err(format!("invalid regular expression `{pattern}`: {e}"));
        let (body, flags) = translate(pattern, flags).map_err(invalid)?;
        let search = build(&body).map_err(invalid)?;
        Ok(Self {
            source: pattern.to_owned(),
            flags,
            body,
            search,
            anchored: OnceLock::new(),
            full: OnceLock::new(),
        })
    }

    fn variant<'a>(
        &'a self,
        cell: &'a OnceLock<Result<fancy_regex::Regex, String>>,
        end: &str,
    ) -> Result<&'a fancy_regex::Regex, Error> {
        cell.get_or_init(|| build(&format!(r"\A(?:{}){end}", self.body)))
            .as_ref()
            .map_err(|e| err(format!("invalid regular expression `{}`: {e}", self.source)))
    }

    fn groups(&self) -> usize {
        self.search.captures_len() - 1
    }

    fn run_err(e: &fancy_regex::Error) -> Error {
        err(format!("regular expression failed: {e}"))
    }

    /// `search`, `match` or `fullmatch` from character position `pos`.
    fn find(self: &Arc<Self>, how: &str, text: &str, pos: usize) -> Result<Value, Error> {
        let from = byte_of(text, pos);
        let found = if how == "search" {
            self.search
                .captures_from_pos(text, from)
                .map_err(|e| Self::run_err(&e))?
                .map(|c| MatchObj::from_caps(self, text, &c, 0))
        } else {
            let re = if how == "match" {
                self.variant(&self.anchored, "")?
            } else {
                self.variant(&self.full, r"\z")?
            };
            // Anchored at `pos`: the rest of the text must match from its start.
            re.captures(&text[from..])
                .map_err(|e| Self::run_err(&e))?
                .map(|c| MatchObj::from_caps(self, text, &c, from))
        };
        Ok(found.map_or(Value::from(()), Value::from_object))
    }

    fn findall(self: &Arc<Self>, text: &str) -> Result<Value, Error> {
        let mut out = Vec::new();
        for caps in self.search.captures_iter(text) {
            let caps = caps.map_err(|e| Self::run_err(&e))?;
            let group = |i: usize| Value::from(caps.get(i).map_or("", |m| m.as_str()));
            out.push(match self.groups() {
                0 => group(0),
                1 => group(1),
                n => Value::from((1..=n).map(group).collect::<Vec<_>>()),
            });
        }
        Ok(Value::from(out))
    }

    fn finditer(self: &Arc<Self>, text: &str) -> Result<Value, Error> {
        let mut out = Vec::new();
        for caps in self.search.captures_iter(text) {
            let caps = caps.map_err(|e| Self::run_err(&e))?;
            out.push(Value::from_object(MatchObj::from_caps(
                self, text, &caps, 0,
            )));
        }
        Ok(Value::from(out))
    }

    fn sub(
        self: &Arc<Self>,
        repl: &str,
        text: &str,
        count: usize,
    ) -> Result<(String, usize), Error> {
        let template = Template::parse(repl, self)?;
        let mut out = String::new();
        let mut last = 0;
        let mut n = 0;
        for caps in self.search.captures_iter(text) {
            if count > 0 && n == count {
                break;
            }
            let caps = caps.map_err(|e| Self::run_err(&e))?;
            let Some(whole) = caps.get(0) else { continue };
            out.push_str(&text[last..whole.start()]);
            template.expand(&caps, &mut out);
            last = whole.end();
            n += 1;
        }
        out.push_str(&text[last..]);
        Ok((out, n))
    }

    fn split(self: &Arc<Self>, text: &str, maxsplit: usize) -> Result<Value, Error> {
        let mut out = Vec::new();
        let mut last = 0;
        for caps in self.search.captures_iter(text) {
            if maxsplit > 0 && out.len() / (self.groups() + 1) == maxsplit {
                break;
            }
            let caps = caps.map_err(|e| Self::run_err(&e))?;
            let Some(whole) = caps.get(0) else { continue };
            out.push(Value::from(&text[last..whole.start()]));
            for g in 1..=self.groups() {
                out.push(
                    caps.get(g)
                        .map_or(Value::from(()), |m| Value::from(m.as_str())),
                );
            }
            last = whole.end();
        }
        out.push(Value::from(&text[last..]));
        Ok(Value::from(out))
    }

    /// The group number for `\g<name>` or `group('name')`.
    fn group_index(&self, name: &str) -> Option<usize> {
        if let Ok(n) = name.parse::<usize>() {
            return (n <= self.groups()).then_some(n);
        }
        self.search.capture_names().position(|n| n == Some(name))
    }
}

/// The byte offset of character position `pos` in `text` (its end when past it).
fn byte_of(text: &str, pos: usize) -> usize {
    text.char_indices().nth(pos).map_or(text.len(), |(b, _)| b)
}

fn char_of(text: &str, byte: usize) -> usize {
    text[..byte].chars().count()
}

/// A replacement template of `re.sub`: literal text and group references.
struct Template(Vec<Piece>);

enum Piece {
    Text(String),
    Group(usize),
}

impl Template {
    fn parse(repl: &str, pattern: &Pattern) -> Result<Self, Error> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = repl.chars().peekable();
        let bad_group = |g: &str| err(format!("invalid group reference {g} in `{repl}`"));
        while let Some(c) = chars.next() {
            if c != '\\' {
                text.push(c);
                continue;
            }
            let Some(n) = chars.next() else {
                return Err(err("bad escape (end of pattern)"));
            };
            let group = match n {
                'g' => {
                    if chars.next() != Some('<') {
                        return Err(err("missing < in group reference"));
                    }
                    let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
                    Some(pattern.group_index(&name).ok_or_else(|| bad_group(&name))?)
                }
                '0'..='9' => {
                    let mut num = n.to_string();
                    if let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                        num.push(d);
                        chars.next();
                    }
                    Some(pattern.group_index(&num).ok_or_else(|| bad_group(&num))?)
                }
                'n' => {
                    text.push('\n');
                    None
                }
                't' => {
                    text.push('\t');
                    None
                }
                'r' => {
                    text.push('\r');
                    None
                }
                'f' => {
                    text.push('\x0c');
                    None
                }
                'v' => {
                    text.push('\x0b');
                    None
                }
                'a' => {
                    text.push('\x07');
                    None
                }
                '\\' => {
                    text.push('\\');
                    None
                }
                n if n.is_ascii_alphabetic() => return Err(err(format!("bad escape \\{n}"))),
                n => {
                    text.push('\\');
                    text.push(n);
                    None
                }
            };
            if let Some(g) = group {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Group(g));
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Self(pieces))
    }

    fn expand(&self, caps: &fancy_regex::Captures<'_, str>, out: &mut String) {
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Group(g) => out.push_str(caps.get(*g).map_or("", |m| m.as_str())),
            }
        }
    }
}

/// A `re.Match`: the groups' spans in the searched text.
#[derive(Debug)]
struct MatchObj {
    pattern: Arc<Pattern>,
    text: Arc<str>,
    /// Byte spans of group 0.. (`None`: the group did not take part).
    spans: Vec<Option<(usize, usize)>>,
}

impl MatchObj {
    fn from_caps(
        pattern: &Arc<Pattern>,
        text: &str,
        caps: &fancy_regex::Captures<'_, str>,
        offset: usize,
    ) -> Self {
        Self {
            pattern: Arc::clone(pattern),
            text: Arc::from(text),
            spans: (0..caps.len())
                .map(|i| caps.get(i).map(|m| (m.start() + offset, m.end() + offset)))
                .collect(),
        }
    }

    fn index(&self, v: &Value) -> Result<usize, Error> {
        let found = match v.as_str() {
            Some(name) => self.pattern.group_index(name),
            None => v.as_usize().filter(|&i| i < self.spans.len()),
        };
        found.ok_or_else(|| err(format!("no such group: {v}")))
    }

    fn group(&self, i: usize) -> Value {
        self.spans
            .get(i)
            .copied()
            .flatten()
            .map_or(Value::from(()), |(s, e)| Value::from(&self.text[s..e]))
    }

    fn span(&self, i: usize) -> (i64, i64) {
        match self.spans.get(i).copied().flatten() {
            Some((s, e)) => (
                i64::try_from(char_of(&self.text, s)).unwrap_or(i64::MAX),
                i64::try_from(char_of(&self.text, e)).unwrap_or(i64::MAX),
            ),
            None => (-1, -1),
        }
    }
}

impl Object for MatchObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "string" => Some(Value::from(&*self.text)),
            "re" => Some(Value::from_dyn_object(Arc::clone(&self.pattern))),
            "pos" => Some(Value::from(0)),
            "lastindex" => Some(
                (1..self.spans.len())
                    .filter(|&i| self.spans[i].is_some())
                    .max_by_key(|&i| self.spans[i].map(|(_, e)| e))
                    .map_or(Value::from(()), Value::from),
            ),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let positional: Vec<&Value> = args
            .iter()
            .filter(|a| super::kwargs_of(a).is_none())
            .collect();
        let which = |i: usize| -> Result<usize, Error> {
            positional.get(i).map_or(Ok(0), |v| self.index(v))
        };
        match method {
            "group" => {
                if positional.len() <= 1 {
                    return Ok(self.group(which(0)?));
                }
                let all: Result<Vec<Value>, Error> = positional
                    .iter()
                    .map(|v| self.index(v).map(|i| self.group(i)))
                    .collect();
                Ok(Value::from(all?))
            }
            "groups" => {
                let default = positional.first().map_or(Value::from(()), |v| (*v).clone());
                Ok(Value::from(
                    (1..self.spans.len())
                        .map(|i| {
                            let g = self.group(i);
                            if g.is_none() { default.clone() } else { g }
                        })
                        .collect::<Vec<_>>(),
                ))
            }
            "groupdict" => {
                let mut map = std::collections::BTreeMap::new();
                for (i, name) in self.pattern.search.capture_names().enumerate() {
                    if let Some(name) = name {
                        map.insert(name.to_owned(), self.group(i));
                    }
                }
                Ok(Value::from_iter(map))
            }
            "start" => Ok(Value::from(self.span(which(0)?).0)),
            "end" => Ok(Value::from(self.span(which(0)?).1)),
            "span" => {
                let (s, e) = self.span(which(0)?);
                Ok(Value::from(vec![Value::from(s), Value::from(e)]))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("`re.Match` has no method `{method}`"),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, e) = self.span(0);
        let matched = self.group(0);
        write!(
            f,
            "<re.Match object; span=({s}, {e}), match={}>",
            super::python::repr(&matched)
        )
    }
}

/// Positional argument `i`, or keyword `name`.
fn arg<'a>(args: &'a [Value], kwargs: Option<&'a Kwargs>, i: usize, name: &str) -> Option<Value> {
    let positional = args.iter().filter(|a| super::kwargs_of(a).is_none()).nth(i);
    positional
        .cloned()
        .or_else(|| kwargs.and_then(|k| k.get::<Option<Value>>(name).ok().flatten()))
}

fn text_arg(
    args: &[Value],
    kwargs: Option<&Kwargs>,
    i: usize,
    name: &str,
) -> Result<String, Error> {
    match arg(args, kwargs, i, name) {
        Some(v) if v.kind() == ValueKind::String => Ok(v.as_str().unwrap_or_default().to_owned()),
        Some(v) if v.is_none() || v.is_undefined() => Err(err(format!(
            "expected string or bytes-like object for `{name}`, got 'NoneType'"
        ))),
        Some(v) => Ok(v.to_string()),
        None => Err(err(format!("missing required argument `{name}`"))),
    }
}

fn int_arg(args: &[Value], kwargs: Option<&Kwargs>, i: usize, name: &str) -> Result<i64, Error> {
    match arg(args, kwargs, i, name) {
        Some(v) if v.is_none() || v.is_undefined() => Ok(0),
        Some(v) => i64::try_from(v).map_err(|_| err(format!("`{name}` must be an integer"))),
        None => Ok(0),
    }
}

fn pattern_of(v: &Value, flags: i64) -> Result<Arc<Pattern>, Error> {
    if let Some(p) = v.downcast_object::<Pattern>() {
        return Ok(p);
    }
    let text = v.as_str().ok_or_else(|| {
        err(format!(
            "first argument must be a string or compiled pattern, not `{v}`"
        ))
    })?;
    Pattern::new(text, flags).map(Arc::new)
}

/// The methods of a pattern, and of the module once the pattern is
/// compiled: `args` start after the pattern.
fn call(
    pattern: &Arc<Pattern>,
    method: &str,
    args: &[Value],
    kwargs: Option<&Kwargs>,
) -> Result<Value, Error> {
    match method {
        "search" | "match" | "fullmatch" => {
            let text = text_arg(args, kwargs, 0, "string")?;
            let pos = usize::try_from(int_arg(args, kwargs, 1, "pos")?).unwrap_or(0);
            pattern.find(method, &text, pos)
        }
        "findall" => pattern.findall(&text_arg(args, kwargs, 0, "string")?),
        "finditer" => pattern.finditer(&text_arg(args, kwargs, 0, "string")?),
        "sub" | "subn" => {
            let repl = text_arg(args, kwargs, 0, "repl")?;
            let text = text_arg(args, kwargs, 1, "string")?;
            let count = usize::try_from(int_arg(args, kwargs, 2, "count")?).unwrap_or(0);
            let (out, n) = pattern.sub(&repl, &text, count)?;
            Ok(if method == "sub" {
                Value::from(out)
            } else {
                Value::from(vec![Value::from(out), Value::from(n)])
            })
        }
        "split" => {
            let text = text_arg(args, kwargs, 0, "string")?;
            let max = usize::try_from(int_arg(args, kwargs, 1, "maxsplit")?).unwrap_or(0);
            pattern.split(&text, max)
        }
        _ => Err(Error::new(
            ErrorKind::UnknownMethod,
            format!("`re.Pattern` has no method `{method}`"),
        )),
    }
}

impl Object for Pattern {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "pattern" => Some(Value::from(self.source.as_str())),
            "flags" => Some(Value::from(self.flags | UNICODE)),
            "groups" => Some(Value::from(self.groups())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let kwargs = args.last().and_then(super::kwargs_of);
        call(self, method, args, kwargs.as_ref())
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "re.compile({})",
            super::python::repr(&Value::from(self.source.as_str()))
        )
    }
}

/// `modules.re`.
#[derive(Debug)]
pub struct ReModule;

impl Object for ReModule {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        flag_named(key.as_str()?).map(Value::from)
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let kwargs = args.last().and_then(super::kwargs_of);
        let kw = kwargs.as_ref();
        // Where each function takes `flags` positionally, after the pattern.
        let flags_at = match method {
            "compile" => 0,
            "search" | "match" | "fullmatch" | "findall" | "finditer" => 1,
            "split" | "sub" | "subn" => match method {
                "split" => 2,
                _ => 3,
            },
            "escape" => {
                let text = text_arg(args, kw, 0, "pattern")?;
                return Ok(Value::from(escape(&text)));
            }
            "purge" => return Ok(Value::from(())),
            _ => {
                return Err(Error::new(
                    ErrorKind::UnknownMethod,
                    format!("`modules.re.{method}` is not available in xform"),
                ));
            }
        };
        let positional: Vec<Value> = args
            .iter()
            .filter(|a| super::kwargs_of(a).is_none())
            .cloned()
            .collect();
        let first = positional
            .first()
            .cloned()
            .or_else(|| kw.and_then(|k| k.get::<Option<Value>>("pattern").ok().flatten()))
            .ok_or_else(|| err(format!("re.{method}() missing required argument `pattern`")))?;
        let rest = positional.get(1..).unwrap_or_default();
        let flags = int_arg(rest, kw, flags_at, "flags")?;
        let pattern = pattern_of(&first, flags)?;
        if method == "compile" {
            return Ok(Value::from_dyn_object(pattern));
        }
        let rest: Vec<Value> = rest.iter().take(flags_at).cloned().collect();
        call(&pattern, method, &rest, kw)
    }
}

/// Python's `re.escape`: every character that has a meaning in a pattern,
/// and whitespace, gets a backslash.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str) -> String {
        let mut env = minijinja::Environment::new();
        env.add_global("re", Value::from_object(ReModule));
        env.render_str(src, ()).expect("renders")
    }

    #[test]
    fn reads_python_syntax() {
        // A `{` that starts no repetition is a literal; verbose mode keeps
        // spaces inside classes and drops comments.
        let verbose = "(?ix)\n  # a comment\n  (from|join)\\s+\n  ({{\\s*ref\\(['\"]?)  # the ref\n  ([\\w ]+)\n";
        assert_eq!(
            render(&format!(
                "{{% set p = {verbose:?} %}}{{{{ re.findall(p, \"select * FROM {{{{ ref('a b') }}}}\") }}}}"
            )),
            "[[\"FROM\", \"{{ ref('\", \"a b\"]]"
        );
        assert_eq!(render("{{ re.sub('a{2}', '-', 'aaab{x}') }}"), "-ab{x}");
        assert_eq!(
            render("{{ re.match('^(?!.*--)[-imsU]*(?<!-)$', 'im-s') is not none }}"),
            "True"
        );
        assert_eq!(
            render("{{ re.match('^(?!.*--)[-imsU]*(?<!-)$', 'im-') is none }}"),
            "True"
        );
        assert_eq!(render("{{ re.search('x$', 'ax\\n') is not none }}"), "True");
    }

    #[test]
    fn returns_python_results() {
        assert_eq!(render("{{ re.findall('a(b)?', 'ab a') }}"), "[\"b\", \"\"]");
        assert_eq!(
            render("{{ re.findall('[0-9]+', 'a1b22') }}"),
            "[\"1\", \"22\"]"
        );
        assert_eq!(
            render("{{ re.sub('(?P<w>[a-z]+)-(\\\\d)', '\\\\2_\\\\g<w>', 'ab-1 cd-2', 1) }}"),
            "1_ab cd-2"
        );
        assert_eq!(
            render(
                "{% set m = re.search('(é)(x)?', 'aéb') %}{{ m.start() }} {{ m.group(1) }} {{ m.groups() }} {{ m.span() }}"
            ),
            "1 é [\"é\", None] [1, 2]"
        );
        assert_eq!(render("{{ re.match('x*', 'abc') is not none }}"), "True");
        assert_eq!(render("{{ re.match('b', 'abc') }}"), "None");
        assert_eq!(
            render(
                "{{ re.compile('B', re.I).sub('-', 'abc') }} {{ re.sub('b', '-', 'aBc', flags=re.IGNORECASE) }}"
            ),
            "a-c a-c"
        );
        assert_eq!(
            render("{{ re.split('(,)', 'a,b') }}"),
            "[\"a\", \",\", \"b\"]"
        );
        assert_eq!(render("{{ re.escape('a.b c') }}"), "a\\.b\\ c");
    }

    #[test]
    fn rejects_bad_patterns() {
        let env = minijinja::Environment::new();
        let mut env = env;
        env.add_global("re", Value::from_object(ReModule));
        let e = env
            .render_str("{{ re.search('(a', 'a') }}", ())
            .expect_err("unbalanced");
        assert!(
            e.to_string().contains("invalid regular expression `(a`"),
            "{e}"
        );
    }
}
