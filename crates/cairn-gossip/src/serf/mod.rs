//! The serf layer, a memberlist [`Delegate`]: tags in meta, join/leave intents ordered by a
//! Lamport clock, alive/leaving/left/failed statuses, user events, queries, Vivaldi coordinates.

pub mod coordinate;
mod events;
mod members;
pub mod messages;
pub(crate) mod query;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use crate::config::Config;
use crate::event::Event;
use crate::memberlist::broadcast::BroadcastQueue;
use crate::memberlist::{Delegate, DelegateAction, NodeInfo};
use crate::output::Output;
use crate::rng::Rng;
use crate::time::Time;
use coordinate::{Coordinate, CoordinateClient};
use messages::*;

pub use query::QueryParams;

/// Internal query (after [`query::INTERNAL_QUERY_PREFIX`]) that resolves a name conflict.
pub const CONFLICT_QUERY: &str = "conflict";

/// A Lamport clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct LamportClock(u64);

impl LamportClock {
    /// Current time.
    pub fn time(&self) -> LamportTime {
        self.0
    }
    /// Advances by one and returns the new time.
    pub fn increment(&mut self) -> LamportTime {
        self.0 += 1;
        self.0
    }
    /// Moves past an observed time.
    pub fn witness(&mut self, t: LamportTime) {
        if t >= self.0 {
            self.0 = t.saturating_add(1);
        }
    }
}

/// Where the local node stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerfState {
    /// Running.
    Alive,
    /// Leave in progress.
    Leaving,
    /// Left.
    Left,
}

#[derive(Debug, Clone)]
pub(crate) struct MemberState {
    pub member: crate::event::Member,
    pub status_ltime: LamportTime,
    pub leave_time: Time,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntentKind {
    Join,
    Leave,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Intent {
    kind: IntentKind,
    wall: Time,
    ltime: LamportTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SerfTimer {
    Reap,
    Reconnect,
    QueryDeadline(LamportTime),
    IncomingQueryExpire(u64),
    LeaveIntentTimeout,
    LeaveMemberlistTimeout,
    LeavePropagated,
    CoalesceFlush,
}

/// Bit marking join ids that serf starts itself (reconnects, rejoins).
pub(crate) const INTERNAL_JOIN: u64 = 1 << 62;
const LEAVE_INTENT_TOKEN: u64 = 1;
const LEAVE_ML_TOKEN: u64 = 2;

/// The serf delegate state.
pub struct Serf {
    pub(crate) cfg: Config,
    pub(crate) name: String,
    pub(crate) advertise: SocketAddr,
    pub(crate) state: SerfState,
    pub(crate) clock: LamportClock,
    pub(crate) event_clock: LamportClock,
    pub(crate) query_clock: LamportClock,
    pub(crate) members: HashMap<String, MemberState>,
    pub(crate) failed: Vec<String>,
    pub(crate) left: Vec<String>,
    pub(crate) intents: HashMap<String, Intent>,
    pub(crate) broadcasts: BroadcastQueue,
    pub(crate) event_broadcasts: BroadcastQueue,
    pub(crate) query_broadcasts: BroadcastQueue,
    pub(crate) event_buffer: Vec<Option<UserEventsAt>>,
    pub(crate) event_min_time: LamportTime,
    pub(crate) event_join_ignore: bool,
    pub(crate) query_buffer: Vec<Option<(LamportTime, Vec<u32>)>>,
    pub(crate) query_min_time: LamportTime,
    pub(crate) out_queries: HashMap<LamportTime, query::OutQuery>,
    pub(crate) in_queries: HashMap<u64, query::InQuery>,
    pub(crate) next_local_query: u64,
    pub(crate) coord: Option<CoordinateClient>,
    pub(crate) coord_cache: HashMap<String, Coordinate>,
    pub(crate) coalesce: events::Coalescer,
    pub(crate) internal_queries: Vec<crate::event::QueryEvent>,
    pub(crate) leave_ml_started: bool,
    pub(crate) leave_propagating: bool,
    timers: HashMap<u64, SerfTimer>,
    next_timer: u64,
    next_join: u64,
    pub(crate) actions: Vec<DelegateAction>,
    pub(crate) out: Vec<Output>,
    pub(crate) rng: Rng,
    pub(crate) num_nodes: usize,
    pub(crate) now: Time,
    /// A `_serf_conflict` vote in progress.
    pub(crate) conflict: Option<ConflictVote>,
    /// Lost a name-conflict vote: the node must stop (serf shuts down).
    pub(crate) conflict_lost: bool,
}

/// Tally of a `_serf_conflict` query about our own name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConflictVote {
    /// Local id of the query.
    pub query: u64,
    /// Well-formed answers.
    pub responses: usize,
    /// Answers naming our address and port.
    pub matching: usize,
}

impl Serf {
    /// Creates the serf state; `restored` carries clocks from a snapshot.
    pub fn new(
        cfg: Config,
        advertise: SocketAddr,
        seed: u64,
        restored: Option<[LamportTime; 3]>,
        now: Time,
    ) -> Self {
        let mut s = Serf {
            name: cfg.name.clone(),
            advertise,
            state: SerfState::Alive,
            clock: LamportClock::default(),
            event_clock: LamportClock::default(),
            query_clock: LamportClock::default(),
            members: HashMap::new(),
            failed: Vec::new(),
            left: Vec::new(),
            intents: HashMap::new(),
            broadcasts: BroadcastQueue::default(),
            event_broadcasts: BroadcastQueue::default(),
            query_broadcasts: BroadcastQueue::default(),
            event_buffer: vec![None; cfg.event_buffer.max(1)],
            event_min_time: 0,
            event_join_ignore: false,
            query_buffer: vec![None; cfg.query_buffer.max(1)],
            query_min_time: 0,
            out_queries: HashMap::new(),
            in_queries: HashMap::new(),
            next_local_query: 0,
            coord: (!cfg.disable_coordinates).then(|| CoordinateClient::new(seed ^ 0xc0)),
            coord_cache: HashMap::new(),
            coalesce: events::Coalescer::default(),
            internal_queries: Vec::new(),
            leave_ml_started: false,
            leave_propagating: false,
            timers: HashMap::new(),
            next_timer: 2,
            next_join: 0,
            actions: Vec::new(),
            out: Vec::new(),
            rng: Rng::new(seed ^ 0x5e4f),
            num_nodes: 1,
            now,
            conflict: None,
            conflict_lost: false,
            cfg,
        };
        s.clock.increment();
        s.event_clock.increment();
        s.query_clock.increment();
        if let Some([c, e, q]) = restored {
            s.clock.witness(c);
            s.event_clock.witness(e);
            s.query_clock.witness(q);
            s.event_min_time = e + 1;
            s.query_min_time = q + 1;
        }
        if let Some(c) = &s.coord {
            s.coord_cache.insert(s.name.clone(), c.coordinate().clone());
        }
        let reap = now + s.cfg.reap_interval;
        s.set_timer(reap, SerfTimer::Reap);
        let rc = now + s.cfg.reconnect_interval;
        s.set_timer(rc, SerfTimer::Reconnect);
        s
    }

    pub(crate) fn set_timer(&mut self, at: Time, t: SerfTimer) {
        self.next_timer += 1;
        let token = self.next_timer;
        self.timers.insert(token, t);
        self.actions.push(DelegateAction::Timer { at, token });
    }

    pub(crate) fn emit(&mut self, e: Event) {
        self.out.push(Output::Event(e));
    }

    pub(crate) fn internal_join(&mut self, addrs: Vec<SocketAddr>) {
        self.next_join += 1;
        let id = INTERNAL_JOIN | self.next_join;
        self.actions.push(DelegateAction::Join { id, addrs });
    }

    /// Our status.
    pub fn state(&self) -> SerfState {
        self.state
    }

    /// The members we know, any status.
    pub fn members(&self) -> Vec<crate::event::Member> {
        let mut v: Vec<_> = self.members.values().map(|m| m.member.clone()).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// One member by name.
    pub fn member(&self, name: &str) -> Option<&crate::event::Member> {
        self.members.get(name).map(|m| &m.member)
    }

    /// Our coordinate.
    pub fn coordinate(&self) -> Option<&Coordinate> {
        self.coord.as_ref().map(|c| c.coordinate())
    }

    /// A member's last-known coordinate.
    pub fn coordinate_of(&self, name: &str) -> Option<&Coordinate> {
        self.coord_cache.get(name)
    }

    /// Member, event and query clocks.
    pub fn clocks(&self) -> [LamportTime; 3] {
        [
            self.clock.time(),
            self.event_clock.time(),
            self.query_clock.time(),
        ]
    }

    /// Queue depths: intents, events, queries.
    pub fn queue_depths(&self) -> [usize; 3] {
        [
            self.broadcasts.len(),
            self.event_broadcasts.len(),
            self.query_broadcasts.len(),
        ]
    }

    fn queue_limit(&self) -> usize {
        if self.cfg.min_queue_depth > 0 {
            (2 * self.members.len()).max(self.cfg.min_queue_depth)
        } else {
            self.cfg.max_queue_depth
        }
    }

    fn enforce_queue_limits(&mut self) {
        let max = self.queue_limit();
        for q in [
            &mut self.broadcasts,
            &mut self.event_broadcasts,
            &mut self.query_broadcasts,
        ] {
            if q.len() > max {
                tracing::warn!(
                    depth = q.len(),
                    max,
                    "serf queue too deep, dropping messages"
                );
                q.prune(max);
            }
        }
    }

    fn handle_serf_timer(&mut self, t: SerfTimer, now: Time) {
        match t {
            SerfTimer::Reap => {
                let next = now + self.cfg.reap_interval;
                self.set_timer(next, SerfTimer::Reap);
                self.reap(now);
                self.enforce_queue_limits();
            }
            SerfTimer::Reconnect => {
                let next = now + self.cfg.reconnect_interval;
                self.set_timer(next, SerfTimer::Reconnect);
                self.reconnect();
            }
            SerfTimer::QueryDeadline(lt) => self.query_deadline(lt),
            SerfTimer::IncomingQueryExpire(id) => {
                self.in_queries.remove(&id);
            }
            SerfTimer::LeaveIntentTimeout => self.leave_step_memberlist(now),
            SerfTimer::LeaveMemberlistTimeout => self.leave_step_propagate(now),
            SerfTimer::LeavePropagated => self.leave_finished(),
            SerfTimer::CoalesceFlush => self.coalesce_flush(now),
        }
    }
}

impl Delegate for Serf {
    fn node_meta(&self) -> Vec<u8> {
        if self.cfg.serf_protocol_version < 3 {
            return self
                .cfg
                .tags
                .get("role")
                .cloned()
                .unwrap_or_default()
                .into_bytes();
        }
        encode_tags(&self.cfg.tags)
    }

    fn notify_msg(&mut self, buf: &[u8], now: Time) {
        self.now = now;
        let Some((&t, body)) = buf.split_first() else {
            return;
        };
        let Some(ty) = SerfMessageType::from_u8(t) else {
            tracing::warn!(t, "unknown serf message type");
            return;
        };
        let rebroadcast = match ty {
            SerfMessageType::Leave => match LeaveMsg::decode_body(body) {
                Ok(m) => self.handle_leave_intent(&m, now).then_some(0),
                Err(e) => {
                    tracing::error!(error = %e, "bad leave message");
                    None
                }
            },
            SerfMessageType::Join => match JoinMsg::decode_body(body) {
                Ok(m) => self.handle_join_intent(&m, now).then_some(0),
                Err(e) => {
                    tracing::error!(error = %e, "bad join message");
                    None
                }
            },
            SerfMessageType::UserEvent => match UserEventMsg::decode_body(body) {
                Ok(m) => self.handle_user_event(m, now).then_some(1),
                Err(e) => {
                    tracing::error!(error = %e, "bad user event");
                    None
                }
            },
            SerfMessageType::Query => match QueryMsg::decode_body(body) {
                Ok(m) => self.handle_query(m, now).then_some(2),
                Err(e) => {
                    tracing::error!(error = %e, "bad query");
                    None
                }
            },
            SerfMessageType::QueryResponse => {
                match QueryResponseMsg::decode_body(body) {
                    Ok(m) => self.handle_query_response(m, now),
                    Err(e) => tracing::error!(error = %e, "bad query response"),
                }
                None
            }
            SerfMessageType::Relay => {
                self.handle_relay(body);
                None
            }
            _ => {
                tracing::warn!(t, "unexpected serf message type");
                None
            }
        };
        if let Some(q) = rebroadcast {
            let msg = buf.to_vec();
            match q {
                0 => self.broadcasts.queue(msg, None, None),
                1 => self.event_broadcasts.queue(msg, None, None),
                _ => self.query_broadcasts.queue(msg, None, None),
            }
        }
    }

    fn get_broadcasts(&mut self, overhead: usize, limit: usize, num_nodes: usize) -> Vec<Vec<u8>> {
        self.num_nodes = num_nodes;
        let n = self.members.len().max(1);
        let mult = self.cfg.retransmit_mult;
        let mut out = self.broadcasts.get(overhead, limit, n, mult);
        let used: usize = out.iter().map(|m| m.len() + overhead).sum();
        let q = self
            .query_broadcasts
            .get(overhead, limit.saturating_sub(used), n, mult);
        let used = used + q.iter().map(|m| m.len() + overhead).sum::<usize>();
        out.extend(q);
        let e = self
            .event_broadcasts
            .get(overhead, limit.saturating_sub(used), n, mult);
        out.extend(e);
        for t in self.broadcasts.take_finished() {
            self.broadcast_finished(t);
        }
        out
    }

    fn local_state(&mut self, _join: bool) -> Vec<u8> {
        let mut pp = PushPullMsg {
            ltime: self.clock.time(),
            event_ltime: self.event_clock.time(),
            query_ltime: self.query_clock.time(),
            left_members: self.left.clone(),
            events: self.event_buffer.iter().flatten().cloned().collect(),
            ..Default::default()
        };
        for (name, m) in &self.members {
            pp.status_ltimes.insert(name.clone(), m.status_ltime);
        }
        pp.encode()
    }

    fn merge_remote_state(&mut self, buf: &[u8], join: bool, now: Time) {
        self.now = now;
        let Some((&t, body)) = buf.split_first() else {
            return;
        };
        if t != SerfMessageType::PushPull as u8 {
            tracing::error!(t, "remote state has bad type prefix");
            return;
        }
        match PushPullMsg::decode_body(body) {
            Ok(pp) => self.merge_push_pull(pp, join, now),
            Err(e) => tracing::error!(error = %e, "failed to decode remote state"),
        }
    }

    fn notify_join(&mut self, node: &NodeInfo, now: Time) {
        self.now = now;
        self.handle_node_join(node, now);
    }

    fn notify_leave(&mut self, node: &NodeInfo, now: Time) {
        self.now = now;
        self.handle_node_leave(node, now);
    }

    fn notify_update(&mut self, node: &NodeInfo, now: Time) {
        self.now = now;
        self.handle_node_update(node);
    }

    fn notify_conflict(&mut self, existing: &NodeInfo, other: &NodeInfo) {
        if existing.name != self.name {
            tracing::warn!(
                node = %existing.name,
                a = %SocketAddr::new(existing.addr, existing.port),
                b = %SocketAddr::new(other.addr, other.port),
                "name conflict: two nodes claim one name"
            );
            return;
        }
        tracing::error!(
            other = %SocketAddr::new(other.addr, other.port),
            resolution = self.cfg.enable_name_conflict_resolution,
            "our node name is claimed by another node; names must be unique"
        );
        if self.cfg.enable_name_conflict_resolution {
            self.start_conflict_resolution();
        }
    }

    fn ack_payload(&mut self) -> Vec<u8> {
        match &self.coord {
            Some(c) => c.coordinate().to_ack_payload(),
            None => Vec::new(),
        }
    }

    fn notify_ping_complete(&mut self, node: &NodeInfo, rtt: Duration, payload: &[u8]) {
        let Some(client) = self.coord.as_mut() else {
            return;
        };
        let Some((&v, body)) = payload.split_first() else {
            return;
        };
        if v != coordinate::PING_VERSION {
            return;
        }
        let Ok(other) = Coordinate::decode(body) else {
            return;
        };
        if client.update(&node.name, &other, rtt).is_ok() {
            let mine = client.coordinate().clone();
            self.coord_cache.insert(node.name.clone(), other);
            self.coord_cache.insert(self.name.clone(), mine);
        }
    }

    fn notify_join_done(&mut self, id: u64, joined: usize, errors: Vec<String>, now: Time) {
        self.now = now;
        if id & INTERNAL_JOIN != 0 {
            return;
        }
        if joined > 0 && self.state == SerfState::Alive {
            let lt = self.clock.time();
            self.broadcast_join(lt, now);
        }
        self.event_join_ignore = false;
        self.out.push(Output::JoinDone { id, joined, errors });
    }

    fn notify_broadcast_done(&mut self, token: u64, now: Time) {
        self.now = now;
        if token == LEAVE_ML_TOKEN {
            self.leave_step_propagate(now);
        }
    }

    fn handle_timer(&mut self, token: u64, now: Time) {
        self.now = now;
        if let Some(t) = self.timers.remove(&token) {
            self.handle_serf_timer(t, now);
        }
    }

    fn take_actions(&mut self) -> Vec<DelegateAction> {
        std::mem::take(&mut self.actions)
    }
}

impl Serf {
    /// Asks the pool which address it knows for our name (`_serf_conflict`); the answer is
    /// counted in [`Serf::count_conflict_response`] and decided at the query's deadline. One
    /// vote runs at a time (memberlist reports the conflict for every alive it rejects).
    fn start_conflict_resolution(&mut self) {
        if self.conflict.is_some() || self.conflict_lost || self.state != SerfState::Alive {
            return;
        }
        let name = format!("{}{}", query::INTERNAL_QUERY_PREFIX, CONFLICT_QUERY);
        let payload = self.name.clone().into_bytes();
        let now = self.now;
        match self.query(&name, &payload, &QueryParams::default(), now) {
            Ok(id) => {
                self.conflict = Some(ConflictVote {
                    query: id,
                    responses: 0,
                    matching: 0,
                })
            }
            Err(e) => tracing::error!(error = %e, "failed to start name resolution query"),
        }
    }

    /// Counts one answer to our conflict query; false if `query` is not that query.
    pub(crate) fn count_conflict_response(&mut self, query: u64, payload: &[u8]) -> bool {
        let me = self.advertise;
        let Some(vote) = self.conflict.as_mut().filter(|v| v.query == query) else {
            return false;
        };
        match decode_conflict_response(payload) {
            Ok(member) => {
                vote.responses += 1;
                if member.is_some_and(|m| {
                    crate::memberlist::ip_from_bytes(&m.addr) == Some(me.ip())
                        && m.port == me.port()
                }) {
                    vote.matching += 1;
                }
            }
            Err(e) => tracing::error!(error = %e, "invalid conflict query response"),
        }
        true
    }

    /// Decides a finished conflict vote; false if `query` is not the conflict query.
    pub(crate) fn finish_conflict_vote(&mut self, query: u64) -> bool {
        let Some(vote) = self.conflict.filter(|v| v.query == query) else {
            return false;
        };
        self.conflict = None;
        let majority = vote.responses / 2 + 1;
        if vote.matching >= majority {
            tracing::info!(
                matching = vote.matching,
                responses = vote.responses,
                "majority in name conflict resolution"
            );
        } else {
            tracing::warn!(
                matching = vote.matching,
                responses = vote.responses,
                "minority in name conflict resolution, shutting down"
            );
            self.conflict_lost = true;
        }
        true
    }

    /// Whether this node lost a name-conflict vote and stopped.
    pub fn conflict_lost(&self) -> bool {
        self.conflict_lost
    }

    fn broadcast_finished(&mut self, token: u64) {
        if token == LEAVE_INTENT_TOKEN {
            let now = self.now;
            self.leave_step_memberlist(now);
        }
    }

    /// Tags as configured.
    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.cfg.tags
    }
}
