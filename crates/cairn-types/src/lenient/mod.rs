//! Lenient decoding of request bodies, as Go's decoders do it.
//!
//! Consul decodes request bodies with Go's `encoding/json` (keys match struct fields
//! case-insensitively) plus explicit snake_case aliases. Real clients rely on both: python-consul
//! sends `enabletagoverride` and `lockdelay`, others send `deregister_critical_service_after`. A
//! plain serde derive is case-sensitive and would silently drop those keys.
//!
//! This module decodes any `#[derive(Deserialize)]` type leniently:
//!
//! * object keys of **structs** match a field when their normalized forms are equal (ASCII
//!   lower-case, `_` and `-` removed), so `serviceid`, `service_id` and `ServiceID` all reach
//!   `ServiceID`; an exact spelling wins over a normalized one when both are present;
//! * keys of **maps** (`Meta`, `Header`, `TaggedAddresses`, …) are kept verbatim;
//! * unknown keys are ignored, as Go does;
//! * a `null` member of an object leaves the field at its default, as Go leaves it untouched;
//!   `null` elsewhere reads as the zero value of a string, number, bool, list or map;
//! * unit enum variants match the same normalized way (`"Delete"` reaches `delete`).
//!
//! Limits: types using `#[serde(flatten)]`, or internally tagged / untagged enums, buffer their
//! input inside serde and lose the key matching below that point; don't use them in request types.
//!
//! Errors are one line, name the path of the offending value (`Check.Interval: …`) and are
//! short enough for an HTTP 400 body; callers add Consul's prefix (`Request decode failed: `).
//!
//! ```
//! use cairn_types::{lenient, AgentServiceRegistration};
//!
//! let body = br#"{"name": "web", "enabletagoverride": true, "meta": {"Env": "prod"},
//!                 "check": {"http": "http://127.0.0.1/", "interval": "1m30s"}}"#;
//! let reg: AgentServiceRegistration = lenient::from_slice(body).unwrap();
//! assert!(reg.enable_tag_override);
//! assert_eq!(reg.meta["Env"], "prod");
//!
//! let err = lenient::from_str::<AgentServiceRegistration>(r#"{"port": "eighty"}"#).unwrap_err();
//! assert_eq!(err.path(), "Port");
//! ```

mod de;

use serde::de::DeserializeOwned;
use std::fmt;

/// Longest error message kept; longer ones (which can echo user input) are cut.
const MAX_MESSAGE_CHARS: usize = 400;

/// Why a body could not be decoded. One line, without Consul's `Request decode failed:` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    path: String,
    message: String,
}

impl DecodeError {
    /// Where in the document the error is, e.g. `Checks[1].Interval` (empty for the top level or
    /// for JSON syntax errors).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What went wrong, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn new(path: String, message: &str) -> Self {
        DecodeError {
            path: one_line(&path),
            message: one_line(message),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for DecodeError {}

/// Collapse control characters to spaces and cut overly long text, so the message fits one line.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_MESSAGE_CHARS + 3));
    for (count, c) in text.chars().enumerate() {
        if count == MAX_MESSAGE_CHARS {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// The form two keys are compared in: ASCII lower-case with `_` and `-` removed.
///
/// `ServiceID`, `service_id`, `serviceid` and `Service-Id` all normalize to `serviceid`.
pub fn normalize_key(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Decode JSON bytes into `T`, matching keys leniently.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| DecodeError::new(String::new(), &e.to_string()))?;
    from_value(&value)
}

/// Decode JSON text into `T`, matching keys leniently.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    from_slice(text.as_bytes())
}

/// Decode an already parsed JSON value into `T`, matching keys leniently.
pub fn from_value<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, DecodeError> {
    T::deserialize(de::ValueDeserializer::new(value))
        .map_err(|e| DecodeError::new(e.path_string(), e.message()))
}

#[cfg(test)]
mod tests;
