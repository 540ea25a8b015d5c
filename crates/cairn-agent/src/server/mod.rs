//! The server role: the replicated catalog behind raft, consistency modes for reads, and the
//! leader's duties.

mod leader;
mod raft_setup;
mod reconcile;

use crate::error::{AgentError, ServerError};
use cairn_catalog::{ApplyResult, CatalogReader, Command, SessionTtlTracker};
use cairn_consensus::{RaftError, RaftHandle, RaftStatus, Role};
use cairn_types::{Consistency, QueryMeta};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub use leader::{LeaderDuties, MemberFeed, SERF_HEALTH};
pub use raft_setup::{ServerOptions, StoreKind};
pub use reconcile::MemberSource;

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
        let tick = opts.raft.tick_interval;
        let rpc_hold_timeout = opts.rpc_hold_timeout;
        let (raft, reader) = raft_setup::start_raft(&opts)?;
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
    /// for a leader; a proposal dropped by a leadership change (so never applied) is retried.
    pub async fn apply(&self, cmd: &Command) -> Result<ApplyResult, ServerError> {
        let data = cmd
            .try_encode()
            .map_err(|e| ServerError::Internal(format!("encoding command: {e}")))?;
        let deadline = tokio::time::Instant::now() + self.inner.rpc_hold_timeout;
        loop {
            match self.inner.raft.propose(data.clone()).await {
                Ok(result) => return Ok(result),
                Err(RaftError::NotLeader { leader, .. }) => {
                    if leader.is_some() {
                        // Followers forward to the leader once clustering lands; a single
                        // server only gets here while it is being elected.
                        return Err(ServerError::Internal(
                            "this server is not the leader and forwarding is not available".into(),
                        ));
                    }
                }
                Err(RaftError::ProposalDropped) => {}
                Err(e) => return Err(map_raft_error(e)),
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ServerError::NoLeader);
            }
            let _ = tokio::time::timeout_at(deadline, self.wait_for_leader()).await;
            tokio::time::sleep(self.inner.tick).await;
        }
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
            }
            Consistency::Consistent => {
                self.wait_for_leader().await?;
                self.inner
                    .raft
                    .read_index()
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

    /// Renew a TTL session on the leader. `Ok(false)` when the session does not exist.
    pub async fn renew_session(&self, id: &str) -> Result<bool, ServerError> {
        self.wait_for_leader().await?;
        let exists = self.inner.reader.view().session(id).0.is_some();
        if exists {
            self.inner.sessions.lock().renew(id, Instant::now());
        }
        Ok(exists)
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
