//! Consul-compatible DNS interface for Cairn, built on hickory-server 0.26 with a custom
//! request handler.
//!
//! The agent implements [`DnsBackend`] (a synchronous, in-memory view of its catalog) and
//! starts a [`DnsServer`] on UDP and TCP sockets with a [`DnsConfig`]. Answers follow
//! Consul's `agent/dns.go`: `NAME.service`, `TAG.NAME.service`, RFC 2782 `_NAME._TAG`,
//! `NODE.node`, `.addr`, `.query`, `.connect`, `.ingress`, `.virtual`, PTR, SOA, NS, with
//! datacenter qualifiers, the alternative domain, health filtering, shuffling, SRV weights,
//! Consul's UDP/TCP trimming rules, and recursion for other names.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use cairn_dns::*;
//! # async fn run<B: DnsBackend>(backend: Arc<B>) -> Result<(), DnsError> {
//! let listeners = DnsListeners::bind("127.0.0.1:8600".parse().unwrap())?;
//! let server = DnsServer::start(listeners, backend, DnsConfig::default())?;
//! // … later
//! server.shutdown().await?;
//! # Ok(()) }
//! ```

mod answer;
mod backend;
mod config;
mod error;
mod handler;
mod name;
mod records;
mod recursor;
mod rng;
mod server;
mod service;
mod trim;
mod udp;

pub use backend::{
    aggregate_status, DnsBackend, PreparedQueryAnswer, PtrTarget, ServiceInstance,
    ServiceInstances, ServiceKind,
};
pub use config::{DnsConfig, SoaConfig};
pub use error::{BackendError, DnsError};
pub use server::{DnsListeners, DnsServer, DnsServerHandle};
