//! Loading a project from disk: `dbt_project.yml`, the profile, every
//! package in `dbt_packages/`, and all model, seed, snapshot, test, analysis,
//! macro, docs and properties files.
//!
//! Invariant: this phase reads files and YAML only. It renders no model Jinja
//! (that is `compile::parse`), so its output is the raw material: nodes with
//! their project-file and YAML configs, macros with their source, doc blocks.

pub mod blocks;
pub mod config;
pub mod constraints;
pub mod dbt_project;
pub mod profiles;
pub mod properties;
pub mod unit_tests;
pub mod versions;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use rayon::prelude::*;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::diagnostics::{Diag, Diags, SourceText};
use crate::node::{Node, ResourceType};
use crate::span::SourceSpan;

pub use dbt_project::ProjectFile;
pub use profiles::Target;

/// Inputs that do not come from the project's files.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub project_dir: PathBuf,
    pub profiles_dir: Option<PathBuf>,
    pub target: Option<String>,
    pub threads: Option<usize>,
    /// `--vars`, already parsed.
    pub cli_vars: Map<String, Value>,
    /// Without a profile, fall back to an in-memory `DuckDB` target instead of
    /// failing (for `parse` and `ls`, which do not need a warehouse).
    pub profile_optional: bool,
}

#[derive(Clone, Debug)]
pub struct Package {
    pub name: String,
    pub dir: PathBuf,
    pub file: ProjectFile,
    pub is_root: bool,
}

/// A macro as dbt's manifest describes it, plus what rendering needs.
#[derive(Clone, Debug)]
pub struct MacroDef {
    pub unique_id: String,
    pub name: String,
    pub package_name: String,
    /// Path relative to the package root.
    pub path: String,
    pub abs_path: PathBuf,
    /// The block's exact text, as `macro_sql` in the manifest.
    pub macro_sql: String,
    /// A plain Jinja template defining the macro, padded with newlines so
    /// that its line numbers are those of the file.
    pub template: String,
    /// Byte offset of the block in the file.
    pub offset: usize,
    pub description: String,
    pub meta: Map<String, Value>,
    pub arguments: Value,
    pub patch_path: Option<String>,
    /// Built into xform (the `dbt` namespace and adapter macros).
    pub builtin: bool,
}

#[derive(Clone, Debug)]
pub struct DocBlock {
    pub unique_id: String,
    pub name: String,
    pub package_name: String,
    pub path: String,
    pub original_file_path: String,
    pub block_contents: String,
}

/// A loaded project: the root package, its packages, and all their resources.
#[derive(Debug)]
pub struct Project {
    pub root: String,
    pub root_dir: PathBuf,
    pub packages: IndexMap<String, Package>,
    pub target: Target,
    pub cli_vars: Map<String, Value>,
    pub nodes: crate::node::NodeMap,
    /// Nodes turned off with `enabled: false`, by unique id.
    pub disabled: IndexMap<String, Vec<Box<Node>>, crate::node::FastState>,
    pub macros: IndexMap<String, MacroDef, crate::node::FastState>,
    pub docs: IndexMap<String, DocBlock, crate::node::FastState>,
    /// The parsed `selectors.yml`, or `Null`.
    pub selectors: Value,
    pub groups: IndexMap<String, Value>,
    /// File texts for diagnostics, by absolute path.
    pub sources: HashMap<PathBuf, SourceText>,
}

impl Project {
    pub fn root_package(&self) -> Option<&Package> {
        self.packages.get(&self.root)
    }

    pub fn target_path(&self) -> PathBuf {
        let rel = self
            .root_package()
            .map_or("target", |p| p.file.target_path.as_str());
        self.root_dir.join(rel)
    }

    /// The source text of a file, for a diagnostic.
    pub fn source_text(&self, path: &Path) -> SourceText {
        self.sources
            .get(path)
            .cloned()
            .unwrap_or_else(|| SourceText::read(self.display_path(path), path))
    }

    /// A path as shown to the user: relative to the project folder when inside it.
    pub fn display_path(&self, path: &Path) -> String {
        path.strip_prefix(&self.root_dir)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// What kind of file a discovered path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileKind {
    Model,
    Seed,
    Snapshot,
    Macro,
    SingularTest,
    Analysis,
    Properties,
    Docs,
}

#[derive(Clone, Debug)]
struct FoundFile {
    package: String,
    kind: FileKind,
    abs: PathBuf,
    /// Relative to the package root, with `/` separators.
    rel: String,
    /// Relative to the resource folder it was found in (`models/`).
    rel_in_root: String,
    /// The resource folder, relative to the package root.
    root: String,
}

fn rel_string(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// `p` relative to `base` with `/` between components. Paths listed under
/// `base` start with its text, so most need no walk over components.
fn rel_under(p: &Path, base: &Path) -> String {
    if let (Some(ps), Some(bs)) = (p.to_str(), base.to_str())
        && let Some(rest) = ps.strip_prefix(bs).and_then(|r| r.strip_prefix('/'))
        && !rest.is_empty()
        && !rest.contains("//")
        && !rest.split('/').any(|c| c == "." || c == "..")
    {
        return rest.to_owned();
    }
    rel_string(p.strip_prefix(base).unwrap_or(p))
}

/// The files under `dir`, children sorted by name and folders entered where
/// they sort (the order walkdir's `sort_by_file_name` gives), following
/// symbolic links; `seen` holds the folders being listed, so a link back up
/// the tree is not followed again. Names are compared as bytes once each,
/// not re-derived from paths at every comparison.
fn list_files(dir: &Path, seen: &mut Vec<PathBuf>, out: &mut Vec<PathBuf>) {
    use rayon::prelude::*;
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if seen.contains(&real) {
        return;
    }
    seen.push(real);
    let mut entries: Vec<(std::ffi::OsString, PathBuf, bool)> = read
        .filter_map(Result::ok)
        .filter_map(|e| {
            let mut ft = e.file_type().ok()?;
            if ft.is_symlink() {
                ft = std::fs::metadata(e.path()).ok()?.file_type();
            }
            (ft.is_dir() || ft.is_file()).then(|| (e.file_name(), e.path(), ft.is_dir()))
        })
        .collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    // Sibling folders are listed in parallel (a large project keeps
    // thousands of files in each), then joined in name order.
    let mut sub: std::vec::IntoIter<Vec<PathBuf>> = entries
        .par_iter()
        .filter(|e| e.2)
        .map(|(_, path, _)| {
            let mut files = Vec::new();
            list_files(path, &mut seen.clone(), &mut files);
            files
        })
        .collect::<Vec<_>>()
        .into_iter();
    for (_, path, is_dir) in entries {
        if is_dir {
            out.extend(sub.next().unwrap_or_default());
        } else {
            out.push(path);
        }
    }
    seen.pop();
}

/// Lists the files of one package by kind.
fn discover(pkg: &Package) -> Vec<FoundFile> {
    use rayon::prelude::*;
    let f = &pkg.file;
    let mut out = Vec::new();
    // Each folder is listed once (models/ holds SQL, YAML and Markdown), in
    // path order: children sorted by name, depth first, which is the order of
    // sorting whole paths by component without comparing paths.
    // Each file with its extension and its path under the folder, worked
    // out once: a folder is walked for several kinds of file.
    let mut listed: HashMap<String, Vec<(PathBuf, String, String)>> = HashMap::new();
    let mut walk = |roots: &[String], exts: &[&str], kind: FileKind, skip_generic: bool| {
        for root in roots {
            let base = pkg.dir.join(root);
            let entries = listed.entry(root.clone()).or_insert_with(|| {
                let mut files = Vec::new();
                if base.is_dir() {
                    list_files(&base, &mut Vec::new(), &mut files);
                }
                files
                    .into_par_iter()
                    .filter_map(|p| {
                        let ext = p.extension()?.to_str()?.to_owned();
                        let rel = rel_under(&p, &base);
                        Some((p, ext, rel))
                    })
                    .collect()
            });
            let found = entries.par_iter().filter_map(|(p, ext, rel_in_root)| {
                if !exts.contains(&ext.as_str()) {
                    return None;
                }
                // `<test-path>/fixtures/` holds unit test fixture files.
                if kind == FileKind::SingularTest && rel_in_root.starts_with("fixtures/") {
                    return None;
                }
                let is_generic = rel_in_root.starts_with("generic/");
                let kind = if skip_generic && is_generic {
                    FileKind::Macro
                } else {
                    kind
                };
                Some(FoundFile {
                    package: pkg.name.clone(),
                    kind,
                    abs: p.clone(),
                    rel: rel_under(p, &pkg.dir),
                    rel_in_root: rel_in_root.clone(),
                    root: root.clone(),
                })
            });
            out.par_extend(found);
        }
    };
    walk(&f.model_paths, &["sql", "py"], FileKind::Model, false);
    walk(&f.seed_paths, &["csv"], FileKind::Seed, false);
    walk(&f.snapshot_paths, &["sql"], FileKind::Snapshot, false);
    walk(&f.macro_paths, &["sql"], FileKind::Macro, false);
    walk(&f.test_paths, &["sql"], FileKind::SingularTest, true);
    walk(&f.analysis_paths, &["sql"], FileKind::Analysis, false);
    let mut yml_roots: Vec<String> = Vec::new();
    for set in [
        &f.model_paths,
        &f.seed_paths,
        &f.snapshot_paths,
        &f.analysis_paths,
        &f.macro_paths,
        &f.test_paths,
    ] {
        for r in set {
            if !yml_roots.contains(r) {
                yml_roots.push(r.clone());
            }
        }
    }
    walk(&yml_roots, &["yml", "yaml"], FileKind::Properties, false);
    let docs_roots = f.docs_paths.clone().unwrap_or(yml_roots);
    walk(&docs_roots, &["md"], FileKind::Docs, false);
    out
}

/// Reads the root project and its packages. Problems with single files are
/// collected in `diags`; only a project that cannot be read at all is an `Err`.
pub fn load(opts: &LoadOptions, diags: &mut Diags) -> Result<Project, Diag> {
    let root_dir = std::fs::canonicalize(&opts.project_dir).map_err(|e| {
        Diag::error(
            "XF0101",
            format!(
                "cannot open project folder `{}`: {e}",
                opts.project_dir.display()
            ),
        )
    })?;
    let render = |s: &str| crate::jinja::render_config_string(s, &opts.cli_vars);
    let (root_file, warnings) = dbt_project::read(&root_dir, "", &render)?;
    diags.extend(warnings);

    let profile_name = root_file
        .profile
        .clone()
        .unwrap_or_else(|| root_file.name.clone());
    let target = match profiles::load(
        opts.profiles_dir.as_deref(),
        &root_dir,
        &profile_name,
        opts.target.as_deref(),
        opts.threads,
        &render,
    ) {
        Ok(t) => t,
        Err(d) if opts.profile_optional && d.code == "XF0110" => Target::fallback(&profile_name),
        Err(d) => return Err(d),
    };
    if crate::adapter::for_kind(&target.kind).is_none() {
        return Err(Diag::error(
            "XF0118",
            format!("adapter type `{}` is not supported", target.kind),
        )
        .with_help(format!(
            "supported types: {}",
            crate::adapter::KNOWN_KINDS.join(", ")
        )));
    }

    let mut packages = IndexMap::new();
    let root_name = root_file.name.clone();
    let install = root_dir.join(&root_file.packages_install_path);
    packages.insert(
        root_name.clone(),
        Package {
            name: root_name.clone(),
            dir: root_dir.clone(),
            file: root_file,
            is_root: true,
        },
    );
    if install.is_dir() {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&install)
            .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        dirs.sort();
        for dir in dirs {
            if !dir.join("dbt_project.yml").is_file() {
                continue;
            }
            let display = rel_string(dir.strip_prefix(&root_dir).unwrap_or(&dir));
            match dbt_project::read(&dir, &display, &render) {
                Ok((file, warnings)) => {
                    diags.extend(warnings);
                    if let Some(existing) = packages.get(&file.name) {
                        diags.push(
                            Diag::error(
                                "XF0120",
                                format!(
                                    "package name `{}` is used by both `{}` and `{}`",
                                    file.name,
                                    existing.dir.display(),
                                    dir.display()
                                ),
                            )
                            .with_source(file.source.clone())
                            .with_label(
                                file.name_offset,
                                file.name.len(),
                                "declared here",
                            ),
                        );
                        continue;
                    }
                    packages.insert(
                        file.name.clone(),
                        Package {
                            name: file.name.clone(),
                            dir,
                            file,
                            is_root: false,
                        },
                    );
                }
                Err(d) => diags.push(d),
            }
        }
    }

    // Config trees may use `target`, known only now.
    let project_renderer = crate::jinja::yaml_render::YamlRenderer::new(
        &target.context_value(),
        HashMap::new(),
        opts.cli_vars.clone(),
    );
    for pkg in packages.values_mut() {
        if let Err(d) = pkg.file.render_configs(&project_renderer) {
            diags.push(d);
        }
        diags.extend(pkg.file.hook_errors());
    }

    let t = crate::timing::Stopwatch::start();
    let files: Vec<FoundFile> = packages.values().flat_map(discover).collect();
    tracing::debug!("found {} files in {t}", files.len());
    let t = crate::timing::Stopwatch::start();
    let loaded = load_files(&files, &packages);

    let mut project = Project {
        root: root_name,
        root_dir,
        packages,
        target,
        cli_vars: opts.cli_vars.clone(),
        nodes: IndexMap::default(),
        disabled: IndexMap::default(),
        macros: IndexMap::default(),
        docs: IndexMap::default(),
        selectors: Value::Null,
        groups: IndexMap::new(),
        sources: HashMap::new(),
    };
    crate::jinja::builtins::add_builtin_macros(&mut project);

    tracing::debug!("read files in {t}");
    let t = crate::timing::Stopwatch::start();
    let mut yamls = Vec::new();
    // Room for the nodes of files and, typically, the tests YAML adds, so
    // the map is not regrown while tens of thousands are inserted.
    let file_nodes: usize = loaded.iter().map(|l| l.nodes.len()).sum();
    project.nodes.reserve(file_nodes * 3);
    for l in loaded {
        if let Some(src) = l.source {
            project.sources.insert(src.0, src.1);
        }
        diags.extend(l.diags);
        for m in l.macros {
            if let Some(prev) = project.macros.get(&m.unique_id)
                && !prev.builtin
            {
                diags.push(duplicate_macro(&project, prev, &m));
                continue;
            }
            project.macros.insert(m.unique_id.clone(), m);
        }
        for d in l.docs {
            project.docs.insert(d.unique_id.clone(), d);
        }
        for n in l.nodes {
            add_node(&mut project, n, diags);
        }
        if let Some(y) = l.yaml {
            yamls.push(y);
        }
    }
    tracing::debug!("collected nodes in {t}");
    let t = crate::timing::Stopwatch::start();
    let yaml_renderer = crate::jinja::yaml_render::YamlRenderer::new(
        &project.target.context_value(),
        crate::jinja::package_vars(&project.packages, &project.cli_vars),
        project.cli_vars.clone(),
    );
    // Rendering a file's Jinja needs nothing of the project: all files are
    // rendered in parallel, then applied in order.
    let rendered: Vec<Diags> = {
        use rayon::prelude::*;
        yamls
            .par_iter_mut()
            .map(|y| {
                let mut d = Diags::default();
                y.render(&yaml_renderer, &mut d);
                d
            })
            .collect()
    };
    for (y, d) in yamls.iter().zip(rendered) {
        diags.extend(d.0);
        properties::apply(&mut project, y, diags);
    }
    tracing::debug!("applied properties in {t}");
    // The documents are done with; a large project's take milliseconds to
    // free, done meanwhile on the pool.
    rayon::spawn(move || drop(yamls));

    let selectors_path = project.root_dir.join("selectors.yml");
    if selectors_path.is_file() {
        let text = std::fs::read_to_string(&selectors_path).unwrap_or_default();
        match crate::yaml::parse(&text) {
            Ok(y) => project.selectors = y.to_json(),
            Err(e) => diags.push(
                Diag::error(
                    "XF0102",
                    format!("invalid YAML in `selectors.yml`: {}", e.message),
                )
                .with_source(SourceText::new("selectors.yml", text.as_str()))
                .with_label(e.offset, 1, "here"),
            ),
        }
    }
    Ok(project)
}

fn duplicate_macro(project: &Project, prev: &MacroDef, new: &MacroDef) -> Diag {
    let src = project.source_text(&new.abs_path);
    Diag::error(
        "XF0121",
        format!(
            "macro `{}` is defined twice in package `{}`",
            new.name, new.package_name
        ),
    )
    .with_source(src)
    .with_label(new.offset, new.name.len() + 11, "second definition")
    .with_help(format!("the first definition is in `{}`", prev.path))
}

fn add_node(project: &mut Project, node: Box<Node>, diags: &mut Diags) {
    if let Some(prev) = project.nodes.get(&node.unique_id) {
        let src = project.source_text(&node.abs_path);
        let mut d = Diag::error(
            "XF0122",
            format!(
                "two {}s are named `{}` in package `{}`",
                node.resource_type, node.name, node.package_name
            ),
        )
        .with_help(format!(
            "`{}` and `{}` both define it; rename one of them",
            prev.original_file_path, node.original_file_path
        ));
        if let Some(span) = &node.span {
            d = d
                .with_source(src)
                .with_label(span.offset, span.len, "duplicate");
        }
        diags.push(d);
        return;
    }
    project.nodes.insert(node.unique_id.clone(), node);
}

/// What one file contributes.
#[derive(Default)]
struct Loaded {
    /// Boxed where they are made, on the worker threads: moving a box into
    /// the project's map costs a pointer, not a whole node.
    #[allow(clippy::vec_box)]
    nodes: Vec<Box<Node>>,
    macros: Vec<MacroDef>,
    docs: Vec<DocBlock>,
    yaml: Option<properties::YamlFile>,
    diags: Vec<Diag>,
    source: Option<(PathBuf, SourceText)>,
}

pub fn sha256_hex(text: &str) -> String {
    let mut h = Sha256::new();
    h.update(text.as_bytes());
    lower_hex(&h.finalize())
}

/// Bytes as lower-case hex, without `format!` per byte (checksums of every
/// file and test are hex-encoded while parsing).
pub fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The fqn of a file-based node: package, folders, then the name.
fn fqn_for(pkg: &str, rel_in_root: &str, name: &str, prefix: Option<&str>) -> Vec<String> {
    let mut fqn = vec![pkg.to_owned()];
    if let Some(p) = prefix {
        fqn.push(p.to_owned());
    }
    let parts: Vec<&str> = rel_in_root.split('/').collect();
    for dir in &parts[..parts.len().saturating_sub(1)] {
        fqn.push((*dir).to_owned());
    }
    fqn.push(name.to_owned());
    fqn
}

fn file_stem(rel: &str) -> String {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    file.rsplit_once('.').map_or(file, |(s, _)| s).to_owned()
}

/// Loads every file in parallel, the results in the order of `files`.
/// Properties files start first, largest first: a large one takes far longer
/// to parse than a model file to read, and started last it would be parsed
/// alone while the other cores wait.
fn load_files(files: &[FoundFile], packages: &IndexMap<String, Package>) -> Vec<Loaded> {
    let size = |f: &FoundFile| std::fs::metadata(&f.abs).map_or(0, |m| m.len());
    let mut order: Vec<(u64, usize)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            (
                if f.kind == FileKind::Properties {
                    size(f)
                } else {
                    0
                },
                i,
            )
        })
        .collect();
    // Stable: files of the same weight keep their order.
    order.sort_by_key(|&(weight, _)| std::cmp::Reverse(weight));
    let folders = FolderConfigs::new(files, packages);
    // One task per file: left to split as it likes, rayon would hand the
    // properties files at the front to one worker in one piece, to parse
    // one after the other.
    let mut out: Vec<(usize, Loaded)> = order
        .par_iter()
        .with_max_len(1)
        .map(|&(_, i)| (i, load_file(&files[i], packages, &folders)))
        .collect();
    out.sort_unstable_by_key(|&(i, _)| i);
    out.into_iter().map(|(_, l)| l).collect()
}

/// A project file's text. Read through a buffer each thread keeps, so
/// that a file costs an open, two reads and a close (no size query), and
/// its text one allocation of the right size.
fn read_text(path: &Path) -> std::io::Result<String> {
    use std::cell::RefCell;
    use std::io::Read;
    thread_local! {
        static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    let mut file = std::fs::File::open(path)?;
    BUF.with_borrow_mut(|buf| {
        if buf.is_empty() {
            buf.resize(64 << 10, 0);
        }
        let mut filled = 0;
        loop {
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            match file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let text = std::str::from_utf8(&buf[..filled])
            .map(str::to_owned)
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "stream did not contain valid UTF-8",
                )
            });
        // A very large file's buffer is not kept.
        if buf.len() > 1 << 20 {
            *buf = Vec::new();
        }
        text
    })
}

fn load_file(
    f: &FoundFile,
    packages: &IndexMap<String, Package>,
    folders: &FolderConfigs,
) -> Loaded {
    let mut out = Loaded::default();
    let Some(pkg) = packages.get(&f.package) else {
        return out;
    };
    let display = if pkg.is_root {
        f.rel.clone()
    } else {
        rel_string(
            f.abs
                .strip_prefix(packages.get_index(0).map_or(&pkg.dir, |(_, p)| &p.dir))
                .unwrap_or(&f.abs),
        )
    };
    if f.kind == FileKind::Seed {
        // Seeds are data: only their header matters before execution.
        let name = file_stem(&f.rel_in_root);
        let mut node = Node::new(ResourceType::Seed, &f.package, &name);
        node.path.clone_from(&f.rel_in_root);
        node.original_file_path.clone_from(&f.rel);
        node.abs_path.clone_from(&f.abs);
        node.fqn = fqn_for(&f.package, &f.rel_in_root, &name, None);
        node.checksum = match std::fs::read(&f.abs) {
            // dbt hashes small seeds' text without surrounding whitespace.
            Ok(bytes) if bytes.len() < 1 << 20 => {
                sha256_hex(String::from_utf8_lossy(&bytes).trim())
            }
            Ok(_) => String::new(),
            Err(e) => {
                out.diags.push(Diag::error(
                    "XF0130",
                    format!("cannot read seed `{display}`: {e}"),
                ));
                return out;
            }
        };
        node.config = crate::node::NodeConfig::new(
            ResourceType::Seed,
            project_config(pkg, packages, ResourceType::Seed, &node.fqn),
        );
        out.nodes.push(Box::new(node));
        return out;
    }
    let mut text = match read_text(&f.abs) {
        Ok(t) => t,
        Err(e) => {
            out.diags.push(Diag::error(
                "XF0131",
                format!("cannot read `{display}`: {e}"),
            ));
            return out;
        }
    };
    // Built only for diagnostics and YAML, not for every model file.
    let source = |text: &str| SourceText::new(display.clone(), text);
    let path_arc = Arc::new(f.abs.clone());
    let whole = SourceSpan::new(Arc::clone(&path_arc), 0, text.len());
    // Texts are kept for YAML (read again only for diagnostics otherwise:
    // holding every model's text twice would double the memory).
    if f.kind == FileKind::Properties {
        out.source = Some((f.abs.clone(), source(&text)));
    }
    match f.kind {
        FileKind::Model | FileKind::SingularTest | FileKind::Analysis => {
            let (rt, prefix) = match f.kind {
                FileKind::Model => (ResourceType::Model, None),
                FileKind::SingularTest => (ResourceType::Test, None),
                _ => (ResourceType::Analysis, Some("analysis")),
            };
            if f.abs.extension().is_some_and(|e| e == "py") {
                out.diags.push(
                    Diag::warning(
                        "XF0132",
                        format!("Python model `{display}` is skipped: xform runs SQL models only"),
                    )
                    .with_source(source(&text)),
                );
                return out;
            }
            let name = file_stem(&f.rel_in_root);
            let mut node = Node::new(rt, &f.package, &name);
            node.path = match prefix {
                Some(p) => format!("{p}/{}", f.rel_in_root),
                None => f.rel_in_root.clone(),
            };
            node.original_file_path.clone_from(&f.rel);
            node.abs_path.clone_from(&f.abs);
            node.span = Some(whole);
            node.fqn = fqn_for(&f.package, &f.rel_in_root, &name, prefix);
            node.raw_offset = text.len() - text.trim_start().len();
            node.checksum = sha256_hex(text.trim());
            // The file's text becomes the code, trimmed in place.
            text.truncate(text.trim_end().len());
            text.drain(..node.raw_offset.min(text.len()));
            node.raw_code = text;
            let config = folders
                .get(&f.package, rt, &node.fqn)
                .unwrap_or_else(|| project_config(pkg, packages, rt, &node.fqn));
            node.config = crate::node::NodeConfig::new(rt, config);
            out.nodes.push(Box::new(node));
        }
        FileKind::Snapshot | FileKind::Macro | FileKind::Docs => {
            let blocks = match blocks::extract(&text) {
                Ok(b) => b,
                Err(e) => {
                    out.diags.push(
                        Diag::error(
                            "XF0201",
                            format!("cannot read blocks of `{display}`: {}", e.message),
                        )
                        .with_source(source(&text))
                        .with_label(e.offset, 2, ""),
                    );
                    return out;
                }
            };
            for b in &blocks {
                match (f.kind, b.kind) {
                    (FileKind::Snapshot, blocks::BlockKind::Snapshot) => {
                        let name = b.name().to_owned();
                        let mut node = Node::new(ResourceType::Snapshot, &f.package, &name);
                        node.path.clone_from(&f.rel_in_root);
                        node.original_file_path.clone_from(&f.rel);
                        node.abs_path.clone_from(&f.abs);
                        node.span = Some(SourceSpan::new(
                            Arc::clone(&path_arc),
                            b.start,
                            b.end - b.start,
                        ));
                        let stem = file_stem(&f.rel_in_root);
                        let mut fqn = fqn_for(&f.package, &f.rel_in_root, &stem, None);
                        fqn.push(name.clone());
                        node.fqn = fqn;
                        text[b.body_start..b.body_end].clone_into(&mut node.raw_code);
                        node.raw_offset = b.body_start;
                        node.checksum = sha256_hex(text.trim());
                        node.config = crate::node::NodeConfig::new(
                            ResourceType::Snapshot,
                            project_config(pkg, packages, ResourceType::Snapshot, &node.fqn),
                        );
                        out.nodes.push(Box::new(node));
                    }
                    (_, blocks::BlockKind::Docs) => {
                        let name = b.name().to_owned();
                        out.docs.push(DocBlock {
                            unique_id: format!("doc.{}.{name}", f.package),
                            name,
                            package_name: f.package.clone(),
                            path: f.rel_in_root.clone(),
                            original_file_path: f.rel.clone(),
                            block_contents: text[b.body_start..b.body_end].trim().to_owned(),
                        });
                    }
                    (_, blocks::BlockKind::Snapshot) => {}
                    _ => {
                        let (name, src) = blocks::as_macro_source(&text, b);
                        if name.is_empty() {
                            continue;
                        }
                        out.macros.push(MacroDef {
                            unique_id: format!("macro.{}.{name}", f.package),
                            name,
                            package_name: f.package.clone(),
                            path: f.rel.clone(),
                            abs_path: f.abs.clone(),
                            macro_sql: text[b.start..b.end].to_owned(),
                            template: pad_to_line(&text, b.start, &src),
                            offset: b.start,
                            description: String::new(),
                            meta: Map::new(),
                            arguments: Value::Array(Vec::new()),
                            patch_path: None,
                            builtin: false,
                        });
                    }
                }
            }
        }
        FileKind::Properties => match crate::yaml::parse(&text) {
            Ok(doc) => {
                out.yaml = Some(properties::YamlFile {
                    package: f.package.clone(),
                    rel: f.rel.clone(),
                    rel_in_root: f.rel_in_root.clone(),
                    root: f.root.clone(),
                    abs: f.abs.clone(),
                    abs_shared: Arc::clone(&path_arc),
                    // The text kept above, shared.
                    source: out
                        .source
                        .as_ref()
                        .map_or_else(|| source(&text), |(_, s)| s.clone()),
                    doc,
                    originals: HashMap::new(),
                });
            }
            Err(e) => {
                out.diags.push(
                    Diag::error(
                        "XF0102",
                        format!("invalid YAML in `{display}`: {}", e.message),
                    )
                    .with_source(source(&text))
                    .with_label(e.offset, 1, "here"),
                );
            }
        },
        FileKind::Seed => {}
    }
    out
}

/// Pads a block's template with the newlines and spaces that precede it in
/// the file, so that errors in the template report file lines and columns.
pub fn pad_to_line(text: &str, offset: usize, src: &str) -> String {
    let before = &text[..offset.min(text.len())];
    let lines = before.matches('\n').count();
    let col = before
        .rsplit_once('\n')
        .map_or(before, |(_, r)| r)
        .chars()
        .count();
    let mut out = String::with_capacity(lines + col + src.len());
    for _ in 0..lines {
        out.push('\n');
    }
    for _ in 0..col {
        out.push(' ');
    }
    out.push_str(src);
    out
}

/// The project-file configs of the models, tests and analyses of each
/// folder, worked out once per folder before the files are read: ten
/// thousand models in a handful of folders get a handful of configs.
///
/// A node's config is its folder's unless a tree names the node itself:
/// walking a tree, the node's name is only looked at on the level its
/// folder leads to, so when no such level has a key of that name, the
/// node's walk is its folder's (`names` holds those keys).
struct FolderConfigs(HashMap<u64, Vec<FolderConfig>>);

struct FolderConfig {
    package: String,
    rt: ResourceType,
    folder: Vec<String>,
    config: Map<String, Value>,
    names: std::collections::HashSet<String>,
}

impl FolderConfigs {
    fn new(files: &[FoundFile], packages: &IndexMap<String, Package>) -> Self {
        let mut out = Self(HashMap::new());
        for f in files {
            let (rt, prefix) = match f.kind {
                FileKind::Model => (ResourceType::Model, None),
                FileKind::SingularTest => (ResourceType::Test, None),
                FileKind::Analysis => (ResourceType::Analysis, Some("analysis")),
                _ => continue,
            };
            let Some(pkg) = packages.get(&f.package) else {
                continue;
            };
            let mut folder = fqn_for(&f.package, &f.rel_in_root, "", prefix);
            folder.pop();
            if out.find(&f.package, rt, &folder).is_some() {
                continue;
            }
            let names = config_trees(pkg, packages, rt)
                .filter_map(|tree| level_at(tree, &folder))
                .flat_map(|level| level.keys().cloned())
                .collect();
            let config = project_config(pkg, packages, rt, &folder);
            out.0
                .entry(Self::hash(&f.package, rt, &folder))
                .or_default()
                .push(FolderConfig {
                    package: f.package.clone(),
                    rt,
                    folder,
                    config,
                    names,
                });
        }
        out
    }

    fn hash(package: &str, rt: ResourceType, folder: &[String]) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        package.hash(&mut h);
        rt.as_str().hash(&mut h);
        folder.hash(&mut h);
        h.finish()
    }

    /// Looked up without building a key.
    fn find(&self, package: &str, rt: ResourceType, folder: &[String]) -> Option<&FolderConfig> {
        self.0
            .get(&Self::hash(package, rt, folder))?
            .iter()
            .find(|c| c.rt == rt && c.package == package && c.folder == folder)
    }

    /// The config of the node `fqn` (its folder, then its name), when its
    /// folder's is its own.
    fn get(&self, package: &str, rt: ResourceType, fqn: &[String]) -> Option<Map<String, Value>> {
        let (name, folder) = fqn.split_last()?;
        let hit = self.find(package, rt, folder)?;
        (!hit.names.contains(name)).then(|| hit.config.clone())
    }
}

/// The `dbt_project.yml` trees [`project_config`] reads for a node of
/// `pkg`.
fn config_trees<'a>(
    pkg: &'a Package,
    packages: &'a IndexMap<String, Package>,
    rt: ResourceType,
) -> impl Iterator<Item = &'a Value> {
    let key = config_key(rt);
    let models = (rt == ResourceType::Analysis)
        .then(|| pkg.file.configs.get("models"))
        .flatten();
    let own = key.and_then(|k| pkg.file.configs.get(k));
    let root = (!pkg.is_root)
        .then(|| packages.values().find(|p| p.is_root))
        .flatten()
        .and_then(|r| key.and_then(|k| r.file.configs.get(k)));
    models.into_iter().chain(own).chain(root)
}

/// The level of a config tree that `path` leads to, when every step exists.
fn level_at<'a>(tree: &'a Value, path: &[String]) -> Option<&'a Map<String, Value>> {
    let mut level = tree.as_object()?;
    for step in path {
        level = level.get(step)?.as_object()?;
    }
    Some(level)
}

/// The config a node gets from `dbt_project.yml`: its own package's tree,
/// then the root project's tree, which wins.
pub fn project_config(
    pkg: &Package,
    packages: &IndexMap<String, Package>,
    rt: ResourceType,
    fqn: &[String],
) -> Map<String, Value> {
    project_config_in(pkg, packages, rt, fqn, |f| &f.configs, false)
}

/// The project-file config of a node as written (before its Jinja was
/// rendered, deeper levels replacing keys rather than merging), for
/// `unrendered_config`; `None` when it equals the merged config.
pub fn project_config_written(
    packages: &IndexMap<String, Package>,
    node: &Node,
) -> Option<Map<String, Value>> {
    if packages.values().all(|p| !p.file.written_differs) {
        return None;
    }
    let pkg = packages.get(&node.package_name)?;
    Some(project_config_in(
        pkg,
        packages,
        node.resource_type,
        &node.fqn,
        |f| f.configs_raw.as_ref().unwrap_or(&f.configs),
        true,
    ))
}

/// The key of a resource type's tree in `dbt_project.yml`.
fn config_key(rt: ResourceType) -> Option<&'static str> {
    Some(match rt {
        ResourceType::Model => "models",
        ResourceType::Seed => "seeds",
        ResourceType::Snapshot => "snapshots",
        ResourceType::Test => "data_tests",
        ResourceType::Analysis => "analyses",
        ResourceType::Source => "sources",
        ResourceType::Exposure => "exposures",
        ResourceType::UnitTest => "unit_tests",
        _ => return None,
    })
}

type TreeConfig = fn(&Value, &[String]) -> Map<String, Value>;
type MergeConfig = fn(&mut Map<String, Value>, &Map<String, Value>);

fn project_config_in(
    pkg: &Package,
    packages: &IndexMap<String, Package>,
    rt: ResourceType,
    fqn: &[String],
    trees: impl Fn(&ProjectFile) -> &Map<String, Value>,
    written: bool,
) -> Map<String, Value> {
    let Some(key) = config_key(rt) else {
        return Map::new();
    };
    let from_tree: TreeConfig = if written {
        config::from_tree_written
    } else {
        config::from_tree
    };
    let combine: MergeConfig = if written {
        config::replace_into
    } else {
        config::merge_into
    };
    let mut out = Map::new();
    // dbt configures analyses through the `models:` tree as well.
    if rt == ResourceType::Analysis
        && let Some(tree) = trees(&pkg.file).get("models")
    {
        out = from_tree(tree, fqn);
    }
    if let Some(tree) = trees(&pkg.file).get(key) {
        combine(&mut out, &from_tree(tree, fqn));
    }
    if !pkg.is_root
        && let Some(root) = packages.values().find(|p| p.is_root)
        && let Some(tree) = trees(&root.file).get(key)
    {
        combine(&mut out, &from_tree(tree, fqn));
    }
    out
}
