//! The whole replicated state as persistent (structurally shared) maps, and the write
//! transaction that changes it.
//!
//! Catalog names are matched case-insensitively, as Consul's memdb indexes lowercase them:
//! node names, node IDs, service IDs, service names and check IDs are stored under their
//! lowercased ("folded") form while the records keep the caller's spelling. KV keys and session
//! IDs are exact.

pub(crate) mod catalog_write;
mod kv_write;
pub(crate) mod session_write;

use crate::coordinate::NodeCoordinate;
use crate::touched::{Table, Touched};
use cairn_types::{AgentService, HealthCheck, KvEntry, Node, Session};
use imbl::{OrdMap, OrdSet};
use std::borrow::Cow;
use std::sync::Arc;

/// A shared, immutable string used as a map key.
pub(crate) type Name = Arc<str>;

/// `(folded node, folded id)`: a service instance or a check.
pub(crate) type NodeItem = (Name, Name);

/// Lowercase `s` the way Consul's indexes do, borrowing when it is already lowercase.
pub(crate) fn fold(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// [`fold`] into a shared key.
pub(crate) fn fold_name(s: &str) -> Name {
    Arc::from(fold(s).as_ref())
}

/// Consul's raft indexes: per table, per service name, per node, and the extinction marks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Indexes {
    pub nodes: u64,
    pub services: u64,
    pub checks: u64,
    pub kvs: u64,
    pub tombstones: u64,
    pub sessions: u64,
    pub coordinates: u64,
    /// Last time the last instance of any service was removed.
    pub service_extinction: u64,
    /// Last time any node was removed.
    pub node_extinction: u64,
    /// `service.<name>`: last change to any instance of a service name or its checks.
    pub per_service: OrdMap<Name, u64>,
    /// `node.<name>`: last change to a node or its services.
    pub per_node: OrdMap<Name, u64>,
}

/// Everything the catalog holds. Cloning is O(1); readers share clones.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct State {
    /// Folded node name → node.
    pub nodes: OrdMap<Name, Arc<Node>>,
    /// Folded node ID → folded node name (nodes registered with an ID).
    pub node_ids: OrdMap<Name, Name>,
    /// Folded node name → folded service ID → service instance.
    pub services: OrdMap<Name, OrdMap<Name, Arc<AgentService>>>,
    /// Folded service name → its instances.
    pub service_instances: OrdMap<Name, OrdSet<NodeItem>>,
    /// Folded node name → folded check ID → check.
    pub checks: OrdMap<Name, OrdMap<Name, Arc<HealthCheck>>>,
    /// Key → entry.
    pub kv: OrdMap<Name, Arc<KvEntry>>,
    /// Deleted key (or deleted tree prefix) → index of the delete.
    pub tombstones: OrdMap<Name, u64>,
    /// Session ID → session.
    pub sessions: OrdMap<Name, Arc<Session>>,
    /// Folded node name → IDs of its sessions.
    pub node_sessions: OrdMap<Name, OrdSet<Name>>,
    /// `(folded node, folded check ID)` → IDs of sessions tied to that check.
    pub check_sessions: OrdMap<NodeItem, OrdSet<Name>>,
    /// Session ID → keys it holds locks on.
    pub session_keys: OrdMap<Name, OrdSet<Name>>,
    /// `(folded node name, segment)` → coordinate.
    pub coordinates: OrdMap<NodeItem, Arc<NodeCoordinate>>,
    /// Key → ms since the Unix epoch until which it cannot be acquired.
    pub lock_delays: OrdMap<Name, u64>,
    /// Raft indexes.
    pub idx: Indexes,
    /// Index of the last applied entry (or of the restored snapshot).
    pub last_applied: u64,
}

impl State {
    /// The service instance `id` on `node` (folded keys).
    pub fn service(&self, node: &str, id: &str) -> Option<&Arc<AgentService>> {
        self.services.get(node)?.get(id)
    }

    /// The check `id` on `node` (folded keys).
    pub fn check(&self, node: &str, id: &str) -> Option<&Arc<HealthCheck>> {
        self.checks.get(node)?.get(id)
    }

    /// KV entries whose key starts with `prefix`, in key order.
    pub fn kv_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Arc<KvEntry>> + 'a {
        use std::ops::Bound;
        self.kv
            .range::<_, str>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
    }

    /// Highest tombstone index under `prefix` (0 if none).
    pub fn tombstone_max_under(&self, prefix: &str) -> u64 {
        use std::ops::Bound;
        self.tombstones
            .range::<_, str>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, i)| *i)
            .max()
            .unwrap_or(0)
    }
}

/// One atomic change: works on a private copy of the state and records which indexes moved
/// and what watchers to wake. Dropping it without taking the state discards every change.
pub(crate) struct Tx {
    pub s: State,
    /// Raft index of the entry being applied (0 for read-only transactions).
    pub idx: u64,
    /// Proposer's wall clock, ms since the Unix epoch.
    pub now_ms: u64,
    pub touched: Touched,
}

impl Tx {
    pub fn new(s: State, idx: u64, now_ms: u64) -> Tx {
        Tx {
            s,
            idx,
            now_ms,
            touched: Touched::default(),
        }
    }

    /// Raise a table index to this entry's index and mark the table's watchers.
    pub fn bump_table(&mut self, table: Table) {
        let slot = match table {
            Table::Nodes => &mut self.s.idx.nodes,
            Table::Services => &mut self.s.idx.services,
            Table::Checks => &mut self.s.idx.checks,
            Table::Kv => &mut self.s.idx.kvs,
            Table::Sessions => &mut self.s.idx.sessions,
            Table::Coordinates => &mut self.s.idx.coordinates,
        };
        *slot = (*slot).max(self.idx);
        self.touched.table(table);
    }

    /// Raise `service.<name>` (folded) and mark its watchers.
    pub fn bump_service(&mut self, name: &Name) {
        let idx = self.idx;
        let entry = self.s.idx.per_service.entry(name.clone()).or_insert(0);
        *entry = (*entry).max(idx);
        self.touched.services.insert(name.clone());
    }

    /// Raise `node.<name>` (folded) and mark its watchers.
    pub fn bump_node(&mut self, name: &Name) {
        let idx = self.idx;
        let entry = self.s.idx.per_node.entry(name.clone()).or_insert(0);
        *entry = (*entry).max(idx);
        self.touched.nodes.insert(name.clone());
    }

    /// Raise the service index of every service on `node` (folded): node data and node checks
    /// are part of every health result of those services.
    pub fn bump_services_of_node(&mut self, node: &str) {
        let names: Vec<Name> = match self.s.services.get(node) {
            Some(svcs) => svcs.values().map(|s| fold_name(&s.service)).collect(),
            None => return,
        };
        for name in names {
            self.bump_service(&name);
        }
    }
}
