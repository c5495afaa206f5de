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

use std::time::Instant;

use crate::diagnostics::{Diag, Diags};
use crate::graph::Dag;
use crate::jinja::Renderer;
use crate::project::Project;
use catalog::Catalog;

/// How to generate.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Do not connect: the catalog is inferred from the project.
    pub offline: bool,
}

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

/// Reads the catalog of the project's relations from the warehouse of the
/// target.
fn read_warehouse(project: &Project) -> Result<Catalog, Diag> {
    let kind = &project.target.kind;
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
        .open(&project.target)
        .map_err(|e| unreachable(e.message))?;
    let mut conn = wh.connect().map_err(|e| unreachable(e.message))?;
    catalog::from_warehouse(project, adapter.as_ref(), conn.as_mut()).map_err(|e| {
        Diag::warning(
            "XF0802",
            format!("the warehouse rejected the catalog query: {}", e.message.trim()),
        )
        .with_help(format!(
            "the query comes from templates/{kind}/catalog.sql; the catalog is inferred from the project's SQL instead"
        ))
    })
}

/// Writes `catalog.json` and `index.html` for a loaded (and, unless
/// `--no-compile`, compiled) project. `rendered` holds the models compile
/// already rendered, so lineage does not render them again.
#[allow(clippy::implicit_hasher)] // handed on to `check::Options` as it is
pub fn generate(
    project: &Project,
    renderer: &Renderer,
    dag: &Dag,
    opts: Options,
    rendered: Option<&std::collections::HashMap<String, String>>,
    invocation_id: &str,
    started: chrono::DateTime<chrono::Utc>,
) -> std::io::Result<Generated> {
    let mut warnings = Diags::default();
    let t0 = Instant::now();
    let from_warehouse = if opts.offline {
        None
    } else {
        match read_warehouse(project) {
            Ok(c) => Some(c),
            Err(d) => {
                warnings.push(d);
                None
            }
        }
    };
    tracing::debug!("warehouse catalog in {:?}", t0.elapsed());
    let t1 = Instant::now();
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
    tracing::debug!("lineage in {:?}", t1.elapsed());
    let catalog = from_warehouse.unwrap_or_else(|| catalog::from_inference(project, &graph));
    let t2 = Instant::now();
    let inv = catalog::Invocation {
        invocation_id,
        started_at: started,
    };
    let catalog_path = catalog::write(project, &catalog, &inv)?;
    tracing::debug!("wrote catalog in {:?}", t2.elapsed());
    let t3 = Instant::now();
    let (page_path, page_bytes) = page::write(&page::Inputs {
        project,
        dag,
        catalog: Some(&catalog),
        lineage: &graph,
        generated_at: chrono::Utc::now(),
    })?;
    tracing::debug!(
        "wrote index.html ({page_bytes} bytes) in {:?}",
        t3.elapsed()
    );
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
