//! gRPC between Cairn agents and servers.
//!
//! - [`GrpcRaftTransport`] carries raft messages to peers (a non-blocking
//!   [`cairn_consensus::RaftTransport`]: per-peer queues, batched client streams, chunked
//!   snapshot streams), and [`RaftService`] receives them into a node's inbox.
//! - [`RpcClient`] forwards opaque writes and reads from agents to servers and from followers
//!   to the leader; servers answer through a [`ForwardHandler`]. Failures are [`RpcError`]s
//!   whose [`ErrorKind`] and message survive the trip.
//! - [`RpcServer`] serves both on one listener.
//!
//! The wire format is defined in `proto/cairn/v1/`; code is generated with protox, so no
//! system `protoc` is needed. No gRPC or protobuf type appears in this crate's API.

#![warn(missing_docs)]

mod client;
mod error;
mod forward;
mod net;
mod peer;
mod raft_service;
mod server;
mod snapshot;
mod transport;

#[allow(missing_docs, clippy::all, clippy::pedantic)]
mod pb {
    tonic::include_proto!("cairn.v1");
}

pub use crate::client::{ClientConfig, RpcClient};
pub use crate::error::{ErrorKind, RpcError, ServeError};
pub use crate::forward::{ForwardHandler, QueryReply, ServerStatus};
pub use crate::raft_service::{RaftInbox, RaftService, RaftServiceStats};
pub use crate::server::{RpcServer, RpcServerBuilder};
pub use crate::transport::{GrpcRaftTransport, TransportConfig, TransportStats};
pub use cairn_types::{Consistency, QueryMeta, QueryOptions};

/// Default largest gRPC message, both ways: room for 1 MiB snapshot chunks and raft batches
/// of several MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;
