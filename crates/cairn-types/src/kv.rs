//! Key/value entries.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A KV entry (`GET /v1/kv/:key` element).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KvEntry {
    /// Number of times a lock on this key was newly acquired.
    pub lock_index: u64,
    /// The key.
    pub key: String,
    /// Opaque client flags.
    pub flags: u64,
    /// Value bytes; base64 in JSON, `null` when empty.
    #[serde(with = "value_b64")]
    pub value: Vec<u8>,
    /// Session holding the lock, if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub session: String,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of last change.
    pub modify_index: u64,
}

/// Base64 value encoding with `null` for empty, as Consul writes it.
pub mod value_b64 {
    use super::*;

    /// Write bytes as base64, or `null` when empty.
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        if v.is_empty() {
            s.serialize_none()
        } else {
            s.serialize_str(&B64.encode(v))
        }
    }

    /// Read base64 (or `null`) into bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        match text {
            None => Ok(Vec::new()),
            Some(t) => B64.decode(t.as_bytes()).map_err(serde::de::Error::custom),
        }
    }
}
