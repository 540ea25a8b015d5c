//! Transactions (`PUT /v1/txn`).

use crate::catalog::{AgentService, Node};
use crate::health::HealthCheck;
use crate::kv::{value_b64, KvEntry};
use serde::{Deserialize, Serialize};

/// A KV operation inside a transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KvTxnOp {
    /// Verb: `set, cas, lock, unlock, get, get-or-empty, get-tree, check-index, check-session,
    /// check-not-exists, delete, delete-tree, delete-cas`.
    pub verb: String,
    /// Key (or prefix for tree verbs).
    pub key: String,
    /// Value bytes (base64 in JSON).
    #[serde(with = "value_b64")]
    pub value: Vec<u8>,
    /// Flags.
    pub flags: u64,
    /// Index for `cas`, `check-index`, `delete-cas`.
    pub index: u64,
    /// Session for `lock`, `unlock`, `check-session`.
    pub session: String,
}

/// A node operation inside a transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeTxnOp {
    /// Verb: `set, cas, get, delete, delete-cas`.
    pub verb: String,
    /// The node.
    pub node: Node,
}

/// A service operation inside a transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceTxnOp {
    /// Verb: `set, cas, get, delete, delete-cas`.
    pub verb: String,
    /// Node name.
    pub node: String,
    /// The service.
    pub service: AgentService,
}

/// A check operation inside a transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CheckTxnOp {
    /// Verb: `set, cas, get, delete, delete-cas`.
    pub verb: String,
    /// The check.
    pub check: HealthCheck,
}

/// One operation of a transaction; exactly one member is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TxnOp {
    /// KV operation.
    #[serde(rename = "KV", skip_serializing_if = "Option::is_none")]
    pub kv: Option<KvTxnOp>,
    /// Node operation.
    #[serde(rename = "Node", skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeTxnOp>,
    /// Service operation.
    #[serde(rename = "Service", skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceTxnOp>,
    /// Check operation.
    #[serde(rename = "Check", skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckTxnOp>,
}

/// One result of a transaction.
// Results are short-lived and built once per operation; boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnResult {
    /// A KV entry.
    #[serde(rename = "KV")]
    Kv(KvEntry),
    /// A node.
    Node(Node),
    /// A service.
    Service(AgentService),
    /// A check.
    Check(HealthCheck),
}

/// Why a transaction was rolled back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TxnError {
    /// Index of the failing operation.
    pub op_index: usize,
    /// Reason.
    pub what: String,
}

/// The body of a `PUT /v1/txn` answer: results on success (HTTP 200), errors on rollback
/// (HTTP 409). Go writes an empty list as `null`, and so does this type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TxnResponse {
    /// One entry per operation that yields a result (reads and writes of KV, node, service,
    /// check; deletes yield none).
    #[serde(with = "crate::wire::nil_when_empty")]
    pub results: Vec<TxnResult>,
    /// Why the transaction was rolled back.
    #[serde(with = "crate::wire::nil_when_empty")]
    pub errors: Vec<TxnError>,
}

impl TxnResponse {
    /// Whether the transaction was rolled back (answer with HTTP 409).
    pub fn is_rolled_back(&self) -> bool {
        !self.errors.is_empty()
    }
}
