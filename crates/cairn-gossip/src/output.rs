//! What the sans-IO core asks its driver to do.

use std::net::SocketAddr;

use crate::event::Event;
use crate::time::Time;

/// Identifies an outgoing TCP exchange; the driver reports its outcome with the same id.
pub type StreamId = u64;

/// An outgoing TCP exchange: connect to `to`, write `data`, and if `expect_reply`, read one
/// stream message back (see [`crate::wire::stream_frame_len`]) and hand it to
/// `handle_stream_reply`. Give up at `deadline`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRequest {
    /// Exchange id.
    pub id: StreamId,
    /// Destination.
    pub to: SocketAddr,
    /// Bytes to write.
    pub data: Vec<u8>,
    /// Whether a reply is expected.
    pub expect_reply: bool,
    /// When to give up.
    pub deadline: Time,
}

/// One effect of the core.
#[derive(Debug, Clone)]
pub enum Output {
    /// Send a UDP datagram.
    Packet {
        /// Destination.
        to: SocketAddr,
        /// Payload.
        data: Vec<u8>,
    },
    /// Perform a TCP exchange.
    Stream(StreamRequest),
    /// Tell the application something happened.
    Event(Event),
    /// A `join` finished.
    JoinDone {
        /// The id `join` returned.
        id: u64,
        /// How many addresses we exchanged state with.
        joined: usize,
        /// Errors for the others.
        errors: Vec<String>,
    },
    /// A `leave` finished (the leave has been gossiped, or timed out).
    LeaveDone,
}
