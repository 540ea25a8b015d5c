//! How raft messages travel between nodes.

use crate::membership::Peers;
use crate::message::RaftMessage;
use parking_lot::RwLock;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Delivery feedback a transport gives back to the sending node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryReport {
    /// The peer could not be reached; raft slows replication to it.
    Unreachable(u64),
    /// A snapshot to the peer was delivered (`true`) or failed (`false`).
    Snapshot(u64, bool),
}

/// Where a transport sends delivery feedback. Cheap to clone.
#[derive(Clone)]
pub struct ReportSink {
    pub(crate) tx: mpsc::UnboundedSender<DeliveryReport>,
}

impl ReportSink {
    /// A sink that drops every report: for a transport driven outside a raft node (tests,
    /// benchmarks).
    pub fn discarding() -> ReportSink {
        let (tx, _) = mpsc::unbounded_channel();
        ReportSink { tx }
    }

    /// Report one delivery outcome. Ignored if the node has stopped.
    pub fn report(&self, report: DeliveryReport) {
        let _ = self.tx.send(report);
    }
}

/// Moves raft messages to peers. Sending must not block: queue, or drop and report.
pub trait RaftTransport: Send + Sync + 'static {
    /// Send `msg` to `msg.to()`. Delivery is best-effort; raft retries.
    fn send(&self, msg: RaftMessage, reports: &ReportSink);

    /// The member table changed: ids and addresses to reach.
    fn set_peers(&self, peers: &Peers) {
        let _ = peers;
    }
}

type Inbox = Arc<dyn Fn(RaftMessage) + Send + Sync>;

#[derive(Default)]
struct NetworkState {
    inboxes: BTreeMap<u64, Inbox>,
    cut: BTreeSet<(u64, u64)>,
}

/// An in-process network connecting raft nodes in one program (tests, benchmarks), with links
/// that can be cut to simulate partitions.
#[derive(Clone, Default)]
pub struct InMemoryNetwork {
    state: Arc<RwLock<NetworkState>>,
}

impl InMemoryNetwork {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    /// Attach node `id`: messages for it are handed to `deliver`.
    pub fn register(&self, id: u64, deliver: impl Fn(RaftMessage) + Send + Sync + 'static) {
        self.state.write().inboxes.insert(id, Arc::new(deliver));
    }

    /// Detach node `id` (it crashed or stopped).
    pub fn unregister(&self, id: u64) {
        self.state.write().inboxes.remove(&id);
    }

    /// Cut (`up = false`) or restore the link between `a` and `b`, both directions.
    pub fn set_link(&self, a: u64, b: u64, up: bool) {
        let mut st = self.state.write();
        for pair in [(a, b), (b, a)] {
            if up {
                st.cut.remove(&pair);
            } else {
                st.cut.insert(pair);
            }
        }
    }

    /// Isolate `id` from everyone, or reconnect it.
    pub fn isolate(&self, id: u64, isolated: bool) {
        let others: Vec<u64> = self.state.read().inboxes.keys().copied().collect();
        for o in others.into_iter().filter(|&o| o != id) {
            self.set_link(id, o, !isolated);
        }
    }

    /// Restore every link.
    pub fn heal(&self) {
        self.state.write().cut.clear();
    }

    /// A transport for node `id` on this network.
    pub fn transport(&self, id: u64) -> InMemoryTransport {
        InMemoryTransport {
            id,
            net: self.clone(),
        }
    }
}

/// One node's view of an [`InMemoryNetwork`].
pub struct InMemoryTransport {
    id: u64,
    net: InMemoryNetwork,
}

impl RaftTransport for InMemoryTransport {
    fn send(&self, msg: RaftMessage, reports: &ReportSink) {
        let to = msg.to();
        let is_snapshot = msg.is_snapshot();
        let inbox = {
            let st = self.net.state.read();
            if st.cut.contains(&(self.id, to)) {
                None
            } else {
                st.inboxes.get(&to).cloned()
            }
        };
        match inbox {
            Some(deliver) => {
                deliver(msg);
                if is_snapshot {
                    reports.report(DeliveryReport::Snapshot(to, true));
                }
            }
            None => {
                if is_snapshot {
                    reports.report(DeliveryReport::Snapshot(to, false));
                }
                reports.report(DeliveryReport::Unreachable(to));
            }
        }
    }
}
