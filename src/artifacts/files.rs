//! Many small files under `target/` (the compiled SQL of every node), written
//! so that a repeated command costs little: a file that already holds its
//! text is left alone (reading it is cheaper than rewriting it), and each
//! file is opened relative to its folder, so the kernel walks the long path
//! of the folder once rather than once per file.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

/// Writes each `(path, text)`, creating folders, leaving files that already
/// hold their text untouched. Files are written in order, one folder at a
/// time, from the calling thread: creating files in one folder from several
/// threads contends on the folder's lock and is slower on ext4.
pub fn write_all(files: &[(PathBuf, &str)]) -> std::io::Result<()> {
    let mut by_dir: IndexMap<&Path, Vec<(&std::ffi::OsStr, &str)>> = IndexMap::new();
    for (path, text) in files {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(std::io::Error::other(format!(
                "`{}` is not a file path",
                path.display()
            )));
        };
        by_dir.entry(dir).or_default().push((name, text));
    }
    let mut buf = Vec::new();
    for (dir, entries) in by_dir {
        // A folder this call creates holds no earlier files to compare with.
        let existed = dir.is_dir();
        if !existed {
            std::fs::create_dir_all(dir).map_err(|e| at(dir, &e))?;
        }
        let folder = Dir::open(dir).map_err(|e| at(dir, &e))?;
        for (name, text) in entries {
            if existed && folder.holds(name, text.as_bytes(), &mut buf) {
                continue;
            }
            folder
                .write(name, text.as_bytes())
                .map_err(|e| at(&dir.join(name), &e))?;
        }
    }
    Ok(())
}

/// The error, naming the file or folder it is about.
fn at(path: &Path, e: &std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("cannot write `{}`: {e}", path.display()))
}

#[cfg(unix)]
struct Dir(std::os::fd::OwnedFd);

#[cfg(unix)]
impl Dir {
    fn open(path: &Path) -> std::io::Result<Self> {
        use nix::fcntl::OFlag;
        let fd = nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?;
        Ok(Self(fd))
    }

    fn file(
        &self,
        name: &std::ffi::OsStr,
        flags: nix::fcntl::OFlag,
    ) -> std::io::Result<std::fs::File> {
        let fd = nix::fcntl::openat(
            &self.0,
            name,
            flags | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
        )?;
        Ok(std::fs::File::from(fd))
    }

    /// Whether the file `name` holds exactly `text`.
    fn holds(&self, name: &std::ffi::OsStr, text: &[u8], buf: &mut Vec<u8>) -> bool {
        self.file(name, nix::fcntl::OFlag::O_RDONLY)
            .is_ok_and(|f| same_contents(f, text, buf))
    }

    fn write(&self, name: &std::ffi::OsStr, text: &[u8]) -> std::io::Result<()> {
        use nix::fcntl::OFlag;
        self.file(name, OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC)?
            .write_all(text)
    }
}

#[cfg(not(unix))]
struct Dir(PathBuf);

#[cfg(not(unix))]
impl Dir {
    fn open(path: &Path) -> std::io::Result<Self> {
        Ok(Self(path.to_path_buf()))
    }

    fn holds(&self, name: &std::ffi::OsStr, text: &[u8], buf: &mut Vec<u8>) -> bool {
        std::fs::File::open(self.0.join(name)).is_ok_and(|f| same_contents(f, text, buf))
    }

    fn write(&self, name: &std::ffi::OsStr, text: &[u8]) -> std::io::Result<()> {
        std::fs::write(self.0.join(name), text)
    }
}

/// Reads at most one byte more than `text` (no size query first) and
/// compares.
fn same_contents(mut f: std::fs::File, text: &[u8], buf: &mut Vec<u8>) -> bool {
    buf.clear();
    buf.resize(text.len() + 1, 0);
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    &buf[..filled] == text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_new_and_changed_files_and_keeps_unchanged_ones() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = dir.path().join("x/y/a.sql");
        let b = dir.path().join("x/y/b.sql");
        let c = dir.path().join("x/c.sql");
        write_all(&[
            (a.clone(), "select 1"),
            (b.clone(), "select 2"),
            (c.clone(), ""),
        ])
        .expect("first write");
        assert_eq!(std::fs::read_to_string(&a).expect("a"), "select 1");
        assert_eq!(std::fs::read_to_string(&c).expect("c"), "");
        let before = std::fs::metadata(&a)
            .expect("meta")
            .modified()
            .expect("mtime");
        std::thread::sleep(std::time::Duration::from_millis(20));
        // Longer, shorter and equal texts.
        write_all(&[
            (a.clone(), "select 1"),
            (b.clone(), "select 22"),
            (c.clone(), "x"),
        ])
        .expect("second write");
        assert_eq!(
            std::fs::metadata(&a)
                .expect("meta")
                .modified()
                .expect("mtime"),
            before,
            "an unchanged file is not rewritten"
        );
        assert_eq!(std::fs::read_to_string(&b).expect("b"), "select 22");
        assert_eq!(std::fs::read_to_string(&c).expect("c"), "x");
        write_all(&[(b.clone(), "select")]).expect("third write");
        assert_eq!(std::fs::read_to_string(&b).expect("b"), "select");
        // A folder where a file should be: the error names it.
        std::fs::remove_file(&b).expect("remove b");
        std::fs::create_dir(&b).expect("dir at b");
        let err = write_all(&[(b.clone(), "select")]).expect_err("a folder is not a file");
        assert!(err.to_string().contains("b.sql"), "{err}");
    }
}
