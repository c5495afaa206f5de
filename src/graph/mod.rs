//! The dependency graph of a project and node selection.
//!
//! Invariant: the graph is built once from `Node::depends_on_nodes` after the
//! parse phase; it never changes afterwards and never looks at files.

pub mod select;

use std::collections::{HashMap, VecDeque};

use petgraph::Direction;
use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::node::FastState;

/// Edges point from a parent to the nodes that depend on it.
#[derive(Debug, Default)]
pub struct Dag {
    graph: DiGraph<String, ()>,
    index: HashMap<String, NodeIndex, FastState>,
}

impl Dag {
    /// Builds the graph. Dependencies on unknown ids are ignored here: the
    /// parse phase already reported them.
    ///
    /// Node `i` of the map is node `i` of the graph. The ids for the graph,
    /// the id index and the edges (each a lookup of a parent's id) are made
    /// side by side; the edges keep the order of the nodes and of their
    /// dependencies, as built one by one.
    pub fn build(nodes: &crate::node::NodeMap) -> Self {
        use rayon::prelude::*;
        let ((weights, index), edges) = rayon::join(
            || {
                rayon::join(
                    || nodes.keys().cloned().collect::<Vec<String>>(),
                    || {
                        let mut index =
                            HashMap::with_capacity_and_hasher(nodes.len(), FastState::default());
                        for (i, id) in nodes.keys().enumerate() {
                            index.insert(id.clone(), NodeIndex::new(i));
                        }
                        index
                    },
                )
            },
            || {
                // A parent listed twice gets one edge; `add_edge` does not
                // search the parent's edges (a staging model can have
                // thousands of children).
                nodes
                    .par_values()
                    .enumerate()
                    .flat_map_iter(|(i, node)| {
                        let deps = &node.depends_on_nodes;
                        deps.iter().enumerate().filter_map(move |(k, parent)| {
                            if deps[..k].contains(parent) {
                                return None;
                            }
                            let p = nodes.get_index_of(parent.as_str())?;
                            Some((NodeIndex::new(p), NodeIndex::new(i)))
                        })
                    })
                    .collect::<Vec<_>>()
            },
        );
        let mut graph = DiGraph::with_capacity(weights.len(), edges.len());
        for id in weights {
            graph.add_node(id);
        }
        for (parent, child) in edges {
            graph.add_edge(parent, child, ());
        }
        Self { graph, index }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.graph.node_weights().map(String::as_str)
    }

    fn neighbors(&self, id: &str, dir: Direction) -> Vec<&str> {
        match self.index.get(id) {
            Some(&ix) => self.sorted_neighbors(ix, dir),
            None => Vec::new(),
        }
    }

    /// A node's neighbours in one direction, sorted by id.
    fn sorted_neighbors(&self, ix: NodeIndex, dir: Direction) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .graph
            .neighbors_directed(ix, dir)
            .map(|n| self.graph[n].as_str())
            .collect();
        out.sort_unstable();
        out
    }

    pub fn parents(&self, id: &str) -> Vec<&str> {
        self.neighbors(id, Direction::Incoming)
    }

    pub fn children(&self, id: &str) -> Vec<&str> {
        self.neighbors(id, Direction::Outgoing)
    }

    /// A node's children in no particular order, without collecting or
    /// sorting them (for callers whose result does not depend on order).
    pub fn children_unordered(&self, id: &str) -> impl Iterator<Item = &str> {
        self.index.get(id).into_iter().flat_map(move |&ix| {
            self.graph
                .neighbors_directed(ix, Direction::Outgoing)
                .map(move |n| self.graph[n].as_str())
        })
    }

    /// How many nodes the graph has.
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// A node's children as positions in the node map the graph was built
    /// from (node `i` of the map is node `i` of the graph), in no
    /// particular order: for callers that look them up in that map
    /// without hashing their ids.
    pub fn children_positions(&self, id: &str) -> impl Iterator<Item = usize> {
        self.index.get(id).into_iter().flat_map(move |&ix| {
            self.graph
                .neighbors_directed(ix, Direction::Outgoing)
                .map(NodeIndex::index)
        })
    }

    fn walk(&self, id: &str, dir: Direction, depth: Option<usize>) -> Vec<String> {
        let Some(&start) = self.index.get(id) else {
            return Vec::new();
        };
        let mut seen = vec![false; self.graph.node_count()];
        seen[start.index()] = true;
        let mut queue = VecDeque::from([(start, 0usize)]);
        let mut out = Vec::new();
        while let Some((ix, d)) = queue.pop_front() {
            if depth.is_some_and(|max| d >= max) {
                continue;
            }
            for n in self.graph.neighbors_directed(ix, dir) {
                if !seen[n.index()] {
                    seen[n.index()] = true;
                    out.push(self.graph[n].clone());
                    queue.push_back((n, d + 1));
                }
            }
        }
        out
    }

    /// All ancestors, or those within `depth` edges.
    pub fn ancestors(&self, id: &str, depth: Option<usize>) -> Vec<String> {
        self.walk(id, Direction::Incoming, depth)
    }

    /// All descendants, or those within `depth` edges.
    pub fn descendants(&self, id: &str, depth: Option<usize>) -> Vec<String> {
        self.walk(id, Direction::Outgoing, depth)
    }

    /// Every cycle in the graph, each as the list of its node ids in edge order.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for scc in tarjan_scc(&self.graph) {
            let is_cycle =
                scc.len() > 1 || scc.first().is_some_and(|&n| self.graph.contains_edge(n, n));
            if !is_cycle {
                continue;
            }
            out.push(self.order_cycle(&scc));
        }
        out
    }

    /// Orders the members of a strongly connected component along one cycle,
    /// so that an error can show `a -> b -> c -> a`.
    fn order_cycle(&self, scc: &[NodeIndex]) -> Vec<String> {
        let members: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
        let start = scc.iter().copied().min_by_key(|n| &self.graph[*n]);
        let Some(start) = start else {
            return Vec::new();
        };
        // Breadth-first search inside the component for the shortest path
        // from `start` back to itself.
        let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut found = false;
        'search: while let Some(ix) = queue.pop_front() {
            for n in self.graph.neighbors_directed(ix, Direction::Outgoing) {
                if !members.contains(&n) {
                    continue;
                }
                if n == start {
                    prev.insert(start, ix);
                    found = true;
                    break 'search;
                }
                if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(n) {
                    e.insert(ix);
                    queue.push_back(n);
                }
            }
        }
        if !found {
            return scc.iter().map(|n| self.graph[*n].clone()).collect();
        }
        let mut path = vec![start];
        let mut cur = prev[&start];
        while cur != start {
            path.push(cur);
            cur = prev[&cur];
        }
        path[1..].reverse();
        path.into_iter().map(|n| self.graph[n].clone()).collect()
    }

    /// Node ids with every parent before its children; `None` when there is a cycle.
    pub fn topo_order(&self) -> Option<Vec<String>> {
        toposort(&self.graph, None)
            .ok()
            .map(|v| v.into_iter().map(|n| self.graph[n].clone()).collect())
    }

    /// `parent_map` and `child_map` as the manifest writes them: every node,
    /// neighbours sorted.
    pub fn parent_child_maps(&self) -> (NeighbourMap<'_>, NeighbourMap<'_>) {
        self.graph
            .node_indices()
            .map(|ix| {
                let id = self.graph[ix].as_str();
                (
                    (id, self.sorted_neighbors(ix, Direction::Incoming)),
                    (id, self.sorted_neighbors(ix, Direction::Outgoing)),
                )
            })
            .unzip()
    }
}

/// Each node with its sorted neighbours, in graph order; serializes as a
/// JSON object.
#[derive(Default)]
pub struct NeighbourMap<'a>(Vec<(&'a str, Vec<&'a str>)>);

impl<'a> FromIterator<(&'a str, Vec<&'a str>)> for NeighbourMap<'a> {
    fn from_iter<I: IntoIterator<Item = (&'a str, Vec<&'a str>)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl<'a> Extend<(&'a str, Vec<&'a str>)> for NeighbourMap<'a> {
    fn extend<I: IntoIterator<Item = (&'a str, Vec<&'a str>)>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl serde::Serialize for NeighbourMap<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}
