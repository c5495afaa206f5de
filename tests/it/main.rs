//! Integration tests: one binary, modules by area. They run the real
//! `xform` binary on fixture projects (copied to temp folders) and compare
//! against dbt-core when it is available.

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
