//! Consul-shaped domain types for Cairn.
//!
//! Every type serializes with Consul's exact JSON field names. Request bodies are decoded
//! leniently, as Go's `encoding/json` and mapstructure do (see [`lenient`]): keys match
//! case-insensitively and in snake_case, and durations accept Go syntax ([`GoDuration`]).
//!
//! Request bodies live in [`requests`]; they keep what the client sent and offer methods that
//! apply Consul's defaults and validation with Consul's error texts. The crate does no I/O.

#![warn(missing_docs)]

pub mod catalog;
pub mod duration;
pub mod event;
pub mod health;
pub mod kv;
pub mod lenient;
pub mod member;
pub mod operator;
pub mod query;
pub mod requests;
pub mod session;
pub mod txn;
mod wire;

pub use catalog::{AgentService, CatalogService, Node, NodeServices, ServiceAddress, Weights};
pub use duration::GoDuration;
pub use event::{event_id_to_index, UserEvent};
pub use health::{CheckDefinition, CheckStatus, HealthCheck, ServiceEntry};
pub use kv::KvEntry;
pub use member::{Member, MemberStatus};
pub use operator::{RaftConfiguration, RaftServer};
pub use query::{Consistency, QueryMeta, QueryOptions};
pub use requests::{
    AgentCheckRegistration, AgentServiceRegistration, CatalogDeregistration, CatalogRegistration,
    CheckType, SessionRequest,
};
pub use session::{ServiceCheckRef, Session, SessionBehavior};
pub use txn::{TxnError, TxnOp, TxnResponse, TxnResult};
