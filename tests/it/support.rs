//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::compat::pg;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    repo().join("tests/fixtures").join(rel)
}

/// Writes `text` to `rel` under `dir`, creating folders.
pub fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

/// Writes a `profiles.yml` with a `DuckDB` file output for the project's
/// profile, unless the project has one (run fixtures get theirs from the
/// harness).
pub fn ensure_duckdb_profile(dir: &Path) {
    let profiles = dir.join("profiles.yml");
    if profiles.exists() {
        return;
    }
    let name = std::fs::read_to_string(dir.join("dbt_project.yml"))
        .expect("dbt_project.yml")
        .lines()
        .find_map(|l| l.strip_prefix("profile:").map(|p| p.trim().to_owned()))
        .expect("profile");
    std::fs::write(
        profiles,
        format!("{name}:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: warehouse.duckdb\n"),
    )
    .expect("profiles.yml");
}

/// Copies a project folder into a fresh temp folder (without `target/`).
pub fn copy_project(src: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(src, dir.path());
    dir
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for entry in std::fs::read_dir(src).expect("read_dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name == "target" || name == "logs" || name.to_string_lossy().ends_with(".duckdb") {
            continue;
        }
        let from = entry.path();
        let to = dst.join(&name);
        if from.is_dir() {
            copy_dir(&from, &to);
        } else {
            std::fs::copy(&from, &to).expect("copy");
        }
    }
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `xform` with `args` in `dir`, without colours, at a fixed width.
pub fn xform(dir: &Path, args: &[&str]) -> Output {
    xform_env(dir, args, &[])
}

/// `xform` with extra environment variables.
pub fn xform_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_xform"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("DBT_PROFILES_DIR")
        .env("HOME", dir)
        .env_remove("XFORM_LOG")
        .output()
        .expect("run xform");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The `target/manifest.json` an xform command wrote in `dir`.
pub fn read_manifest(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("target/manifest.json")).expect("manifest");
    serde_json::from_str(&text).expect("manifest json")
}

/// Every file under `dir`, as (relative path, contents), sorted.
pub fn read_tree(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !dir.exists() {
        return out;
    }
    for e in walk(dir) {
        let rel = e
            .strip_prefix(dir)
            .expect("prefix")
            .to_string_lossy()
            .into_owned();
        out.push((rel, std::fs::read_to_string(&e).unwrap_or_default()));
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Settings that store snapshots in the top-level `snapshots/` folder and
/// hide temp paths and timings.
pub fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(repo().join("snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.add_filter(r"in \d+\.\d+s", "in [TIME]");
    s.add_filter(r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]");
    s
}

/// The dbt executable from the reference venv, if there is one. Under
/// `CI=true` a missing dbt fails the test instead of skipping it.
pub fn dbt() -> Option<PathBuf> {
    let found = std::env::var_os("XFORM_DBT")
        .map(PathBuf::from)
        .filter(|p| p.exists());
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "XFORM_DBT is not set: CI must compare against dbt-core (run the suite with ./dev test)"
        );
        eprintln!("skipping: dbt-core not available (set XFORM_DBT or run ./dev test)");
    }
    found
}

/// The test Postgres server (`XFORM_TEST_PG_URL`, a superuser, set by
/// `.ci/postgres.sh`), if there is one. Under `CI=true` a missing server
/// fails the test instead of skipping it.
pub fn pg_url() -> Option<String> {
    let url = std::env::var("XFORM_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "XFORM_TEST_PG_URL is not set: CI must run the Postgres tests (run the suite with ./dev test)"
        );
        eprintln!("skipping: no test Postgres server (XFORM_TEST_PG_URL; ./dev test starts one)");
    }
    url
}

/// A fresh database on the test server, dropped when this is dropped (the
/// harness's `compat::pg::Database`, with failures as panics).
pub struct PgDatabase(pg::Database);

impl PgDatabase {
    /// Creates a database named after `label` (and this process and a
    /// counter, so parallel tests never share one).
    pub fn create(admin_url: &str, label: &str) -> Self {
        let server = pg::Server::new(admin_url).unwrap_or_else(|e| panic!("{e:#}"));
        Self(pg::Database::create(&server, label).unwrap_or_else(|e| panic!("{e:#}")))
    }

    /// A connection to this database as the test superuser.
    pub fn connect(&self) -> postgres::Client {
        self.0.connect().unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Every row of a query, cells as text (NULL as `None`).
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.0.rows(sql).unwrap_or_else(|e| panic!("{e:#}"))
    }
}

impl std::ops::Deref for PgDatabase {
    type Target = pg::Database;

    fn deref(&self) -> &pg::Database {
        &self.0
    }
}
