//! User events (`serf.go` `UserEvent`/`handleUserEvent`, `coalesce_user.go`): Lamport-ordered,
//! de-duplicated through a bounded ring of recent times, optionally coalesced by name.

use std::collections::HashMap;

use super::messages::{SerfMessage, UserEventEntry, UserEventMsg, UserEventsAt};
use super::{Serf, SerfTimer};
use crate::event::{Event, UserEvent};
use crate::time::Time;

/// serf's absolute cap on a user event (name + payload), whatever the configuration says.
pub const USER_EVENT_SIZE_LIMIT: usize = 9 * 1024;

/// Pending coalescable user events, latest per name.
#[derive(Debug, Default)]
pub(crate) struct Coalescer {
    latest: HashMap<String, UserEvent>,
    flush_by: Option<Time>,
    quiet_by: Option<Time>,
}

impl Serf {
    /// Fires a user event into the pool.
    pub(crate) fn user_event(
        &mut self,
        name: &str,
        payload: &[u8],
        coalesce: bool,
        now: Time,
    ) -> crate::Result<()> {
        let size = name.len() + payload.len();
        let limit = self.cfg.user_event_size_limit.min(USER_EVENT_SIZE_LIMIT);
        if size > limit {
            return Err(crate::Error::SizeLimit(format!(
                "user event exceeds configured limit of {limit} bytes before encoding"
            )));
        }
        let msg = UserEventMsg {
            ltime: self.event_clock.time(),
            name: name.to_string(),
            payload: payload.to_vec(),
            cc: coalesce,
        };
        let raw = msg.encode();
        if raw.len() > limit {
            return Err(crate::Error::SizeLimit(format!(
                "encoded user event exceeds configured limit of {limit} bytes after encoding"
            )));
        }
        self.event_clock.increment();
        self.handle_user_event(msg, now);
        self.event_broadcasts.queue(raw, None, None);
        Ok(())
    }

    /// Records a user event; true if it was new (and should be re-gossiped).
    pub(crate) fn handle_user_event(&mut self, msg: UserEventMsg, now: Time) -> bool {
        self.event_clock.witness(msg.ltime);
        if msg.ltime < self.event_min_time {
            return false;
        }
        let len = self.event_buffer.len() as u64;
        let cur = self.event_clock.time();
        if cur > len && msg.ltime < cur - len {
            tracing::warn!(name = %msg.name, ltime = msg.ltime, cur, "received old event");
            return false;
        }
        let idx = (msg.ltime % len) as usize;
        let entry = UserEventEntry {
            name: msg.name.clone(),
            payload: msg.payload.clone(),
        };
        match &mut self.event_buffer[idx] {
            Some(slot) if slot.ltime == msg.ltime => {
                if slot.events.contains(&entry) {
                    return false;
                }
                slot.events.push(entry);
            }
            slot => {
                *slot = Some(UserEventsAt {
                    ltime: msg.ltime,
                    events: vec![entry],
                });
            }
        }
        let ev = UserEvent {
            ltime: msg.ltime,
            name: msg.name,
            payload: msg.payload,
            coalesce: msg.cc,
        };
        if ev.coalesce && !self.cfg.user_coalesce_period.is_zero() {
            self.coalesce_user(ev, now);
        } else {
            self.emit(Event::User(ev));
        }
        true
    }

    fn coalesce_user(&mut self, ev: UserEvent, now: Time) {
        let c = &mut self.coalesce;
        match c.latest.get(&ev.name) {
            Some(prev) if prev.ltime > ev.ltime => {}
            _ => {
                c.latest.insert(ev.name.clone(), ev);
            }
        }
        if c.flush_by.is_none() {
            c.flush_by = Some(now + self.cfg.user_coalesce_period);
        }
        c.quiet_by = Some(now + self.cfg.user_quiescent_period);
        let at = c.flush_by.min(c.quiet_by).unwrap_or(now);
        self.set_timer(at, SerfTimer::CoalesceFlush);
    }

    /// Emits coalesced events once the period or the quiet time has passed.
    pub(crate) fn coalesce_flush(&mut self, now: Time) {
        let c = &self.coalesce;
        let due = c.flush_by.min(c.quiet_by).is_some_and(|t| t <= now);
        if !due {
            return;
        }
        let mut events: Vec<UserEvent> = std::mem::take(&mut self.coalesce.latest)
            .into_values()
            .collect();
        events.sort_by_key(|e| e.ltime);
        self.coalesce.flush_by = None;
        self.coalesce.quiet_by = None;
        for e in events {
            self.emit(Event::User(e));
        }
    }
}
