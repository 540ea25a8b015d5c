//! One peer's sending task: drains its queue, keeps a stream of batches open, reconnects.

use crate::net;
use crate::pb;
use crate::snapshot;
use crate::transport::{Item, Shared};
use bytes::Bytes;
use cairn_consensus::DeliveryReport;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::transport::Channel;

/// An open connection to one peer: the channel, and the long-lived stream of batches on it.
struct Conn {
    addr: String,
    channel: Channel,
    stream: mpsc::Sender<pb::RaftBatch>,
    call: JoinHandle<Result<pb::RaftAck, tonic::Status>>,
}

/// Drains one peer's queue.
pub(crate) struct PeerWorker {
    id: u64,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Item>,
    conn: Option<Conn>,
    failures: u32,
    retry_at: Option<Instant>,
    /// The last failure logged at warn level; repeats are logged at debug.
    last_error: Option<String>,
}

impl PeerWorker {
    /// A worker for peer `id` reading from `rx`.
    pub(crate) fn new(id: u64, shared: Arc<Shared>, rx: mpsc::Receiver<Item>) -> Self {
        PeerWorker {
            id,
            shared,
            rx,
            conn: None,
            failures: 0,
            retry_at: None,
            last_error: None,
        }
    }

    pub(crate) async fn run(mut self) {
        let mut items = Vec::new();
        while let Some(first) = self.rx.recv().await {
            items.push(first);
            while items.len() < self.shared.cfg.max_batch_msgs {
                match self.rx.try_recv() {
                    Ok(item) => items.push(item),
                    Err(_) => break,
                }
            }
            self.deliver(&mut items).await;
        }
        tracing::debug!(peer = self.id, "raft peer queue closed");
    }

    async fn deliver(&mut self, items: &mut Vec<Item>) {
        if !self.ensure_connected().await {
            for item in items.drain(..) {
                self.shared
                    .dropped(self.id, item.msg.is_snapshot(), &item.reports);
            }
            return;
        }
        let Some(channel) = self.conn.as_ref().map(|c| c.channel.clone()) else {
            return;
        };
        let mut msgs: Vec<Bytes> = Vec::with_capacity(items.len());
        let mut bytes = 0usize;
        let mut reports = None;
        let mut failed = false;
        let mut from = 0;
        for item in items.drain(..) {
            if item.msg.is_snapshot() {
                let task =
                    snapshot::send(self.shared.clone(), channel.clone(), item.msg, item.reports);
                tokio::spawn(task);
                continue;
            }
            from = item.msg.from();
            let encoded = Bytes::from(item.msg.encode());
            bytes += encoded.len();
            msgs.push(encoded);
            reports = Some(item.reports);
            if bytes >= self.shared.cfg.max_batch_bytes && !failed {
                failed = !self.flush(from, &mut msgs, &mut bytes).await;
            }
        }
        if !msgs.is_empty() && !failed {
            failed = !self.flush(from, &mut msgs, &mut bytes).await;
        }
        // A stream found closed (the peer restarted since we last sent) kept its batch: send
        // it again on a fresh connection, since losing a vote request costs an election.
        if failed && !msgs.is_empty() && self.ensure_connected().await {
            failed = !self.flush(from, &mut msgs, &mut bytes).await;
        }
        if failed {
            let dropped = msgs.len() as u64;
            self.shared
                .counters
                .dropped
                .fetch_add(dropped, Ordering::Relaxed);
            if let Some(r) = reports {
                r.report(DeliveryReport::Unreachable(self.id));
            }
        }
    }

    /// Send the gathered messages as one batch. On failure the connection is dropped and the
    /// messages stay in `msgs` (the caller counts them as dropped).
    async fn flush(&mut self, from: u64, msgs: &mut Vec<Bytes>, bytes: &mut usize) -> bool {
        let Some(conn) = self.conn.as_ref() else {
            return false;
        };
        let cfg = &self.shared.cfg;
        let count = msgs.len() as u64;
        let batch = pb::RaftBatch {
            cluster_id: cfg.cluster_id,
            from,
            from_addr: cfg.local_addr.clone(),
            msgs: std::mem::take(msgs),
        };
        match tokio::time::timeout(cfg.send_timeout, conn.stream.send(batch)).await {
            Ok(Ok(())) => {
                self.shared
                    .counters
                    .sent
                    .fetch_add(count, Ordering::Relaxed);
                *bytes = 0;
                true
            }
            Ok(Err(mpsc::error::SendError(batch))) => {
                *msgs = batch.msgs;
                self.broken("stream closed").await;
                false
            }
            Err(_) => {
                self.broken("stream stalled").await;
                // The batch is lost inside the timed-out send; count it here.
                self.shared
                    .counters
                    .dropped
                    .fetch_add(count, Ordering::Relaxed);
                false
            }
        }
    }

    /// Make sure a live stream to the peer's current address is open. Returns `false` when the
    /// peer has no address, is in backoff, or cannot be reached.
    async fn ensure_connected(&mut self) -> bool {
        let Some(addr) = self.shared.address(self.id) else {
            self.conn = None;
            return false;
        };
        if let Some(conn) = &self.conn {
            if conn.addr != addr {
                tracing::info!(peer = self.id, old = %conn.addr, new = %addr, "raft peer moved");
                self.conn = None;
            } else if conn.call.is_finished() {
                self.broken("stream ended").await;
            } else {
                if self.last_error.take().is_some() {
                    tracing::info!(peer = self.id, addr = %addr, "raft peer reachable again");
                }
                return true;
            }
        }
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return false;
        }
        match self.connect(&addr).await {
            Ok(conn) => {
                tracing::debug!(peer = self.id, addr = %addr, "connected to raft peer");
                self.shared
                    .counters
                    .connects
                    .fetch_add(1, Ordering::Relaxed);
                self.failures = 0;
                self.retry_at = None;
                self.conn = Some(conn);
                true
            }
            Err(e) => {
                self.backoff();
                self.log_failure("raft peer unreachable", e);
                false
            }
        }
    }

    async fn connect(&self, addr: &str) -> Result<Conn, String> {
        let cfg = &self.shared.cfg;
        let channel = net::connect(addr, cfg.connect_timeout, cfg.local_address).await?;
        let mut client = pb::raft_client::RaftClient::new(channel.clone())
            .max_encoding_message_size(cfg.max_message_size);
        let (tx, rx) = mpsc::channel(8);
        let call = tokio::spawn(async move {
            client
                .stream(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
                .map(|r| r.into_inner())
        });
        Ok(Conn {
            addr: addr.to_string(),
            channel,
            stream: tx,
            call,
        })
    }

    /// The stream failed: log why, drop it, and back off before reconnecting.
    async fn broken(&mut self, what: &str) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let outcome = if conn.call.is_finished() {
            match conn.call.await {
                Ok(Ok(_)) => "closed by the peer".to_string(),
                Ok(Err(status)) => format!("{:?}: {}", status.code(), status.message()),
                Err(e) => format!("stream task failed: {e}"),
            }
        } else {
            conn.call.abort();
            what.to_string()
        };
        // The first break of a working connection reconnects at once (the peer most likely
        // restarted); repeated failures back off.
        if self.failures == 0 {
            self.failures = 1;
            self.retry_at = None;
        } else {
            self.backoff();
        }
        self.log_failure(
            "raft stream to peer broken",
            format!("{}: {outcome}", conn.addr),
        );
    }

    fn log_failure(&mut self, what: &'static str, reason: String) {
        if self.last_error.as_deref() == Some(reason.as_str()) {
            tracing::debug!(peer = self.id, failures = self.failures, reason = %reason, "{what}");
        } else {
            tracing::warn!(peer = self.id, reason = %reason, "{what}");
            self.last_error = Some(reason);
        }
    }

    fn backoff(&mut self) {
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.min(16).saturating_sub(1);
        let wait = Duration::from_millis(25)
            .saturating_mul(1u32 << exp)
            .min(self.shared.cfg.max_backoff);
        self.retry_at = Some(Instant::now() + wait);
    }
}
