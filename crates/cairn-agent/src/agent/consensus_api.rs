//! The raft-backed half of the HTTP API, answered by this agent's server role.

use super::Shared;
use crate::error::ServerError;
use crate::server::Server;
use cairn_catalog::{ApplyResult, Command, Query, QueryResult, TxnOutcome};
use cairn_http::{
    ApiError, ApiFuture, ConsensusApi, RaftConfiguration, RaftPeer, RaftServer, WriteOptions,
};
use cairn_types::{QueryMeta, QueryOptions, Session, TxnOp};
use std::sync::Arc;

enum Backend<'a> {
    Local(&'a Server),
    Remote(&'a super::remote::RemoteServers),
}

/// [`ConsensusApi`] for an agent.
pub(crate) struct Consensus {
    shared: Arc<Shared>,
}

impl Consensus {
    pub(crate) fn new(shared: Arc<Shared>) -> Consensus {
        Consensus { shared }
    }

    /// The local server, or Consul's error for an agent that has none to ask.
    fn server(&self) -> Result<&Server, ApiError> {
        self.shared
            .server
            .as_ref()
            .ok_or_else(|| ApiError::internal(ServerError::NoServers.to_string()))
    }

    /// Where raft-backed requests go: this agent's server role, or the servers over RPC.
    fn backend(&self) -> Result<Backend<'_>, ApiError> {
        if let Some(s) = &self.shared.server {
            return Ok(Backend::Local(s));
        }
        self.shared
            .remote
            .as_ref()
            .map(|r| Backend::Remote(r.as_ref()))
            .ok_or_else(|| ApiError::internal(ServerError::NoServers.to_string()))
    }

    fn check_dc(&self, dc: &str) -> Result<(), ApiError> {
        if dc.is_empty() || dc == self.shared.node.datacenter {
            Ok(())
        } else {
            Err(ApiError::NoPathToDatacenter)
        }
    }
}

pub(crate) fn api_error(e: ServerError) -> ApiError {
    match e {
        ServerError::NoLeader => ApiError::NoLeader,
        other => ApiError::internal(other.to_string()),
    }
}

impl ConsensusApi for Consensus {
    fn apply(&self, command: Command, opts: WriteOptions) -> ApiFuture<'_, ApplyResult> {
        Box::pin(async move {
            self.check_dc(&opts.datacenter)?;
            match self.backend()? {
                Backend::Local(s) => s.apply(&command).await,
                Backend::Remote(r) => r.apply(&command).await,
            }
            .map_err(api_error)
        })
    }

    fn query(&self, query: Query, opts: QueryOptions) -> ApiFuture<'_, (QueryResult, QueryMeta)> {
        Box::pin(async move {
            self.check_dc(&opts.datacenter)?;
            match self.backend()? {
                Backend::Local(s) => s.query(&query, &opts).await,
                Backend::Remote(r) => r.query(query, &opts).await,
            }
            .map_err(api_error)
        })
    }

    fn read_txn(
        &self,
        ops: Vec<TxnOp>,
        opts: QueryOptions,
    ) -> ApiFuture<'_, (TxnOutcome, QueryMeta)> {
        Box::pin(async move {
            self.check_dc(&opts.datacenter)?;
            let (outcome, meta) = match self.backend()? {
                Backend::Local(s) => s.read_txn(ops, &opts).await,
                Backend::Remote(r) => r.read_txn(ops, &opts).await,
            }
            .map_err(api_error)?;
            Ok((outcome.map_err(ApiError::from)?, meta))
        })
    }

    fn renew_session(&self, id: String, opts: WriteOptions) -> ApiFuture<'_, Option<Session>> {
        Box::pin(async move {
            self.check_dc(&opts.datacenter)?;
            match self.backend()? {
                Backend::Local(server) => {
                    if !server.renew_session(&id).await.map_err(api_error)? {
                        return Ok(None);
                    }
                    Ok(server.reader().view().session(&id).0)
                }
                Backend::Remote(r) => {
                    if !r.renew_session(&id).await.map_err(api_error)? {
                        return Ok(None);
                    }
                    let q = Query::SessionInfo { id: id.clone() };
                    match r
                        .query(q, &QueryOptions::default())
                        .await
                        .map_err(api_error)?
                    {
                        (QueryResult::Session(s), _) => Ok(s),
                        _ => Ok(None),
                    }
                }
            }
        })
    }

    fn snapshot_save(&self, opts: QueryOptions) -> ApiFuture<'_, (Vec<u8>, QueryMeta)> {
        Box::pin(async move {
            self.check_dc(&opts.datacenter)?;
            match self.backend()? {
                Backend::Local(s) => s.save_snapshot(&opts).await,
                Backend::Remote(r) => r.save_snapshot(&opts).await,
            }
            .map_err(api_error)
        })
    }

    fn snapshot_restore(&self, file: Vec<u8>, opts: WriteOptions) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            self.check_dc(&opts.datacenter)?;
            // Check it fully before it goes into the log: a bad file is the client's error.
            cairn_catalog::inspect_archive(&file)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            let data = cairn_catalog::read_archive(&file)
                .map_err(|e| ApiError::bad_request(e.to_string()))?
                .1
                .to_vec();
            let cmd = Command::RestoreSnapshot { data };
            let result = match self.backend()? {
                Backend::Local(s) => s.apply(&cmd).await,
                Backend::Remote(r) => r.apply(&cmd).await,
            }
            .map_err(api_error)?;
            match result.error() {
                Some(e) => Err(ApiError::internal(e.to_string())),
                None => Ok(()),
            }
        })
    }

    fn leader(&self, datacenter: String) -> ApiFuture<'_, String> {
        Box::pin(async move {
            self.check_dc(&datacenter)?;
            match self.backend()? {
                Backend::Local(s) => Ok(s.leader_addr().unwrap_or_default()),
                Backend::Remote(r) => r.leader().await.map_err(api_error),
            }
        })
    }

    fn peers(&self, datacenter: String) -> ApiFuture<'_, Vec<String>> {
        Box::pin(async move {
            self.check_dc(&datacenter)?;
            match self.backend()? {
                Backend::Local(s) => s.peers().await,
                Backend::Remote(r) => r.peers().await,
            }
            .map_err(api_error)
        })
    }

    fn datacenters(&self) -> ApiFuture<'_, Vec<String>> {
        Box::pin(async move { Ok(vec![self.shared.node.datacenter.clone()]) })
    }

    fn raft_configuration(&self, opts: QueryOptions) -> ApiFuture<'_, RaftConfiguration> {
        Box::pin(async move {
            self.check_dc(&opts.datacenter)?;
            let server = self.server()?;
            server
                .prepare_read(opts.consistency, opts.max_stale)
                .await
                .map_err(api_error)?;
            let st = server.status().await.map_err(api_error)?;
            let view = server.reader().view();
            let mut servers = Vec::new();
            for id in st.voters.iter().chain(st.learners.iter()) {
                let address = st.peers.get(id).cloned().unwrap_or_default();
                let (node_id, node_name) = if *id == server.raft_id() {
                    (self.shared.node.id.clone(), self.shared.node.node.clone())
                } else {
                    // Other servers are known by address until gossip names them.
                    let host = address.rsplit_once(':').map(|(h, _)| h).unwrap_or(&address);
                    view.nodes()
                        .0
                        .into_iter()
                        .find(|n| n.address == host)
                        .map(|n| (n.id, n.node))
                        .unwrap_or_else(|| (id.to_string(), String::new()))
                };
                servers.push(RaftServer {
                    id: node_id,
                    node: node_name,
                    address,
                    leader: st.leader == Some(*id),
                    voter: st.voters.contains(id),
                    protocol_version: "3".into(),
                    last_index: st
                        .matched
                        .get(id)
                        .copied()
                        .unwrap_or(if *id == server.raft_id() {
                            st.last_index
                        } else {
                            0
                        }),
                });
            }
            Ok(RaftConfiguration {
                servers,
                index: st.commit,
            })
        })
    }

    fn remove_raft_peer(&self, peer: RaftPeer, opts: WriteOptions) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            self.check_dc(&opts.datacenter)?;
            let server = self.server()?;
            let st = server.status().await.map_err(api_error)?;
            let target = match &peer {
                RaftPeer::Address(addr) => {
                    st.peers.iter().find(|(_, a)| *a == addr).map(|(id, _)| *id)
                }
                RaftPeer::Id(id) => {
                    if *id == self.shared.node.id {
                        Some(server.raft_id())
                    } else {
                        id.parse::<u64>().ok().filter(|i| st.peers.contains_key(i))
                    }
                }
                _ => None,
            };
            let Some(target) = target else {
                let what = match peer {
                    RaftPeer::Address(a) => format!("address \"{a}\""),
                    RaftPeer::Id(i) => format!("id \"{i}\""),
                    _ => "peer".to_string(),
                };
                return Err(ApiError::internal(format!(
                    "{what} was not found in the Raft configuration"
                )));
            };
            server.remove_peer(target).await.map_err(api_error)
        })
    }

    fn transfer_leader(&self, id: Option<String>, opts: WriteOptions) -> ApiFuture<'_, bool> {
        Box::pin(async move {
            self.check_dc(&opts.datacenter)?;
            let server = self.server()?;
            let st = server.status().await.map_err(api_error)?;
            let target = match id {
                Some(id) => id
                    .parse::<u64>()
                    .ok()
                    .filter(|i| st.voters.contains(i))
                    .ok_or_else(|| {
                        ApiError::internal(format!("cannot find server with id {id:?}"))
                    })?,
                None => st
                    .voters
                    .iter()
                    .copied()
                    .find(|v| *v != server.raft_id())
                    .ok_or_else(|| {
                        ApiError::internal("cannot find a peer to transfer leadership to")
                    })?,
            };
            server.transfer_leader(target).await.map_err(api_error)?;
            Ok(true)
        })
    }
}
