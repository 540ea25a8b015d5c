//! A RocksDB log store: every `Ready` is one synced `WriteBatch`.
//!
//! Layout, one database per node:
//! - CF `raft_log`: big-endian index → encoded `Entry`;
//! - CF `raft_meta`: `hard_state`, `compact` (index and term of the last compacted entry);
//! - CF `snapshot`: `latest` → the latest snapshot (metadata with conf state, and data).
//!
//! Recent entries are cached in memory because raft-rs reads the log synchronously and often.

use super::{
    entry_size, limit_entries, Entry, HardState, InitialState, LogStore, PersistBatch,
    RaftLogStore, Snapshot,
};
use crate::error::StoreError;
use protobuf::Message as _;
use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, WriteBatch, WriteOptions, DB};
use std::collections::VecDeque;
use std::path::Path;

const CF_LOG: &str = "raft_log";
const CF_META: &str = "raft_meta";
const CF_SNAPSHOT: &str = "snapshot";
const KEY_HARD_STATE: &[u8] = b"hard_state";
const KEY_COMPACT: &[u8] = b"compact";
const KEY_SNAPSHOT: &[u8] = b"latest";
/// Bytes of recent entries kept in memory.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

fn io(e: rocksdb::Error) -> StoreError {
    StoreError::Io(e.to_string())
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// A durable raft log in RocksDB.
pub struct RocksLogStore {
    db: DB,
    hard_state: HardState,
    snapshot: Option<Snapshot>,
    compact_index: u64,
    compact_term: u64,
    last_index: u64,
    /// Entries `cache_start ..= last_index`, newest kept.
    cache: VecDeque<Entry>,
    cache_bytes: u64,
}

impl RocksLogStore {
    /// Open (or create) the store in directory `path`. A store that cannot be decoded is
    /// reported as corrupt, never silently reset.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_keep_log_file_num(4);
        opts.set_max_total_wal_size(256 * 1024 * 1024);
        let cfs = [CF_LOG, CF_META, CF_SNAPSHOT]
            .into_iter()
            .map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
        let db = DB::open_cf_descriptors(&opts, path.as_ref(), cfs).map_err(io)?;
        let mut store = RocksLogStore {
            db,
            hard_state: HardState::default(),
            snapshot: None,
            compact_index: 0,
            compact_term: 0,
            last_index: 0,
            cache: VecDeque::new(),
            cache_bytes: 0,
        };
        store.load()?;
        Ok(store)
    }

    fn load(&mut self) -> Result<(), StoreError> {
        let meta = cf(&self.db, CF_META)?;
        if let Some(b) = self.db.get_cf(meta, KEY_HARD_STATE).map_err(io)? {
            self.hard_state =
                HardState::parse_from_bytes(&b).map_err(|e| corrupt("hard state", e))?;
        }
        if let Some(b) = self.db.get_cf(meta, KEY_COMPACT).map_err(io)? {
            if b.len() != 16 {
                return Err(StoreError::Corrupt(
                    "compact marker has wrong length".into(),
                ));
            }
            self.compact_index = u64::from_be_bytes(b[..8].try_into().unwrap_or_default());
            self.compact_term = u64::from_be_bytes(b[8..].try_into().unwrap_or_default());
        }
        let snap_cf = cf(&self.db, CF_SNAPSHOT)?;
        if let Some(b) = self.db.get_cf(snap_cf, KEY_SNAPSHOT).map_err(io)? {
            self.snapshot =
                Some(Snapshot::parse_from_bytes(&b).map_err(|e| corrupt("snapshot", e))?);
        }
        let log = cf(&self.db, CF_LOG)?;
        let mut it = self.db.iterator_cf(log, IteratorMode::End);
        self.last_index = match it.next() {
            Some(Ok((k, _))) => decode_index(&k)?,
            Some(Err(e)) => return Err(io(e)),
            None => self.compact_index,
        };
        if self.last_index < self.compact_index {
            return Err(StoreError::Corrupt(format!(
                "last log index {} below compacted index {}",
                self.last_index, self.compact_index
            )));
        }
        Ok(())
    }

    fn cache_start(&self) -> u64 {
        self.last_index + 1 - self.cache.len() as u64
    }

    fn read_entry(&self, idx: u64) -> Result<Entry, StoreError> {
        if idx >= self.cache_start() && idx <= self.last_index {
            return Ok(self.cache[(idx - self.cache_start()) as usize].clone());
        }
        let log = cf(&self.db, CF_LOG)?;
        let bytes = self
            .db
            .get_cf(log, idx.to_be_bytes())
            .map_err(io)?
            .ok_or_else(|| StoreError::Corrupt(format!("log entry {idx} missing")))?;
        Entry::parse_from_bytes(&bytes).map_err(|e| corrupt("log entry", e))
    }

    fn push_cache(&mut self, e: Entry) {
        self.cache_bytes += entry_size(&e);
        self.cache.push_back(e);
        while self.cache_bytes > CACHE_BYTES && self.cache.len() > 1 {
            if let Some(old) = self.cache.pop_front() {
                self.cache_bytes -= entry_size(&old);
            }
        }
    }

    fn truncate_cache_from(&mut self, idx: u64) {
        while self.cache.back().is_some_and(|e| e.index >= idx) {
            if let Some(e) = self.cache.pop_back() {
                self.cache_bytes -= entry_size(&e);
            }
        }
        if self.cache.front().is_some_and(|e| e.index >= idx) {
            self.cache.clear();
            self.cache_bytes = 0;
        }
    }

    fn write_opts(sync: bool) -> WriteOptions {
        let mut w = WriteOptions::default();
        w.set_sync(sync);
        w
    }
}

fn cf<'a>(db: &'a DB, name: &str) -> Result<&'a rocksdb::ColumnFamily, StoreError> {
    db.cf_handle(name)
        .ok_or_else(|| StoreError::Corrupt(format!("missing column family {name}")))
}

fn decode_index(key: &[u8]) -> Result<u64, StoreError> {
    let arr: [u8; 8] = key
        .try_into()
        .map_err(|_| StoreError::Corrupt("log key is not 8 bytes".into()))?;
    Ok(u64::from_be_bytes(arr))
}

fn compact_marker(index: u64, term: u64) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[..8].copy_from_slice(&index.to_be_bytes());
    m[8..].copy_from_slice(&term.to_be_bytes());
    m
}

fn encode<M: protobuf::Message>(m: &M) -> Result<Vec<u8>, StoreError> {
    m.write_to_bytes()
        .map_err(|e| StoreError::Io(e.to_string()))
}

impl RaftLogStore for RocksLogStore {
    fn initial_state(&self) -> Result<InitialState, StoreError> {
        Ok(InitialState {
            hard_state: self.hard_state.clone(),
            conf_state: self
                .snapshot
                .as_ref()
                .map(|s| s.get_metadata().get_conf_state().clone())
                .unwrap_or_default(),
            snapshot: self.snapshot.clone(),
        })
    }

    fn entries(&self, low: u64, high: u64, max_size: u64) -> raft::Result<Vec<Entry>> {
        if low <= self.compact_index {
            return Err(raft::Error::Store(raft::StorageError::Compacted));
        }
        if high > self.last_index + 1 {
            return Err(raft::Error::Store(raft::StorageError::Unavailable));
        }
        let start = self.cache_start();
        if low >= start {
            let from = (low - start) as usize;
            let to = (high - start) as usize;
            return Ok(limit_entries(self.cache.range(from..to), max_size));
        }
        let mut out = Vec::new();
        let mut size = 0u64;
        for idx in low..high {
            let e = self
                .read_entry(idx)
                .map_err(|e| raft::Error::Store(raft::StorageError::Other(Box::new(e))))?;
            size += entry_size(&e);
            if !out.is_empty() && size > max_size {
                break;
            }
            out.push(e);
        }
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.compact_index {
            return Ok(self.compact_term);
        }
        if idx < self.compact_index {
            return Err(raft::Error::Store(raft::StorageError::Compacted));
        }
        if idx > self.last_index {
            return Err(raft::Error::Store(raft::StorageError::Unavailable));
        }
        self.read_entry(idx)
            .map(|e| e.term)
            .map_err(|e| raft::Error::Store(raft::StorageError::Other(Box::new(e))))
    }

    fn stored_snapshot(&self) -> Option<Snapshot> {
        self.snapshot.clone()
    }

    fn write(&mut self, batch: PersistBatch) -> Result<(), StoreError> {
        let log = cf(&self.db, CF_LOG)?;
        let meta = cf(&self.db, CF_META)?;
        let snap_cf = cf(&self.db, CF_SNAPSHOT)?;
        let mut wb = WriteBatch::default();
        let (mut compact_index, mut compact_term, mut last_index) =
            (self.compact_index, self.compact_term, self.last_index);
        if let Some(snap) = &batch.snapshot {
            let m = snap.get_metadata();
            wb.put_cf(snap_cf, KEY_SNAPSHOT, encode(snap)?);
            wb.delete_range_cf(log, 0u64.to_be_bytes(), u64::MAX.to_be_bytes());
            compact_index = m.index;
            compact_term = m.term;
            last_index = m.index;
            wb.put_cf(
                meta,
                KEY_COMPACT,
                compact_marker(compact_index, compact_term),
            );
        }
        if let Some(first) = batch.entries.first().map(|e| e.index) {
            if first > last_index + 1 || first <= compact_index {
                return Err(StoreError::Corrupt(format!(
                    "append at {first} does not follow log ({compact_index}, {last_index}]"
                )));
            }
            if first <= last_index {
                wb.delete_range_cf(log, first.to_be_bytes(), (last_index + 1).to_be_bytes());
            }
            for e in &batch.entries {
                wb.put_cf(log, e.index.to_be_bytes(), encode(e)?);
            }
            last_index = batch.entries.last().map_or(last_index, |e| e.index);
        }
        if let Some(hs) = &batch.hard_state {
            wb.put_cf(meta, KEY_HARD_STATE, encode(hs)?);
        }
        self.db
            .write_opt(wb, &Self::write_opts(batch.sync))
            .map_err(io)?;
        // Durable: now mirror it in memory.
        if let Some(snap) = batch.snapshot {
            self.cache.clear();
            self.cache_bytes = 0;
            self.snapshot = Some(snap);
        }
        if let Some(first) = batch.entries.first().map(|e| e.index) {
            self.truncate_cache_from(first);
            if self.cache.is_empty() || self.cache.back().map(|e| e.index + 1) != Some(first) {
                self.cache.clear();
                self.cache_bytes = 0;
            }
            for e in batch.entries {
                self.push_cache(e);
            }
        }
        self.compact_index = compact_index;
        self.compact_term = compact_term;
        self.last_index = last_index;
        if let Some(hs) = batch.hard_state {
            self.hard_state = hs;
        }
        Ok(())
    }

    fn save_snapshot(&mut self, snapshot: Snapshot) -> Result<(), StoreError> {
        let snap_cf = cf(&self.db, CF_SNAPSHOT)?;
        let mut wb = WriteBatch::default();
        wb.put_cf(snap_cf, KEY_SNAPSHOT, encode(&snapshot)?);
        self.db.write_opt(wb, &Self::write_opts(true)).map_err(io)?;
        self.snapshot = Some(snapshot);
        Ok(())
    }

    fn compact(&mut self, index: u64) -> Result<(), StoreError> {
        if index <= self.compact_index {
            return Ok(());
        }
        let snap_index = self.snapshot.as_ref().map_or(0, |s| s.get_metadata().index);
        if index > snap_index || index > self.last_index {
            return Err(StoreError::Corrupt(format!(
                "compact to {index} beyond snapshot {snap_index} or last {}",
                self.last_index
            )));
        }
        let term = self.read_entry(index)?.term;
        let log = cf(&self.db, CF_LOG)?;
        let meta = cf(&self.db, CF_META)?;
        let mut wb = WriteBatch::default();
        wb.delete_range_cf(log, 0u64.to_be_bytes(), (index + 1).to_be_bytes());
        wb.put_cf(meta, KEY_COMPACT, compact_marker(index, term));
        self.db
            .write_opt(wb, &Self::write_opts(false))
            .map_err(io)?;
        self.compact_index = index;
        self.compact_term = term;
        while self.cache.front().is_some_and(|e| e.index <= index) {
            if let Some(e) = self.cache.pop_front() {
                self.cache_bytes -= entry_size(&e);
            }
        }
        Ok(())
    }
}

impl LogStore for RocksLogStore {
    fn first_index(&self) -> u64 {
        self.compact_index + 1
    }

    fn last_index(&self) -> u64 {
        self.last_index
    }
}
