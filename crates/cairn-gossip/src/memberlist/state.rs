//! Membership state transitions (`state.go`): alive, suspect, dead, refutation, merging a
//! push/pull, and reaping dead members.

use std::sync::Arc;

use super::{ip_from_bytes, ip_to_bytes, Delegate, Memberlist, NodeState, NodeStatus, TimerKind};
use crate::config::suspicion_timeout;
use crate::memberlist::suspicion::Suspicion;
use crate::time::Time;
use crate::wire::messages::{Alive, Dead, PushNodeState, Suspect, WireMessage, WireState};

impl<D: Delegate> Memberlist<D> {
    fn vsn_array(v: &[u8]) -> Option<[u8; 6]> {
        (v.len() >= 6).then(|| [v[0], v[1], v[2], v[3], v[4], v[5]])
    }

    /// Handles news that a member is alive (`aliveNode`).
    pub(crate) fn alive_node(&mut self, a: Alive, bootstrap: bool, notify: Option<u64>, now: Time) {
        let is_local = a.node == *self.name;
        if self.left && is_local {
            return;
        }
        if a.vsn.len() >= 3 {
            let (pmin, pmax) = (a.vsn[0], a.vsn[1]);
            if pmin == 0 || pmax == 0 || pmin > pmax {
                tracing::warn!(node = %a.node, "ignoring alive with bad protocol versions");
                return;
            }
        }
        let Some(ip) = ip_from_bytes(&a.addr) else {
            tracing::warn!(node = %a.node, "ignoring alive with bad address");
            return;
        };
        let mut updates_node = false;
        let idx = match self.index.get(&self.nodes, a.node.as_str()) {
            None => {
                let name: Arc<str> = Arc::from(a.node.as_str());
                let state = NodeState {
                    name: name.clone(),
                    addr: ip,
                    port: a.port,
                    meta: a.meta.clone(),
                    incarnation: 0,
                    status: NodeStatus::Dead,
                    state_change: now,
                    vsn: Self::vsn_array(&a.vsn).unwrap_or([0; 6]),
                };
                // Insert at a random position so new members are probed soon on average.
                let n = self.nodes.len();
                let offset = self.rng.below(n);
                self.nodes.push(state);
                if offset == n {
                    self.index.insert_new(&self.nodes, n);
                } else {
                    self.nodes.swap(offset, n);
                    let moved = self.nodes[n].name.clone();
                    self.index.repoint(&moved, offset, n);
                    self.index.insert_new(&self.nodes, offset);
                }
                offset
            }
            Some(i) => {
                let st = &self.nodes[i];
                if st.addr != ip || st.port != a.port {
                    let can_reclaim = !self.cfg.dead_node_reclaim_time.is_zero()
                        && now.since(st.state_change) > self.cfg.dead_node_reclaim_time;
                    if st.status == NodeStatus::Left
                        || (st.status == NodeStatus::Dead && can_reclaim)
                    {
                        updates_node = true;
                    } else {
                        tracing::error!(node = %a.node, "conflicting address for node");
                        let existing = st.info();
                        let mut other = existing.clone();
                        other.addr = ip;
                        other.port = a.port;
                        other.meta = a.meta.clone();
                        self.delegate.notify_conflict(&existing, &other);
                        return;
                    }
                }
                i
            }
        };

        let cur_inc = self.nodes[idx].incarnation;
        if a.incarnation <= cur_inc && !is_local && !updates_node {
            return;
        }
        if a.incarnation < cur_inc && is_local {
            return;
        }
        self.suspicions.remove(a.node.as_str());
        let old_status = self.nodes[idx].status;
        let old_meta_changed;

        if !bootstrap && is_local {
            let st = &self.nodes[idx];
            if a.incarnation == st.incarnation && a.meta == st.meta && a.vsn == st.vsn {
                return;
            }
            tracing::warn!("refuting an alive message about ourselves");
            self.refute(idx, a.incarnation);
            old_meta_changed = false;
        } else {
            self.queue_broadcast(&a.node, a.encode(), notify);
            let st = &mut self.nodes[idx];
            if let Some(v) = Self::vsn_array(&a.vsn) {
                st.vsn = v;
            }
            st.incarnation = a.incarnation;
            old_meta_changed = st.meta != a.meta;
            st.meta = a.meta;
            st.addr = ip;
            st.port = a.port;
            if st.status != NodeStatus::Alive {
                st.status = NodeStatus::Alive;
                st.state_change = now;
            }
        }
        let info = self.nodes[idx].info();
        if matches!(old_status, NodeStatus::Dead | NodeStatus::Left) {
            self.delegate.notify_join(&info, now);
        } else if old_meta_changed {
            self.delegate.notify_update(&info, now);
        }
    }

    pub(crate) fn queue_broadcast(&mut self, node: &str, msg: Vec<u8>, notify: Option<u64>) {
        self.broadcasts.queue(msg, Some(node.to_string()), notify);
    }

    /// Gossips a fresh alive for ourselves with an incarnation beating `accused`.
    pub(crate) fn refute(&mut self, idx: usize, accused: u32) {
        self.incarnation = self.incarnation.wrapping_add(1);
        if accused >= self.incarnation {
            self.incarnation = accused.wrapping_add(1);
        }
        let inc = self.incarnation;
        self.awareness.apply(1);
        let me = &mut self.nodes[idx];
        me.incarnation = inc;
        let alive = Alive {
            incarnation: inc,
            node: me.name.to_string(),
            addr: ip_to_bytes(me.addr),
            port: me.port,
            meta: me.meta.clone(),
            vsn: me.vsn.to_vec(),
        };
        let name = me.name.clone();
        self.queue_broadcast(&name, alive.encode(), None);
    }

    /// Handles a suspicion (`suspectNode`).
    pub(crate) fn suspect_node(&mut self, s: Suspect, now: Time) {
        let Some(idx) = self.index.get(&self.nodes, s.node.as_str()) else {
            return;
        };
        if s.incarnation < self.nodes[idx].incarnation {
            return;
        }
        if let Some(susp) = self.suspicions.get_mut(s.node.as_str()) {
            if susp.confirm(&s.from) {
                let deadline = susp.deadline;
                let name = self.nodes[idx].name.clone();
                self.schedule(deadline, TimerKind::Suspicion(name));
                self.queue_broadcast(&s.node, s.encode(), None);
            }
            return;
        }
        if self.nodes[idx].status != NodeStatus::Alive {
            return;
        }
        if s.node == *self.name {
            tracing::warn!(from = %s.from, "refuting a suspect message");
            self.refute(idx, s.incarnation);
            return;
        }
        self.queue_broadcast(&s.node, s.encode(), None);
        let st = &mut self.nodes[idx];
        st.incarnation = s.incarnation;
        st.status = NodeStatus::Suspect;
        st.state_change = now;
        let name = st.name.clone();

        // Expect k confirmations, unless the cluster is too small to provide them.
        let n = self.nodes.len();
        let mut k = self.cfg.suspicion_mult.saturating_sub(2);
        if n < k + 2 {
            k = 0;
        }
        let min = suspicion_timeout(self.cfg.suspicion_mult, n, self.cfg.probe_interval);
        let max = min * self.cfg.suspicion_max_timeout_mult as u32;
        let susp = Suspicion::new(&s.from, k as u32, min, max, now);
        self.schedule(susp.deadline, TimerKind::Suspicion(name.clone()));
        self.suspicions.insert(name, susp);
    }

    pub(crate) fn suspicion_fired(&mut self, node: &Arc<str>, now: Time) {
        let Some(susp) = self.suspicions.get(node) else {
            return;
        };
        if susp.deadline > now {
            return; // a stale timer; the live one is later
        }
        let Some(idx) = self.index.get(&self.nodes, node) else {
            self.suspicions.remove(node);
            return;
        };
        let st = &self.nodes[idx];
        if st.status != NodeStatus::Suspect {
            self.suspicions.remove(node);
            return;
        }
        tracing::info!(node = %node, confirmations = susp.n, "suspect timeout reached, marking failed");
        let d = Dead {
            incarnation: st.incarnation,
            node: node.to_string(),
            from: self.name.to_string(),
        };
        self.dead_node(d, None, now);
    }

    /// Handles a death or leave (`deadNode`).
    pub(crate) fn dead_node(&mut self, d: Dead, notify: Option<u64>, now: Time) {
        let Some(idx) = self.index.get(&self.nodes, d.node.as_str()) else {
            return;
        };
        if d.incarnation < self.nodes[idx].incarnation {
            return;
        }
        self.suspicions.remove(d.node.as_str());
        if self.nodes[idx].dead_or_left() {
            return;
        }
        if d.node == *self.name {
            if !self.left {
                tracing::warn!(from = %d.from, "refuting a dead message");
                self.refute(idx, d.incarnation);
                return;
            }
            self.queue_broadcast(&d.node, d.encode(), notify);
        } else {
            self.queue_broadcast(&d.node, d.encode(), None);
        }
        let st = &mut self.nodes[idx];
        st.incarnation = d.incarnation;
        st.status = if d.node == d.from {
            NodeStatus::Left
        } else {
            NodeStatus::Dead
        };
        st.state_change = now;
        let info = st.info();
        self.delegate.notify_leave(&info, now);
    }

    /// Merges a push/pull's node list (`mergeState`).
    pub(crate) fn merge_state(&mut self, remote: Vec<PushNodeState>, now: Time) {
        for r in remote {
            match r.state {
                WireState::Alive => {
                    let a = Alive {
                        incarnation: r.incarnation,
                        node: r.name,
                        addr: r.addr,
                        port: r.port,
                        meta: r.meta,
                        vsn: r.vsn,
                    };
                    self.alive_node(a, false, None, now);
                }
                WireState::Left => {
                    let d = Dead {
                        incarnation: r.incarnation,
                        from: r.name.clone(),
                        node: r.name,
                    };
                    self.dead_node(d, None, now);
                }
                // A remote's "dead" only makes us suspect: we may know better.
                WireState::Dead | WireState::Suspect => {
                    let s = Suspect {
                        incarnation: r.incarnation,
                        node: r.name,
                        from: self.name.to_string(),
                    };
                    self.suspect_node(s, now);
                }
            }
        }
    }

    /// On probe wrap-around: forget members dead longer than the gossip-to-the-dead time, then
    /// shuffle the probe order.
    pub(crate) fn reset_nodes(&mut self, now: Time) {
        let keep_for = self.cfg.gossip_to_the_dead_time;
        self.nodes
            .retain(|n| !(n.dead_or_left() && now.since(n.state_change) > keep_for));
        let mut nodes = std::mem::take(&mut self.nodes);
        self.rng.shuffle(&mut nodes);
        self.nodes = nodes;
        self.index.rebuild(&self.nodes);
    }

    /// Gossips a new alive with fresh meta from the delegate.
    pub(crate) fn update_meta(&mut self, now: Time) {
        let Some(idx) = self.index.get(&self.nodes, &self.name) else {
            return;
        };
        self.incarnation = self.incarnation.wrapping_add(1);
        let me = &self.nodes[idx];
        let a = Alive {
            incarnation: self.incarnation,
            node: me.name.to_string(),
            addr: ip_to_bytes(me.addr),
            port: me.port,
            meta: self.delegate.node_meta(),
            vsn: self.cfg.vsn().to_vec(),
        };
        self.alive_node(a, true, None, now);
    }

    /// Leaves: gossips our own death-by-leave; `token` is reported when it has gone out.
    pub(crate) fn leave(&mut self, token: u64, now: Time) {
        if self.left {
            self.delegate.notify_broadcast_done(token, now);
            return;
        }
        self.left = true;
        let Some(idx) = self.index.get(&self.nodes, &self.name) else {
            self.delegate.notify_broadcast_done(token, now);
            return;
        };
        let d = Dead {
            incarnation: self.nodes[idx].incarnation,
            node: self.name.to_string(),
            from: self.name.to_string(),
        };
        self.dead_node(d, Some(token), now);
        let any_alive = self
            .nodes
            .iter()
            .any(|n| !n.dead_or_left() && n.name != self.name);
        if !any_alive {
            self.delegate.notify_broadcast_done(token, now);
        }
    }
}
