//! The memberlist layer: SWIM failure detection with Lifeguard, gossip dissemination and
//! push/pull anti-entropy, as a sans-IO state machine.
//!
//! Entry points take the current [`Time`]; effects accumulate as [`Output`]s drained with
//! [`Memberlist::take_outputs`]. The layer above (serf) plugs in through [`Delegate`].

pub mod awareness;
pub mod broadcast;
mod index;
mod net;
mod probe;
mod state;
pub mod suspicion;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{push_pull_scale, Config};
use crate::error::{Error, Result};
use crate::output::{Output, StreamId};
use crate::rng::Rng;
use crate::time::Time;
use crate::wire::messages::Alive;
use awareness::Awareness;
use broadcast::BroadcastQueue;
use suspicion::Suspicion;

/// Largest meta (tags) memberlist accepts.
pub const META_MAX_SIZE: usize = 512;

/// A member's state in memberlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeStatus {
    /// Answering probes.
    Alive,
    /// Missed probes; may refute.
    Suspect,
    /// Declared dead by someone.
    Dead,
    /// Left on purpose.
    Left,
}

/// A read-only view of a member, handed to the delegate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Name.
    pub name: String,
    /// Gossip address.
    pub addr: IpAddr,
    /// Gossip port.
    pub port: u16,
    /// Delegate meta.
    pub meta: Vec<u8>,
    /// Incarnation.
    pub incarnation: u32,
    /// State.
    pub status: NodeStatus,
    /// pmin, pmax, pcur, dmin, dmax, dcur.
    pub vsn: [u8; 6],
}

/// Requests the delegate makes of memberlist.
#[derive(Debug, Clone)]
pub enum DelegateAction {
    /// Send a user message as a UDP packet (serf query responses and acks).
    SendUser {
        /// Destination.
        to: SocketAddr,
        /// The serf message (without memberlist's user type byte).
        msg: Vec<u8>,
    },
    /// Push/pull with these addresses (reconnect, rejoin); reported via `notify_join_done`.
    Join {
        /// Caller's id.
        id: u64,
        /// Addresses.
        addrs: Vec<SocketAddr>,
    },
    /// Call `handle_timer(token)` at `at`.
    Timer {
        /// When.
        at: Time,
        /// Delegate's token.
        token: u64,
    },
    /// Broadcast our death-by-leave; reported via `notify_broadcast_done(token)`.
    Leave {
        /// Token.
        token: u64,
    },
    /// Re-read `node_meta` and gossip a fresh alive.
    UpdateMeta,
}

/// Hooks for the layer above memberlist (serf implements these).
pub trait Delegate {
    /// Meta to advertise (at most [`META_MAX_SIZE`] bytes).
    fn node_meta(&self) -> Vec<u8> {
        Vec::new()
    }
    /// A user message arrived (over UDP or TCP).
    fn notify_msg(&mut self, _msg: &[u8], _now: Time) {}
    /// Broadcasts to piggy-back, within `limit` bytes counting `overhead` per message.
    fn get_broadcasts(
        &mut self,
        _overhead: usize,
        _limit: usize,
        _num_nodes: usize,
    ) -> Vec<Vec<u8>> {
        Vec::new()
    }
    /// State to send in a push/pull.
    fn local_state(&mut self, _join: bool) -> Vec<u8> {
        Vec::new()
    }
    /// State received in a push/pull.
    fn merge_remote_state(&mut self, _buf: &[u8], _join: bool, _now: Time) {}
    /// A member joined (or came back).
    fn notify_join(&mut self, _node: &NodeInfo, _now: Time) {}
    /// A member died or left.
    fn notify_leave(&mut self, _node: &NodeInfo, _now: Time) {}
    /// A member's meta changed.
    fn notify_update(&mut self, _node: &NodeInfo, _now: Time) {}
    /// Two nodes claim one name.
    fn notify_conflict(&mut self, _existing: &NodeInfo, _other: &NodeInfo) {}
    /// Payload for our acks.
    fn ack_payload(&mut self) -> Vec<u8> {
        Vec::new()
    }
    /// A probe of `node` was acked after `rtt`.
    fn notify_ping_complete(&mut self, _node: &NodeInfo, _rtt: Duration, _payload: &[u8]) {}
    /// A join finished.
    fn notify_join_done(&mut self, _id: u64, _joined: usize, _errors: Vec<String>, _now: Time) {}
    /// A broadcast with a notify token finished.
    fn notify_broadcast_done(&mut self, _token: u64, _now: Time) {}
    /// A delegate timer fired.
    fn handle_timer(&mut self, _token: u64, _now: Time) {}
    /// Requests for memberlist, drained after every entry point.
    fn take_actions(&mut self) -> Vec<DelegateAction> {
        Vec::new()
    }
}

/// A delegate that does nothing (plain memberlist).
#[derive(Debug, Default)]
pub struct NoDelegate;
impl Delegate for NoDelegate {}

/// Our record of one member.
#[derive(Debug, Clone)]
pub(crate) struct NodeState {
    pub name: Arc<str>,
    pub addr: IpAddr,
    pub port: u16,
    pub meta: Vec<u8>,
    pub incarnation: u32,
    pub status: NodeStatus,
    pub state_change: Time,
    pub vsn: [u8; 6],
}

impl NodeState {
    pub fn info(&self) -> NodeInfo {
        NodeInfo {
            name: self.name.to_string(),
            addr: self.addr,
            port: self.port,
            meta: self.meta.clone(),
            incarnation: self.incarnation,
            status: self.status,
            vsn: self.vsn,
        }
    }
    pub fn socket(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port)
    }
    pub fn dead_or_left(&self) -> bool {
        matches!(self.status, NodeStatus::Dead | NodeStatus::Left)
    }
    pub fn pmax(&self) -> u8 {
        self.vsn[1]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerKind {
    ProbeTick,
    GossipTick,
    /// End of the random start-up stagger of the push/pull timer: arms the first
    /// [`TimerKind::PushPullTick`] one (scaled) interval later, without a push/pull.
    PushPullStagger,
    PushPullTick,
    ProbeIndirect(u32),
    ProbeEnd(u32),
    AckExpire(u32),
    Suspicion(Arc<str>),
    Delegate(u64),
}

pub(crate) enum AckHandler {
    /// Our own probe with this sequence number.
    Probe,
    /// We relay for an indirect probe.
    Relay {
        orig_seq: u32,
        reply_to: SocketAddr,
        nack: bool,
    },
}

pub(crate) struct Probe {
    pub seq: u32,
    pub node: Arc<str>,
    pub incarnation: u32,
    pub sent: Time,
    pub deadline: Time,
    pub expected_nacks: usize,
    pub nacks: usize,
    pub tcp_ok: bool,
}

pub(crate) enum PendingStream {
    PushPull { join: bool, join_id: Option<u64> },
    PingFallback { seq: u32 },
    UserMsg,
}

pub(crate) struct JoinOp {
    remaining: usize,
    joined: usize,
    errors: Vec<String>,
}

/// Traffic counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// UDP packets sent.
    pub packets_sent: u64,
    /// UDP bytes sent.
    pub packet_bytes_sent: u64,
    /// UDP packets received.
    pub packets_received: u64,
    /// TCP exchanges started.
    pub streams_sent: u64,
    /// TCP bytes sent (requests and replies).
    pub stream_bytes_sent: u64,
}

/// The memberlist state machine.
pub struct Memberlist<D: Delegate> {
    pub(crate) cfg: Config,
    pub(crate) delegate: D,
    pub(crate) advertise: SocketAddr,
    pub(crate) name: Arc<str>,
    pub(crate) nodes: Vec<NodeState>,
    pub(crate) index: index::NameIndex,
    pub(crate) probe_index: usize,
    pub(crate) seq_no: u32,
    pub(crate) incarnation: u32,
    pub(crate) awareness: Awareness,
    pub(crate) broadcasts: BroadcastQueue,
    pub(crate) suspicions: HashMap<Arc<str>, Suspicion>,
    pub(crate) acks: HashMap<u32, AckHandler>,
    pub(crate) probe: Option<Probe>,
    timers: BinaryHeap<Reverse<(Time, u64, TimerKind)>>,
    timer_seq: u64,
    pub(crate) streams: HashMap<StreamId, PendingStream>,
    next_stream: StreamId,
    joins: HashMap<u64, JoinOp>,
    next_join: u64,
    pub(crate) left: bool,
    pub(crate) rng: Rng,
    pub(crate) out: Vec<Output>,
    pub(crate) stats: Stats,
}

impl<D: Delegate> Memberlist<D> {
    /// Creates a node advertising `advertise`, announces itself alive and schedules its loops.
    pub fn new(
        cfg: Config,
        delegate: D,
        advertise: SocketAddr,
        rng: Rng,
        now: Time,
    ) -> Result<Self> {
        cfg.validate()?;
        let meta = delegate.node_meta();
        if meta.len() > META_MAX_SIZE {
            return Err(Error::MetaTooLarge(META_MAX_SIZE));
        }
        let name: Arc<str> = Arc::from(cfg.name.as_str());
        let awareness = Awareness::new(cfg.awareness_max_multiplier);
        let mut m = Memberlist {
            cfg,
            delegate,
            advertise,
            name,
            nodes: Vec::new(),
            index: index::NameIndex::default(),
            probe_index: 0,
            seq_no: 0,
            incarnation: 0,
            awareness,
            broadcasts: BroadcastQueue::default(),
            suspicions: HashMap::new(),
            acks: HashMap::new(),
            probe: None,
            timers: BinaryHeap::new(),
            timer_seq: 0,
            streams: HashMap::new(),
            next_stream: 0,
            joins: HashMap::new(),
            next_join: 0,
            left: false,
            rng,
            out: Vec::new(),
            stats: Stats::default(),
        };
        m.incarnation += 1;
        let alive = Alive {
            incarnation: m.incarnation,
            node: m.cfg.name.clone(),
            addr: ip_to_bytes(advertise.ip()),
            port: advertise.port(),
            meta,
            vsn: m.cfg.vsn().to_vec(),
        };
        m.alive_node(alive, true, None, now);
        // Random stagger so nodes started together do not probe in lockstep.
        let probe = m.cfg.probe_interval;
        let gossip = m.cfg.gossip_interval;
        let pp = m.cfg.push_pull_interval;
        let s = m.stagger(probe);
        m.schedule(now + s, TimerKind::ProbeTick);
        let s = m.stagger(gossip);
        m.schedule(now + s, TimerKind::GossipTick);
        if !pp.is_zero() {
            // As memberlist does: wait a random stagger, then a full (scaled) interval before
            // the first periodic push/pull. Pushing right at the stagger would add one
            // push/pull per node in the first interval of its life (joins push/pull anyway).
            let s = m.stagger(pp);
            m.schedule(now + s, TimerKind::PushPullStagger);
        }
        m.after_call(now);
        Ok(m)
    }

    fn stagger(&mut self, d: Duration) -> Duration {
        let us = d.as_micros().max(1) as u64;
        Duration::from_micros(self.rng.next_u64() % us)
    }

    pub(crate) fn schedule(&mut self, at: Time, kind: TimerKind) {
        self.timer_seq += 1;
        self.timers.push(Reverse((at, self.timer_seq, kind)));
    }

    /// When [`Memberlist::handle_timeout`] should next be called.
    pub fn next_timeout(&self) -> Option<Time> {
        self.timers.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        while let Some(Reverse((t, _, _))) = self.timers.peek() {
            if *t > now {
                break;
            }
            let Some(Reverse((_, _, kind))) = self.timers.pop() else {
                break;
            };
            self.fire(kind, now);
        }
        self.after_call(now);
    }

    fn fire(&mut self, kind: TimerKind, now: Time) {
        match kind {
            TimerKind::ProbeTick => {
                let next = now + self.cfg.probe_interval;
                self.schedule(next, TimerKind::ProbeTick);
                self.probe_tick(now);
            }
            TimerKind::GossipTick => {
                let next = now + self.cfg.gossip_interval;
                self.schedule(next, TimerKind::GossipTick);
                self.gossip(now);
            }
            TimerKind::PushPullStagger => {
                let next = now + push_pull_scale(self.cfg.push_pull_interval, self.nodes.len());
                self.schedule(next, TimerKind::PushPullTick);
            }
            TimerKind::PushPullTick => {
                let next = now + push_pull_scale(self.cfg.push_pull_interval, self.nodes.len());
                self.schedule(next, TimerKind::PushPullTick);
                self.push_pull_random(now);
            }
            TimerKind::ProbeIndirect(seq) => self.probe_indirect(seq),
            TimerKind::ProbeEnd(seq) => self.probe_end(seq, now),
            TimerKind::AckExpire(seq) => self.ack_expire(seq),
            TimerKind::Suspicion(node) => self.suspicion_fired(&node, now),
            TimerKind::Delegate(token) => self.delegate.handle_timer(token, now),
        }
    }

    /// Drains delegate requests and broadcast notifications; call after every entry point.
    pub(crate) fn after_call(&mut self, now: Time) {
        for _ in 0..16 {
            let finished = self.broadcasts.take_finished();
            for token in finished {
                self.delegate.notify_broadcast_done(token, now);
            }
            let actions = self.delegate.take_actions();
            if actions.is_empty() {
                break;
            }
            for a in actions {
                match a {
                    DelegateAction::SendUser { to, msg } => {
                        let mut buf = Vec::with_capacity(msg.len() + 1);
                        buf.push(crate::wire::MessageType::User as u8);
                        buf.extend_from_slice(&msg);
                        self.raw_send_packet(to, None, buf);
                    }
                    DelegateAction::Join { id, addrs } => self.join_with_id(id, &addrs, now),
                    DelegateAction::Timer { at, token } => {
                        self.schedule(at, TimerKind::Delegate(token))
                    }
                    DelegateAction::Leave { token } => self.leave(token, now),
                    DelegateAction::UpdateMeta => self.update_meta(now),
                }
            }
        }
    }

    /// Effects produced since the last call.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    /// Appends effects to `out` (avoids an allocation per call in hot loops).
    pub fn drain_outputs_into(&mut self, out: &mut Vec<Output>) {
        out.append(&mut self.out);
    }

    /// The delegate.
    pub fn delegate(&self) -> &D {
        &self.delegate
    }

    /// The delegate, mutably. Call [`Memberlist::flush`] after changing it so its actions run.
    pub fn delegate_mut(&mut self) -> &mut D {
        &mut self.delegate
    }

    /// Runs pending delegate actions.
    pub fn flush(&mut self, now: Time) {
        self.after_call(now);
    }

    /// Our node name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Mutable configuration (keyring changes).
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.cfg
    }

    /// Every member we know, including dead ones not yet forgotten.
    pub fn nodes(&self) -> impl Iterator<Item = NodeInfo> + '_ {
        self.nodes.iter().map(|n| n.info())
    }

    /// A member by name.
    pub fn node(&self, name: &str) -> Option<NodeInfo> {
        self.index
            .get(&self.nodes, name)
            .map(|i| self.nodes[i].info())
    }

    /// Status of a member by name, without copying it.
    pub fn status_of(&self, name: &str) -> Option<NodeStatus> {
        self.index
            .get(&self.nodes, name)
            .map(|i| self.nodes[i].status)
    }

    /// Members neither dead nor left.
    pub fn num_alive(&self) -> usize {
        self.nodes.iter().filter(|n| !n.dead_or_left()).count()
    }

    /// Members we track (memberlist's estimate of the cluster size).
    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Lifeguard health score (0 is healthy).
    pub fn health_score(&self) -> usize {
        self.awareness.score()
    }

    /// Traffic counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether we left.
    pub fn has_left(&self) -> bool {
        self.left
    }

    /// Leaves the cluster: gossips our death-by-leave (plain memberlist use; serf sequences its
    /// own leave through the delegate).
    pub fn leave_now(&mut self, now: Time) {
        self.leave(0, now);
        self.after_call(now);
    }

    /// Inserts already-known alive members directly, without gossip or delegate calls, then
    /// shuffles the probe order. Simulations use it to start from a converged cluster cheaply;
    /// passing shared `Arc` names keeps thousands of nodes' tables small.
    ///
    /// The periodic push/pull is re-armed at a uniformly random point of one interval scaled
    /// for the new size, as in a cluster that has been running for a while (a fresh node would
    /// first wait its start-up stagger plus a full interval, so no window shortly after start
    /// would see steady-state anti-entropy).
    pub fn seed_members(&mut self, members: &[(Arc<str>, SocketAddr)], now: Time) {
        let vsn = self.cfg.vsn();
        self.nodes.reserve_exact(members.len());
        self.index.reserve(&self.nodes, members.len());
        for (name, addr) in members {
            if self.index.get(&self.nodes, name).is_some() {
                continue;
            }
            self.nodes.push(NodeState {
                name: name.clone(),
                addr: addr.ip(),
                port: addr.port(),
                meta: Vec::new(),
                incarnation: 1,
                status: NodeStatus::Alive,
                state_change: now,
                vsn,
            });
            let pos = self.nodes.len() - 1;
            self.index.insert_new(&self.nodes, pos);
        }
        self.reset_nodes(now);
        if !self.cfg.push_pull_interval.is_zero() {
            self.timers.retain(|Reverse((_, _, k))| {
                !matches!(k, TimerKind::PushPullStagger | TimerKind::PushPullTick)
            });
            let scaled = push_pull_scale(self.cfg.push_pull_interval, self.nodes.len());
            let at = now + self.stagger(scaled);
            self.schedule(at, TimerKind::PushPullTick);
        }
    }

    /// Exchanges state with each address (a join). Completion is reported to the delegate.
    pub fn join(&mut self, addrs: &[SocketAddr], now: Time) -> u64 {
        self.next_join += 1;
        let id = self.next_join | (1 << 63);
        self.join_with_id(id, addrs, now);
        self.after_call(now);
        id
    }

    fn join_with_id(&mut self, id: u64, addrs: &[SocketAddr], now: Time) {
        if addrs.is_empty() {
            self.delegate.notify_join_done(id, 0, Vec::new(), now);
            return;
        }
        self.joins.insert(
            id,
            JoinOp {
                remaining: addrs.len(),
                joined: 0,
                errors: Vec::new(),
            },
        );
        for &a in addrs {
            self.start_push_pull(a, true, Some(id), now);
        }
    }

    pub(crate) fn join_progress(
        &mut self,
        id: u64,
        result: std::result::Result<(), String>,
        now: Time,
    ) {
        let Some(op) = self.joins.get_mut(&id) else {
            return;
        };
        match result {
            Ok(()) => op.joined += 1,
            Err(e) => op.errors.push(e),
        }
        op.remaining -= 1;
        if op.remaining == 0 {
            if let Some(op) = self.joins.remove(&id) {
                self.delegate
                    .notify_join_done(id, op.joined, op.errors, now);
            }
        }
    }

    pub(crate) fn next_stream_id(&mut self) -> StreamId {
        self.next_stream += 1;
        self.next_stream
    }

    pub(crate) fn next_seq(&mut self) -> u32 {
        self.seq_no = self.seq_no.wrapping_add(1);
        self.seq_no
    }

    /// Picks up to `k` random members passing `keep` (memberlist's `kRandomNodes`: random
    /// draws, at most `3n` of them, without repeats).
    pub(crate) fn k_random(&mut self, k: usize, keep: impl Fn(&NodeState) -> bool) -> Vec<usize> {
        let n = self.nodes.len();
        let mut out = Vec::with_capacity(k);
        let mut tries = 0;
        while tries < 3 * n && out.len() < k {
            tries += 1;
            let i = self.rng.below(n);
            if !keep(&self.nodes[i]) || out.contains(&i) {
                continue;
            }
            out.push(i);
        }
        out
    }
}

/// IP to memberlist's byte form (4 bytes for IPv4).
pub fn ip_to_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// memberlist's byte form to an IP (IPv4-mapped IPv6 becomes IPv4).
pub fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            let v6 = Ipv6Addr::from(a);
            Some(match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            })
        }
        _ => None,
    }
}
