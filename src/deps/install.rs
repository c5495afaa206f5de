//! Putting pinned packages in the install folder: fetch every package that
//! is not already there at its pin into the staging folder, then rename
//! each into place, then remove packages no longer locked and record what
//! is installed (`.xform-deps.json`).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::{AddSource, Ctx, Event, Pinned, PinnedKind, io_diag, pyfmt, resolve};
use crate::diagnostics::Diag;

/// The record of what `deps` installed, in the install folder.
const RECORD: &str = ".xform-deps.json";

/// Writes a file through a temporary file and a rename.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Diag> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io_diag(path, &e)
        })
}

/// Unpacks a `.tar.gz` into `out` and returns the package folder: the one
/// top-level folder of the archive, or `out` when there are several.
pub(super) fn untar(file: &Path, out: &Path) -> Result<PathBuf, String> {
    let f = std::fs::File::open(file).map_err(|e| e.to_string())?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(f));
    archive.set_preserve_permissions(false);
    // `unpack` refuses entries that would land outside `out`.
    archive.unpack(out).map_err(|e| e.to_string())?;
    let entries: Vec<PathBuf> = std::fs::read_dir(out)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    match entries.as_slice() {
        [] => Err("the archive is empty".to_owned()),
        [one] if one.is_dir() => Ok(one.clone()),
        _ => Ok(out.to_path_buf()),
    }
}

fn read_record(install_dir: &Path) -> Map<String, Value> {
    std::fs::read_to_string(install_dir.join(RECORD))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v.get("packages").and_then(Value::as_object).cloned())
        .unwrap_or_default()
}

/// Whether `p` is installed as `name` at its pin already.
fn up_to_date(ctx: &Ctx<'_>, record: &Map<String, Value>, p: &Pinned, name: &str) -> bool {
    let dest = ctx.install_dir.join(name);
    let Ok(meta) = std::fs::symlink_metadata(&dest) else {
        return false;
    };
    if let PinnedKind::Local { path } = &p.kind {
        // A symlink to the right folder is what dbt makes too.
        let want = resolve::local_dir(&ctx.root_dir, path);
        if meta.file_type().is_symlink() {
            return std::fs::read_link(&dest).is_ok_and(|t| t == want);
        }
    }
    record.get(name) == Some(&p.identity_json(&ctx.root_dir))
        && dest.join("dbt_project.yml").is_file()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.starts_with('.')
        && !name.contains(['/', '\\'])
}

/// Installs `pinned` (already in lock order) and removes installed
/// packages that are not among them.
pub(super) fn install(ctx: &mut Ctx<'_>, pinned: &mut [Pinned]) -> Result<(), Diag> {
    let record = read_record(&ctx.install_dir);
    let mut staged: Vec<(String, PathBuf)> = Vec::new();
    let mut updates: Vec<String> = Vec::new();
    for p in pinned.iter_mut() {
        if p.name.is_none() {
            // A lock file written before dbt recorded names.
            let (name, _) = ctx.metadata(p)?;
            p.name = Some(name);
        }
        let name = p.name.clone().unwrap_or_default();
        if !valid_name(&name) {
            return Err(p.diag(
                Diag::error(
                    "XF0632",
                    format!(
                        "invalid package name `{name}`: it would install outside `{}`",
                        ctx.install_dir.display()
                    ),
                ),
                "name",
                "",
            ));
        }
        if up_to_date(ctx, &record, p, &name) {
            ctx.info(format!(
                "Already installed: {} ({})",
                p.display_name(),
                p.version_name()
            ));
            continue;
        }
        ctx.info(format!("Installing {}", p.display_name()));
        let new = fetch(ctx, p, &name)?;
        staged.push((name, new));
        ctx.info(format!("Installed from {}", p.version_name()));
        if let PinnedKind::Git {
            subdirectory: Some(s),
            ..
        } = &p.kind
        {
            ctx.info(format!("and subdirectory {s}"));
        }
        if let (PinnedKind::Hub { version, .. }, Some(latest)) = (&p.kind, &p.latest) {
            if latest == version {
                ctx.info("Up to date!");
            } else {
                ctx.info(format!("Updated version available: {latest}"));
                updates.push(p.display_name());
            }
        }
    }

    // Every package is fetched: only now does the install folder change.
    if !staged.is_empty() {
        std::fs::create_dir_all(&ctx.install_dir).map_err(|e| io_diag(&ctx.install_dir, &e))?;
    }
    for (name, new) in &staged {
        let dest = ctx.install_dir.join(name);
        let old = if std::fs::symlink_metadata(&dest).is_ok() {
            let old = ctx.staging.fresh("old", name)?;
            std::fs::rename(&dest, &old).map_err(|e| io_diag(&dest, &e))?;
            Some(old)
        } else {
            None
        };
        if let Err(e) = std::fs::rename(new, &dest) {
            if let Some(old) = old {
                let _ = std::fs::rename(old, &dest);
            }
            return Err(io_diag(&dest, &e));
        }
    }

    let keep: Vec<&str> = pinned.iter().filter_map(|p| p.name.as_deref()).collect();
    remove_unlocked(ctx, &keep)?;
    let mut installed = Map::new();
    for p in pinned.iter() {
        if let Some(n) = &p.name {
            installed.insert(n.clone(), p.identity_json(&ctx.root_dir));
        }
    }
    if ctx.install_dir.is_dir() {
        let doc = json!({"packages": installed});
        write_atomic(
            &ctx.install_dir.join(RECORD),
            format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            )
            .as_bytes(),
        )?;
    }
    if !updates.is_empty() {
        let list = updates
            .iter()
            .map(|u| format!("'{u}'"))
            .collect::<Vec<_>>()
            .join(", ");
        ctx.info("");
        ctx.info(format!(
            "Updates available for packages: [{list}]\nUpdate your versions in packages.yml, then run xform deps"
        ));
    }
    Ok(())
}

/// Removes installed packages (folders with a `dbt_project.yml`, and
/// symlinks) that are not in `keep`, as dbt's fresh install folder would
/// not have them.
fn remove_unlocked(ctx: &mut Ctx<'_>, keep: &[&str]) -> Result<(), Diag> {
    let Ok(entries) = std::fs::read_dir(&ctx.install_dir) else {
        return Ok(());
    };
    let mut removed = Vec::new();
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || keep.contains(&name.as_str()) {
            continue;
        }
        let path = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let result = if meta.file_type().is_symlink() {
            std::fs::remove_file(&path)
        } else if meta.is_dir() && path.join("dbt_project.yml").is_file() {
            std::fs::remove_dir_all(&path)
        } else {
            continue;
        };
        result.map_err(|err| io_diag(&path, &err))?;
        removed.push(name);
    }
    removed.sort();
    for name in removed {
        ctx.info(format!("Removed {name} (no longer a dependency)"));
    }
    Ok(())
}

/// Fetches one package into the staging folder; returns its folder there.
fn fetch(ctx: &mut Ctx<'_>, p: &mut Pinned, name: &str) -> Result<PathBuf, Diag> {
    let dest = ctx.staging.fresh("new", name)?;
    let src = match &p.kind {
        PinnedKind::Local { path } => {
            let src = resolve::local_dir(&ctx.root_dir, path);
            if !src.join("dbt_project.yml").is_file() {
                // Reports the missing folder at its entry.
                ctx.metadata(p)?;
            }
            link_or_copy(&src, &dest)?;
            return Ok(dest);
        }
        PinnedKind::Git {
            url,
            revision,
            subdirectory,
            ..
        } => {
            let (dir, sha) = ctx.checkout(
                &url.clone(),
                &revision.clone(),
                subdirectory.clone().as_deref(),
                &p.clone(),
            )?;
            // The checkout moves into place: later uses clone again.
            ctx.checkouts.retain(|_, v| v.0 != dir);
            if let PinnedKind::Git { revision, .. } = &mut p.kind {
                *revision = sha;
            }
            dir
        }
        PinnedKind::Hub { package, version } => {
            let (package, version) = (package.clone(), version.clone());
            let pkg = ctx
                .hub
                .package(&package)
                .map_err(|e| super::hub_diag(&e, &p.clone(), "package"))?;
            let Some(v) = pkg.version(&version) else {
                return Err(p
                    .diag(
                        Diag::error(
                            "XF0612",
                            format!("version {version} of `{package}` is not on the package hub"),
                        ),
                        "version",
                        "",
                    )
                    .with_help("run `xform deps --upgrade` to pick a version the hub has"));
            };
            if p.latest.is_none() {
                let prerelease =
                    super::semver::Spec::parse(&version).is_ok_and(|s| s.prerelease.is_some());
                let all: Vec<String> = pkg.versions.iter().map(|(k, _)| k.clone()).collect();
                p.latest = super::semver::installable(&all, prerelease).pop();
            }
            let url = v.tarball.clone();
            let dir = ctx.unpack(&url, &p.clone(), "package")?;
            ctx.unpacked.remove(&url);
            dir
        }
        PinnedKind::Tarball { url, .. } => {
            let url = url.clone();
            let dir = ctx.unpack(&url, &p.clone(), "tarball")?;
            ctx.unpacked.remove(&url);
            dir
        }
    };
    std::fs::rename(&src, &dest).map_err(|e| io_diag(&dest, &e))?;
    Ok(dest)
}

/// dbt installs a local package as a symlink to its folder (a copy where
/// symlinks are not available).
fn link_or_copy(src: &Path, dest: &Path) -> Result<(), Diag> {
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(src, dest).map_err(|e| io_diag(dest, &e))
    }
    #[cfg(not(unix))]
    {
        copy_dir(src, dest).map_err(|e| io_diag(dest, &e))
    }
}

#[cfg(not(unix))]
fn copy_dir(src: &Path, dest: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dest)?;
    for e in std::fs::read_dir(src)? {
        let e = e?;
        let to = dest.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &to)?;
        } else {
            std::fs::copy(e.path(), to)?;
        }
    }
    Ok(())
}

/// `--add-package name@version`: adds the entry to `packages.yml` (or
/// `dependencies.yml` when that declares the packages), removing entries
/// of the same package first, and rewrites the file as dbt does.
pub(super) fn add_package(
    root: &Path,
    text: &str,
    source: AddSource,
    emit: &mut dyn FnMut(Event),
) -> Result<(), Diag> {
    let (name, version) = match text.split('@').collect::<Vec<_>>().as_slice() {
        [n, v] => ((*n).to_owned(), Some((*v).to_owned())),
        _ => (text.to_owned(), None),
    };
    let source_name = match source {
        AddSource::Hub => "hub",
        AddSource::Git => "git",
        AddSource::Local => "local",
    };
    if version.is_none() && source != AddSource::Local {
        return Err(Diag::error(
            "XF0641",
            format!("`--add-package {text}` has no version: a {source_name} package needs one"),
        )
        .with_help("write it as name@version, e.g. --add-package dbt-labs/dbt_utils@1.3.0"));
    }
    let deps_file = root.join("dependencies.yml");
    let uses_dependencies = std::fs::read_to_string(&deps_file)
        .ok()
        .and_then(|t| crate::yaml::parse(&t).ok())
        .is_some_and(|y| y.get("packages").is_some());
    let path = if uses_dependencies {
        deps_file
    } else {
        root.join("packages.yml")
    };
    let mut doc = if let Ok(t) = std::fs::read_to_string(&path) {
        crate::yaml::parse(&t)
            .map_err(|e| {
                Diag::error(
                    "XF0102",
                    format!("invalid YAML in `{}`: {}", path.display(), e.message),
                )
            })?
            .to_json()
    } else {
        emit(Event::Info("Created packages.yml".into()));
        json!({"packages": []})
    };
    let Some(list) = doc
        .as_object_mut()
        .map(|m| m.entry("packages").or_insert_with(|| json!([])))
        .and_then(Value::as_array_mut)
    else {
        return Err(Diag::error(
            "XF0602",
            format!("`{}` has no `packages:` list to add to", path.display()),
        ));
    };
    let variants = name_variants(&name);
    list.retain(|entry| {
        let id = ["package", "git", "local", "tarball", "private"]
            .iter()
            .find_map(|k| entry.get(*k).and_then(Value::as_str));
        let dup = id.is_some_and(|id| variants.iter().any(|v| matches_bounded(id, v)));
        if dup {
            let shown: Vec<String> = entry
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, v)| v.is_string() || v.is_number())
                .map(|(k, v)| {
                    format!(
                        "'{k}': {}",
                        if let Value::String(s) = v {
                            format!("'{s}'")
                        } else {
                            v.to_string()
                        }
                    )
                })
                .collect();
            emit(Event::Info(format!(
                "Found duplicate package in packages.yml, removing: {{{}}}",
                shown.join(", ")
            )));
        }
        !dup
    });
    let mut entry = Map::new();
    let key = match source {
        AddSource::Hub => "package",
        AddSource::Git => "git",
        AddSource::Local => "local",
    };
    entry.insert(key.into(), Value::from(name.clone()));
    if let Some(v) = &version
        && source != AddSource::Local
    {
        let vkey = if source == AddSource::Git {
            "revision"
        } else {
            "version"
        };
        let value = if v.contains(',') {
            Value::from(v.split(',').map(str::to_owned).collect::<Vec<_>>())
        } else {
            Value::from(v.clone())
        };
        entry.insert(vkey.into(), value);
    }
    list.push(Value::Object(entry));
    write_atomic(&path, pyfmt::py_yaml(&doc).as_bytes())?;
    emit(Event::Info(format!(
        "Added new package {name}@{} to {}",
        version.as_deref().unwrap_or("None"),
        path.display()
    )));
    Ok(())
}

/// The spellings of a package name that count as the same package (dbt's
/// duplicate check: `_`/`-` variants, with and without the org).
fn name_variants(name: &str) -> Vec<String> {
    let mut v = vec![
        name.to_owned(),
        name.replace('_', "-"),
        name.replace('-', "_"),
    ];
    if let Some(short) = name.rsplit('/').next().filter(|_| name.contains('/')) {
        v.extend([
            short.to_owned(),
            short.replace('_', "-"),
            short.replace('-', "_"),
        ]);
    }
    v.sort();
    v.dedup();
    v
}

/// `needle` occurs in `id` between `/`, `.` or the ends.
fn matches_bounded(id: &str, needle: &str) -> bool {
    let Some(i) = id.find(needle) else {
        return false;
    };
    let end = i + needle.len();
    let start_ok = i == 0 || id[..i].ends_with(['/', '.']);
    let end_ok = end == id.len() || id[end..].starts_with(['/', '.']);
    start_ok && end_ok
}
