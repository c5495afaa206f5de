//! Many small files under `target/` (the compiled SQL of every node), written
//! so that a repeated command costs little: a file that already holds its
//! text is left alone (reading it is cheaper than rewriting it), and each
//! file is opened relative to its folder, so the kernel walks the long path
//! of the folder once rather than once per file.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

/// A file to write in a folder: its name and text.
type Entry<'a> = (&'a std::ffi::OsStr, &'a str);

/// Writes each `(path, text)`, creating folders, leaving files that already
/// hold their text untouched.
///
/// Creating a file costs the kernel tens of microseconds, far more than
/// writing its few hundred bytes, so a large `compile` spends most of its
/// last second here. The files are handed out to up to `threads` threads
/// in pieces of a folder ([`Pieces`]): a thread writes in a folder no other
/// thread is writing in while there is one, as creating files in one folder
/// from several threads contends on the folder's lock, and joins another
/// thread's folder only when none is left, rather than wait idle while the
/// last large folder is written.
pub fn write_all(files: &[(PathBuf, &str)], threads: usize) -> std::io::Result<()> {
    let mut by_dir: IndexMap<&Path, Vec<Entry<'_>>> = IndexMap::new();
    for (path, text) in files {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(std::io::Error::other(format!(
                "`{}` is not a file path",
                path.display()
            )));
        };
        by_dir.entry(dir).or_default().push((name, text));
    }
    // Folders are made first, in order, so that threads never race to
    // create the same parent.
    let mut folders: Vec<Folder<'_>> = Vec::with_capacity(by_dir.len());
    for (dir, entries) in by_dir {
        // A folder this call creates holds no earlier files to compare with.
        let existed = dir.is_dir();
        if !existed {
            std::fs::create_dir_all(dir).map_err(|e| at(dir, &e))?;
        }
        folders.push(Folder {
            dir,
            existed,
            entries,
        });
    }
    let threads = threads.clamp(1, files.len().max(1));
    if threads == 1 {
        return folders
            .iter()
            .try_for_each(|f| write_folder(f.dir, f.existed, &f.entries));
    }
    let pieces = Pieces::new(&folders);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> std::io::Result<()> {
                    while let Some((i, range)) = pieces.take() {
                        let f = &folders[i];
                        let written = write_folder(f.dir, f.existed, &f.entries[range]);
                        pieces.finished(i);
                        if written.is_err() {
                            pieces.stop();
                        }
                        written?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .map_err(|_| std::io::Error::other("a compiled-file writer panicked"))?
        })
    })
}

/// The files to write in one folder.
struct Folder<'a> {
    dir: &'a Path,
    existed: bool,
    entries: Vec<Entry<'a>>,
}

/// Hands out the files of all folders in pieces, each piece a run of one
/// folder's files.
struct Pieces {
    state: std::sync::Mutex<PiecesState>,
}

struct PiecesState {
    /// Per folder: the first file not handed out, how many files it has,
    /// and how many threads are writing in it.
    folders: Vec<(usize, usize, usize)>,
    stopped: bool,
}

impl Pieces {
    /// Files per piece: enough that taking pieces costs nothing next to
    /// writing them, few enough that the threads end together.
    const SIZE: usize = 128;

    fn new(folders: &[Folder<'_>]) -> Self {
        Self {
            state: std::sync::Mutex::new(PiecesState {
                folders: folders.iter().map(|f| (0, f.entries.len(), 0)).collect(),
                stopped: false,
            }),
        }
    }

    /// The next piece: from the folder with the most files left among
    /// those no thread writes in, else among all.
    fn take(&self) -> Option<(usize, std::ops::Range<usize>)> {
        let mut st = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if st.stopped {
            return None;
        }
        let left = |&(next, len, _): &(usize, usize, usize)| len - next;
        let pick = |alone: bool| {
            st.folders
                .iter()
                .enumerate()
                .filter(|(_, f)| left(f) > 0 && (!alone || f.2 == 0))
                .max_by_key(|(i, f)| (left(f), std::cmp::Reverse(*i)))
                .map(|(i, _)| i)
        };
        let i = pick(true).or_else(|| pick(false))?;
        let f = &mut st.folders[i];
        let start = f.0;
        f.0 = (start + Self::SIZE).min(f.1);
        f.2 += 1;
        Some((i, start..f.0))
    }

    /// A thread is done with its piece of folder `i`.
    fn finished(&self, i: usize) {
        let mut st = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        st.folders[i].2 -= 1;
    }

    /// An error: no more pieces are handed out.
    fn stop(&self) {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .stopped = true;
    }
}

/// Writes files of one folder, skipping those that already hold their
/// text when the folder existed before.
fn write_folder(dir: &Path, existed: bool, entries: &[Entry<'_>]) -> std::io::Result<()> {
    let folder = Dir::open(dir).map_err(|e| at(dir, &e))?;
    let mut buf = Vec::new();
    for (name, text) in entries {
        if existed && folder.holds(name, text.as_bytes(), &mut buf) {
            continue;
        }
        folder
            .write(name, text.as_bytes())
            .map_err(|e| at(&dir.join(name), &e))?;
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
        write_all(
            &[
                (a.clone(), "select 1"),
                (b.clone(), "select 2"),
                (c.clone(), ""),
            ],
            2,
        )
        .expect("first write");
        assert_eq!(std::fs::read_to_string(&a).expect("a"), "select 1");
        assert_eq!(std::fs::read_to_string(&c).expect("c"), "");
        let before = std::fs::metadata(&a)
            .expect("meta")
            .modified()
            .expect("mtime");
        std::thread::sleep(std::time::Duration::from_millis(20));
        // Longer, shorter and equal texts.
        write_all(
            &[
                (a.clone(), "select 1"),
                (b.clone(), "select 22"),
                (c.clone(), "x"),
            ],
            2,
        )
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
        write_all(&[(b.clone(), "select")], 2).expect("third write");
        assert_eq!(std::fs::read_to_string(&b).expect("b"), "select");
        // A folder where a file should be: the error names it.
        std::fs::remove_file(&b).expect("remove b");
        std::fs::create_dir(&b).expect("dir at b");
        let err = write_all(&[(b.clone(), "select")], 2).expect_err("a folder is not a file");
        assert!(err.to_string().contains("b.sql"), "{err}");
    }

    #[test]
    fn pieces_keep_threads_in_their_own_folders_until_none_is_left() {
        let names: Vec<String> = (0..300).map(|i| format!("f{i}.sql")).collect();
        let entries = |n: usize| -> Vec<Entry<'_>> {
            names[..n]
                .iter()
                .map(|s| (std::ffi::OsStr::new(s.as_str()), "x"))
                .collect()
        };
        let folders = [
            Folder {
                dir: Path::new("a"),
                existed: false,
                entries: entries(300),
            },
            Folder {
                dir: Path::new("b"),
                existed: false,
                entries: entries(10),
            },
        ];
        let pieces = Pieces::new(&folders);
        // The largest folder first, then the folder nobody writes in.
        assert_eq!(pieces.take(), Some((0, 0..128)));
        assert_eq!(pieces.take(), Some((1, 0..10)));
        // Every folder with files left has a writer: join the largest.
        assert_eq!(pieces.take(), Some((0, 128..256)));
        pieces.finished(0);
        pieces.finished(1);
        pieces.finished(0);
        assert_eq!(pieces.take(), Some((0, 256..300)));
        assert_eq!(pieces.take(), None);
        // After an error nothing more is handed out.
        let pieces = Pieces::new(&folders);
        pieces.stop();
        assert_eq!(pieces.take(), None);
    }

    #[test]
    fn folders_are_shared_between_threads() {
        let dir = tempfile::tempdir().expect("temp dir");
        let files: Vec<(PathBuf, String)> = (0..7)
            .flat_map(|d| {
                let folder = dir.path().join(format!("d{d}/e"));
                (0..d * 5)
                    .map(move |i| (folder.join(format!("f{i}.sql")), format!("select {d}, {i}")))
            })
            .collect();
        let borrowed: Vec<(PathBuf, &str)> =
            files.iter().map(|(p, t)| (p.clone(), t.as_str())).collect();
        for threads in [1, 2, 8] {
            write_all(&borrowed, threads).expect("write");
            for (p, t) in &files {
                assert_eq!(&std::fs::read_to_string(p).expect("read"), t);
            }
        }
        // An error in one thread's folder is returned.
        let bad = dir.path().join("d6/e/f0.sql");
        std::fs::remove_file(&bad).expect("remove");
        std::fs::create_dir(&bad).expect("dir in its place");
        let err = write_all(&borrowed, 2).expect_err("a folder is not a file");
        assert!(err.to_string().contains("f0.sql"), "{err}");
    }
}
