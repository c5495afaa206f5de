//! `--defer` and `clone`: the relations of the state's environment.
//!
//! With `--defer`, a ref to a model, seed or snapshot that is not selected
//! resolves to the relation the state manifest records for it when its
//! own relation does not exist in the current target (with
//! `--favor-state`, whether it exists or not). The warehouse check is made
//! by the run phase ([`crate::execute`]); commands without a warehouse
//! (`compile`, `check`) defer every unselected node the state has.
//! Ephemeral models are never deferred: they are inlined as CTEs.

use std::collections::{HashMap, HashSet};

use super::{OldNode, StateManifest};
use crate::jinja::relation::Relation;
use crate::node::{Node, ResourceType};
use crate::project::Project;

/// A node that `--defer` may resolve elsewhere.
#[derive(Clone, Debug)]
pub struct Deferral {
    pub unique_id: String,
    /// Its relation in the current target.
    pub here: Relation,
    /// Its relation in the state's environment.
    pub there: Relation,
}

/// Where the state built `node`, quoted as the current target quotes it;
/// `None` when the state has no relation for it (absent, ephemeral, or
/// without a schema).
pub fn state_relation(project: &Project, node: &Node, old: &OldNode) -> Option<Relation> {
    if !matches!(
        node.resource_type,
        ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
    ) || old.materialized() == "ephemeral"
    {
        return None;
    }
    let schema = old.schema.as_deref().filter(|s| !s.is_empty())?;
    let identifier = old
        .alias
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or(old.name.as_str());
    if identifier.is_empty() {
        return None;
    }
    let mut r = crate::compile::relation_for(project, node);
    r.database = old.database.clone().filter(|d| !d.is_empty());
    r.schema = Some(schema.to_owned());
    r.identifier = Some(identifier.to_owned());
    r.kind = Some(
        match old.materialized() {
            "table" | "incremental" | "seed" | "snapshot" => "table",
            "materialized_view" => "materialized_view",
            _ => "view",
        }
        .to_owned(),
    );
    if node.resource_type != ResourceType::Model {
        r.kind = Some("table".to_owned());
    }
    Some(r)
}

/// The nodes `--defer` may send to the state: models, seeds and snapshots
/// that are not in `selected`, not ephemeral here, and have a relation in
/// the state.
pub fn candidates<S: std::hash::BuildHasher>(
    project: &Project,
    manifest: &StateManifest,
    selected: &HashSet<&str, S>,
) -> Vec<Deferral> {
    project
        .nodes
        .values()
        .filter(|n| !selected.contains(n.unique_id.as_str()) && !n.is_ephemeral())
        .filter_map(|n| {
            let old = manifest.nodes.get(&n.unique_id)?;
            let there = state_relation(project, n, old)?;
            Some(Deferral {
                unique_id: n.unique_id.clone(),
                here: crate::compile::relation_for(project, n),
                there,
            })
        })
        .collect()
}

/// Deferral without a warehouse: every candidate.
pub fn all(candidates: Vec<Deferral>) -> HashMap<String, Relation> {
    candidates
        .into_iter()
        .map(|d| (d.unique_id, d.there))
        .collect()
}
