//! The Cairn agent: composes consensus, the catalog, the HTTP API, DNS, health checks and
//! gossip into a Consul-compatible agent that other Rust programs can embed.

mod agent;
pub mod cli;
mod error;
pub mod local;
pub mod logging;
pub mod membership;
pub mod node_id;
pub mod server;

pub use agent::{advertise_addr, Agent, ReloadFn, CONSUL_COMPAT_VERSION};
pub use error::{AgentError, ServerError};
pub use server::{LeaderDuties, Server, ServerOptions, StoreKind};
