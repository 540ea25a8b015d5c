//! Operator shapes (`/v1/operator/raft/*`).

use serde::{Deserialize, Serialize};

/// One server of `GET /v1/operator/raft/configuration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RaftServer {
    /// Raft server ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Node name.
    pub node: String,
    /// Raft address (`ip:port`).
    pub address: String,
    /// Whether it is the leader.
    pub leader: bool,
    /// Raft protocol version, as text (`"3"`).
    pub protocol_version: String,
    /// Whether it votes.
    pub voter: bool,
    /// Last log index it is known to hold.
    pub last_index: u64,
}

/// `GET /v1/operator/raft/configuration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RaftConfiguration {
    /// The servers.
    pub servers: Vec<RaftServer>,
    /// Raft index of the configuration.
    pub index: u64,
}
