//! Version specifiers and ranges with dbt-core's semantics
//! (`dbt_common.semver`): `>=1.0.0`, `<2.0.0`, `1.2.3`, prereleases with or
//! without a dash (`1.0.0-rc1`, `1.0.0rc1`). Ranges of several requirers
//! are reduced to one by intersecting their bounds; the highest available
//! version inside the range wins.
//!
//! The comparison deliberately keeps dbt's quirks (a stable upper bound
//! excludes prereleases of the same version, bounds of equal versions are
//! ordered by their matchers) so that the same `packages.yml` resolves to
//! the same versions in both tools.

use std::cmp::Ordering;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Matcher {
    Gt,
    Ge,
    Lt,
    Le,
    Exact,
}

impl Matcher {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Exact => "=",
        }
    }
}

/// One `[matcher]major.minor.patch[-prerelease][+build]`.
#[derive(Clone, Debug)]
pub struct Spec {
    pub matcher: Matcher,
    major: u64,
    minor: u64,
    patch: u64,
    pub prerelease: Option<String>,
    build: Option<String>,
}

static VERSION: LazyLock<Regex> = LazyLock::new(|| {
    let alnum = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)";
    Regex::new(&format!(
        r"^(>=|>|<=|<|=)?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-?({alnum}(?:\.{alnum})*))?(?:\+([0-9A-Za-z-]*(?:\.[0-9A-Za-z-]*)*))?$"
    ))
    .expect("version regex")
});

/// A text that is not a semantic version (dbt's `SemverError`).
#[derive(Debug, Clone)]
pub struct NotAVersion(pub String);

impl fmt::Display for NotAVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a valid semantic version", self.0)
    }
}

impl Spec {
    pub fn parse(text: &str) -> Result<Self, NotAVersion> {
        let c = VERSION
            .captures(text)
            .ok_or_else(|| NotAVersion(text.to_owned()))?;
        let num = |i: usize| -> Result<u64, NotAVersion> {
            c.get(i)
                .map_or("0", |m| m.as_str())
                .parse()
                .map_err(|_| NotAVersion(text.to_owned()))
        };
        let matcher = match c.get(1).map(|m| m.as_str()) {
            Some(">") => Matcher::Gt,
            Some(">=") => Matcher::Ge,
            Some("<") => Matcher::Lt,
            Some("<=") => Matcher::Le,
            _ => Matcher::Exact,
        };
        Ok(Self {
            matcher,
            major: num(2)?,
            minor: num(3)?,
            patch: num(4)?,
            prerelease: c.get(5).map(|m| m.as_str().to_owned()),
            build: c.get(6).map(|m| m.as_str().to_owned()),
        })
    }

    const fn is_lower_bound(&self) -> bool {
        matches!(self.matcher, Matcher::Gt | Matcher::Ge)
    }

    const fn is_upper_bound(&self) -> bool {
        matches!(self.matcher, Matcher::Lt | Matcher::Le)
    }

    const fn is_exact(&self) -> bool {
        matches!(self.matcher, Matcher::Exact)
    }

    /// dbt's `VersionSpecifier.compare`: -1, 0 or 1.
    fn compare(&self, other: &Self) -> i32 {
        for (a, b) in [
            (self.major, other.major),
            (self.minor, other.minor),
            (self.patch, other.patch),
        ] {
            match a.cmp(&b) {
                Ordering::Greater => return 1,
                Ordering::Less => return -1,
                Ordering::Equal => {}
            }
        }
        match (&self.prerelease, &other.prerelease) {
            (None, None) => {}
            // A stable upper bound keeps out the prereleases of its version.
            (None, Some(_)) => return if self.matcher == Matcher::Lt { -1 } else { 1 },
            (Some(_), None) => return -1,
            (Some(a), Some(b)) => {
                let c = prerelease_cmp(a, b);
                if c != 0 {
                    return c;
                }
            }
        }
        let (m, o) = (self.matcher, other.matcher);
        if (m == Matcher::Ge && o == Matcher::Le) || (m == Matcher::Le && o == Matcher::Ge) {
            return 0;
        }
        if (m == Matcher::Lt && o == Matcher::Le)
            || (o == Matcher::Gt && m == Matcher::Ge)
            || (self.is_upper_bound() && other.is_lower_bound())
        {
            return -1;
        }
        if (o == Matcher::Lt && m == Matcher::Le)
            || (m == Matcher::Gt && o == Matcher::Ge)
            || (self.is_lower_bound() && other.is_upper_bound())
        {
            return 1;
        }
        0
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}.{}.{}",
            self.matcher.as_str(),
            self.major,
            self.minor,
            self.patch
        )?;
        if let Some(p) = &self.prerelease {
            write!(f, "-{p}")?;
        }
        if let Some(b) = &self.build {
            write!(f, "+{b}")?;
        }
        Ok(())
    }
}

/// Compares dot-separated prerelease tags: numbers numerically and before
/// words, words by text, a shorter tag first when one is a prefix.
fn prerelease_cmp(a: &str, b: &str) -> i32 {
    let part = |s: &str| -> Result<u64, String> {
        if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().map_err(|_| s.to_owned())
        } else {
            Err(s.to_owned())
        }
    };
    for (x, y) in a.split('.').zip(b.split('.')) {
        let c = match (part(x), part(y)) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(s), Err(t)) => s.cmp(&t),
        };
        match c {
            Ordering::Less => return -1,
            Ordering::Greater => return 1,
            Ordering::Equal => {}
        }
    }
    // As dbt does: the lengths of the whole tags decide a tie.
    match a.len().cmp(&b.len()) {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

/// A version range; `None` is unbounded.
#[derive(Clone, Debug)]
pub struct Range {
    pub start: Option<Spec>,
    pub end: Option<Spec>,
}

/// Two requirements have no version in common.
#[derive(Debug)]
pub struct Incompatible;

fn combine_exact(a: &Spec, b: &Spec) -> Result<Spec, Incompatible> {
    if a.compare(b) == 0 {
        Ok(a.clone())
    } else {
        Err(Incompatible)
    }
}

fn lower_with_exact(lower: &Spec, exact: &Spec) -> Result<Spec, Incompatible> {
    let c = lower.compare(exact);
    if c < 0 || (c == 0 && lower.matcher == Matcher::Ge) {
        Ok(exact.clone())
    } else {
        Err(Incompatible)
    }
}

fn upper_with_exact(upper: &Spec, exact: &Spec) -> Result<Spec, Incompatible> {
    let c = upper.compare(exact);
    if c > 0 || (c == 0 && upper.matcher == Matcher::Le) {
        Ok(exact.clone())
    } else {
        Err(Incompatible)
    }
}

fn combine_lower(a: Option<&Spec>, b: Option<&Spec>) -> Result<Option<Spec>, Incompatible> {
    let (a, b) = match (a, b) {
        (a, None) => return Ok(a.cloned()),
        (None, b) => return Ok(b.cloned()),
        (Some(a), Some(b)) => (a, b),
    };
    Ok(Some(if !(a.is_exact() || b.is_exact()) {
        if a.compare(b) < 0 {
            b.clone()
        } else {
            a.clone()
        }
    } else if a.is_exact() {
        lower_with_exact(b, a)?
    } else {
        lower_with_exact(a, b)?
    }))
}

fn combine_upper(a: Option<&Spec>, b: Option<&Spec>) -> Result<Option<Spec>, Incompatible> {
    let (a, b) = match (a, b) {
        (a, None) => return Ok(a.cloned()),
        (None, b) => return Ok(b.cloned()),
        (Some(a), Some(b)) => (a, b),
    };
    Ok(Some(if !(a.is_exact() || b.is_exact()) {
        if a.compare(b) > 0 {
            b.clone()
        } else {
            a.clone()
        }
    } else if a.is_exact() {
        upper_with_exact(b, a)?
    } else {
        upper_with_exact(a, b)?
    }))
}

impl Range {
    pub const ANY: Self = Self {
        start: None,
        end: None,
    };

    fn reduce(&self, other: &Self) -> Result<Self, Incompatible> {
        let (start, end) = match (&self.start, &other.start) {
            (Some(a), Some(b)) if a.is_exact() && b.is_exact() => {
                let s = combine_exact(a, b)?;
                (Some(s.clone()), Some(s))
            }
            _ => (
                combine_lower(self.start.as_ref(), other.start.as_ref())?,
                combine_upper(self.end.as_ref(), other.end.as_ref())?,
            ),
        };
        if let (Some(s), Some(e)) = (&start, &end)
            && s.compare(e) > 0
        {
            return Err(Incompatible);
        }
        Ok(Self { start, end })
    }

    /// Whether an exact version lies in the range (dbt's
    /// `versions_compatible(version, start, end)`).
    pub fn contains(&self, version: &Spec) -> bool {
        let specs: Vec<Spec> = [Some(version), self.start.as_ref(), self.end.as_ref()]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        specs.len() == 1 || reduce(&specs).is_ok()
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.start, &self.end) {
            (None, None) => f.write_str("ANY"),
            (Some(s), None) | (None, Some(s)) => write!(f, "{s}"),
            (Some(s), Some(e)) => write!(f, "{s}, {e}"),
        }
    }
}

fn range_of(s: &Spec) -> Range {
    match s.matcher {
        Matcher::Exact => Range {
            start: Some(s.clone()),
            end: Some(s.clone()),
        },
        Matcher::Gt | Matcher::Ge => Range {
            start: Some(s.clone()),
            end: None,
        },
        Matcher::Lt | Matcher::Le => Range {
            start: None,
            end: Some(s.clone()),
        },
    }
}

/// Intersects specifiers as dbt's `reduce_versions` does (the last one
/// first, then the others in order).
pub fn reduce(specs: &[Spec]) -> Result<Range, Incompatible> {
    let Some((last, rest)) = specs.split_last() else {
        return Ok(Range::ANY);
    };
    let mut range = range_of(last);
    for s in rest {
        range = range.reduce(&range_of(s))?;
    }
    Ok(range)
}

/// Sorts versions in ascending order, leaving out prereleases unless
/// `prerelease` (dbt's `filter_installable`). Texts that are not versions
/// are left out.
pub fn installable(versions: &[String], prerelease: bool) -> Vec<String> {
    let mut out: Vec<(Spec, &String)> = versions
        .iter()
        .filter_map(|v| Spec::parse(v).ok().map(|s| (s, v)))
        .filter(|(s, _)| prerelease || s.prerelease.is_none())
        .collect();
    out.sort_by(|a, b| a.0.compare(&b.0).cmp(&0));
    out.into_iter().map(|(_, v)| v.clone()).collect()
}

/// The highest of `available` inside `range`.
pub fn best_match(range: &Range, available: &[String]) -> Option<String> {
    let mut best: Option<(Spec, &String)> = None;
    for v in available {
        let Ok(s) = Spec::parse(v) else { continue };
        if range.contains(&s) && best.as_ref().is_none_or(|(b, _)| b.compare(&s) < 0) {
            best = Some((s, v));
        }
    }
    best.map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(v: &[&str]) -> Vec<Spec> {
        v.iter().map(|s| Spec::parse(s).unwrap()).collect()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_dbt_version_texts() {
        assert_eq!(Spec::parse(">=1.0.0").unwrap().to_string(), ">=1.0.0");
        assert_eq!(Spec::parse("1.0.0rc1").unwrap().to_string(), "=1.0.0-rc1");
        assert_eq!(Spec::parse("<2.0.0").unwrap().matcher, Matcher::Lt);
        assert!(Spec::parse("1.0").is_err());
        assert!(Spec::parse(">= 1.0.0").is_err());
        assert!(Spec::parse("01.0.0").is_err());
    }

    #[test]
    fn ranges_intersect_and_pick_the_highest_version() {
        let r = reduce(&specs(&[">=1.0.0", "<2.0.0", ">=1.2.0"])).unwrap();
        assert_eq!(r.to_string(), ">=1.2.0, <2.0.0");
        let avail = strings(&["0.9.0", "1.1.0", "1.2.0", "1.5.3", "2.0.0"]);
        assert_eq!(best_match(&r, &avail).as_deref(), Some("1.5.3"));
        let exact = reduce(&specs(&["1.1.0"])).unwrap();
        assert_eq!(best_match(&exact, &avail).as_deref(), Some("1.1.0"));
    }

    #[test]
    fn disjoint_ranges_are_incompatible() {
        assert!(reduce(&specs(&[">=2.0.0", "<1.5.0"])).is_err());
        assert!(reduce(&specs(&["1.0.0", "1.1.0"])).is_err());
        assert!(reduce(&specs(&["1.0.0", "<1.0.0"])).is_err());
        assert!(reduce(&specs(&["1.0.0", "<=1.0.0", ">=1.0.0"])).is_ok());
    }

    #[test]
    fn prereleases_only_when_asked_for() {
        let avail = strings(&["1.0.0", "1.1.0-b1", "1.1.0rc2", "0.9.0"]);
        assert_eq!(installable(&avail, false), strings(&["0.9.0", "1.0.0"]));
        assert_eq!(
            installable(&avail, true),
            strings(&["0.9.0", "1.0.0", "1.1.0-b1", "1.1.0rc2"])
        );
        // A stable upper bound keeps out the prereleases of that version.
        let r = reduce(&specs(&["<1.1.0"])).unwrap();
        assert_eq!(
            best_match(&r, &installable(&avail, true)).as_deref(),
            Some("1.0.0")
        );
    }
}
