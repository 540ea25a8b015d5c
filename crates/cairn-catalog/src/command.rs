//! The commands replicated through raft, their wire encoding, and what applying one returns.
//!
//! Commands are deterministic: anything that depends on time or randomness is decided by the
//! proposer and carried inside the command (session IDs, `now_ms`). `apply` never reads a clock.

use crate::coordinate::NodeCoordinate;
use crate::error::CatalogError;
use cairn_types::{
    AgentService, CatalogDeregistration, CatalogRegistration, CheckStatus, HealthCheck, Node,
    Session, TxnError, TxnOp, TxnResult,
};
use serde::{Deserialize, Serialize};

/// The format version written as the first byte of every encoded command.
pub const COMMAND_FORMAT_VERSION: u8 = 1;

/// A catalog registration: a node, optionally one service, and any number of checks, applied
/// atomically (Consul's `RegisterRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegisterRequest {
    /// The node (`ID`, `Node`, `Address`, `Datacenter`, `TaggedAddresses`, `Meta`); its
    /// indexes are ignored.
    pub node: Node,
    /// A service instance on that node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<AgentService>,
    /// Checks on that node (an empty `Node` field means this node; an empty `CheckID` takes
    /// the check's name).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<HealthCheck>,
    /// Leave an existing node record alone (only add the service and checks).
    pub skip_node_update: bool,
    /// Proposer's wall clock, ms since the Unix epoch (lock-delays of invalidated sessions).
    pub now_ms: u64,
}

impl RegisterRequest {
    /// Build from a decoded `PUT /v1/catalog/register` body; `now_ms` is the proposer's wall
    /// clock (ms since the Unix epoch). `Check` and `Checks` are merged.
    pub fn from_registration(reg: CatalogRegistration, now_ms: u64) -> RegisterRequest {
        let checks = reg.all_checks();
        RegisterRequest {
            node: Node {
                id: reg.id,
                node: reg.node,
                address: reg.address,
                datacenter: reg.datacenter,
                tagged_addresses: reg.tagged_addresses,
                meta: reg.node_meta,
                ..Node::default()
            },
            service: reg.service,
            checks,
            skip_node_update: reg.skip_node_update,
            now_ms,
        }
    }
}

/// A state machine command. Encode with [`Command::encode`], decode with [`Command::decode`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Command {
    /// Register or update a node, a service and checks.
    Register(Box<RegisterRequest>),
    /// Remove a node with its services, checks and sessions.
    DeregisterNode {
        /// Node name.
        node: String,
        /// Proposer's wall clock in ms (lock-delays).
        now_ms: u64,
    },
    /// Remove one service instance and its checks.
    DeregisterService {
        /// Node name.
        node: String,
        /// Service instance ID.
        service_id: String,
        /// Proposer's wall clock in ms (lock-delays).
        now_ms: u64,
    },
    /// Remove one check.
    DeregisterCheck {
        /// Node name.
        node: String,
        /// Check ID.
        check_id: String,
        /// Proposer's wall clock in ms (lock-delays).
        now_ms: u64,
    },
    /// Set the status and output of a registered check (TTL checks, `serfHealth` reconcile).
    UpdateCheck {
        /// Node name.
        node: String,
        /// Check ID.
        check_id: String,
        /// New status.
        status: CheckStatus,
        /// New output.
        output: String,
        /// Proposer's wall clock in ms (lock-delays when the check turns critical).
        now_ms: u64,
    },
    /// Write a key unconditionally. Keeps a lock holder; resets `LockIndex` as Consul does.
    KvSet {
        /// Key.
        key: String,
        /// Value.
        #[serde(with = "crate::bytes")]
        value: Vec<u8>,
        /// Client flags.
        flags: u64,
    },
    /// Write a key if its `ModifyIndex` equals `index` (0: only if absent).
    KvCas {
        /// Key.
        key: String,
        /// Value.
        #[serde(with = "crate::bytes")]
        value: Vec<u8>,
        /// Client flags.
        flags: u64,
        /// Expected `ModifyIndex`.
        index: u64,
    },
    /// Delete a key (leaves a tombstone).
    KvDelete {
        /// Key.
        key: String,
    },
    /// Delete every key under a prefix (one tombstone at the prefix, none for the root).
    KvDeleteTree {
        /// Prefix; empty deletes everything.
        prefix: String,
    },
    /// Delete a key if its `ModifyIndex` equals `index` (a missing key counts as deleted).
    KvDeleteCas {
        /// Key.
        key: String,
        /// Expected `ModifyIndex`.
        index: u64,
    },
    /// Acquire the lock on a key for a session and write the value.
    KvAcquire {
        /// Key.
        key: String,
        /// Value.
        #[serde(with = "crate::bytes")]
        value: Vec<u8>,
        /// Client flags.
        flags: u64,
        /// Session ID.
        session: String,
        /// Proposer's wall clock in ms: the lock-delay of the key is checked against it.
        now_ms: u64,
    },
    /// Release a lock held by the session and write the value.
    KvRelease {
        /// Key.
        key: String,
        /// Value.
        #[serde(with = "crate::bytes")]
        value: Vec<u8>,
        /// Client flags.
        flags: u64,
        /// Session ID that must hold the lock.
        session: String,
    },
    /// Create a session. `ID` is chosen by the proposer; indexes are ignored.
    SessionCreate {
        /// The session.
        session: Session,
    },
    /// Destroy (invalidate) a session: explicit destroy or TTL expiry.
    SessionDestroy {
        /// Session ID.
        id: String,
        /// Proposer's wall clock in ms (lock-delays).
        now_ms: u64,
    },
    /// An atomic transaction of up to [`crate::MAX_TXN_OPS`] operations.
    Txn {
        /// The operations.
        ops: Vec<TxnOp>,
        /// Proposer's wall clock in ms (lock-delays).
        now_ms: u64,
    },
    /// Store a batch of node coordinates (unknown nodes are skipped).
    CoordinateBatchUpdate {
        /// The coordinates.
        updates: Vec<NodeCoordinate>,
    },
    /// Drop KV tombstones created at or below `up_to_index`.
    TombstoneReap {
        /// Highest tombstone index to drop.
        up_to_index: u64,
    },
    /// Replace the whole state with a saved snapshot (`PUT /v1/snapshot`): every server
    /// restores it at the same log index.
    RestoreSnapshot {
        /// The snapshot as [`crate::CatalogReader::save_snapshot`] wrote it.
        #[serde(with = "crate::bytes")]
        data: Vec<u8>,
    },
}

impl Command {
    /// The command for a `PUT /v1/catalog/deregister` body: a service if `ServiceID` is set,
    /// else a check if `CheckID` is set, else the whole node (Consul's order).
    pub fn deregister(d: &CatalogDeregistration, now_ms: u64) -> Command {
        if !d.service_id.is_empty() {
            Command::DeregisterService {
                node: d.node.clone(),
                service_id: d.service_id.clone(),
                now_ms,
            }
        } else if !d.check_id.is_empty() {
            Command::DeregisterCheck {
                node: d.node.clone(),
                check_id: d.check_id.clone(),
                now_ms,
            }
        } else {
            Command::DeregisterNode {
                node: d.node.clone(),
                now_ms,
            }
        }
    }

    /// Encode as the format version byte followed by named MessagePack.
    pub fn try_encode(&self) -> Result<Vec<u8>, CatalogError> {
        let mut out = vec![COMMAND_FORMAT_VERSION];
        rmp_serde::encode::write_named(&mut out, self)
            .map_err(|e| CatalogError::Decode(format!("encode: {e}")))?;
        Ok(out)
    }

    /// Encode as the format version byte followed by named MessagePack.
    ///
    /// Encoding these types cannot fail in practice; if it ever did, the result is a bare
    /// version byte, which every replica rejects identically when applied.
    pub fn encode(&self) -> Vec<u8> {
        self.try_encode().unwrap_or_else(|e| {
            tracing::error!(error = %e, "command encoding failed");
            vec![COMMAND_FORMAT_VERSION]
        })
    }

    /// Decode bytes produced by [`Command::encode`]. Never panics on any input.
    pub fn decode(data: &[u8]) -> Result<Command, CatalogError> {
        let (&version, body) = data
            .split_first()
            .ok_or_else(|| CatalogError::Decode("empty command".into()))?;
        if version != COMMAND_FORMAT_VERSION {
            return Err(CatalogError::UnsupportedVersion(version));
        }
        rmp_serde::from_slice(body).map_err(|e| CatalogError::Decode(e.to_string()))
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Register(_) => "register",
            Command::DeregisterNode { .. } => "deregister-node",
            Command::DeregisterService { .. } => "deregister-service",
            Command::DeregisterCheck { .. } => "deregister-check",
            Command::UpdateCheck { .. } => "update-check",
            Command::KvSet { .. } => "kv-set",
            Command::KvCas { .. } => "kv-cas",
            Command::KvDelete { .. } => "kv-delete",
            Command::KvDeleteTree { .. } => "kv-delete-tree",
            Command::KvDeleteCas { .. } => "kv-delete-cas",
            Command::KvAcquire { .. } => "kv-acquire",
            Command::KvRelease { .. } => "kv-release",
            Command::SessionCreate { .. } => "session-create",
            Command::SessionDestroy { .. } => "session-destroy",
            Command::Txn { .. } => "txn",
            Command::CoordinateBatchUpdate { .. } => "coordinate-batch-update",
            Command::TombstoneReap { .. } => "tombstone-reap",
            Command::RestoreSnapshot { .. } => "restore-snapshot",
        }
    }
}

/// The outcome of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnOutcome {
    /// Every operation succeeded and the writes are applied; one result per reading or
    /// writing operation (deletes produce none), in order.
    Committed(Vec<TxnResult>),
    /// At least one operation failed; nothing was applied.
    RolledBack(Vec<TxnError>),
}

/// What applying a command hands back to its proposer (serializable, so a follower or a
/// client agent can forward a command and hand the leader's answer back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplyResult {
    /// The command was applied (registrations, deregistrations, session destroy, reap) or was
    /// an empty raft no-op entry.
    Ok,
    /// KV writes: whether the write happened (`false` for a failed CAS, a held lock, …).
    Bool(bool),
    /// Session create: the ID of the new session.
    SessionId(String),
    /// A transaction's results or errors.
    Txn(TxnOutcome),
    /// The command was rejected and changed nothing.
    Error(CatalogError),
}

impl ApplyResult {
    /// The error, if the command was rejected.
    pub fn error(&self) -> Option<&CatalogError> {
        match self {
            ApplyResult::Error(e) => Some(e),
            _ => None,
        }
    }
}
