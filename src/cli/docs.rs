//! `xform docs generate` and `xform docs serve`.

use std::path::PathBuf;
use std::time::Instant;

use super::args::{DocsGenerateArgs, DocsServeArgs};
use super::{GlobalArgs, Outcome, Printer};
use crate::diagnostics::{Diag, Diags};

/// Lowers the calling thread's scheduling priority (Linux keeps a nice
/// value per thread; threads it starts inherit it; elsewhere the value is
/// the whole process's, so nothing is changed). Best effort: a refusal
/// changes only the order in which work is done.
fn in_background() {
    #[cfg(target_os = "linux")]
    let _ = rustix::process::setpriority_process(None, 10);
}

/// Runs `work` at low priority: on this thread, and for its parallel parts
/// on `pool` (whose threads run at low priority) rather than on the global
/// pool the lineage uses.
fn in_bulk<T: Send>(pool: Option<&rayon::ThreadPool>, work: impl FnOnce() -> T + Send) -> T {
    in_background();
    match pool {
        Some(p) => p.install(work),
        None => work(),
    }
}

pub(super) fn generate_command(
    g: &GlobalArgs,
    a: &DocsGenerateArgs,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let t0 = Instant::now();
    // Offline, the profile is only needed for the SQL dialect.
    let mut loaded = match super::load(g, a.offline) {
        Ok(l) => l,
        Err(d) => return Ok(super::fail(printer, &d)),
    };
    printer.diags(&loaded.diags);
    if loaded.diags.has_errors() {
        return Ok(super::fail_count(printer, &loaded.diags));
    }
    // The warehouse is opened and its catalog read on a thread of its own
    // while the project compiles (compiling never queries it here).
    let warehouse = (!a.offline).then(|| {
        let request = crate::docs::WarehouseRequest::new(&loaded.project);
        std::thread::spawn(move || request.read())
    });
    let mut errors = Diags::default();
    let mut rendered = None;
    let mut compiled_ids = None;
    if !a.no_compile {
        let t1 = crate::timing::Stopwatch::start();
        let ids: Vec<String> = loaded
            .project
            .nodes
            .values()
            .filter(|n| n.resource_type.is_compiled())
            .map(|n| n.unique_id.clone())
            .collect();
        let (errs, models) =
            crate::compile::compile_keeping_rendered(&mut loaded.project, &loaded.renderer, &ids);
        rendered = Some(models);
        printer.diags(&errs);
        errors.extend(errs.0.into_iter().filter(Diag::is_error));
        tracing::debug!("compiled {} nodes in {t1}", ids.len());
        compiled_ids = Some(ids);
    }
    let shared = &loaded;
    // From here the project does not change, and the compiled files, the
    // manifest and the docs are independent of each other: the files (mostly
    // kernel work creating them), the manifest and the results are written
    // while the docs are made. The catalog and the page wait for the
    // lineage; the rest waits for nothing. So the bulk artifacts are written
    // at low priority, on threads of their own: the lineage gets the cores
    // first, and the bulk work every cycle it leaves. At equal priority the
    // lineage finished last and the page was made on a half-idle machine.
    let bulk = rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .thread_name(|i| format!("xform-bulk-{i}"))
        .start_handler(|_| in_background())
        .build()
        .ok();
    let bulk = bulk.as_ref();
    let generated = std::thread::scope(|s| -> anyhow::Result<_> {
        let files = compiled_ids.as_deref().map(|ids| {
            s.spawn(move || {
                in_bulk(bulk, || {
                    let t = crate::timing::Stopwatch::start();
                    let r = super::write_compiled(&shared.project, ids);
                    tracing::debug!("wrote compiled files in {t}");
                    r
                })
            })
        });
        let manifest = s.spawn(|| in_bulk(bulk, || super::write_manifest(shared)));
        // As dbt's `docs generate`, which runs `compile` first: its results.
        let results = compiled_ids.is_some().then(|| {
            s.spawn(|| {
                in_bulk(bulk, || {
                    let ids: Vec<String> = shared.project.nodes.keys().cloned().collect();
                    let sel = super::args::SelectArgs::default();
                    super::write_compile_results(shared, &ids, "generate", &sel, t0)
                })
            })
        });
        let warehouse = warehouse.map(|h| {
            h.join().unwrap_or_else(|_| {
                Err(Diag::warning(
                    "XF0801",
                    "cannot read the catalog from the warehouse: the reader failed",
                ))
            })
        });
        let generated = crate::docs::generate(
            &shared.project,
            &shared.renderer,
            &shared.dag,
            warehouse,
            rendered.as_ref(),
            &shared.renderer.shared.invocation_id,
            shared.started,
        );
        let joined = |r: std::thread::Result<anyhow::Result<_>>| {
            r.unwrap_or_else(|_| Err(anyhow::anyhow!("a writer thread panicked")))
        };
        if let Some(files) = files {
            joined(files.join().map(|r| r.map(drop)))?;
        }
        joined(manifest.join())?;
        if let Some(results) = results {
            joined(results.join())?;
        }
        Ok(generated?)
    })?;
    printer.diags(&generated.warnings);
    let c = &generated.catalog;
    printer.info(&format!(
        "Catalog written to {} ({} relations, {} sources, from the {})",
        loaded.project.display_path(&generated.catalog_path),
        c.nodes.len(),
        c.sources.len(),
        match c.origin {
            crate::docs::catalog::Origin::Warehouse => "warehouse",
            crate::docs::catalog::Origin::Inferred => "project's SQL: columns and types inferred",
        }
    ));
    printer.info(&format!(
        "Docs written to {} ({:.1} MB, column lineage for {} models) in {:.2}s",
        loaded.project.display_path(&generated.page_path),
        generated.page_bytes as f64 / 1e6,
        generated.lineage_nodes,
        t0.elapsed().as_secs_f64()
    ));
    if errors.has_errors() {
        return Ok(super::fail_count(printer, &errors));
    }
    super::exit_without_drop(loaded);
    Ok(Outcome::Ok)
}

/// The target folder of the project, without loading it: `target-path`
/// from `dbt_project.yml`, else `target`.
fn target_dir(g: &GlobalArgs) -> PathBuf {
    let dir = g.project_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let text = std::fs::read_to_string(dir.join("dbt_project.yml")).unwrap_or_default();
    let rel = crate::yaml::parse(&text)
        .ok()
        .and_then(|y| y.get("target-path").map(crate::yaml::Yaml::to_json))
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "target".to_owned());
    dir.join(rel)
}

pub(super) fn serve_command(g: &GlobalArgs, a: &DocsServeArgs, printer: &Printer) -> Outcome {
    let root = target_dir(g);
    if !root.join("index.html").is_file() {
        printer.diag(
            &Diag::error(
                "XF0810",
                format!(
                    "no documentation to serve: `{}` does not exist",
                    root.join("index.html").display()
                ),
            )
            .with_help("run `xform docs generate` first"),
        );
        return Outcome::UserError;
    }
    let listener = match crate::docs::serve::bind(a.port) {
        Ok(l) => l,
        Err(e) => {
            printer.diag(
                &Diag::error(
                    "XF0811",
                    format!("cannot listen on 127.0.0.1:{}: {e}", a.port),
                )
                .with_help("pick another port with --port (0 picks a free one)"),
            );
            return Outcome::UserError;
        }
    };
    let port = listener.local_addr().map_or(a.port, |addr| addr.port());
    printer.info(&format!(
        "Serving {} at http://127.0.0.1:{port}/ (Ctrl-C to stop)",
        root.display()
    ));
    crate::docs::serve::serve(&listener, &root);
    Outcome::Ok
}
