//! Top-level dbt blocks in a file: `{% macro %}`, `{% test %}`,
//! `{% materialization %}`, `{% snapshot %}` and `{% docs %}`.
//!
//! Plain Jinja knows only `macro`; dbt gives the others meaning. They are cut
//! out of files here, by a small scanner that understands Jinja comments,
//! `raw` blocks and quoted strings inside tags, so that each block keeps its
//! exact source text and position.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    Macro,
    Test,
    Materialization,
    Snapshot,
    Docs,
}

impl BlockKind {
    fn from_tag(tag: &str) -> Option<Self> {
        Some(match tag {
            "macro" => Self::Macro,
            "test" => Self::Test,
            "materialization" => Self::Materialization,
            "snapshot" => Self::Snapshot,
            "docs" => Self::Docs,
            _ => return None,
        })
    }

    pub const fn tag(self) -> &'static str {
        match self {
            Self::Macro => "macro",
            Self::Test => "test",
            Self::Materialization => "materialization",
            Self::Snapshot => "snapshot",
            Self::Docs => "docs",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Block {
    pub kind: BlockKind,
    /// What follows the tag name in the opening tag, e.g. `name(a, b=1)`.
    pub header: String,
    /// Byte range of the whole block, opening tag to closing tag.
    pub start: usize,
    pub end: usize,
    /// Byte range between the opening and closing tags.
    pub body_start: usize,
    pub body_end: usize,
    /// Offset of the header text, for errors about names.
    pub header_offset: usize,
}

impl Block {
    /// The block's name: the identifier at the start of the header.
    pub fn name(&self) -> &str {
        let h = self.header.trim_start();
        let end = h
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(h.len());
        &h[..end]
    }
}

#[derive(Clone, Debug)]
pub struct BlockError {
    pub message: String,
    pub offset: usize,
}

/// One `{% ... %}` tag.
struct Tag<'a> {
    start: usize,
    end: usize,
    name: &'a str,
    rest: &'a str,
    rest_offset: usize,
}

/// Finds the end of a tag that opens at `start` (`{%`), skipping quoted strings.
fn tag_end(text: &str, start: usize, close: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = start + 2;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None => {
                if b == b'\'' || b == b'"' {
                    quote = Some(b);
                } else if text[i..].starts_with(close) {
                    return Some(i + close.len());
                }
            }
        }
        i += 1;
    }
    None
}

fn tags(text: &str) -> Result<Vec<Tag<'_>>, BlockError> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut in_raw = false;
    while let Some(found) = text[pos..].find('{') {
        let at = pos + found;
        let rest = &text[at..];
        if rest.starts_with("{#") {
            let Some(end) = text[at + 2..].find("#}") else {
                return Err(BlockError {
                    message: "comment `{#` is never closed with `#}`".into(),
                    offset: at,
                });
            };
            pos = at + 2 + end + 2;
            continue;
        }
        if !rest.starts_with("{%") {
            pos = at + 1;
            continue;
        }
        let Some(end) = tag_end(text, at, "%}") else {
            return Err(BlockError {
                message: "tag `{%` is never closed with `%}`".into(),
                offset: at,
            });
        };
        let inner_start = at + 2;
        let inner_end = end - 2;
        let inner = &text[inner_start..inner_end];
        let lead = inner.len() - inner.trim_start_matches(['-', '+']).len();
        let body = &inner[lead..];
        let ws = body.len() - body.trim_start().len();
        let body = body.trim_start();
        let name_len = body
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(body.len());
        let name = &body[..name_len];
        let rest_text = body[name_len..].trim_end().trim_end_matches(['-', '+']);
        let rest_offset = inner_start + lead + ws + name_len;
        if in_raw {
            if name == "endraw" {
                in_raw = false;
            }
        } else if name == "raw" {
            in_raw = true;
        } else {
            out.push(Tag {
                start: at,
                end,
                name,
                rest: rest_text,
                rest_offset,
            });
        }
        pos = end;
    }
    Ok(out)
}

/// Extracts the top-level blocks of a file, in order.
pub fn extract(text: &str) -> Result<Vec<Block>, BlockError> {
    let tags = tags(text)?;
    let mut out = Vec::new();
    let mut i = 0;
    while i < tags.len() {
        let t = &tags[i];
        let Some(kind) = BlockKind::from_tag(t.name) else {
            if let Some(k) = t.name.strip_prefix("end")
                && BlockKind::from_tag(k).is_some()
            {
                return Err(BlockError {
                    message: format!("`{{% {} %}}` without a matching `{{% {k} %}}`", t.name),
                    offset: t.start,
                });
            }
            i += 1;
            continue;
        };
        let end_name = format!("end{}", kind.tag());
        // Blocks of one kind do not nest in dbt, so the first end tag closes it.
        let Some(j) = tags[i + 1..]
            .iter()
            .position(|x| x.name == end_name)
            .map(|p| p + i + 1)
        else {
            return Err(BlockError {
                message: format!(
                    "`{{% {} {} %}}` is never closed with `{{% {end_name} %}}`",
                    kind.tag(),
                    t.rest.trim()
                ),
                offset: t.start,
            });
        };
        let close = &tags[j];
        out.push(Block {
            kind,
            header: t.rest.to_owned(),
            start: t.start,
            end: close.end,
            body_start: t.end,
            body_end: close.start,
            header_offset: t.rest_offset,
        });
        i = j + 1;
    }
    Ok(out)
}

/// Rewrites a dbt-only block as a plain Jinja macro with the same line
/// layout, so template line numbers stay those of the file.
///
/// `{% test not_empty(model) %}` becomes `{% macro test_not_empty(model) %}`;
/// `{% materialization table, adapter='duckdb' %}` becomes
/// `{% macro materialization_table_duckdb() %}`.
pub fn as_macro_source(text: &str, block: &Block) -> (String, String) {
    let src = &text[block.start..block.end];
    match block.kind {
        BlockKind::Macro => (block.name().to_owned(), src.to_owned()),
        BlockKind::Test => {
            let name = format!("test_{}", block.name());
            let open_end = block.body_start - block.start;
            let close_start = block.body_end - block.start;
            let opening = &src[..open_end];
            let header = block.header.trim_start();
            let new_open = opening.replacen(
                &format!("test {header}"),
                &format!("macro test_{header}"),
                1,
            );
            let new_open = if new_open == opening {
                // Unusual spacing in the tag: rebuild it.
                format!("{{% macro test_{header} %}}")
            } else {
                new_open
            };
            let body = &src[open_end..close_start];
            // The end tag keeps its whitespace control (`{%- endtest %}`).
            let close = src[close_start..].replacen("endtest", "endmacro", 1);
            (name, format!("{new_open}{body}{close}"))
        }
        BlockKind::Materialization => {
            let (mat_name, adapter) = parse_materialization_header(&block.header);
            let name = format!("materialization_{mat_name}_{adapter}");
            let open_end = block.body_start - block.start;
            let close_start = block.body_end - block.start;
            let body = &src[open_end..close_start];
            let close = src[close_start..].replacen("endmaterialization", "endmacro", 1);
            (name.clone(), format!("{{% macro {name}() %}}{body}{close}"))
        }
        BlockKind::Snapshot | BlockKind::Docs => (block.name().to_owned(), String::new()),
    }
}

/// `table, adapter='duckdb', supported_languages=['sql']` → (`table`, `duckdb`).
pub fn parse_materialization_header(header: &str) -> (String, String) {
    let mut parts = header.split(',');
    let name = parts.next().unwrap_or("").trim().to_owned();
    let mut adapter = "default".to_owned();
    for p in parts {
        if let Some((k, v)) = p.split_once('=')
            && k.trim() == "adapter"
        {
            v.trim().trim_matches(['\'', '"']).clone_into(&mut adapter);
        }
    }
    (name, adapter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_macros_and_skips_comments_and_strings() {
        let text = "{# {% macro nope() %} #}\n{% macro a(x='%}') %}A{% endmacro %}\n{%- test t(model) -%}T{% endtest %}";
        let blocks = extract(text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].name(), "a");
        assert_eq!(&text[blocks[0].body_start..blocks[0].body_end], "A");
        assert_eq!(blocks[1].kind, BlockKind::Test);
        let (name, src) = as_macro_source(text, &blocks[1]);
        assert_eq!(name, "test_t");
        assert_eq!(src, "{%- macro test_t(model) -%}T{% endmacro %}");
        // The end tag's whitespace control stays.
        let text = "{% test u(model) %}\nU\n{%- endtest %}";
        let blocks = extract(text).unwrap();
        let (_, src) = as_macro_source(text, &blocks[0]);
        assert_eq!(src, "{% macro test_u(model) %}\nU\n{%- endmacro %}");
    }

    #[test]
    fn reports_unclosed_block() {
        let err = extract("\n{% macro a() %}x").unwrap_err();
        assert_eq!(err.offset, 1);
        assert!(err.message.contains("endmacro"));
    }

    #[test]
    fn materialization_header() {
        assert_eq!(
            parse_materialization_header("table, adapter='duckdb', supported_languages=['sql']"),
            ("table".into(), "duckdb".into())
        );
        assert_eq!(
            parse_materialization_header("view, default"),
            ("view".into(), "default".into())
        );
    }
}
