//! Files under `target/` that other tools read: `manifest.json` (dbt v12).

pub mod files;
pub mod json;
pub mod manifest;
pub mod run_results;
pub mod stream;
