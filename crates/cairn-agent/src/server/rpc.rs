//! The server's side of `cairn-rpc`: raft traffic in, and forwarded writes and session renewals
//! from followers (and later client agents) applied on the leader.

use super::Server;
use crate::error::ServerError;
use cairn_catalog::Command;
use cairn_rpc::{ForwardHandler, QueryOptions, QueryReply, RpcError, ServerStatus};
use serde::{Deserialize, Serialize};

/// Requests carried in the forwarding service's `query` call.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ForwardQuery {
    /// A catalog read (client agents).
    Catalog(cairn_catalog::Query),
    /// A read-only transaction (client agents).
    ReadTxn(Vec<cairn_types::TxnOp>),
    /// The voting servers' RPC addresses.
    Peers,
    /// A snapshot file of the whole state.
    Snapshot,
    /// Renew a TTL session (the TTL timers live on the leader).
    RenewSession {
        /// Session ID.
        id: String,
    },
}

/// The cluster id every raft envelope carries: a hash of the datacenter name, so servers of
/// different datacenters never mix their raft traffic.
pub fn cluster_id(datacenter: &str) -> u64 {
    crate::node_id::raft_id(&format!("cairn-raft/{datacenter}"))
}

pub(crate) fn to_rpc_error(e: ServerError) -> RpcError {
    match e {
        ServerError::NoLeader => RpcError::no_leader(),
        ServerError::Timeout => RpcError::timeout(e.to_string()),
        other => RpcError::internal(other.to_string()),
    }
}

pub(crate) fn from_rpc_error(e: RpcError) -> ServerError {
    match e.kind() {
        cairn_rpc::ErrorKind::NoLeader => ServerError::NoLeader,
        cairn_rpc::ErrorKind::Timeout => ServerError::Timeout,
        _ => ServerError::Internal(e.message().to_string()),
    }
}

/// Serves forwarded requests on a server. Only the leader applies them; anyone else answers
/// `No cluster leader` so the caller looks for the leader again.
pub(crate) struct ServerForward {
    pub(crate) server: Server,
    pub(crate) datacenter: String,
}

#[async_trait::async_trait]
impl ForwardHandler for ServerForward {
    async fn apply(&self, command: Vec<u8>) -> Result<Vec<u8>, RpcError> {
        let cmd = Command::decode(&command).map_err(|e| RpcError::bad_request(e.to_string()))?;
        let result = self
            .server
            .apply_on_leader(&cmd)
            .await
            .map_err(to_rpc_error)?;
        serde_json::to_vec(&result).map_err(|e| RpcError::internal(e.to_string()))
    }

    async fn query(&self, query: Vec<u8>, options: QueryOptions) -> Result<QueryReply, RpcError> {
        let q: ForwardQuery =
            serde_json::from_slice(&query).map_err(|e| RpcError::bad_request(e.to_string()))?;
        match q {
            ForwardQuery::Catalog(q) => {
                let (result, meta) = self
                    .server
                    .query(&q, &options)
                    .await
                    .map_err(to_rpc_error)?;
                Ok(QueryReply {
                    result: to_json(&result)?,
                    meta,
                })
            }
            ForwardQuery::ReadTxn(ops) => {
                let (outcome, meta) = self
                    .server
                    .read_txn(ops, &options)
                    .await
                    .map_err(to_rpc_error)?;
                Ok(QueryReply {
                    result: to_json(&outcome)?,
                    meta,
                })
            }
            ForwardQuery::Snapshot => {
                let (file, meta) = self
                    .server
                    .save_snapshot(&options)
                    .await
                    .map_err(to_rpc_error)?;
                Ok(QueryReply { result: file, meta })
            }
            ForwardQuery::Peers => {
                let peers = self.server.peers().await.map_err(to_rpc_error)?;
                Ok(QueryReply {
                    result: to_json(&peers)?,
                    ..QueryReply::default()
                })
            }
            ForwardQuery::RenewSession { id } => {
                // A follower passes it on to the leader (one hop: the leader answers locally).
                let found = self.server.renew_session(&id).await.map_err(to_rpc_error)?;
                let result =
                    serde_json::to_vec(&found).map_err(|e| RpcError::internal(e.to_string()))?;
                Ok(QueryReply {
                    result,
                    ..QueryReply::default()
                })
            }
        }
    }

    async fn status(&self) -> Result<ServerStatus, RpcError> {
        let st = self.server.raft().state();
        Ok(ServerStatus {
            id: self.server.raft_id(),
            leader_id: st.leader,
            leader_addr: self.server.leader_addr(),
            term: st.term,
            applied_index: st.applied,
            datacenter: self.datacenter.clone(),
        })
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, RpcError> {
    serde_json::to_vec(v).map_err(|e| RpcError::internal(e.to_string()))
}
