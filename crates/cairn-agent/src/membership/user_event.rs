//! Consul's user events on the gossip wire: serf event `consul:event:<name>` whose payload is a
//! msgpack map `{id, n, p, nf, sf, tf, v}` (the Lamport time is serf's).

use cairn_types::UserEvent;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Prefix of the serf event name Consul uses for user events.
pub(crate) const EVENT_PREFIX: &str = "consul:event:";

/// Raw bytes that encode as msgpack `bin` and decode from `bin`, `str` or an array of u8.
#[derive(Debug, Default, PartialEq)]
struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bytes, E> {
                Ok(Bytes(v.as_bytes().to_vec()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Bytes, E> {
                Ok(Bytes::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(Bytes(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Wire {
    id: String,
    n: String,
    #[serde(skip_serializing_if = "is_empty")]
    p: Bytes,
    #[serde(skip_serializing_if = "String::is_empty")]
    nf: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    sf: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    tf: String,
    v: u32,
}

fn is_empty(b: &Bytes) -> bool {
    b.0.is_empty()
}

/// The serf event name and payload for a user event.
pub(crate) fn encode(ev: &UserEvent) -> Result<(String, Vec<u8>), String> {
    let wire = Wire {
        id: ev.id.clone(),
        n: ev.name.clone(),
        p: Bytes(ev.payload.clone()),
        nf: ev.node_filter.clone(),
        sf: ev.service_filter.clone(),
        tf: ev.tag_filter.clone(),
        v: ev.version.max(1),
    };
    let bytes = rmp_serde::to_vec_named(&wire).map_err(|e| e.to_string())?;
    Ok((format!("{EVENT_PREFIX}{}", ev.name), bytes))
}

/// The user event in a serf event, if it is a Consul user event.
pub(crate) fn decode(serf_name: &str, payload: &[u8], ltime: u64) -> Option<UserEvent> {
    serf_name.strip_prefix(EVENT_PREFIX)?;
    let wire: Wire = rmp_serde::from_slice(payload).ok()?;
    Some(UserEvent {
        id: wire.id,
        name: wire.n,
        payload: wire.p.0,
        node_filter: wire.nf,
        service_filter: wire.sf,
        tag_filter: wire.tf,
        version: wire.v,
        ltime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_foreign_events() {
        let ev = UserEvent {
            id: "8b9b1c8e-0000-4000-8000-000000000001".into(),
            name: "deploy".into(),
            payload: b"v2".to_vec(),
            node_filter: "web-.*".into(),
            version: 1,
            ..UserEvent::default()
        };
        let (name, bytes) = encode(&ev).unwrap();
        assert_eq!(name, "consul:event:deploy");
        // msgpack map with the short keys, payload as bin 8
        assert!(bytes.windows(4).any(|w| w == [0xa1, b'p', 0xc4, 2]));
        let back = decode(&name, &bytes, 7).unwrap();
        assert_eq!(back, UserEvent { ltime: 7, ..ev });
        assert!(decode("deploy", &bytes, 1).is_none());
        assert!(decode("consul:event:x", b"\xff\x00", 1).is_none());
    }
}
