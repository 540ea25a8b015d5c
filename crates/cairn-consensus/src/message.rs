//! Raft messages as opaque values a transport can carry.

use protobuf::Message as _;
use raft::eraftpb::{Message, MessageType};

/// A raft message between nodes. Transports move it as bytes ([`RaftMessage::encode`]).
#[derive(Clone, PartialEq)]
pub struct RaftMessage(pub(crate) Message);

/// A message that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("bad raft message: {0}")]
pub struct DecodeError(String);

impl RaftMessage {
    /// Sender's raft id.
    pub fn from(&self) -> u64 {
        self.0.from
    }

    /// Recipient's raft id.
    pub fn to(&self) -> u64 {
        self.0.to
    }

    /// The term the message was sent in.
    pub fn term(&self) -> u64 {
        self.0.term
    }

    /// Whether it carries a snapshot (large; transports may stream it separately).
    pub fn is_snapshot(&self) -> bool {
        self.0.get_msg_type() == MessageType::MsgSnapshot
    }

    /// Whether it is a heartbeat or heartbeat response (small, frequent).
    pub fn is_heartbeat(&self) -> bool {
        matches!(
            self.0.get_msg_type(),
            MessageType::MsgHeartbeat | MessageType::MsgHeartbeatResponse
        )
    }

    /// Approximate encoded size in bytes.
    pub fn size(&self) -> usize {
        self.0.compute_size() as usize
    }

    /// Encode for the wire.
    pub fn encode(&self) -> Vec<u8> {
        // Writing a well-formed in-memory message into a Vec cannot fail.
        self.0.write_to_bytes().unwrap_or_default()
    }

    /// Decode from the wire.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Message::parse_from_bytes(bytes)
            .map(RaftMessage)
            .map_err(|e| DecodeError(e.to_string()))
    }
}

impl std::fmt::Debug for RaftMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} {}->{} term={} index={} entries={}",
            self.0.get_msg_type(),
            self.0.from,
            self.0.to,
            self.0.term,
            self.0.index,
            self.0.entries.len()
        )
    }
}
