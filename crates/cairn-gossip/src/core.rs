//! [`Core`]: the complete sans-IO gossip node, memberlist with the serf layer on top.
//!
//! Feed it packets, stream messages, stream replies and timer ticks with the current [`Time`];
//! drain [`Output`]s. Nothing here touches sockets or clocks.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use base64::Engine;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::event::{Member, QueryEvent};
use crate::memberlist::{Memberlist, Stats, META_MAX_SIZE};
use crate::output::{Output, StreamId};
use crate::rng::Rng;
use crate::security::Keyring;
use crate::serf::coordinate::Coordinate;
use crate::serf::messages::{
    encode_conflict_response, encode_tags, ConflictMember, KeyRequest, KeyResponse, LamportTime,
    SerfMessage,
};
use crate::serf::query::INTERNAL_QUERY_PREFIX;
use crate::serf::{QueryParams, Serf, SerfState};
use crate::time::Time;

/// Which keyring operation a key-management query performs on every member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOp {
    /// `_serf_install-key`.
    Install,
    /// `_serf_use-key`.
    Use,
    /// `_serf_remove-key`.
    Remove,
    /// `_serf_list-keys`.
    List,
}

impl KeyOp {
    fn query_name(self) -> &'static str {
        match self {
            KeyOp::Install => "_serf_install-key",
            KeyOp::Use => "_serf_use-key",
            KeyOp::Remove => "_serf_remove-key",
            KeyOp::List => "_serf_list-keys",
        }
    }
}

/// A gossip node.
pub struct Core {
    ml: Memberlist<Serf>,
    /// Stopped after losing a name-conflict vote: every input is ignored.
    halted: bool,
}

impl Core {
    /// Starts a node advertising `advertise`. `seed` drives all randomness (use
    /// [`Rng::from_entropy`]'s output in production, a fixed value in simulations);
    /// `restored_clocks` are member/event/query clocks from a snapshot.
    pub fn new(
        cfg: Config,
        advertise: SocketAddr,
        seed: u64,
        restored_clocks: Option<[LamportTime; 3]>,
        now: Time,
    ) -> Result<Self> {
        cfg.validate()?;
        if encode_tags(&cfg.tags).len() > META_MAX_SIZE {
            return Err(Error::MetaTooLarge(META_MAX_SIZE));
        }
        let serf = Serf::new(cfg.clone(), advertise, seed, restored_clocks, now);
        let ml = Memberlist::new(cfg, serf, advertise, Rng::new(seed), now)?;
        Ok(Core { ml, halted: false })
    }

    /// A UDP datagram arrived.
    pub fn handle_packet(&mut self, from: SocketAddr, data: &[u8], now: Time) {
        if self.halted {
            return;
        }
        self.ml.delegate_mut().now = now;
        self.ml.handle_packet(from, data, now);
        self.after(now);
    }

    /// A complete stream message arrived on an accepted connection; returns the reply to write.
    pub fn handle_stream(&mut self, from: SocketAddr, data: &[u8], now: Time) -> Option<Vec<u8>> {
        if self.halted {
            return None;
        }
        self.ml.delegate_mut().now = now;
        let r = self.ml.handle_stream(from, data, now);
        self.after(now);
        r
    }

    /// An outgoing exchange finished.
    pub fn handle_stream_reply(
        &mut self,
        id: StreamId,
        reply: std::result::Result<Vec<u8>, String>,
        now: Time,
    ) {
        if self.halted {
            return;
        }
        self.ml.delegate_mut().now = now;
        self.ml.handle_stream_reply(id, reply, now);
        self.after(now);
    }

    /// Runs due timers.
    pub fn handle_timeout(&mut self, now: Time) {
        if self.halted {
            return;
        }
        self.ml.delegate_mut().now = now;
        self.ml.handle_timeout(now);
        self.after(now);
    }

    /// When to call [`Core::handle_timeout`] next.
    pub fn next_timeout(&self) -> Option<Time> {
        if self.halted {
            return None;
        }
        self.ml.next_timeout()
    }

    /// Effects since the last call.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        let mut v = Vec::new();
        self.drain_outputs_into(&mut v);
        v
    }

    /// Appends effects to `out`.
    pub fn drain_outputs_into(&mut self, out: &mut Vec<Output>) {
        self.ml.drain_outputs_into(out);
        out.append(&mut self.ml.delegate_mut().out);
    }

    fn after(&mut self, now: Time) {
        let internal = std::mem::take(&mut self.ml.delegate_mut().internal_queries);
        for q in internal {
            self.handle_internal_query(q);
        }
        self.ml.flush(now);
        if self.ml.delegate().conflict_lost() && !self.halted {
            // serf shuts down without a leave: the pool keeps the other node and sees this
            // one fail. Packets and exchanges already built are dropped; events and
            // completions still reach the application.
            tracing::error!(node = %self.ml.name(), "lost the name conflict vote; gossip stopped");
            self.halted = true;
            let mut pending = Vec::new();
            self.drain_outputs_into(&mut pending);
            self.ml.delegate_mut().out.extend(
                pending
                    .into_iter()
                    .filter(|o| !matches!(o, Output::Packet { .. } | Output::Stream(_))),
            );
        }
    }

    /// Joins the pool through these addresses; completion arrives as [`Output::JoinDone`].
    /// With `ignore_old_events`, user events from before the join are not replayed.
    pub fn join(
        &mut self,
        addrs: &[SocketAddr],
        ignore_old_events: bool,
        now: Time,
    ) -> Result<u64> {
        if self.halted || self.ml.delegate().state() != SerfState::Alive {
            return Err(Error::State("Serf can't Join after Leave or Shutdown"));
        }
        self.ml.delegate_mut().event_join_ignore = ignore_old_events;
        let id = self.ml.join(addrs, now);
        self.after(now);
        Ok(id)
    }

    /// Leaves gracefully; [`Output::LeaveDone`] follows once the leave has been gossiped.
    pub fn leave(&mut self, now: Time) -> Result<()> {
        if self.halted {
            return Err(Error::State("serf is shut down (lost a name conflict)"));
        }
        self.ml.delegate_mut().start_leave(now)?;
        self.after(now);
        Ok(())
    }

    /// Forces a member out: a failed member becomes `left` across the pool; with `prune` it is
    /// erased at once instead of waiting for the tombstone timeout (serf `force-leave -prune`).
    pub fn force_leave(&mut self, node: &str, prune: bool, now: Time) -> Result<()> {
        if self.halted {
            return Err(Error::State("serf is shut down (lost a name conflict)"));
        }
        self.ml.delegate_mut().force_leave(node, prune, now)?;
        self.after(now);
        Ok(())
    }

    /// Every member we know (including failed and left ones not yet reaped), sorted by name.
    pub fn members(&self) -> Vec<Member> {
        self.ml.delegate().members()
    }

    /// One member.
    pub fn member(&self, name: &str) -> Option<Member> {
        self.ml.delegate().member(name).cloned()
    }

    /// Ourselves.
    pub fn local_member(&self) -> Option<Member> {
        self.member(self.ml.name())
    }

    /// Our name.
    pub fn name(&self) -> &str {
        self.ml.name()
    }

    /// Whether this node stopped after losing a name-conflict vote (another node at another
    /// address holds our name for the majority of the pool). A stopped core ignores all input;
    /// restart it under a unique name.
    pub fn is_shut_down(&self) -> bool {
        self.halted
    }

    /// Our serf state.
    pub fn state(&self) -> SerfState {
        self.ml.delegate().state()
    }

    /// Fires a user event.
    pub fn user_event(
        &mut self,
        name: &str,
        payload: &[u8],
        coalesce: bool,
        now: Time,
    ) -> Result<()> {
        if self.halted {
            return Err(Error::State("serf is shut down (lost a name conflict)"));
        }
        self.ml
            .delegate_mut()
            .user_event(name, payload, coalesce, now)?;
        self.after(now);
        Ok(())
    }

    /// Sends a query; responses arrive as events carrying the returned id.
    pub fn query(
        &mut self,
        name: &str,
        payload: &[u8],
        params: &QueryParams,
        now: Time,
    ) -> Result<u64> {
        if self.halted {
            return Err(Error::State("serf is shut down (lost a name conflict)"));
        }
        let id = self.ml.delegate_mut().query(name, payload, params, now)?;
        self.after(now);
        Ok(id)
    }

    /// Answers a query received as [`crate::Event::Query`].
    pub fn respond(&mut self, query: u64, payload: &[u8], now: Time) -> Result<()> {
        self.ml.delegate_mut().respond(query, payload)?;
        self.after(now);
        Ok(())
    }

    /// Replaces our tags and gossips them.
    pub fn set_tags(&mut self, tags: BTreeMap<String, String>, now: Time) -> Result<()> {
        if encode_tags(&tags).len() > META_MAX_SIZE {
            return Err(Error::MetaTooLarge(META_MAX_SIZE));
        }
        self.ml.delegate_mut().cfg.tags = tags.clone();
        self.ml.config_mut().tags = tags;
        self.ml
            .delegate_mut()
            .actions
            .push(crate::memberlist::DelegateAction::UpdateMeta);
        self.after(now);
        Ok(())
    }

    /// Our Vivaldi coordinate (`None` if disabled).
    pub fn coordinate(&self) -> Option<Coordinate> {
        self.ml.delegate().coordinate().cloned()
    }

    /// A member's last-known coordinate.
    pub fn coordinate_of(&self, name: &str) -> Option<Coordinate> {
        self.ml.delegate().coordinate_of(name).cloned()
    }

    /// Lifeguard health score (0 is healthy).
    pub fn health_score(&self) -> usize {
        self.ml.health_score()
    }

    /// Traffic counters.
    pub fn stats(&self) -> Stats {
        self.ml.stats()
    }

    /// Member, event and query Lamport clocks (for snapshots).
    pub fn clocks(&self) -> [LamportTime; 3] {
        self.ml.delegate().clocks()
    }

    /// The local keyring (`None` when encryption is off).
    pub fn keyring(&self) -> Option<&Keyring> {
        self.ml.config().keyring.as_ref()
    }

    /// Changes the local keyring only.
    pub fn keyring_op(&mut self, op: KeyOp, key: &[u8]) -> Result<()> {
        let ring = self.ml.config_mut().keyring.as_mut().ok_or(Error::Keyring(
            "No keyring to modify (encryption not enabled)".into(),
        ))?;
        match op {
            KeyOp::Install => ring.install(key),
            KeyOp::Use => ring.use_key(key),
            KeyOp::Remove => ring.remove(key),
            KeyOp::List => Ok(()),
        }
    }

    /// Runs a key operation on every member through serf's internal key queries; each member's
    /// answer arrives as a [`crate::Event::QueryResponse`] decodable with [`decode_key_response`].
    pub fn key_query(&mut self, op: KeyOp, key: &[u8], now: Time) -> Result<u64> {
        let payload = if op == KeyOp::List {
            Vec::new()
        } else {
            KeyRequest { key: key.to_vec() }.encode()
        };
        self.query(op.query_name(), &payload, &QueryParams::default(), now)
    }

    /// `_serf_conflict`: tell the asker which address we know for the contested name (nothing
    /// if the name is ours, `nil` if we do not know it).
    fn answer_conflict_query(&mut self, q: &QueryEvent) {
        let node = String::from_utf8_lossy(&q.payload);
        if node == self.ml.name() {
            return;
        }
        let member = self.ml.delegate().member(&node).map(|m| ConflictMember {
            name: m.name.clone(),
            addr: crate::memberlist::ip_to_bytes(m.addr),
            port: m.port,
            tags: m.tags.clone(),
            status: m.status.code(),
            vsn: [
                m.protocol_min,
                m.protocol_max,
                m.protocol_cur,
                m.delegate_min,
                m.delegate_max,
                m.delegate_cur,
            ],
        });
        let payload = encode_conflict_response(member.as_ref());
        if let Err(e) = self.ml.delegate_mut().respond(q.id, &payload) {
            tracing::error!(error = %e, "failed to answer conflict query");
        }
    }

    fn handle_internal_query(&mut self, q: QueryEvent) {
        let name = &q.name[INTERNAL_QUERY_PREFIX.len()..];
        let op = match name {
            "install-key" => KeyOp::Install,
            "use-key" => KeyOp::Use,
            "remove-key" => KeyOp::Remove,
            "list-keys" => KeyOp::List,
            crate::serf::CONFLICT_QUERY => {
                self.answer_conflict_query(&q);
                return;
            }
            // `ping` only wants acks.
            _ => return,
        };
        let mut resp = KeyResponse::default();
        let result = if op == KeyOp::List {
            match self.keyring() {
                Some(ring) if !ring.keys().is_empty() => {
                    let b64 = base64::engine::general_purpose::STANDARD;
                    resp.keys = ring.keys().iter().map(|k| b64.encode(k)).collect();
                    resp.primary_key = ring.primary().map(|k| b64.encode(k)).unwrap_or_default();
                    Ok(())
                }
                _ => Err(Error::Keyring(
                    "Keyring is empty (encryption not enabled)".into(),
                )),
            }
        } else {
            match q.payload.split_first() {
                Some((_, body)) => match KeyRequest::decode_body(body) {
                    Ok(req) => self.keyring_op(op, &req.key),
                    Err(e) => Err(Error::Decode(e)),
                },
                None => Err(Error::Truncated),
            }
        };
        match result {
            Ok(()) => resp.result = true,
            Err(Error::Keyring(m)) => resp.message = m,
            Err(e) => resp.message = e.to_string(),
        }
        let payload = resp.encode();
        if let Err(e) = self.ml.delegate_mut().respond(q.id, &payload) {
            tracing::error!(error = %e, "failed to answer key query");
        }
    }
}

/// Decodes a member's answer to a [`Core::key_query`].
pub fn decode_key_response(payload: &[u8]) -> Result<KeyResponse> {
    match payload.split_first() {
        Some((&t, body)) if t == crate::serf::messages::SerfMessageType::KeyResponse as u8 => {
            Ok(KeyResponse::decode_body(body)?)
        }
        _ => Err(Error::Truncated),
    }
}

impl crate::sim::SimNode for Core {
    fn handle_packet(&mut self, from: SocketAddr, data: &[u8], now: Time) {
        Core::handle_packet(self, from, data, now)
    }
    fn handle_stream(&mut self, from: SocketAddr, data: &[u8], now: Time) -> Option<Vec<u8>> {
        Core::handle_stream(self, from, data, now)
    }
    fn handle_stream_reply(
        &mut self,
        id: StreamId,
        reply: std::result::Result<Vec<u8>, String>,
        now: Time,
    ) {
        Core::handle_stream_reply(self, id, reply, now)
    }
    fn handle_timeout(&mut self, now: Time) {
        Core::handle_timeout(self, now)
    }
    fn next_timeout(&self) -> Option<Time> {
        Core::next_timeout(self)
    }
    fn drain_outputs(&mut self, out: &mut Vec<Output>) {
        self.drain_outputs_into(out)
    }
}
