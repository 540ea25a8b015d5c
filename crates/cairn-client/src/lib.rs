//! Typed async client of the Consul-compatible HTTP API served by Cairn agents (and by Consul).
//!
//! ```no_run
//! # async fn demo() -> cairn_client::Result<()> {
//! use cairn_client::{Client, Config, KvPutOptions};
//! use cairn_types::QueryOptions;
//!
//! let client = Client::new(Config::from_env())?;
//! client.kv().put("app/config", b"on", &KvPutOptions::default()).await?;
//! let (entry, meta) = client.kv().get("app/config", &QueryOptions::default()).await?;
//! assert_eq!(entry.map(|e| e.value), Some(b"on".to_vec()));
//! println!("index {}", meta.index);
//! # Ok(()) }
//! ```
//!
//! Reads take [`cairn_types::QueryOptions`] (datacenter, token, blocking `index`/`wait`,
//! consistency, filter) and return [`cairn_types::QueryMeta`] parsed from `X-Consul-Index`,
//! `X-Consul-KnownLeader` and `X-Consul-LastContact`. Non-2xx answers become
//! [`Error::Status`] carrying the status and the agent's plain-text reason, worded like
//! Consul's Go client (`Unexpected response code: 500 (No cluster leader)`). Lookups of a single
//! thing that may be absent return `Option` instead of failing on 404.
//!
//! [`BlockingQuery`] runs watch loops by Consul's rules (index reset on regressions, bounded
//! backoff after errors, rate limit).

#![warn(missing_docs)]

mod agent;
mod blocking;
mod catalog;
mod client;
mod config;
mod error;
#[cfg(feature = "fake-server")]
pub mod fake_kv;
#[cfg(feature = "fake-server")]
pub mod fake_server;
mod health;
mod kv;
mod lock;
mod session;
mod status;
mod txn;
mod types;

pub use agent::Agent;
pub use blocking::{Backoff, BlockingQuery, Update, WaitIndex};
pub use catalog::{Catalog, NodeMeta};
pub use client::Client;
pub use config::{base_url, parse_go_bool, Config, DEFAULT_ADDRESS};
pub use error::{Error, Result};
pub use health::Health;
pub use kv::{Kv, KvDeleteOptions, KvPutOptions};
pub use lock::{
    Lock, Lost, Semaphore, SessionOptions, LOCK_FLAG_VALUE, SEMAPHORE_FLAG_VALUE, SEMAPHORE_KEY,
};
pub use session::Sessions;
pub use txn::TxnOutcome;
pub use types::{
    event_id_to_index, Coordinate, CoordinateDatacenterMap, CoordinateEntry, EventFire,
    RaftConfiguration, RaftServer, TransferLeaderResponse, UserEvent,
};
