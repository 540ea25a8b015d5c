//! Member statuses (`serf.go`): memberlist join/leave/update notifications, join and leave
//! intents ordered by the Lamport clock, push/pull merging, reaping, reconnecting, and our own
//! graceful leave.

use std::net::SocketAddr;

use super::messages::{decode_tags, JoinMsg, LeaveMsg, PushPullMsg, SerfMessage};
use super::{
    Intent, IntentKind, MemberState, Serf, SerfState, SerfTimer, LEAVE_INTENT_TOKEN, LEAVE_ML_TOKEN,
};
use crate::event::{Event, Member, MemberStatus};
use crate::memberlist::{DelegateAction, NodeInfo};
use crate::output::Output;
use crate::serf::messages::LamportTime;
use crate::time::Time;

fn member_from(node: &NodeInfo, status: MemberStatus) -> Member {
    Member {
        name: node.name.clone(),
        addr: node.addr,
        port: node.port,
        tags: decode_tags(&node.meta),
        status,
        incarnation: node.incarnation,
        protocol_min: node.vsn[0],
        protocol_max: node.vsn[1],
        protocol_cur: node.vsn[2],
        delegate_min: node.vsn[3],
        delegate_max: node.vsn[4],
        delegate_cur: node.vsn[5],
    }
}

impl Serf {
    fn recent_intent(&self, node: &str, kind: IntentKind) -> Option<LamportTime> {
        self.intents
            .get(node)
            .filter(|i| i.kind == kind)
            .map(|i| i.ltime)
    }

    fn upsert_intent(
        &mut self,
        node: &str,
        kind: IntentKind,
        ltime: LamportTime,
        now: Time,
    ) -> bool {
        match self.intents.get(node) {
            Some(i) if ltime <= i.ltime => false,
            _ => {
                self.intents.insert(
                    node.to_string(),
                    Intent {
                        kind,
                        wall: now,
                        ltime,
                    },
                );
                true
            }
        }
    }

    pub(crate) fn handle_node_join(&mut self, node: &NodeInfo, _now: Time) {
        let old_status;
        if let Some(m) = self.members.get_mut(&node.name) {
            old_status = m.member.status;
            let status_ltime = m.status_ltime;
            let mut fresh = member_from(node, MemberStatus::Alive);
            fresh.status = MemberStatus::Alive;
            m.member = fresh;
            m.status_ltime = status_ltime;
            m.leave_time = Time::ZERO;
        } else {
            old_status = MemberStatus::None;
            let mut ms = MemberState {
                member: member_from(node, MemberStatus::Alive),
                status_ltime: 0,
                leave_time: Time::ZERO,
            };
            if let Some(lt) = self.recent_intent(&node.name, IntentKind::Join) {
                ms.status_ltime = lt;
            }
            if let Some(lt) = self.recent_intent(&node.name, IntentKind::Leave) {
                ms.member.status = MemberStatus::Leaving;
                ms.status_ltime = lt;
            }
            self.members.insert(node.name.clone(), ms);
        }
        if matches!(old_status, MemberStatus::Failed | MemberStatus::Left) {
            self.failed.retain(|n| n != &node.name);
            self.left.retain(|n| n != &node.name);
        }
        tracing::info!(node = %node.name, addr = %node.addr, "member join");
        if let Some(m) = self.members.get(&node.name) {
            let member = m.member.clone();
            self.emit(Event::MemberJoin(member));
        }
    }

    pub(crate) fn handle_node_leave(&mut self, node: &NodeInfo, now: Time) {
        let Some(m) = self.members.get_mut(&node.name) else {
            return;
        };
        let failed = match m.member.status {
            MemberStatus::Leaving => {
                m.member.status = MemberStatus::Left;
                false
            }
            MemberStatus::Alive => {
                m.member.status = MemberStatus::Failed;
                true
            }
            other => {
                tracing::warn!(node = %node.name, status = other.as_str(), "bad state on leave");
                return;
            }
        };
        m.leave_time = now;
        m.member.incarnation = node.incarnation;
        let member = m.member.clone();
        if failed {
            self.failed.push(node.name.clone());
            tracing::info!(node = %node.name, "member failed");
            self.emit(Event::MemberFailed(member));
        } else {
            self.left.push(node.name.clone());
            tracing::info!(node = %node.name, "member left");
            self.emit(Event::MemberLeave(member));
        }
    }

    pub(crate) fn handle_node_update(&mut self, node: &NodeInfo) {
        let Some(m) = self.members.get_mut(&node.name) else {
            return;
        };
        let status = m.member.status;
        m.member = member_from(node, status);
        let member = m.member.clone();
        self.emit(Event::MemberUpdate(member));
    }

    /// Handles a leave intent; true if it should be re-gossiped.
    pub(crate) fn handle_leave_intent(&mut self, msg: &LeaveMsg, now: Time) -> bool {
        self.clock.witness(msg.ltime);
        let Some(m) = self.members.get_mut(&msg.node) else {
            return self.upsert_intent(&msg.node, IntentKind::Leave, msg.ltime, now);
        };
        if msg.ltime <= m.status_ltime {
            return false;
        }
        if msg.node == self.name && self.state == SerfState::Alive {
            tracing::debug!("refuting an older leave intent");
            let lt = self.clock.time();
            self.broadcast_join(lt, now);
            return false;
        }
        m.status_ltime = msg.ltime;
        match m.member.status {
            MemberStatus::Alive => {
                m.member.status = MemberStatus::Leaving;
                if msg.prune {
                    self.prune(&msg.node);
                }
                true
            }
            MemberStatus::Failed => {
                m.member.status = MemberStatus::Left;
                let member = m.member.clone();
                self.failed.retain(|n| n != &msg.node);
                self.left.push(msg.node.clone());
                self.emit(Event::MemberLeave(member));
                if msg.prune {
                    self.prune(&msg.node);
                }
                true
            }
            MemberStatus::Leaving | MemberStatus::Left => {
                if msg.prune {
                    self.prune(&msg.node);
                }
                true
            }
            MemberStatus::None => false,
        }
    }

    fn prune(&mut self, node: &str) {
        self.left.retain(|n| n != node);
        self.failed.retain(|n| n != node);
        self.erase(node);
    }

    fn erase(&mut self, node: &str) {
        if let Some(m) = self.members.remove(node) {
            if let Some(c) = self.coord.as_mut() {
                c.forget(node);
            }
            self.coord_cache.remove(node);
            self.emit(Event::MemberReap(m.member));
        }
    }

    /// Handles a join intent; true if it should be re-gossiped.
    pub(crate) fn handle_join_intent(&mut self, msg: &JoinMsg, now: Time) -> bool {
        self.clock.witness(msg.ltime);
        let Some(m) = self.members.get_mut(&msg.node) else {
            return self.upsert_intent(&msg.node, IntentKind::Join, msg.ltime, now);
        };
        if msg.ltime <= m.status_ltime {
            return false;
        }
        m.status_ltime = msg.ltime;
        if m.member.status == MemberStatus::Leaving {
            m.member.status = MemberStatus::Alive;
        }
        true
    }

    pub(crate) fn broadcast_join(&mut self, ltime: LamportTime, now: Time) {
        let msg = JoinMsg {
            ltime,
            node: self.name.clone(),
        };
        self.clock.witness(ltime);
        self.handle_join_intent(&msg, now);
        self.broadcasts.queue(msg.encode(), None, None);
    }

    pub(crate) fn merge_push_pull(&mut self, pp: PushPullMsg, join: bool, now: Time) {
        if pp.ltime > 0 {
            self.clock.witness(pp.ltime - 1);
        }
        if pp.event_ltime > 0 {
            self.event_clock.witness(pp.event_ltime - 1);
        }
        if pp.query_ltime > 0 {
            self.query_clock.witness(pp.query_ltime - 1);
        }
        for name in &pp.left_members {
            let lt = pp.status_ltimes.get(name).copied().unwrap_or(0) + 1;
            let leave = LeaveMsg {
                ltime: lt,
                node: name.clone(),
                prune: false,
            };
            self.handle_leave_intent(&leave, now);
        }
        for (name, lt) in &pp.status_ltimes {
            if pp.left_members.contains(name) {
                continue;
            }
            let j = JoinMsg {
                ltime: *lt,
                node: name.clone(),
            };
            self.handle_join_intent(&j, now);
        }
        if join && self.event_join_ignore && pp.event_ltime > self.event_min_time {
            self.event_min_time = pp.event_ltime;
        }
        for at in pp.events {
            for e in at.events {
                let msg = super::messages::UserEventMsg {
                    ltime: at.ltime,
                    name: e.name,
                    payload: e.payload,
                    cc: false,
                };
                self.handle_user_event(msg, now);
            }
        }
    }

    /// Forgets failed and left members past their timeouts, and stale intents.
    pub(crate) fn reap(&mut self, now: Time) {
        let reconnect = self.cfg.reconnect_timeout;
        let tombstone = self.cfg.tombstone_timeout;
        let expired = |s: &Serf, names: &[String], timeout| -> Vec<String> {
            names
                .iter()
                .filter(|n| {
                    s.members
                        .get(n.as_str())
                        .is_none_or(|m| now.since(m.leave_time) > timeout)
                })
                .cloned()
                .collect()
        };
        let gone_failed = expired(self, &self.failed, reconnect);
        let gone_left = expired(self, &self.left, tombstone);
        self.failed.retain(|n| !gone_failed.contains(n));
        self.left.retain(|n| !gone_left.contains(n));
        for n in gone_failed.iter().chain(&gone_left) {
            tracing::info!(node = %n, "member reaped");
            self.erase(n);
        }
        let timeout = self.cfg.recent_intent_timeout;
        self.intents.retain(|_, i| now.since(i.wall) <= timeout);
    }

    /// Tries to reach a random failed member, with probability `failed / alive`.
    pub(crate) fn reconnect(&mut self) {
        let n = self.failed.len();
        if n == 0 {
            return;
        }
        let alive = self
            .members
            .len()
            .saturating_sub(n + self.left.len())
            .max(1);
        let prob = n as f64 / alive as f64;
        if self.rng.f64() > prob {
            return;
        }
        let name = self.failed[self.rng.below(n)].clone();
        if let Some(m) = self.members.get(&name) {
            let addr = SocketAddr::new(m.member.addr, m.member.port);
            tracing::info!(node = %name, %addr, "attempting reconnect");
            self.internal_join(vec![addr]);
        }
    }

    /// serf's `RemoveFailedNode`: gossip a leave intent on behalf of another member, so a
    /// failed member becomes `left` (and, with `prune`, is forgotten at once) everywhere.
    pub(crate) fn force_leave(&mut self, node: &str, prune: bool, now: Time) -> crate::Result<()> {
        if node == self.name {
            return Err(crate::Error::State("cannot force leave this node itself"));
        }
        let msg = LeaveMsg {
            ltime: self.clock.time(),
            node: node.to_string(),
            prune,
        };
        self.clock.increment();
        self.handle_leave_intent(&msg, now);
        self.broadcasts.queue(msg.encode(), None, None);
        Ok(())
    }

    /// Starts a graceful leave: leave intent, then memberlist's leave, then a short wait.
    pub(crate) fn start_leave(&mut self, now: Time) -> crate::Result<()> {
        match self.state {
            SerfState::Left => {
                self.out.push(Output::LeaveDone);
                return Ok(());
            }
            SerfState::Leaving => return Err(crate::Error::State("Leave already in progress")),
            SerfState::Alive => {}
        }
        self.state = SerfState::Leaving;
        let msg = LeaveMsg {
            ltime: self.clock.time(),
            node: self.name.clone(),
            prune: false,
        };
        self.clock.increment();
        self.handle_leave_intent(&msg, now);
        let others_alive = self
            .members
            .values()
            .any(|m| m.member.name != self.name && m.member.status == MemberStatus::Alive);
        if others_alive {
            self.broadcasts
                .queue(msg.encode(), None, Some(LEAVE_INTENT_TOKEN));
            let t = now + self.cfg.broadcast_timeout;
            self.set_timer(t, SerfTimer::LeaveIntentTimeout);
        } else {
            self.leave_step_memberlist(now);
        }
        Ok(())
    }

    pub(crate) fn leave_step_memberlist(&mut self, now: Time) {
        if self.state != SerfState::Leaving || self.leave_ml_started {
            return;
        }
        self.leave_ml_started = true;
        self.actions.push(DelegateAction::Leave {
            token: LEAVE_ML_TOKEN,
        });
        let t = now + self.cfg.broadcast_timeout;
        self.set_timer(t, SerfTimer::LeaveMemberlistTimeout);
    }

    pub(crate) fn leave_step_propagate(&mut self, now: Time) {
        if self.state != SerfState::Leaving || self.leave_propagating {
            return;
        }
        self.leave_propagating = true;
        let t = now + self.cfg.leave_propagate_delay;
        self.set_timer(t, SerfTimer::LeavePropagated);
    }

    pub(crate) fn leave_finished(&mut self) {
        if self.state == SerfState::Leaving {
            self.state = SerfState::Left;
            self.out.push(Output::LeaveDone);
        }
    }
}
