//! The sending side of raft over gRPC: [`GrpcRaftTransport`].
//!
//! `send` never blocks: each peer has a bounded queue drained by its own tokio task, which
//! connects lazily, keeps one long-lived client stream of message batches open, and reconnects
//! with backoff when the stream breaks. A message that cannot be queued or delivered is dropped
//! and reported as unreachable; raft retries. Snapshot messages are streamed separately in
//! chunks and their outcome is reported to raft.

use crate::peer::PeerWorker;
use cairn_consensus::{DeliveryReport, Peers, RaftMessage, RaftTransport, ReportSink};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How a [`GrpcRaftTransport`] behaves.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// The cluster this node belongs to; carried in every envelope.
    pub cluster_id: u64,
    /// This node's RPC address as peers reach it (sent along so a new node can answer before
    /// it knows the member table). May be empty.
    pub local_addr: String,
    /// Messages queued per peer before new ones are dropped.
    pub queue_len: usize,
    /// Most messages in one batch.
    pub max_batch_msgs: usize,
    /// Most encoded bytes in one batch (a batch always holds at least one message).
    pub max_batch_bytes: usize,
    /// Size of the pieces a snapshot is cut into.
    pub snapshot_chunk_size: usize,
    /// How long connecting to a peer may take.
    pub connect_timeout: Duration,
    /// How long handing one batch to a stalled stream may take before the stream is dropped.
    pub send_timeout: Duration,
    /// How long sending one whole snapshot may take.
    pub snapshot_timeout: Duration,
    /// Longest wait between reconnection attempts to an unreachable peer.
    pub max_backoff: Duration,
    /// Largest message the transport encodes (it must fit the receiver's decoding limit).
    pub max_message_size: usize,
    /// Source address of outgoing connections (`None`: the OS picks). Agents set their bind
    /// address so traffic between servers comes from the address peers know them by.
    pub local_address: Option<std::net::IpAddr>,
}

impl TransportConfig {
    /// Defaults for a node of cluster `cluster_id` reachable at `local_addr`.
    pub fn new(cluster_id: u64, local_addr: impl Into<String>) -> Self {
        TransportConfig {
            cluster_id,
            local_addr: local_addr.into(),
            queue_len: 4096,
            max_batch_msgs: 512,
            max_batch_bytes: 4 * 1024 * 1024,
            snapshot_chunk_size: 1024 * 1024,
            connect_timeout: Duration::from_secs(1),
            send_timeout: Duration::from_secs(5),
            snapshot_timeout: Duration::from_secs(300),
            max_backoff: Duration::from_secs(1),
            max_message_size: crate::DEFAULT_MAX_MESSAGE_SIZE,
            local_address: None,
        }
    }
}

/// Counters of a [`GrpcRaftTransport`], for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Messages handed to a peer's stream.
    pub messages_sent: u64,
    /// Messages dropped (queue full, no address, peer unreachable).
    pub messages_dropped: u64,
    /// Snapshots delivered and acknowledged.
    pub snapshots_sent: u64,
    /// Snapshots that failed.
    pub snapshots_failed: u64,
    /// Successful connections made to peers.
    pub connects: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) sent: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) snapshots_sent: AtomicU64,
    pub(crate) snapshots_failed: AtomicU64,
    pub(crate) connects: AtomicU64,
}

/// Where peers are: addresses from the replicated member table win over learned ones.
#[derive(Default)]
struct PeerTable {
    configured: Peers,
    learned: BTreeMap<u64, String>,
}

impl PeerTable {
    fn get(&self, id: u64) -> Option<&String> {
        self.configured.get(&id).or_else(|| self.learned.get(&id))
    }
}

/// State shared between the transport and its per-peer tasks.
pub(crate) struct Shared {
    pub(crate) cfg: TransportConfig,
    peers: RwLock<PeerTable>,
    pub(crate) counters: Counters,
}

impl Shared {
    pub(crate) fn address(&self, id: u64) -> Option<String> {
        self.peers.read().get(id).cloned()
    }

    pub(crate) fn dropped(&self, to: u64, snapshot: bool, reports: &ReportSink) {
        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        if snapshot {
            self.counters
                .snapshots_failed
                .fetch_add(1, Ordering::Relaxed);
            reports.report(DeliveryReport::Snapshot(to, false));
        }
        reports.report(DeliveryReport::Unreachable(to));
    }
}

/// A queued message and where to report its fate.
pub(crate) struct Item {
    pub(crate) msg: RaftMessage,
    pub(crate) reports: ReportSink,
}

struct Inner {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    queues: Mutex<HashMap<u64, mpsc::Sender<Item>>>,
}

/// Raft messages to peers over gRPC. Cheap to clone; clones share queues and the peer table.
///
/// Give one clone to [`cairn_consensus::RaftHandle::start`] and keep another to seed
/// addresses ([`GrpcRaftTransport::add_peer`]) or read [`GrpcRaftTransport::stats`].
#[derive(Clone)]
pub struct GrpcRaftTransport {
    inner: Arc<Inner>,
}

impl GrpcRaftTransport {
    /// A transport whose peer tasks run on `runtime`. `send` may be called from any thread,
    /// inside or outside that runtime.
    pub fn new(cfg: TransportConfig, runtime: tokio::runtime::Handle) -> Self {
        GrpcRaftTransport {
            inner: Arc::new(Inner {
                shared: Arc::new(Shared {
                    cfg,
                    peers: RwLock::new(PeerTable::default()),
                    counters: Counters::default(),
                }),
                runtime,
                queues: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &TransportConfig {
        &self.inner.shared.cfg
    }

    /// Make `id` reachable at `addr` until the replicated member table says otherwise (servers
    /// found through gossip, or a leader that contacts a node not yet in its table).
    pub fn add_peer(&self, id: u64, addr: impl Into<String>) {
        let addr = addr.into();
        if addr.is_empty() {
            return;
        }
        let mut peers = self.inner.shared.peers.write();
        if peers.learned.get(&id) != Some(&addr) {
            tracing::debug!(peer = id, addr = %addr, "raft peer address learned");
            peers.learned.insert(id, addr);
        }
    }

    /// Forget an address given by [`GrpcRaftTransport::add_peer`].
    pub fn remove_peer(&self, id: u64) {
        let gone = {
            let mut peers = self.inner.shared.peers.write();
            peers.learned.remove(&id);
            peers.get(id).is_none()
        };
        if gone {
            self.inner.queues.lock().remove(&id);
        }
    }

    /// The address `id` is currently reached at.
    pub fn peer_address(&self, id: u64) -> Option<String> {
        self.inner.shared.address(id)
    }

    /// Counters since the transport was created.
    pub fn stats(&self) -> TransportStats {
        let c = &self.inner.shared.counters;
        TransportStats {
            messages_sent: c.sent.load(Ordering::Relaxed),
            messages_dropped: c.dropped.load(Ordering::Relaxed),
            snapshots_sent: c.snapshots_sent.load(Ordering::Relaxed),
            snapshots_failed: c.snapshots_failed.load(Ordering::Relaxed),
            connects: c.connects.load(Ordering::Relaxed),
        }
    }

    /// Queue `item` for `to`, starting that peer's task on first use. `false` if the queue is
    /// full or the peer has no address (the item is dropped).
    fn enqueue(&self, to: u64, item: Item) -> bool {
        let mut queues = self.inner.queues.lock();
        if let Some(tx) = queues.get(&to) {
            return tx.try_send(item).is_ok();
        }
        if self.inner.shared.address(to).is_none() {
            return false;
        }
        let (tx, rx) = mpsc::channel(self.inner.shared.cfg.queue_len.max(1));
        let worker = PeerWorker::new(to, self.inner.shared.clone(), rx);
        self.inner.runtime.spawn(worker.run());
        let queued = tx.try_send(item).is_ok();
        queues.insert(to, tx);
        queued
    }
}

impl RaftTransport for GrpcRaftTransport {
    fn send(&self, msg: RaftMessage, reports: &ReportSink) {
        let to = msg.to();
        let snapshot = msg.is_snapshot();
        let item = Item {
            msg,
            reports: reports.clone(),
        };
        if !self.enqueue(to, item) {
            tracing::trace!(peer = to, "raft message dropped: queue full or no address");
            self.inner.shared.dropped(to, snapshot, reports);
        }
    }

    fn set_peers(&self, peers: &Peers) {
        let mut table = self.inner.shared.peers.write();
        table.configured = peers.clone();
        let mut queues = self.inner.queues.lock();
        // Dropping a queue's sender ends its task once it has drained.
        queues.retain(|id, _| table.get(*id).is_some());
    }
}

impl Shared {
    /// Count a finished snapshot send.
    pub(crate) fn snapshot_done(&self, ok: bool) {
        let c = if ok {
            &self.counters.snapshots_sent
        } else {
            &self.counters.snapshots_failed
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn config(&self) -> &TransportConfig {
        &self.cfg
    }
}
