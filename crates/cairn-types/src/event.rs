//! User events (`PUT /v1/event/fire/:name`, `GET /v1/event/list`).

use crate::kv::value_b64;
use serde::{Deserialize, Serialize};

/// A user event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UserEvent {
    /// Event UUID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Name.
    pub name: String,
    /// Payload, base64 in JSON, `null` when empty.
    #[serde(with = "value_b64")]
    pub payload: Vec<u8>,
    /// Node name regex filter.
    pub node_filter: String,
    /// Service name regex filter.
    pub service_filter: String,
    /// Tag regex filter.
    pub tag_filter: String,
    /// Event format version (1).
    pub version: u32,
    /// Lamport time.
    #[serde(rename = "LTime")]
    pub ltime: u64,
}

impl UserEvent {
    /// The blocking index derived from this event's ID (see [`event_id_to_index`]); 0 for an
    /// ID that is not a UUID.
    pub fn index(&self) -> u64 {
        event_id_to_index(&self.id).unwrap_or(0)
    }
}

/// The index Consul derives from an event UUID for `/v1/event/list` blocking: the first 16
/// hex digits and the last 16, each read as a big-endian number, XORed (Consul's
/// `uuidToUint64` on the server and `IDToIndex` in its API client). `None` if not a UUID.
pub fn event_id_to_index(id: &str) -> Option<u64> {
    let b = id.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let lower = format!("{}{}{}", &id[0..8], &id[9..13], &id[14..18]);
    let upper = format!("{}{}", &id[19..23], &id[24..36]);
    let low = u64::from_str_radix(&lower, 16).ok()?;
    let high = u64::from_str_radix(&upper, 16).ok()?;
    Some(low ^ high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_matches_consul() {
        // lower = 0x0000000000000001, upper = 0x0000000000000003 → 2.
        assert_eq!(
            event_id_to_index("00000000-0000-0001-0000-000000000003"),
            Some(2)
        );
        assert_eq!(
            event_id_to_index("ffffffff-ffff-ffff-0000-000000000000"),
            Some(u64::MAX)
        );
        assert_eq!(event_id_to_index("not-a-uuid"), None);
        assert_eq!(
            event_id_to_index("zzzzzzzz-0000-0001-0000-000000000003"),
            None
        );
        let e = UserEvent {
            id: "00000000-0000-0001-0000-000000000003".into(),
            ..UserEvent::default()
        };
        assert_eq!(e.index(), 2);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["Payload"], serde_json::Value::Null);
        assert_eq!(json["LTime"], 0);
    }
}
