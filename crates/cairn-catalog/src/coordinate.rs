//! Network coordinates of nodes (Consul's `coordinates` table): written in batches by the
//! leader, dropped with their node, read by `/v1/coordinate/*` and `?near=` sorting.

use crate::state::{fold, fold_name, Tx};
use crate::touched::Table;
use crate::view::{at_least_one, CatalogView};
use serde::{Deserialize, Serialize};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

/// A Vivaldi network coordinate, in Consul's JSON shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Coord {
    /// Euclidean part (8 dimensions in practice).
    pub vec: Vec<f64>,
    /// Confidence; lower is better.
    pub error: f64,
    /// Local adjustment.
    pub adjustment: f64,
    /// Height (access-link latency).
    pub height: f64,
}

impl Coord {
    /// Whether every component is finite.
    pub fn is_valid(&self) -> bool {
        self.vec.iter().all(|x| x.is_finite())
            && self.error.is_finite()
            && self.adjustment.is_finite()
            && self.height.is_finite()
    }

    /// Estimated round-trip time to `other` (serf's `DistanceTo`): Euclidean distance plus
    /// both heights, plus both adjustments when that stays positive. `None` if the
    /// dimensionalities differ or a value is not finite.
    pub fn distance_to(&self, other: &Coord) -> Option<Duration> {
        if self.vec.len() != other.vec.len() || !self.is_valid() || !other.is_valid() {
            return None;
        }
        let euclid = self
            .vec
            .iter()
            .zip(&other.vec)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        let raw = euclid + self.height + other.height;
        let adjusted = raw + self.adjustment + other.adjustment;
        let secs = if adjusted > 0.0 { adjusted } else { raw };
        Duration::try_from_secs_f64(secs).ok()
    }
}

/// A node's coordinate in one network segment (`/v1/coordinate/nodes` element).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeCoordinate {
    /// Node name.
    pub node: String,
    /// Network segment (empty for the default segment).
    pub segment: String,
    /// The coordinate.
    pub coord: Coord,
}

impl Tx {
    /// Store a batch of coordinates. Updates for unknown nodes or with non-finite values are
    /// dropped silently, as Consul does (coordinates are advisory).
    pub fn update_coordinates(&mut self, updates: Vec<NodeCoordinate>) {
        let mut changed = false;
        for update in updates {
            let node_key = fold_name(&update.node);
            if !self.s.nodes.contains_key(&node_key) || !update.coord.is_valid() {
                continue;
            }
            let key = (node_key, Arc::from(update.segment.as_str()));
            if self.s.coordinates.get(&key).is_some_and(|c| **c == update) {
                continue;
            }
            self.s.coordinates.insert(key, Arc::new(update));
            changed = true;
        }
        if changed {
            self.bump_coordinates();
        }
    }

    /// Drop every coordinate of a node (folded name).
    pub fn delete_coordinates(&mut self, node_key: &str) {
        let doomed: Vec<_> = self
            .s
            .coordinates
            .range((
                Bound::Included((Arc::from(node_key), Arc::from(""))),
                Bound::Unbounded,
            ))
            .take_while(|((n, _), _)| &**n == node_key)
            .map(|(k, _)| k.clone())
            .collect();
        if doomed.is_empty() {
            return;
        }
        for key in doomed {
            self.s.coordinates.remove(&key);
        }
        self.bump_coordinates();
    }

    fn bump_coordinates(&mut self) {
        self.s.idx.coordinates = self.s.idx.coordinates.max(self.idx);
        self.touched.table(Table::Coordinates);
    }
}

impl CatalogView {
    /// `GET /v1/coordinate/nodes`: every coordinate, by node then segment; index of the
    /// `coordinates` table.
    pub fn coordinates(&self) -> (Vec<NodeCoordinate>, u64) {
        let all = self
            .s
            .coordinates
            .values()
            .map(|c| NodeCoordinate::clone(c))
            .collect();
        (all, at_least_one(self.s.idx.coordinates))
    }

    /// `GET /v1/coordinate/node/:node`: the node's coordinates, one per segment.
    pub fn node_coordinates(&self, node: &str) -> (Vec<NodeCoordinate>, u64) {
        let key = fold(node);
        let list = self
            .s
            .coordinates
            .range((
                Bound::Included((Arc::from(key.as_ref()), Arc::from(""))),
                Bound::Unbounded,
            ))
            .take_while(|((n, _), _)| **n == *key)
            .map(|(_, c)| NodeCoordinate::clone(c))
            .collect();
        (list, at_least_one(self.s.idx.coordinates))
    }
}
