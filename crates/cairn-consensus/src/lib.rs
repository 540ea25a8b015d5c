//! Raft consensus for Cairn.
//!
//! [`RaftCore`] is a sans-IO wrapper of tikv raft-rs: it persists each round of raft work to a
//! [`LogStore`] in one atomic write, applies committed entries to a [`StateMachine`], and
//! reports outcomes as [`CoreEvent`]s. The tokio driver runs one core per node on its own
//! thread behind a [`RaftHandle`]; the simulation harness in `tests/` drives cores directly
//! with virtual time. This crate knows nothing of Consul: it replicates opaque commands.

mod config;
mod core;
mod driver;
mod error;
mod logger;
mod membership;
mod message;
mod recovery;
mod state_machine;
pub mod store;
mod transport;

pub use crate::config::{RaftConfig, RaftLogLevel};
pub use crate::core::{CoreEvent, RaftCore, RaftStatus, Role};
pub use crate::driver::{NodeState, RaftHandle, StateWatcher};
pub use crate::error::{CoreError, RaftError, StoreError};
pub use crate::membership::{MembershipChange, Peers};
pub use crate::message::{DecodeError, RaftMessage};
pub use crate::state_machine::{StateMachine, StateMachineError};
#[cfg(feature = "rocksdb")]
pub use crate::store::RocksLogStore;
pub use crate::store::{LogStore, MemLogStore};
pub use crate::transport::{
    DeliveryReport, InMemoryNetwork, InMemoryTransport, RaftTransport, ReportSink,
};
