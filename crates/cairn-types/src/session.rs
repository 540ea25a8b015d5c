//! Sessions: locks, semaphores and leader election.

use crate::duration::{nanos, GoDuration};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What happens to a session's locks when it is invalidated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionBehavior {
    /// Locks are released (the default).
    #[default]
    Release,
    /// Locked keys are deleted.
    Delete,
}

/// A service check a session is tied to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceCheckRef {
    /// Check ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Namespace (enterprise; always empty here).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

/// A session (`GET /v1/session/info/:id` element).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Session {
    /// Session UUID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Node the session belongs to.
    pub node: String,
    /// How long a released lock stays unacquirable; integer nanoseconds in JSON.
    #[serde(with = "nanos")]
    pub lock_delay: GoDuration,
    /// Invalidation behaviour.
    pub behavior: SessionBehavior,
    /// TTL as a Go duration string (empty for no TTL).
    #[serde(rename = "TTL")]
    pub ttl: String,
    /// Node checks tied to the session.
    pub node_checks: Vec<String>,
    /// Service checks tied to the session.
    pub service_checks: Option<Vec<ServiceCheckRef>>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of last change.
    pub modify_index: u64,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            id: String::new(),
            name: String::new(),
            node: String::new(),
            lock_delay: GoDuration(Duration::from_secs(15)),
            behavior: SessionBehavior::Release,
            ttl: String::new(),
            node_checks: Vec::new(),
            service_checks: None,
            create_index: 0,
            modify_index: 0,
        }
    }
}
