//! `target/index.html`: one self-contained page (no network, works from
//! `file://`) with the project's data inlined.
//!
//! The data is one `<script type="application/json" id="xf-data">` block:
//! `meta` (project name, counts; plain JSON) and, deflate-compressed and
//! base64-encoded, `graph` (every node's name, type, place and parents;
//! inflated at load), `details` (descriptions, columns, SQL, config, in
//! chunks of [`CHUNK`] nodes, each inflated when one of its pages is first
//! opened) and `lineage` (column-level lineage, inflated when a column's
//! lineage is first shown). Compressed, a 10,000-model project's page is a
//! tenth of the size, and its size is most of what a browser spends opening it.
//!
//! Invariants: every string from the project reaches the page as JSON with
//! `<`, `>` and U+2028/U+2029 escaped (inside base64 for the compressed
//! parts), so no name or description can close a script element; the
//! page's own code inserts data only as text (`textContent`), never as
//! markup; a Content-Security-Policy with the hashes of the page's own
//! scripts and style stops anything else from running.

use std::io::Write;

use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::artifacts::json as fastjson;

use super::catalog::Catalog;
use crate::graph::Dag;
use crate::lineage::{EdgeKind, LineageGraph};
use crate::node::{Node, ResourceType};
use crate::project::Project;

/// Maps keyed by the project's ids and names, with the cheap hasher.
type HashMap<K, V> = std::collections::HashMap<K, V, crate::node::FastState>;

const TEMPLATE: &str = include_str!("../../templates/docs/index.html");
const STYLE: &str = include_str!("../../templates/docs/app.css");
const APP: &str = include_str!("../../templates/docs/app.js");
const DAGRE: &str = include_str!("../../templates/docs/vendor/dagre.min.js");
const DAGRE_LICENSE: &str = include_str!("../../templates/docs/vendor/dagre.min.js.LEGAL.txt");

/// Nodes per compressed chunk of details: small enough that opening a page
/// inflates little, large enough to compress well.
pub const CHUNK: usize = 512;

/// What the page is made from.
pub struct Inputs<'a> {
    pub project: &'a Project,
    pub dag: &'a Dag,
    pub catalog: Option<&'a Catalog>,
    pub lineage: &'a LineageGraph,
    pub generated_at: chrono::DateTime<chrono::Utc>,
}

/// The nodes the page shows: everything but macros and unit tests (which
/// have no page of their own in dbt's docs either).
fn shown(n: &Node) -> bool {
    !matches!(
        n.resource_type,
        ResourceType::Macro | ResourceType::Group | ResourceType::UnitTest
    )
}

/// One row of `graph.nodes`: `[id, type, name, package, path (an index
/// into `graph.paths`), fqn, tags, materialized, parents, source_name,
/// generic test name]`. Tests have no fqn in the page (it is their path
/// plus their name; selectors find them by name).
#[derive(Serialize)]
struct GraphRow<'a>(
    &'a str,
    &'static str,
    &'a str,
    &'a str,
    usize,
    String,
    &'a [String],
    &'a str,
    Vec<usize>,
    Option<&'a str>,
    Option<&'a str>,
);

/// A column on a node's page: `[name, type, description, tests, where the
/// type comes from (`c` catalog, `i` inferred, `y` YAML, `` unknown)]`.
#[derive(Serialize)]
struct ColumnRow(String, Option<String>, String, Vec<usize>, &'static str);

/// Who owns a node: its exposure's owner, `meta.owner`, or its group's
/// owner (`None` or JSON null when none is known).
fn owner<'a>(project: &'a Project, n: &'a Node) -> Option<&'a Value> {
    if let Some(e) = &n.exposure
        && !e.owner.is_null()
    {
        return Some(&e.owner);
    }
    if let Some(o) = n.meta.get("owner") {
        return Some(o);
    }
    let group = n.config.get("group").and_then(Value::as_str);
    if let Some(g) = group
        && let Some(def) = project
            .groups
            .values()
            .find(|d| d.get("name").and_then(Value::as_str) == Some(g))
        && let Some(o) = def.get("owner")
    {
        return Some(o);
    }
    None
}

/// The columns of a node: the catalog's (warehouse types, in order), then
/// inferred ones, then those only documented in YAML; each with its YAML
/// description and the tests on it.
fn columns(
    n: &Node,
    inputs: &Inputs<'_>,
    column_tests: &HashMap<(&str, String), Vec<usize>>,
) -> (Vec<ColumnRow>, bool) {
    let mut out: Vec<ColumnRow> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::default();
    let mut push = |name: &str, ty: Option<String>, origin: &'static str| {
        let k = name.to_lowercase();
        if let Some(&i) = seen.get(&k) {
            let row: &mut ColumnRow = &mut out[i];
            if row.1.is_none() && ty.is_some() {
                row.1 = ty;
                row.4 = origin;
            }
            return;
        }
        seen.insert(k, out.len());
        out.push(ColumnRow(
            name.to_owned(),
            ty.clone(),
            String::new(),
            Vec::new(),
            if ty.is_some() { origin } else { "" },
        ));
    };
    // An inferred catalog holds the same columns as lineage, with `unknown`
    // for types lineage does not know: lineage's own are shown instead.
    let from_catalog = inputs
        .catalog
        .filter(|c| c.origin == super::catalog::Origin::Warehouse)
        .and_then(|c| c.get(&n.unique_id));
    if let Some(t) = from_catalog {
        for c in &t.columns {
            push(&c.name, Some(c.data_type.clone()), "c");
        }
    }
    let lineage = inputs.lineage.nodes.get(&n.unique_id);
    if let Some(l) = lineage {
        for c in &l.columns {
            push(&c.name, c.data_type.clone(), "i");
        }
    }
    for c in n.columns.values() {
        push(&c.name, c.data_type.clone(), "y");
    }
    // The first YAML column of each lower-cased name describes the row.
    let mut described: HashMap<String, &str> =
        HashMap::with_capacity_and_hasher(n.columns.len(), crate::node::FastState::default());
    for (name, c) in &n.columns {
        described
            .entry(name.to_lowercase())
            .or_insert(c.description.as_str());
    }
    for row in &mut out {
        let k = row.0.to_lowercase();
        if let Some(d) = described.get(&k) {
            (*d).clone_into(&mut row.2);
        }
        if let Some(t) = column_tests.get(&(n.unique_id.as_str(), k)) {
            row.3.clone_from(t);
        }
    }
    let complete = from_catalog.is_some() || lineage.is_some_and(|l| l.columns_complete);
    (out, complete)
}

/// Appends `json` to `out` with the characters that could end a script
/// element or a line of JavaScript escaped (`<`, `>`, U+2028, U+2029).
/// They only occur inside JSON strings, where `\uXXXX` means the same.
/// The page's JSON is written escaped in the first place
/// ([`fastjson::to_vec_script_safe`]); this is the reference it must equal.
#[cfg(test)]
fn push_script_safe(out: &mut Vec<u8>, json: &[u8]) {
    let mut i = 0;
    while i < json.len() {
        let b = json[i];
        match b {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            0xE2 if json.get(i + 1) == Some(&0x80)
                && matches!(json.get(i + 2), Some(0xA8 | 0xA9)) =>
            {
                out.extend_from_slice(if json[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 3;
                continue;
            }
            _ => out.push(b),
        }
        i += 1;
    }
}

/// Standard base64 with padding, appended to `out`.
fn base64_into(out: &mut Vec<u8>, bytes: &[u8]) {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.reserve(bytes.len().div_ceil(3) * 4);
    let mut chunks = bytes.chunks_exact(3);
    for c in &mut chunks {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        out.extend_from_slice(&[
            ABC[(n >> 18) as usize & 63],
            ABC[(n >> 12) as usize & 63],
            ABC[(n >> 6) as usize & 63],
            ABC[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[ABC[(n >> 18) as usize & 63], ABC[(n >> 12) as usize & 63]]);
            out.extend_from_slice(b"==");
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            out.extend_from_slice(&[
                ABC[(n >> 18) as usize & 63],
                ABC[(n >> 12) as usize & 63],
                ABC[(n >> 6) as usize & 63],
            ]);
            out.push(b'=');
        }
        _ => {}
    }
}

/// Standard base64, for the CSP hashes.
fn base64(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    base64_into(&mut out, bytes);
    // Only ASCII letters, digits, `+`, `/` and `=` were written.
    String::from_utf8_lossy(&out).into_owned()
}

fn csp_hash(text: &str) -> String {
    format!("'sha256-{}'", base64(&Sha256::digest(text.as_bytes())))
}

/// Script-safe JSON text (see [`fastjson::to_vec_script_safe`]), deflated
/// (zlib) and in base64: the content of a string of the data block, which
/// needs no escaping.
fn pack(json: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut z = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(json.len() / 8),
        flate2::Compression::fast(),
    );
    z.write_all(json)?;
    let z = z.finish()?;
    let mut out = Vec::with_capacity(z.len().div_ceil(3) * 4);
    base64_into(&mut out, &z);
    Ok(out)
}

/// `v` as packed script-safe JSON; `hint` is the expected JSON size.
fn packed<T: Serialize + ?Sized>(v: &T, hint: usize) -> std::io::Result<Vec<u8>> {
    let mut json = Vec::with_capacity(hint);
    fastjson::to_vec_script_safe(&mut json, v).map_err(std::io::Error::other)?;
    pack(&json)
}

/// The data block's JSON, escaped for a script element.
struct Data {
    json: Vec<u8>,
    title: String,
}

/// `graph`, in the page's order of keys.
#[derive(Serialize)]
struct GraphOut<'a> {
    nodes: Vec<GraphRow<'a>>,
    paths: Vec<&'a str>,
}

/// The column lineage of every node with known columns, as script-safe
/// JSON: `[[node, [[column, [[from node, from column, 1 if transformed],
/// ...]], ...], 1 if complete], ...]`.
fn lineage_json(inputs: &Inputs<'_>, index: &HashMap<&str, usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(inputs.lineage.nodes.len() * 256);
    let mut num = itoa::Buffer::new();
    out.push(b'[');
    let mut first_node = true;
    for (id, l) in &inputs.lineage.nodes {
        let Some(&i) = index.get(id.as_str()) else {
            continue;
        };
        if !std::mem::take(&mut first_node) {
            out.push(b',');
        }
        out.push(b'[');
        out.extend_from_slice(num.format(i).as_bytes());
        out.extend_from_slice(b",[");
        for (k, c) in l.columns.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            out.push(b'[');
            fastjson::write_str_script_safe(&mut out, &c.name);
            out.extend_from_slice(b",[");
            let mut first_origin = true;
            for o in &c.origins {
                let Some(&j) = index.get(o.node.as_str()) else {
                    continue;
                };
                if !std::mem::take(&mut first_origin) {
                    out.push(b',');
                }
                out.push(b'[');
                out.extend_from_slice(num.format(j).as_bytes());
                out.push(b',');
                fastjson::write_str_script_safe(&mut out, &o.column);
                out.extend_from_slice(if o.kind == EdgeKind::Transformed {
                    b",1]"
                } else {
                    b",0]"
                });
            }
            out.extend_from_slice(b"]]");
        }
        out.extend_from_slice(if l.columns_complete { b"],1]" } else { b"],0]" });
    }
    out.push(b']');
    out
}

fn build(inputs: &Inputs<'_>) -> std::io::Result<Data> {
    let t0 = std::time::Instant::now();
    let project = inputs.project;
    let nodes: Vec<&Node> = project
        .nodes
        .values()
        .map(|n| &**n)
        .filter(|n| shown(n))
        .collect();
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.unique_id.as_str(), i))
        .collect();
    // Tests by the node and column they test.
    let mut node_tests: HashMap<&str, Vec<usize>> = HashMap::default();
    let mut column_tests: HashMap<(&str, String), Vec<usize>> = HashMap::default();
    for (i, n) in nodes.iter().enumerate() {
        if let Some(t) = &n.test
            && let Some(on) = &t.attached_node
        {
            node_tests.entry(on.as_str()).or_default().push(i);
            if let Some(c) = &t.column_name {
                column_tests
                    .entry((on.as_str(), c.to_lowercase()))
                    .or_default()
                    .push(i);
            }
        }
    }

    // Counts and file paths in one pass (the paths are numbered in order of
    // first use); the rows, which look up each node's parents, in parallel.
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    let mut paths: Vec<&str> = Vec::new();
    let mut path_index: HashMap<&str, usize> = HashMap::default();
    let path_of: Vec<usize> = nodes
        .iter()
        .map(|n| {
            *counts.entry(n.resource_type.as_str()).or_default() += 1;
            *path_index
                .entry(n.original_file_path.as_str())
                .or_insert_with(|| {
                    paths.push(&n.original_file_path);
                    paths.len() - 1
                })
        })
        .collect();
    let rows: Vec<GraphRow<'_>> = nodes
        .par_iter()
        .zip(path_of)
        .map(|(n, path)| {
            let parents: Vec<usize> = inputs
                .dag
                .parents(&n.unique_id)
                .into_iter()
                .filter_map(|p| index.get(p).copied())
                .collect();
            let materialized = match n.resource_type {
                ResourceType::Model | ResourceType::Snapshot | ResourceType::Seed => {
                    n.materialized()
                }
                _ => "",
            };
            let is_test = n.resource_type == ResourceType::Test;
            GraphRow(
                &n.unique_id,
                n.resource_type.as_str(),
                &n.name,
                &n.package_name,
                path,
                if is_test {
                    String::new()
                } else {
                    n.fqn.join(".")
                },
                &n.tags,
                materialized,
                parents,
                n.source.as_ref().map(|s| s.source_name.as_str()),
                n.test
                    .as_ref()
                    .and_then(|t| t.metadata.as_ref())
                    .map(|m| m.name.as_str()),
            )
        })
        .collect();
    let generated_at = inputs.generated_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let meta = json!({
        "project": project.root,
        "adapter": project.target.kind,
        "generated_at": generated_at,
        "catalog": inputs.catalog.map(|c| c.origin.as_str()),
        "xform_version": env!("CARGO_PKG_VERSION"),
        "counts": counts,
        "chunk": CHUNK,
    });
    let t1 = std::time::Instant::now();
    // The three parts are independent: details in parallel chunks, and the
    // graph and the lineage beside them.
    let graph_out = GraphOut { nodes: rows, paths };
    let (details, (graph, lineage)) = rayon::join(
        || {
            nodes
                .par_chunks(CHUNK)
                .map(|chunk| {
                    let list: Vec<Details<'_>> = chunk
                        .iter()
                        .map(|n| node_details(n, inputs, &index, &node_tests, &column_tests))
                        .collect();
                    packed(&list, CHUNK * 1024)
                })
                .collect::<std::io::Result<Vec<_>>>()
        },
        || {
            rayon::join(
                || packed(&graph_out, nodes.len() * 192),
                || pack(&lineage_json(inputs, &index)),
            )
        },
    );
    let (details, graph, lineage) = (details?, graph?, lineage?);
    let t2 = std::time::Instant::now();
    let mut out = Vec::with_capacity(
        graph.len() + lineage.len() + details.iter().map(|d| d.len() + 3).sum::<usize>() + 4096,
    );
    out.extend_from_slice(b"{\"meta\":");
    fastjson::to_vec_script_safe(&mut out, &meta).map_err(std::io::Error::other)?;
    out.extend_from_slice(b",\"graph\":\"");
    out.extend_from_slice(&graph);
    out.extend_from_slice(b"\",\"details\":[");
    for (k, d) in details.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(d);
        out.push(b'"');
    }
    out.extend_from_slice(b"],\"lineage\":\"");
    out.extend_from_slice(&lineage);
    out.extend_from_slice(b"\"}");
    tracing::debug!(
        "page data: graph rows in {:?}, packed in {:?}, joined in {:?}",
        t1 - t0,
        t2 - t1,
        t2.elapsed()
    );
    Ok(Data {
        json: out,
        title: format!("{} · xform docs", project.root),
    })
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

/// A node's config on its page: the effective config, or for tests (whose
/// effective config is mostly defaults) what was written.
#[derive(Serialize)]
#[serde(untagged)]
enum ConfigOut<'a> {
    Effective(&'a crate::node::NodeConfig),
    Written(&'a Map<String, Value>),
}

/// What a node's page shows beyond the graph: description, relation,
/// columns, SQL, config, test and source facts. Empty values are left out.
#[derive(Serialize)]
struct Details<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    desc: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    relation: Option<&'a str>,
    #[serde(skip_serializing_if = "no_owner")]
    owner: Option<&'a Value>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    meta: &'a Map<String, Value>,
    #[serde(skip_serializing_if = "str::is_empty")]
    raw: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sql: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cols: Vec<ColumnRow>,
    /// Whether the columns are known to be all of them.
    #[serde(skip_serializing_if = "is_false")]
    complete: bool,
    #[serde(skip_serializing_if = "<[usize]>::is_empty")]
    tests: &'a [usize],
    config: ConfigOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    relation_type: Option<RelationTypeOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    test: Option<TestOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<SourceOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exposure: Option<ExposureOut<'a>>,
}

// serde's `skip_serializing_if` passes a reference to the field.
#[allow(clippy::trivially_copy_pass_by_ref, clippy::ref_option_ref)]
fn no_owner(o: &Option<&Value>) -> bool {
    o.is_none_or(Value::is_null)
}

#[derive(Serialize)]
struct RelationTypeOut<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    owner: Option<&'a str>,
    comment: Option<&'a str>,
}

#[derive(Serialize)]
struct TestOut<'a> {
    name: Option<&'a str>,
    kwargs: Option<&'a Map<String, Value>>,
    column: Option<&'a str>,
    attached: Option<usize>,
}

#[derive(Serialize)]
struct SourceOut<'a> {
    source_name: &'a str,
    source_description: &'a str,
    loader: &'a str,
    identifier: &'a str,
}

#[derive(Serialize)]
struct ExposureOut<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    label: Option<&'a str>,
    maturity: Option<&'a str>,
    url: Option<&'a str>,
}

fn node_details<'a>(
    n: &'a Node,
    inputs: &Inputs<'a>,
    index: &HashMap<&str, usize>,
    node_tests: &'a HashMap<&str, Vec<usize>>,
    column_tests: &HashMap<(&str, String), Vec<usize>>,
) -> Details<'a> {
    let (cols, complete) = columns(n, inputs, column_tests);
    let table = inputs.catalog.and_then(|c| c.get(&n.unique_id));
    Details {
        desc: &n.description,
        relation: n.relation_name.as_deref(),
        owner: owner(inputs.project, n),
        meta: &n.meta,
        raw: &n.raw_code,
        sql: n.compiled_code.as_deref(),
        cols,
        complete,
        tests: node_tests
            .get(n.unique_id.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default(),
        config: if n.resource_type == ResourceType::Test {
            ConfigOut::Written(&n.unrendered_config)
        } else {
            ConfigOut::Effective(&n.config)
        },
        relation_type: table.map(|t| RelationTypeOut {
            kind: &t.kind,
            owner: t.owner.as_deref(),
            comment: t.comment.as_deref(),
        }),
        test: n.test.as_ref().map(|t| TestOut {
            name: t.metadata.as_ref().map(|m| m.name.as_str()),
            kwargs: t.metadata.as_ref().map(|m| &m.kwargs),
            column: t.column_name.as_deref(),
            attached: t
                .attached_node
                .as_deref()
                .and_then(|a| index.get(a).copied()),
        }),
        source: n.source.as_ref().map(|s| SourceOut {
            source_name: &s.source_name,
            source_description: &s.source_description,
            loader: &s.loader,
            identifier: &s.identifier,
        }),
        exposure: n.exposure.as_ref().map(|e| ExposureOut {
            kind: &e.kind,
            label: e.label.as_deref(),
            maturity: e.maturity.as_deref(),
            url: e.url.as_deref(),
        }),
    }
}

fn html_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes `index.html` under the target folder; returns its path and size.
pub fn write(inputs: &Inputs<'_>) -> std::io::Result<(std::path::PathBuf, u64)> {
    let data = build(inputs)?;
    let vendor = format!("{DAGRE_LICENSE}\n{DAGRE}");
    let csp = format!(
        "default-src 'none'; script-src {} {}; style-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        csp_hash(&vendor),
        csp_hash(APP),
        csp_hash(STYLE)
    );
    let dir = inputs.project.target_path();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("index.html");
    let tmp = dir.join(".index.html.tmp");
    let file = std::fs::File::create(&tmp)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    // The template's `<!--xf:NAME-->` markers are replaced in one pass, so
    // nothing inserted is ever scanned for markers again.
    let mut rest = TEMPLATE;
    while let Some(at) = rest.find("<!--xf:") {
        w.write_all(&rest.as_bytes()[..at])?;
        let after = &rest[at + 7..];
        let Some(end) = after.find("-->") else {
            rest = after;
            continue;
        };
        match &after[..end] {
            "csp" => w.write_all(html_text(&csp).as_bytes())?,
            "title" => w.write_all(html_text(&data.title).as_bytes())?,
            "style" => w.write_all(STYLE.as_bytes())?,
            "data" => w.write_all(&data.json)?,
            "vendor" => w.write_all(vendor.as_bytes())?,
            "app" => w.write_all(APP.as_bytes())?,
            _ => {}
        }
        rest = &after[end + 3..];
    }
    w.write_all(rest.as_bytes())?;
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, &path)?;
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    Ok((path, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_safe_escapes_markup_and_line_separators() {
        let json = serde_json::to_vec(&json!(
            "</script><img src=x onerror=alert(1)>\u{2028}\u{2029}é"
        ))
        .unwrap();
        let mut out = Vec::new();
        push_script_safe(&mut out, &json);
        let s = String::from_utf8(out).unwrap();
        assert!(!s.contains('<') && !s.contains('>'), "{s}");
        assert!(!s.contains('\u{2028}') && !s.contains('\u{2029}'), "{s}");
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(
            back,
            "</script><img src=x onerror=alert(1)>\u{2028}\u{2029}é"
        );
    }

    #[test]
    fn packed_json_is_the_escaped_serde_json_deflated() {
        let v = json!([
            "</script><img src=x onerror=alert(1)>\u{2028}\u{2029}é",
            {"k<": [1, 2.5, null, true]},
        ]);
        let mut expected = Vec::new();
        push_script_safe(&mut expected, &serde_json::to_vec(&v).unwrap());
        let b64 = packed(&v, 0).unwrap();
        let text = String::from_utf8(b64).unwrap();
        let decoded: Vec<u8> = {
            // Standard base64 back to bytes.
            const ABC: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let digits: Vec<u32> = text
                .trim_end_matches('=')
                .chars()
                .map(|c| u32::try_from(ABC.find(c).unwrap()).unwrap())
                .collect();
            let mut out = Vec::new();
            for group in digits.chunks(4) {
                let n = group
                    .iter()
                    .enumerate()
                    .fold(0u32, |n, (k, d)| n | (d << (18 - 6 * k)));
                let bytes = n.to_be_bytes();
                out.extend_from_slice(&bytes[1..group.len()]);
            }
            out
        };
        let mut inflated = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::ZlibDecoder::new(decoded.as_slice()),
            &mut inflated,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(inflated).unwrap(),
            String::from_utf8(expected).unwrap()
        );
    }

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
        assert_eq!(base64(b"fooba"), "Zm9vYmE=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xef, 0x00]), "/+8A");
    }
}
