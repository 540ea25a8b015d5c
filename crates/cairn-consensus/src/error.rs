//! Errors of the consensus layer.

/// A failure of the durable log store. Any such failure stops the raft node: it never advances
/// past state it could not persist.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O or database error.
    #[error("log store I/O: {0}")]
    Io(String),
    /// Stored data could not be decoded: the data dir is corrupt.
    #[error("log store corrupt: {0}")]
    Corrupt(String),
}

/// Why a request to the raft node failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RaftError {
    /// This node is not the leader. `leader` is the known leader's id, if any.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader's raft id, when known.
        leader: Option<u64>,
        /// The leader's address, when known.
        leader_addr: Option<String>,
    },
    /// The entry was replaced by another leader's entry: it was not applied.
    #[error("proposal dropped: leadership changed before it committed")]
    ProposalDropped,
    /// The operation did not complete in time; its outcome is unknown.
    #[error("timed out")]
    Timeout,
    /// The request was refused (bad conf change, transfer in progress, …).
    #[error("rejected: {0}")]
    Rejected(String),
    /// The raft node has stopped (shutdown, or a fatal storage error).
    #[error("raft node stopped: {0}")]
    Stopped(String),
}

/// A fatal error inside the raft core: the node must stop.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Persisting failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The state machine failed to snapshot or restore.
    #[error(transparent)]
    StateMachine(#[from] crate::StateMachineError),
    /// raft-rs reported an error that cannot be recovered from.
    #[error("raft: {0}")]
    Raft(String),
}
