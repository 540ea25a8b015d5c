//! The traits the agent implements for the HTTP layer, and the shapes they exchange.
//!
//! Two backends, because Consul's API has two kinds of state:
//!
//! * [`ConsensusApi`]: everything raft-backed (catalog, health, KV, sessions, transactions,
//!   status, operator). Writes are [`Command`]s, reads are [`Query`]s; the agent routes them to
//!   the local store or the leader, forwards other datacenters, and applies the consistency
//!   mode.
//! * [`AgentApi`]: the agent's own state (self, members, local services and checks, events,
//!   metrics, logs), never raft-consistent.
//!
//! Both traits are object safe: methods return boxed futures ([`ApiFuture`]), so the agent can
//! write `Box::pin(async move { … })`. No HTTP types appear here.

mod events;
mod types;

pub use events::EventLog;
pub use types::{
    AgentSelf, AgentSelfConfig, DatacenterCoordinates, GaugeValue, LogLevel, MetricsSummary,
    PointValue, RaftConfiguration, RaftPeer, RaftServer, SampledValue, UserEvent,
};

use crate::error::ApiError;
use cairn_catalog::{ApplyResult, Command, Query, QueryResult, TxnOutcome};
use cairn_types::{
    AgentCheckRegistration, AgentService, AgentServiceRegistration, CheckStatus, HealthCheck,
    Member, QueryMeta, QueryOptions, Session, TxnOp,
};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// The future every backend method returns.
pub type ApiFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'a>>;

/// A stream of log lines for `GET /v1/agent/monitor` (one line per item, no trailing newline).
/// The stream ends when the sender is dropped; the HTTP layer drops the receiver when the
/// client goes away.
pub type LogStream = tokio::sync::mpsc::Receiver<String>;

/// Options of a write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Target datacenter (always filled: the agent's own unless `?dc` named another).
    pub datacenter: String,
    /// ACL token (`?token`, `X-Consul-Token` or `Authorization: Bearer`); not yet enforced.
    pub token: String,
}

/// Options of `PUT /v1/agent/service/register`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceRegisterOptions {
    /// `?replace-existing-checks`: drop the service's checks that the body does not name.
    pub replace_existing_checks: bool,
    /// ACL token the service (and its checks) are registered with.
    pub token: String,
}

/// Raft-backed operations. Implemented by the agent: on servers against the local raft node
/// and store, on clients by forwarding to a server.
///
/// Contract for [`ConsensusApi::query`]: `opts.datacenter` is filled in,
/// `opts.max_query_time` already holds the final blocking wait (the agent's default applied,
/// capped at its maximum, plus Consul's jitter), so a server passes it straight to
/// [`cairn_catalog::CatalogReader::query`]. The returned [`QueryMeta`] fills
/// `X-Consul-Index`, `X-Consul-KnownLeader`, `X-Consul-LastContact` and
/// `X-Consul-Effective-Consistency`.
pub trait ConsensusApi: Send + Sync + 'static {
    /// Propose a command through raft (forwarding to the leader) and return what applying it
    /// produced. No leader: [`ApiError::NoLeader`]. `ApplyResult::Error` is answered as HTTP
    /// 500 with the error's text, as Consul does.
    fn apply(&self, command: Command, opts: WriteOptions) -> ApiFuture<'_, ApplyResult>;

    /// Run a read with the consistency mode and blocking of `opts`.
    fn query(&self, query: Query, opts: QueryOptions) -> ApiFuture<'_, (QueryResult, QueryMeta)>;

    /// Run a transaction made only of read verbs without raft (Consul's `Txn.Read`), with the
    /// consistency mode of `opts`; never blocks.
    fn read_txn(
        &self,
        ops: Vec<TxnOp>,
        opts: QueryOptions,
    ) -> ApiFuture<'_, (TxnOutcome, QueryMeta)>;

    /// Renew a session's TTL on the leader (`SessionTtlTracker::renew`, no raft write) and
    /// return the session, or `None` if it does not exist.
    fn renew_session(&self, id: String, opts: WriteOptions) -> ApiFuture<'_, Option<Session>>;

    /// The leader's server RPC address (`ip:port`), or `""` when there is none.
    fn leader(&self, datacenter: String) -> ApiFuture<'_, String>;

    /// The raft peers' server RPC addresses.
    fn peers(&self, datacenter: String) -> ApiFuture<'_, Vec<String>>;

    /// Known datacenters, nearest first (works without a leader).
    fn datacenters(&self) -> ApiFuture<'_, Vec<String>>;

    /// The raft configuration.
    fn raft_configuration(&self, opts: QueryOptions) -> ApiFuture<'_, RaftConfiguration>;

    /// Remove a raft peer.
    fn remove_raft_peer(&self, peer: RaftPeer, opts: WriteOptions) -> ApiFuture<'_, ()>;

    /// Transfer leadership, to the server `id` if given; `true` on success.
    fn transfer_leader(&self, id: Option<String>, opts: WriteOptions) -> ApiFuture<'_, bool>;

    /// `GET /v1/snapshot`: the whole state as a snapshot file, and the read's metadata.
    fn snapshot_save(&self, opts: QueryOptions) -> ApiFuture<'_, (Vec<u8>, QueryMeta)> {
        let _ = opts;
        Box::pin(async {
            Err(ApiError::internal(
                "snapshots are not supported by this backend",
            ))
        })
    }

    /// `PUT /v1/snapshot`: replace the whole state with a snapshot file.
    fn snapshot_restore(&self, file: Vec<u8>, opts: WriteOptions) -> ApiFuture<'_, ()> {
        let _ = (file, opts);
        Box::pin(async {
            Err(ApiError::internal(
                "snapshots are not supported by this backend",
            ))
        })
    }

    /// WAN coordinates of every datacenter's servers. The default knows none.
    fn datacenter_coordinates(&self) -> ApiFuture<'_, Vec<DatacenterCoordinates>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Agent-local operations. Implemented by the agent.
pub trait AgentApi: Send + Sync + 'static {
    /// `GET /v1/agent/self`.
    fn self_info(&self) -> ApiFuture<'_, AgentSelf>;

    /// Gossip members: LAN (of `segment`, empty for all the agent sees) or WAN.
    fn members(&self, wan: bool, segment: String) -> ApiFuture<'_, Vec<Member>>;

    /// Join the gossip pool through `address`.
    fn join(&self, address: String, wan: bool) -> ApiFuture<'_, ()>;

    /// Leave gracefully and shut the agent down (after the HTTP answer is written).
    fn leave(&self) -> ApiFuture<'_, ()>;

    /// Force a failed member into `left` (`prune`: forget it entirely).
    fn force_leave(&self, node: String, prune: bool, wan: bool) -> ApiFuture<'_, ()>;

    /// Reload configuration files.
    fn reload(&self) -> ApiFuture<'_, ()>;

    /// Local services by ID, as the agent presents them (`Datacenter` filled).
    fn services(&self) -> ApiFuture<'_, BTreeMap<String, AgentService>>;

    /// Register a local service with its checks. The HTTP layer has decoded the body and
    /// checked the name, address and check definitions; errors come back as given.
    fn register_service(
        &self,
        registration: AgentServiceRegistration,
        opts: ServiceRegisterOptions,
    ) -> ApiFuture<'_, ()>;

    /// Deregister a local service and its checks (no error if absent, as Consul).
    fn deregister_service(&self, service_id: String) -> ApiFuture<'_, ()>;

    /// Put a local service in or out of maintenance (`_service_maintenance:<id>` check).
    /// Unknown service: an error whose text Consul answers with 404
    /// (`Service "x" does not exist`); the HTTP layer answers 404 with it.
    fn service_maintenance(
        &self,
        service_id: String,
        enable: bool,
        reason: String,
        token: String,
    ) -> ApiFuture<'_, ()>;

    /// Put the node in or out of maintenance (`_node_maintenance` check).
    fn node_maintenance(&self, enable: bool, reason: String, token: String) -> ApiFuture<'_, ()>;

    /// Local checks by ID.
    fn checks(&self) -> ApiFuture<'_, BTreeMap<String, HealthCheck>>;

    /// Register a local check. The HTTP layer has checked the name, status and definition.
    fn register_check(&self, check: AgentCheckRegistration, token: String) -> ApiFuture<'_, ()>;

    /// Deregister a local check.
    fn deregister_check(&self, check_id: String) -> ApiFuture<'_, ()>;

    /// Set a TTL check's status and output (pass/warn/fail/update), resetting its TTL.
    /// Unknown check: Consul's `Unknown check ID "x". Ensure that the check ID is passed, not
    /// the check name.` as a 404 or 500, as the agent chooses.
    fn update_ttl_check(
        &self,
        check_id: String,
        status: CheckStatus,
        output: String,
    ) -> ApiFuture<'_, ()>;

    /// Resolves when local services or checks change, or after `timeout` (hash-based blocking
    /// of `GET /v1/agent/service/:id`). The default polls: it just sleeps up to one second.
    fn local_change(&self, timeout: Duration) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            tokio::time::sleep(timeout.min(Duration::from_secs(1))).await;
            Ok(())
        })
    }

    /// The current metrics interval.
    fn metrics(&self) -> ApiFuture<'_, MetricsSummary>;

    /// Start streaming log lines at `level` and above (JSON lines if `json`).
    fn monitor(&self, level: LogLevel, json: bool) -> ApiFuture<'_, LogStream>;

    /// Fire a user event; the HTTP layer has filled `ID`, `Name`, `Payload`, filters and
    /// `Version`; the agent sets `LTime`, broadcasts it and returns it.
    fn fire_event(&self, event: UserEvent) -> ApiFuture<'_, UserEvent>;

    /// Recent user events, oldest first (at most 256). If `min_index` is non-zero, wait up to
    /// `wait` until the newest event's [`UserEvent::index`] differs from it
    /// ([`EventLog`] implements exactly that).
    fn events(&self, min_index: u64, wait: Duration) -> ApiFuture<'_, Vec<UserEvent>>;
}
