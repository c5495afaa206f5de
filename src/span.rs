//! Source locations. Every diagnostic points at the file the user wrote, so
//! spans are byte ranges into the original file contents (never into
//! rendered SQL).

use std::path::PathBuf;
use std::sync::Arc;

/// A byte range in a file on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpan {
    pub file: Arc<PathBuf>,
    pub offset: usize,
    pub len: usize,
}

impl SourceSpan {
    pub fn new(file: Arc<PathBuf>, offset: usize, len: usize) -> Self {
        Self { file, offset, len }
    }
}

/// Byte offset of a 1-based line and column (counted in characters) in `text`.
pub fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let within: usize = l
                .chars()
                .take(col.saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            return offset + within;
        }
        offset += l.len();
    }
    text.len()
}

/// 1-based line and column of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit_once('\n')
        .map_or(before, |(_, rest)| rest)
        .chars()
        .count()
        + 1;
    (line, col)
}
