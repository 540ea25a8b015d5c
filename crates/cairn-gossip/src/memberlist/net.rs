//! Packet and stream pipelines (`net.go`): compression, CRC, encryption, compound messages,
//! piggy-backing, and the push/pull exchange.

use std::net::SocketAddr;

use super::{ip_to_bytes, Delegate, Memberlist, NodeStatus, PendingStream};
use crate::codec::msgpack::{Decoder, Encoder};
use crate::error::{Error, Result};
use crate::output::{Output, StreamId, StreamRequest};
use crate::time::Time;
use crate::wire::messages::*;
use crate::wire::{
    add_crc, compress_payload, decompress, make_compound, split_compound, strip_crc, MessageType,
    COMPOUND_HEADER_OVERHEAD, COMPOUND_OVERHEAD, USER_MSG_OVERHEAD,
};

/// Packets nest compound-in-compress-in-compound at most this deep.
const MAX_NESTING: usize = 4;

impl<D: Delegate> Memberlist<D> {
    /// Sends `msg` to `to`, piggy-backing whatever broadcasts fit.
    pub(crate) fn send_msg(&mut self, to: SocketAddr, pmax: Option<u8>, msg: Vec<u8>) {
        let mut avail = self
            .cfg
            .udp_buffer_size
            .saturating_sub(msg.len() + COMPOUND_HEADER_OVERHEAD);
        if self.cfg.encrypt_outgoing() {
            avail = avail.saturating_sub(crate::security::encrypt_overhead(
                self.cfg.encryption_version(),
            ));
        }
        let extra = self.get_broadcasts(COMPOUND_OVERHEAD, avail);
        if extra.is_empty() {
            self.raw_send_packet(to, pmax, msg);
            return;
        }
        let mut msgs = Vec::with_capacity(extra.len() + 1);
        msgs.push(msg);
        msgs.extend(extra);
        let c = make_compound(&msgs);
        self.raw_send_packet(to, pmax, c);
    }

    /// Sends a packet as is, apart from compression, CRC (for protocol ≥ 5 peers) and encryption.
    pub(crate) fn raw_send_packet(&mut self, to: SocketAddr, pmax: Option<u8>, mut msg: Vec<u8>) {
        if self.cfg.enable_compression {
            let z = compress_payload(&msg);
            if z.len() < msg.len() {
                msg = z;
            }
        }
        if pmax.unwrap_or(0) >= 5 {
            msg = add_crc(&msg);
        }
        if self.cfg.encrypt_outgoing() {
            let mut nonce = [0u8; 12];
            self.rng.fill(&mut nonce);
            let version = self.cfg.encryption_version();
            match self
                .cfg
                .keyring
                .as_ref()
                .map(|k| k.encrypt_packet(version, &msg, nonce))
            {
                Some(Ok(enc)) => msg = enc,
                _ => {
                    tracing::error!("encryption of packet failed");
                    return;
                }
            }
        }
        self.stats.packets_sent += 1;
        self.stats.packet_bytes_sent += msg.len() as u64;
        self.out.push(Output::Packet { to, data: msg });
    }

    /// memberlist's broadcasts, then the delegate's wrapped as user messages.
    pub(crate) fn get_broadcasts(&mut self, overhead: usize, limit: usize) -> Vec<Vec<u8>> {
        let n = self.nodes.len();
        let mut out = self
            .broadcasts
            .get(overhead, limit, n, self.cfg.retransmit_mult);
        let used: usize = out.iter().map(|m| m.len() + overhead).sum();
        let avail = limit.saturating_sub(used);
        if avail > overhead + USER_MSG_OVERHEAD {
            for m in self
                .delegate
                .get_broadcasts(overhead + USER_MSG_OVERHEAD, avail, n)
            {
                let mut b = Vec::with_capacity(m.len() + 1);
                b.push(MessageType::User as u8);
                b.extend_from_slice(&m);
                out.push(b);
            }
        }
        out
    }

    /// A UDP datagram arrived.
    pub fn handle_packet(&mut self, from: SocketAddr, buf: &[u8], now: Time) {
        self.stats.packets_received += 1;
        let decrypted;
        let mut buf = buf;
        if let Some(ring) = self.cfg.keyring.as_ref().filter(|k| !k.keys().is_empty()) {
            match ring.decrypt_packet(buf) {
                Ok(p) => {
                    decrypted = p;
                    buf = &decrypted;
                }
                Err(e) if self.cfg.gossip_verify_incoming => {
                    tracing::error!(%from, error = %e, "decrypt packet failed");
                    return;
                }
                Err(_) => {}
            }
        }
        match strip_crc(buf) {
            Ok(msg) => self.handle_command(msg, from, now, 0),
            Err(e) => tracing::warn!(%from, error = %e, "bad packet"),
        }
        self.after_call(now);
    }

    fn handle_command(&mut self, buf: &[u8], from: SocketAddr, now: Time, depth: usize) {
        if let Err(e) = self.try_handle_command(buf, from, now, depth) {
            tracing::warn!(%from, error = %e, "dropping message");
        }
    }

    fn try_handle_command(
        &mut self,
        buf: &[u8],
        from: SocketAddr,
        now: Time,
        depth: usize,
    ) -> Result<()> {
        let (&t, body) = buf.split_first().ok_or(Error::Truncated)?;
        let ty = MessageType::from_u8(t).ok_or(Error::UnknownMessageType(t))?;
        match ty {
            MessageType::Compound if depth < MAX_NESTING => {
                let (parts, trunc) = split_compound(body)?;
                if trunc > 0 {
                    tracing::warn!(%from, trunc, "compound message had truncated parts");
                }
                for p in parts {
                    self.handle_command(p, from, now, depth + 1);
                }
            }
            MessageType::Compress if depth < MAX_NESTING => {
                let c = Compress::decode_body(body)?;
                let inner = decompress(&c)?;
                self.handle_command(&inner, from, now, depth + 1);
            }
            MessageType::Ping => self.handle_ping(Ping::decode_body(body)?, from),
            MessageType::IndirectPing => {
                self.handle_indirect_ping(IndirectPing::decode_body(body)?, from, now)
            }
            MessageType::Ack => self.handle_ack(Ack::decode_body(body)?, now),
            MessageType::Nack => self.handle_nack(Nack::decode_body(body)?),
            MessageType::Suspect => self.suspect_node(Suspect::decode_body(body)?, now),
            MessageType::Alive => {
                let mut a = Alive::decode_body(body)?;
                if a.port == 0 {
                    a.port = self.cfg.bind_port;
                }
                self.alive_node(a, false, None, now)
            }
            MessageType::Dead => self.dead_node(Dead::decode_body(body)?, None, now),
            MessageType::User => self.delegate.notify_msg(body, now),
            other => return Err(Error::UnknownMessageType(other as u8)),
        }
        Ok(())
    }

    /// Prepares a stream message: compress, then encrypt with the stream framing.
    pub(crate) fn seal_stream(&mut self, msg: Vec<u8>) -> Vec<u8> {
        let mut msg = msg;
        if self.cfg.enable_compression {
            msg = compress_payload(&msg);
        }
        if self.cfg.encrypt_outgoing() {
            let mut nonce = [0u8; 12];
            self.rng.fill(&mut nonce);
            let version = self.cfg.encryption_version();
            if let Some(Ok(enc)) = self
                .cfg
                .keyring
                .as_ref()
                .map(|k| k.encrypt_stream(version, &msg, nonce))
            {
                msg = enc;
            }
        }
        msg
    }

    /// Undoes [`Memberlist::seal_stream`]: returns the plain message (type byte first).
    pub(crate) fn open_stream(&self, buf: &[u8]) -> Result<Vec<u8>> {
        let (&t, _) = buf.split_first().ok_or(Error::Truncated)?;
        let ring = self.cfg.keyring.as_ref().filter(|k| !k.keys().is_empty());
        let plain = if t == MessageType::Encrypt as u8 {
            let ring = ring.ok_or(Error::EncryptionMismatch(
                "Remote state is encrypted and encryption is not configured",
            ))?;
            ring.decrypt_stream(buf)?
        } else if ring.is_some() && self.cfg.gossip_verify_incoming {
            return Err(Error::EncryptionMismatch(
                "Encryption is configured but remote state is not encrypted",
            ));
        } else {
            buf.to_vec()
        };
        match plain.split_first() {
            Some((&t, body)) if t == MessageType::Compress as u8 => {
                let c = Compress::decode_body(body)?;
                Ok(decompress(&c)?)
            }
            Some(_) => Ok(plain),
            None => Err(Error::Truncated),
        }
    }

    fn error_reply(&mut self, e: &Error) -> Vec<u8> {
        let msg = ErrResp {
            error: e.to_string(),
        }
        .encode();
        self.seal_stream(msg)
    }

    /// A complete stream message arrived on an accepted TCP connection; returns the bytes to
    /// write back, if any. The driver frames messages with [`crate::wire::stream_frame_len`].
    pub fn handle_stream(&mut self, from: SocketAddr, buf: &[u8], now: Time) -> Option<Vec<u8>> {
        let reply = match self.try_handle_stream(from, buf, now) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%from, error = %e, "stream failed");
                Some(self.error_reply(&e))
            }
        };
        if let Some(r) = &reply {
            self.stats.stream_bytes_sent += r.len() as u64;
        }
        self.after_call(now);
        reply
    }

    fn try_handle_stream(
        &mut self,
        from: SocketAddr,
        buf: &[u8],
        now: Time,
    ) -> Result<Option<Vec<u8>>> {
        let plain = self.open_stream(buf)?;
        let (&t, body) = plain.split_first().ok_or(Error::Truncated)?;
        match MessageType::from_u8(t) {
            Some(MessageType::PushPull) => {
                let (join, nodes, user) = read_remote_state(body)?;
                let reply = self.encode_local_state(join);
                let reply = self.seal_stream(reply);
                self.merge_state(nodes, now);
                if !user.is_empty() {
                    self.delegate.merge_remote_state(&user, join, now);
                }
                Ok(Some(reply))
            }
            Some(MessageType::Ping) => {
                let p = Ping::decode_body(body)?;
                if !p.node.is_empty() && p.node != *self.name {
                    tracing::warn!(%from, node = %p.node, "stream ping for unexpected node");
                    return Ok(None);
                }
                let ack = Ack {
                    seq_no: p.seq_no,
                    payload: Vec::new(),
                };
                Ok(Some(self.seal_stream(ack.encode())))
            }
            Some(MessageType::User) => {
                let mut d = Decoder::new(body);
                let h = UserMsgHeader::decode_struct(&d.value()?.as_struct("userMsgHeader")?)?;
                let rest = d.rest();
                if rest.len() < h.user_msg_len {
                    return Err(Error::Truncated);
                }
                if h.user_msg_len > 0 {
                    self.delegate.notify_msg(&rest[..h.user_msg_len], now);
                }
                Ok(None)
            }
            _ => Err(Error::UnknownMessageType(t)),
        }
    }

    /// `[6][header][node states][delegate state]`.
    pub(crate) fn encode_local_state(&mut self, join: bool) -> Vec<u8> {
        let user = self.delegate.local_state(join);
        let mut buf = Vec::with_capacity(64 + self.nodes.len() * 64 + user.len());
        buf.push(MessageType::PushPull as u8);
        let mut e = Encoder::new(&mut buf);
        PushPullHeader {
            nodes: self.nodes.len(),
            user_state_len: user.len(),
            join,
        }
        .encode_body(&mut e);
        for n in &self.nodes {
            let state = match n.status {
                NodeStatus::Alive => WireState::Alive,
                NodeStatus::Suspect => WireState::Suspect,
                NodeStatus::Dead => WireState::Dead,
                NodeStatus::Left => WireState::Left,
            };
            PushNodeState {
                name: n.name.to_string(),
                addr: ip_to_bytes(n.addr),
                port: n.port,
                meta: n.meta.clone(),
                incarnation: n.incarnation,
                state,
                vsn: n.vsn.to_vec(),
            }
            .encode_into(&mut e);
        }
        buf.extend_from_slice(&user);
        buf
    }

    /// Starts a push/pull with `to`.
    pub(crate) fn start_push_pull(
        &mut self,
        to: SocketAddr,
        join: bool,
        join_id: Option<u64>,
        now: Time,
    ) {
        let msg = self.encode_local_state(join);
        let data = self.seal_stream(msg);
        let id = self.next_stream_id();
        self.streams
            .insert(id, PendingStream::PushPull { join, join_id });
        self.stats.streams_sent += 1;
        self.stats.stream_bytes_sent += data.len() as u64;
        self.out.push(Output::Stream(StreamRequest {
            id,
            to,
            data,
            expect_reply: true,
            deadline: now + self.cfg.tcp_timeout,
        }));
    }

    /// Sends a user message reliably over TCP.
    pub fn send_reliable(&mut self, to: SocketAddr, msg: &[u8], now: Time) {
        let mut buf = vec![MessageType::User as u8];
        UserMsgHeader {
            user_msg_len: msg.len(),
        }
        .encode_body(&mut Encoder::new(&mut buf));
        buf.extend_from_slice(msg);
        let data = self.seal_stream(buf);
        let id = self.next_stream_id();
        self.streams.insert(id, PendingStream::UserMsg);
        self.stats.streams_sent += 1;
        self.stats.stream_bytes_sent += data.len() as u64;
        self.out.push(Output::Stream(StreamRequest {
            id,
            to,
            data,
            expect_reply: false,
            deadline: now + self.cfg.tcp_timeout,
        }));
    }

    /// The outcome of an outgoing exchange: the reply frame, or an error text.
    pub fn handle_stream_reply(
        &mut self,
        id: StreamId,
        reply: std::result::Result<Vec<u8>, String>,
        now: Time,
    ) {
        let Some(pending) = self.streams.remove(&id) else {
            return;
        };
        match pending {
            PendingStream::PushPull { join, join_id } => {
                let res = reply.and_then(|buf| {
                    self.finish_push_pull(&buf, join, now)
                        .map_err(|e| e.to_string())
                });
                if let Err(e) = &res {
                    tracing::debug!(error = %e, "push/pull failed");
                }
                if let Some(jid) = join_id {
                    self.join_progress(jid, res, now);
                }
            }
            PendingStream::PingFallback { seq } => {
                if let Ok(buf) = reply {
                    let ok = self
                        .open_stream(&buf)
                        .ok()
                        .filter(|p| p.first() == Some(&(MessageType::Ack as u8)))
                        .and_then(|p| Ack::decode_body(&p[1..]).ok())
                        .is_some_and(|a| a.seq_no == seq);
                    if let Some(p) = self.probe.as_mut().filter(|p| p.seq == seq) {
                        p.tcp_ok = ok;
                    }
                }
            }
            PendingStream::UserMsg => {}
        }
        self.after_call(now);
    }

    fn finish_push_pull(&mut self, buf: &[u8], join: bool, now: Time) -> Result<()> {
        let plain = self.open_stream(buf)?;
        let (&t, body) = plain.split_first().ok_or(Error::Truncated)?;
        if t == MessageType::Err as u8 {
            let e = ErrResp::decode_body(body)?;
            return Err(Error::Remote(e.error));
        }
        if t != MessageType::PushPull as u8 {
            return Err(Error::UnknownMessageType(t));
        }
        let (_, nodes, user) = read_remote_state(body)?;
        self.merge_state(nodes, now);
        if !user.is_empty() {
            self.delegate.merge_remote_state(&user, join, now);
        }
        Ok(())
    }
}

/// Parses a push/pull body: (join, node states, delegate state).
fn read_remote_state(body: &[u8]) -> Result<(bool, Vec<PushNodeState>, Vec<u8>)> {
    let mut d = Decoder::new(body);
    let header = PushPullHeader::decode_struct(&d.value()?.as_struct("pushPullHeader")?)?;
    let mut nodes = Vec::with_capacity(header.nodes.min(body.len()));
    for _ in 0..header.nodes {
        let v = d.value()?;
        nodes.push(PushNodeState::decode_struct(
            &v.as_struct("pushNodeState")?,
        )?);
    }
    let rest = d.rest();
    if rest.len() < header.user_state_len {
        return Err(Error::Truncated);
    }
    Ok((header.join, nodes, rest[..header.user_state_len].to_vec()))
}
