//! memberlist's wire format: message types, compound packets, CRC, compression and stream
//! framing. Encryption lives in [`crate::security`].

pub mod messages;

use crate::codec::lzw;
use crate::codec::msgpack::{DecodeError, Decoder};
use crate::error::{Error, Result};
use messages::{Compress, PushPullHeader, UserMsgHeader, WireMessage};

/// memberlist message type bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageType {
    /// Direct probe.
    Ping = 0,
    /// Probe on someone's behalf.
    IndirectPing = 1,
    /// Probe reply.
    Ack = 2,
    /// Suspicion gossip.
    Suspect = 3,
    /// Alive gossip.
    Alive = 4,
    /// Dead gossip.
    Dead = 5,
    /// Full state exchange (streams only).
    PushPull = 6,
    /// Several messages in one packet.
    Compound = 7,
    /// Delegate (serf) message.
    User = 8,
    /// LZW-compressed message.
    Compress = 9,
    /// Encrypted message (streams only; packets are encrypted without a type byte).
    Encrypt = 10,
    /// Negative reply to an indirect probe.
    Nack = 11,
    /// CRC32-prefixed packet.
    HasCrc = 12,
    /// Error reply over a stream.
    Err = 13,
}

impl MessageType {
    /// Parses a type byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        use MessageType::*;
        Some(match b {
            0 => Ping,
            1 => IndirectPing,
            2 => Ack,
            3 => Suspect,
            4 => Alive,
            5 => Dead,
            6 => PushPull,
            7 => Compound,
            8 => User,
            9 => Compress,
            10 => Encrypt,
            11 => Nack,
            12 => HasCrc,
            13 => Err,
            _ => return None,
        })
    }
}

/// Largest state a peer may send over a stream (memberlist's `maxPushStateBytes`).
pub const MAX_PUSH_STATE_BYTES: usize = 20 * 1024 * 1024;

/// Largest decompressed payload accepted.
pub const MAX_DECOMPRESSED_BYTES: usize = 2 * MAX_PUSH_STATE_BYTES;

/// Bytes the compound header takes before the per-part lengths.
pub const COMPOUND_HEADER_OVERHEAD: usize = 2;
/// Bytes each compound part adds (its u16 length).
pub const COMPOUND_OVERHEAD: usize = 2;
/// Bytes the user message type byte adds.
pub const USER_MSG_OVERHEAD: usize = 1;

/// Joins messages into one compound packet: `[7][count][count × u16 BE length][messages]`.
/// At most 255 messages fit; callers never pass more.
pub fn make_compound(msgs: &[Vec<u8>]) -> Vec<u8> {
    let total: usize = msgs.iter().map(|m| m.len() + 2).sum();
    let mut out = Vec::with_capacity(2 + total);
    out.push(MessageType::Compound as u8);
    out.push(msgs.len().min(255) as u8);
    for m in msgs.iter().take(255) {
        out.extend_from_slice(&(m.len().min(u16::MAX as usize) as u16).to_be_bytes());
    }
    for m in msgs.iter().take(255) {
        out.extend_from_slice(m);
    }
    out
}

/// Splits a compound body (after the type byte). Returns the parts and how many were truncated.
pub fn split_compound(buf: &[u8]) -> Result<(Vec<&[u8]>, usize)> {
    let (&n, rest) = buf.split_first().ok_or(Error::Truncated)?;
    let n = n as usize;
    if rest.len() < n * 2 {
        return Err(Error::Truncated);
    }
    let (lens, mut body) = rest.split_at(n * 2);
    let mut parts = Vec::with_capacity(n);
    for (i, l) in lens.chunks_exact(2).enumerate() {
        let len = u16::from_be_bytes([l[0], l[1]]) as usize;
        if body.len() < len {
            return Ok((parts, n - i));
        }
        let (part, tail) = body.split_at(len);
        parts.push(part);
        body = tail;
    }
    Ok((parts, 0))
}

/// Prefixes a packet with `[12][CRC32-IEEE BE]`, which protocol ≥ 5 receivers check.
pub fn add_crc(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 5);
    out.push(MessageType::HasCrc as u8);
    out.extend_from_slice(&crc32fast::hash(msg).to_be_bytes());
    out.extend_from_slice(msg);
    out
}

/// Strips and verifies a CRC prefix if present; returns the message.
pub fn strip_crc(buf: &[u8]) -> Result<&[u8]> {
    if buf.len() >= 5 && buf[0] == MessageType::HasCrc as u8 {
        let expected = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
        if crc32fast::hash(&buf[5..]) != expected {
            return Err(Error::BadChecksum);
        }
        return Ok(&buf[5..]);
    }
    Ok(buf)
}

/// Wraps `msg` in a `compress` message (LZW).
pub fn compress_payload(msg: &[u8]) -> Vec<u8> {
    Compress {
        algo: 0,
        buf: lzw::compress(msg),
    }
    .encode()
}

/// Unpacks a `compress` body (after the type byte).
pub fn decompress_payload(body: &[u8]) -> Result<Vec<u8>> {
    let c = Compress::decode_body(body)?;
    decompress(&c)
}

/// Decompresses a decoded `compress` message.
pub fn decompress(c: &Compress) -> Result<Vec<u8>> {
    if c.algo != 0 {
        return Err(Error::UnknownCompression(c.algo));
    }
    Ok(lzw::decompress(&c.buf, MAX_DECOMPRESSED_BYTES)?)
}

/// How many bytes of `buf` make up one complete stream message, or `None` if more bytes are
/// needed. Stream messages carry no length prefix unless encrypted, so this walks the msgpack.
pub fn stream_frame_len(buf: &[u8]) -> Result<Option<usize>> {
    let Some(&t) = buf.first() else {
        return Ok(None);
    };
    let ty = MessageType::from_u8(t).ok_or(Error::UnknownMessageType(t))?;
    let incomplete = |e: DecodeError| match e {
        DecodeError::Eof => Ok(None),
        other => Err(Error::Decode(other)),
    };
    match ty {
        MessageType::Encrypt => {
            if buf.len() < 5 {
                return Ok(None);
            }
            let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            if len > MAX_PUSH_STATE_BYTES {
                return Err(Error::TooLarge(len));
            }
            Ok((buf.len() >= 5 + len).then_some(5 + len))
        }
        MessageType::Compress | MessageType::Ping | MessageType::Ack | MessageType::Err => {
            let mut d = Decoder::new(&buf[1..]);
            match d.value() {
                Ok(_) => Ok(Some(1 + d.position())),
                Err(e) => incomplete(e),
            }
        }
        MessageType::PushPull => {
            let mut d = Decoder::new(&buf[1..]);
            let header = match d.value() {
                Ok(v) => PushPullHeader::decode_struct(&v.as_struct("pushPullHeader")?)?,
                Err(e) => return incomplete(e),
            };
            if header.user_state_len > MAX_PUSH_STATE_BYTES {
                return Err(Error::TooLarge(header.user_state_len));
            }
            for _ in 0..header.nodes {
                if let Err(e) = d.value() {
                    return incomplete(e);
                }
            }
            let end = 1 + d.position() + header.user_state_len;
            Ok((buf.len() >= end).then_some(end))
        }
        MessageType::User => {
            let mut d = Decoder::new(&buf[1..]);
            let header = match d.value() {
                Ok(v) => UserMsgHeader::decode_struct(&v.as_struct("userMsgHeader")?)?,
                Err(e) => return incomplete(e),
            };
            if header.user_msg_len > MAX_PUSH_STATE_BYTES {
                return Err(Error::TooLarge(header.user_msg_len));
            }
            let end = 1 + d.position() + header.user_msg_len;
            Ok((buf.len() >= end).then_some(end))
        }
        other => Err(Error::UnknownMessageType(other as u8)),
    }
}

#[cfg(test)]
mod tests {
    use super::messages::*;
    use super::*;

    #[test]
    fn compound_roundtrip_and_truncation() {
        let msgs = vec![vec![1u8, 2, 3], vec![], vec![9u8; 300]];
        let c = make_compound(&msgs);
        assert_eq!(c[0], 7);
        let (parts, trunc) = split_compound(&c[1..]).unwrap();
        assert_eq!(trunc, 0);
        assert_eq!(parts, vec![&msgs[0][..], &msgs[1][..], &msgs[2][..]]);
        let (parts, trunc) = split_compound(&c[1..c.len() - 1]).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(trunc, 1);
        assert!(split_compound(&[5, 0]).is_err());
    }

    #[test]
    fn crc_detects_corruption() {
        let p = add_crc(b"hello");
        assert_eq!(strip_crc(&p).unwrap(), b"hello");
        let mut bad = p.clone();
        bad[6] ^= 1;
        assert_eq!(strip_crc(&bad), Err(Error::BadChecksum));
        assert_eq!(strip_crc(b"\x04abc").unwrap(), b"\x04abc");
    }

    #[test]
    fn frame_len_of_push_pull_needs_every_part() {
        let mut buf = PushPullHeader {
            nodes: 1,
            user_state_len: 3,
            join: true,
        }
        .encode();
        let node = PushNodeState {
            name: "a".into(),
            addr: vec![127, 0, 0, 1],
            port: 7946,
            meta: vec![],
            incarnation: 1,
            state: WireState::Alive,
            vsn: vec![1, 5, 2, 2, 5, 5],
        };
        node.encode_into(&mut crate::codec::msgpack::Encoder::new(&mut buf));
        buf.extend_from_slice(b"xyz");
        for i in 0..buf.len() {
            assert_eq!(stream_frame_len(&buf[..i]).unwrap(), None, "prefix {i}");
        }
        assert_eq!(stream_frame_len(&buf).unwrap(), Some(buf.len()));
        buf.push(0);
        assert_eq!(stream_frame_len(&buf).unwrap(), Some(buf.len() - 1));
    }

    #[test]
    fn compress_roundtrip() {
        let msg = Alive {
            incarnation: 3,
            node: "node-1".into(),
            addr: vec![10, 0, 0, 1],
            port: 7946,
            meta: vec![0xff, 0x80],
            vsn: vec![1, 5, 2, 2, 5, 5],
        }
        .encode();
        let z = compress_payload(&msg);
        assert_eq!(z[0], MessageType::Compress as u8);
        assert_eq!(decompress_payload(&z[1..]).unwrap(), msg);
    }
}
