//! Session TTL bookkeeping for the leader. Pure: the caller passes a monotonic clock.
//!
//! As in Consul, TTL timers live only on the leader: renewals reset them without going through
//! raft, a new leader starts every timer afresh, and a session expires after `TTL × 2` without
//! renewal (`SessionTTLMultiplier`). The leader then proposes [`Command::SessionDestroy`].

use crate::command::Command;
use crate::error::CatalogError;
use cairn_types::duration::format_go_duration;
use cairn_types::GoDuration;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Consul's grace factor: a session expires after this many TTLs without renewal.
pub const SESSION_TTL_MULTIPLIER: u32 = 2;
/// The shortest TTL Consul accepts by default (`session_ttl_min`).
pub const SESSION_TTL_MIN: Duration = Duration::from_secs(10);
/// The longest TTL Consul accepts (`SessionTTLMax`, 24h).
pub const SESSION_TTL_MAX: Duration = Duration::from_secs(86_400);
/// The lock-delay a session gets when none is given.
pub const DEFAULT_LOCK_DELAY: Duration = Duration::from_secs(15);

/// Parse and check a session TTL as Consul's session endpoint does. An empty or zero TTL means
/// "no TTL" and is accepted; otherwise it must lie within `[min, SESSION_TTL_MAX]`.
pub fn validate_session_ttl(ttl: &str, min: Duration) -> Result<Option<Duration>, CatalogError> {
    if ttl.is_empty() {
        return Ok(None);
    }
    let parsed = GoDuration::parse(ttl).map_err(|e| CatalogError::UnparsableSessionTtl {
        ttl: ttl.to_string(),
        reason: e.to_string(),
    })?;
    let d = parsed.0;
    if d.is_zero() {
        return Ok(None);
    }
    if d < min || d > SESSION_TTL_MAX {
        return Err(CatalogError::InvalidSessionTtl {
            ttl_nanos: d.as_nanos(),
            min: format_go_duration(min),
            max: format_go_duration(SESSION_TTL_MAX),
        });
    }
    Ok(Some(d))
}

/// Tracks when each TTL session expires on the leader.
#[derive(Debug, Default)]
pub struct SessionTtlTracker {
    /// Session ID → (TTL, deadline).
    sessions: BTreeMap<String, (Duration, Instant)>,
    /// (deadline, ID), for finding expired sessions in order.
    deadlines: BTreeSet<(Instant, String)>,
}

impl SessionTtlTracker {
    /// An empty tracker.
    pub fn new() -> SessionTtlTracker {
        SessionTtlTracker::default()
    }

    /// Forget everything and start a timer for each `(id, ttl)` from `now` (on gaining
    /// leadership; feed it [`crate::CatalogView::session_ttls`]).
    pub fn reset_all(
        &mut self,
        sessions: impl IntoIterator<Item = (String, Duration)>,
        now: Instant,
    ) {
        self.sessions.clear();
        self.deadlines.clear();
        for (id, ttl) in sessions {
            self.track(id, ttl, now);
        }
    }

    /// Start (or restart) the timer of a session, e.g. right after it was created.
    pub fn track(&mut self, id: String, ttl: Duration, now: Instant) {
        if ttl.is_zero() {
            self.remove(&id);
            return;
        }
        let deadline = now + ttl * SESSION_TTL_MULTIPLIER;
        if let Some((_, old)) = self.sessions.insert(id.clone(), (ttl, deadline)) {
            self.deadlines.remove(&(old, id.clone()));
        }
        self.deadlines.insert((deadline, id));
    }

    /// Renew a session: restart its timer. `false` if it is not tracked (no TTL, unknown, or
    /// already expired).
    pub fn renew(&mut self, id: &str, now: Instant) -> bool {
        match self.sessions.get(id) {
            Some(&(ttl, _)) => {
                self.track(id.to_string(), ttl, now);
                true
            }
            None => false,
        }
    }

    /// Stop tracking a session (destroyed).
    pub fn remove(&mut self, id: &str) {
        if let Some((_, deadline)) = self.sessions.remove(id) {
            self.deadlines.remove(&(deadline, id.to_string()));
        }
    }

    /// Remove and return the sessions whose deadline is at or before `now`, earliest first.
    pub fn expired(&mut self, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        while let Some((deadline, _)) = self.deadlines.first() {
            if *deadline > now {
                break;
            }
            if let Some((_, id)) = self.deadlines.pop_first() {
                self.sessions.remove(&id);
                out.push(id);
            }
        }
        out
    }

    /// [`SessionTtlTracker::expired`] as the commands the leader proposes; `now_ms` is its
    /// wall clock for the lock-delays.
    pub fn expire_commands(&mut self, now: Instant, now_ms: u64) -> Vec<Command> {
        self.expired(now)
            .into_iter()
            .map(|id| Command::SessionDestroy { id, now_ms })
            .collect()
    }

    /// When the next session expires, for the leader's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(d, _)| *d)
    }

    /// Number of tracked sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is tracked.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}
