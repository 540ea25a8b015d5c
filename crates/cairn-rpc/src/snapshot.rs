//! Snapshot messages cut into chunks by the sender and put back together by the receiver.

use crate::pb;
use crate::transport::Shared;
use bytes::Bytes;
use cairn_consensus::{DeliveryReport, RaftMessage, ReportSink};
use std::sync::Arc;
use tonic::transport::Channel;

/// Stream one snapshot message to its recipient and report the outcome to raft.
pub(crate) async fn send(
    shared: Arc<Shared>,
    channel: Channel,
    msg: RaftMessage,
    reports: ReportSink,
) {
    let to = msg.to();
    let cfg = shared.config();
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(cfg.snapshot_timeout, stream(&shared, channel, &msg)).await;
    let ok = match outcome {
        Ok(Ok(bytes)) => {
            tracing::info!(peer = to, bytes, elapsed = ?started.elapsed(), "raft snapshot sent");
            true
        }
        Ok(Err(e)) => {
            tracing::warn!(peer = to, error = %e, "raft snapshot send failed");
            false
        }
        Err(_) => {
            tracing::warn!(peer = to, timeout = ?cfg.snapshot_timeout, "raft snapshot send timed out");
            false
        }
    };
    shared.snapshot_done(ok);
    reports.report(DeliveryReport::Snapshot(to, ok));
    if !ok {
        reports.report(DeliveryReport::Unreachable(to));
    }
}

async fn stream(shared: &Shared, channel: Channel, msg: &RaftMessage) -> Result<usize, String> {
    let cfg = shared.config();
    let data = Bytes::from(msg.encode());
    let len = data.len();
    let pieces = chunks(
        cfg.cluster_id,
        msg.from(),
        &cfg.local_addr,
        data,
        cfg.snapshot_chunk_size,
    );
    let mut client =
        pb::raft_client::RaftClient::new(channel).max_encoding_message_size(cfg.max_message_size);
    client
        .snapshot(futures::stream::iter(pieces))
        .await
        .map_err(|s| format!("{:?}: {}", s.code(), s.message()))?;
    Ok(len)
}

/// Cut an encoded snapshot message into pieces of at most `size` bytes (at least one piece).
pub(crate) fn chunks(
    cluster_id: u64,
    from: u64,
    from_addr: &str,
    data: Bytes,
    size: usize,
) -> Vec<pb::SnapshotChunk> {
    let size = size.max(1);
    let total = data.len();
    let mut out = Vec::with_capacity(total / size + 1);
    let mut offset = 0;
    loop {
        let end = (offset + size).min(total);
        out.push(pb::SnapshotChunk {
            cluster_id,
            from,
            from_addr: if offset == 0 {
                from_addr.to_string()
            } else {
                String::new()
            },
            total_len: total as u64,
            offset: offset as u64,
            data: data.slice(offset..end),
        });
        offset = end;
        if offset >= total {
            return out;
        }
    }
}

/// Puts a snapshot message back together from its chunks, checking every step.
pub(crate) struct Assembler {
    cluster_id: u64,
    max_len: u64,
    total: Option<u64>,
    from: u64,
    from_addr: String,
    buf: Vec<u8>,
}

/// Preallocate at most this much on the word of the first chunk.
const MAX_PREALLOC: u64 = 64 * 1024 * 1024;

/// A reassembled snapshot message and who sent it.
pub(crate) struct Assembled {
    pub(crate) msg: RaftMessage,
    pub(crate) from: u64,
    pub(crate) from_addr: String,
}

/// Why a snapshot stream was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AssembleError {
    /// The sender belongs to another cluster.
    WrongCluster(u64),
    /// The chunks do not make up a valid message.
    Invalid(String),
}

impl Assembler {
    pub(crate) fn new(cluster_id: u64, max_len: u64) -> Self {
        Assembler {
            cluster_id,
            max_len,
            total: None,
            from: 0,
            from_addr: String::new(),
            buf: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, chunk: pb::SnapshotChunk) -> Result<(), AssembleError> {
        if chunk.cluster_id != self.cluster_id {
            return Err(AssembleError::WrongCluster(chunk.cluster_id));
        }
        let total = match self.total {
            None => {
                if chunk.total_len > self.max_len {
                    return Err(AssembleError::Invalid(format!(
                        "snapshot of {} bytes exceeds the limit of {} bytes",
                        chunk.total_len, self.max_len
                    )));
                }
                self.total = Some(chunk.total_len);
                self.from = chunk.from;
                self.from_addr = chunk.from_addr;
                let prealloc = chunk.total_len.min(MAX_PREALLOC);
                self.buf = Vec::with_capacity(usize::try_from(prealloc).unwrap_or(0));
                chunk.total_len
            }
            Some(t) => t,
        };
        if chunk.total_len != total || chunk.from != self.from {
            return Err(AssembleError::Invalid(
                "snapshot chunk header changed mid-stream".into(),
            ));
        }
        if chunk.offset != self.buf.len() as u64 {
            return Err(AssembleError::Invalid(format!(
                "snapshot chunk at offset {} where {} was expected",
                chunk.offset,
                self.buf.len()
            )));
        }
        if self.buf.len() as u64 + chunk.data.len() as u64 > total {
            return Err(AssembleError::Invalid(
                "snapshot chunks exceed the announced length".into(),
            ));
        }
        self.buf.extend_from_slice(&chunk.data);
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<Assembled, AssembleError> {
        let Some(total) = self.total else {
            return Err(AssembleError::Invalid("empty snapshot stream".into()));
        };
        if self.buf.len() as u64 != total {
            return Err(AssembleError::Invalid(format!(
                "snapshot stream ended after {} of {total} bytes",
                self.buf.len()
            )));
        }
        let msg =
            RaftMessage::decode(&self.buf).map_err(|e| AssembleError::Invalid(e.to_string()))?;
        if !msg.is_snapshot() {
            return Err(AssembleError::Invalid(
                "snapshot stream carried a non-snapshot message".into(),
            ));
        }
        Ok(Assembled {
            msg,
            from: self.from,
            from_addr: self.from_addr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assemble(pieces: Vec<pb::SnapshotChunk>, max: u64) -> Result<Vec<u8>, AssembleError> {
        let mut a = Assembler::new(7, max);
        for p in pieces {
            a.push(p)?;
        }
        Ok(a.buf)
    }

    #[test]
    fn chunks_cover_the_data_exactly() {
        let data = Bytes::from((0..10_000u32).map(|i| i as u8).collect::<Vec<_>>());
        for size in [1, 999, 1000, 4096, 10_000, 1 << 20] {
            let pieces = chunks(7, 1, "a:1", data.clone(), size);
            assert_eq!(pieces.len(), 10_000usize.div_ceil(size));
            assert!(pieces.iter().all(|p| p.data.len() <= size));
            assert_eq!(assemble(pieces, 1 << 30).unwrap(), data.to_vec());
        }
        assert_eq!(chunks(7, 1, "", Bytes::new(), 10).len(), 1);
    }

    #[test]
    fn bad_streams_are_refused() {
        let data = Bytes::from(vec![1u8; 100]);
        let pieces = chunks(7, 1, "a:1", data.clone(), 30);
        // Wrong cluster.
        let mut a = Assembler::new(8, 1000);
        assert_eq!(
            a.push(pieces[0].clone()),
            Err(AssembleError::WrongCluster(7))
        );
        // Too large.
        assert!(assemble(pieces.clone(), 99).is_err());
        // A gap.
        let mut gap = pieces.clone();
        gap.remove(1);
        assert!(assemble(gap, 1000).is_err());
        // Truncated, then garbage that is not a raft message.
        let mut a = Assembler::new(7, 1000);
        a.push(pieces[0].clone()).unwrap();
        assert!(a.finish().is_err());
        let mut a = Assembler::new(7, 1000);
        for p in pieces {
            a.push(p).unwrap();
        }
        assert!(a.finish().is_err());
        assert!(Assembler::new(7, 1000).finish().is_err());
    }
}
