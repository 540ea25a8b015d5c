//! Durable raft log stores.
//!
//! A [`LogStore`] keeps the raft log, the hard state and the latest snapshot. Every write the
//! raft core makes is one [`PersistBatch`], applied atomically (and synced when asked), so a crash
//! leaves either all of a `Ready` on disk or none of it.

mod mem;
#[cfg(feature = "rocksdb")]
mod rocks;

pub use mem::MemLogStore;
#[cfg(feature = "rocksdb")]
pub use rocks::RocksLogStore;

pub(crate) use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};

use crate::error::StoreError;
use std::sync::atomic::{AtomicBool, Ordering};

/// Everything one `Ready` persists, written atomically.
#[derive(Debug, Default)]
pub struct PersistBatch {
    /// A snapshot from the leader to install: replaces the log entirely.
    pub(crate) snapshot: Option<Snapshot>,
    /// Entries to append; any stored entry at or after the first one's index is replaced.
    pub(crate) entries: Vec<Entry>,
    /// The new hard state (term, vote, commit).
    pub(crate) hard_state: Option<HardState>,
    /// Whether the write must reach stable storage before returning.
    #[cfg_attr(not(feature = "rocksdb"), allow(dead_code))]
    pub(crate) sync: bool,
}

/// The stored state a node starts from.
#[derive(Debug, Default, Clone)]
pub struct InitialState {
    pub(crate) hard_state: HardState,
    pub(crate) conf_state: ConfState,
    pub(crate) snapshot: Option<Snapshot>,
}

mod sealed {
    use super::*;

    /// The raft-facing half of a log store. Sealed: implemented only in this crate, so raft-rs
    /// types never become part of the public API.
    pub trait RaftLogStore: Send + 'static {
        /// Hard state, conf state and latest snapshot as stored.
        fn initial_state(&self) -> Result<InitialState, StoreError>;
        /// Entries in `[low, high)`, at most `max_size` bytes (at least one entry).
        fn entries(&self, low: u64, high: u64, max_size: u64) -> raft::Result<Vec<Entry>>;
        /// The term of the entry at `idx`.
        fn term(&self, idx: u64) -> raft::Result<u64>;
        /// The latest stored snapshot, if any.
        fn stored_snapshot(&self) -> Option<Snapshot>;
        /// Persist one batch atomically.
        fn write(&mut self, batch: PersistBatch) -> Result<(), StoreError>;
        /// Store a snapshot created locally (the log is not touched).
        fn save_snapshot(&mut self, snapshot: Snapshot) -> Result<(), StoreError>;
        /// Drop entries up to and including `index` (which must be ≤ the stored snapshot's index).
        fn compact(&mut self, index: u64) -> Result<(), StoreError>;
    }
}

pub(crate) use sealed::RaftLogStore;

/// A durable home for one raft node's log, hard state and snapshots.
///
/// Implemented by [`MemLogStore`] (tests, `-dev`) and, with the `rocksdb` feature,
/// `RocksLogStore`.
pub trait LogStore: sealed::RaftLogStore {
    /// Index of the first entry still in the log (after compaction).
    fn first_index(&self) -> u64;
    /// Index of the last entry in the log (the snapshot index when the log is empty).
    fn last_index(&self) -> u64;
}

/// Sum of the encoded sizes of entries, the unit raft-rs limits batches by.
pub(crate) fn entry_size(e: &Entry) -> u64 {
    use protobuf::Message;
    u64::from(e.compute_size())
}

/// Take entries from `slice` (all within range) until `max_size` is reached; always at least one.
pub(crate) fn limit_entries<'a>(
    slice: impl Iterator<Item = &'a Entry>,
    max_size: u64,
) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut size = 0u64;
    for e in slice {
        size += entry_size(e);
        if !out.is_empty() && size > max_size {
            break;
        }
        out.push(e.clone());
    }
    out
}

/// Adapter giving raft-rs its `Storage` view of a [`LogStore`].
pub(crate) struct StorageAdapter<L: LogStore> {
    pub(crate) inner: L,
    /// Set when raft asked for a snapshot the store cannot serve (too old, or one that does not
    /// contain the recipient, which raft-rs would refuse); the core then takes a fresh one.
    pub(crate) snapshot_requested: AtomicBool,
}

impl<L: LogStore> StorageAdapter<L> {
    pub(crate) fn new(inner: L) -> Self {
        StorageAdapter {
            inner,
            snapshot_requested: AtomicBool::new(false),
        }
    }

    /// Take (and clear) the request for a fresh snapshot.
    pub(crate) fn take_snapshot_request(&self) -> bool {
        self.snapshot_requested.swap(false, Ordering::Relaxed)
    }
}

impl<L: LogStore> raft::Storage for StorageAdapter<L> {
    fn initial_state(&self) -> raft::Result<raft::RaftState> {
        let st = self
            .inner
            .initial_state()
            .map_err(|e| raft::Error::Store(raft::StorageError::Other(Box::new(e))))?;
        Ok(raft::RaftState::new(st.hard_state, st.conf_state))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: raft::GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let max = max_size.into().unwrap_or(u64::MAX);
        self.inner.entries(low, high, max)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.inner.term(idx)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.inner.first_index())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.inner.last_index())
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        if let Some(s) = self.inner.stored_snapshot() {
            let meta = s.get_metadata();
            let cs = meta.get_conf_state();
            let includes_recipient = cs.voters.contains(&to)
                || cs.learners.contains(&to)
                || cs.voters_outgoing.contains(&to)
                || cs.learners_next.contains(&to);
            if meta.index >= request_index && meta.index > 0 && includes_recipient {
                return Ok(s);
            }
        }
        self.snapshot_requested.store(true, Ordering::Relaxed);
        Err(raft::Error::Store(
            raft::StorageError::SnapshotTemporarilyUnavailable,
        ))
    }
}
