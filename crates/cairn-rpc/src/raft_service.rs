//! The receiving side of raft over gRPC: [`RaftService`].

use crate::pb;
use crate::snapshot::{AssembleError, Assembler};
use crate::transport::GrpcRaftTransport;
use cairn_consensus::RaftMessage;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

/// Where received raft messages go: typically `move |m| handle.step(m)` for a
/// [`cairn_consensus::RaftHandle`]. Must not block.
pub type RaftInbox = Arc<dyn Fn(RaftMessage) + Send + Sync>;

/// Counters of a [`RaftService`], for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RaftServiceStats {
    /// Raft messages handed to the inbox (snapshots included).
    pub messages_received: u64,
    /// Snapshots reassembled and handed to the inbox.
    pub snapshots_received: u64,
    /// Snapshot chunks received.
    pub snapshot_chunks: u64,
    /// Streams refused because they came from another cluster.
    pub rejected_cluster: u64,
    /// Streams refused because they carried undecodable data.
    pub rejected_invalid: u64,
}

#[derive(Default)]
struct Counters {
    messages: AtomicU64,
    snapshots: AtomicU64,
    chunks: AtomicU64,
    wrong_cluster: AtomicU64,
    invalid: AtomicU64,
}

/// Receives raft messages from peers and hands them to a node's inbox. Cheap to clone.
///
/// Envelopes from another cluster are refused with `PermissionDenied`; snapshots arrive in
/// chunks and are delivered once whole.
#[derive(Clone)]
pub struct RaftService {
    cluster_id: u64,
    inbox: RaftInbox,
    max_snapshot_size: u64,
    learner: Option<GrpcRaftTransport>,
    counters: Arc<Counters>,
}

impl RaftService {
    /// A service for cluster `cluster_id` delivering to `inbox`.
    pub fn new(cluster_id: u64, inbox: impl Fn(RaftMessage) + Send + Sync + 'static) -> Self {
        RaftService {
            cluster_id,
            inbox: Arc::new(inbox),
            max_snapshot_size: 8 * 1024 * 1024 * 1024,
            learner: None,
            counters: Arc::new(Counters::default()),
        }
    }

    /// Teach `transport` the address of each sender it has no address for, so a node that was
    /// just added can answer its leader before the member table reaches it.
    pub fn learn_addresses(mut self, transport: &GrpcRaftTransport) -> Self {
        self.learner = Some(transport.clone());
        self
    }

    /// Refuse snapshots larger than `bytes` (default 8 GiB).
    pub fn max_snapshot_size(mut self, bytes: u64) -> Self {
        self.max_snapshot_size = bytes;
        self
    }

    /// The cluster id it accepts.
    pub fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    /// Counters since the service was created.
    pub fn stats(&self) -> RaftServiceStats {
        let c = &self.counters;
        RaftServiceStats {
            messages_received: c.messages.load(Ordering::Relaxed),
            snapshots_received: c.snapshots.load(Ordering::Relaxed),
            snapshot_chunks: c.chunks.load(Ordering::Relaxed),
            rejected_cluster: c.wrong_cluster.load(Ordering::Relaxed),
            rejected_invalid: c.invalid.load(Ordering::Relaxed),
        }
    }

    fn wrong_cluster(&self, got: u64) -> Status {
        self.counters.wrong_cluster.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            expected = self.cluster_id,
            got,
            "refused raft traffic from another cluster"
        );
        Status::permission_denied(format!(
            "cluster id mismatch: this server belongs to cluster {}, the sender to {got}",
            self.cluster_id
        ))
    }

    fn invalid(&self, why: String) -> Status {
        self.counters.invalid.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(reason = %why, "refused malformed raft traffic");
        Status::invalid_argument(why)
    }

    fn learn(&self, from: u64, from_addr: &str) {
        if let Some(t) = &self.learner {
            if from != 0 && !from_addr.is_empty() && t.peer_address(from).is_none() {
                t.add_peer(from, from_addr);
            }
        }
    }
}

/// The tonic face of a [`RaftService`], stopped by the server's shutdown token.
pub(crate) struct RaftGrpc {
    pub(crate) svc: RaftService,
    pub(crate) shutdown: CancellationToken,
}

#[tonic::async_trait]
impl pb::raft_server::Raft for RaftGrpc {
    async fn stream(
        &self,
        request: Request<Streaming<pb::RaftBatch>>,
    ) -> Result<Response<pb::RaftAck>, Status> {
        let svc = &self.svc;
        let mut stream = request.into_inner();
        let mut delivered = 0u64;
        let mut learned = false;
        loop {
            let next = tokio::select! {
                _ = self.shutdown.cancelled() => {
                    return Err(Status::unavailable("server shutting down"));
                }
                next = stream.message() => next?,
            };
            let Some(batch) = next else {
                return Ok(Response::new(pb::RaftAck { delivered }));
            };
            if batch.cluster_id != svc.cluster_id {
                return Err(svc.wrong_cluster(batch.cluster_id));
            }
            if !learned {
                svc.learn(batch.from, &batch.from_addr);
                learned = true;
            }
            for bytes in &batch.msgs {
                let msg = RaftMessage::decode(bytes).map_err(|e| svc.invalid(e.to_string()))?;
                (svc.inbox)(msg);
                delivered += 1;
            }
            svc.counters
                .messages
                .fetch_add(batch.msgs.len() as u64, Ordering::Relaxed);
        }
    }

    async fn snapshot(
        &self,
        request: Request<Streaming<pb::SnapshotChunk>>,
    ) -> Result<Response<pb::RaftAck>, Status> {
        let svc = &self.svc;
        let mut stream = request.into_inner();
        let mut assembler = Assembler::new(svc.cluster_id, svc.max_snapshot_size);
        loop {
            let next = tokio::select! {
                _ = self.shutdown.cancelled() => {
                    return Err(Status::unavailable("server shutting down"));
                }
                next = stream.message() => next?,
            };
            let Some(chunk) = next else { break };
            svc.counters.chunks.fetch_add(1, Ordering::Relaxed);
            assembler.push(chunk).map_err(|e| match e {
                AssembleError::WrongCluster(got) => svc.wrong_cluster(got),
                AssembleError::Invalid(why) => svc.invalid(why),
            })?;
        }
        let done = assembler.finish().map_err(|e| match e {
            AssembleError::WrongCluster(got) => svc.wrong_cluster(got),
            AssembleError::Invalid(why) => svc.invalid(why),
        })?;
        svc.learn(done.from, &done.from_addr);
        tracing::info!(from = done.from, "raft snapshot received");
        (svc.inbox)(done.msg);
        svc.counters.snapshots.fetch_add(1, Ordering::Relaxed);
        svc.counters.messages.fetch_add(1, Ordering::Relaxed);
        Ok(Response::new(pb::RaftAck { delivered: 1 }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::RpcServer;
    use bytes::Bytes;
    use parking_lot::Mutex;

    /// A raft `MsgSnapshot` from node 1 to node 2 whose snapshot carries `data`, encoded by hand
    /// in raft's protobuf-2 wire format (Message.msg_type = 7, .to = 2, .from = 1,
    /// .snapshot.data = data).
    fn snapshot_message(data: &[u8]) -> Vec<u8> {
        fn varint(mut v: u64, out: &mut Vec<u8>) {
            while v >= 0x80 {
                out.push((v as u8) | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
        }
        let mut snap = vec![0x0a]; // Snapshot.data, field 1, length-delimited
        varint(data.len() as u64, &mut snap);
        snap.extend_from_slice(data);
        let mut msg = vec![0x08, 7, 0x10, 2, 0x18, 1, 0x4a]; // msg_type, to, from, snapshot (9)
        varint(snap.len() as u64, &mut msg);
        msg.extend_from_slice(&snap);
        msg
    }

    async fn start(cluster: u64) -> (String, Arc<Mutex<Vec<RaftMessage>>>, RaftService) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        let svc = RaftService::new(cluster, move |m| sink.lock().push(m));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let server = RpcServer::builder().raft(svc.clone());
        tokio::spawn(server.serve(listener, std::future::pending()));
        (addr, got, svc)
    }

    #[tokio::test]
    async fn snapshot_chunks_are_reassembled_and_other_clusters_refused() {
        let (addr, got, svc) = start(5).await;
        let mut client = pb::raft_client::RaftClient::connect(addr).await.unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let encoded = Bytes::from(snapshot_message(&data));
        let pieces = crate::snapshot::chunks(5, 1, "127.0.0.1:1", encoded.clone(), 64 * 1024);
        assert!(pieces.len() >= 5);
        let ack = client
            .snapshot(futures::stream::iter(pieces))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ack.delivered, 1);
        {
            let got = got.lock();
            assert_eq!(got.len(), 1);
            assert!(got[0].is_snapshot());
            assert_eq!((got[0].from(), got[0].to()), (1, 2));
            assert_eq!(got[0].encode(), encoded.to_vec());
        }

        let wrong = crate::snapshot::chunks(6, 1, "", encoded, 64 * 1024);
        let err = client
            .snapshot(futures::stream::iter(wrong))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);

        let batch = pb::RaftBatch {
            cluster_id: 6,
            from: 1,
            from_addr: String::new(),
            msgs: vec![Bytes::new()],
        };
        let err = client
            .stream(futures::stream::iter(vec![batch]))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        let garbage = pb::RaftBatch {
            cluster_id: 5,
            from: 1,
            from_addr: String::new(),
            msgs: vec![Bytes::from_static(&[0xff, 0xff, 0xff])],
        };
        let err = client
            .stream(futures::stream::iter(vec![garbage]))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        let stats = svc.stats();
        assert_eq!(stats.snapshots_received, 1);
        assert_eq!(stats.rejected_cluster, 2);
        assert_eq!(stats.rejected_invalid, 1);
        assert_eq!(got.lock().len(), 1, "nothing else reached the inbox");
    }
}
