//! Package declarations: `packages.yml`, `dependencies.yml` and
//! `package-lock.yml` entries, read with their locations, their Jinja
//! rendered as dbt renders them (`env_var()`, `var()` from `--vars`, and a
//! lone `{{ ... }}` read back as a Python literal), and validated as dbt's
//! package contracts validate them.

use std::path::Path;

use serde_json::{Map, Value};

use crate::diagnostics::{Diag, SourceText};
use crate::yaml::{self, Yaml, YamlKind};

/// What an entry installs.
#[derive(Clone, Debug)]
pub enum Kind {
    /// A folder, relative to the root project.
    Local {
        path: String,
    },
    Git {
        url: String,
        /// The URL as written (what the lock file records, so that a
        /// token from `env_var()` is not written to disk).
        url_unrendered: String,
        revision: Option<String>,
        warn_unpinned: bool,
        subdirectory: Option<String>,
    },
    Hub {
        package: String,
        versions: Vec<String>,
        install_prerelease: bool,
    },
    Tarball {
        url: String,
        url_unrendered: String,
    },
}

impl Kind {
    pub const fn source_type(&self) -> &'static str {
        match self {
            Self::Local { .. } => "local",
            Self::Git { .. } => "git",
            Self::Hub { .. } => "hub",
            Self::Tarball { .. } => "tarball",
        }
    }
}

/// Where an entry was written.
#[derive(Clone, Debug)]
pub struct At {
    pub source: SourceText,
    pub offset: usize,
    pub len: usize,
    /// Locations of the entry's values by key.
    values: Vec<(String, usize, usize)>,
}

impl At {
    /// A diagnostic pointing at `key`'s value (or the entry).
    pub fn diag(&self, d: Diag, key: &str, label: &str) -> Diag {
        let (off, len) = self
            .values
            .iter()
            .find(|(k, _, _)| k == key)
            .map_or((self.offset, self.len), |(_, o, l)| (*o, *l));
        d.with_source(self.source.clone())
            .with_label(off, len.max(1), label)
    }
}

/// One declared package.
#[derive(Clone, Debug)]
pub struct Spec {
    pub kind: Kind,
    /// `name:` (tarballs and lock entries).
    pub name: Option<String>,
    /// The entry as dbt's contract serializes it (rendered values, defaults,
    /// and the entry as written under `unrendered`): what `sha1_hash` hashes.
    pub contract: Value,
    pub at: Option<At>,
    /// Who asked for it, for messages: "the root project" or a package.
    pub requirer: String,
}

impl Spec {
    /// A diagnostic at `key` of this entry, when it was read from a file.
    pub fn diag(&self, d: Diag, key: &str, label: &str) -> Diag {
        match &self.at {
            Some(at) => at.diag(d, key, label),
            None => d,
        }
    }
}

/// The packages a project declares.
pub struct Declared {
    pub specs: Vec<Spec>,
}

/// Renders Jinja in a string from a packages file.
pub type Render<'a> = &'a dyn Fn(&str) -> Result<String, String>;

fn read_yaml(path: &Path, shown: &str) -> Result<Option<(SourceText, Yaml)>, Diag> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Diag::error("XF0602", format!("cannot read `{shown}`: {e}"))),
    };
    let source = SourceText::new(shown, text.as_str());
    let doc = yaml::parse(&text).map_err(|e| {
        Diag::error(
            "XF0102",
            format!("invalid YAML in `{shown}`: {}", e.message),
        )
        .with_source(source.clone())
        .with_label(e.offset, 1, "here")
    })?;
    Ok(Some((source, doc)))
}

/// Reads the packages a project in `dir` declares, as dbt does: from
/// `dependencies.yml` when it has `packages:`, else from `packages.yml`;
/// both declaring packages is an error. `prefix` is put before file names
/// in messages (the package's folder, for packages of packages).
pub fn read_declared(
    dir: &Path,
    prefix: &str,
    render: Render<'_>,
    requirer: &str,
) -> Result<Declared, Diag> {
    let shown = |f: &str| {
        if prefix.is_empty() {
            f.to_owned()
        } else {
            format!("{prefix}/{f}")
        }
    };
    let packages = read_yaml(&dir.join("packages.yml"), &shown("packages.yml"))?;
    let dependencies = read_yaml(&dir.join("dependencies.yml"), &shown("dependencies.yml"))?;
    let has = |f: &Option<(SourceText, Yaml)>, key: &str| {
        f.as_ref()
            .and_then(|(s, y)| y.get(key).map(|v| (s.clone(), v.clone())))
    };
    if let (Some(_), Some((src, list))) =
        (has(&packages, "packages"), has(&dependencies, "packages"))
    {
        return Err(Diag::error(
            "XF0601",
            "packages are declared in both `packages.yml` and `dependencies.yml`",
        )
        .with_source(src)
        .with_label(list.offset, list.len.max(1), "also declared here")
        .with_help("keep the `packages:` list in one of the two files"));
    }
    if let Some((src, v)) = has(&packages, "projects") {
        return Err(
            Diag::error("XF0602", "`projects:` cannot be declared in `packages.yml`")
                .with_source(src)
                .with_label(v.offset, 8, "only `dependencies.yml` may list projects")
                .with_help("move `projects:` to `dependencies.yml`"),
        );
    }
    if let Some((source, list)) = has(&dependencies, "packages") {
        let specs = read_list(&source, &list, render, requirer, false)?;
        return Ok(Declared { specs });
    }
    let Some((source, doc)) = packages else {
        return Ok(Declared { specs: Vec::new() });
    };
    if doc.is_null() {
        return Ok(Declared { specs: Vec::new() });
    }
    let Some(map) = doc.as_map() else {
        return Err(Diag::error(
            "XF0602",
            format!(
                "`{}` must be a mapping with a `packages:` list, found {}",
                source.name,
                doc.type_name()
            ),
        )
        .with_source(source.clone())
        .with_label(doc.offset, doc.len.max(1), ""));
    };
    for (k, _) in map {
        if k.key_str().as_deref() != Some("packages") {
            return Err(Diag::error(
                "XF0602",
                format!(
                    "unknown key `{}` in `{}`",
                    k.key_str().unwrap_or_default(),
                    source.name
                ),
            )
            .with_source(source.clone())
            .with_label(k.offset, k.len.max(1), "only `packages:` is allowed here"));
        }
    }
    let list = doc.get("packages").cloned().unwrap_or_else(Yaml::null);
    let specs = read_list(&source, &list, render, requirer, false)?;
    Ok(Declared { specs })
}

/// A lock file: its entries and `sha1_hash`.
pub struct Lock {
    pub specs: Vec<Spec>,
    pub sha1_hash: Option<String>,
}

/// Reads `package-lock.yml`; `None` when there is none.
pub fn read_lock(path: &Path, render: Render<'_>) -> Result<Option<Lock>, Diag> {
    let Some((source, doc)) = read_yaml(path, "package-lock.yml")? else {
        return Ok(None);
    };
    if doc.is_null() {
        return Ok(Some(Lock {
            specs: Vec::new(),
            sha1_hash: None,
        }));
    }
    if doc.as_map().is_none() {
        return Err(Diag::error(
            "XF0631",
            format!(
                "`package-lock.yml` must be a mapping with `packages:` and `sha1_hash:`, found {}",
                doc.type_name()
            ),
        )
        .with_source(source)
        .with_help("delete it and run `xform deps` to write a new one"));
    }
    let list = doc.get("packages").cloned().unwrap_or_else(Yaml::null);
    let specs = read_list(&source, &list, render, "the lock file", true)?;
    let sha1_hash = doc
        .get("sha1_hash")
        .and_then(|h| h.to_json().as_str().map(str::to_owned));
    Ok(Some(Lock { specs, sha1_hash }))
}

/// Reads a `packages:` list.
pub fn read_list(
    source: &SourceText,
    list: &Yaml,
    render: Render<'_>,
    requirer: &str,
    lock: bool,
) -> Result<Vec<Spec>, Diag> {
    if list.is_null() {
        return Ok(Vec::new());
    }
    let Some(items) = list.as_seq() else {
        return Err(Diag::error(
            "XF0602",
            format!("`packages:` must be a list, found {}", list.type_name()),
        )
        .with_source(source.clone())
        .with_label(list.offset, list.len.max(1), "expected a list of packages"));
    };
    items
        .iter()
        .map(|item| read_entry(source, item, render, requirer, lock))
        .collect()
}

/// The keys each kind of entry allows (dbt's package contracts).
const KINDS: &[(&str, &[&str])] = &[
    ("local", &["local", "name"]),
    ("tarball", &["tarball", "name"]),
    (
        "git",
        &["git", "revision", "warn-unpinned", "subdirectory", "name"],
    ),
    (
        "package",
        &["package", "version", "install_prerelease", "name"],
    ),
    (
        "private",
        &[
            "private",
            "provider",
            "revision",
            "warn-unpinned",
            "subdirectory",
            "name",
        ],
    ),
];

fn malformed(at: &At, key: &str, msg: String, label: &str) -> Diag {
    at.diag(Diag::error("XF0602", msg), key, label)
}

fn read_entry(
    source: &SourceText,
    item: &Yaml,
    render: Render<'_>,
    requirer: &str,
    lock: bool,
) -> Result<Spec, Diag> {
    let Some(map) = item.as_map() else {
        return Err(Diag::error(
            "XF0602",
            format!(
                "a package entry must be a mapping, found {}",
                item.type_name()
            ),
        )
        .with_source(source.clone())
        .with_label(item.offset, item.len.max(1), "")
        .with_help(
            "e.g. `- package: dbt-labs/dbt_utils` with `version: [\">=1.0.0\", \"<2.0.0\"]`",
        ));
    };
    let mut at = At {
        source: source.clone(),
        offset: item.offset,
        len: map.first().map_or(1, |(k, _)| k.len.max(1)),
        values: Vec::new(),
    };
    let mut raw = Map::new();
    let mut rendered = Map::new();
    for (k, v) in map {
        let Some(key) = k.key_str() else { continue };
        at.values.push((format!("key:{key}"), k.offset, k.len));
        at.values.push((key.clone(), v.offset, v.len));
        raw.insert(key.clone(), v.to_json());
        let value = render_native(v, render).map_err(|msg| {
            at.diag(
                Diag::error(
                    "XF0603",
                    format!("cannot render `{key}` of a package entry: {msg}"),
                ),
                &key,
                "",
            )
        })?;
        rendered.insert(key, value);
    }
    let Some((kind_key, allowed)) = KINDS.iter().find(|(k, _)| raw.contains_key(*k)) else {
        return Err(at.diag(
            Diag::error(
                "XF0602",
                "a package entry needs one of `package:`, `git:`, `local:` or `tarball:`",
            ),
            "",
            "not a package",
        ));
    };
    for key in raw.keys() {
        if !allowed.contains(&key.as_str()) {
            let mut d = at.diag(
                Diag::error(
                    "XF0602",
                    format!("unknown key `{key}` in a `{kind_key}:` package entry"),
                ),
                &format!("key:{key}"),
                "not allowed here",
            );
            if let Some(c) = crate::diagnostics::closest(key, allowed.iter().copied()) {
                d = d.with_help(format!("did you mean `{c}`?"));
            }
            return Err(d);
        }
    }
    let text = |key: &str, required: bool| -> Result<Option<String>, Diag> {
        match rendered.get(key) {
            None | Some(Value::Null) if !required => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(Value::String(_) | Value::Null) | None => Err(malformed(
                &at,
                key,
                format!("`{key}:` of a package entry is empty"),
                "a value is required",
            )),
            Some(other) => Err(malformed(
                &at,
                key,
                format!("`{key}:` must be text, found `{other}`"),
                "",
            )),
        }
    };
    let flag = |key: &str| -> Result<Option<bool>, Diag> {
        match rendered.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(malformed(
                &at,
                key,
                format!("`{key}:` must be true or false, found `{other}`"),
                "",
            )),
        }
    };
    let name = text("name", false)?;
    let unrendered = Value::Object(raw.clone());
    let mut contract = Map::new();
    if let Some(n) = &name {
        contract.insert("name".into(), Value::from(n.clone()));
    }
    contract.insert("unrendered".into(), unrendered);
    let kind = match *kind_key {
        "local" => {
            let path = text("local", true)?.unwrap_or_default();
            contract.insert("local".into(), Value::from(path.clone()));
            Kind::Local { path }
        }
        "tarball" => {
            let url = text("tarball", true)?.unwrap_or_default();
            if name.is_none() {
                return Err(malformed(
                    &at,
                    "tarball",
                    "a `tarball:` package entry needs a `name:`".into(),
                    "add `name:` beside this",
                ));
            }
            contract.insert("tarball".into(), Value::from(url.clone()));
            Kind::Tarball {
                url_unrendered: raw
                    .get("tarball")
                    .and_then(Value::as_str)
                    .map_or_else(|| url.clone(), str::to_owned),
                url,
            }
        }
        "git" => {
            let url = text("git", true)?.unwrap_or_default();
            let revision = match rendered.get("revision") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(number_text(n)),
                Some(other) => {
                    return Err(malformed(
                        &at,
                        "revision",
                        format!("`revision:` must be a branch, tag or commit, found `{other}`"),
                        "",
                    ));
                }
            };
            let warn = flag("warn-unpinned")?;
            let subdirectory = text("subdirectory", false)?;
            for (k, v) in [
                ("git", Value::from(url.clone())),
                (
                    "revision",
                    rendered.get("revision").cloned().unwrap_or(Value::Null),
                ),
                ("warn-unpinned", warn.map_or(Value::Null, Value::Bool)),
                (
                    "subdirectory",
                    subdirectory.clone().map_or(Value::Null, Value::from),
                ),
            ] {
                contract.insert(k.into(), v);
            }
            Kind::Git {
                url_unrendered: raw
                    .get("git")
                    .and_then(Value::as_str)
                    .map_or_else(|| url.clone(), str::to_owned),
                url,
                revision,
                warn_unpinned: warn != Some(false),
                subdirectory,
            }
        }
        "package" => {
            let package = text("package", true)?.unwrap_or_default();
            if !package.contains('/') {
                return Err(malformed(
                    &at,
                    "package",
                    format!("`{package}` is not a hub package name: hub packages have a namespace"),
                    "expected `<org>/<name>`",
                )
                .with_help("e.g. `package: dbt-labs/dbt_utils`"));
            }
            let version = rendered.get("version").cloned().unwrap_or(Value::Null);
            let versions: Vec<String> = match &version {
                Value::String(s) if !s.is_empty() => vec![s.clone()],
                Value::Number(n) => vec![number_text(n)],
                Value::Array(a) if !a.is_empty() => a
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s.clone()),
                        Value::Number(n) => Ok(number_text(n)),
                        other => Err(malformed(
                            &at,
                            "version",
                            format!("a version must be text, found `{other}`"),
                            "",
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                _ => {
                    return Err(malformed(
                        &at,
                        if raw.contains_key("version") {
                            "version"
                        } else {
                            "package"
                        },
                        format!("`{package}` has no `version:`: hub packages need one"),
                        "a version or a list of ranges is required",
                    )
                    .with_help("e.g. `version: [\">=1.0.0\", \"<2.0.0\"]`"));
                }
            };
            for v in &versions {
                if let Err(e) = super::semver::Spec::parse(v) {
                    return Err(malformed(&at, "version", e.to_string(), "").with_help(
                        "write versions as `1.2.3`, or ranges as `>=1.0.0` and `<2.0.0`",
                    ));
                }
            }
            let prerelease = flag("install_prerelease")?;
            contract.insert("package".into(), Value::from(package.clone()));
            contract.insert("version".into(), version);
            contract.insert(
                "install_prerelease".into(),
                match rendered.get("install_prerelease") {
                    Some(Value::Null) => Value::Null,
                    _ => Value::Bool(prerelease.unwrap_or(false)),
                },
            );
            Kind::Hub {
                package,
                versions,
                install_prerelease: prerelease.unwrap_or(false),
            }
        }
        _ => {
            return Err(malformed(
                &at,
                "private",
                "`private:` packages need a git provider integration, which xform does not have"
                    .into(),
                "",
            )
            .with_help("use a `git:` package with the repository's URL instead"));
        }
    };
    if lock && name.is_none() && matches!(kind, Kind::Tarball { .. }) {
        return Err(malformed(
            &at,
            "tarball",
            "lock entry without `name:`".into(),
            "",
        ));
    }
    Ok(Spec {
        kind,
        name,
        contract: Value::Object(contract),
        at: Some(at),
        requirer: requirer.to_owned(),
    })
}

/// Python's `str()` of a YAML number.
fn number_text(n: &serde_json::Number) -> String {
    if n.is_f64() {
        super::pyfmt::py_float(n.as_f64().unwrap_or(0.0))
    } else {
        n.to_string()
    }
}

/// Renders the strings of a value. As dbt's native rendering does, a
/// string that is one `{{ ... }}` and renders to a Python literal (a
/// number, a boolean, a list) becomes that value.
fn render_native(v: &Yaml, render: Render<'_>) -> Result<Value, String> {
    match &v.kind {
        YamlKind::Str(s) => {
            if !s.contains("{{") && !s.contains("{%") {
                return Ok(Value::String(s.clone()));
            }
            let out = render(s)?;
            let t = s.trim();
            let lone = t.starts_with("{{")
                && t.ends_with("}}")
                && t[2..t.len() - 2].find("}}").is_none()
                && t == s;
            if lone && let Some(v) = python_literal(&out) {
                return Ok(v);
            }
            Ok(Value::String(out))
        }
        YamlKind::Seq(items) => items
            .iter()
            .map(|x| render_native(x, render))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        YamlKind::Map(entries) => {
            let mut m = Map::new();
            for (k, x) in entries {
                if let Some(k) = k.key_str() {
                    m.insert(k, render_native(x, render)?);
                }
            }
            Ok(Value::Object(m))
        }
        _ => Ok(v.to_json()),
    }
}

/// `ast.literal_eval` for the literals a packages file can hold: numbers,
/// booleans, `None`, quoted strings and lists of those. Anything else is
/// not a literal and stays text.
fn python_literal(text: &str) -> Option<Value> {
    let mut p = Literal {
        s: text.trim().as_bytes(),
        i: 0,
    };
    let v = p.value()?;
    p.ws();
    (p.i == p.s.len()).then_some(v)
}

struct Literal<'a> {
    s: &'a [u8],
    i: usize,
}

impl Literal<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.ws();
        let rest = &self.s[self.i..];
        match *rest.first()? {
            b'[' | b'(' => {
                let close = if rest[0] == b'[' { b']' } else { b')' };
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.s.get(self.i) == Some(&close) {
                        self.i += 1;
                        return Some(Value::Array(items));
                    }
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(c) if *c == close => {}
                        _ => return None,
                    }
                }
            }
            q @ (b'\'' | b'"') => {
                let end = rest[1..].iter().position(|c| *c == q)? + 1;
                let inner = std::str::from_utf8(&rest[1..end]).ok()?;
                if inner.contains('\\') {
                    return None;
                }
                self.i += end + 1;
                Some(Value::String(inner.to_owned()))
            }
            _ => {
                let len = rest
                    .iter()
                    .position(|c| matches!(c, b',' | b']' | b')') || c.is_ascii_whitespace())
                    .unwrap_or(rest.len());
                let word = std::str::from_utf8(&rest[..len]).ok()?;
                let v = match word {
                    "True" => Value::Bool(true),
                    "False" => Value::Bool(false),
                    "None" => Value::Null,
                    w if w
                        .bytes()
                        .all(|c| c.is_ascii_digit() || c == b'-' || c == b'_')
                        && w.bytes().any(|c| c.is_ascii_digit()) =>
                    {
                        Value::from(w.replace('_', "").parse::<i64>().ok()?)
                    }
                    w if w.bytes().all(|c| {
                        c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E')
                    }) && w.matches('.').count() <= 1 =>
                    {
                        serde_json::Number::from_f64(w.parse::<f64>().ok()?).map(Value::Number)?
                    }
                    _ => return None,
                };
                self.i += len;
                Some(v)
            }
        }
    }
}

/// dbt's `sha1_hash`: SHA-1 of the sorted `json.dumps(contract,
/// sort_keys=True)` lines of the declared packages.
pub fn sha1_hash(specs: &[Spec]) -> String {
    use sha1::Digest;
    let mut lines: Vec<String> = specs
        .iter()
        .map(|s| super::pyfmt::py_json(&s.contract))
        .collect();
    lines.sort();
    let digest = sha1::Sha1::digest(lines.join("\n").as_bytes());
    digest.iter().fold(String::with_capacity(40), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(text: &str) -> Vec<Spec> {
        let src = SourceText::new("packages.yml", text);
        let doc = yaml::parse(text).unwrap();
        let no_jinja = |s: &str| Ok(s.to_owned());
        read_list(&src, doc.get("packages").unwrap(), &no_jinja, "root", false).unwrap()
    }

    #[test]
    fn hash_matches_dbt_core() {
        // `_create_sha1_hash` of dbt-core 1.11 on the same entries.
        let s = specs(
            "packages:\n  - local: ../x\n  - git: https://a/b.git\n    revision: v1\n    subdirectory: s\n    warn-unpinned: false\n  \
             - git: https://a/c.git\n  - package: dbt-labs/dbt_utils\n    version: [\">=1.0.0\", \"<2.0.0\"]\n  \
             - package: a/b\n    version: 1.2.0\n    install_prerelease: true\n  - tarball: http://x\n    name: n\n",
        );
        assert_eq!(sha1_hash(&s), "d7b7e708504a23f2aae1d63053493a8165316013");
    }

    #[test]
    fn lone_expressions_read_back_as_literals() {
        assert_eq!(python_literal("123"), Some(Value::from(123)));
        assert_eq!(python_literal("1.5"), Some(Value::from(1.5)));
        assert_eq!(
            python_literal("['>=1.0.0', \"<2.0.0\"]"),
            Some(serde_json::json!([">=1.0.0", "<2.0.0"]))
        );
        assert_eq!(python_literal("True"), Some(Value::Bool(true)));
        assert_eq!(python_literal("1.2.0"), None);
        assert_eq!(python_literal("main"), None);
    }
}
