//! Consul-compatible HTTP API for Cairn agents (`/v1/*` on :8500).
//!
//! Paths, JSON shapes, status codes, headers and plain-text error bodies follow Consul's
//! (`agent/http.go` and the endpoint files), byte for byte where clients branch on them. The
//! agent supplies two backends ([`ConsensusApi`] for raft-backed state, [`AgentApi`] for
//! agent-local state) and starts an [`HttpServer`] on its listener.
//!
//! Cross-cutting behaviour: blocking queries (`?index`, `?wait`, default 5 m, cap 10 m,
//! jitter ≤ wait/16, `X-Consul-Index` never 0); consistency modes (`?stale`, `?consistent`,
//! `?max_stale`, `discovery_max_stale`) with `X-Consul-KnownLeader`, `X-Consul-LastContact`,
//! `X-Consul-Effective-Consistency`; `?pretty`; gzip; `OPTIONS` and 405 with `Allow`;
//! `?filter=` (go-bexpr); `?dc`; tokens from `?token`, `X-Consul-Token` or
//! `Authorization: Bearer`; `//` in paths collapsed; `X-Consul-Default-ACL-Policy`;
//! `http_config.block_endpoints`.
//!
//! # Starting it from the agent
//!
//! ```no_run
//! # async fn start(consensus: std::sync::Arc<dyn cairn_http::ConsensusApi>,
//! #                agent: std::sync::Arc<dyn cairn_http::AgentApi>) -> Result<(), Box<dyn std::error::Error>> {
//! use cairn_http::{HttpConfig, HttpServer};
//! let config = HttpConfig {
//!     datacenter: "dc1".into(),          // runtime.datacenter
//!     node_name: "node1".into(),         // runtime.node_name
//!     kv_max_value_size: 512 * 1024,     // runtime.limits.kv_max_value_size
//!     txn_max_req_len: 512 * 1024,       // runtime.limits.txn_max_req_len
//!     session_ttl_min: std::time::Duration::from_secs(10), // runtime.session_ttl_min
//!     default_query_time: std::time::Duration::from_secs(300),
//!     max_query_time: std::time::Duration::from_secs(600),
//!     pretty_by_default: false,          // runtime.dev_mode
//!     ..HttpConfig::default()            // response_headers, block_endpoints, acl policy …
//! };
//! let server = HttpServer::new(config, consensus, agent);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8500").await?;
//! let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
//! let task = tokio::spawn(server.clone().serve(listener, async { let _ = stop_rx.await; }));
//! // One `serve` per HTTP address (clones share state and shutdown); `serve_unix` for
//! // `unix://` addresses. On leave/shutdown:
//! let _ = stop_tx.send(());
//! task.await??; // returns once in-flight requests finish; blocking queries answer at once
//! # Ok(()) }
//! ```
//!
//! What the backends must do:
//!
//! * [`ConsensusApi::apply`]: propose through raft (forwarding to the leader); answer
//!   [`ApiError::NoLeader`] when there is none and [`ApiError::NoPathToDatacenter`] for an
//!   unknown `datacenter`. Return the `ApplyResult` as applied; `ApplyResult::Error` becomes
//!   HTTP 500 with Consul's text. When a `SessionCreate` with a TTL commits, the leader starts
//!   its `SessionTtlTracker` timer (the HTTP layer has already validated the TTL against
//!   `session_ttl_min`, generated the UUID and stamped `now_ms` into every command).
//! * [`ConsensusApi::query`]: apply the consistency mode (`Default` on the leader,
//!   `Consistent` after a read-index, `Stale` locally, `max_stale` bound) and run the
//!   [`cairn_catalog::Query`] with
//!   `CatalogReader::query(&q, opts.min_query_index, opts.max_query_time.unwrap_or_default())`
//!   — the wait already holds Consul's default, cap and jitter. Fill `QueryMeta` (index,
//!   `known_leader`, `last_contact`, effective consistency). Client agents forward the same
//!   `(Query, QueryOptions)` to a server.
//! * [`ConsensusApi::renew_session`]: on the leader, `SessionTtlTracker::renew`; `None` for an
//!   unknown session (the HTTP layer answers 404 `Session id '…' not found`).
//! * [`AgentApi`]: local state; [`EventLog`] implements the event buffer with Consul's
//!   blocking semantics; `members`, `self_info` etc. return Consul's shapes.
//!
//! `examples/memory_agent.rs` serves the API over an in-memory catalog for trying real clients
//! (`tests/clients/*.py` drive python-consul and patroni's Consul DCS against it).

#![warn(missing_docs)]

mod backend;
mod blocking;
mod call;
mod config;
mod error;
mod filter;
mod params;
mod respond;
mod routes;
mod server;

pub use backend::{
    AgentApi, AgentSelf, AgentSelfConfig, ApiFuture, ConsensusApi, DatacenterCoordinates, EventLog,
    GaugeValue, LogLevel, LogStream, MetricsSummary, PointValue, RaftConfiguration, RaftPeer,
    RaftServer, SampledValue, ServiceRegisterOptions, UserEvent, WriteOptions,
};
pub use config::HttpConfig;
pub use error::{ApiError, ServeError};
pub use server::{ApiRequest, ApiResponse, HttpServer};
