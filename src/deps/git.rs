//! Git packages through the `git` command, as dbt fetches them: a shallow
//! clone (`--branch` for a branch or tag; sparse for a `subdirectory:`),
//! then for a commit a shallow fetch of that commit and a hard reset to it.

use std::path::Path;
use std::process::{Command, Stdio};

/// What went wrong fetching a git package.
#[derive(Debug)]
pub enum GitError {
    /// `git` could not be run at all.
    NotInstalled(String),
    /// The repository could not be cloned (git's message).
    Clone(String),
    /// The repository has no such branch, tag or commit (git's message).
    Revision(String),
    /// The repository has no such folder at that revision.
    Subdirectory,
}

/// A full commit SHA-1, which dbt fetches by itself instead of cloning a
/// branch of that name.
pub fn is_commit(revision: &str) -> bool {
    revision.len() == 40
        && revision
            .bytes()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

fn git(cwd: &Path, args: &[&str]) -> Result<String, GitError> {
    tracing::debug!("git {} (in {})", args.join(" "), cwd.display());
    let out = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .env("LC_ALL", "C")
        // Never wait for a password on a terminal: a private repository
        // without credentials is a clone failure, not a hang.
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| GitError::NotInstalled(e.to_string()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        Err(GitError::Clone(if err.is_empty() {
            format!("git {} failed with {}", args[0], out.status)
        } else {
            err
        }))
    }
}

fn as_revision(e: GitError) -> GitError {
    match e {
        GitError::Clone(m) => GitError::Revision(m),
        other => other,
    }
}

/// Clones `url` at `revision` (the remote's HEAD when `None`) into `dest`,
/// which must not exist, and returns the commit it is at.
pub fn fetch(
    url: &str,
    revision: Option<&str>,
    subdirectory: Option<&str>,
    dest: &Path,
) -> Result<String, GitError> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    let dest_s = dest.to_string_lossy();
    let commit = revision.filter(|r| is_commit(r));
    let mut args = vec!["clone", "--depth", "1"];
    if subdirectory.is_some() {
        args.extend(["--filter=blob:none", "--sparse"]);
    }
    if let Some(r) = revision
        && commit.is_none()
        && r != "HEAD"
    {
        args.extend(["--branch", r]);
    }
    args.extend([url, &dest_s]);
    git(parent, &args).map_err(|e| match e {
        GitError::Clone(m)
            if revision.is_some() && m.contains("Remote branch") && m.contains("not found") =>
        {
            GitError::Revision(m)
        }
        other => other,
    })?;
    if let Some(sub) = subdirectory {
        git(dest, &["sparse-checkout", "set", sub])?;
    }
    if let Some(sha) = commit {
        git(dest, &["fetch", "origin", "--depth", "1", sha]).map_err(as_revision)?;
        git(dest, &["reset", "--hard", sha]).map_err(as_revision)?;
    }
    if let Some(sub) = subdirectory
        && !dest.join(sub).is_dir()
    {
        return Err(GitError::Subdirectory);
    }
    git(dest, &["rev-parse", "HEAD"])
}
