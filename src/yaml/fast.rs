//! A fast reader for the YAML dbt projects are mostly written in.
//!
//! Properties files are large (tens of thousands of lines in a big project)
//! and almost always use a small part of YAML: block mappings and
//! sequences, one-line plain and quoted scalars, literal and folded block
//! scalars, one-line flow collections, comments. This reader handles exactly that part, several times faster
//! than the general parser, and builds the same tree with the same
//! locations. On anything else (multi-line flow scalars or
//! collections, anchors, tags, documents markers, tabs, carriage returns,
//! and every syntax error) it gives up and [`super::parse`] reads the file
//! with the general parser, which also reports the errors. Its tests compare
//! both readers' trees, locations included.

use super::{Yaml, YamlKind, merge_keys, plain_kind};

/// The file's tree, or `None` when it uses YAML this reader leaves to the
/// general parser.
pub(super) fn parse(text: &str) -> Option<Yaml> {
    if !plain_text(text.as_bytes()) {
        return None;
    }
    let mut r = Reader {
        text,
        s: text.as_bytes(),
        i: 0,
        line: 1,
        line_start: 0,
    };
    r.skip_to_token()?;
    if r.i >= r.s.len() {
        return Some(Yaml::null());
    }
    let root = r.block_node(r.i - r.line_start)?;
    r.skip_to_token()?;
    (r.i >= r.s.len()).then_some(root)
}

/// No bytes the general parser treats specially or rejects: controls other
/// than newline (tabs and carriage returns included), DEL, C1 controls,
/// byte-order marks and the non-characters U+FFFE/U+FFFF.
fn plain_text(s: &[u8]) -> bool {
    let mut k = 0;
    while k < s.len() {
        let b = s[k];
        if b < 0x20 && b != b'\n' || b == 0x7f {
            return false;
        }
        if b == 0xc2 && s.get(k + 1).is_some_and(|c| (0x80..0xa0).contains(c)) {
            return false;
        }
        if b == 0xef
            && matches!(
                (s.get(k + 1), s.get(k + 2)),
                (Some(0xbb), Some(0xbf)) | (Some(0xbf), Some(0xbe | 0xbf))
            )
        {
            return false;
        }
        k += 1;
    }
    true
}

struct Reader<'a> {
    text: &'a str,
    s: &'a [u8],
    /// The next byte to read.
    i: usize,
    /// The line of `i` (from 1) and the offset its line starts at.
    line: usize,
    line_start: usize,
}

/// What a scalar is followed by on its line.
#[derive(PartialEq)]
enum After {
    /// `: ` or `:` at the end of the line: the scalar is a key.
    Colon,
    Other,
}

impl Reader<'_> {
    fn peek(&self) -> u8 {
        self.s.get(self.i).copied().unwrap_or(0)
    }

    fn at(&self, k: usize) -> u8 {
        self.s.get(k).copied().unwrap_or(0)
    }

    /// Whether the byte at `k` ends a token: a space, a line end, the end.
    fn blank_at(&self, k: usize) -> bool {
        matches!(self.at(k), b' ' | b'\n' | 0)
    }

    /// 1-based column of offset `k` on the current line, in characters.
    fn col(&self, k: usize) -> usize {
        let seg = &self.text[self.line_start..k];
        1 + if seg.is_ascii() {
            seg.len()
        } else {
            seg.chars().count()
        }
    }

    fn node(&self, kind: YamlKind, start: usize, end: usize) -> Yaml {
        Yaml {
            kind,
            offset: start,
            len: end - start,
            line: self.line,
            col: self.col(start),
        }
    }

    /// Moves to the next token: past spaces, line ends and comments. `None`
    /// at a document marker (`---`, `...`), which this reader leaves alone.
    fn skip_to_token(&mut self) -> Option<()> {
        loop {
            match self.peek() {
                b' ' => self.i += 1,
                b'\n' => {
                    self.i += 1;
                    self.line += 1;
                    self.line_start = self.i;
                }
                b'#' if self.i == self.line_start || self.at(self.i - 1) == b' ' => {
                    self.skip_line();
                }
                _ => {
                    if self.i == self.line_start
                        && self.i + 3 <= self.s.len()
                        && matches!(&self.s[self.i..self.i + 3], b"---" | b"...")
                        && self.blank_at(self.i + 3)
                    {
                        return None;
                    }
                    return Some(());
                }
            }
        }
    }

    /// To the end of the line (not past its newline).
    fn skip_line(&mut self) {
        while !matches!(self.peek(), b'\n' | 0) {
            self.i += 1;
        }
    }

    /// After a value on its line: only spaces and a comment may follow.
    fn end_of_line(&mut self) -> Option<()> {
        while self.peek() == b' ' {
            self.i += 1;
        }
        match self.peek() {
            b'\n' | 0 => Some(()),
            b'#' if self.at(self.i - 1) == b' ' => {
                self.skip_line();
                Some(())
            }
            _ => None,
        }
    }

    /// After an entry of a block collection, the column of the next token,
    /// which must start its line (`None` inside: given up); `Some(None)` at
    /// the end of the text.
    fn next_entry(&mut self) -> Option<Option<usize>> {
        self.skip_to_token()?;
        if self.i >= self.s.len() {
            return Some(None);
        }
        self.first_on_line()
            .then_some(Some(self.i - self.line_start))
    }

    /// Whether only spaces come before `i` on its line.
    fn first_on_line(&self) -> bool {
        self.s[self.line_start..self.i].iter().all(|&b| b == b' ')
    }

    /// Whether the token at `i` is a block sequence entry (`- `).
    fn dash(&self) -> bool {
        self.peek() == b'-' && self.blank_at(self.i + 1)
    }

    /// A node whose first token is the first on its line, at column `n`
    /// (0-based): a block sequence, a block mapping or a scalar.
    fn block_node(&mut self, n: usize) -> Option<Yaml> {
        if self.dash() {
            return self.block_seq(n, None);
        }
        let (value, after) = self.inline_node()?;
        if after == After::Colon {
            return self.block_map(n, value);
        }
        self.end_of_line()?;
        Some(value)
    }

    /// A flow collection or scalar on the current line, and whether `:`
    /// follows it (then it is a key, and `i` is at the colon).
    fn inline_node(&mut self) -> Option<(Yaml, After)> {
        let value = match self.peek() {
            b'[' | b'{' => self.flow_node()?,
            b'"' | b'\'' => self.quoted()?,
            _ => return self.plain_block(),
        };
        let save = self.i;
        while self.peek() == b' ' {
            self.i += 1;
        }
        if self.peek() == b':' && self.blank_at(self.i + 1) {
            // Flow collections as keys are rare: left to the general parser.
            if matches!(value.kind, YamlKind::Seq(_) | YamlKind::Map(_)) {
                return None;
            }
            return Some((value, After::Colon));
        }
        self.i = save;
        Some((value, After::Other))
    }

    /// A plain scalar in block context, ending at the line's end, at ` #`, or
    /// at `: ` (a key).
    fn plain_block(&mut self) -> Option<(Yaml, After)> {
        let start = self.i;
        let first = self.peek();
        if matches!(
            first,
            b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'%' | b'@' | b'`' | b',' | b']' | b'}'
        ) || matches!(first, b'-' | b'?' | b':') && self.blank_at(start + 1)
        {
            return None;
        }
        let (end, key) = self.scan_plain(false);
        let y = self.node(plain_kind(&self.text[start..end]), start, end);
        // A key's colon is at `i`; otherwise back to the end of the text,
        // before any spaces and comment.
        if key {
            return Some((y, After::Colon));
        }
        self.i = end;
        Some((y, After::Other))
    }

    /// Scans a plain scalar from `i` to the end of its text (without
    /// trailing spaces), and says whether a key's `:` ended it (`i` is then
    /// at the colon). In a flow collection, `,` and brackets end it too.
    fn scan_plain(&mut self, flow: bool) -> (usize, bool) {
        let mut end = self.i;
        loop {
            match self.peek() {
                b'\n' | 0 => break,
                b',' | b'[' | b']' | b'{' | b'}' if flow => break,
                b':' if flow
                    && matches!(self.at(self.i + 1), b' ' | b'\n' | 0 | b',' | b']' | b'}')
                    || !flow && self.blank_at(self.i + 1) =>
                {
                    return (end, true);
                }
                b'#' if self.at(self.i - 1) == b' ' => break,
                b' ' => self.i += 1,
                _ => {
                    self.i += 1;
                    end = self.i;
                }
            }
        }
        (end, false)
    }

    /// A quoted scalar on one line: `"..."` with backslash escapes, or
    /// `'...'` where `''` stands for a quote.
    fn quoted(&mut self) -> Option<Yaml> {
        let start = self.i;
        let quote = self.peek();
        self.i += 1;
        let mut out = String::new();
        let mut run = self.i;
        loop {
            let b = self.peek();
            let (c, used) = match b {
                b'\n' | 0 => return None,
                b'\\' if quote == b'"' => {
                    let (c, n) = self.escape(self.i + 1)?;
                    (c, 1 + n)
                }
                b'\'' if quote == b'\'' && self.at(self.i + 1) == b'\'' => ('\'', 2),
                _ if b == quote => break,
                _ => {
                    self.i += 1;
                    continue;
                }
            };
            out.push_str(&self.text[run..self.i]);
            out.push(c);
            self.i += used;
            run = self.i;
        }
        out.push_str(&self.text[run..self.i]);
        self.i += 1;
        Some(self.node(YamlKind::Str(out), start, self.i))
    }

    /// The character a `\` escape at `k` (just past the backslash) stands
    /// for, and how many bytes it takes.
    fn escape(&self, k: usize) -> Option<(char, usize)> {
        let hex = |len: usize| -> Option<(char, usize)> {
            let digits = self.text.get(k + 1..k + 1 + len)?;
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let code = u32::from_str_radix(digits, 16).ok()?;
            Some((char::from_u32(code)?, 1 + len))
        };
        let c = match self.at(k) {
            b'\\' => '\\',
            b'"' => '"',
            b'/' => '/',
            b' ' => ' ',
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'0' => '\0',
            b'a' => '\x07',
            b'b' => '\x08',
            b'e' => '\x1b',
            b'f' => '\x0c',
            b'v' => '\x0b',
            b'x' => return hex(2),
            b'u' => return hex(4),
            b'U' => return hex(8),
            _ => return None,
        };
        Some((c, 1))
    }

    /// A block mapping at column `n` whose first key has been read; `i` is
    /// at the colon after it.
    fn block_map(&mut self, n: usize, first: Yaml) -> Option<Yaml> {
        let (start, line, col) = (first.offset, first.line, first.col);
        let mut pairs = Vec::new();
        let mut key = first;
        let end = loop {
            let colon = self.i;
            self.i += 1;
            let value = self.map_value(n, colon)?;
            pairs.push((key, value));
            let Some(c) = self.next_entry()? else {
                break self.s.len();
            };
            if c < n {
                break self.i;
            }
            if c > n || self.dash() {
                return None;
            }
            let (k, after) = self.inline_node()?;
            if after != After::Colon {
                return None;
            }
            key = k;
        };
        Some(Yaml {
            kind: YamlKind::Map(merge_keys(pairs)),
            offset: start,
            len: end - start,
            line,
            col,
        })
    }

    /// The value after a key's colon (at `colon`), in a mapping at column `n`.
    fn map_value(&mut self, n: usize, colon: usize) -> Option<Yaml> {
        while self.peek() == b' ' {
            self.i += 1;
        }
        if matches!(self.peek(), b'\n' | 0 | b'#') {
            let null = self.node(YamlKind::Null, colon, colon);
            self.end_of_line()?;
            self.skip_to_token()?;
            if self.i >= self.s.len() {
                return Some(null);
            }
            let c = self.i - self.line_start;
            return if c > n {
                self.block_node(c)
            } else if c == n && self.dash() {
                // A sequence at the key's own indentation.
                self.block_seq(n, Some(()))
            } else {
                Some(null)
            };
        }
        if matches!(self.peek(), b'|' | b'>') {
            return self.block_scalar(n);
        }
        if self.dash() {
            return None;
        }
        let (value, after) = self.inline_node()?;
        if after == After::Colon {
            return None;
        }
        self.end_of_line()?;
        Some(value)
    }

    /// A literal (`|`) or folded (`>`) block scalar, optionally stripped
    /// (`|-`), in a collection at column `n`. Its location is that of its
    /// first line of text, as the general parser gives it; the scalar ends
    /// at the first token of the line that ends it. Kept trailing breaks
    /// (`|+`), explicit indentation, and lines of spaces only that are more
    /// indented than the text are left to the general parser.
    fn block_scalar(&mut self, n: usize) -> Option<Yaml> {
        let folded = self.peek() == b'>';
        self.i += 1;
        let strip = match self.peek() {
            b'-' => {
                self.i += 1;
                true
            }
            b' ' | b'\n' => false,
            _ => return None,
        };
        self.end_of_line()?;
        let mut lines: Vec<&str> = Vec::new();
        let mut indent: Option<usize> = None;
        let mut leading_spaces = 0;
        let mut first = (0, 0, 0);
        let end = loop {
            // `i` is at the line break ending the previous line.
            if self.i >= self.s.len() {
                // Text without a final line break: left to the general parser.
                return None;
            }
            self.i += 1;
            self.line += 1;
            self.line_start = self.i;
            let mut j = self.i;
            while self.at(j) == b' ' {
                j += 1;
            }
            let spaces = j - self.line_start;
            if j >= self.s.len() && indent.is_some_and(|ind| spaces <= ind) {
                self.i = j;
                break j;
            }
            if matches!(self.at(j), b'\n' | 0) {
                match indent {
                    None => leading_spaces = leading_spaces.max(spaces),
                    Some(ind) if spaces > ind => return None,
                    Some(_) => {}
                }
                lines.push("");
                self.i = j;
                continue;
            }
            if indent.is_none() {
                if spaces <= n || spaces < leading_spaces {
                    return None;
                }
                indent = Some(spaces);
                first = (j, self.line, spaces + 1);
            }
            let ind = indent.unwrap_or(spaces);
            if spaces < ind {
                self.i = j;
                break j;
            }
            let mut e = j;
            while !matches!(self.at(e), b'\n' | 0) {
                e += 1;
            }
            lines.push(&self.text[self.line_start + ind..e]);
            self.i = e;
        };
        indent?;
        let last = lines.iter().rposition(|l| !l.is_empty())?;
        let lines = &lines[..=last];
        let mut out = String::new();
        if folded {
            // Breaks between two lines of ordinary text fold into a space,
            // or into the empty lines between them; breaks next to a more
            // indented line stay.
            let mut prev_spaced: Option<bool> = None;
            let mut empties = 0;
            for l in lines {
                if l.is_empty() {
                    empties += 1;
                    continue;
                }
                let spaced = l.starts_with(' ');
                match prev_spaced {
                    None => (0..empties).for_each(|_| out.push('\n')),
                    Some(false) if !spaced && empties == 0 => out.push(' '),
                    Some(false) if !spaced => (0..empties).for_each(|_| out.push('\n')),
                    Some(_) => (0..=empties).for_each(|_| out.push('\n')),
                }
                out.push_str(l);
                prev_spaced = Some(spaced);
                empties = 0;
            }
        } else {
            out = lines.join("\n");
        }
        if !strip {
            out.push('\n');
        }
        let (start, line, col) = first;
        Some(Yaml {
            kind: YamlKind::Str(out),
            offset: start,
            len: end - start,
            line,
            col,
        })
    }

    /// A block sequence at column `n`; `i` is at its first `-`. An
    /// indentless sequence (`key:` then `- x` at the key's column) starts,
    /// for the general parser, at its first entry's value.
    fn block_seq(&mut self, n: usize, indentless: Option<()>) -> Option<Yaml> {
        let mut start = self.i;
        let (line, mut col) = (self.line, self.col(start));
        let mut items = Vec::new();
        let end = loop {
            self.i += 1;
            while self.peek() == b' ' {
                self.i += 1;
            }
            if indentless.is_some() && items.is_empty() {
                if matches!(self.peek(), b'\n' | 0 | b'#') {
                    return None;
                }
                start = self.i;
                col = self.col(start);
            }
            items.push(self.seq_entry(n)?);
            let Some(c) = self.next_entry()? else {
                break self.s.len();
            };
            if c < n || c == n && !self.dash() {
                break self.i;
            }
            if c > n {
                return None;
            }
        };
        Some(Yaml {
            kind: YamlKind::Seq(items),
            offset: start,
            len: end - start,
            line,
            col,
        })
    }

    /// The entry after a `- ` of a sequence at column `n`.
    fn seq_entry(&mut self, n: usize) -> Option<Yaml> {
        if matches!(self.peek(), b'\n' | 0 | b'#') {
            // The entry's value on the lines below: left to the general parser.
            return None;
        }
        if matches!(self.peek(), b'|' | b'>') {
            return self.block_scalar(n);
        }
        if self.dash() {
            return None;
        }
        let m = self.i - self.line_start;
        if m <= n {
            return None;
        }
        let (value, after) = self.inline_node()?;
        if after == After::Colon {
            return self.block_map(m, value);
        }
        self.end_of_line()?;
        Some(value)
    }

    /// `[...]` or `{...}` on one line.
    fn flow_node(&mut self) -> Option<Yaml> {
        let start = self.i;
        let open = self.peek();
        let close = if open == b'[' { b']' } else { b'}' };
        self.i += 1;
        let mut items = Vec::new();
        let mut pairs = Vec::new();
        loop {
            self.flow_space()?;
            if self.peek() == close {
                break;
            }
            let item = self.flow_item()?;
            self.flow_space()?;
            if open == b'{' {
                if self.peek() != b':' || !matches!(self.at(self.i + 1), b' ' | b',' | b'}') {
                    return None;
                }
                self.i += 1;
                self.flow_space()?;
                if matches!(self.peek(), b',' | b'}') {
                    return None;
                }
                let value = self.flow_item()?;
                pairs.push((item, value));
                self.flow_space()?;
            } else {
                items.push(item);
            }
            match self.peek() {
                b',' => {
                    self.i += 1;
                    self.flow_space()?;
                    // A trailing comma is left to the general parser.
                    if self.peek() == close {
                        return None;
                    }
                }
                c if c == close => break,
                _ => return None,
            }
        }
        self.i += 1;
        let kind = if open == b'[' {
            YamlKind::Seq(items)
        } else {
            YamlKind::Map(merge_keys(pairs))
        };
        Some(self.node(kind, start, self.i))
    }

    /// Spaces inside a flow collection; a line end or comment there is left
    /// to the general parser.
    fn flow_space(&mut self) -> Option<()> {
        while self.peek() == b' ' {
            self.i += 1;
        }
        (!matches!(self.peek(), b'\n' | 0 | b'#')).then_some(())
    }

    fn flow_item(&mut self) -> Option<Yaml> {
        match self.peek() {
            b'[' | b'{' => self.flow_node(),
            b'"' | b'\'' => self.quoted(),
            _ => self.plain_flow(),
        }
    }

    /// A plain scalar inside a flow collection: it ends at `,`, a bracket,
    /// `: `, ` #` or the line's end.
    fn plain_flow(&mut self) -> Option<Yaml> {
        let start = self.i;
        let first = self.peek();
        if matches!(
            first,
            b'#' | b'&'
                | b'*'
                | b'!'
                | b'|'
                | b'>'
                | b'%'
                | b'@'
                | b'`'
                | b','
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b':'
        ) || matches!(first, b'-' | b'?')
            && matches!(
                self.at(start + 1),
                b' ' | b'\n' | 0 | b',' | b'[' | b']' | b'{' | b'}'
            )
        {
            return None;
        }
        let (end, _) = self.scan_plain(true);
        if end == start {
            return None;
        }
        self.i = end;
        Some(self.node(plain_kind(&self.text[start..end]), start, end))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Builder, Yaml, YamlKind};

    /// Where the two trees differ, if they do.
    fn diff(a: &Yaml, b: &Yaml, path: &str) -> Option<String> {
        if (a.offset, a.len, a.line, a.col) != (b.offset, b.len, b.line, b.col) {
            return Some(format!(
                "{path}: fast at {}+{} {}:{}, general at {}+{} {}:{}",
                a.offset, a.len, a.line, a.col, b.offset, b.len, b.line, b.col
            ));
        }
        match (&a.kind, &b.kind) {
            (YamlKind::Seq(x), YamlKind::Seq(y)) => {
                if x.len() != y.len() {
                    return Some(format!("{path}: {} items vs {}", x.len(), y.len()));
                }
                x.iter()
                    .zip(y)
                    .enumerate()
                    .find_map(|(i, (p, q))| diff(p, q, &format!("{path}[{i}]")))
            }
            (YamlKind::Map(x), YamlKind::Map(y)) => {
                if x.len() != y.len() {
                    return Some(format!("{path}: {} keys vs {}", x.len(), y.len()));
                }
                x.iter().zip(y).enumerate().find_map(|(i, (p, q))| {
                    diff(&p.0, &q.0, &format!("{path}.key{i}"))
                        .or_else(|| diff(&p.1, &q.1, &format!("{path}.{i}")))
                })
            }
            (YamlKind::Float(x), YamlKind::Float(y)) if x.is_nan() && y.is_nan() => None,
            (x, y) => (format!("{x:?}") != format!("{y:?}"))
                .then(|| format!("{path}: fast {x:?}, general {y:?}")),
        }
    }

    /// Checks that the fast reader, when it reads `text`, reads it as the
    /// general parser does. Returns whether it read it.
    fn agree(text: &str) -> bool {
        let Some(fast) = super::parse(text) else {
            return false;
        };
        match Builder::new(text).run() {
            Ok(general) => {
                if let Some(d) = diff(&fast, &general, "$") {
                    panic!("readers differ on {text:?}: {d}");
                }
            }
            Err(e) => panic!(
                "the fast reader read {text:?}, the general parser rejects it: {}",
                e.message
            ),
        }
        true
    }

    #[test]
    fn reads_the_common_shapes_as_the_general_parser_does() {
        let cases = [
            "version: 2\n",
            "a: 1",
            "# only a comment\na: b # trailing\n\n# end",
            "version: 2\nmodels:\n  - name: a   # c\n    description: \"x\\ty \\u00e9\\\"\"\n    tags: [a, \"b\"]\n    config: {materialized: table, x: 1, y: {z: [1, 2.5, ~]}}\n    columns:\n      - name: k\n        tests:\n          - not_null\n          - accepted_values:\n              values: ['a', b, 'it''s']\n\n# trailing\n",
            "models:\n- name: a\n  description:\n  columns:\n    - name: k\n      tests: [ unique , {x: [1, 2]} ]\n\n    # c\n- name: b\n  meta: {}\n  tags: []\n  y: \"a: b\"\n  \"q k\": 1\n  'r': 2\n  z: a b  c\n  url: http://x.y/z?a=b#frag\n  w: a:b\nsources:\n  - name: s\n",
            "a:\n  b:\n    c: 1\n  d: 2\ne: 3\n",
            "a:\n\n  # comment at another indentation\n      # and another\n  b: [x]\n",
            "key:\n  value on the next line\nother: -1\nyes: on\n1: 010\n~: 0x1f\n",
            "- a\n- b: 1\n  c: 2\n- [x, y]\n- {p: q}\n- 'quoted'\n",
            "  indented: document\n  second: key\n",
            "a:\n- x\n- y\nb:\n  - z\n",
            "list:\n  - one\n  -   two: 2\n      three: 3\n",
            "é: ü\nname: \"naïve\" # ça\nx: {k: 'v', l: \"w\"}\n",
            "empty_at_end:",
            "a: 1\nb:\n",
            "dup: 1\ndup: 2\n",
            "merge:\n  <<: {a: 1, b: 2}\n  b: 3\n",
            "k: [a b, c-d, e:f]\n",
            "a: |\n  line1\n    more\n\n  line3\n\n# c\nb: >-\n  f1\n  f2\n\n  f3\n    sp\n  f4\n\nc: >\n\n  x\ne: |-\n   z\n  # a comment\n",
            "- |\n  in a list\n- >  # folded\n   a\n   b\n- x\n",
            "models:\n  - name: m\n    description: >\n      A long\n      description.\n\n      Second paragraph.\n    columns: []\n",
        ];
        for (i, text) in cases.iter().enumerate() {
            assert!(
                agree(text),
                "case {i} was left to the general parser: {text:?}"
            );
        }
    }

    #[test]
    fn leaves_everything_else_to_the_general_parser() {
        let cases = [
            "a: |+\n  kept\n\n",
            "a: |2\n   explicit\n",
            "a: |\n  no final break",
            "a: |\nb: 1\n",
            "a: plain\n  continued\n",
            "a: \"two\n  lines\"\n",
            "a: [1,\n  2]\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "---\na: 1\n",
            "a: 1\n...\n",
            "a:\tb\n",
            "a: b\r\nc: d\r\n",
            "\u{feff}a: 1\n",
            "a: b: c\n",
            "a: [1, 2,]\n",
            "? a\n: b\n",
            "a: 1\n b: 2\n",
            "- - nested\n",
            "a: 'unclosed\n",
            "a: [unclosed\n",
            "a: \"bad \\q escape\"\n",
            "[a]: 1\n",
            "k: {a: , b: 1}\n",
        ];
        for text in cases {
            assert!(super::parse(text).is_none(), "fast reader took {text:?}");
        }
    }

    #[test]
    fn agrees_with_the_general_parser_on_the_repository_yaml() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut dirs: Vec<std::path::PathBuf> = ["tests", "example_project", "compat", ".ci"]
            .iter()
            .map(|d| root.join(d))
            .collect();
        // More YAML to compare on, for a developer: folders separated by `:`.
        if let Ok(more) = std::env::var("XFORM_YAML_CORPUS") {
            dirs.extend(std::env::split_paths(&more));
        }
        let (mut read, mut all) = (0, 0);
        for dir in dirs {
            for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
                let p = e.path();
                if !p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(p) else {
                    continue;
                };
                all += 1;
                if agree(&text) {
                    read += 1;
                }
            }
        }
        eprintln!("the fast reader read {read} of {all} YAML files");
        assert!(all > 50, "found only {all} YAML files");
        assert!(
            read * 10 > all * 8,
            "the fast reader read {read} of {all} files"
        );
    }

    /// Random documents from dbt-like pieces, some of them damaged: whatever
    /// the fast reader accepts, the general parser reads the same way.
    #[test]
    fn agrees_with_the_general_parser_on_generated_yaml() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % n as u64).unwrap_or(0)
        };
        let keys = [
            "name",
            "description",
            "tests",
            "config",
            "on",
            "1",
            "\"q k\"",
            "'s'",
            "a b",
            "x",
        ];
        let scalars = [
            "v",
            "1",
            "-2",
            "0x1f",
            "1.5",
            "1e3",
            "~",
            "null",
            "yes",
            "\"d \\\" q\"",
            "'it''s'",
            "a:b",
            "http://h/p#f",
            "é ü",
            "[a, 'b', {c: d}]",
            "{k: v, l: [1, 2]}",
            "[]",
            "{}",
            "a # c",
            "\"\"",
            "''",
            "x y z",
        ];
        let junk = [
            ":", "-", "#", "'", "\"", "[", "]", "{", "}", " ", "\n", ",", "|", ">", "&", "*", "!",
            "?", "  ", "\n  ",
        ];
        let mut accepted = 0;
        for _ in 0..6000 {
            let mut lines: Vec<String> = Vec::new();
            let mut depth_indent: Vec<usize> = vec![0];
            for _ in 0..=next(12) {
                let indent = depth_indent[next(depth_indent.len())];
                let pad = " ".repeat(indent);
                match next(8) {
                    0 => {
                        lines.push(format!("{pad}{}:\n", keys[next(keys.len())]));
                        depth_indent.push(indent + [1, 2, 4][next(3)]);
                    }
                    1 => {
                        lines.push(format!(
                            "{pad}- {}: {}\n",
                            keys[next(keys.len())],
                            scalars[next(scalars.len())]
                        ));
                        depth_indent.push(indent + 2);
                    }
                    2 => lines.push(format!("{pad}- {}\n", scalars[next(scalars.len())])),
                    3 => lines.push(format!("{}# comment\n", " ".repeat(next(6)))),
                    4 => lines.push("\n".into()),
                    5 => {
                        let style = ["|", ">", "|-", ">-", "| # c", ">+"][next(6)];
                        lines.push(format!("{pad}{}: {style}\n", keys[next(keys.len())]));
                        for _ in 0..next(5) {
                            let line =
                                ["text", "  more", "", "# hash", "a: b", "   ", "- x"][next(7)];
                            lines.push(format!("{pad}{}{line}\n", " ".repeat(1 + next(3))));
                        }
                    }
                    _ => lines.push(format!(
                        "{pad}{}: {}\n",
                        keys[next(keys.len())],
                        scalars[next(scalars.len())]
                    )),
                }
            }
            let mut doc = lines.concat();
            if next(3) == 0 {
                let mut at = next(doc.len() + 1);
                while !doc.is_char_boundary(at) {
                    at -= 1;
                }
                doc.insert_str(at, junk[next(junk.len())]);
            }
            if next(5) == 0 {
                doc.pop();
            }
            if agree(&doc) {
                accepted += 1;
            }
        }
        eprintln!("the fast reader took {accepted} of 6000 documents");
        assert!(
            accepted > 1000,
            "the fast reader took only {accepted} documents"
        );
    }
}
