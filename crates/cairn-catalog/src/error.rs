//! Why a command was rejected.
//!
//! The `Display` texts are Consul's own, byte for byte where Consul has one, because clients and
//! the HTTP layer pass them through to users (`Missing node registration`, `invalid session "…"`).

/// A command the state machine refused. The state is unchanged when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum CatalogError {
    /// The bytes are not a command this version understands.
    #[error("undecodable command: {0}")]
    Decode(String),
    /// The command carries a format version this build does not know.
    #[error("unsupported command format version {0}")]
    UnsupportedVersion(u8),
    /// A snapshot could not be written or read.
    #[error("snapshot: {0}")]
    Snapshot(String),
    /// A registration without a node name.
    #[error("Must provide node")]
    MissingNodeName,
    /// A registration without an address (and without `SkipNodeUpdate`).
    #[error("Must provide address if SkipNodeUpdate is not set")]
    MissingAddress,
    /// A service with an ID but no name.
    #[error("Must provide service name (Service.Service) with ID (Service.ID)")]
    MissingServiceName,
    /// The node a service, check or session refers to is not registered.
    #[error("Missing node registration")]
    MissingNode,
    /// The service a check refers to is not registered on that node.
    #[error("Missing service registration")]
    MissingService,
    /// A check in a registration names another node.
    #[error("check node {check_node:?} does not match node {node:?}")]
    CheckNodeMismatch {
        /// The node named by the check.
        check_node: String,
        /// The node being registered.
        node: String,
    },
    /// A check could not be stored; wraps the reason as Consul does.
    #[error("failed inserting check on node {node:?}: {source}")]
    CheckInsert {
        /// The node of the check.
        node: String,
        /// Why.
        source: Box<CatalogError>,
    },
    /// A node rename or new node clashes with a healthy node of the same name.
    #[error("{0}")]
    NodeNameReserved(Box<NameClash>),
    /// A check status update for a check that is not registered.
    #[error("Missing check '{0}' registration")]
    MissingCheck(String),
    /// A session tied to a check that is critical.
    #[error("Check '{0}' is in critical state")]
    CheckCritical(String),
    /// A session without an ID.
    #[error("Missing session ID")]
    MissingSessionId,
    /// A session whose ID is already taken.
    #[error("Session ID {0:?} already exists")]
    SessionExists(String),
    /// A lock operation without a session.
    #[error("missing session")]
    MissingLockSession,
    /// A lock operation naming a session that does not exist.
    #[error("invalid session {0:?}")]
    InvalidSession(String),
    /// A KV write without a key.
    #[error("Must provide key")]
    MissingKey,
    /// A transaction with more operations than allowed.
    #[error("Transaction contains too many operations ({0} > {max})", max = crate::MAX_TXN_OPS)]
    TooManyTxnOps(usize),
    /// A write verb inside a read-only transaction.
    #[error("read-only transaction contains a write operation at index {0}")]
    WriteInReadOnlyTxn(usize),
    /// A session TTL outside the allowed range (nanoseconds in the text, as Consul prints it).
    #[error("Invalid Session TTL '{ttl_nanos}', must be between [{min}={max}]")]
    InvalidSessionTtl {
        /// The requested TTL in nanoseconds.
        ttl_nanos: u128,
        /// The minimum, as a Go duration.
        min: String,
        /// The maximum, as a Go duration.
        max: String,
    },
    /// A session TTL that is not a Go duration.
    #[error("Session TTL '{ttl}' invalid: {reason}")]
    UnparsableSessionTtl {
        /// The text given.
        ttl: String,
        /// Why it does not parse.
        reason: String,
    },
}

/// Details of [`CatalogError::NodeNameReserved`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error(
    "Error while renaming Node ID: {node_id:?}: Node name {name} is reserved by node {id} with name {existing} ({address})"
)]
pub struct NameClash {
    /// The ID of the node being registered.
    pub node_id: String,
    /// The requested name.
    pub name: String,
    /// The ID of the node holding the name.
    pub id: String,
    /// That node's name.
    pub existing: String,
    /// That node's address.
    pub address: String,
}
