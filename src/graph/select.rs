//! TEMPORARY stub until the selection module lands.
use indexmap::{IndexMap, IndexSet};
use crate::graph::Dag;
use crate::node::{Node, ResourceType};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SelectError {
    #[error("unsupported: {0}")]
    #[diagnostic(code(xform::XF0302))]
    Bad(String),
}
pub enum IndirectSelection { Eager, Cautious, Buildable, Empty }
pub struct SelectOptions<'a> {
    pub select: &'a [String],
    pub exclude: &'a [String],
    pub selector: Option<&'a str>,
    pub resource_types: &'a [ResourceType],
    pub indirect_selection: IndirectSelection,
    pub default_selector_allowed: bool,
}
pub struct Selectors;
impl Selectors {
    pub fn parse(_doc: &serde_json::Value) -> Result<Self, SelectError> { Ok(Self) }
}
pub fn select(nodes: &IndexMap<String, Node>, _dag: &Dag, _s: &Selectors, opts: &SelectOptions) -> Result<IndexSet<String>, SelectError> {
    let mut out = IndexSet::new();
    for (id, n) in nodes {
        if opts.select.is_empty() || opts.select.iter().any(|s| s == &n.name) {
            out.insert(id.clone());
        }
    }
    Ok(out)
}
