//! Session queries. Every session query reports the `sessions` table index.

use super::{at_least_one, CatalogView};
use crate::state::fold;
use cairn_types::Session;
use std::time::Duration;

impl CatalogView {
    /// `GET /v1/session/info/:id`.
    pub fn session(&self, id: &str) -> (Option<Session>, u64) {
        let s = self.s.sessions.get(id).map(|s| Session::clone(s));
        (s, at_least_one(self.s.idx.sessions))
    }

    /// `GET /v1/session/list`: every session, by ID.
    pub fn sessions(&self) -> (Vec<Session>, u64) {
        let all = self
            .s
            .sessions
            .values()
            .map(|s| Session::clone(s))
            .collect();
        (all, at_least_one(self.s.idx.sessions))
    }

    /// `GET /v1/session/node/:node`: the sessions of a node, by ID.
    pub fn node_sessions(&self, node: &str) -> (Vec<Session>, u64) {
        let list = self
            .s
            .node_sessions
            .get(fold(node).as_ref())
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| self.s.sessions.get(id))
                    .map(|s| Session::clone(s))
                    .collect()
            })
            .unwrap_or_default();
        (list, at_least_one(self.s.idx.sessions))
    }

    /// Every session with a non-zero TTL and that TTL, for a new leader to start its timers
    /// ([`crate::SessionTtlTracker::reset_all`]). Unparsable TTLs are skipped.
    pub fn session_ttls(&self) -> Vec<(String, Duration)> {
        self.s
            .sessions
            .values()
            .filter_map(|s| {
                let ttl = cairn_types::GoDuration::parse(&s.ttl).ok()?.0;
                (!ttl.is_zero()).then(|| (s.id.clone(), ttl))
            })
            .collect()
    }
}
