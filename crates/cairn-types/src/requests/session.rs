//! The session create body (`PUT /v1/session/create`).

use crate::duration::{format_go_duration, GoDuration};
use crate::session::{ServiceCheckRef, Session, SessionBehavior};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// Lock delay of a session created without one.
pub const DEFAULT_LOCK_DELAY: Duration = Duration::from_secs(15);
/// Longest lock delay Consul honours (`structs.MaxLockDelay`).
pub const MAX_LOCK_DELAY: Duration = Duration::from_secs(60);
/// Longest session TTL (`structs.SessionTTLMax`).
pub const SESSION_TTL_MAX: Duration = Duration::from_secs(24 * 3600);
/// The node check every session gets unless told otherwise.
pub const SERF_CHECK_ID: &str = "serfHealth";
/// Lock delays below this many nanoseconds are taken as seconds (Consul's
/// `lockDelayMinThreshold`): clients send `"LockDelay": 15` meaning 15 s.
const LOCK_DELAY_SECONDS_THRESHOLD: u64 = 1000;

/// A session create request, as clients send it.
///
/// Fields keep what the client said (absent vs. empty matters for checks); the methods apply
/// Consul's defaults and validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SessionRequest {
    /// Human-readable name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Node; empty means the agent's node.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node: String,
    /// Lock delay. Decoding follows Consul: a Go duration string or a number of nanoseconds,
    /// and any value below 1000 ns is multiplied by one second (`15` and `"15ns"` mean 15 s).
    #[serde(
        deserialize_with = "lock_delay_de",
        serialize_with = "lock_delay_ser",
        skip_serializing_if = "Option::is_none"
    )]
    pub lock_delay: Option<GoDuration>,
    /// `release`, `delete` or empty (release). Kept as text so an invalid value gets Consul's
    /// own error from [`SessionRequest::behavior`].
    #[serde(skip_serializing_if = "String::is_empty")]
    pub behavior: String,
    /// TTL exactly as sent (`"15.0s"`); a number of nanoseconds is turned into Go text.
    #[serde(
        rename = "TTL",
        deserialize_with = "ttl_de",
        skip_serializing_if = "String::is_empty"
    )]
    pub ttl: String,
    /// Node checks; `None` when absent (then `serfHealth`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_checks: Option<Vec<String>>,
    /// Service checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_checks: Option<Vec<ServiceCheckRef>>,
    /// Deprecated `Checks` list (pre-1.7 clients, e.g. patroni sends `"checks": []`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<String>>,
}

impl SessionRequest {
    /// The lock delay, or the 15 s default.
    pub fn lock_delay_or_default(&self) -> GoDuration {
        self.lock_delay.unwrap_or(GoDuration(DEFAULT_LOCK_DELAY))
    }

    /// The invalidation behaviour, or Consul's error (`Invalid Behavior setting '…'`).
    pub fn behavior(&self) -> Result<SessionBehavior, String> {
        match self.behavior.as_str() {
            "" | "release" => Ok(SessionBehavior::Release),
            "delete" => Ok(SessionBehavior::Delete),
            other => Err(format!("Invalid Behavior setting '{other}'")),
        }
    }

    /// The TTL as a duration: `None` when empty or zero, Consul's error when unparsable
    /// (`Session TTL '…' invalid: …`).
    pub fn ttl(&self) -> Result<Option<Duration>, String> {
        if self.ttl.is_empty() {
            return Ok(None);
        }
        let ttl = GoDuration::parse(&self.ttl)
            .map_err(|e| format!("Session TTL '{}' invalid: {e}", self.ttl))?;
        Ok(Some(ttl.0).filter(|d| !d.is_zero()))
    }

    /// [`SessionRequest::ttl`] plus the range check against `min` (the agent's
    /// `session_ttl_min`) and [`SESSION_TTL_MAX`], with Consul's message, which clients match by
    /// its `Invalid Session TTL` prefix.
    pub fn validated_ttl(&self, min: Duration) -> Result<Option<Duration>, String> {
        let ttl = self.ttl()?;
        if let Some(d) = ttl {
            if d < min || d > SESSION_TTL_MAX {
                return Err(format!(
                    "Invalid Session TTL '{}', must be between [{}={}]",
                    d.as_nanos(),
                    format_go_duration(min),
                    format_go_duration(SESSION_TTL_MAX)
                ));
            }
        }
        Ok(ttl)
    }

    /// The node checks the session is tied to, applying Consul's rules for the old `Checks`
    /// field: both default to `[serfHealth]`; an empty `Checks` empties `NodeChecks`; a
    /// `Checks` of just `serfHealth` defers to `NodeChecks`; an empty `NodeChecks` drops
    /// `Checks`. What remains of `Checks` comes first, duplicates removed.
    pub fn resolved_node_checks(&self) -> Vec<String> {
        let serf = || vec![SERF_CHECK_ID.to_owned()];
        let mut legacy = self.checks.clone().unwrap_or_else(serf);
        let mut node = self.node_checks.clone().unwrap_or_else(serf);
        if legacy.is_empty() {
            node.clear();
        } else if (legacy.len() == 1 && legacy[0] == SERF_CHECK_ID) || node.is_empty() {
            // Only the default left in Checks, or NodeChecks explicitly empty: drop Checks.
            legacy.clear();
        }
        let mut out: Vec<String> = Vec::with_capacity(legacy.len() + node.len());
        for id in legacy.into_iter().chain(node) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }

    /// The session this request creates (ID and indexes left empty for the store to fill),
    /// or the first validation error in Consul's words. The TTL range is not checked here;
    /// see [`SessionRequest::validated_ttl`].
    pub fn to_session(&self, default_node: &str) -> Result<Session, String> {
        let behavior = self.behavior()?;
        self.ttl()?;
        Ok(Session {
            name: self.name.clone(),
            node: if self.node.is_empty() {
                default_node.to_owned()
            } else {
                self.node.clone()
            },
            lock_delay: self.lock_delay_or_default(),
            behavior,
            ttl: self.ttl.clone(),
            node_checks: self.resolved_node_checks(),
            service_checks: self.service_checks.clone().filter(|c| !c.is_empty()),
            ..Session::default()
        })
    }
}

fn lock_delay_ser<S: Serializer>(d: &Option<GoDuration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => crate::duration::nanos::serialize(d, s),
        None => s.serialize_none(),
    }
}

/// Apply Consul's "small numbers are seconds" rule.
fn lock_delay_from_nanos(nanos: u64) -> GoDuration {
    if nanos < LOCK_DELAY_SECONDS_THRESHOLD {
        GoDuration(Duration::from_secs(nanos))
    } else {
        GoDuration(Duration::from_nanos(nanos))
    }
}

struct LockDelayVisitor;

impl<'de> Visitor<'de> for LockDelayVisitor {
    type Value = Option<GoDuration>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Go duration string such as \"15s\" or a number")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(lock_delay_from_nanos(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        u64::try_from(v)
            .map(|n| Some(lock_delay_from_nanos(n)))
            .map_err(|_| E::custom(format!("negative lock delay {v}")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // Go converts with time.Duration(v), truncating toward zero.
        if v.is_finite() && v >= 0.0 && v <= i64::MAX as f64 {
            Ok(Some(lock_delay_from_nanos(v as u64)))
        } else {
            Err(E::custom(format!("invalid lock delay {v}")))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let d = GoDuration::parse(v).map_err(E::custom)?;
        let nanos = u64::try_from(d.0.as_nanos()).map_err(E::custom)?;
        Ok(Some(lock_delay_from_nanos(nanos)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

fn lock_delay_de<'de, D: Deserializer<'de>>(d: D) -> Result<Option<GoDuration>, D::Error> {
    d.deserialize_any(LockDelayVisitor)
}

struct TtlVisitor;

impl<'de> Visitor<'de> for TtlVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Go duration string such as \"30s\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(format_go_duration(Duration::from_nanos(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        u64::try_from(v)
            .map(|n| format_go_duration(Duration::from_nanos(n)))
            .map_err(|_| E::custom(format!("negative TTL {v}")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }
}

fn ttl_de<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(TtlVisitor)
}
