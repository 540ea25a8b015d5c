//! Gossip pool members as the agent API shows them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A member's status, serialized as serf's integer code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MemberStatus {
    /// Unknown.
    #[default]
    None,
    /// Alive.
    Alive,
    /// Leaving gracefully.
    Leaving,
    /// Left gracefully.
    Left,
    /// Failed (unreachable).
    Failed,
}

impl MemberStatus {
    /// serf's integer code (0 none, 1 alive, 2 leaving, 3 left, 4 failed).
    pub fn code(&self) -> u8 {
        match self {
            MemberStatus::None => 0,
            MemberStatus::Alive => 1,
            MemberStatus::Leaving => 2,
            MemberStatus::Left => 3,
            MemberStatus::Failed => 4,
        }
    }

    /// The status for serf's integer code; unknown codes are `None`.
    pub fn from_code(code: u64) -> Self {
        match code {
            1 => MemberStatus::Alive,
            2 => MemberStatus::Leaving,
            3 => MemberStatus::Left,
            4 => MemberStatus::Failed,
            _ => MemberStatus::None,
        }
    }

    /// The word `consul members` prints.
    pub fn as_str(&self) -> &'static str {
        match self {
            MemberStatus::None => "none",
            MemberStatus::Alive => "alive",
            MemberStatus::Leaving => "leaving",
            MemberStatus::Left => "left",
            MemberStatus::Failed => "failed",
        }
    }
}

impl Serialize for MemberStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
    }
}

impl<'de> Deserialize<'de> for MemberStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(MemberStatus::from_code(u64::deserialize(d)?))
    }
}

/// A gossip member (`GET /v1/agent/members` element).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Member {
    /// Node name.
    pub name: String,
    /// Gossip address.
    pub addr: String,
    /// Gossip port.
    pub port: u16,
    /// serf tags (`role`, `dc`, `port`, …).
    pub tags: BTreeMap<String, String>,
    /// Status code.
    pub status: MemberStatus,
    /// Lowest memberlist protocol understood.
    pub protocol_min: u8,
    /// Highest memberlist protocol understood.
    pub protocol_max: u8,
    /// memberlist protocol spoken.
    pub protocol_cur: u8,
    /// Lowest delegate (serf) protocol understood.
    pub delegate_min: u8,
    /// Highest delegate protocol understood.
    pub delegate_max: u8,
    /// Delegate protocol spoken.
    pub delegate_cur: u8,
}
