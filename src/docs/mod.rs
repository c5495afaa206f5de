//! `xform docs`: `target/catalog.json` (dbt catalog v1) and a one-file
//! documentation site, `target/index.html`, with the project's graph and
//! column-level lineage; `serve` shows it on 127.0.0.1.
//!
//! The catalog comes from the warehouse (`Adapter::catalog_sql`, one query
//! per database) unless `--offline` or the warehouse cannot be reached; then
//! from the columns `lineage` infers. Column lineage always comes from
//! `check`'s inference, fed with the warehouse's columns of sources, seeds
//! and snapshots when there are some.
//!
//! Invariant: the page is written from data alone; nothing from the project
//! is ever interpreted as markup or code in it (see `page`).

pub mod catalog;
pub mod page;
pub mod serve;

use crate::diagnostics::{Diag, Diags};
use crate::graph::Dag;
use crate::jinja::Renderer;
use crate::project::Project;
use catalog::Catalog;

/// What `generate` wrote.
#[derive(Debug)]
pub struct Generated {
    pub catalog: Catalog,
    pub catalog_path: std::path::PathBuf,
    pub page_path: std::path::PathBuf,
    pub page_bytes: u64,
    /// Models whose columns lineage could infer.
    pub lineage_nodes: usize,
    /// Problems that did not stop the docs (warehouse unreachable).
    pub warnings: Diags,
}

/// The warehouse's catalog of a project's relations, to be read. It owns
/// what it needs, so `docs generate` reads it on its own thread while the
/// project compiles (opening the warehouse and the catalog query take a
/// while, and compiling does not touch the warehouse).
pub struct WarehouseRequest {
    target: crate::project::profiles::Target,
    query: catalog::Query,
}

impl WarehouseRequest {
    pub fn new(project: &Project) -> Self {
        Self {
            target: project.target.clone(),
            query: catalog::Query::new(project),
        }
    }

    /// Reads the catalog; a warning when the warehouse cannot be reached or
    /// rejects the query (the catalog is then inferred).
    pub fn read(self) -> Result<Catalog, Diag> {
        let t = crate::timing::Stopwatch::start();
        let read = self.read_inner();
        tracing::debug!("read the warehouse's catalog in {t}");
        read
    }

    fn read_inner(self) -> Result<Catalog, Diag> {
        let kind = &self.target.kind;
        let adapter = crate::adapter::for_kind(kind)
            .ok_or_else(|| Diag::warning("XF0801", format!("unknown warehouse type `{kind}`")))?;
        let unreachable = |m: String| {
            Diag::warning(
                "XF0801",
                format!("cannot read the catalog from the warehouse: {m}"),
            )
            .with_help("the catalog and column types come from the project's SQL instead; pass --offline to not try")
        };
        let wh = adapter
            .open(&self.target)
            .map_err(|e| unreachable(e.message))?;
        let mut conn = wh.connect().map_err(|e| unreachable(e.message))?;
        catalog::from_warehouse(&self.query, adapter.as_ref(), conn.as_mut()).map_err(|e| {
            Diag::warning(
                "XF0802",
                format!("the warehouse rejected the catalog query: {}", e.message.trim()),
            )
            .with_help(format!(
                "the query comes from templates/{kind}/catalog.sql; the catalog is inferred from the project's SQL instead"
            ))
        })
    }
}

/// Writes `catalog.json` and `index.html` for a loaded (and, unless
/// `--no-compile`, compiled) project. `warehouse` is what the warehouse
/// said (`None` offline); `rendered` holds the models compile already
/// rendered, so lineage does not render them again.
#[allow(clippy::implicit_hasher)] // handed on to `check::Options` as it is
pub fn generate(
    project: &Project,
    renderer: &Renderer,
    dag: &Dag,
    warehouse: Option<Result<Catalog, Diag>>,
    rendered: Option<&std::collections::HashMap<String, String>>,
    invocation_id: &str,
    started: chrono::DateTime<chrono::Utc>,
) -> std::io::Result<Generated> {
    let mut warnings = Diags::default();
    let from_warehouse = match warehouse {
        Some(Ok(c)) => Some(c),
        Some(Err(d)) => {
            warnings.push(d);
            None
        }
        None => None,
    };
    let t1 = crate::timing::Stopwatch::start();
    let ids: Vec<String> = project.nodes.keys().cloned().collect();
    let lineage_catalog = from_warehouse.as_ref().map(Catalog::to_lineage);
    let report = crate::check::check(
        project,
        renderer,
        dag,
        &ids,
        crate::check::Options {
            catalog: lineage_catalog.as_ref(),
            lints: false,
            dialect: None,
            rendered,
        },
    );
    let graph = report.inference.graph;
    tracing::debug!("lineage in {t1}");
    let catalog = from_warehouse.unwrap_or_else(|| catalog::from_inference(project, &graph));
    let t2 = crate::timing::Stopwatch::start();
    let inv = catalog::Invocation {
        invocation_id,
        started_at: started,
    };
    // The two files are independent; the page is the larger job.
    let (catalog_path, page) = rayon::join(
        || {
            let r = catalog::write(project, &catalog, &inv);
            tracing::debug!("wrote catalog in {t2}");
            r
        },
        || {
            page::write(&page::Inputs {
                project,
                dag,
                catalog: Some(&catalog),
                lineage: &graph,
                generated_at: chrono::Utc::now(),
            })
        },
    );
    let (catalog_path, (page_path, page_bytes)) = (catalog_path?, page?);
    tracing::debug!("wrote index.html ({page_bytes} bytes) in {t2}");
    Ok(Generated {
        catalog,
        catalog_path,
        page_path,
        page_bytes,
        lineage_nodes: graph
            .nodes
            .values()
            .filter(|n| {
                n.resource_type == crate::node::ResourceType::Model && !n.columns.is_empty()
            })
            .count(),
        warnings,
    })
}
