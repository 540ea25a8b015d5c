//! Queries (`query.go`, `serf.go`): gossiped like events, filtered by node name or tag regex,
//! acked and answered directly over UDP, with optional relayed duplicate responses.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use super::messages::*;
use super::{Serf, SerfTimer};
use crate::codec::msgpack::Encoder;
use crate::event::{Event, MemberStatus, QueryEvent};
use crate::memberlist::{ip_from_bytes, ip_to_bytes, DelegateAction};
use crate::time::Time;

/// Prefix of serf's internal queries.
pub const INTERNAL_QUERY_PREFIX: &str = "_serf_";

/// Options for [`crate::core::Core::query`].
#[derive(Debug, Clone, Default)]
pub struct QueryParams {
    /// Only these nodes answer.
    pub filter_nodes: Vec<String>,
    /// Only nodes whose tag matches the regular expression answer.
    pub filter_tags: Vec<(String, String)>,
    /// Ask every node that sees the query to ack it.
    pub request_ack: bool,
    /// Responses are also relayed through this many random members.
    pub relay_factor: u8,
    /// How long to collect responses (zero: serf's default for the cluster size).
    pub timeout: Duration,
}

pub(crate) struct OutQuery {
    pub local_id: u64,
    pub wire_id: u32,
    pub acks: HashSet<String>,
    pub responses: HashSet<String>,
    pub done: bool,
}

pub(crate) struct InQuery {
    pub ltime: LamportTime,
    pub wire_id: u32,
    pub reply_to: SocketAddr,
    pub source_node: String,
    pub relay_factor: u8,
}

impl Serf {
    /// serf's default query timeout: `gossip_interval * mult * ceil(log10(n + 1))`.
    pub fn default_query_timeout(&self) -> Duration {
        let n = self
            .members
            .values()
            .filter(|m| m.member.status == MemberStatus::Alive)
            .count();
        let scale = ((n + 1) as f64).log10().ceil().max(1.0) as u32;
        self.cfg.gossip_interval * self.cfg.query_timeout_mult * scale
    }

    /// Starts a query; returns its local id. Responses come as events.
    pub(crate) fn query(
        &mut self,
        name: &str,
        payload: &[u8],
        params: &QueryParams,
        now: Time,
    ) -> crate::Result<u64> {
        if self.cfg.serf_protocol_version < 4 {
            return Err(crate::Error::State("Feature not supported"));
        }
        let timeout = if params.timeout.is_zero() {
            self.default_query_timeout()
        } else {
            params.timeout
        };
        let mut filters = Vec::new();
        if !params.filter_nodes.is_empty() {
            filters.push(Filter::Nodes(params.filter_nodes.clone()).encode());
        }
        for (tag, expr) in &params.filter_tags {
            filters.push(
                Filter::Tag {
                    tag: tag.clone(),
                    expr: expr.clone(),
                }
                .encode(),
            );
        }
        let q = QueryMsg {
            ltime: self.query_clock.time(),
            id: (self.rng.next_u64() as u32) & 0x7fff_ffff,
            addr: ip_to_bytes(self.advertise.ip()),
            port: self.advertise.port(),
            source_node: self.name.clone(),
            filters,
            flags: if params.request_ack {
                QUERY_FLAG_ACK
            } else {
                0
            },
            relay_factor: params.relay_factor,
            timeout_ns: timeout.as_nanos().min(i64::MAX as u128) as i64,
            name: name.to_string(),
            payload: payload.to_vec(),
        };
        let raw = q.encode();
        if raw.len() > self.cfg.query_size_limit {
            return Err(crate::Error::SizeLimit(format!(
                "query exceeds limit of {} bytes",
                self.cfg.query_size_limit
            )));
        }
        self.next_local_query += 1;
        let local_id = self.next_local_query;
        self.out_queries.insert(
            q.ltime,
            OutQuery {
                local_id,
                wire_id: q.id,
                acks: HashSet::new(),
                responses: HashSet::new(),
                done: false,
            },
        );
        self.set_timer(now + timeout, SerfTimer::QueryDeadline(q.ltime));
        self.handle_query(q, now);
        self.query_broadcasts.queue(raw, None, None);
        Ok(local_id)
    }

    pub(crate) fn query_deadline(&mut self, ltime: LamportTime) {
        if let Some(q) = self.out_queries.remove(&ltime) {
            if !self.finish_conflict_vote(q.local_id) {
                self.emit(Event::QueryDone { query: q.local_id });
            }
        }
    }

    fn should_process(&self, filters: &[Vec<u8>]) -> bool {
        for f in filters {
            match Filter::decode(f) {
                Ok(Filter::Nodes(nodes)) => {
                    if !nodes.contains(&self.name) {
                        return false;
                    }
                }
                Ok(Filter::Tag { tag, expr }) => {
                    let value = self.cfg.tags.get(&tag).map(String::as_str).unwrap_or("");
                    match regex::Regex::new(&expr) {
                        Ok(re) if re.is_match(value) => {}
                        _ => return false,
                    }
                }
                Err(_) => return false,
            }
        }
        true
    }

    /// Handles a query; true if it should be re-gossiped.
    pub(crate) fn handle_query(&mut self, q: QueryMsg, now: Time) -> bool {
        self.query_clock.witness(q.ltime);
        if q.ltime < self.query_min_time {
            return false;
        }
        let len = self.query_buffer.len() as u64;
        let cur = self.query_clock.time();
        if cur > len && q.ltime < cur - len {
            return false;
        }
        let idx = (q.ltime % len) as usize;
        match &mut self.query_buffer[idx] {
            Some((lt, ids)) if *lt == q.ltime => {
                if ids.contains(&q.id) {
                    return false;
                }
                ids.push(q.id);
            }
            slot => *slot = Some((q.ltime, vec![q.id])),
        }
        let rebroadcast = q.flags & QUERY_FLAG_NO_BROADCAST == 0;
        if !self.should_process(&q.filters) {
            return rebroadcast;
        }
        let reply_to = match ip_from_bytes(&q.addr) {
            Some(ip) => SocketAddr::new(ip, q.port),
            None => return rebroadcast,
        };
        if q.flags & QUERY_FLAG_ACK != 0 {
            let ack = QueryResponseMsg {
                ltime: q.ltime,
                id: q.id,
                from: self.name.clone(),
                flags: QUERY_FLAG_ACK,
                payload: Vec::new(),
            };
            self.send_response(&ack, reply_to, &q.source_node, q.relay_factor);
        }
        self.next_local_query += 1;
        let local = self.next_local_query;
        let timeout = Duration::from_nanos(q.timeout_ns.max(0) as u64);
        self.in_queries.insert(
            local,
            InQuery {
                ltime: q.ltime,
                wire_id: q.id,
                reply_to,
                source_node: q.source_node.clone(),
                relay_factor: q.relay_factor,
            },
        );
        self.set_timer(now + timeout, SerfTimer::IncomingQueryExpire(local));
        let ev = QueryEvent {
            id: local,
            ltime: q.ltime,
            name: q.name,
            payload: q.payload,
            source_node: q.source_node,
            timeout,
        };
        if ev.name.starts_with(INTERNAL_QUERY_PREFIX) {
            self.internal_queries.push(ev);
        } else {
            self.emit(Event::Query(ev));
        }
        rebroadcast
    }

    fn send_response(
        &mut self,
        resp: &QueryResponseMsg,
        to: SocketAddr,
        dest_name: &str,
        relay_factor: u8,
    ) {
        let raw = resp.encode();
        self.actions.push(DelegateAction::SendUser {
            to,
            msg: raw.clone(),
        });
        if relay_factor == 0 {
            return;
        }
        let candidates: Vec<SocketAddr> = self
            .members
            .values()
            .filter(|m| {
                m.member.status == MemberStatus::Alive
                    && m.member.protocol_max >= 5
                    && m.member.name != self.name
            })
            .map(|m| SocketAddr::new(m.member.addr, m.member.port))
            .collect();
        if self.members.len() < relay_factor as usize + 1 {
            return;
        }
        let mut relay = vec![SerfMessageType::Relay as u8];
        RelayHeader {
            dest_ip: ip_to_bytes(to.ip()),
            dest_port: to.port(),
            dest_name: dest_name.to_string(),
        }
        .encode_into(&mut Encoder::new(&mut relay));
        relay.extend_from_slice(&raw);
        if relay.len() > self.cfg.query_response_size_limit {
            return;
        }
        let mut picked: Vec<SocketAddr> = Vec::new();
        for _ in 0..3 * candidates.len() {
            if picked.len() >= relay_factor as usize {
                break;
            }
            let c = candidates[self.rng.below(candidates.len())];
            if !picked.contains(&c) {
                picked.push(c);
            }
        }
        for to in picked {
            self.actions.push(DelegateAction::SendUser {
                to,
                msg: relay.clone(),
            });
        }
    }

    /// Answers an incoming query.
    pub(crate) fn respond(&mut self, id: u64, payload: &[u8]) -> crate::Result<()> {
        let q = self.in_queries.get(&id).ok_or(crate::Error::State(
            "query unknown, answered or past its deadline",
        ))?;
        let resp = QueryResponseMsg {
            ltime: q.ltime,
            id: q.wire_id,
            from: self.name.clone(),
            flags: 0,
            payload: payload.to_vec(),
        };
        if resp.encode().len() > self.cfg.query_response_size_limit {
            return Err(crate::Error::SizeLimit(format!(
                "response exceeds limit of {} bytes",
                self.cfg.query_response_size_limit
            )));
        }
        let (to, name, rf) = (q.reply_to, q.source_node.clone(), q.relay_factor);
        self.in_queries.remove(&id);
        self.send_response(&resp, to, &name, rf);
        Ok(())
    }

    pub(crate) fn handle_query_response(&mut self, r: QueryResponseMsg, _now: Time) {
        let Some(q) = self.out_queries.get_mut(&r.ltime) else {
            return;
        };
        if q.wire_id != r.id || q.done {
            return;
        }
        let query = q.local_id;
        if r.flags & QUERY_FLAG_ACK != 0 {
            if q.acks.insert(r.from.clone()) {
                self.emit(Event::QueryAck {
                    query,
                    from: r.from,
                });
            }
        } else if q.responses.insert(r.from.clone()) {
            if self.count_conflict_response(query, &r.payload) {
                return;
            }
            self.emit(Event::QueryResponse {
                query,
                from: r.from,
                payload: r.payload,
            });
        }
    }

    pub(crate) fn handle_relay(&mut self, body: &[u8]) {
        let mut d = crate::codec::msgpack::Decoder::new(body);
        let header = match d
            .value()
            .map_err(crate::Error::from)
            .and_then(|v| Ok(RelayHeader::decode_struct(&v.as_struct("relayHeader")?)?))
        {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "bad relay header");
                return;
            }
        };
        let Some(ip) = ip_from_bytes(&header.dest_ip) else {
            return;
        };
        let msg = d.rest().to_vec();
        self.actions.push(DelegateAction::SendUser {
            to: SocketAddr::new(ip, header.dest_port),
            msg,
        });
    }
}
