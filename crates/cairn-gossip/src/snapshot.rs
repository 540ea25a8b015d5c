//! serf's membership snapshot file (`snapshot.go`), used to rejoin after a restart: an
//! append-only text log of `alive: NAME IP:PORT`, `not-alive: NAME`, `clock: N`,
//! `event-clock: N`, `query-clock: N` and `leave` lines, compacted when it grows.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::serf::messages::LamportTime;

/// Snapshot files are compacted beyond this size (serf's `snapshotSizeLimit`).
pub const SNAPSHOT_SIZE_LIMIT: usize = 128 * 1024;

/// What a snapshot file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotState {
    /// Members alive at the last record, by name.
    pub alive: BTreeMap<String, SocketAddr>,
    /// Member clock.
    pub clock: LamportTime,
    /// Event clock.
    pub event_clock: LamportTime,
    /// Query clock.
    pub query_clock: LamportTime,
    /// Whether the node left gracefully (and so should not rejoin unless asked to).
    pub left: bool,
}

impl SnapshotState {
    /// Replays a snapshot log. Unknown or malformed lines are skipped, as serf does.
    pub fn parse(text: &str, rejoin_after_leave: bool) -> Self {
        let mut s = SnapshotState::default();
        for line in text.lines() {
            let line = line.trim_end();
            if let Some(rest) = line.strip_prefix("alive: ") {
                if let Some((name, addr)) = rest.rsplit_once(' ') {
                    if let Ok(a) = addr.parse() {
                        s.alive.insert(name.to_string(), a);
                    }
                }
            } else if let Some(name) = line.strip_prefix("not-alive: ") {
                s.alive.remove(name);
            } else if let Some(v) = line.strip_prefix("clock: ") {
                s.clock = v.parse().unwrap_or(s.clock);
            } else if let Some(v) = line.strip_prefix("event-clock: ") {
                s.event_clock = v.parse().unwrap_or(s.event_clock);
            } else if let Some(v) = line.strip_prefix("query-clock: ") {
                s.query_clock = v.parse().unwrap_or(s.query_clock);
            } else if line == "leave" && !rejoin_after_leave {
                s.alive.clear();
                s.left = true;
            }
        }
        s
    }

    /// A compacted log holding just this state.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, addr) in &self.alive {
            out.push_str(&format!("alive: {name} {addr}\n"));
        }
        out.push_str(&format!("clock: {}\n", self.clock));
        out.push_str(&format!("event-clock: {}\n", self.event_clock));
        out.push_str(&format!("query-clock: {}\n", self.query_clock));
        out
    }
}

/// One line to append for a member becoming alive.
pub fn alive_line(name: &str, addr: SocketAddr) -> String {
    format!("alive: {name} {addr}\n")
}

/// One line to append for a member that failed or left.
pub fn not_alive_line(name: &str) -> String {
    format!("not-alive: {name}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_and_compact() {
        let log = "alive: a 127.0.0.1:7946\nalive: b 127.0.0.1:7947\nclock: 5\nnot-alive: a\n\
                   event-clock: 3\nquery-clock: 2\ngarbage line\nalive: c [::1]:7000\nclock: 9\n";
        let s = SnapshotState::parse(log, false);
        assert_eq!(s.alive.len(), 2);
        assert_eq!(s.alive["c"], "[::1]:7000".parse().unwrap());
        assert_eq!((s.clock, s.event_clock, s.query_clock), (9, 3, 2));
        assert_eq!(SnapshotState::parse(&s.render(), false), s);
        let left = SnapshotState::parse(&format!("{log}leave\n"), false);
        assert!(left.left && left.alive.is_empty());
        let rejoin = SnapshotState::parse(&format!("{log}leave\n"), true);
        assert_eq!(rejoin.alive.len(), 2);
    }
}
