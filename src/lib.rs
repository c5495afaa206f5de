//! xform: a SQL-first transformation compiler that runs dbt projects.
//!
//! The pipeline, one module per phase: [`project`] loads files and YAML,
//! [`jinja`] renders templates, [`graph`] builds the DAG and selects nodes,
//! [`compile`] turns nodes into SQL, [`artifacts`] writes `target/`, and
//! [`cli`] is the only module that prints. See ARCHITECTURE.md.

pub mod adapter;
pub mod artifacts;
pub mod check;
pub mod cli;
pub mod compile;
pub mod deps;
pub mod diagnostics;
pub mod docs;
pub mod execute;
pub mod graph;
pub mod jinja;
pub mod lineage;
pub mod node;
pub mod project;
pub mod span;
pub mod state;
pub mod timing;
pub mod value;
pub mod yaml;
