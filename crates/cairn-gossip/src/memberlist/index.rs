//! A compact name → position index over the member table.
//!
//! Every node keeps every member, so a simulation of N nodes holds N² index entries. A
//! `HashMap<Arc<str>, usize>` costs about 40 bytes per entry; this open-addressing table stores
//! only a 4-byte position per slot and compares names through the member table itself.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use super::NodeState;

/// Open addressing with linear probing; a slot holds `position + 1`, zero when empty.
/// There is no removal: the table is rebuilt whenever the member table is compacted.
pub(crate) struct NameIndex {
    slots: Vec<u32>,
    len: usize,
    hasher: RandomState,
}

impl Default for NameIndex {
    fn default() -> Self {
        NameIndex {
            slots: Vec::new(),
            len: 0,
            hasher: RandomState::new(),
        }
    }
}

impl NameIndex {
    fn home(&self, name: &str) -> usize {
        (self.hasher.hash_one(name) as usize) & (self.slots.len() - 1)
    }

    /// Position of `name` in `nodes`.
    pub fn get(&self, nodes: &[NodeState], name: &str) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(name);
        loop {
            let s = self.slots[i];
            if s == 0 {
                return None;
            }
            let pos = (s - 1) as usize;
            if nodes.get(pos).is_some_and(|n| &*n.name == name) {
                return Some(pos);
            }
            i = (i + 1) & mask;
        }
    }

    /// Makes room for `additional` more entries.
    pub fn reserve(&mut self, nodes: &[NodeState], additional: usize) {
        let want = self.len + additional;
        // Keep the load at most 3/4.
        if want * 4 > self.slots.len() * 3 {
            let cap = (want * 4 / 3 + 1).next_power_of_two().max(8);
            self.resize(nodes, cap);
        }
    }

    fn resize(&mut self, nodes: &[NodeState], cap: usize) {
        let old = std::mem::replace(&mut self.slots, vec![0; cap]);
        self.len = 0;
        for s in old.into_iter().filter(|&s| s != 0) {
            let pos = (s - 1) as usize;
            if let Some(n) = nodes.get(pos) {
                self.place(&n.name, pos);
            }
        }
    }

    fn place(&mut self, name: &str, pos: usize) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(name);
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = pos as u32 + 1;
        self.len += 1;
    }

    /// Indexes `nodes[pos]`, whose name must not be indexed yet.
    pub fn insert_new(&mut self, nodes: &[NodeState], pos: usize) {
        self.reserve(nodes, 1);
        if let Some(n) = nodes.get(pos) {
            self.place(&n.name, pos);
        }
    }

    /// The member called `name` moved from position `from` to `to`.
    pub fn repoint(&mut self, name: &str, from: usize, to: usize) {
        if self.slots.is_empty() {
            return;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(name);
        for _ in 0..self.slots.len() {
            match self.slots[i] {
                0 => return,
                s if (s - 1) as usize == from => {
                    self.slots[i] = to as u32 + 1;
                    return;
                }
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Re-indexes every member (after the table was compacted or reordered).
    pub fn rebuild(&mut self, nodes: &[NodeState]) {
        self.slots.iter_mut().for_each(|s| *s = 0);
        self.len = 0;
        self.reserve(nodes, nodes.len());
        for (pos, n) in nodes.iter().enumerate() {
            self.place(&n.name, pos);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;

    use super::*;
    use crate::memberlist::NodeStatus;
    use crate::rng::Rng;
    use crate::time::Time;

    fn node(name: &str) -> NodeState {
        NodeState {
            name: Arc::from(name),
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 1,
            meta: Vec::new(),
            incarnation: 1,
            status: NodeStatus::Alive,
            state_change: Time::ZERO,
            vsn: [0; 6],
        }
    }

    fn check(ix: &NameIndex, nodes: &[NodeState]) {
        for (i, n) in nodes.iter().enumerate() {
            assert_eq!(ix.get(nodes, &n.name), Some(i), "{}", n.name);
        }
        assert_eq!(ix.get(nodes, "absent"), None);
    }

    #[test]
    fn random_insertion_with_swaps_and_rebuilds_stays_consistent() {
        let mut rng = Rng::new(7);
        let mut nodes: Vec<NodeState> = Vec::new();
        let mut ix = NameIndex::default();
        for k in 0..3000 {
            // What `alive_node` does for a new member: push, swap into a random slot.
            let n = nodes.len();
            let offset = rng.below(n);
            nodes.push(node(&format!("m{k}")));
            if offset == n {
                ix.insert_new(&nodes, n);
            } else {
                nodes.swap(offset, n);
                let moved = nodes[n].name.clone();
                ix.repoint(&moved, offset, n);
                ix.insert_new(&nodes, offset);
            }
            if k % 500 == 499 {
                check(&ix, &nodes);
                rng.shuffle(&mut nodes);
                nodes.truncate(nodes.len() - 7);
                ix.rebuild(&nodes);
            }
        }
        check(&ix, &nodes);
    }
}
