//! The snapshot format: a version byte, then named MessagePack of flat record lists. Secondary
//! indexes are rebuilt on restore, and the records are checked for consistency so a damaged
//! snapshot is refused instead of half-loaded.

use crate::coordinate::NodeCoordinate;
use crate::error::CatalogError;
use crate::state::session_write::session_check_ids;
use crate::state::{fold, fold_name, Indexes, Name, State};
use cairn_types::{AgentService, HealthCheck, KvEntry, Node, Session};
use imbl::OrdMap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The format version written as the first byte of every snapshot.
pub const SNAPSHOT_FORMAT_VERSION: u8 = 1;

#[derive(Serialize, Deserialize)]
struct KvRecord {
    key: String,
    #[serde(with = "crate::bytes")]
    value: Vec<u8>,
    flags: u64,
    session: String,
    lock_index: u64,
    create_index: u64,
    modify_index: u64,
}

#[derive(Serialize, Deserialize, Default)]
struct IndexRecord {
    nodes: u64,
    services: u64,
    checks: u64,
    kvs: u64,
    tombstones: u64,
    sessions: u64,
    coordinates: u64,
    service_extinction: u64,
    node_extinction: u64,
    per_service: Vec<(String, u64)>,
    per_node: Vec<(String, u64)>,
}

#[derive(Serialize, Deserialize)]
struct SnapshotV1 {
    last_applied: u64,
    nodes: Vec<Node>,
    /// (folded node name, service).
    services: Vec<(String, AgentService)>,
    checks: Vec<HealthCheck>,
    kv: Vec<KvRecord>,
    tombstones: Vec<(String, u64)>,
    sessions: Vec<Session>,
    lock_delays: Vec<(String, u64)>,
    coordinates: Vec<NodeCoordinate>,
    indexes: IndexRecord,
}

fn pairs(m: &OrdMap<Name, u64>) -> Vec<(String, u64)> {
    m.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Serialize the whole state.
pub(crate) fn encode(s: &State) -> Result<Vec<u8>, CatalogError> {
    let i = &s.idx;
    let snap = SnapshotV1 {
        last_applied: s.last_applied,
        nodes: s.nodes.values().map(|n| Node::clone(n)).collect(),
        services: s
            .services
            .iter()
            .flat_map(|(node, svcs)| {
                svcs.values()
                    .map(move |v| (node.to_string(), AgentService::clone(v)))
            })
            .collect(),
        checks: s
            .checks
            .values()
            .flat_map(|m| m.values().map(|c| HealthCheck::clone(c)))
            .collect(),
        kv: s
            .kv
            .values()
            .map(|e| KvRecord {
                key: e.key.clone(),
                value: e.value.clone(),
                flags: e.flags,
                session: e.session.clone(),
                lock_index: e.lock_index,
                create_index: e.create_index,
                modify_index: e.modify_index,
            })
            .collect(),
        tombstones: pairs(&s.tombstones),
        sessions: s.sessions.values().map(|x| Session::clone(x)).collect(),
        lock_delays: pairs(&s.lock_delays),
        coordinates: s
            .coordinates
            .values()
            .map(|c| NodeCoordinate::clone(c))
            .collect(),
        indexes: IndexRecord {
            nodes: i.nodes,
            services: i.services,
            checks: i.checks,
            kvs: i.kvs,
            tombstones: i.tombstones,
            sessions: i.sessions,
            coordinates: i.coordinates,
            service_extinction: i.service_extinction,
            node_extinction: i.node_extinction,
            per_service: pairs(&i.per_service),
            per_node: pairs(&i.per_node),
        },
    };
    let mut out = vec![SNAPSHOT_FORMAT_VERSION];
    rmp_serde::encode::write_named(&mut out, &snap)
        .map_err(|e| CatalogError::Snapshot(e.to_string()))?;
    Ok(out)
}

fn bad(what: String) -> CatalogError {
    CatalogError::Snapshot(what)
}

/// Rebuild a state from snapshot bytes, refusing inconsistent content.
// Struct updates stay in case cairn-types grows fields.
#[allow(clippy::needless_update)]
pub(crate) fn decode(data: &[u8]) -> Result<State, CatalogError> {
    let (&version, body) = data
        .split_first()
        .ok_or_else(|| bad("empty snapshot".into()))?;
    if version != SNAPSHOT_FORMAT_VERSION {
        return Err(bad(format!(
            "unsupported snapshot format version {version}"
        )));
    }
    let snap: SnapshotV1 = rmp_serde::from_slice(body).map_err(|e| bad(e.to_string()))?;
    let mut s = State {
        last_applied: snap.last_applied,
        ..State::default()
    };
    for n in snap.nodes {
        let key = fold_name(&n.node);
        if !n.id.is_empty() {
            s.node_ids.insert(fold_name(&n.id), key.clone());
        }
        if s.nodes.insert(key, Arc::new(n)).is_some() {
            return Err(bad("duplicate node".into()));
        }
    }
    for (node, svc) in snap.services {
        let node_key = fold_name(&node);
        if !s.nodes.contains_key(&node_key) {
            return Err(bad(format!(
                "service {:?} on unknown node {node:?}",
                svc.id
            )));
        }
        let id_key = fold_name(&svc.id);
        s.service_instances
            .entry(fold_name(&svc.service))
            .or_default()
            .insert((node_key.clone(), id_key.clone()));
        s.services
            .entry(node_key)
            .or_default()
            .insert(id_key, Arc::new(svc));
    }
    for c in snap.checks {
        let node_key = fold_name(&c.node);
        if !s.nodes.contains_key(&node_key) {
            return Err(bad(format!(
                "check {:?} on unknown node {:?}",
                c.check_id, c.node
            )));
        }
        s.checks
            .entry(node_key)
            .or_default()
            .insert(fold_name(&c.check_id), Arc::new(c));
    }
    for sess in snap.sessions {
        let id: Name = Arc::from(sess.id.as_str());
        let node_key = fold_name(&sess.node);
        for check in session_check_ids(&sess) {
            s.check_sessions
                .entry((node_key.clone(), fold_name(check)))
                .or_default()
                .insert(id.clone());
        }
        s.node_sessions
            .entry(node_key)
            .or_default()
            .insert(id.clone());
        s.sessions.insert(id, Arc::new(sess));
    }
    for r in snap.kv {
        let key: Name = Arc::from(r.key.as_str());
        if !r.session.is_empty() {
            if !s.sessions.contains_key(r.session.as_str()) {
                return Err(bad(format!("key {:?} locked by unknown session", r.key)));
            }
            s.session_keys
                .entry(Arc::from(r.session.as_str()))
                .or_default()
                .insert(key.clone());
        }
        let entry = KvEntry {
            lock_index: r.lock_index,
            key: r.key,
            flags: r.flags,
            value: r.value,
            session: r.session,
            create_index: r.create_index,
            modify_index: r.modify_index,
            ..KvEntry::default()
        };
        s.kv.insert(key, Arc::new(entry));
    }
    s.tombstones = snap
        .tombstones
        .into_iter()
        .map(|(k, v)| (Name::from(k), v))
        .collect();
    s.lock_delays = snap
        .lock_delays
        .into_iter()
        .map(|(k, v)| (Name::from(k), v))
        .collect();
    for c in snap.coordinates {
        let node_key = fold_name(&c.node);
        if !s.nodes.contains_key(&node_key) {
            return Err(bad(format!("coordinate of unknown node {:?}", c.node)));
        }
        s.coordinates
            .insert((node_key, Name::from(c.segment.as_str())), Arc::new(c));
    }
    let i = snap.indexes;
    s.idx = Indexes {
        nodes: i.nodes,
        services: i.services,
        checks: i.checks,
        kvs: i.kvs,
        tombstones: i.tombstones,
        sessions: i.sessions,
        coordinates: i.coordinates,
        service_extinction: i.service_extinction,
        node_extinction: i.node_extinction,
        per_service: i
            .per_service
            .into_iter()
            .map(|(k, v)| (Name::from(fold(&k).as_ref()), v))
            .collect(),
        per_node: i
            .per_node
            .into_iter()
            .map(|(k, v)| (Name::from(fold(&k).as_ref()), v))
            .collect(),
    };
    Ok(s)
}
