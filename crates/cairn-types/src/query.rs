//! Query options and query metadata shared by every read.

use std::time::Duration;

/// Read consistency requested by a client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Consistency {
    /// Answered by the leader without re-verifying leadership.
    #[default]
    Default,
    /// Answered by any server from its local state.
    Stale,
    /// The leader confirms it still leads (read index) before answering.
    Consistent,
}

impl Consistency {
    /// The value of `X-Consul-Effective-Consistency`.
    pub fn header_value(&self) -> &'static str {
        match self {
            Consistency::Default => "leader",
            Consistency::Stale => "stale",
            Consistency::Consistent => "consistent",
        }
    }
}

/// Options common to every read (`?index`, `?wait`, `?stale`, `?dc`, `?filter`, token …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Datacenter; empty means the agent's own.
    pub datacenter: String,
    /// Block until the result index exceeds this value (0 = do not block).
    pub min_query_index: u64,
    /// Maximum time to block; `None` means the agent default.
    pub max_query_time: Option<Duration>,
    /// Requested consistency mode.
    pub consistency: Consistency,
    /// With stale reads, the most staleness tolerated before asking the leader.
    pub max_stale: Option<Duration>,
    /// ACL token.
    pub token: String,
    /// `?filter=` expression.
    pub filter: String,
    /// `?near=` node for RTT sorting.
    pub near: String,
}

/// Metadata returned with every read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryMeta {
    /// The index of the result (never 0 on the wire).
    pub index: u64,
    /// Time since the answering server last heard from the leader (zero on the leader).
    pub last_contact: Duration,
    /// Whether the answering server knows a leader.
    pub known_leader: bool,
    /// The consistency actually used.
    pub consistency: Consistency,
}
