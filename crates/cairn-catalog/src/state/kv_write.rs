//! KV writes with Consul's semantics (`kvsSetTxn`, CAS, locks, tombstones).
//!
//! Every write of a key moves the `kvs` table index; every delete also leaves a tombstone
//! (index of the delete) so the index of a prefix never goes backwards until the tombstone is
//! reaped. Writing an identical entry changes nothing.

use super::{Name, Tx};
use crate::error::CatalogError;
use crate::touched::Table;
use cairn_types::KvEntry;
use std::sync::Arc;

fn same_entry(a: &KvEntry, b: &KvEntry) -> bool {
    a.lock_index == b.lock_index
        && a.key == b.key
        && a.flags == b.flags
        && a.value == b.value
        && a.session == b.session
}

impl Tx {
    /// Store `entry` (Consul's `kvsSetTxn`): keeps `CreateIndex`; keeps the current lock holder
    /// unless `update_session`; skips identical writes. Returns the stored entry.
    pub fn kv_store(&mut self, mut entry: KvEntry, update_session: bool) -> Arc<KvEntry> {
        let key: Name = Arc::from(entry.key.as_str());
        let existing = self.s.kv.get(&key).cloned();
        entry.create_index = existing.as_ref().map_or(self.idx, |e| e.create_index);
        if !update_session {
            entry.session = existing
                .as_ref()
                .map(|e| e.session.clone())
                .unwrap_or_default();
        }
        if let Some(e) = &existing {
            if same_entry(e, &entry) {
                return e.clone();
            }
        }
        entry.modify_index = self.idx;
        let old_session = existing.as_ref().map(|e| e.session.as_str()).unwrap_or("");
        if old_session != entry.session {
            if !old_session.is_empty() {
                let old: Name = Arc::from(old_session);
                self.unlink_session_key(&old, &key);
            }
            if !entry.session.is_empty() {
                self.s
                    .session_keys
                    .entry(Arc::from(entry.session.as_str()))
                    .or_default()
                    .insert(key.clone());
            }
        }
        let stored = Arc::new(entry);
        self.s.kv.insert(key.clone(), stored.clone());
        self.bump_table(Table::Kv);
        self.touched.kv_keys.push(key);
        stored
    }

    fn unlink_session_key(&mut self, session: &Name, key: &Name) {
        if let Some(keys) = self.s.session_keys.get_mut(session) {
            keys.remove(key);
            if keys.is_empty() {
                self.s.session_keys.remove(session);
            }
        }
    }

    fn tombstone(&mut self, key: Name) {
        self.s.tombstones.insert(key, self.idx);
        self.s.idx.tombstones = self.s.idx.tombstones.max(self.idx);
    }

    /// Plain set. The entry's `LockIndex` is reset to 0 and the lock holder kept, as Consul's
    /// `KVSSet` does.
    pub fn kv_set(&mut self, key: String, value: Vec<u8>, flags: u64) -> Arc<KvEntry> {
        self.kv_store(
            KvEntry {
                key,
                value,
                flags,
                ..KvEntry::default()
            },
            false,
        )
    }

    /// Check-and-set: `index` 0 writes only a new key, otherwise `ModifyIndex` must match.
    pub fn kv_cas(
        &mut self,
        key: String,
        value: Vec<u8>,
        flags: u64,
        index: u64,
    ) -> Option<Arc<KvEntry>> {
        let ok = match self.s.kv.get(key.as_str()) {
            None => index == 0,
            Some(e) => index != 0 && e.modify_index == index,
        };
        ok.then(|| self.kv_set(key, value, flags))
    }

    /// Delete one key, leaving a tombstone. Deleting a missing key changes nothing.
    pub fn kv_delete(&mut self, key: &str) {
        let Some((key, existing)) = self.s.kv.remove_with_key(key) else {
            return;
        };
        if !existing.session.is_empty() {
            let session: Name = Arc::from(existing.session.as_str());
            self.unlink_session_key(&session, &key);
        }
        self.tombstone(key.clone());
        self.bump_table(Table::Kv);
        self.touched.kv_keys.push(key);
    }

    /// Delete if `ModifyIndex` equals `index`; a missing key counts as deleted (Consul).
    pub fn kv_delete_cas(&mut self, key: &str, index: u64) -> bool {
        match self.s.kv.get(key) {
            None => true,
            Some(e) if e.modify_index != index => false,
            Some(_) => {
                self.kv_delete(key);
                true
            }
        }
    }

    /// Delete every key under `prefix`: one tombstone at the prefix (none for the root).
    pub fn kv_delete_tree(&mut self, prefix: &str) {
        let doomed: Vec<(Name, String)> = {
            use std::ops::Bound;
            self.s
                .kv
                .range::<_, str>((Bound::Included(prefix), Bound::Unbounded))
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, v)| (k.clone(), v.session.clone()))
                .collect()
        };
        if doomed.is_empty() {
            return;
        }
        for (key, session) in doomed {
            self.s.kv.remove(&key);
            if !session.is_empty() {
                let session: Name = Arc::from(session.as_str());
                self.unlink_session_key(&session, &key);
            }
        }
        let prefix: Name = Arc::from(prefix);
        if !prefix.is_empty() {
            self.tombstone(prefix.clone());
        }
        self.bump_table(Table::Kv);
        self.touched.kv_trees.push(prefix);
    }

    /// Whether the lock-delay of `key` still runs at this command's `now_ms`. Expired delays
    /// are dropped on the way.
    pub fn kv_lock_delayed(&mut self, key: &str) -> bool {
        match self.s.lock_delays.get(key) {
            Some(&until) if until > self.now_ms => true,
            Some(_) => {
                self.s.lock_delays.remove(key);
                false
            }
            None => false,
        }
    }

    /// Acquire the lock on `key` for `session` (Consul's `kvsLockTxn`). `Ok(None)` when another
    /// session holds it. The lock-delay is checked by the caller.
    pub fn kv_lock(
        &mut self,
        key: String,
        value: Vec<u8>,
        flags: u64,
        session: String,
    ) -> Result<Option<Arc<KvEntry>>, CatalogError> {
        if session.is_empty() {
            return Err(CatalogError::MissingLockSession);
        }
        if !self.s.sessions.contains_key(session.as_str()) {
            return Err(CatalogError::InvalidSession(session));
        }
        let lock_index = match self.s.kv.get(key.as_str()) {
            Some(e) if e.session == session => e.lock_index,
            Some(e) if !e.session.is_empty() => return Ok(None),
            Some(e) => e.lock_index + 1,
            None => 1,
        };
        let entry = KvEntry {
            key,
            value,
            flags,
            session,
            lock_index,
            ..KvEntry::default()
        };
        Ok(Some(self.kv_store(entry, true)))
    }

    /// Release the lock on `key` held by `session` (Consul's `kvsUnlockTxn`). `Ok(None)` when
    /// the key is missing or held by someone else.
    pub fn kv_unlock(
        &mut self,
        key: String,
        value: Vec<u8>,
        flags: u64,
        session: String,
    ) -> Result<Option<Arc<KvEntry>>, CatalogError> {
        if session.is_empty() {
            return Err(CatalogError::MissingLockSession);
        }
        let lock_index = match self.s.kv.get(key.as_str()) {
            Some(e) if e.session == session => e.lock_index,
            _ => return Ok(None),
        };
        let entry = KvEntry {
            key,
            value,
            flags,
            lock_index,
            ..KvEntry::default()
        };
        Ok(Some(self.kv_store(entry, true)))
    }

    /// Drop tombstones created at or below `up_to_index`. Indexes are left alone (Consul).
    pub fn reap_tombstones(&mut self, up_to_index: u64) {
        let reaped: Vec<Name> = self
            .s
            .tombstones
            .iter()
            .filter(|(_, &i)| i <= up_to_index)
            .map(|(k, _)| k.clone())
            .collect();
        for key in reaped {
            self.s.tombstones.remove(&key);
        }
    }
}
