//! serf's messages (`serf/messages.go`), carried inside memberlist user messages as one serf type
//! byte followed by a msgpack map.

use std::collections::BTreeMap;

use crate::codec::msgpack::{decode, DecodeError, Encoder, Struct, Value};

/// A Lamport timestamp.
pub type LamportTime = u64;

/// serf message type bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SerfMessageType {
    /// Leave intent.
    Leave = 0,
    /// Join intent.
    Join = 1,
    /// Push/pull delegate state.
    PushPull = 2,
    /// User event.
    UserEvent = 3,
    /// Query.
    Query = 4,
    /// Query response (or ack).
    QueryResponse = 5,
    /// Name-conflict response payload.
    ConflictResponse = 6,
    /// Key management request payload.
    KeyRequest = 7,
    /// Key management response payload.
    KeyResponse = 8,
    /// Relayed query response.
    Relay = 9,
}

impl SerfMessageType {
    /// Parses a type byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        use SerfMessageType::*;
        Some(match b {
            0 => Leave,
            1 => Join,
            2 => PushPull,
            3 => UserEvent,
            4 => Query,
            5 => QueryResponse,
            6 => ConflictResponse,
            7 => KeyRequest,
            8 => KeyResponse,
            9 => Relay,
            _ => return None,
        })
    }
}

/// Query flag: the sender wants an ack from every node that processes the query.
pub const QUERY_FLAG_ACK: u32 = 1;
/// Query flag: do not re-broadcast.
pub const QUERY_FLAG_NO_BROADCAST: u32 = 2;

/// A serf message with a type byte and msgpack body.
pub trait SerfMessage: Sized {
    /// Its type byte.
    const TYPE: SerfMessageType;
    /// Appends the body.
    fn encode_body(&self, e: &mut Encoder);
    /// Decodes the body's struct view.
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError>;

    /// Type byte + body.
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(64);
        v.push(Self::TYPE as u8);
        self.encode_body(&mut Encoder::new(&mut v));
        v
    }
    /// Decodes a body (after the type byte).
    fn decode_body(buf: &[u8]) -> Result<Self, DecodeError> {
        let v = decode(buf)?;
        Self::decode_struct(&v.as_struct("serf message")?)
    }
}

/// Join intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinMsg {
    /// Clock.
    pub ltime: LamportTime,
    /// Node.
    pub node: String,
}

impl SerfMessage for JoinMsg {
    const TYPE: SerfMessageType = SerfMessageType::Join;
    fn encode_body(&self, e: &mut Encoder) {
        e.map(2);
        e.str("LTime");
        e.uint(self.ltime);
        e.str("Node");
        e.str(&self.node);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(JoinMsg {
            ltime: s.u64("LTime")?,
            node: s.string("Node")?,
        })
    }
}

/// Leave intent (also force-leave, with `prune` to erase the node at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveMsg {
    /// Clock.
    pub ltime: LamportTime,
    /// Node.
    pub node: String,
    /// Erase rather than keep as left.
    pub prune: bool,
}

impl SerfMessage for LeaveMsg {
    const TYPE: SerfMessageType = SerfMessageType::Leave;
    fn encode_body(&self, e: &mut Encoder) {
        e.map(3);
        e.str("LTime");
        e.uint(self.ltime);
        e.str("Node");
        e.str(&self.node);
        e.str("Prune");
        e.bool(self.prune);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(LeaveMsg {
            ltime: s.u64("LTime")?,
            node: s.string("Node")?,
            prune: s.bool("Prune")?,
        })
    }
}

/// One user event inside an event-buffer slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEventEntry {
    /// Name.
    pub name: String,
    /// Payload.
    pub payload: Vec<u8>,
}

/// The events seen at one Lamport time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEventsAt {
    /// Time.
    pub ltime: LamportTime,
    /// Events.
    pub events: Vec<UserEventEntry>,
}

/// serf's delegate state in a push/pull.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushPullMsg {
    /// Member clock.
    pub ltime: LamportTime,
    /// Each member's status time.
    pub status_ltimes: BTreeMap<String, LamportTime>,
    /// Members that left.
    pub left_members: Vec<String>,
    /// Event clock.
    pub event_ltime: LamportTime,
    /// Recent events (Go sends its whole ring with nil holes; we send only filled slots).
    pub events: Vec<UserEventsAt>,
    /// Query clock.
    pub query_ltime: LamportTime,
}

impl SerfMessage for PushPullMsg {
    const TYPE: SerfMessageType = SerfMessageType::PushPull;
    fn encode_body(&self, e: &mut Encoder) {
        e.map(6);
        e.str("EventLTime");
        e.uint(self.event_ltime);
        e.str("Events");
        e.array(self.events.len());
        for ev in &self.events {
            e.map(2);
            e.str("Events");
            e.array(ev.events.len());
            for u in &ev.events {
                e.map(2);
                e.str("Name");
                e.str(&u.name);
                e.str("Payload");
                e.bytes_or_nil(&u.payload);
            }
            e.str("LTime");
            e.uint(ev.ltime);
        }
        e.str("LTime");
        e.uint(self.ltime);
        e.str("LeftMembers");
        e.array(self.left_members.len());
        for m in &self.left_members {
            e.str(m);
        }
        e.str("QueryLTime");
        e.uint(self.query_ltime);
        e.str("StatusLTimes");
        e.map(self.status_ltimes.len());
        for (k, v) in &self.status_ltimes {
            e.str(k);
            e.uint(*v);
        }
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        let mut status_ltimes = BTreeMap::new();
        for (k, v) in s.get("StatusLTimes").as_map("StatusLTimes")? {
            status_ltimes.insert(k.as_string("StatusLTimes")?, v.as_u64("StatusLTimes")?);
        }
        let mut events = Vec::new();
        for slot in s.get("Events").as_array("Events")? {
            if matches!(slot, Value::Nil) {
                continue;
            }
            let es = slot.as_struct("Events")?;
            let mut list = Vec::new();
            for ue in es.get("Events").as_array("Events")? {
                let u = ue.as_struct("userEvent")?;
                list.push(UserEventEntry {
                    name: u.string("Name")?,
                    payload: u.bytes("Payload")?,
                });
            }
            events.push(UserEventsAt {
                ltime: es.u64("LTime")?,
                events: list,
            });
        }
        Ok(PushPullMsg {
            ltime: s.u64("LTime")?,
            status_ltimes,
            left_members: s.strings("LeftMembers")?,
            event_ltime: s.u64("EventLTime")?,
            events,
            query_ltime: s.u64("QueryLTime")?,
        })
    }
}

/// A user event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEventMsg {
    /// Event clock.
    pub ltime: LamportTime,
    /// Name.
    pub name: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// May be coalesced with later events of the same name.
    pub cc: bool,
}

impl SerfMessage for UserEventMsg {
    const TYPE: SerfMessageType = SerfMessageType::UserEvent;
    fn encode_body(&self, e: &mut Encoder) {
        e.map(4);
        e.str("CC");
        e.bool(self.cc);
        e.str("LTime");
        e.uint(self.ltime);
        e.str("Name");
        e.str(&self.name);
        e.str("Payload");
        e.bytes_or_nil(&self.payload);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(UserEventMsg {
            ltime: s.u64("LTime")?,
            name: s.string("Name")?,
            payload: s.bytes("Payload")?,
            cc: s.bool("CC")?,
        })
    }
}

/// A query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryMsg {
    /// Query clock.
    pub ltime: LamportTime,
    /// Random id.
    pub id: u32,
    /// Where to send responses (IP bytes).
    pub addr: Vec<u8>,
    /// Port for responses.
    pub port: u16,
    /// Name of the origin.
    pub source_node: String,
    /// Encoded filters.
    pub filters: Vec<Vec<u8>>,
    /// Flags.
    pub flags: u32,
    /// How many extra relayed copies of each response.
    pub relay_factor: u8,
    /// Go `time.Duration` in nanoseconds.
    pub timeout_ns: i64,
    /// Name.
    pub name: String,
    /// Payload.
    pub payload: Vec<u8>,
}

impl SerfMessage for QueryMsg {
    const TYPE: SerfMessageType = SerfMessageType::Query;
    fn encode_body(&self, e: &mut Encoder) {
        e.map(11);
        e.str("Addr");
        e.bytes_or_nil(&self.addr);
        e.str("Filters");
        if self.filters.is_empty() {
            e.nil();
        } else {
            e.array(self.filters.len());
            for f in &self.filters {
                e.raw(f);
            }
        }
        e.str("Flags");
        e.uint(self.flags as u64);
        e.str("ID");
        e.uint(self.id as u64);
        e.str("LTime");
        e.uint(self.ltime);
        e.str("Name");
        e.str(&self.name);
        e.str("Payload");
        e.bytes_or_nil(&self.payload);
        e.str("Port");
        e.uint(self.port as u64);
        e.str("RelayFactor");
        e.uint(self.relay_factor as u64);
        e.str("SourceNode");
        e.str(&self.source_node);
        e.str("Timeout");
        e.int(self.timeout_ns);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        let filters = s
            .get("Filters")
            .as_array("Filters")?
            .iter()
            .map(|f| f.as_byte_vec("Filters"))
            .collect::<Result<_, _>>()?;
        Ok(QueryMsg {
            ltime: s.u64("LTime")?,
            id: s.u32("ID")?,
            addr: s.bytes("Addr")?,
            port: s.u16("Port")?,
            source_node: s.string("SourceNode")?,
            filters,
            flags: s.u32("Flags")?,
            relay_factor: s.u8("RelayFactor")?,
            timeout_ns: s.i64("Timeout")?,
            name: s.string("Name")?,
            payload: s.bytes("Payload")?,
        })
    }
}

/// A query response or ack.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryResponseMsg {
    /// The query's clock.
    pub ltime: LamportTime,
    /// The query's id.
    pub id: u32,
    /// Responder.
    pub from: String,
    /// Flags ([`QUERY_FLAG_ACK`] for acks).
    pub flags: u32,
    /// Payload.
    pub payload: Vec<u8>,
}

impl SerfMessage for QueryResponseMsg {
    const TYPE: SerfMessageType = SerfMessageType::QueryResponse;
    fn encode_body(&self, e: &mut Encoder) {
        e.map(5);
        e.str("Flags");
        e.uint(self.flags as u64);
        e.str("From");
        e.str(&self.from);
        e.str("ID");
        e.uint(self.id as u64);
        e.str("LTime");
        e.uint(self.ltime);
        e.str("Payload");
        e.bytes_or_nil(&self.payload);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(QueryResponseMsg {
            ltime: s.u64("LTime")?,
            id: s.u32("ID")?,
            from: s.string("From")?,
            flags: s.u32("Flags")?,
            payload: s.bytes("Payload")?,
        })
    }
}

/// Header of a relayed message: where the relay should forward it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayHeader {
    /// Destination IP bytes.
    pub dest_ip: Vec<u8>,
    /// Destination port.
    pub dest_port: u16,
    /// Destination node name.
    pub dest_name: String,
}

impl RelayHeader {
    /// Appends the header (`net.UDPAddr` is a struct of IP, Port, Zone).
    pub fn encode_into(&self, e: &mut Encoder) {
        e.map(2);
        e.str("DestAddr");
        e.map(3);
        e.str("IP");
        e.bytes_or_nil(&self.dest_ip);
        e.str("Port");
        e.uint(self.dest_port as u64);
        e.str("Zone");
        e.str("");
        e.str("DestName");
        e.str(&self.dest_name);
    }

    /// Decodes from a struct view.
    pub fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        let addr = s.get("DestAddr").as_struct("DestAddr")?;
        Ok(RelayHeader {
            dest_ip: addr.bytes("IP")?,
            dest_port: u16::try_from(addr.i64("Port")?)
                .map_err(|_| DecodeError::Invalid("relay port"))?,
            dest_name: s.string("DestName")?,
        })
    }
}

/// `_serf_install-key` / `use-key` / `remove-key` payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRequest {
    /// Raw key bytes.
    pub key: Vec<u8>,
}

impl SerfMessage for KeyRequest {
    const TYPE: SerfMessageType = SerfMessageType::KeyRequest;
    fn encode_body(&self, e: &mut Encoder) {
        e.map(1);
        e.str("Key");
        e.bytes_or_nil(&self.key);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(KeyRequest {
            key: s.bytes("Key")?,
        })
    }
}

/// A node's answer to a key-management query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyResponse {
    /// Success.
    pub result: bool,
    /// Error or warning text.
    pub message: String,
    /// Base64 keys (list-keys).
    pub keys: Vec<String>,
    /// Base64 primary key (list-keys).
    pub primary_key: String,
}

impl SerfMessage for KeyResponse {
    const TYPE: SerfMessageType = SerfMessageType::KeyResponse;
    fn encode_body(&self, e: &mut Encoder) {
        e.map(4);
        e.str("Keys");
        if self.keys.is_empty() {
            e.nil();
        } else {
            e.array(self.keys.len());
            for k in &self.keys {
                e.str(k);
            }
        }
        e.str("Message");
        e.str(&self.message);
        e.str("PrimaryKey");
        e.str(&self.primary_key);
        e.str("Result");
        e.bool(self.result);
    }
    fn decode_struct(s: &Struct) -> Result<Self, DecodeError> {
        Ok(KeyResponse {
            result: s.bool("Result")?,
            message: s.string("Message")?,
            keys: s.strings("Keys")?,
            primary_key: s.string("PrimaryKey")?,
        })
    }
}

/// The contested member as a `_serf_conflict` responder sees it (serf's `Member` struct).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConflictMember {
    /// Name.
    pub name: String,
    /// Address bytes (4 for IPv4, 16 for IPv6).
    pub addr: Vec<u8>,
    /// Gossip port.
    pub port: u16,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// serf status code.
    pub status: u8,
    /// memberlist protocol min, max, current; serf protocol min, max, current.
    pub vsn: [u8; 6],
}

/// Encodes an answer to `_serf_conflict`: the conflict-response type byte, then the member
/// as a msgpack map, or `nil` when the responder does not know the node (as serf does).
pub fn encode_conflict_response(member: Option<&ConflictMember>) -> Vec<u8> {
    let mut v = vec![SerfMessageType::ConflictResponse as u8];
    let mut e = Encoder::new(&mut v);
    let Some(m) = member else {
        e.nil();
        return v;
    };
    e.map(11);
    e.str("Name");
    e.str(&m.name);
    e.str("Addr");
    e.bytes_or_nil(&m.addr);
    e.str("Port");
    e.uint(u64::from(m.port));
    e.str("Tags");
    e.str_map(m.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    e.str("Status");
    e.uint(u64::from(m.status));
    let names = [
        "ProtocolMin",
        "ProtocolMax",
        "ProtocolCur",
        "DelegateMin",
        "DelegateMax",
        "DelegateCur",
    ];
    for (name, v) in names.iter().zip(m.vsn) {
        e.str(name);
        e.uint(u64::from(v));
    }
    v
}

/// Decodes an answer to `_serf_conflict` (including its type byte); `Ok(None)` when the
/// responder sent `nil` (it does not know the node).
pub fn decode_conflict_response(buf: &[u8]) -> Result<Option<ConflictMember>, DecodeError> {
    match buf.split_first() {
        Some((&t, body)) if t == SerfMessageType::ConflictResponse as u8 => {
            let v = decode(body)?;
            if v == Value::Nil {
                return Ok(None);
            }
            let s = v.as_struct("Member")?;
            let mut tags = BTreeMap::new();
            if *s.get("Tags") != Value::Nil {
                for (k, val) in s.get("Tags").as_map("Tags")? {
                    tags.insert(k.as_string("Tags")?, val.as_string("Tags")?);
                }
            }
            Ok(Some(ConflictMember {
                name: s.string("Name")?,
                addr: s.bytes("Addr")?,
                port: s.u16("Port")?,
                tags,
                status: s.u8("Status")?,
                vsn: [
                    s.u8("ProtocolMin")?,
                    s.u8("ProtocolMax")?,
                    s.u8("ProtocolCur")?,
                    s.u8("DelegateMin")?,
                    s.u8("DelegateMax")?,
                    s.u8("DelegateCur")?,
                ],
            }))
        }
        _ => Err(DecodeError::Invalid("not a conflict response")),
    }
}

/// A query filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Only these nodes.
    Nodes(Vec<String>),
    /// Only nodes whose tag matches the regular expression.
    Tag {
        /// Tag name.
        tag: String,
        /// Regular expression.
        expr: String,
    },
}

impl Filter {
    /// Encodes as serf does: a filter type byte (0 node, 1 tag) + msgpack.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::new();
        match self {
            Filter::Nodes(nodes) => {
                v.push(0);
                let mut e = Encoder::new(&mut v);
                e.array(nodes.len());
                for n in nodes {
                    e.str(n);
                }
            }
            Filter::Tag { tag, expr } => {
                v.push(1);
                let mut e = Encoder::new(&mut v);
                e.map(2);
                e.str("Expr");
                e.str(expr);
                e.str("Tag");
                e.str(tag);
            }
        }
        v
    }

    /// Decodes one encoded filter.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let (&t, body) = buf.split_first().ok_or(DecodeError::Eof)?;
        let v = decode(body)?;
        match t {
            0 => Ok(Filter::Nodes(
                v.as_array("filterNode")?
                    .iter()
                    .map(|n| n.as_string("filterNode"))
                    .collect::<Result<_, _>>()?,
            )),
            1 => {
                let s = v.as_struct("filterTag")?;
                Ok(Filter::Tag {
                    tag: s.string("Tag")?,
                    expr: s.string("Expr")?,
                })
            }
            _ => Err(DecodeError::Invalid("unknown filter type")),
        }
    }
}

/// The byte serf puts before msgpack-encoded tags in memberlist meta.
pub const TAG_MAGIC: u8 = 0xff;

/// Encodes tags into memberlist meta: `0xFF` + msgpack map.
pub fn encode_tags(tags: &BTreeMap<String, String>) -> Vec<u8> {
    let mut v = vec![TAG_MAGIC];
    Encoder::new(&mut v).str_map(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    v
}

/// Decodes memberlist meta into tags. Meta without the magic byte is a bare role (serf protocol
/// < 3); undecodable tags yield an empty map, as serf logs and carries on.
pub fn decode_tags(meta: &[u8]) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    if meta.first() != Some(&TAG_MAGIC) {
        tags.insert(
            "role".to_string(),
            String::from_utf8_lossy(meta).into_owned(),
        );
        return tags;
    }
    if let Ok(v) = decode(&meta[1..]) {
        if let Ok(entries) = v.as_map("tags") {
            for (k, val) in entries {
                if let (Ok(k), Ok(val)) = (k.as_string("tag"), val.as_string("tag")) {
                    tags.insert(k, val);
                }
            }
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_roundtrip_and_legacy_role() {
        let mut tags = BTreeMap::new();
        tags.insert("role".to_string(), "anchor".to_string());
        let meta = encode_tags(&tags);
        // Exactly what serf wrote in the capture in gossip-wire.md.
        assert_eq!(
            meta,
            [&[0xff, 0x81, 0xa4][..], b"role", &[0xa6], b"anchor"].concat()
        );
        assert_eq!(decode_tags(&meta), tags);
        assert_eq!(decode_tags(b"web")["role"], "web");
        assert_eq!(encode_tags(&BTreeMap::new()), [0xff, 0x80]);
        assert!(decode_tags(&[0xff, 0x85]).is_empty());
    }

    #[test]
    fn messages_roundtrip() {
        let q = QueryMsg {
            ltime: 9,
            id: 77,
            addr: vec![127, 0, 0, 1],
            port: 7946,
            source_node: "a".into(),
            filters: vec![
                Filter::Nodes(vec!["x".into()]).encode(),
                Filter::Tag {
                    tag: "role".into(),
                    expr: "^web".into(),
                }
                .encode(),
            ],
            flags: QUERY_FLAG_ACK,
            relay_factor: 2,
            timeout_ns: 5_000_000_000,
            name: "q".into(),
            payload: b"p".to_vec(),
        };
        let enc = q.encode();
        assert_eq!(enc[0], 4);
        let back = QueryMsg::decode_body(&enc[1..]).unwrap();
        assert_eq!(back, q);
        assert_eq!(
            Filter::decode(&back.filters[1]).unwrap(),
            Filter::Tag {
                tag: "role".into(),
                expr: "^web".into()
            }
        );
        let mut pp = PushPullMsg {
            ltime: 5,
            event_ltime: 3,
            query_ltime: 2,
            left_members: vec!["gone".into()],
            events: vec![UserEventsAt {
                ltime: 2,
                events: vec![UserEventEntry {
                    name: "deploy".into(),
                    payload: b"v1".to_vec(),
                }],
            }],
            ..Default::default()
        };
        pp.status_ltimes.insert("a".into(), 4);
        let enc = pp.encode();
        assert_eq!(PushPullMsg::decode_body(&enc[1..]).unwrap(), pp);
    }
}
