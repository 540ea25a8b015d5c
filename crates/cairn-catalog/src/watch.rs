//! Watches for blocking queries: a watcher wakes only when a write can change its query's
//! result.
//!
//! Each watched scope owns one slot: a version counter and a [`Notify`]. All watchers of the
//! same scope share the slot; the registry entry goes away with the last of them. The writer
//! publishes the new state first and then bumps the slots it touched, so a watcher created
//! before a read never misses a write that the read did not see.
//!
//! Lookup cost per written key `k`: one map lookup for exact-key watchers, plus one lookup per
//! distinct registered prefix length `<= len(k)` for prefix watchers (not one per watcher).

use crate::state::{fold_name, Name};
use crate::touched::{Table, Touched};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// What a watcher waits on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WatchScope {
    /// One KV key (`GET /v1/kv/<key>`).
    KvKey(String),
    /// Every key under a prefix (`?recurse`, `?keys`); `""` is the whole KV store.
    KvPrefix(String),
    /// A service name: its instances, their nodes and all their checks (catalog and health
    /// service queries). Case-insensitive.
    Service(String),
    /// A node: its record, services and checks (`/v1/catalog/node/:n`, `/v1/health/node/:n`).
    /// Case-insensitive.
    Node(String),
    /// A whole table: any change to it.
    Table(Table),
}

/// Where a slot lives in the registry (kept in the slot for cleanup).
#[derive(Debug)]
enum SlotKey {
    Key(Name),
    Prefix(Name),
    Service(Name),
    Node(Name),
    Table,
}

#[derive(Debug)]
struct Slot {
    version: AtomicU64,
    notify: Notify,
    key: SlotKey,
}

impl Slot {
    fn new(key: SlotKey) -> Arc<Slot> {
        Arc::new(Slot {
            version: AtomicU64::new(0),
            notify: Notify::new(),
            key,
        })
    }

    fn fire(&self) {
        self.version.fetch_add(1, Ordering::Release);
        self.notify.notify_waiters();
    }
}

#[derive(Default)]
struct Registry {
    keys: BTreeMap<Name, Arc<Slot>>,
    prefixes: BTreeMap<Name, Arc<Slot>>,
    /// Registered prefix length (bytes) → number of prefixes of that length.
    prefix_lens: BTreeMap<usize, usize>,
    services: HashMap<Name, Arc<Slot>>,
    nodes: HashMap<Name, Arc<Slot>>,
}

/// The shared watch registry of one catalog.
pub(crate) struct WatchHub {
    tables: [Arc<Slot>; Table::COUNT],
    registry: Mutex<Registry>,
}

impl WatchHub {
    pub fn new() -> WatchHub {
        WatchHub {
            tables: Table::ALL.map(|_| Slot::new(SlotKey::Table)),
            registry: Mutex::new(Registry::default()),
        }
    }

    /// Register a watcher of `scope`; its baseline is the slot's current version.
    pub fn watch(self: &Arc<Self>, scope: WatchScope) -> Watcher {
        let slot = match scope {
            WatchScope::Table(t) => self.tables[t as usize].clone(),
            WatchScope::KvKey(k) => {
                let k: Name = Arc::from(k);
                let mut reg = self.registry.lock();
                reg.keys
                    .entry(k.clone())
                    .or_insert_with(|| Slot::new(SlotKey::Key(k)))
                    .clone()
            }
            WatchScope::KvPrefix(p) => {
                let p: Name = Arc::from(p);
                let mut reg = self.registry.lock();
                if let Some(slot) = reg.prefixes.get(&p) {
                    slot.clone()
                } else {
                    *reg.prefix_lens.entry(p.len()).or_insert(0) += 1;
                    let slot = Slot::new(SlotKey::Prefix(p.clone()));
                    reg.prefixes.insert(p, slot.clone());
                    slot
                }
            }
            WatchScope::Service(s) => {
                let s = fold_name(&s);
                let mut reg = self.registry.lock();
                reg.services
                    .entry(s.clone())
                    .or_insert_with(|| Slot::new(SlotKey::Service(s)))
                    .clone()
            }
            WatchScope::Node(n) => {
                let n = fold_name(&n);
                let mut reg = self.registry.lock();
                reg.nodes
                    .entry(n.clone())
                    .or_insert_with(|| Slot::new(SlotKey::Node(n)))
                    .clone()
            }
        };
        let seen = slot.version.load(Ordering::Acquire);
        Watcher {
            slot,
            seen,
            hub: self.clone(),
        }
    }

    /// Wake the watchers whose results `t` may have changed.
    pub fn fire(&self, t: &Touched) {
        for table in Table::ALL {
            if t.has_table(table) {
                self.tables[table as usize].fire();
            }
        }
        if t.kv_keys.is_empty()
            && t.kv_trees.is_empty()
            && t.services.is_empty()
            && t.nodes.is_empty()
        {
            return;
        }
        let reg = self.registry.lock();
        for key in &t.kv_keys {
            if let Some(slot) = reg.keys.get(key) {
                slot.fire();
            }
            reg.fire_prefixes_of(key, true);
        }
        for prefix in &t.kv_trees {
            let under = |m: &BTreeMap<Name, Arc<Slot>>| {
                m.range::<str, _>((Bound::Included(prefix.as_ref()), Bound::Unbounded))
                    .take_while(|(k, _)| k.starts_with(prefix.as_ref()))
                    .for_each(|(_, slot)| slot.fire());
            };
            under(&reg.keys);
            under(&reg.prefixes);
            reg.fire_prefixes_of(prefix, false);
        }
        for name in &t.services {
            if let Some(slot) = reg.services.get(name) {
                slot.fire();
            }
        }
        for name in &t.nodes {
            if let Some(slot) = reg.nodes.get(name) {
                slot.fire();
            }
        }
    }

    /// Wake every watcher (snapshot restore).
    pub fn fire_all(&self) {
        for slot in &self.tables {
            slot.fire();
        }
        let reg = self.registry.lock();
        reg.keys
            .values()
            .chain(reg.prefixes.values())
            .chain(reg.services.values())
            .chain(reg.nodes.values())
            .for_each(|slot| slot.fire());
    }

    /// Number of registered (non-table) slots, for tests and benches.
    pub fn slot_count(&self) -> usize {
        let reg = self.registry.lock();
        reg.keys.len() + reg.prefixes.len() + reg.services.len() + reg.nodes.len()
    }

    fn release(&self, slot: Arc<Slot>) {
        if matches!(slot.key, SlotKey::Table) {
            return;
        }
        let mut reg = self.registry.lock();
        // The registry's reference plus ours: we are the last watcher of this scope.
        if Arc::strong_count(&slot) == 2 {
            match &slot.key {
                SlotKey::Key(k) => {
                    reg.keys.remove(k);
                }
                SlotKey::Prefix(p) => {
                    reg.prefixes.remove(p);
                    if let Some(n) = reg.prefix_lens.get_mut(&p.len()) {
                        *n -= 1;
                        if *n == 0 {
                            reg.prefix_lens.remove(&p.len());
                        }
                    }
                }
                SlotKey::Service(s) => {
                    reg.services.remove(s);
                }
                SlotKey::Node(n) => {
                    reg.nodes.remove(n);
                }
                SlotKey::Table => {}
            }
        }
        // Drop our reference while the lock is held so a concurrent release counts right.
        drop(slot);
        drop(reg);
    }
}

impl Registry {
    /// Fire prefix watchers whose prefix is a prefix of `key` (`key` itself too if
    /// `inclusive`).
    fn fire_prefixes_of(&self, key: &str, inclusive: bool) {
        for (&len, _) in self.prefix_lens.range(..=key.len()) {
            if (!inclusive && len == key.len()) || !key.is_char_boundary(len) {
                continue;
            }
            if let Some(slot) = self.prefixes.get(&key[..len]) {
                slot.fire();
            }
        }
    }
}

/// A subscription to one [`WatchScope`]. Create it **before** running the query it guards;
/// [`Watcher::changed`] then returns as soon as a later write may have changed the result.
pub struct Watcher {
    slot: Arc<Slot>,
    seen: u64,
    hub: Arc<WatchHub>,
}

impl Watcher {
    /// Wait until the scope has changed since this watcher was created or last returned from
    /// `changed`. Cancel-safe: dropping the future loses nothing.
    pub async fn changed(&mut self) {
        loop {
            let notified = self.slot.notify.notified();
            tokio::pin!(notified);
            // Register interest before looking at the version: a write between the two
            // is then seen either by the load or by the notification.
            notified.as_mut().enable();
            let now = self.slot.version.load(Ordering::Acquire);
            if now != self.seen {
                self.seen = now;
                return;
            }
            notified.await;
        }
    }

    /// Whether the scope changed since the last [`Watcher::changed`] (or creation).
    pub fn has_changed(&self) -> bool {
        self.slot.version.load(Ordering::Acquire) != self.seen
    }

    /// Treat every change so far as seen.
    pub fn mark_seen(&mut self) {
        self.seen = self.slot.version.load(Ordering::Acquire);
    }
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watcher")
            .field("scope", &self.slot.key)
            .field("seen", &self.seen)
            .field("changed", &self.has_changed())
            .finish()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let placeholder = self.hub.tables[0].clone();
        let slot = std::mem::replace(&mut self.slot, placeholder);
        self.hub.release(slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> Arc<WatchHub> {
        Arc::new(WatchHub::new())
    }

    fn touched_key(k: &str) -> Touched {
        let mut t = Touched::default();
        t.kv_keys.push(Arc::from(k));
        t
    }

    #[test]
    fn prefix_lengths_are_counted_and_cleaned() {
        let hub = hub();
        let a = hub.watch(WatchScope::KvPrefix("ab".into()));
        let b = hub.watch(WatchScope::KvPrefix("cd".into()));
        let c = hub.watch(WatchScope::KvPrefix("x".into()));
        assert_eq!(
            hub.registry
                .lock()
                .prefix_lens
                .iter()
                .map(|(l, n)| (*l, *n))
                .collect::<Vec<_>>(),
            vec![(1, 1), (2, 2)]
        );
        drop((a, c));
        assert_eq!(
            hub.registry
                .lock()
                .prefix_lens
                .iter()
                .map(|(l, n)| (*l, *n))
                .collect::<Vec<_>>(),
            vec![(2, 1)]
        );
        drop(b);
        assert!(hub.registry.lock().prefix_lens.is_empty());
        assert_eq!(hub.slot_count(), 0);
    }

    #[test]
    fn multibyte_keys_only_match_whole_characters() {
        let hub = hub();
        // "é" is two bytes: a one-byte prefix length must not slice inside it.
        let one = hub.watch(WatchScope::KvPrefix("x".into()));
        let accent = hub.watch(WatchScope::KvPrefix("é".into()));
        hub.fire(&touched_key("éa"));
        assert!(!one.has_changed());
        assert!(accent.has_changed());
    }

    #[test]
    fn tree_fire_is_not_inclusive_of_the_prefix_itself_twice() {
        let hub = hub();
        let under = hub.watch(WatchScope::KvPrefix("a/".into()));
        let mut t = Touched::default();
        t.kv_trees.push(Arc::from("a/"));
        hub.fire(&t);
        // Fired once through the range scan, not again as a prefix of itself.
        assert_eq!(under.slot.version.load(Ordering::Acquire), 1);
    }
}
