//! Gossip membership (SWIM + Lifeguard), serf-compatible on the wire.

pub mod codec;
pub mod config;
pub mod core;
#[cfg(feature = "tokio")]
pub mod driver;
pub mod error;
pub mod event;
pub mod memberlist;
pub mod output;
pub mod rng;
pub mod security;
pub mod serf;
pub mod sim;
pub mod snapshot;
pub mod time;
pub mod wire;

pub use crate::core::{Core, KeyOp};
pub use config::Config;
#[cfg(feature = "tokio")]
pub use driver::{Events, Gossip, QueryReplies, QueryReply};
pub use error::{Error, Result};
pub use event::{Event, Member, MemberStatus, QueryEvent, UserEvent};
pub use output::{Output, StreamId, StreamRequest};
pub use rng::Rng;
pub use security::Keyring;
pub use serf::QueryParams;
pub use time::Time;
