//! What one applied command changed, so the writer wakes exactly the affected watchers.

use crate::state::Name;
use std::collections::BTreeSet;

/// A table of the catalog, for table-wide indexes and watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Nodes (also moved by service registrations, as in Consul).
    Nodes,
    /// Service instances.
    Services,
    /// Health checks.
    Checks,
    /// KV entries and their tombstones.
    Kv,
    /// Sessions.
    Sessions,
    /// Network coordinates.
    Coordinates,
}

impl Table {
    /// Number of tables.
    pub const COUNT: usize = 6;

    /// Every table.
    pub const ALL: [Table; Table::COUNT] = [
        Table::Nodes,
        Table::Services,
        Table::Checks,
        Table::Kv,
        Table::Sessions,
        Table::Coordinates,
    ];

    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The change set of one command.
#[derive(Debug, Default)]
pub(crate) struct Touched {
    /// Bit set of [`Table::bit`].
    pub tables: u8,
    /// Keys written or deleted.
    pub kv_keys: Vec<Name>,
    /// Prefixes deleted as a tree.
    pub kv_trees: Vec<Name>,
    /// Folded service names whose results changed.
    pub services: BTreeSet<Name>,
    /// Folded node names whose node record, services or checks changed.
    pub nodes: BTreeSet<Name>,
}

impl Touched {
    pub fn table(&mut self, t: Table) {
        self.tables |= t.bit();
    }

    pub fn has_table(&self, t: Table) -> bool {
        self.tables & t.bit() != 0
    }

    pub fn is_empty(&self) -> bool {
        self.tables == 0
            && self.kv_keys.is_empty()
            && self.kv_trees.is_empty()
            && self.services.is_empty()
            && self.nodes.is_empty()
    }
}
