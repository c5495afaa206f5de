//! Resolution: from the declared packages to one pinned version of each,
//! following the packages every package declares, as dbt-core does.
//!
//! Requirements of one package are merged by key (a hub package's name, a
//! git URL with or without `.git` plus its subdirectory, a local path):
//! hub ranges intersect, git revisions must agree. After each merge the
//! package is pinned again (the highest hub version in the range, the one
//! git revision) and the packages *that* version declares are read next,
//! until nothing new comes up.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use indexmap::IndexMap;

use super::spec::{At, Kind, Spec};
use super::{Ctx, Pinned, PinnedKind, semver};
use crate::diagnostics::Diag;

/// Who asked for a package and where.
#[derive(Clone, Debug)]
struct Req {
    who: String,
    at: Option<At>,
}

impl Req {
    fn of(spec: &Spec) -> Self {
        Self {
            who: spec.requirer.clone(),
            at: spec.at.clone(),
        }
    }
}

/// A package's merged requirements.
#[derive(Debug)]
enum Unpinned {
    Local {
        path: String,
        req: Req,
    },
    Git {
        url: String,
        url_unrendered: String,
        revisions: Vec<(String, Req)>,
        warn_unpinned: bool,
        subdirectory: Option<String>,
        req: Req,
    },
    Hub {
        package: String,
        /// Each requirer's specifiers.
        ranges: Vec<(Vec<semver::Spec>, Req)>,
        install_prerelease: bool,
        req: Req,
    },
    Tarball {
        url: String,
        url_unrendered: String,
        name: String,
        req: Req,
    },
}

impl Unpinned {
    fn from_spec(spec: &Spec) -> Self {
        let req = Req::of(spec);
        match &spec.kind {
            Kind::Local { path } => Self::Local {
                path: path.clone(),
                req,
            },
            Kind::Git {
                url,
                url_unrendered,
                revision,
                warn_unpinned,
                subdirectory,
            } => Self::Git {
                url: url.clone(),
                url_unrendered: url_unrendered.clone(),
                revisions: revision.iter().map(|r| (r.clone(), req.clone())).collect(),
                warn_unpinned: *warn_unpinned,
                subdirectory: subdirectory.clone(),
                req,
            },
            Kind::Hub {
                package,
                versions,
                install_prerelease,
            } => Self::Hub {
                package: package.clone(),
                ranges: vec![(
                    versions
                        .iter()
                        .filter_map(|v| semver::Spec::parse(v).ok())
                        .collect(),
                    req.clone(),
                )],
                install_prerelease: *install_prerelease,
                req,
            },
            Kind::Tarball {
                url,
                url_unrendered,
            } => Self::Tarball {
                url: url.clone(),
                url_unrendered: url_unrendered.clone(),
                name: spec.name.clone().unwrap_or_default(),
                req,
            },
        }
    }

    /// The keys the package may be listed under (dbt's `all_names`).
    fn names(&self) -> Vec<String> {
        match self {
            Self::Local { path, .. } => vec![path.clone()],
            Self::Git {
                url, subdirectory, ..
            } => {
                let other = url
                    .strip_suffix(".git")
                    .map_or_else(|| format!("{url}.git"), str::to_owned);
                match subdirectory {
                    Some(s) => vec![format!("{url}/{s}"), format!("{other}/{s}")],
                    None => vec![url.clone(), other],
                }
            }
            Self::Hub { package, .. } => vec![package.clone()],
            Self::Tarball { url, .. } => vec![url.clone()],
        }
    }

    const fn type_name(&self) -> &'static str {
        match self {
            Self::Local { .. } => "local",
            Self::Git { .. } => "git",
            Self::Hub { .. } => "hub",
            Self::Tarball { .. } => "tarball",
        }
    }

    const fn req(&self) -> &Req {
        match self {
            Self::Local { req, .. }
            | Self::Git { req, .. }
            | Self::Hub { req, .. }
            | Self::Tarball { req, .. } => req,
        }
    }

    /// Adds another requirement of the same package.
    fn merge(&mut self, other: Self) -> Result<(), Self> {
        match (self, other) {
            (
                Self::Git {
                    revisions,
                    warn_unpinned,
                    ..
                },
                Self::Git {
                    revisions: more,
                    warn_unpinned: w,
                    ..
                },
            ) => {
                revisions.extend(more);
                *warn_unpinned &= w;
                Ok(())
            }
            (Self::Hub { ranges, .. }, Self::Hub { ranges: more, .. }) => {
                ranges.extend(more);
                Ok(())
            }
            (Self::Local { .. }, Self::Local { .. })
            | (Self::Tarball { .. }, Self::Tarball { .. }) => Ok(()),
            (_, other) => Err(other),
        }
    }
}

impl super::ReqAt for Req {
    fn place(&self, d: Diag, key: &str) -> Diag {
        at_req(self, d, key, "")
    }
}

/// A diagnostic at a requirement's entry, or without a place when the
/// requirement came from the hub.
fn at_req(req: &Req, d: Diag, key: &str, label: &str) -> Diag {
    match &req.at {
        Some(at) => at.diag(d, key, label),
        None => d,
    }
}

fn note_req(req: &Req, text: &str, key: &str) -> Diag {
    at_req(
        req,
        Diag::warning("XF0613", format!("{} {text}", req.who)),
        key,
        "",
    )
}

/// Resolves the declared packages to pinned packages, in dbt's order.
pub(super) fn resolve(ctx: &mut Ctx<'_>, declared: &[Spec]) -> Result<Vec<Pinned>, Diag> {
    let mut listing: IndexMap<String, Unpinned> = IndexMap::new();
    // What each key was last pinned to and read: a package whose pin did not
    // change needs no second read (this also ends cycles between packages).
    let mut read: HashSet<(String, String)> = HashSet::new();
    let mut pending: Vec<Spec> = declared.to_vec();
    while !pending.is_empty() {
        let mut next = Vec::new();
        for spec in pending {
            let new = Unpinned::from_spec(&spec);
            let key = new
                .names()
                .into_iter()
                .find(|n| listing.contains_key(n))
                .unwrap_or_else(|| new.names().swap_remove(0));
            match listing.get_mut(&key) {
                Some(existing) => {
                    let existing_type = existing.type_name();
                    let existing_req = existing.req().clone();
                    if let Err(new) = existing.merge(new) {
                        return Err(at_req(
                            new.req(),
                            Diag::error(
                                "XF0630",
                                format!(
                                    "`{key}` is required as a {} package and as a {} package",
                                    new.type_name(),
                                    existing_type
                                ),
                            ),
                            "",
                            "",
                        )
                        .with_related(note_req(&existing_req, "requires it here", ""))
                        .with_help("declare each package once, with one kind of source"));
                    }
                }
                None => {
                    listing.insert(key.clone(), new);
                }
            }
            let unpinned = &listing[&key];
            let mut pinned = pin(ctx, unpinned)?;
            if read.insert((key.clone(), pinned.identity())) {
                let (_, deps) = ctx.metadata(&mut pinned)?;
                next.extend(deps);
            }
        }
        pending = next;
    }
    let mut out = Vec::with_capacity(listing.len());
    for u in listing.values() {
        let mut p = pin(ctx, u)?;
        let (name, _) = ctx.metadata(&mut p)?;
        p.name = Some(name);
        out.push(p);
    }
    check_names(ctx, &out)?;
    Ok(out)
}

fn check_names(ctx: &Ctx<'_>, pinned: &[Pinned]) -> Result<(), Diag> {
    let mut seen: IndexMap<&str, &Pinned> = IndexMap::new();
    for p in pinned {
        let name = p.name.as_deref().unwrap_or_default();
        if name == ctx.root_name {
            return Err(p
                .diag(
                    Diag::error(
                        "XF0630",
                        format!(
                            "package `{}` has the same name as the root project, `{name}`",
                            p.display_name()
                        ),
                    ),
                    "",
                    "installs a project named like this one",
                )
                .with_help("package names must be unique in a project: rename one of them"));
        }
        if let Some(first) = seen.insert(name, p) {
            return Err(p
                .diag(
                    Diag::error(
                        "XF0630",
                        format!(
                            "`{}` and `{}` are both a project named `{name}`",
                            first.display_name(),
                            p.display_name()
                        ),
                    ),
                    "",
                    "",
                )
                .with_help(
                    "two dependencies cannot have the same project name: keep one of them",
                ));
        }
    }
    Ok(())
}

/// Pins one package: its single git revision, its best hub version.
fn pin(ctx: &mut Ctx<'_>, u: &Unpinned) -> Result<Pinned, Diag> {
    let at = u.req().at.clone();
    Ok(match u {
        Unpinned::Local { path, .. } => Pinned {
            name: None,
            kind: PinnedKind::Local { path: path.clone() },
            at,
            latest: None,
        },
        Unpinned::Tarball {
            url,
            url_unrendered,
            name,
            ..
        } => Pinned {
            name: Some(name.clone()),
            kind: PinnedKind::Tarball {
                url: url.clone(),
                url_unrendered: url_unrendered.clone(),
            },
            at,
            latest: None,
        },
        Unpinned::Git {
            url,
            url_unrendered,
            revisions,
            warn_unpinned,
            subdirectory,
            req,
        } => {
            let mut distinct: Vec<&(String, Req)> = Vec::new();
            for r in revisions {
                if !distinct.iter().any(|d| d.0 == r.0) {
                    distinct.push(r);
                }
            }
            if distinct.len() > 1 {
                let (a, b) = (distinct[0], distinct[1]);
                return Err(at_req(
                    &b.1,
                    Diag::error(
                        "XF0622",
                        format!(
                            "git package `{url}` is required at two revisions: `{}` by {} and `{}` by {}",
                            a.0, a.1.who, b.0, b.1.who
                        ),
                    ),
                    "revision",
                    "this revision",
                )
                .with_related(note_req(&a.1, &format!("requires revision `{}`", a.0), "revision"))
                .with_help("a git dependency must be required at exactly one revision"));
            }
            let revision = distinct.first().map(|d| d.0.clone());
            let requested = revision.clone().unwrap_or_else(|| "HEAD".to_owned());
            if *warn_unpinned && matches!(requested.as_str(), "HEAD" | "main" | "master") {
                ctx.warn_unpinned(url, &requested, req);
            }
            Pinned {
                name: None,
                kind: PinnedKind::Git {
                    url: url.clone(),
                    url_unrendered: url_unrendered.clone(),
                    revision: requested,
                    subdirectory: subdirectory.clone(),
                },
                at,
                latest: None,
            }
        }
        Unpinned::Hub {
            package,
            ranges,
            install_prerelease,
            req,
        } => {
            let (version, latest) = pin_hub(ctx, package, ranges, *install_prerelease, req)?;
            Pinned {
                name: None,
                kind: PinnedKind::Hub {
                    package: package.clone(),
                    version,
                },
                at,
                latest: Some(latest),
            }
        }
    })
}

fn show_specs(specs: &[semver::Spec]) -> String {
    specs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn pin_hub(
    ctx: &mut Ctx<'_>,
    package: &str,
    ranges: &[(Vec<semver::Spec>, Req)],
    install_prerelease: bool,
    req: &Req,
) -> Result<(String, String), Diag> {
    let index = ctx
        .hub
        .index()
        .map_err(|e| super::hub_diag(&e, req, "package"))?;
    if !index.iter().any(|p| p == package) {
        let mut d = at_req(
            req,
            Diag::error(
                "XF0611",
                format!(
                    "package `{package}` was not found in the package index of {}",
                    ctx.hub.base()
                ),
            ),
            "package",
            "no such package on the hub",
        );
        if let Some(c) = crate::diagnostics::closest(package, index.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{c}`?"));
        }
        return Err(d);
    }
    // Intersect requirement by requirement, to name the two that disagree.
    let mut all: Vec<semver::Spec> = Vec::new();
    for (i, (specs, r)) in ranges.iter().enumerate() {
        let mut with = all.clone();
        with.extend(specs.iter().cloned());
        if semver::reduce(&with).is_err() {
            let other = ranges[..i]
                .iter()
                .find(|(s, _)| {
                    let mut pair = s.clone();
                    pair.extend(specs.iter().cloned());
                    semver::reduce(&pair).is_err()
                })
                .unwrap_or(&ranges[0]);
            let msg = format!(
                "conflicting versions of `{package}`: {} requires {} and {} requires {}",
                other.1.who,
                show_specs(&other.0),
                r.who,
                show_specs(specs)
            );
            // The label goes where the user can edit: a requirement written
            // in a file rather than one from the hub's metadata.
            let (primary, secondary) = if r.at.is_some() || other.1.at.is_none() {
                ((specs.as_slice(), r), (other.0.as_slice(), &other.1))
            } else {
                ((other.0.as_slice(), &other.1), (specs.as_slice(), r))
            };
            let mut d = at_req(
                primary.1,
                Diag::error("XF0613", msg),
                "version",
                &format!("requires {}", show_specs(primary.0)),
            );
            if secondary.1.at.is_some() {
                d = d.with_related(note_req(
                    secondary.1,
                    &format!("requires {}", show_specs(secondary.0)),
                    "version",
                ));
            }
            return Err(d.with_help("widen one of the ranges so that they overlap"));
        }
        all = with;
    }
    let range = semver::reduce(&all).unwrap_or(semver::Range::ANY);
    let pkg = ctx
        .hub
        .package(package)
        .map_err(|e| super::hub_diag(&e, req, "package"))?;
    let dbt = semver::Spec::parse(crate::artifacts::manifest::DBT_VERSION).ok();
    let compatible: Vec<String> = pkg
        .versions
        .iter()
        .filter(|(_, v)| {
            !ctx.version_check
                || v.requires_dbt.is_empty()
                || dbt.as_ref().is_none_or(|d| {
                    let mut specs = vec![d.clone()];
                    specs.extend(
                        v.requires_dbt
                            .iter()
                            .filter_map(|s| semver::Spec::parse(s).ok()),
                    );
                    semver::reduce(&specs).is_ok()
                })
        })
        .map(|(k, _)| k.clone())
        .collect();
    let prerelease = install_prerelease || all.iter().any(|s| s.prerelease.is_some());
    let installable = semver::installable(&compatible, prerelease);
    let Some(target) = semver::best_match(&range, &installable) else {
        let mut d = at_req(
            req,
            Diag::error(
                "XF0612",
                format!(
                    "no version of `{package}` satisfies {range}; versions on the hub: {}",
                    if installable.is_empty() {
                        "none".to_owned()
                    } else {
                        installable.join(", ")
                    }
                ),
            ),
            "version",
            "no version in this range",
        );
        d = d.with_help(if ctx.version_check && compatible.len() < pkg.versions.len() {
            "versions that require another dbt version are not shown; `--no-version-check` includes them"
                .to_owned()
        } else {
            "change the range, or set `install_prerelease: true` to include prereleases".to_owned()
        });
        return Err(d);
    };
    let latest = installable
        .last()
        .cloned()
        .unwrap_or_else(|| target.clone());
    Ok((target, latest))
}

/// The folder of a local package: relative to the root project (as dbt
/// resolves them, also for packages of packages), `~` expanded, and `..`
/// removed lexically as Python's `os.path.abspath` does.
pub(super) fn local_dir(root: &Path, path: &str) -> PathBuf {
    let expanded = match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => std::env::var_os("HOME")
            .map_or_else(
                || PathBuf::from(path),
                |h| PathBuf::from(h).join(rest.trim_start_matches('/')),
            ),
        _ => PathBuf::from(path),
    };
    let joined = if expanded.is_absolute() {
        expanded
    } else {
        root.join(expanded)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}
