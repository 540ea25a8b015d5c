//! Public membership types and the events the core reports.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::serf::messages::LamportTime;

/// A member's serf status. The numeric codes are serf's (Consul reports them as `Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberStatus {
    /// Unknown (0).
    None,
    /// Alive (1).
    Alive,
    /// Leaving: announced a leave that has not completed (2).
    Leaving,
    /// Left gracefully (3).
    Left,
    /// Failed: stopped answering without leaving (4).
    Failed,
}

impl MemberStatus {
    /// serf's numeric code.
    pub fn code(self) -> u8 {
        match self {
            MemberStatus::None => 0,
            MemberStatus::Alive => 1,
            MemberStatus::Leaving => 2,
            MemberStatus::Left => 3,
            MemberStatus::Failed => 4,
        }
    }

    /// serf's name for it (`alive`, `leaving`, `left`, `failed`, `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::None => "none",
            MemberStatus::Alive => "alive",
            MemberStatus::Leaving => "leaving",
            MemberStatus::Left => "left",
            MemberStatus::Failed => "failed",
        }
    }
}

/// A member of the gossip pool as serf sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Unique name.
    pub name: String,
    /// Gossip address.
    pub addr: IpAddr,
    /// Gossip port.
    pub port: u16,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Status.
    pub status: MemberStatus,
    /// memberlist incarnation last seen.
    pub incarnation: u32,
    /// Lowest memberlist protocol understood.
    pub protocol_min: u8,
    /// Highest memberlist protocol understood.
    pub protocol_max: u8,
    /// memberlist protocol spoken.
    pub protocol_cur: u8,
    /// Lowest serf protocol understood.
    pub delegate_min: u8,
    /// Highest serf protocol understood.
    pub delegate_max: u8,
    /// serf protocol spoken.
    pub delegate_cur: u8,
}

/// A user event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEvent {
    /// Event clock.
    pub ltime: LamportTime,
    /// Name.
    pub name: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// Whether it may be coalesced.
    pub coalesce: bool,
}

/// A query that arrived and passed our filters; answer with `respond(id, ...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryEvent {
    /// Local handle for responding.
    pub id: u64,
    /// Query clock.
    pub ltime: LamportTime,
    /// Name.
    pub name: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// The node that asked.
    pub source_node: String,
    /// How long the asker waits.
    pub timeout: Duration,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A member joined or came back.
    MemberJoin(Member),
    /// A member left gracefully.
    MemberLeave(Member),
    /// A member failed.
    MemberFailed(Member),
    /// A member's tags or address changed.
    MemberUpdate(Member),
    /// A failed or left member was forgotten.
    MemberReap(Member),
    /// A user event.
    User(UserEvent),
    /// A query to answer.
    Query(QueryEvent),
    /// An ack for a query we sent.
    QueryAck {
        /// The id `query` returned.
        query: u64,
        /// Who acked.
        from: String,
    },
    /// A response to a query we sent.
    QueryResponse {
        /// The id `query` returned.
        query: u64,
        /// Who answered.
        from: String,
        /// The answer.
        payload: Vec<u8>,
    },
    /// A query we sent reached its deadline; no more responses will be reported.
    QueryDone {
        /// The id `query` returned.
        query: u64,
    },
}
