//! Agent errors.

/// Why the agent could not start or do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration cannot work.
    #[error("config: {0}")]
    Config(String),
    /// The data dir is unusable or corrupt.
    #[error("data dir: {0}")]
    DataDir(String),
    /// A listener could not be bound.
    #[error("failed to bind {what} on {addr}: {reason}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: String,
        /// The OS error.
        reason: String,
    },
    /// Consensus could not start.
    #[error("raft: {0}")]
    Raft(String),
}

/// Why a server-side request failed, worded as Consul's HTTP API words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    /// No leader within `rpc_hold_timeout`.
    #[error("No cluster leader")]
    NoLeader,
    /// `?consistent` could not be confirmed.
    #[error("Not ready to serve consistent reads")]
    NotReadyForConsistentReads,
    /// The outcome of a write is unknown (leadership changed under it).
    #[error("rpc error making call: timed out waiting for the write to commit")]
    Timeout,
    /// This agent is not a server and cannot reach one.
    #[error("No known Consul servers")]
    NoServers,
    /// The raft node stopped.
    #[error("rpc error making call: raft is shut down: {0}")]
    Stopped(String),
    /// Anything else.
    #[error("rpc error making call: {0}")]
    Internal(String),
}
