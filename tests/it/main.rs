//! Integration tests: one binary, modules by area. They run the real
//! `xform` binary on fixture projects (copied to temp folders) and compare
//! against dbt-core when it is available.

/// The compatibility harness's engine (`compat/engine`): runs projects with
/// xform or dbt and dumps what they built; its unit tests run here too.
/// What only the harness's command line uses (running both tools at once,
/// keeping their folders, reading the server from the environment) is
/// unused in this crate.
#[path = "../../compat/engine/mod.rs"]
#[allow(dead_code)]
mod compat;

mod browser;
mod check;
mod cli;
mod compile;
mod dbt_compat;
mod deps;
mod docs;
mod errors;
mod exec_compat;
mod manifest_schema;
mod run;
mod run_postgres;
mod snapshot;
mod state;
mod support;
