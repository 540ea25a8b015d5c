//! Request forwarding, server side: the [`ForwardHandler`] a server implements, and the
//! conversions between its plain types and the wire.

use crate::error::RpcError;
use crate::pb;
use cairn_types::{Consistency, QueryMeta, QueryOptions};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

/// An answered query: the encoded result and its metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryReply {
    /// The encoded result.
    pub result: Vec<u8>,
    /// Index, leader contact and consistency of the answer.
    pub meta: QueryMeta,
}

/// What a server says about itself and its leader.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerStatus {
    /// The answering server's raft id.
    pub id: u64,
    /// The leader's raft id, when one is known.
    pub leader_id: Option<u64>,
    /// The leader's RPC address, when known.
    pub leader_addr: Option<String>,
    /// The current raft term.
    pub term: u64,
    /// The highest index applied to the server's state.
    pub applied_index: u64,
    /// The server's datacenter.
    pub datacenter: String,
}

/// What a server does with forwarded requests. Commands and queries are opaque bytes here;
/// the implementation (in the agent) decodes them. Errors reach the caller with the same
/// kind and message.
#[async_trait::async_trait]
pub trait ForwardHandler: Send + Sync + 'static {
    /// Apply an encoded write (through raft, on the leader) and return its encoded result.
    async fn apply(&self, command: Vec<u8>) -> Result<Vec<u8>, RpcError>;

    /// Answer an encoded read with the requested consistency, blocking per
    /// `options.min_query_index` / `options.max_query_time`.
    async fn query(&self, query: Vec<u8>, options: QueryOptions) -> Result<QueryReply, RpcError>;

    /// Who this server is and who leads (Consul's `Status.Ping`/`Status.Leader`).
    async fn status(&self) -> Result<ServerStatus, RpcError>;
}

/// The tonic face of a [`ForwardHandler`].
pub(crate) struct ForwardGrpc {
    pub(crate) handler: Arc<dyn ForwardHandler>,
    pub(crate) shutdown: CancellationToken,
}

#[tonic::async_trait]
impl pb::forward_server::Forward for ForwardGrpc {
    async fn apply(
        &self,
        request: Request<pb::ApplyRequest>,
    ) -> Result<Response<pb::ApplyResponse>, Status> {
        let command = Vec::from(request.into_inner().command);
        let result = self
            .handler
            .apply(command)
            .await
            .map_err(RpcError::into_status)?;
        Ok(Response::new(pb::ApplyResponse {
            result: result.into(),
        }))
    }

    async fn query(
        &self,
        request: Request<pb::QueryRequest>,
    ) -> Result<Response<pb::QueryResponse>, Status> {
        let req = request.into_inner();
        let options = options_from_pb(req.options.unwrap_or_default());
        let query = Vec::from(req.query);
        // Blocking queries can wait minutes: give them up when the server stops.
        let reply = tokio::select! {
            r = self.handler.query(query, options) => r.map_err(RpcError::into_status)?,
            _ = self.shutdown.cancelled() => {
                return Err(RpcError::unavailable("server shutting down").into_status());
            }
        };
        Ok(Response::new(pb::QueryResponse {
            result: reply.result.into(),
            meta: Some(meta_to_pb(&reply.meta)),
        }))
    }

    async fn status(
        &self,
        _request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        let st = self.handler.status().await.map_err(RpcError::into_status)?;
        Ok(Response::new(status_to_pb(st)))
    }
}

fn consistency_to_pb(c: Consistency) -> i32 {
    match c {
        Consistency::Default => pb::Consistency::Default as i32,
        Consistency::Stale => pb::Consistency::Stale as i32,
        Consistency::Consistent => pb::Consistency::Consistent as i32,
    }
}

fn consistency_from_pb(v: i32) -> Consistency {
    match pb::Consistency::try_from(v) {
        Ok(pb::Consistency::Stale) => Consistency::Stale,
        Ok(pb::Consistency::Consistent) => Consistency::Consistent,
        _ => Consistency::Default,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn options_to_pb(o: &QueryOptions) -> pb::QueryOptions {
    pb::QueryOptions {
        datacenter: o.datacenter.clone(),
        min_query_index: o.min_query_index,
        max_query_time_ms: o.max_query_time.map(millis),
        consistency: consistency_to_pb(o.consistency),
        max_stale_ms: o.max_stale.map(millis),
        token: o.token.clone(),
        filter: o.filter.clone(),
        near: o.near.clone(),
    }
}

pub(crate) fn options_from_pb(o: pb::QueryOptions) -> QueryOptions {
    QueryOptions {
        datacenter: o.datacenter,
        min_query_index: o.min_query_index,
        max_query_time: o.max_query_time_ms.map(Duration::from_millis),
        consistency: consistency_from_pb(o.consistency),
        max_stale: o.max_stale_ms.map(Duration::from_millis),
        token: o.token,
        filter: o.filter,
        near: o.near,
    }
}

pub(crate) fn meta_to_pb(m: &QueryMeta) -> pb::QueryMeta {
    pb::QueryMeta {
        index: m.index,
        last_contact_ms: millis(m.last_contact),
        known_leader: m.known_leader,
        consistency: consistency_to_pb(m.consistency),
    }
}

pub(crate) fn meta_from_pb(m: pb::QueryMeta) -> QueryMeta {
    QueryMeta {
        index: m.index,
        last_contact: Duration::from_millis(m.last_contact_ms),
        known_leader: m.known_leader,
        consistency: consistency_from_pb(m.consistency),
    }
}

pub(crate) fn status_to_pb(s: ServerStatus) -> pb::StatusResponse {
    pb::StatusResponse {
        id: s.id,
        leader_id: s.leader_id,
        leader_addr: s.leader_addr.unwrap_or_default(),
        term: s.term,
        applied_index: s.applied_index,
        datacenter: s.datacenter,
    }
}

pub(crate) fn status_from_pb(s: pb::StatusResponse) -> ServerStatus {
    ServerStatus {
        id: s.id,
        leader_id: s.leader_id,
        leader_addr: Some(s.leader_addr).filter(|a| !a.is_empty()),
        term: s.term,
        applied_index: s.applied_index,
        datacenter: s.datacenter,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_meta_and_status_round_trip() {
        let o = QueryOptions {
            datacenter: "dc2".into(),
            min_query_index: 42,
            max_query_time: Some(Duration::from_secs(30)),
            consistency: Consistency::Stale,
            max_stale: Some(Duration::from_millis(1500)),
            token: "t".into(),
            filter: "Service == web".into(),
            near: "_agent".into(),
        };
        assert_eq!(options_from_pb(options_to_pb(&o)), o);
        let d = QueryOptions::default();
        assert_eq!(options_from_pb(options_to_pb(&d)), d);
        let m = QueryMeta {
            index: 9,
            last_contact: Duration::from_millis(250),
            known_leader: true,
            consistency: Consistency::Consistent,
        };
        assert_eq!(meta_from_pb(meta_to_pb(&m)), m);
        let s = ServerStatus {
            id: 3,
            leader_id: Some(1),
            leader_addr: Some("10.0.0.1:8300".into()),
            term: 7,
            applied_index: 100,
            datacenter: "dc1".into(),
        };
        assert_eq!(status_from_pb(status_to_pb(s.clone())), s);
        let none = ServerStatus::default();
        assert_eq!(status_from_pb(status_to_pb(none.clone())), none);
        assert_eq!(consistency_from_pb(99), Consistency::Default);
    }
}
