//! A client agent's way to the servers: writes go to the leader, reads and the rest to any
//! server of our datacenter found through LAN gossip tags, retrying another when one fails.

use crate::error::ServerError;
use crate::local::sync::{AccessFuture, CatalogAccess, NodeRecord};
use crate::membership::{server_tags, LanPool};
use crate::server::rpc::{from_rpc_error, ForwardQuery};
use cairn_catalog::{ApplyResult, CatalogError, Command, Query, QueryResult, TxnOutcome};
use cairn_rpc::{ErrorKind, RpcClient, RpcError};
use cairn_types::{MemberStatus, QueryMeta, QueryOptions, TxnOp};
use serde::de::DeserializeOwned;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How long a request keeps looking for a leader or a live server (Consul's
/// `rpc_hold_timeout`).
const HOLD: Duration = Duration::from_secs(7);

/// The servers of this datacenter, reached over `cairn-rpc`.
pub(crate) struct RemoteServers {
    lan: LanPool,
    rpc: RpcClient,
    datacenter: String,
    next: AtomicUsize,
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ServerError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ServerError::Internal(format!("server's answer: {e}")))
}

/// Retry another server only when the request certainly had no effect: no leader, or no
/// connection made. (An `Unavailable` after sending may have applied a write.)
fn retryable(e: &RpcError) -> bool {
    e.kind() == ErrorKind::NoLeader || e.was_not_sent()
}

impl RemoteServers {
    /// `source`: the address outgoing RPC connections come from (the bind address).
    pub(crate) fn new(
        lan: LanPool,
        datacenter: String,
        source: Option<std::net::IpAddr>,
    ) -> RemoteServers {
        RemoteServers {
            lan,
            rpc: RpcClient::new(cairn_rpc::ClientConfig {
                local_address: source,
                ..cairn_rpc::ClientConfig::default()
            }),
            datacenter,
            next: AtomicUsize::new(0),
        }
    }

    /// Alive servers of our datacenter, rotated so load spreads across them.
    async fn servers(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .lan
            .member_infos()
            .await
            .into_iter()
            .filter(|m| m.status == MemberStatus::Alive)
            .filter_map(|m| server_tags(m.addr, &m.tags))
            .filter(|t| t.datacenter == self.datacenter)
            .map(|t| t.rpc_addr.to_string())
            .collect();
        out.sort();
        if !out.is_empty() {
            let k = self.next.fetch_add(1, Ordering::Relaxed) % out.len();
            out.rotate_left(k);
        }
        out
    }

    /// Run `call` against servers until one answers or `HOLD` runs out. `idempotent` calls
    /// (reads) are also retried after an unavailable server that may have received them.
    async fn with_servers<T, F, Fut>(&self, idempotent: bool, call: F) -> Result<T, ServerError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, RpcError>>,
    {
        let deadline = tokio::time::Instant::now() + HOLD;
        let mut last = ServerError::NoServers;
        loop {
            for addr in self.servers().await {
                match call(addr).await {
                    Ok(v) => return Ok(v),
                    Err(e)
                        if retryable(&e) || (idempotent && e.kind() == ErrorKind::Unavailable) =>
                    {
                        last = from_rpc_error(e)
                    }
                    Err(e) => return Err(from_rpc_error(e)),
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(last);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Forward a write to the leader.
    pub(crate) async fn apply(&self, cmd: &Command) -> Result<ApplyResult, ServerError> {
        let data = cmd
            .try_encode()
            .map_err(|e| ServerError::Internal(format!("encoding command: {e}")))?;
        let bytes = self
            .with_servers(false, |addr| {
                let data = data.clone();
                async move {
                    let leader = self
                        .rpc
                        .status(&addr)
                        .await?
                        .leader_addr
                        .ok_or_else(RpcError::no_leader)?;
                    self.rpc.apply(&leader, data).await
                }
            })
            .await?;
        decode(&bytes)
    }

    async fn forward_query(
        &self,
        q: &ForwardQuery,
        opts: &QueryOptions,
    ) -> Result<(Vec<u8>, QueryMeta), ServerError> {
        let body = serde_json::to_vec(q).map_err(|e| ServerError::Internal(e.to_string()))?;
        let reply = self
            .with_servers(true, |addr| {
                let body = body.clone();
                async move { self.rpc.query(&addr, body, opts).await }
            })
            .await?;
        Ok((reply.result, reply.meta))
    }

    /// A catalog read on a server.
    pub(crate) async fn query(
        &self,
        q: Query,
        opts: &QueryOptions,
    ) -> Result<(QueryResult, QueryMeta), ServerError> {
        let (bytes, meta) = self.forward_query(&ForwardQuery::Catalog(q), opts).await?;
        Ok((decode(&bytes)?, meta))
    }

    /// A read-only transaction on a server.
    pub(crate) async fn read_txn(
        &self,
        ops: Vec<TxnOp>,
        opts: &QueryOptions,
    ) -> Result<(Result<TxnOutcome, CatalogError>, QueryMeta), ServerError> {
        let (bytes, meta) = self
            .forward_query(&ForwardQuery::ReadTxn(ops), opts)
            .await?;
        Ok((decode(&bytes)?, meta))
    }

    /// Renew a session (the servers pass it to the leader).
    pub(crate) async fn renew_session(&self, id: &str) -> Result<bool, ServerError> {
        let q = ForwardQuery::RenewSession { id: id.to_string() };
        let (bytes, _) = self.forward_query(&q, &QueryOptions::default()).await?;
        decode(&bytes)
    }

    /// The leader's RPC address as a server reports it (empty when none).
    pub(crate) async fn leader(&self) -> Result<String, ServerError> {
        self.with_servers(true, |addr| async move { self.rpc.status(&addr).await })
            .await
            .map(|st| st.leader_addr.unwrap_or_default())
    }

    /// A snapshot file of the whole state, from a server.
    pub(crate) async fn save_snapshot(
        &self,
        opts: &QueryOptions,
    ) -> Result<(Vec<u8>, QueryMeta), ServerError> {
        self.forward_query(&ForwardQuery::Snapshot, opts).await
    }

    /// The voting servers.
    pub(crate) async fn peers(&self) -> Result<Vec<String>, ServerError> {
        let (bytes, _) = self
            .forward_query(&ForwardQuery::Peers, &QueryOptions::default())
            .await?;
        decode(&bytes)
    }
}

impl CatalogAccess for RemoteServers {
    fn node_record(&self, node: &str) -> AccessFuture<'_, NodeRecord> {
        let node = node.to_string();
        Box::pin(async move {
            let opts = QueryOptions::default();
            let (services, _) = self
                .query(Query::NodeServices { node: node.clone() }, &opts)
                .await?;
            let (checks, _) = self.query(Query::HealthNode { node }, &opts).await?;
            let (node, services) = match services {
                QueryResult::NodeServices(Some(ns)) => (ns.node, ns.services),
                _ => (None, Default::default()),
            };
            let checks = match checks {
                QueryResult::Checks(c) => c,
                _ => Vec::new(),
            };
            Ok(NodeRecord {
                node,
                services,
                checks,
            })
        })
    }

    fn apply(&self, cmd: Command) -> AccessFuture<'_, ApplyResult> {
        Box::pin(async move { RemoteServers::apply(self, &cmd).await })
    }
}
