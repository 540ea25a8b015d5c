//! memberlist's message structs (`net.go`), with their msgpack encodings.
//!
//! Every message is one type byte followed by a msgpack map whose keys are the Go field names in
//! sorted order, as `go-msgpack` writes them.

use crate::codec::msgpack::{decode, DecodeError, Encoder, Struct};
use crate::wire::MessageType;

/// A direct probe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ping {
    /// Sequence number the ack echoes.
    pub seq_no: u32,
    /// The intended recipient, so a restarted node under a new name does not answer.
    pub node: String,
    /// Where to send the ack (empty: reply to the packet's source).
    pub source_addr: Vec<u8>,
    /// Port for the ack.
    pub source_port: u16,
    /// Name of the sender.
    pub source_node: String,
}

/// A request to probe `node` on the sender's behalf.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndirectPing {
    /// The requester's sequence number.
    pub seq_no: u32,
    /// Target IP bytes.
    pub target: Vec<u8>,
    /// Target port.
    pub port: u16,
    /// Target name.
    pub node: String,
    /// Whether the requester wants a nack if the target stays silent.
    pub nack: bool,
    /// Where to relay the ack.
    pub source_addr: Vec<u8>,
    /// Port for the ack.
    pub source_port: u16,
    /// Name of the requester.
    pub source_node: String,
}

/// Reply to a ping; serf puts its Vivaldi coordinate in the payload.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ack {
    /// The ping's sequence number.
    pub seq_no: u32,
    /// Delegate payload.
    pub payload: Vec<u8>,
}

/// "I tried the indirect probe and heard nothing."
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nack {
    /// The requester's sequence number.
    pub seq_no: u32,
}

/// An error relayed over a stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrResp {
    /// The text.
    pub error: String,
}

/// "`node` may be dead", gossiped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Suspect {
    /// Incarnation being suspected.
    pub incarnation: u32,
    /// The suspected node.
    pub node: String,
    /// Who suspects it.
    pub from: String,
}

/// "`node` is alive at this incarnation", also how a node announces itself and its meta.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Alive {
    /// Incarnation.
    pub incarnation: u32,
    /// Node name.
    pub node: String,
    /// IP bytes (4 or 16).
    pub addr: Vec<u8>,
    /// Gossip port.
    pub port: u16,
    /// Delegate meta (serf tags).
    pub meta: Vec<u8>,
    /// pmin, pmax, pcur, dmin, dmax, dcur.
    pub vsn: Vec<u8>,
}

/// "`node` is dead" (or, when `from == node`, has left).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dead {
    /// Incarnation.
    pub incarnation: u32,
    /// The dead node.
    pub node: String,
    /// Who declares it.
    pub from: String,
}

/// Header of a push/pull state exchange.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushPullHeader {
    /// Number of node states that follow.
    pub nodes: usize,
    /// Length of the delegate state after the nodes.
    pub user_state_len: usize,
    /// Whether this exchange is a join.
    pub join: bool,
}

/// Header of a user message sent over a stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserMsgHeader {
    /// Length of the message that follows.
    pub user_msg_len: usize,
}

/// Node states as memberlist numbers them on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireState {
    /// 0
    Alive,
    /// 1
    Suspect,
    /// 2
    Dead,
    /// 3
    Left,
}

impl WireState {
    /// The wire number.
    pub fn code(self) -> u8 {
        match self {
            WireState::Alive => 0,
            WireState::Suspect => 1,
            WireState::Dead => 2,
            WireState::Left => 3,
        }
    }
    /// From the wire number.
    pub fn from_code(c: i64) -> Option<Self> {
        Some(match c {
            0 => WireState::Alive,
            1 => WireState::Suspect,
            2 => WireState::Dead,
            3 => WireState::Left,
            _ => return None,
        })
    }
}

/// One node in a push/pull exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushNodeState {
    /// Name.
    pub name: String,
    /// IP bytes.
    pub addr: Vec<u8>,
    /// Port.
    pub port: u16,
    /// Meta.
    pub meta: Vec<u8>,
    /// Incarnation.
    pub incarnation: u32,
    /// State.
    pub state: WireState,
    /// Versions.
    pub vsn: Vec<u8>,
}

/// A compressed payload.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Compress {
    /// 0 = LZW.
    pub algo: u8,
    /// Compressed bytes.
    pub buf: Vec<u8>,
}

/// A message that can be written with its type byte.
pub trait WireMessage: Sized {
    /// Its type byte.
    const TYPE: MessageType;
    /// Appends the msgpack body (without the type byte).
    fn encode_body(&self, e: &mut Encoder);
    /// Decodes from the struct view of the body.
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError>;

    /// Type byte + body.
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(64);
        v.push(Self::TYPE as u8);
        self.encode_body(&mut Encoder::new(&mut v));
        v
    }

    /// Decodes a body (the bytes after the type byte).
    fn decode_body(buf: &[u8]) -> Result<Self, DecodeError> {
        let v = decode(buf)?;
        let s = v.as_struct("message")?;
        Self::decode_struct(&s)
    }
}

impl WireMessage for Ping {
    const TYPE: MessageType = MessageType::Ping;
    fn encode_body(&self, e: &mut Encoder) {
        let n = 2
            + usize::from(!self.source_addr.is_empty())
            + usize::from(self.source_port != 0)
            + usize::from(!self.source_node.is_empty());
        e.map(n);
        e.str("Node");
        e.str(&self.node);
        e.str("SeqNo");
        e.uint(self.seq_no as u64);
        if !self.source_addr.is_empty() {
            e.str("SourceAddr");
            e.raw(&self.source_addr);
        }
        if !self.source_node.is_empty() {
            e.str("SourceNode");
            e.str(&self.source_node);
        }
        if self.source_port != 0 {
            e.str("SourcePort");
            e.uint(self.source_port as u64);
        }
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(Ping {
            seq_no: s.u32("SeqNo")?,
            node: s.string("Node")?,
            source_addr: s.bytes("SourceAddr")?,
            source_port: s.u16("SourcePort")?,
            source_node: s.string("SourceNode")?,
        })
    }
}

impl WireMessage for IndirectPing {
    const TYPE: MessageType = MessageType::IndirectPing;
    fn encode_body(&self, e: &mut Encoder) {
        let n = 5
            + usize::from(!self.source_addr.is_empty())
            + usize::from(self.source_port != 0)
            + usize::from(!self.source_node.is_empty());
        e.map(n);
        e.str("Nack");
        e.bool(self.nack);
        e.str("Node");
        e.str(&self.node);
        e.str("Port");
        e.uint(self.port as u64);
        e.str("SeqNo");
        e.uint(self.seq_no as u64);
        if !self.source_addr.is_empty() {
            e.str("SourceAddr");
            e.raw(&self.source_addr);
        }
        if !self.source_node.is_empty() {
            e.str("SourceNode");
            e.str(&self.source_node);
        }
        if self.source_port != 0 {
            e.str("SourcePort");
            e.uint(self.source_port as u64);
        }
        e.str("Target");
        e.bytes_or_nil(&self.target);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(IndirectPing {
            seq_no: s.u32("SeqNo")?,
            target: s.bytes("Target")?,
            port: s.u16("Port")?,
            node: s.string("Node")?,
            nack: s.bool("Nack")?,
            source_addr: s.bytes("SourceAddr")?,
            source_port: s.u16("SourcePort")?,
            source_node: s.string("SourceNode")?,
        })
    }
}

impl WireMessage for Ack {
    const TYPE: MessageType = MessageType::Ack;
    fn encode_body(&self, e: &mut Encoder) {
        e.map(2);
        e.str("Payload");
        e.bytes_or_nil(&self.payload);
        e.str("SeqNo");
        e.uint(self.seq_no as u64);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(Ack {
            seq_no: s.u32("SeqNo")?,
            payload: s.bytes("Payload")?,
        })
    }
}

impl WireMessage for Nack {
    const TYPE: MessageType = MessageType::Nack;
    fn encode_body(&self, e: &mut Encoder) {
        e.map(1);
        e.str("SeqNo");
        e.uint(self.seq_no as u64);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(Nack {
            seq_no: s.u32("SeqNo")?,
        })
    }
}

impl WireMessage for ErrResp {
    const TYPE: MessageType = MessageType::Err;
    fn encode_body(&self, e: &mut Encoder) {
        e.map(1);
        e.str("Error");
        e.str(&self.error);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(ErrResp {
            error: s.string("Error")?,
        })
    }
}

fn encode_inc_node_from(e: &mut Encoder, inc: u32, node: &str, from: &str) {
    e.map(3);
    e.str("From");
    e.str(from);
    e.str("Incarnation");
    e.uint(inc as u64);
    e.str("Node");
    e.str(node);
}

impl WireMessage for Suspect {
    const TYPE: MessageType = MessageType::Suspect;
    fn encode_body(&self, e: &mut Encoder) {
        encode_inc_node_from(e, self.incarnation, &self.node, &self.from);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(Suspect {
            incarnation: s.u32("Incarnation")?,
            node: s.string("Node")?,
            from: s.string("From")?,
        })
    }
}

impl WireMessage for Dead {
    const TYPE: MessageType = MessageType::Dead;
    fn encode_body(&self, e: &mut Encoder) {
        encode_inc_node_from(e, self.incarnation, &self.node, &self.from);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(Dead {
            incarnation: s.u32("Incarnation")?,
            node: s.string("Node")?,
            from: s.string("From")?,
        })
    }
}

impl WireMessage for Alive {
    const TYPE: MessageType = MessageType::Alive;
    fn encode_body(&self, e: &mut Encoder) {
        e.map(6);
        e.str("Addr");
        e.bytes_or_nil(&self.addr);
        e.str("Incarnation");
        e.uint(self.incarnation as u64);
        e.str("Meta");
        e.bytes_or_nil(&self.meta);
        e.str("Node");
        e.str(&self.node);
        e.str("Port");
        e.uint(self.port as u64);
        e.str("Vsn");
        e.bytes_or_nil(&self.vsn);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(Alive {
            incarnation: s.u32("Incarnation")?,
            node: s.string("Node")?,
            addr: s.bytes("Addr")?,
            port: s.u16("Port")?,
            meta: s.bytes("Meta")?,
            vsn: s.bytes("Vsn")?,
        })
    }
}

fn usize_field(s: &Struct, name: &'static str) -> Result<usize, DecodeError> {
    let v = s.i64(name)?;
    usize::try_from(v).map_err(|_| DecodeError::Invalid("negative length"))
}

impl WireMessage for PushPullHeader {
    const TYPE: MessageType = MessageType::PushPull;
    fn encode_body(&self, e: &mut Encoder) {
        e.map(3);
        e.str("Join");
        e.bool(self.join);
        e.str("Nodes");
        e.uint(self.nodes as u64);
        e.str("UserStateLen");
        e.uint(self.user_state_len as u64);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(PushPullHeader {
            nodes: usize_field(s, "Nodes")?,
            user_state_len: usize_field(s, "UserStateLen")?,
            join: s.bool("Join")?,
        })
    }
}

impl WireMessage for UserMsgHeader {
    const TYPE: MessageType = MessageType::User;
    fn encode_body(&self, e: &mut Encoder) {
        e.map(1);
        e.str("UserMsgLen");
        e.uint(self.user_msg_len as u64);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(UserMsgHeader {
            user_msg_len: usize_field(s, "UserMsgLen")?,
        })
    }
}

impl PushNodeState {
    /// Appends the msgpack map.
    pub fn encode_into(&self, e: &mut Encoder) {
        e.map(7);
        e.str("Addr");
        e.bytes_or_nil(&self.addr);
        e.str("Incarnation");
        e.uint(self.incarnation as u64);
        e.str("Meta");
        e.bytes_or_nil(&self.meta);
        e.str("Name");
        e.str(&self.name);
        e.str("Port");
        e.uint(self.port as u64);
        e.str("State");
        e.uint(self.state.code() as u64);
        e.str("Vsn");
        e.bytes_or_nil(&self.vsn);
    }

    /// Decodes from a struct view.
    pub fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(PushNodeState {
            name: s.string("Name")?,
            addr: s.bytes("Addr")?,
            port: s.u16("Port")?,
            meta: s.bytes("Meta")?,
            incarnation: s.u32("Incarnation")?,
            state: WireState::from_code(s.i64("State")?)
                .ok_or(DecodeError::Invalid("unknown node state"))?,
            vsn: s.bytes("Vsn")?,
        })
    }
}

impl WireMessage for Compress {
    const TYPE: MessageType = MessageType::Compress;
    fn encode_body(&self, e: &mut Encoder) {
        e.map(2);
        e.str("Algo");
        e.uint(self.algo as u64);
        e.str("Buf");
        e.bytes_or_nil(&self.buf);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(Compress {
            algo: s.u8("Algo")?,
            buf: s.bytes("Buf")?,
        })
    }
}
