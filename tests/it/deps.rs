//! `xform deps`: local packages (symlinks), git packages from bare
//! repositories made here (`file://`), and hub packages from a package hub
//! served by this test on 127.0.0.1 (index, package JSON and tarballs built
//! here), with `DBT_PACKAGE_HUB_URL` pointing at it. The lock file is
//! compared with the text dbt-core writes, and where dbt-core is available
//! it runs `dbt deps` on the same project: lock file, folder names and
//! symlinks must be the same.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Output, dbt, write, xform_env};

/// A root project `root` in `dir/root` with a `DuckDB` profile.
fn root_project(dir: &Path, packages_yml: &str) -> PathBuf {
    let root = dir.join("root");
    write(
        &root,
        "dbt_project.yml",
        "name: root\nversion: '1.0'\nconfig-version: 2\nprofile: root\n",
    );
    write(
        &root,
        "profiles.yml",
        "root:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: root.duckdb\n",
    );
    write(&root, "models/root_model.sql", "select 1 as id\n");
    write(&root, "packages.yml", packages_yml);
    root
}

/// A package project `name` in `dir` with one model.
fn package_project(dir: &Path, name: &str, model_sql: &str) {
    write(
        dir,
        "dbt_project.yml",
        &format!("name: {name}\nversion: '1.0'\nconfig-version: 2\n"),
    );
    write(dir, &format!("models/{name}_model.sql"), model_sql);
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = xform_env(dir, args, env);
    eprintln!("xform {}:\n{}{}", args.join(" "), out.stdout, out.stderr);
    out
}

fn ok(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = run(dir, args, env);
    assert_eq!(out.code, 0, "xform {args:?} failed:\n{}", out.stderr);
    out
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// `xform ls` names of the resources of a package.
fn listed(root: &Path, env: &[(&str, &str)]) -> String {
    ok(root, &["ls"], env).stdout
}

/// Names in the install folder, with `->` for symlinks.
fn layout(install: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(install)
        .expect("install folder")
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            match std::fs::read_link(e.path()) {
                Ok(target) => format!("{name} -> {}", target.display()),
                Err(_) => name,
            }
        })
        .collect();
    out.sort();
    out
}

// ---------------------------------------------------------------- git

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A bare repository `dir/<name>.git` holding project `git_a` with a
/// project `inner_pkg` in `sub/inner`: commit 1 (tagged `v1.0`) has
/// `select 1`, commit 2 (the head of `main`) `select 2`. Returns its
/// `file://` URL and the two commits.
struct Repo {
    url: String,
    first: String,
    second: String,
}

fn git_repo(dir: &Path, name: &str) -> Repo {
    let work = dir.join(format!("{name}-work"));
    std::fs::create_dir_all(&work).expect("mkdir");
    git(&work, &["init", "-q", "-b", "main"]);
    package_project(&work, "git_a", "select 1 as v\n");
    package_project(&work.join("sub/inner"), "inner_pkg", "select 1 as w\n");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-qm", "one"]);
    git(&work, &["tag", "v1.0"]);
    let first = git(&work, &["rev-parse", "HEAD"]);
    write(&work, "models/git_a_model.sql", "select 2 as v\n");
    write(
        &work,
        "sub/inner/models/inner_pkg_model.sql",
        "select 2 as w\n",
    );
    git(&work, &["commit", "-qam", "two"]);
    let second = git(&work, &["rev-parse", "HEAD"]);
    let bare = dir.join(format!("{name}.git"));
    git(
        dir,
        &[
            "clone",
            "-q",
            "--bare",
            &work.to_string_lossy(),
            &bare.to_string_lossy(),
        ],
    );
    Repo {
        url: format!("file://{}", bare.display()),
        first,
        second,
    }
}

// ---------------------------------------------------------------- hub

/// A published package and its versions, each with the packages it needs.
type Published = (String, Vec<(String, Value)>);

/// A package hub on 127.0.0.1 serving fixed responses by path, counting
/// requests. It stops when dropped (or after five minutes).
struct HubServer {
    port: u16,
    routes: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    published: Mutex<Vec<Published>>,
}

impl HubServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let routes: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, n, s) = (
            Arc::clone(&routes),
            Arc::clone(&requests),
            Arc::clone(&stop),
        );
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_mins(5);
            while !s.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                        let mut reader = BufReader::new(&stream);
                        let mut first = String::new();
                        let _ = reader.read_line(&mut first);
                        loop {
                            let mut line = String::new();
                            match reader.read_line(&mut line) {
                                Ok(0) | Err(_) => break,
                                Ok(_) if line == "\r\n" => break,
                                Ok(_) => {}
                            }
                        }
                        n.fetch_add(1, Ordering::SeqCst);
                        let path = first.split_whitespace().nth(1).unwrap_or("").to_owned();
                        let body = r.lock().expect("routes").get(&path).cloned();
                        let mut stream = &stream;
                        let _ = match body {
                            Some(b) => stream
                                .write_all(
                                    format!(
                                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                        b.len()
                                    )
                                    .as_bytes(),
                                )
                                .and_then(|()| stream.write_all(&b)),
                            None => stream.write_all(
                                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                            ),
                        };
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            port,
            routes,
            requests,
            stop,
            published: Mutex::new(Vec::new()),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Publishes `org/name` at `version`, needing `packages`: its tarball
    /// (one folder `name-version/` with the project) and the package's JSON
    /// and the index, as hub.getdbt.com lays them out.
    fn publish(&self, org: &str, name: &str, version: &str, packages: &Value) {
        let package = format!("{org}/{name}");
        let tarball = format!("/tarballs/{name}-{version}.tar.gz");
        let top = format!("{name}-{version}");
        let files = [
            (
                format!("{top}/dbt_project.yml"),
                format!("name: {name}\nversion: '{version}'\nconfig-version: 2\n"),
            ),
            (
                format!("{top}/models/{name}_model.sql"),
                format!("select '{version}' as v\n"),
            ),
            (
                format!("{top}/packages.yml"),
                serde_json::to_string(&json!({ "packages": packages })).expect("json"),
            ),
        ];
        let mut routes = self.routes.lock().expect("routes");
        routes.insert(tarball.clone(), tar_gz(&files));
        let mut published = self.published.lock().expect("published");
        match published.iter_mut().find(|(p, _)| *p == package) {
            Some((_, versions)) => versions.push((version.to_owned(), packages.clone())),
            None => published.push((
                package.clone(),
                vec![(version.to_owned(), packages.clone())],
            )),
        }
        let (_, versions) = published
            .iter()
            .find(|(p, _)| *p == package)
            .expect("published");
        let mut by_version = serde_json::Map::new();
        for (v, deps) in versions {
            by_version.insert(
                v.clone(),
                json!({
                    "id": format!("{package}/{v}"),
                    "name": name,
                    "version": v,
                    "published_at": "2024-01-01T00:00:00Z",
                    "packages": deps,
                    "works_with": [],
                    "downloads": {
                        "tarball": format!("http://127.0.0.1:{}/tarballs/{name}-{v}.tar.gz", self.port),
                        "format": "tgz",
                    },
                }),
            );
        }
        let doc =
            json!({"name": name, "namespace": org, "latest": version, "versions": by_version});
        routes.insert(
            format!("/api/v1/{package}.json"),
            doc.to_string().into_bytes(),
        );
        let index: Vec<&String> = published.iter().map(|(p, _)| p).collect();
        routes.insert(
            "/api/v1/index.json".into(),
            json!(index).to_string().into_bytes(),
        );
    }
}

impl Drop for HubServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn tar_gz(files: &[(String, String)]) -> Vec<u8> {
    let enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut b = tar::Builder::new(enc);
    for (path, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, text.as_bytes())
            .expect("tar entry");
    }
    b.into_inner().expect("tar").finish().expect("gzip")
}

/// alpha 1.0.0, 1.1.0 (needs beta >= 0.2.0) and 2.0.0; beta 0.1.0, 0.2.0
/// and the prerelease 0.3.0-rc1.
fn hub_with_alpha_and_beta() -> HubServer {
    let hub = HubServer::start();
    let none = json!([]);
    let needs_beta = json!([{"package": "org/beta", "version": [">=0.2.0"]}]);
    hub.publish("org", "alpha", "1.0.0", &none);
    hub.publish("org", "alpha", "1.1.0", &needs_beta);
    hub.publish("org", "alpha", "2.0.0", &needs_beta);
    hub.publish("org", "beta", "0.1.0", &none);
    hub.publish("org", "beta", "0.2.0", &none);
    hub.publish("org", "beta", "0.3.0-rc1", &none);
    hub
}

// ---------------------------------------------------------------- tests

#[test]
fn local_package_is_symlinked_locked_and_parsed() {
    let tmp = tempfile::tempdir().expect("temp dir");
    package_project(&tmp.path().join("lib"), "lib_pkg", "select 1 as x\n");
    let root = root_project(tmp.path(), "packages:\n  - local: ../lib\n");

    ok(&root, &["deps", "--lock"], &[]);
    assert!(
        !root.join("dbt_packages/lib_pkg").exists(),
        "--lock installs nothing"
    );
    let lock = read(&root.join("package-lock.yml"));
    // dbt-core 1.11 writes exactly this for the same packages.yml.
    assert_eq!(
        lock,
        "packages:\n  - local: ../lib\n    name: lib_pkg\nsha1_hash: 2e154ab76e17588c2d883b007fb0d13f3e8565d2\n"
    );

    let out = ok(&root, &["deps"], &[]);
    assert!(
        out.stderr.contains("Installed from <local @ ../lib>"),
        "{}",
        out.stderr
    );
    let link = std::fs::read_link(root.join("dbt_packages/lib_pkg")).expect("a symlink");
    assert_eq!(link, tmp.path().join("lib"));
    assert_eq!(read(&root.join("package-lock.yml")), lock);
    assert!(listed(&root, &[]).contains("lib_pkg.lib_pkg_model"));

    let again = ok(&root, &["deps"], &[]);
    assert!(
        again.stderr.contains("Already installed: ../lib"),
        "{}",
        again.stderr
    );
}

#[test]
fn git_packages_at_a_tag_a_commit_and_a_subdirectory() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let repo = git_repo(tmp.path(), "repo");
    let root = root_project(
        tmp.path(),
        &format!(
            "packages:\n  - git: \"{url}\"\n    revision: v1.0\n  - git: \"{url}\"\n    subdirectory: sub/inner\n    revision: {second}\n",
            url = repo.url,
            second = repo.second
        ),
    );
    ok(&root, &["deps"], &[]);
    let install = root.join("dbt_packages");
    assert_eq!(layout(&install), ["git_a", "inner_pkg"]);
    // The tag's commit, not the branch head; the subdirectory alone.
    assert_eq!(
        read(&install.join("git_a/models/git_a_model.sql")),
        "select 1 as v\n"
    );
    assert_eq!(
        read(&install.join("inner_pkg/models/inner_pkg_model.sql")),
        "select 2 as w\n"
    );
    assert!(!install.join("inner_pkg/sub").exists());
    assert_eq!(
        read(&root.join("package-lock.yml"))
            .split("sha1_hash")
            .next()
            .expect("text"),
        format!(
            "packages:\n  - git: {url}\n    name: git_a\n    revision: {first}\n  - git: {url}\n    name: inner_pkg\n    revision: {second}\n    subdirectory: sub/inner\n",
            url = repo.url,
            first = repo.first,
            second = repo.second
        )
    );
    let listed = listed(&root, &[]);
    assert!(listed.contains("git_a.git_a_model") && listed.contains("inner_pkg.inner_pkg_model"));

    // From the lock: the locked commits are fetched by their SHA.
    std::fs::remove_dir_all(&install).expect("rm");
    let locked = ok(&root, &["deps"], &[]);
    assert!(
        locked
            .stderr
            .contains(&format!("Installed from revision {}", repo.first)),
        "{}",
        locked.stderr
    );
    assert_eq!(
        read(&install.join("git_a/models/git_a_model.sql")),
        "select 1 as v\n"
    );
    assert_eq!(
        read(&install.join("inner_pkg/models/inner_pkg_model.sql")),
        "select 2 as w\n"
    );

    // Installed at the locked commits: nothing is cloned again, even with
    // the repository gone.
    std::fs::rename(tmp.path().join("repo.git"), tmp.path().join("moved.git")).expect("mv");
    let again = ok(&root, &["deps"], &[]);
    assert!(!again.stderr.contains("Installing"), "{}", again.stderr);
}

#[test]
fn unpinned_git_package_warns_and_locks_the_head_commit() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let repo = git_repo(tmp.path(), "repo");
    let root = root_project(
        tmp.path(),
        &format!("packages:\n  - git: \"{}\"\n", repo.url),
    );
    let out = ok(&root, &["deps"], &[]);
    assert!(out.stderr.contains("XF0624"), "{}", out.stderr);
    assert!(
        out.stderr.contains("not pinned, using HEAD"),
        "{}",
        out.stderr
    );
    assert!(read(&root.join("package-lock.yml")).contains(&format!("revision: {}", repo.second)));
    assert_eq!(
        read(&root.join("dbt_packages/git_a/models/git_a_model.sql")),
        "select 2 as v\n"
    );
}

#[test]
fn hub_packages_resolve_ranges_and_dependencies_and_follow_the_lock() {
    let hub = hub_with_alpha_and_beta();
    let url = hub.url();
    let env = [("DBT_PACKAGE_HUB_URL", url.as_str())];
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = root_project(
        tmp.path(),
        "packages:\n  - package: org/alpha\n    version: [\">=1.0.0\", \"<2.0.0\"]\n",
    );
    let install = root.join("dbt_packages");

    let out = ok(&root, &["deps"], &env);
    // The newest alpha below 2.0.0, and the newest stable beta it allows.
    let lock = read(&root.join("package-lock.yml"));
    assert_eq!(
        lock,
        "packages:\n  - name: alpha\n    package: org/alpha\n    version: 1.1.0\n  - name: beta\n    package: org/beta\n    version: 0.2.0\nsha1_hash: b73ae1362c0bebc45e4b9211036ef6bb066b358a\n"
    );
    assert_eq!(layout(&install), ["alpha", "beta"]);
    assert_eq!(
        read(&install.join("alpha/models/alpha_model.sql")),
        "select '1.1.0' as v\n"
    );
    assert_eq!(
        read(&install.join("beta/models/beta_model.sql")),
        "select '0.2.0' as v\n"
    );
    // As dbt does, the newest installable version is compared, whatever
    // the range.
    assert!(
        out.stderr.contains("Installing org/alpha\nInstalled from version 1.1.0\nUpdated version available: 2.0.0\nInstalling org/beta\nInstalled from version 0.2.0\nUp to date!"),
        "{}",
        out.stderr
    );
    let listed = listed(&root, &[]);
    assert!(
        listed.contains("alpha.alpha_model") && listed.contains("beta.beta_model"),
        "{listed}"
    );

    // Everything is installed at its locked version: no request at all.
    let before = hub.requests();
    let again = ok(&root, &["deps"], &env);
    assert_eq!(
        hub.requests(),
        before,
        "a second deps must not fetch anything"
    );
    assert!(
        again
            .stderr
            .contains("Already installed: org/alpha (version 1.1.0)"),
        "{}",
        again.stderr
    );

    // A newer alpha on the hub: the lock still installs 1.1.0 ...
    hub.publish(
        "org",
        "alpha",
        "1.2.0",
        &json!([{"package": "org/beta", "version": [">=0.2.0"]}]),
    );
    std::fs::remove_dir_all(&install).expect("rm");
    let locked = ok(&root, &["deps"], &env);
    assert_eq!(read(&root.join("package-lock.yml")), lock);
    assert_eq!(
        read(&install.join("alpha/models/alpha_model.sql")),
        "select '1.1.0' as v\n"
    );
    assert!(
        locked.stderr.contains("Updated version available: 2.0.0"),
        "{}",
        locked.stderr
    );
    assert!(
        locked
            .stderr
            .contains("Updates available for packages: ['org/alpha']"),
        "{}",
        locked.stderr
    );

    // ... and --upgrade moves to 1.2.0.
    ok(&root, &["deps", "--upgrade"], &env);
    assert!(read(&root.join("package-lock.yml")).contains("version: 1.2.0"));
    assert_eq!(
        read(&install.join("alpha/models/alpha_model.sql")),
        "select '1.2.0' as v\n"
    );
    assert_eq!(
        read(&install.join("beta/models/beta_model.sql")),
        "select '0.2.0' as v\n"
    );

    // A changed packages.yml is resolved again without --upgrade; a
    // package no longer needed is removed.
    write(
        &root,
        "packages.yml",
        "packages:\n  - package: org/alpha\n    version: 1.0.0\n",
    );
    ok(&root, &["deps"], &env);
    assert_eq!(layout(&install), ["alpha"]);
    assert_eq!(
        read(&install.join("alpha/models/alpha_model.sql")),
        "select '1.0.0' as v\n"
    );
}

#[test]
fn tarball_package_installs_under_its_name() {
    let hub = hub_with_alpha_and_beta();
    let url = hub.url();
    let tmp = tempfile::tempdir().expect("temp dir");
    let tarball = format!("{url}tarballs/beta-0.1.0.tar.gz");
    let root = root_project(
        tmp.path(),
        &format!("packages:\n  - tarball: \"{tarball}\"\n    name: beta_tar\n"),
    );
    let out = ok(&root, &["deps"], &[]);
    assert!(
        out.stderr
            .contains(&format!("Installed from tarball (url: {tarball})")),
        "{}",
        out.stderr
    );
    assert_eq!(
        read(&root.join("dbt_packages/beta_tar/models/beta_model.sql")),
        "select '0.1.0' as v\n"
    );
    assert!(read(&root.join("package-lock.yml")).starts_with(&format!(
        "packages:\n  - name: beta_tar\n    tarball: {tarball}\n"
    )));
    let before = hub.requests();
    ok(&root, &["deps"], &[]);
    assert_eq!(hub.requests(), before);
}

#[test]
fn prereleases_only_with_install_prerelease() {
    let hub = hub_with_alpha_and_beta();
    let url = hub.url();
    let env = [("DBT_PACKAGE_HUB_URL", url.as_str())];
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = root_project(
        tmp.path(),
        "packages:\n  - package: org/beta\n    version: \">=0.1.0\"\n    install_prerelease: true\n",
    );
    ok(&root, &["deps", "--lock"], &env);
    assert!(read(&root.join("package-lock.yml")).contains("version: 0.3.0-rc1"));
    assert!(
        !root.join("dbt_packages").exists(),
        "--lock installs nothing"
    );
}

/// Runs a failing `deps` and returns its stderr, after checking the exit
/// code and that the installed packages and the lock are untouched.
fn fails(root: &Path, env: &[(&str, &str)], code: &str) -> String {
    let install = root.join("dbt_packages");
    let before = layout(&install);
    let lock = std::fs::read_to_string(root.join("package-lock.yml")).ok();
    let out = run(root, &["deps"], env);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(code),
        "expected {code}:\n{}",
        out.stderr
    );
    assert_eq!(
        layout(&install),
        before,
        "a failed deps changed the install folder"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("package-lock.yml")).ok(),
        lock
    );
    assert!(
        std::fs::read_dir(&install)
            .expect("install")
            .filter_map(Result::ok)
            .all(|e| !e.file_name().to_string_lossy().starts_with(".xform-deps-")),
        "the staging folder was left behind"
    );
    // The message as one line, unwrapped.
    out.stderr.replace("\n  │ ", " ")
}

/// A project with the local package `lib_pkg` installed, then `extra`
/// appended to its packages.yml.
fn installed_then(tmp: &Path, extra: &str, env: &[(&str, &str)]) -> PathBuf {
    package_project(&tmp.join("lib"), "lib_pkg", "select 1 as x\n");
    let root = root_project(tmp, "packages:\n  - local: ../lib\n");
    ok(&root, &["deps"], env);
    write(
        &root,
        "packages.yml",
        &format!("packages:\n  - local: ../lib\n{extra}"),
    );
    root
}

#[test]
fn unreachable_hub_names_the_url_and_the_cause() {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let env = [("DBT_PACKAGE_HUB_URL", url.as_str())];
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = installed_then(
        tmp.path(),
        "  - package: org/alpha\n    version: 1.0.0\n",
        &env,
    );
    let err = fails(&root, &env, "XF0610");
    assert!(
        err.contains(&format!("GET {url}api/v1/index.json: connection refused")),
        "{err}"
    );
    assert!(err.contains("[packages.yml:3:14]"), "{err}");
}

#[test]
fn unknown_hub_package_suggests_a_name() {
    let hub = hub_with_alpha_and_beta();
    let url = hub.url();
    let env = [("DBT_PACKAGE_HUB_URL", url.as_str())];
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = installed_then(
        tmp.path(),
        "  - package: org/alpah\n    version: 1.0.0\n",
        &env,
    );
    let err = fails(&root, &env, "XF0611");
    assert!(
        err.contains("package `org/alpah` was not found in the package index"),
        "{err}"
    );
    assert!(err.contains("did you mean `org/alpha`?"), "{err}");
    assert!(err.contains("[packages.yml:3:14]"), "{err}");
}

#[test]
fn no_hub_version_in_the_range() {
    let hub = hub_with_alpha_and_beta();
    let url = hub.url();
    let env = [("DBT_PACKAGE_HUB_URL", url.as_str())];
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = installed_then(
        tmp.path(),
        "  - package: org/alpha\n    version: \">=3.0.0\"\n",
        &env,
    );
    let err = fails(&root, &env, "XF0612");
    assert!(
        err.contains(
            "no version of `org/alpha` satisfies >=3.0.0; versions on the hub: 1.0.0, 1.1.0, 2.0.0"
        ),
        "{err}"
    );
    assert!(err.contains("[packages.yml:4:14]"), "{err}");
}

#[test]
fn conflicting_ranges_name_both_requirers() {
    let hub = hub_with_alpha_and_beta();
    let url = hub.url();
    let env = [("DBT_PACKAGE_HUB_URL", url.as_str())];
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = installed_then(
        tmp.path(),
        "  - package: org/beta\n    version: \"<0.2.0\"\n  - package: org/alpha\n    version: 1.1.0\n",
        &env,
    );
    let err = fails(&root, &env, "XF0613");
    assert!(
        err.contains("conflicting versions of `org/beta`: the root project requires <0.2.0 and `org/alpha` 1.1.0 requires >=0.2.0"),
        "{err}"
    );
    assert!(err.contains("[packages.yml:4:14]"), "{err}");
}

#[test]
fn missing_git_revision_names_repo_and_revision() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let repo = git_repo(tmp.path(), "repo");
    let root = installed_then(
        tmp.path(),
        &format!("  - git: \"{}\"\n    revision: v9.9\n", repo.url),
        &[],
    );
    let err = fails(&root, &[], "XF0621");
    assert!(
        err.contains(&format!(
            "git package `{}` has no revision `v9.9`",
            repo.url
        )),
        "{err}"
    );
    assert!(err.contains("[packages.yml:4:15]"), "{err}");

    // A commit the repository does not have.
    let missing = "0123456789abcdef0123456789abcdef01234567";
    write(
        &root,
        "packages.yml",
        &format!(
            "packages:\n  - local: ../lib\n  - git: \"{}\"\n    revision: {missing}\n",
            repo.url
        ),
    );
    let err = fails(&root, &[], "XF0621");
    assert!(
        err.contains(&format!("has no revision `{missing}`")),
        "{err}"
    );

    // Two revisions of one repository.
    write(
        &root,
        "packages.yml",
        &format!(
            "packages:\n  - local: ../lib\n  - git: \"{u}.git\"\n    revision: v1.0\n  - git: \"{u}\"\n    revision: main\n",
            u = repo.url.trim_end_matches(".git")
        ),
    );
    let err = fails(&root, &[], "XF0622");
    assert!(err.contains("is required at two revisions: `v1.0` by the root project and `main` by the root project"), "{err}");
}

#[test]
fn git_clone_failure_is_reported() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let url = format!("file://{}/nowhere.git", tmp.path().display());
    let root = installed_then(
        tmp.path(),
        &format!("  - git: \"{url}\"\n    revision: v1.0\n"),
        &[],
    );
    let err = fails(&root, &[], "XF0620");
    assert!(
        err.contains(&format!("cannot clone git package `{url}`")),
        "{err}"
    );
    assert!(err.contains("[packages.yml:3:10]"), "{err}");
}

#[test]
fn missing_local_path_is_reported_at_its_entry() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = installed_then(tmp.path(), "  - local: ../not_there\n", &[]);
    let err = fails(&root, &[], "XF0604");
    assert!(
        err.contains("local package `../not_there` does not exist"),
        "{err}"
    );
    assert!(err.contains("[packages.yml:3:12]"), "{err}");
}

#[test]
fn malformed_declarations_are_located() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = installed_then(tmp.path(), "", &[]);
    write(&root, "dependencies.yml", "packages:\n  - local: ../lib\n");
    let err = fails(&root, &[], "XF0601");
    assert!(
        err.contains("both `packages.yml` and `dependencies.yml`"),
        "{err}"
    );
    std::fs::remove_file(root.join("dependencies.yml")).expect("rm");

    write(
        &root,
        "packages.yml",
        "packages:\n  - package: org/alpha\n    version: 1.0.0\n    install-prerelease: true\n",
    );
    let err = fails(&root, &[], "XF0602");
    assert!(err.contains("unknown key `install-prerelease`"), "{err}");
    assert!(err.contains("did you mean `install_prerelease`?"), "{err}");
    assert!(err.contains("[packages.yml:4:5]"), "{err}");

    write(
        &root,
        "packages.yml",
        "packages:\n  - package: dbt_utils\n    version: 1.0.0\n",
    );
    let err = fails(&root, &[], "XF0602");
    assert!(err.contains("hub packages have a namespace"), "{err}");

    write(
        &root,
        "packages.yml",
        "packages:\n  - local: \"{{ env_var('NOT_SET_ANYWHERE') }}\"\n",
    );
    let err = fails(&root, &[], "XF0603");
    assert!(err.contains("NOT_SET_ANYWHERE"), "{err}");
}

#[test]
fn jinja_and_dependencies_yml() {
    let tmp = tempfile::tempdir().expect("temp dir");
    package_project(&tmp.path().join("lib"), "lib_pkg", "select 1 as x\n");
    let root = root_project(tmp.path(), "");
    std::fs::remove_file(root.join("packages.yml")).expect("rm");
    write(
        &root,
        "dependencies.yml",
        "projects:\n  - name: upstream\npackages:\n  - local: \"{{ env_var('LIB_DIR') }}\"\n",
    );
    ok(&root, &["deps"], &[("LIB_DIR", "../lib")]);
    assert!(root.join("dbt_packages/lib_pkg/dbt_project.yml").is_file());
    let lock = read(&root.join("package-lock.yml"));
    assert!(
        lock.starts_with("packages:\n  - local: ../lib\n    name: lib_pkg\n"),
        "{lock}"
    );
}

#[test]
fn add_package_rewrites_packages_yml() {
    let hub = hub_with_alpha_and_beta();
    let url = hub.url();
    let env = [("DBT_PACKAGE_HUB_URL", url.as_str())];
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = root_project(
        tmp.path(),
        "packages:\n  - package: org/alpha\n    version: 1.0.0\n",
    );
    ok(
        &root,
        &[
            "deps",
            "--add-package",
            "org/alpha@>=1.0.0,<2.0.0",
            "--lock",
        ],
        &env,
    );
    assert_eq!(
        read(&root.join("packages.yml")),
        "packages:\n  - package: org/alpha\n    version:\n      - '>=1.0.0'\n      - <2.0.0\n"
    );
    assert!(read(&root.join("package-lock.yml")).contains("version: 1.1.0"));
}

/// The same project through dbt-core's `deps` and ours: the same lock file,
/// the same folders, symlinks where dbt makes symlinks.
#[test]
fn dbt_deps_installs_the_same() {
    let Some(dbt) = dbt() else { return };
    let hub = hub_with_alpha_and_beta();
    hub.publish("org", "gamma", "1.0.0", &json!([]));
    let url = hub.url();
    let tmp = tempfile::tempdir().expect("temp dir");
    let repo = git_repo(tmp.path(), "repo");
    let packages = format!(
        "packages:\n  - local: \"{{{{ env_var('LIB_DIR') }}}}\"\n  - git: \"{url}\"\n    revision: v1.0\n  \
         - git: \"{url}\"\n    subdirectory: sub/inner\n    revision: {second}\n  \
         - package: org/alpha\n    version: [\">=1.0.0\", \"<2.0.0\"]\n  \
         - tarball: \"{hub}tarballs/gamma-1.0.0.tar.gz\"\n    name: gamma_tar\n",
        url = repo.url,
        second = repo.second,
        hub = hub.url(),
    );
    let env = [("DBT_PACKAGE_HUB_URL", url.as_str()), ("LIB_DIR", "../lib")];
    let mut locks = Vec::new();
    let mut layouts = Vec::new();
    for tool in ["dbt", "xform"] {
        let dir = tmp.path().join(tool);
        let root = root_project(&dir, &packages);
        // Both tools resolve the local path against the root project.
        package_project(&dir.join("lib"), "lib_pkg", "select 1 as x\n");
        if tool == "dbt" {
            let out = Command::new(&dbt)
                .args(["deps", "--no-send-anonymous-usage-stats"])
                .current_dir(&root)
                .envs(env)
                .env("HOME", &dir)
                .env("DBT_PROFILES_DIR", &root)
                .output()
                .expect("run dbt");
            assert!(
                out.status.success(),
                "dbt deps: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        } else {
            ok(&root, &["deps"], &env);
        }
        locks.push(read(&root.join("package-lock.yml")));
        layouts.push(
            layout(&root.join("dbt_packages"))
                .into_iter()
                .map(|l| l.replace(&dir.to_string_lossy().into_owned(), "<dir>"))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(locks[1], locks[0], "package-lock.yml differs from dbt's");
    assert_eq!(layouts[1], layouts[0], "dbt_packages/ differs from dbt's");
    assert_eq!(
        layouts[0],
        [
            "alpha",
            "beta",
            "gamma_tar",
            "git_a",
            "inner_pkg",
            "lib_pkg -> <dir>/lib"
        ]
    );
}

#[test]
fn clean_removes_clean_targets_and_deps_reinstalls() {
    let tmp = tempfile::tempdir().expect("temp dir");
    package_project(&tmp.path().join("lib"), "lib_pkg", "select 1 as x\n");
    let root = root_project(tmp.path(), "packages:\n  - local: ../lib\n");
    write(
        &root,
        "dbt_project.yml",
        "name: root\nversion: '1.0'\nconfig-version: 2\nprofile: root\ntarget-path: out\n",
    );
    ok(&root, &["deps"], &[]);
    ok(&root, &["parse"], &[]);
    assert!(root.join("out/manifest.json").is_file());
    // Without `clean-targets`, dbt cleans the target path.
    ok(&root, &["clean"], &[]);
    assert!(!root.join("out").exists());
    assert!(root.join("dbt_packages/lib_pkg").exists());

    write(
        &root,
        "dbt_project.yml",
        "name: root\nversion: '1.0'\nconfig-version: 2\nprofile: root\nclean-targets: [target, dbt_packages]\n",
    );
    ok(&root, &["clean"], &[]);
    assert!(!root.join("dbt_packages").exists());
    // The folder the symlink pointed at is untouched.
    assert!(tmp.path().join("lib/dbt_project.yml").is_file());
    let out = ok(&root, &["deps"], &[]);
    assert!(out.stderr.contains("Installing ../lib"), "{}", out.stderr);
    assert!(root.join("dbt_packages/lib_pkg/dbt_project.yml").is_file());
}

#[test]
fn packages_of_a_local_package_are_installed_and_checked() {
    let hub = hub_with_alpha_and_beta();
    let url = hub.url();
    let env = [("DBT_PACKAGE_HUB_URL", url.as_str())];
    let tmp = tempfile::tempdir().expect("temp dir");
    let lib = tmp.path().join("lib");
    package_project(&lib, "lib_pkg", "select 1 as x\n");
    write(
        &lib,
        "packages.yml",
        "packages:\n  - package: org/beta\n    version: 0.2.0\n",
    );
    let root = root_project(tmp.path(), "packages:\n  - local: ../lib\n");
    ok(&root, &["deps"], &env);
    assert_eq!(layout(&root.join("dbt_packages"))[0], "beta");
    assert!(
        read(&root.join("package-lock.yml"))
            .contains("  - name: beta\n    package: org/beta\n    version: 0.2.0\n")
    );

    // The package's pin and alpha 1.1.0's range exclude each other.
    write(
        &lib,
        "packages.yml",
        "packages:\n  - package: org/beta\n    version: 0.1.0\n",
    );
    write(
        &root,
        "packages.yml",
        "packages:\n  - local: ../lib\n  - package: org/alpha\n    version: 1.1.0\n",
    );
    let err = fails(&root, &env, "XF0613");
    assert!(
        err.contains("conflicting versions of `org/beta`: package `lib_pkg` requires =0.1.0 and `org/alpha` 1.1.0 requires >=0.2.0"),
        "{err}"
    );
    assert!(err.contains("[../lib/packages.yml:3:14]"), "{err}");
}
