//! The server role: the replicated catalog behind raft, consistency modes for reads, and the
//! leader's duties.

mod autopilot;
pub(crate) mod cluster;
mod leader;
mod raft_setup;
mod reconcile;
mod recovery;
pub(crate) mod rpc;

use crate::error::{AgentError, ServerError};
use cairn_catalog::{ApplyResult, CatalogReader, Command, SessionTtlTracker};
use cairn_consensus::{RaftError, RaftHandle, RaftStatus, Role};
use cairn_types::{Consistency, QueryMeta};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub use autopilot::AutopilotConfig;
pub use leader::{LeaderDuties, MemberFeed, SERF_HEALTH};
pub use raft_setup::{ServerOptions, StoreKind};
pub use reconcile::MemberSource;
pub use rpc::cluster_id;

/// A running server: raft node, catalog and leader duties.
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

struct Inner {
    raft: RaftHandle<ApplyResult>,
    reader: CatalogReader,
    raft_id: u64,
    rpc_addr: String,
    tick: Duration,
    rpc_hold_timeout: Duration,
    sessions: Mutex<SessionTtlTracker>,
    cancel: CancellationToken,
    /// RPC to other servers (forwarding to the leader); `None` without a network.
    rpc: Option<cairn_rpc::RpcClient>,
}

/// A server's network: the raft transport to its peers and a client for forwarding.
#[derive(Clone)]
pub struct ServerNet {
    pub(crate) transport: cairn_rpc::GrpcRaftTransport,
    pub(crate) client: cairn_rpc::RpcClient,
}

impl ServerNet {
    /// A gRPC network for the server whose raft traffic is tagged with `cluster_id` and which
    /// peers reach at `rpc_addr`.
    /// `source`, when given, is the address outgoing connections come from (the bind address).
    pub fn new(cluster_id: u64, rpc_addr: &str, source: Option<std::net::IpAddr>) -> ServerNet {
        let mut tcfg = cairn_rpc::TransportConfig::new(cluster_id, rpc_addr);
        tcfg.local_address = source;
        let transport = cairn_rpc::GrpcRaftTransport::new(tcfg, tokio::runtime::Handle::current());
        ServerNet {
            transport,
            client: cairn_rpc::RpcClient::new(cairn_rpc::ClientConfig {
                local_address: source,
                ..cairn_rpc::ClientConfig::default()
            }),
        }
    }
}

/// Milliseconds since the Unix epoch: the `now_ms` stamp proposers put into commands.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Server {
    /// Start the raft node on its store, bootstrapping a new cluster when asked, and spawn the
    /// leader-duties task.
    pub async fn start(opts: ServerOptions, duties: LeaderDuties) -> Result<Server, AgentError> {
        Server::start_with(opts, duties, None).await
    }

    /// [`Server::start`] with a network to other servers.
    pub async fn start_with(
        opts: ServerOptions,
        duties: LeaderDuties,
        net: Option<ServerNet>,
    ) -> Result<Server, AgentError> {
        let tick = opts.raft.tick_interval;
        let rpc_hold_timeout = opts.rpc_hold_timeout;
        let transport = match &net {
            Some(n) => raft_setup::ServerTransport::Grpc(n.transport.clone()),
            None => raft_setup::ServerTransport::None,
        };
        let (raft, reader) = raft_setup::start_raft(&opts, transport)?;
        let server = Server {
            inner: Arc::new(Inner {
                raft,
                reader,
                raft_id: opts.raft.id,
                rpc_addr: opts.rpc_addr.clone(),
                tick,
                rpc_hold_timeout,
                sessions: Mutex::new(SessionTtlTracker::new()),
                cancel: CancellationToken::new(),
                rpc: net.map(|n| n.client),
            }),
        };
        if opts.bootstrap {
            // A bootstrapped single server elects itself at once instead of waiting out an
            // election timeout.
            server.inner.raft.campaign().await;
        }
        tokio::spawn(leader::run(server.clone(), duties));
        Ok(server)
    }

    /// The catalog reader (local state; stale by definition on a follower).
    pub fn reader(&self) -> &CatalogReader {
        &self.inner.reader
    }

    /// This server's raft id.
    pub fn raft_id(&self) -> u64 {
        self.inner.raft_id
    }

    /// This server's RPC address (`ip:port`), as peers know it.
    pub fn rpc_addr(&self) -> &str {
        &self.inner.rpc_addr
    }

    pub(crate) fn raft(&self) -> &RaftHandle<ApplyResult> {
        &self.inner.raft
    }

    pub(crate) fn cancel_token(&self) -> CancellationToken {
        self.inner.cancel.clone()
    }

    /// Whether this server leads right now.
    pub fn is_leader(&self) -> bool {
        self.inner.raft.state().role == Role::Leader
    }

    /// The leader's RPC address, if one is known.
    pub fn leader_addr(&self) -> Option<String> {
        let st = self.inner.raft.state();
        if st.role == Role::Leader {
            return Some(self.inner.rpc_addr.clone());
        }
        st.leader_addr
    }

    /// The RPC addresses of the voting servers.
    pub async fn peers(&self) -> Result<Vec<String>, ServerError> {
        let st = self.status().await?;
        Ok(st
            .voters
            .iter()
            .filter_map(|id| st.peers.get(id).cloned())
            .collect())
    }

    /// Full raft status.
    pub async fn status(&self) -> Result<RaftStatus, ServerError> {
        self.inner.raft.status().await.map_err(map_raft_error)
    }

    /// Wait until a leader is known, at most `rpc_hold_timeout`.
    async fn wait_for_leader(&self) -> Result<(), ServerError> {
        let mut w = self.inner.raft.watch();
        let wait = async {
            loop {
                let st = w.get();
                if let Some(reason) = st.stopped {
                    return Err(ServerError::Stopped(reason));
                }
                if st.leader.is_some() {
                    return Ok(());
                }
                if w.changed().await.is_none() {
                    return Err(ServerError::Stopped("raft node gone".into()));
                }
            }
        };
        tokio::time::timeout(self.inner.rpc_hold_timeout, wait)
            .await
            .unwrap_or(Err(ServerError::NoLeader))
    }

    /// Replicate a command and return the catalog's answer. Waits up to `rpc_hold_timeout`
    /// for a leader; on a follower the command is forwarded to the leader. A proposal dropped
    /// by a leadership change (so never applied) is retried; a forwarded one only when the
    /// leader answered `No cluster leader` (so it was not applied either).
    pub async fn apply(&self, cmd: &Command) -> Result<ApplyResult, ServerError> {
        self.apply_inner(cmd, true).await
    }

    /// Like [`Server::apply`] but never forwards: for commands that arrived by RPC.
    pub(crate) async fn apply_on_leader(&self, cmd: &Command) -> Result<ApplyResult, ServerError> {
        self.apply_inner(cmd, false).await
    }

    async fn apply_inner(&self, cmd: &Command, forward: bool) -> Result<ApplyResult, ServerError> {
        let data = cmd
            .try_encode()
            .map_err(|e| ServerError::Internal(format!("encoding command: {e}")))?;
        let deadline = tokio::time::Instant::now() + self.inner.rpc_hold_timeout;
        loop {
            // A leader cut off from its quorum keeps the entry pending until a new leader
            // overwrites or commits it: past the hold time the outcome is unknown.
            let proposed = tokio::time::timeout_at(
                deadline.max(tokio::time::Instant::now() + self.inner.tick * 4),
                self.inner.raft.propose(data.clone()),
            )
            .await
            .map_err(|_| ServerError::Timeout)?;
            // The leader a forward could not reach, if that is why this attempt failed.
            let mut unreachable = None;
            match proposed {
                Ok(result) => return Ok(result),
                Err(RaftError::NotLeader {
                    leader_addr: Some(addr),
                    ..
                }) => match (&self.inner.rpc, forward) {
                    (Some(rpc), true) => match rpc.apply(&addr, data.clone()).await {
                        Ok(bytes) => {
                            return serde_json::from_slice(&bytes).map_err(|e| {
                                ServerError::Internal(format!("leader's answer: {e}"))
                            })
                        }
                        // Not applied for sure: the leader had none, or the old leader is gone
                        // and no connection was made. Wait for the election and retry.
                        Err(e) if e.kind() == cairn_rpc::ErrorKind::NoLeader => {}
                        Err(e) if e.was_not_sent() => unreachable = Some(addr),
                        Err(e) => return Err(rpc::from_rpc_error(e)),
                    },
                    (Some(_), false) => return Err(ServerError::NoLeader),
                    (None, _) => {
                        return Err(ServerError::Internal(
                            "this server is not the leader and has no network to forward".into(),
                        ))
                    }
                },
                Err(RaftError::NotLeader { .. }) | Err(RaftError::ProposalDropped) => {}
                Err(e) => return Err(map_raft_error(e)),
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(ServerError::NoLeader);
            }
            // Retry as soon as another leader is known (failover time is what clients see),
            // but at most every few ticks while the same one stays unreachable.
            let known = self.inner.raft.state().leader.is_some();
            match unreachable {
                Some(gone) => {
                    let until = deadline.min(now + self.inner.tick * 4);
                    self.wait_for_leader_other_than(Some(&gone), until).await;
                }
                None if !known => {
                    self.wait_for_leader_other_than(None, deadline).await;
                }
                None => tokio::time::sleep(self.inner.tick).await,
            }
        }
    }

    /// Wait until `until` for a known leader whose address is not `gone` (any leader when
    /// `None`); `true` if one appeared.
    async fn wait_for_leader_other_than(
        &self,
        gone: Option<&str>,
        until: tokio::time::Instant,
    ) -> bool {
        let mut w = self.inner.raft.watch();
        let wait = async {
            loop {
                let st = w.get();
                if st.stopped.is_some() {
                    return false;
                }
                let other = match (gone, st.leader_addr.as_deref()) {
                    (_, None) => st.leader.is_some() && st.leader == Some(self.raft_id()),
                    (Some(g), Some(a)) => a != g,
                    (None, Some(_)) => true,
                };
                if other {
                    return true;
                }
                if w.changed().await.is_none() {
                    return false;
                }
            }
        };
        tokio::time::timeout_at(until, wait).await.unwrap_or(false)
    }

    /// Prepare a read at the requested consistency and describe it. `Stale` reads are served
    /// from local state; `Default` needs a known leader (this one, until forwarding lands);
    /// `Consistent` first confirms leadership with a raft read index.
    pub async fn prepare_read(
        &self,
        consistency: Consistency,
        max_stale: Option<Duration>,
    ) -> Result<QueryMeta, ServerError> {
        let mut effective = consistency;
        match consistency {
            Consistency::Stale => {}
            Consistency::Default => {
                self.wait_for_leader().await?;
                if !self.inner.raft.state().leader_ready {
                    // Consul answers default reads on the leader; a follower (or a leader that
                    // has not yet committed in its term, so may lack its predecessor's last
                    // writes) reaches that state through a raft read index.
                    self.read_index_retrying()
                        .await
                        .map_err(|_| ServerError::NoLeader)?;
                }
            }
            Consistency::Consistent => {
                self.wait_for_leader().await?;
                self.read_index_retrying()
                    .await
                    .map_err(|_| ServerError::NotReadyForConsistentReads)?;
            }
        }
        let mut meta = self.read_meta().await?;
        meta.consistency = effective;
        if let (Consistency::Stale, Some(bound)) = (consistency, max_stale) {
            if meta.last_contact > bound {
                // Too stale: ask the leader instead, as Consul does.
                self.wait_for_leader().await?;
                effective = Consistency::Default;
                meta = self.read_meta().await?;
                meta.consistency = effective;
            }
        }
        Ok(meta)
    }

    /// A raft read index, retried in short attempts until `rpc_hold_timeout`: a new leader
    /// drops read requests that reach it before it has committed in its term.
    async fn read_index_retrying(&self) -> Result<u64, RaftError> {
        let deadline = tokio::time::Instant::now() + self.inner.rpc_hold_timeout;
        let attempt = (self.inner.tick * 8).max(Duration::from_millis(50));
        loop {
            match self.inner.raft.read_index_within(attempt).await {
                Ok(i) => return Ok(i),
                Err(e @ RaftError::Stopped(_)) => return Err(e),
                Err(e) if tokio::time::Instant::now() + attempt > deadline => return Err(e),
                Err(RaftError::Timeout) => {}
                // Refused at once (no leader right now): wait a tick instead of spinning.
                Err(_) => tokio::time::sleep(self.inner.tick).await,
            }
        }
    }

    async fn read_meta(&self) -> Result<QueryMeta, ServerError> {
        let st = self.inner.raft.state();
        if let Some(reason) = st.stopped {
            return Err(ServerError::Stopped(reason));
        }
        let last_contact = if st.role == Role::Leader {
            Duration::ZERO
        } else {
            let status = self.status().await?;
            self.inner.tick * status.ticks_since_leader_contact as u32
        };
        Ok(QueryMeta {
            index: 0,
            last_contact,
            known_leader: st.leader.is_some(),
            consistency: Consistency::Default,
        })
    }

    /// Run a catalog query at the requested consistency, blocking as the options ask.
    pub async fn query(
        &self,
        query: &cairn_catalog::Query,
        opts: &cairn_types::QueryOptions,
    ) -> Result<(cairn_catalog::QueryResult, QueryMeta), ServerError> {
        let mut meta = self.prepare_read(opts.consistency, opts.max_stale).await?;
        let wait = opts.max_query_time.unwrap_or(Duration::from_secs(300));
        let (result, index) = self.reader().query(query, opts.min_query_index, wait).await;
        meta.index = index.max(1);
        Ok((result, meta))
    }

    /// Run a read-only transaction at the requested consistency.
    pub async fn read_txn(
        &self,
        ops: Vec<cairn_types::TxnOp>,
        opts: &cairn_types::QueryOptions,
    ) -> Result<
        (
            Result<cairn_catalog::TxnOutcome, cairn_catalog::CatalogError>,
            QueryMeta,
        ),
        ServerError,
    > {
        let mut meta = self.prepare_read(opts.consistency, opts.max_stale).await?;
        let view = self.reader().view();
        meta.index = view.last_index().max(1);
        Ok((view.read_txn(ops), meta))
    }

    /// The whole state as a snapshot file, read at the requested consistency.
    pub async fn save_snapshot(
        &self,
        opts: &cairn_types::QueryOptions,
    ) -> Result<(Vec<u8>, QueryMeta), ServerError> {
        let mut meta = self.prepare_read(opts.consistency, opts.max_stale).await?;
        let (data, index) = self
            .reader()
            .save_snapshot()
            .map_err(|e| ServerError::Internal(e.to_string()))?;
        meta.index = index.max(1);
        Ok((cairn_catalog::write_archive(&data, index), meta))
    }

    /// Renew a TTL session on the leader. `Ok(false)` when the session does not exist.
    pub async fn renew_session(&self, id: &str) -> Result<bool, ServerError> {
        self.wait_for_leader().await?;
        if self.is_leader() {
            return Ok(self.renew_local(id));
        }
        let (Some(rpc), Some(addr)) = (&self.inner.rpc, self.leader_addr()) else {
            return Err(ServerError::NoLeader);
        };
        let q = serde_json::to_vec(&rpc::ForwardQuery::RenewSession { id: id.to_string() })
            .map_err(|e| ServerError::Internal(e.to_string()))?;
        let reply = rpc
            .query(&addr, q, &cairn_rpc::QueryOptions::default())
            .await
            .map_err(rpc::from_rpc_error)?;
        serde_json::from_slice(&reply.result)
            .map_err(|e| ServerError::Internal(format!("leader's answer: {e}")))
    }

    /// Renew on this server's TTL timers (the leader's).
    pub(crate) fn renew_local(&self, id: &str) -> bool {
        let exists = self.inner.reader.view().session(id).0.is_some();
        if exists {
            self.inner.sessions.lock().renew(id, Instant::now());
        }
        exists
    }

    pub(crate) fn sessions(&self) -> &Mutex<SessionTtlTracker> {
        &self.inner.sessions
    }

    /// Move leadership to the server with raft id `to`.
    pub async fn transfer_leader(&self, to: u64) -> Result<(), ServerError> {
        self.inner
            .raft
            .transfer_leader(to)
            .await
            .map_err(map_raft_error)
    }

    /// Remove a server from the raft configuration.
    pub async fn remove_peer(&self, id: u64) -> Result<(), ServerError> {
        self.inner
            .raft
            .remove_server(id)
            .await
            .map_err(map_raft_error)
    }

    /// Stop leader duties and the raft node.
    pub async fn shutdown(&self) {
        self.inner.cancel.cancel();
        self.inner.raft.shutdown().await;
    }
}

fn map_raft_error(e: RaftError) -> ServerError {
    match e {
        RaftError::NotLeader { .. } => ServerError::NoLeader,
        RaftError::ProposalDropped | RaftError::Timeout => ServerError::Timeout,
        RaftError::Rejected(r) => ServerError::Internal(r),
        RaftError::Stopped(r) => ServerError::Stopped(r),
    }
}

impl crate::local::CatalogAccess for Server {
    fn node_record(
        &self,
        node: &str,
    ) -> crate::local::sync::AccessFuture<'_, crate::local::NodeRecord> {
        let node = node.to_string();
        Box::pin(async move {
            self.wait_for_leader().await?;
            let view = self.reader().view();
            let (services, _) = view.node_services(&node);
            let (checks, _) = view.node_checks(&node);
            let (node_rec, services) = match services {
                Some(ns) => (ns.node, ns.services),
                None => (None, Default::default()),
            };
            Ok(crate::local::NodeRecord {
                node: node_rec,
                services,
                checks,
            })
        })
    }

    fn apply(&self, cmd: Command) -> crate::local::sync::AccessFuture<'_, ApplyResult> {
        Box::pin(async move { Server::apply(self, &cmd).await })
    }
}
