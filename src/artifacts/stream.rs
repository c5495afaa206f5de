//! Writing a long JSON array or object whose entries are serialized in
//! parallel: the manifest's nodes, the results of `run_results.json`.
//!
//! The entries are cut into chunks. Every rayon worker claims the next
//! unclaimed chunk, serializes it into a buffer and hands the buffer to one
//! writer thread, which writes the buffers in chunk order as soon as each
//! one's predecessors are written. Workers never wait for each other, so
//! the last chunks of one stretch are not a tail with an idle core, and the
//! file is written while later chunks are still being serialized. Chunks
//! are claimed in order, so only a few finished ones wait for an earlier one
//! and memory stays bounded: a worker that gets far ahead waits on the
//! bounded channel.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Writes the entries of `items` to `sink`, in order, in chunks of
/// `per_chunk` items. `entries` serializes one chunk: every entry it writes
/// starts with a comma, and the first comma of the whole stream is dropped,
/// so the result goes between `[` and `]` (or `{` and `}`) as is.
/// `bytes_per_item` sizes each chunk's buffer.
pub fn write_entries<T, F>(
    items: &[T],
    per_chunk: usize,
    bytes_per_item: usize,
    sink: &mut (dyn Write + Send),
    entries: F,
) -> io::Result<()>
where
    T: Sync,
    F: Fn(&[T], &mut Vec<u8>) -> io::Result<()> + Sync,
{
    let chunks: Vec<&[T]> = items.chunks(per_chunk.max(1)).collect();
    let workers = rayon::current_num_threads().max(1).min(chunks.len());
    if workers == 0 {
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, io::Result<Vec<u8>>)>(2 * workers);
    // Written buffers go back to the workers: a handful of buffers, reused,
    // instead of a fresh one (fresh memory, page faults) per chunk.
    let spare: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
    let spare = &spare;
    std::thread::scope(|s| {
        let writer = s.spawn(move || -> io::Result<()> {
            let mut waiting = BTreeMap::new();
            let mut due = 0;
            let mut first = true;
            for (i, buf) in rx {
                waiting.insert(i, buf?);
                while let Some(buf) = waiting.remove(&due) {
                    due += 1;
                    let body = if first {
                        buf.get(1..).unwrap_or_default()
                    } else {
                        &buf[..]
                    };
                    first &= buf.is_empty();
                    sink.write_all(body)?;
                    let mut buf = buf;
                    buf.clear();
                    if let Ok(mut spare) = spare.lock() {
                        spare.push(buf);
                    }
                }
            }
            Ok(())
        });
        let (chunks, next, entries) = (&chunks, &next, &entries);
        rayon::scope(|r| {
            for _ in 0..workers {
                let tx = tx.clone();
                r.spawn(move |_| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(chunk) = chunks.get(i) else { return };
                        let mut buf = spare
                            .lock()
                            .ok()
                            .and_then(|mut s| s.pop())
                            .unwrap_or_default();
                        buf.reserve(chunk.len() * bytes_per_item);
                        let done = entries(chunk, &mut buf).map(|()| buf);
                        // The writer stopped: it returns its error below.
                        if tx.send((i, done)).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        drop(tx);
        writer
            .join()
            .map_err(|_| io::Error::other("the writer thread panicked"))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks finish in any order; the output is in item order, with the
    /// first comma dropped, empty chunks skipped, whatever the chunk size.
    #[test]
    fn entries_are_written_in_order() {
        let items: Vec<u32> = (0..1000).collect();
        let want = items
            .iter()
            .filter(|i| *i % 7 != 0)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        for per_chunk in [1, 3, 7, 64, 1000, 5000] {
            let mut out: Vec<u8> = Vec::new();
            write_entries(&items, per_chunk, 4, &mut out, |chunk, buf| {
                // Uneven work, so that later chunks often finish first.
                if chunk[0] % 3 == 0 {
                    std::thread::yield_now();
                }
                for i in chunk.iter().filter(|i| *i % 7 != 0) {
                    buf.push(b',');
                    buf.extend_from_slice(i.to_string().as_bytes());
                }
                Ok(())
            })
            .expect("written");
            assert_eq!(String::from_utf8(out).expect("utf-8"), want, "{per_chunk}");
        }
    }

    #[test]
    fn nothing_to_write_writes_nothing() {
        let mut out: Vec<u8> = Vec::new();
        write_entries::<u8, _>(&[], 8, 8, &mut out, |_, _| Ok(())).expect("written");
        assert!(out.is_empty());
    }

    /// A chunk that fails stops the writing and its error is returned.
    #[test]
    fn a_failing_chunk_is_the_error() {
        let items: Vec<u32> = (0..500).collect();
        let mut out: Vec<u8> = Vec::new();
        let err = write_entries(&items, 10, 8, &mut out, |chunk, buf| {
            if chunk.contains(&250) {
                return Err(io::Error::other("chunk 25 failed"));
            }
            buf.extend_from_slice(b",x");
            Ok(())
        })
        .expect_err("fails");
        assert_eq!(err.to_string(), "chunk 25 failed");
    }
}
