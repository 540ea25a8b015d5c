//! Failure detection (`probeNode`): a direct ping, then indirect pings through k members plus a
//! TCP ping, then suspicion; Lifeguard's awareness adjusts from acks and nacks. Also the relay
//! side of indirect pings, and the gossip and push/pull rounds.

use std::net::SocketAddr;

use super::{
    ip_from_bytes, ip_to_bytes, AckHandler, Delegate, Memberlist, NodeStatus, PendingStream, Probe,
    TimerKind,
};
use crate::output::{Output, StreamRequest};
use crate::time::Time;
use crate::wire::messages::{Ack, IndirectPing, Nack, Ping, Suspect, WireMessage};
use crate::wire::{make_compound, COMPOUND_HEADER_OVERHEAD, COMPOUND_OVERHEAD};

impl<D: Delegate> Memberlist<D> {
    pub(crate) fn probe_tick(&mut self, now: Time) {
        if self.probe.is_some() {
            return; // still within an awareness-stretched probe round
        }
        let mut checked = 0;
        loop {
            if checked >= self.nodes.len() {
                return;
            }
            if self.probe_index >= self.nodes.len() {
                self.reset_nodes(now);
                self.probe_index = 0;
                checked += 1;
                continue;
            }
            let i = self.probe_index;
            self.probe_index += 1;
            let n = &self.nodes[i];
            if n.name == self.name || n.dead_or_left() {
                checked += 1;
                continue;
            }
            self.start_probe(i, now);
            return;
        }
    }

    fn self_ping(&mut self, target: &str) -> Ping {
        Ping {
            seq_no: self.next_seq(),
            node: target.to_string(),
            source_addr: ip_to_bytes(self.advertise.ip()),
            source_port: self.advertise.port(),
            source_node: self.name.to_string(),
        }
    }

    fn start_probe(&mut self, idx: usize, now: Time) {
        let interval = self.awareness.scale(self.cfg.probe_interval);
        let node = self.nodes[idx].clone();
        let ping = self.self_ping(&node.name);
        let seq = ping.seq_no;
        self.acks.insert(seq, AckHandler::Probe);
        self.probe = Some(Probe {
            seq,
            node: node.name.clone(),
            incarnation: node.incarnation,
            sent: now,
            deadline: now + interval,
            expected_nacks: 0,
            nacks: 0,
            tcp_ok: false,
        });
        if node.status == NodeStatus::Alive {
            // Like memberlist, plain probes and replies go without a CRC (only gossip and the
            // ping+suspect compound are sent with the node at hand); saves 5 bytes each.
            self.send_msg(node.socket(), None, ping.encode());
        } else {
            // A suspect gets the accusation along with the ping so it can refute at once.
            let s = Suspect {
                incarnation: node.incarnation,
                node: node.name.to_string(),
                from: self.name.to_string(),
            };
            let c = make_compound(&[ping.encode(), s.encode()]);
            self.raw_send_packet(node.socket(), Some(node.pmax()), c);
        }
        self.schedule(now + self.cfg.probe_timeout, TimerKind::ProbeIndirect(seq));
        self.schedule(now + interval, TimerKind::ProbeEnd(seq));
    }

    pub(crate) fn probe_indirect(&mut self, seq: u32) {
        let Some(p) = self.probe.as_ref().filter(|p| p.seq == seq) else {
            return;
        };
        let target_name = p.node.clone();
        let deadline = p.deadline;
        let Some(tidx) = self.index.get(&self.nodes, &target_name) else {
            return;
        };
        let target = self.nodes[tidx].clone();
        let me = self.name.clone();
        let peers = self.k_random(self.cfg.indirect_checks, |n| {
            n.name != me && n.name != target_name && n.status == NodeStatus::Alive
        });
        let mut expected = 0;
        for i in peers {
            let peer = self.nodes[i].clone();
            let nack = peer.pmax() >= 4;
            expected += usize::from(nack);
            let ind = IndirectPing {
                seq_no: seq,
                target: ip_to_bytes(target.addr),
                port: target.port,
                node: target.name.to_string(),
                nack,
                source_addr: ip_to_bytes(self.advertise.ip()),
                source_port: self.advertise.port(),
                source_node: self.name.to_string(),
            };
            self.send_msg(peer.socket(), None, ind.encode());
        }
        if let Some(p) = self.probe.as_mut() {
            p.expected_nacks = expected;
        }
        // TCP fallback: catches nodes that lost UDP but still talk TCP, avoiding flapping.
        if !self.cfg.disable_tcp_pings && target.pmax() >= 3 {
            let ping = Ping {
                seq_no: seq,
                node: target.name.to_string(),
                source_addr: ip_to_bytes(self.advertise.ip()),
                source_port: self.advertise.port(),
                source_node: self.name.to_string(),
            };
            let data = self.seal_stream(ping.encode());
            let id = self.next_stream_id();
            self.streams.insert(id, PendingStream::PingFallback { seq });
            self.stats.streams_sent += 1;
            self.stats.stream_bytes_sent += data.len() as u64;
            self.out.push(Output::Stream(StreamRequest {
                id,
                to: target.socket(),
                data,
                expect_reply: true,
                deadline,
            }));
        }
    }

    pub(crate) fn probe_end(&mut self, seq: u32, now: Time) {
        if self.probe.as_ref().map(|p| p.seq) != Some(seq) {
            return;
        }
        let Some(p) = self.probe.take() else {
            return;
        };
        self.acks.remove(&seq);
        if p.tcp_ok {
            tracing::warn!(node = %p.node, "reachable over TCP but not UDP; network may be misconfigured");
            self.awareness.apply(-1);
            return;
        }
        // Lifeguard: missing nacks mean *we* may be the problem, so count them against us.
        let delta = if p.expected_nacks > 0 {
            p.expected_nacks.saturating_sub(p.nacks) as i64
        } else {
            1
        };
        self.awareness.apply(delta);
        tracing::debug!(node = %p.node, "suspect: no acks received");
        let s = Suspect {
            incarnation: p.incarnation,
            node: p.node.to_string(),
            from: self.name.to_string(),
        };
        self.suspect_node(s, now);
    }

    pub(crate) fn handle_ping(&mut self, p: Ping, from: SocketAddr) {
        if !p.node.is_empty() && p.node != *self.name {
            tracing::warn!(node = %p.node, "got ping for unexpected node");
            return;
        }
        let ack = Ack {
            seq_no: p.seq_no,
            payload: self.delegate.ack_payload(),
        };
        let to = reply_addr(&p.source_addr, p.source_port, from);
        self.send_msg(to, None, ack.encode());
    }

    pub(crate) fn handle_indirect_ping(&mut self, ind: IndirectPing, from: SocketAddr, now: Time) {
        let port = if ind.port == 0 {
            self.cfg.bind_port
        } else {
            ind.port
        };
        let Some(ip) = ip_from_bytes(&ind.target) else {
            return;
        };
        let ping = self.self_ping(&ind.node);
        let local_seq = ping.seq_no;
        let reply_to = reply_addr(&ind.source_addr, ind.source_port, from);
        self.acks.insert(
            local_seq,
            AckHandler::Relay {
                orig_seq: ind.seq_no,
                reply_to,
                nack: ind.nack,
            },
        );
        self.schedule(
            now + self.cfg.probe_timeout,
            TimerKind::AckExpire(local_seq),
        );
        self.send_msg(SocketAddr::new(ip, port), None, ping.encode());
    }

    pub(crate) fn handle_ack(&mut self, ack: Ack, now: Time) {
        let Some(h) = self.acks.remove(&ack.seq_no) else {
            return;
        };
        match h {
            AckHandler::Probe => {
                let Some(p) = self.probe.as_ref().filter(|p| p.seq == ack.seq_no) else {
                    return;
                };
                let rtt = now.since(p.sent);
                let name = p.node.clone();
                self.probe = None;
                self.awareness.apply(-1);
                if let Some(i) = self.index.get(&self.nodes, &name) {
                    let info = self.nodes[i].info();
                    self.delegate.notify_ping_complete(&info, rtt, &ack.payload);
                }
            }
            AckHandler::Relay {
                orig_seq, reply_to, ..
            } => {
                let fwd = Ack {
                    seq_no: orig_seq,
                    payload: Vec::new(),
                };
                self.send_msg(reply_to, None, fwd.encode());
            }
        }
    }

    pub(crate) fn handle_nack(&mut self, nack: Nack) {
        if let Some(p) = self.probe.as_mut() {
            if p.seq == nack.seq_no
                && matches!(self.acks.get(&nack.seq_no), Some(AckHandler::Probe))
            {
                p.nacks += 1;
            }
        }
    }

    pub(crate) fn ack_expire(&mut self, seq: u32) {
        if let Some(AckHandler::Relay {
            orig_seq,
            reply_to,
            nack,
        }) = self.acks.get(&seq)
        {
            let (orig_seq, reply_to, nack) = (*orig_seq, *reply_to, *nack);
            self.acks.remove(&seq);
            if nack {
                self.send_msg(reply_to, None, Nack { seq_no: orig_seq }.encode());
            }
        }
    }

    /// One gossip round: piggy-back queued broadcasts to a few random members.
    pub(crate) fn gossip(&mut self, now: Time) {
        let me = self.name.clone();
        let dead_time = self.cfg.gossip_to_the_dead_time;
        let targets = self.k_random(self.cfg.gossip_nodes, |n| {
            if n.name == me {
                return false;
            }
            match n.status {
                NodeStatus::Alive | NodeStatus::Suspect => true,
                NodeStatus::Dead => now.since(n.state_change) <= dead_time,
                NodeStatus::Left => false,
            }
        });
        let mut avail = self.cfg.udp_buffer_size - COMPOUND_HEADER_OVERHEAD;
        if self.cfg.encrypt_outgoing() {
            avail -= crate::security::encrypt_overhead(self.cfg.encryption_version());
        }
        for i in targets {
            let msgs = self.get_broadcasts(COMPOUND_OVERHEAD, avail);
            if msgs.is_empty() {
                return;
            }
            let (to, pmax) = (self.nodes[i].socket(), self.nodes[i].pmax());
            if msgs.len() == 1 {
                let m = msgs.into_iter().next().unwrap_or_default();
                self.raw_send_packet(to, Some(pmax), m);
            } else {
                let c = make_compound(&msgs);
                self.raw_send_packet(to, Some(pmax), c);
            }
        }
    }

    /// Periodic anti-entropy with one random live member.
    pub(crate) fn push_pull_random(&mut self, now: Time) {
        let me = self.name.clone();
        let pick = self.k_random(1, |n| n.name != me && n.status == NodeStatus::Alive);
        if let Some(&i) = pick.first() {
            let to = self.nodes[i].socket();
            self.start_push_pull(to, false, None, now);
        }
    }
}

fn reply_addr(source_addr: &[u8], source_port: u16, from: SocketAddr) -> SocketAddr {
    match ip_from_bytes(source_addr) {
        Some(ip) if source_port > 0 => SocketAddr::new(ip, source_port),
        _ => from,
    }
}
