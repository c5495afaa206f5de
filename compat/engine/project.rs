//! A tool's own copy of the project: files copied (date placeholders filled
//! in), overlays and deletions applied per step, and the profile the harness
//! writes for it.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use chrono::NaiveDate;
use serde::Deserialize;

use super::Warehouse;
use super::pg::Server;

/// What the harness needs from `dbt_project.yml`.
#[derive(Debug, Clone)]
pub struct ProjectInfo {
    pub name: String,
    pub profile: String,
    pub target_path: String,
}

impl ProjectInfo {
    pub fn read(project: &Path) -> Result<ProjectInfo> {
        #[derive(Deserialize)]
        struct File {
            name: String,
            #[serde(default)]
            profile: Option<String>,
            #[serde(default, rename = "target-path")]
            target_path: Option<String>,
        }
        let path = project.join("dbt_project.yml");
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        let file: File =
            serde_saphyr::from_str(&text).with_context(|| format!("{}", path.display()))?;
        Ok(ProjectInfo {
            profile: file.profile.unwrap_or_else(|| "default".to_owned()),
            name: file.name,
            target_path: file.target_path.unwrap_or_else(|| "target".to_owned()),
        })
    }
}

/// Where a tool's profile points.
pub enum Connection<'a> {
    /// A `DuckDB` file.
    DuckDb(&'a Path),
    /// A database on a Postgres server.
    Postgres(&'a Server, &'a str),
}

/// The environment variable a Postgres profile reads its password from, so
/// that the password is never written to disk.
pub const PASSWORD_VAR: &str = "XFORM_COMPAT_PG_PASSWORD";

/// `profiles.yml` with one output, named after the warehouse and the
/// default target: a `DuckDB` file, or a database on the server in schema
/// `main` (`DuckDB`'s default schema, so that relation names read the same
/// on both).
pub fn profile_yaml(profile: &str, conn: &Connection, threads: usize) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let (target, body) = match conn {
        Connection::DuckDb(path) => (
            Warehouse::DuckDb,
            format!(
                "      type: duckdb\n      path: {}\n",
                q(&path.to_string_lossy())
            ),
        ),
        Connection::Postgres(server, db) => (
            Warehouse::Postgres,
            format!(
                "      type: postgres\n      host: {}\n      port: {}\n      user: {}\n      \
                 password: \"{{{{ env_var('{PASSWORD_VAR}') }}}}\"\n      dbname: {}\n      \
                 schema: main\n      search_path: main\n",
                q(&server.host()),
                server.port(),
                q(&server.user()),
                q(db)
            ),
        ),
    };
    let name = target.name();
    format!(
        "{}:\n  target: {name}\n  outputs:\n    {name}:\n{body}      threads: {threads}\n",
        q(profile)
    )
}

/// Copies a project into `dst`: every file but build output (`target/`,
/// `logs/`, `*.duckdb`) and, for a case with `steps.yml`, `steps.yml` and
/// its `step_*` overlay folders. Text files get their date placeholders
/// filled. A symbolic link (a local package in `dbt_packages/`, say) is
/// copied as a link to where the original points.
pub fn copy_project(src: &Path, dst: &Path, today: NaiveDate, is_case: bool) -> Result<()> {
    std::fs::create_dir_all(dst).with_context(|| format!("create {}", dst.display()))?;
    for entry in std::fs::read_dir(src).with_context(|| format!("read {}", src.display()))? {
        let entry = entry.with_context(|| format!("read {}", src.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "target"
            || name == "logs"
            || name == ".git"
            || name.ends_with(".duckdb")
            || name.ends_with(".duckdb.wal")
            || (is_case && (name == "steps.yml" || name.starts_with("step_")))
        {
            continue;
        }
        copy_tree(&entry.path(), &dst.join(&*name), today)?;
    }
    Ok(())
}

/// Copies a file or folder over `to`; text files get their date
/// placeholders filled.
pub fn copy_tree(from: &Path, to: &Path, today: NaiveDate) -> Result<()> {
    let meta = std::fs::symlink_metadata(from).with_context(|| format!("{}", from.display()))?;
    if meta.file_type().is_symlink() {
        let target = std::fs::canonicalize(from)
            .with_context(|| format!("resolve link {}", from.display()))?;
        let _ = std::fs::remove_file(to);
        std::os::unix::fs::symlink(&target, to)
            .with_context(|| format!("link {}", to.display()))?;
    } else if meta.is_dir() {
        std::fs::create_dir_all(to).with_context(|| format!("create {}", to.display()))?;
        for entry in std::fs::read_dir(from).with_context(|| format!("read {}", from.display()))? {
            let entry = entry.with_context(|| format!("read {}", from.display()))?;
            copy_tree(&entry.path(), &to.join(entry.file_name()), today)?;
        }
    } else {
        let bytes = std::fs::read(from).with_context(|| format!("read {}", from.display()))?;
        let bytes = match String::from_utf8(bytes) {
            Ok(text) => fill_dates(&text, today).into_bytes(),
            Err(e) => e.into_bytes(),
        };
        std::fs::write(to, bytes).with_context(|| format!("write {}", to.display()))?;
    }
    Ok(())
}

/// Removes a project file or folder (a step's `delete:`).
pub fn delete(project: &Path, rel: &str) -> Result<()> {
    let p: PathBuf = project.join(rel);
    if p.is_dir() {
        std::fs::remove_dir_all(&p)
    } else {
        std::fs::remove_file(&p)
    }
    .with_context(|| format!("delete {rel}"))
}

/// Replaces `@today@`, `@today-N@` and `@today+N@` with ISO dates:
/// microbatch batches are computed from the current time, so a fixture
/// places events relative to today.
pub fn fill_dates(text: &str, today: NaiveDate) -> String {
    if !text.contains("@today") {
        return text.to_owned();
    }
    let re = regex::Regex::new(r"@today(?:([+-])(\d+))?@").expect("a valid regex");
    re.replace_all(text, |c: &regex::Captures| {
        let days: i64 = c.get(2).map_or(0, |d| d.as_str().parse().unwrap_or(0));
        let days = if c.get(1).is_some_and(|s| s.as_str() == "-") {
            -days
        } else {
            days
        };
        (today + chrono::TimeDelta::days(days))
            .format("%Y-%m-%d")
            .to_string()
    })
    .into_owned()
}
