//! memberlist's `TransmitLimitedQueue`: broadcasts piggy-backed on outgoing packets, each sent at
//! most `retransmit_mult * ceil(log10(n + 1))` times, fewest transmissions first, and within a
//! transmit count the largest message that still fits, newest first.
//!
//! A named broadcast (memberlist's per-node alive/suspect/dead) replaces any queued broadcast of
//! the same name; unnamed ones (serf's) never invalidate each other.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};

use crate::config::retransmit_limit;

/// Ordering key: fewer transmits first, then longer messages, then newer.
type Key = (usize, Reverse<usize>, Reverse<u64>);

struct Entry {
    msg: Vec<u8>,
    name: Option<String>,
    notify: Option<u64>,
}

/// A transmit-limited broadcast queue.
#[derive(Default)]
pub struct BroadcastQueue {
    items: BTreeMap<Key, Entry>,
    by_name: HashMap<String, Key>,
    next_id: u64,
    /// Notification tokens of broadcasts that finished (sent enough times or replaced).
    finished: Vec<u64>,
}

impl BroadcastQueue {
    /// Queues a message. `name` makes it replace an older message of the same name; `notify`
    /// is reported through [`BroadcastQueue::take_finished`] once the message is done.
    pub fn queue(&mut self, msg: Vec<u8>, name: Option<String>, notify: Option<u64>) {
        if let Some(n) = &name {
            if let Some(old) = self.by_name.remove(n) {
                if let Some(e) = self.items.remove(&old) {
                    self.finish(e);
                }
            }
        }
        self.next_id += 1;
        let key = (0, Reverse(msg.len()), Reverse(self.next_id));
        if let Some(n) = &name {
            self.by_name.insert(n.clone(), key);
        }
        self.items.insert(key, Entry { msg, name, notify });
    }

    fn finish(&mut self, e: Entry) {
        if let Some(t) = e.notify {
            self.finished.push(t);
        }
    }

    /// Number of queued broadcasts.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Takes broadcasts that fit in `limit` bytes, counting `overhead` per message, for a
    /// cluster of `num_nodes`.
    pub fn get(
        &mut self,
        overhead: usize,
        limit: usize,
        num_nodes: usize,
        mult: usize,
    ) -> Vec<Vec<u8>> {
        if self.items.is_empty() {
            return Vec::new();
        }
        let transmit_limit = retransmit_limit(mult, num_nodes);
        let mut used = 0usize;
        let mut out = Vec::new();
        let mut reinsert = Vec::new();
        let (min_t, max_t) = match (self.items.keys().next(), self.items.keys().next_back()) {
            (Some(a), Some(b)) => (a.0, b.0),
            _ => return out,
        };
        let mut t = min_t;
        while t <= max_t {
            let free = limit.saturating_sub(used + overhead);
            if free == 0 {
                break;
            }
            // The first key at this transmit count whose message fits: lengths are ordered
            // descending, so start from `free`.
            let start = (t, Reverse(free), Reverse(u64::MAX));
            let end = (t + 1, Reverse(usize::MAX), Reverse(u64::MAX));
            let found = self.items.range(start..end).next().map(|(k, _)| *k);
            let Some(key) = found else {
                t += 1;
                continue;
            };
            let Some(entry) = self.items.remove(&key) else {
                break;
            };
            used += overhead + entry.msg.len();
            out.push(entry.msg.clone());
            if let Some(n) = &entry.name {
                self.by_name.remove(n);
            }
            if key.0 + 1 >= transmit_limit {
                self.finish(entry);
            } else {
                reinsert.push(((key.0 + 1, key.1, key.2), entry));
            }
        }
        for (k, e) in reinsert {
            if let Some(n) = &e.name {
                self.by_name.insert(n.clone(), k);
            }
            self.items.insert(k, e);
        }
        out
    }

    /// Drops the oldest broadcasts (most transmitted, then oldest) beyond `max_retain`.
    pub fn prune(&mut self, max_retain: usize) {
        while self.items.len() > max_retain {
            // Largest transmit count first; within it the oldest (smallest id is last in order).
            let Some(&key) = self.items.keys().next_back() else {
                break;
            };
            if let Some(e) = self.items.remove(&key) {
                if let Some(n) = &e.name {
                    self.by_name.remove(n);
                }
                self.finish(e);
            }
        }
    }

    /// Removes everything.
    pub fn reset(&mut self) {
        let items = std::mem::take(&mut self.items);
        self.by_name.clear();
        for (_, e) in items {
            self.finish(e);
        }
    }

    /// Notification tokens of broadcasts finished since the last call.
    pub fn take_finished(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retransmit_limit_and_order() {
        let mut q = BroadcastQueue::default();
        q.queue(vec![1; 10], None, Some(1));
        q.queue(vec![2; 20], None, None);
        // 1 node: limit 2 * ceil(log10(2)) = 2 transmissions each.
        let first = q.get(2, 1000, 1, 2);
        assert_eq!(first, vec![vec![2; 20], vec![1; 10]], "longest first");
        let second = q.get(2, 1000, 1, 2);
        assert_eq!(second.len(), 2);
        assert!(q.is_empty());
        assert_eq!(q.take_finished(), vec![1]);
        assert!(q.get(2, 1000, 1, 2).is_empty());
    }

    #[test]
    fn respects_byte_limit_and_prefers_fresh() {
        let mut q = BroadcastQueue::default();
        q.queue(vec![1; 50], None, None);
        q.queue(vec![2; 50], None, None);
        let got = q.get(2, 60, 10, 4);
        assert_eq!(
            got,
            vec![vec![2; 50]],
            "newest of equal size first, one fits"
        );
        let got = q.get(2, 60, 10, 4);
        assert_eq!(got, vec![vec![1; 50]], "untransmitted before retransmitted");
    }

    #[test]
    fn named_broadcasts_invalidate() {
        let mut q = BroadcastQueue::default();
        q.queue(b"suspect a".to_vec(), Some("a".into()), Some(7));
        q.queue(b"alive a".to_vec(), Some("a".into()), None);
        q.queue(b"alive b".to_vec(), Some("b".into()), None);
        assert_eq!(q.len(), 2);
        assert_eq!(q.take_finished(), vec![7]);
        let got = q.get(0, 1000, 3, 1);
        assert!(got.contains(&b"alive a".to_vec()) && got.contains(&b"alive b".to_vec()));
    }

    #[test]
    fn prune_keeps_newest() {
        let mut q = BroadcastQueue::default();
        for i in 0..10u8 {
            q.queue(vec![i], None, None);
        }
        q.prune(3);
        assert_eq!(q.len(), 3);
        let got = q.get(0, 100, 100, 10);
        assert_eq!(got, vec![vec![9], vec![8], vec![7]]);
    }
}
