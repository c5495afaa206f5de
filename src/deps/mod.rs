//! `xform deps`: installs the packages a project declares, as dbt-core 1.11
//! installs them.
//!
//! `spec` reads `packages.yml` / `dependencies.yml` / `package-lock.yml`;
//! `resolve` pins every package, following the packages each one declares;
//! the lock file records the pins (`package-lock.yml`, dbt's format and
//! `sha1_hash`); `install` puts each package in the install folder (a
//! symlink for `local:`, a checkout for `git:`, an unpacked tarball for the
//! hub). `hub` talks to the package hub, `git` runs `git`, `semver` is
//! dbt's version arithmetic and `pyfmt` writes JSON and YAML as dbt's
//! Python does, byte for byte.
//!
//! Invariant: nothing in the install folder changes until every package
//! of the command has been fetched into a staging folder beside it; then
//! each is renamed into place, so a failed `deps` leaves the packages that
//! were installed as they were. A package already installed at its locked
//! version (recorded in `.xform-deps.json` in the install folder) is not
//! fetched again, so a second `deps` makes no network call.

mod git;
mod hub;
mod install;
pub mod pyfmt;
mod resolve;
pub mod semver;
pub mod spec;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::diagnostics::{Diag, SourceText};
use spec::{At, Kind, Spec};

/// Where `--add-package` takes a package from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddSource {
    Hub,
    Git,
    Local,
}

pub struct Options {
    pub project_dir: PathBuf,
    pub cli_vars: Map<String, Value>,
    /// Resolve again even when the lock file matches (`--upgrade`).
    pub upgrade: bool,
    /// Only write the lock file (`--lock`).
    pub lock_only: bool,
    /// `--add-package name@version` and `--source`.
    pub add_package: Option<(String, AddSource)>,
    /// Leave out hub versions whose `require_dbt_version` excludes 1.11.
    pub version_check: bool,
}

/// What `deps` has to say while it works.
pub enum Event {
    Info(String),
    Warn(Diag),
}

/// A package pinned to one version.
#[derive(Clone, Debug)]
pub(crate) struct Pinned {
    /// The project name: its folder in the install folder. Known once its
    /// `dbt_project.yml` (or the hub's metadata) has been read.
    pub name: Option<String>,
    pub kind: PinnedKind,
    pub at: Option<At>,
    /// The newest installable hub version, when the hub was asked.
    pub latest: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) enum PinnedKind {
    Local {
        path: String,
    },
    Git {
        url: String,
        url_unrendered: String,
        /// A commit once fetched; what was asked for before.
        revision: String,
        subdirectory: Option<String>,
    },
    Hub {
        package: String,
        version: String,
    },
    Tarball {
        url: String,
        url_unrendered: String,
    },
}

impl Pinned {
    pub fn diag(&self, d: Diag, key: &str, label: &str) -> Diag {
        match &self.at {
            Some(at) => at.diag(d, key, label),
            None => d,
        }
    }

    /// dbt's name of the package in messages.
    pub fn display_name(&self) -> String {
        match &self.kind {
            PinnedKind::Local { path } => path.clone(),
            PinnedKind::Git {
                url, subdirectory, ..
            } => match subdirectory {
                Some(s) => format!("{url}/{s}"),
                None => url.clone(),
            },
            PinnedKind::Hub { package, .. } => package.clone(),
            PinnedKind::Tarball { .. } => self.name.clone().unwrap_or_default(),
        }
    }

    /// dbt's `nice_version_name`.
    fn version_name(&self) -> String {
        match &self.kind {
            PinnedKind::Local { path } => format!("<local @ {path}>"),
            PinnedKind::Git { revision, .. } if revision == "HEAD" => {
                "HEAD (default revision)".to_owned()
            }
            PinnedKind::Git { revision, .. } => format!("revision {revision}"),
            PinnedKind::Hub { version, .. } => format!("version {version}"),
            PinnedKind::Tarball { url, .. } => format!("tarball (url: {url})"),
        }
    }

    /// What identifies the installed files: the same identity installs the
    /// same files.
    fn identity_json(&self, root: &Path) -> Value {
        match &self.kind {
            PinnedKind::Local { path } => {
                json!({"local": resolve::local_dir(root, path).to_string_lossy()})
            }
            PinnedKind::Git {
                url,
                revision,
                subdirectory,
                ..
            } => json!({"git": url, "revision": revision, "subdirectory": subdirectory}),
            PinnedKind::Hub { package, version } => json!({"package": package, "version": version}),
            PinnedKind::Tarball { url, .. } => json!({"tarball": url}),
        }
    }

    pub fn identity(&self) -> String {
        pyfmt::py_json(&self.identity_json(Path::new("")))
    }

    /// The entry dbt writes for it in `package-lock.yml`.
    fn lock_entry(&self) -> Value {
        let mut m = Map::new();
        match &self.kind {
            PinnedKind::Local { path } => {
                m.insert("local".into(), Value::from(path.clone()));
            }
            PinnedKind::Git {
                url_unrendered,
                revision,
                subdirectory,
                ..
            } => {
                m.insert("git".into(), Value::from(url_unrendered.clone()));
                m.insert("revision".into(), Value::from(revision.clone()));
                if let Some(s) = subdirectory {
                    m.insert("subdirectory".into(), Value::from(s.clone()));
                }
            }
            PinnedKind::Hub { package, version } => {
                m.insert("package".into(), Value::from(package.clone()));
                m.insert("version".into(), Value::from(version.clone()));
            }
            PinnedKind::Tarball { url_unrendered, .. } => {
                m.insert("tarball".into(), Value::from(url_unrendered.clone()));
            }
        }
        if let Some(n) = &self.name {
            m.insert("name".into(), Value::from(n.clone()));
        }
        Value::Object(m)
    }
}

/// A folder beside the installed packages where this command downloads,
/// unpacks and stages; removed when the command ends, however it ends.
struct Staging {
    root: PathBuf,
    created: bool,
    seq: usize,
    /// The install folder, when this command creates it (removed again if
    /// nothing was installed, e.g. by `--lock`).
    new_install_dir: Option<PathBuf>,
}

impl Staging {
    fn new(install_dir: &Path) -> Self {
        Self {
            root: install_dir.join(format!(".xform-deps-{}", std::process::id())),
            created: false,
            seq: 0,
            new_install_dir: (!install_dir.exists()).then(|| install_dir.to_path_buf()),
        }
    }

    /// A new, not yet existing path under `sub/`.
    fn fresh(&mut self, sub: &str, name: &str) -> Result<PathBuf, Diag> {
        let dir = self.root.join(sub);
        std::fs::create_dir_all(&dir).map_err(|e| io_diag(&dir, &e))?;
        self.created = true;
        self.seq += 1;
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .take(60)
            .collect();
        Ok(dir.join(format!("{}-{safe}", self.seq)))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.created {
            let _ = std::fs::remove_dir_all(&self.root);
        }
        if let Some(dir) = &self.new_install_dir {
            // Fails, as it should, when anything was installed.
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn io_diag(path: &Path, e: &std::io::Error) -> Diag {
    Diag::error("XF0640", format!("cannot write `{}`: {e}", path.display()))
}

/// What one command knows while it resolves and installs.
pub(crate) struct Ctx<'a> {
    root_dir: PathBuf,
    root_name: String,
    install_dir: PathBuf,
    hub: hub::Hub,
    version_check: bool,
    render: spec::Render<'a>,
    emit: &'a mut dyn FnMut(Event),
    staging: Staging,
    /// Git checkouts made by this command: (url, revision, subdirectory) to
    /// (folder, commit).
    checkouts: HashMap<(String, String, Option<String>), (PathBuf, String)>,
    /// Unpacked tarballs by URL.
    unpacked: HashMap<String, PathBuf>,
    /// Name and declared packages by identity.
    metadata: HashMap<String, (String, Vec<Spec>)>,
    warned: HashSet<String>,
}

impl Ctx<'_> {
    fn info(&mut self, msg: impl Into<String>) {
        (self.emit)(Event::Info(msg.into()));
    }

    fn warn_unpinned(&mut self, url: &str, revision: &str, req: &impl ReqAt) {
        if !self.warned.insert(url.to_owned()) {
            return;
        }
        let how = if revision == "HEAD" {
            "is not pinned, using HEAD (default branch)".to_owned()
        } else {
            format!("is pinned to the `{revision}` branch")
        };
        let d = Diag::warning("XF0624", format!("the git package `{url}` {how}"))
            .with_help("pin a tag or a commit with `revision:`, or set `warn-unpinned: false`; an unpinned package can change under the project without warning");
        let d = req.place(d, "git");
        (self.emit)(Event::Warn(d));
    }

    /// Clones a git package (once per command) and returns its folder (the
    /// subdirectory's when it has one) and commit.
    fn checkout(
        &mut self,
        url: &str,
        revision: &str,
        subdirectory: Option<&str>,
        place: &impl ReqAt,
    ) -> Result<(PathBuf, String), Diag> {
        let key = (
            url.to_owned(),
            revision.to_owned(),
            subdirectory.map(str::to_owned),
        );
        if let Some(hit) = self.checkouts.get(&key) {
            return Ok(hit.clone());
        }
        let dest = self
            .staging
            .fresh("downloads", url.rsplit('/').next().unwrap_or("git"))?;
        let rev = (revision != "HEAD").then_some(revision);
        let sha = git::fetch(url, rev, subdirectory, &dest).map_err(|e| {
            let d = match e {
                git::GitError::NotInstalled(why) => Diag::error(
                    "XF0623",
                    format!("cannot run `git` to fetch `{url}`: {why}"),
                )
                .with_help("install git: git packages are cloned with the `git` command"),
                git::GitError::Clone(msg) => Diag::error(
                    "XF0620",
                    format!("cannot clone git package `{url}`:\n{msg}"),
                )
                .with_help("check the URL and that this machine can read the repository"),
                git::GitError::Revision(msg) => Diag::error(
                    "XF0621",
                    format!("git package `{url}` has no revision `{revision}`:\n{msg}"),
                )
                .with_help("`revision:` must be a branch, a tag or a full 40-character commit of the repository"),
                git::GitError::Subdirectory => Diag::error(
                    "XF0621",
                    format!(
                        "git package `{url}` has no folder `{}` at revision `{revision}`",
                        subdirectory.unwrap_or_default()
                    ),
                ),
            };
            let key = if d.code != "XF0621" {
                "git"
            } else if d.message.contains("no folder") {
                "subdirectory"
            } else {
                "revision"
            };
            place.place(d, key)
        })?;
        let dir = match subdirectory {
            Some(s) => dest.join(s),
            None => dest,
        };
        let hit = (dir, sha.clone());
        self.checkouts.insert(key, hit.clone());
        self.checkouts.insert(
            (url.to_owned(), sha, subdirectory.map(str::to_owned)),
            hit.clone(),
        );
        Ok(hit)
    }

    /// Downloads and unpacks a tarball (once per command); returns the
    /// package's folder in it.
    fn unpack(&mut self, url: &str, place: &impl ReqAt, key: &str) -> Result<PathBuf, Diag> {
        if let Some(d) = self.unpacked.get(url) {
            return Ok(d.clone());
        }
        let file = self.staging.fresh("downloads", "package.tar.gz")?;
        self.hub
            .download(url, &file)
            .map_err(|e| hub_diag(&e, place, key))?;
        let out = self.staging.fresh("downloads", "unpacked")?;
        let dir = install::untar(&file, &out).map_err(|e| {
            place.place(
                Diag::error("XF0615", format!("cannot unpack the tarball of {url}: {e}"))
                    .with_help(
                        "a package tarball is a .tar.gz with the project in one top-level folder",
                    ),
                key,
            )
        })?;
        self.unpacked.insert(url.to_owned(), dir.clone());
        Ok(dir)
    }

    /// A package's project name and the packages it declares.
    fn metadata(&mut self, p: &mut Pinned) -> Result<(String, Vec<Spec>), Diag> {
        let identity = p.identity();
        if let Some(m) = self.metadata.get(&identity) {
            let m = m.clone();
            if let PinnedKind::Git {
                url,
                revision,
                subdirectory,
                ..
            } = &mut p.kind
                && let Some((_, sha)) =
                    self.checkouts
                        .get(&(url.clone(), revision.clone(), subdirectory.clone()))
            {
                revision.clone_from(sha);
            }
            return Ok(m);
        }
        let p_at = p.clone();
        let (dir, shown, hub_version) = match &mut p.kind {
            PinnedKind::Local { path } => {
                let dir = resolve::local_dir(&self.root_dir, path);
                if !dir.join("dbt_project.yml").is_file() {
                    let what = if dir.is_dir() {
                        format!("has no `dbt_project.yml` (in `{}`)", dir.display())
                    } else {
                        format!("does not exist (`{}`)", dir.display())
                    };
                    return Err(p_at.diag(
                        Diag::error("XF0604", format!("local package `{path}` {what}")),
                        "local",
                        "not a dbt project",
                    )
                    .with_help("`local:` is a path to a dbt project folder, relative to the root project"));
                }
                (dir, path.clone(), None)
            }
            PinnedKind::Git {
                url,
                revision,
                subdirectory,
                ..
            } => {
                let (dir, sha) = self.checkout(
                    &url.clone(),
                    &revision.clone(),
                    subdirectory.as_deref(),
                    &p_at,
                )?;
                *revision = sha;
                (dir, url.clone(), None)
            }
            PinnedKind::Hub { package, version } => {
                let pkg = self
                    .hub
                    .package(package)
                    .map_err(|e| hub_diag(&e, &p_at, "package"))?;
                let Some(v) = pkg.version(version) else {
                    return Err(p_at.diag(
                        Diag::error(
                            "XF0612",
                            format!("version {version} of `{package}` is not on the package hub"),
                        ),
                        "version",
                        "",
                    ));
                };
                (
                    PathBuf::new(),
                    String::new(),
                    Some((package.clone(), version.clone(), v.clone())),
                )
            }
            PinnedKind::Tarball { url, .. } => {
                let url = url.clone();
                let dir = self.unpack(&url, &p_at, "tarball")?;
                (dir, url, None)
            }
        };
        let result = if let Some((package, version, v)) = hub_version {
            let text = pyfmt::py_yaml(&json!({ "packages": v.packages }));
            let shown = format!("packages of `{package}` {version} on the hub");
            let source = SourceText::new(shown, text.as_str());
            let doc = crate::yaml::parse(&text).map_err(|e| Diag::error("XF0614", e.message))?;
            let list = doc
                .get("packages")
                .cloned()
                .unwrap_or_else(crate::yaml::Yaml::null);
            let requirer = format!("`{package}` {version}");
            let mut specs = spec::read_list(&source, &list, self.render, &requirer, false)?;
            // Not a file the user can edit: messages point at their own
            // entries instead.
            for s in &mut specs {
                s.at = None;
            }
            (v.name, specs)
        } else {
            let render = self.render;
            let (file, warnings) = crate::project::dbt_project::read(&dir, &shown, &|s| render(s))?;
            for w in warnings {
                (self.emit)(Event::Warn(w));
            }
            let requirer = format!("package `{}`", file.name);
            let declared = spec::read_declared(&dir, &shown, render, &requirer)?;
            (file.name, declared.specs)
        };
        let mut result = result;
        if let (PinnedKind::Tarball { .. }, Some(n)) = (&p.kind, &p.name) {
            // A tarball is installed under the name its entry gives.
            result.0.clone_from(n);
        }
        self.metadata.insert(identity, result.clone());
        self.metadata.insert(p.identity(), result.clone());
        Ok(result)
    }
}

fn hub_diag(e: &hub::HubError, req: &impl ReqAt, key: &str) -> Diag {
    let d = match e {
        hub::HubError::Unreachable { url, reason } => Diag::error(
            "XF0610",
            format!("the package hub cannot be reached: GET {url}: {reason}"),
        )
        .with_help(
            "check the network, or point DBT_PACKAGE_HUB_URL at a reachable hub; packages already installed at their locked versions need no hub",
        ),
        hub::HubError::NotFound { url } => Diag::error(
            "XF0611",
            format!("the package hub has no such package: GET {url} answered 404"),
        ),
        hub::HubError::Malformed { url, reason } => Diag::error(
            "XF0614",
            format!("the package hub answered {url} with something else than its JSON: {reason}"),
        ),
    };
    req.place(d, key)
}

/// Something a diagnostic can be placed at: an entry of a packages file.
pub(crate) trait ReqAt {
    fn place(&self, d: Diag, key: &str) -> Diag;
}

impl ReqAt for Pinned {
    fn place(&self, d: Diag, key: &str) -> Diag {
        self.diag(d, key, "")
    }
}

impl ReqAt for Option<At> {
    fn place(&self, d: Diag, key: &str) -> Diag {
        match self {
            Some(at) => at.diag(d, key, ""),
            None => d,
        }
    }
}

/// Runs `deps`.
pub fn run(opts: &Options, emit: &mut dyn FnMut(Event)) -> Result<(), Diag> {
    let root_dir = std::fs::canonicalize(&opts.project_dir).map_err(|e| {
        Diag::error(
            "XF0101",
            format!(
                "cannot open project folder `{}`: {e}",
                opts.project_dir.display()
            ),
        )
    })?;
    let render_fn = |s: &str| crate::jinja::render_config_string(s, &opts.cli_vars);
    let (file, warnings) = crate::project::dbt_project::read(&root_dir, "", &render_fn)?;
    for w in warnings {
        emit(Event::Warn(w));
    }
    if let Some((text, source)) = &opts.add_package {
        install::add_package(&root_dir, text, *source, emit)?;
    }
    let declared = spec::read_declared(&root_dir, "", &render_fn, "the root project")?;
    let install_dir = root_dir.join(&file.packages_install_path);
    let mut ctx = Ctx {
        staging: Staging::new(&install_dir),
        root_dir: root_dir.clone(),
        root_name: file.name.clone(),
        install_dir,
        hub: hub::Hub::from_env(),
        version_check: opts.version_check,
        render: &render_fn,
        emit,
        checkouts: HashMap::new(),
        unpacked: HashMap::new(),
        metadata: HashMap::new(),
        warned: HashSet::new(),
    };
    if declared.specs.is_empty() {
        ctx.info("No packages were found in packages.yml");
        if !opts.lock_only {
            install::install(&mut ctx, &mut [])?;
        }
        return Ok(());
    }
    let hash = spec::sha1_hash(&declared.specs);
    let lock_path = root_dir.join("package-lock.yml");
    let lock = if opts.upgrade {
        None
    } else {
        spec::read_lock(&lock_path, &render_fn).map_err(|d| {
            d.with_help("fix or delete `package-lock.yml`, or run `xform deps --upgrade` to write a new one")
        })?
    };
    let mut pinned = match lock {
        Some(l) if l.sha1_hash.as_deref() == Some(hash.as_str()) => from_lock(l.specs)?,
        _ => {
            let pinned = resolve::resolve(&mut ctx, &declared.specs)?;
            let doc = json!({
                "packages": pinned.iter().map(Pinned::lock_entry).collect::<Vec<_>>(),
                "sha1_hash": hash,
            });
            install::write_atomic(&lock_path, pyfmt::py_yaml(&doc).as_bytes())?;
            ctx.info(format!(
                "Updating lock file in file path: {}",
                lock_path.display()
            ));
            pinned
        }
    };
    if opts.lock_only {
        return Ok(());
    }
    install::install(&mut ctx, &mut pinned)
}

/// The pins of a lock file.
fn from_lock(specs: Vec<Spec>) -> Result<Vec<Pinned>, Diag> {
    specs
        .into_iter()
        .map(|s| {
            let place = s.at.clone();
            let kind = match s.kind {
                Kind::Local { path } => PinnedKind::Local { path },
                Kind::Git {
                    url,
                    url_unrendered,
                    revision,
                    subdirectory,
                    ..
                } => PinnedKind::Git {
                    url,
                    url_unrendered,
                    revision: revision.unwrap_or_else(|| "HEAD".to_owned()),
                    subdirectory,
                },
                Kind::Hub {
                    package, versions, ..
                } => {
                    let exact = versions.first().filter(|v| {
                        versions.len() == 1
                            && semver::Spec::parse(v)
                                .is_ok_and(|s| s.matcher == semver::Matcher::Exact)
                    });
                    let Some(version) = exact else {
                        return Err(place
                            .place(
                                Diag::error(
                                    "XF0631",
                                    format!(
                                        "the lock entry of `{package}` is not one exact version"
                                    ),
                                ),
                                "version",
                            )
                            .with_help("run `xform deps --upgrade` to write a new lock file"));
                    };
                    PinnedKind::Hub {
                        package,
                        version: version.clone(),
                    }
                }
                Kind::Tarball {
                    url,
                    url_unrendered,
                } => PinnedKind::Tarball {
                    url,
                    url_unrendered,
                },
            };
            Ok(Pinned {
                name: s.name,
                kind,
                at: s.at,
                latest: None,
            })
        })
        .collect()
}
