//! An in-memory log store for tests, simulation and `-dev` agents.

use super::{
    limit_entries, ConfState, Entry, HardState, InitialState, LogStore, PersistBatch, RaftLogStore,
    Snapshot,
};
use crate::error::StoreError;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;

#[derive(Default)]
struct MemInner {
    hard_state: HardState,
    conf_state: ConfState,
    snapshot: Option<Snapshot>,
    /// Index and term of the last entry dropped by compaction (or installed by snapshot).
    compact_index: u64,
    compact_term: u64,
    /// Entries `compact_index + 1 ..= last`.
    entries: VecDeque<Entry>,
    fail_writes: bool,
    writes: u64,
}

impl MemInner {
    fn last_index(&self) -> u64 {
        self.compact_index + self.entries.len() as u64
    }

    fn install_snapshot(&mut self, snap: Snapshot) {
        let meta = snap.get_metadata();
        self.compact_index = meta.index;
        self.compact_term = meta.term;
        self.conf_state = meta.get_conf_state().clone();
        self.entries.clear();
        self.snapshot = Some(snap);
    }

    fn append(&mut self, entries: Vec<Entry>) -> Result<(), StoreError> {
        let Some(first) = entries.first().map(|e| e.index) else {
            return Ok(());
        };
        if first > self.last_index() + 1 {
            return Err(StoreError::Corrupt(format!(
                "append at {first} leaves a gap after {}",
                self.last_index()
            )));
        }
        for e in entries {
            if e.index <= self.compact_index {
                continue;
            }
            let keep = (e.index - self.compact_index - 1) as usize;
            self.entries.truncate(keep);
            self.entries.push_back(e);
        }
        Ok(())
    }
}

/// A log store held in memory. Cloning yields another handle to the same store, so a test can
/// drop a node ("crash") and start a new one on the state it had persisted.
#[derive(Clone, Default)]
pub struct MemLogStore {
    inner: Arc<Mutex<MemInner>>,
}

impl MemLogStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Make every later write fail (to test that a node stops instead of advancing).
    pub fn set_fail_writes(&self, fail: bool) {
        self.inner.lock().fail_writes = fail;
    }

    /// How many batches were written (a proxy for fsyncs).
    pub fn write_count(&self) -> u64 {
        self.inner.lock().writes
    }
}

impl RaftLogStore for MemLogStore {
    fn initial_state(&self) -> Result<InitialState, StoreError> {
        let g = self.inner.lock();
        Ok(InitialState {
            hard_state: g.hard_state.clone(),
            conf_state: g.conf_state.clone(),
            snapshot: g.snapshot.clone(),
        })
    }

    fn entries(&self, low: u64, high: u64, max_size: u64) -> raft::Result<Vec<Entry>> {
        let g = self.inner.lock();
        if low <= g.compact_index {
            return Err(raft::Error::Store(raft::StorageError::Compacted));
        }
        if high > g.last_index() + 1 {
            return Err(raft::Error::Store(raft::StorageError::Unavailable));
        }
        let from = (low - g.compact_index - 1) as usize;
        let to = (high - g.compact_index - 1) as usize;
        Ok(limit_entries(g.entries.range(from..to), max_size))
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        let g = self.inner.lock();
        if idx == g.compact_index {
            return Ok(g.compact_term);
        }
        if idx < g.compact_index {
            return Err(raft::Error::Store(raft::StorageError::Compacted));
        }
        if idx > g.last_index() {
            return Err(raft::Error::Store(raft::StorageError::Unavailable));
        }
        Ok(g.entries[(idx - g.compact_index - 1) as usize].term)
    }

    fn stored_snapshot(&self) -> Option<Snapshot> {
        self.inner.lock().snapshot.clone()
    }

    fn write(&mut self, batch: PersistBatch) -> Result<(), StoreError> {
        let mut g = self.inner.lock();
        if g.fail_writes {
            return Err(StoreError::Io("injected write failure".into()));
        }
        // Validate before mutating so a refused batch leaves the store untouched.
        if let (None, Some(first)) = (&batch.snapshot, batch.entries.first()) {
            if first.index > g.last_index() + 1 {
                return Err(StoreError::Corrupt(format!(
                    "append at {} leaves a gap after {}",
                    first.index,
                    g.last_index()
                )));
            }
        }
        if let Some(snap) = batch.snapshot {
            g.install_snapshot(snap);
        }
        g.append(batch.entries)?;
        if let Some(hs) = batch.hard_state {
            g.hard_state = hs;
        }
        g.writes += 1;
        Ok(())
    }

    fn save_snapshot(&mut self, snapshot: Snapshot) -> Result<(), StoreError> {
        let mut g = self.inner.lock();
        if g.fail_writes {
            return Err(StoreError::Io("injected write failure".into()));
        }
        g.conf_state = snapshot.get_metadata().get_conf_state().clone();
        g.snapshot = Some(snapshot);
        g.writes += 1;
        Ok(())
    }

    fn compact(&mut self, index: u64) -> Result<(), StoreError> {
        let mut g = self.inner.lock();
        let snap_index = g.snapshot.as_ref().map_or(0, |s| s.get_metadata().index);
        if index <= g.compact_index {
            return Ok(());
        }
        if index > snap_index || index > g.last_index() {
            return Err(StoreError::Corrupt(format!(
                "compact to {index} beyond snapshot {snap_index} or last {}",
                g.last_index()
            )));
        }
        let drop = (index - g.compact_index) as usize;
        let term = g.entries[drop - 1].term;
        g.entries.drain(..drop);
        g.compact_index = index;
        g.compact_term = term;
        Ok(())
    }
}

impl LogStore for MemLogStore {
    fn first_index(&self) -> u64 {
        self.inner.lock().compact_index + 1
    }

    fn last_index(&self) -> u64 {
        self.inner.lock().last_index()
    }
}
