//! KV queries.
//!
//! Index rules (Consul's `kvs.go` and KV endpoint): a present key reports its own
//! `ModifyIndex`; a missing key reports the KV table index (writes and tombstones). A prefix
//! reports the highest `ModifyIndex` under it, tombstones included, or the table index when
//! there is nothing under it; the root prefix reports the table index.

use super::{at_least_one, CatalogView};
use cairn_types::KvEntry;

impl CatalogView {
    fn kv_table_index(&self) -> u64 {
        self.s.idx.kvs.max(self.s.idx.tombstones)
    }

    /// `GET /v1/kv/:key`.
    pub fn kv_get(&self, key: &str) -> (Option<KvEntry>, u64) {
        match self.s.kv.get(key) {
            Some(e) => (Some(KvEntry::clone(e)), at_least_one(e.modify_index)),
            None => (None, at_least_one(self.kv_table_index())),
        }
    }

    /// The index of a prefix, given the highest `ModifyIndex` of its entries.
    fn prefix_index(&self, prefix: &str, entries_max: u64) -> u64 {
        let lindex = if prefix.is_empty() {
            self.kv_table_index()
        } else {
            entries_max.max(self.s.tombstone_max_under(prefix))
        };
        at_least_one(if lindex != 0 {
            lindex
        } else {
            self.kv_table_index()
        })
    }

    /// `GET /v1/kv/:prefix?recurse`: every entry under the prefix, in key order.
    pub fn kv_list(&self, prefix: &str) -> (Vec<KvEntry>, u64) {
        let entries: Vec<KvEntry> = self.s.kv_under(prefix).map(|e| KvEntry::clone(e)).collect();
        let max = entries.iter().map(|e| e.modify_index).max().unwrap_or(0);
        (entries, self.prefix_index(prefix, max))
    }

    /// `GET /v1/kv/:prefix?keys[&separator=…]`: keys under the prefix. With a non-empty
    /// separator, each key is cut after the first separator past the prefix and duplicates
    /// are dropped (`a/b/c` under `a/` with `/` gives `a/b/`).
    pub fn kv_keys(&self, prefix: &str, separator: &str) -> (Vec<String>, u64) {
        let mut keys: Vec<String> = Vec::new();
        let mut max = 0;
        for e in self.s.kv_under(prefix) {
            max = max.max(e.modify_index);
            let key = match e.key.get(prefix.len()..).and_then(|after| {
                (!separator.is_empty())
                    .then(|| after.find(separator))
                    .flatten()
            }) {
                Some(at) => &e.key[..prefix.len() + at + separator.len()],
                None => e.key.as_str(),
            };
            // Keys come in order, so a repeated cut is always the previous one.
            if keys.last().map(String::as_str) != Some(key) {
                keys.push(key.to_string());
            }
        }
        (keys, self.prefix_index(prefix, max))
    }

    /// The index of the newest KV tombstone (0 if none was ever made), for tombstone GC.
    pub fn tombstone_index(&self) -> u64 {
        self.s.idx.tombstones
    }

    /// Number of KV tombstones currently kept.
    pub fn tombstone_count(&self) -> usize {
        self.s.tombstones.len()
    }

    /// Until when (ms since the Unix epoch) `key` cannot be acquired, if a lock-delay was set.
    pub fn kv_lock_delay(&self, key: &str) -> Option<u64> {
        self.s.lock_delays.get(key).copied()
    }
}
