//! A ready-made store of recent user events with Consul's blocking semantics, for agents to
//! back [`crate::AgentApi::events`] with.

use super::types::UserEvent;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// How many events an agent keeps (Consul's `userEventSize`).
const KEPT: usize = 256;

/// The last 256 user events seen by an agent, oldest first.
#[derive(Debug, Default)]
pub struct EventLog {
    events: Mutex<VecDeque<UserEvent>>,
    changed: Notify,
}

impl EventLog {
    /// An empty log.
    pub fn new() -> EventLog {
        EventLog::default()
    }

    /// Record an event (dropping the oldest beyond 256) and wake blocked listers.
    pub fn push(&self, event: UserEvent) {
        if let Ok(mut events) = self.events.lock() {
            if events.len() == KEPT {
                events.pop_front();
            }
            events.push_back(event);
        }
        self.changed.notify_waiters();
    }

    /// Every kept event, oldest first.
    pub fn list(&self) -> Vec<UserEvent> {
        self.events
            .lock()
            .map(|e| e.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn last_index(&self) -> u64 {
        self.events
            .lock()
            .ok()
            .and_then(|e| e.back().map(UserEvent::index))
            .unwrap_or(0)
    }

    /// The events, once the newest one's index differs from `min_index` (at once when
    /// `min_index` is 0), or after `wait` whatever they are.
    pub async fn wait_list(&self, min_index: u64, wait: Duration) -> Vec<UserEvent> {
        if min_index == 0 {
            return self.list();
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.last_index() != min_index {
                return self.list();
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => return self.list(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn event(n: u8) -> UserEvent {
        UserEvent {
            id: format!("00000000-0000-0000-0000-0000000000{n:02x}"),
            name: format!("e{n}"),
            version: 1,
            ..UserEvent::default()
        }
    }

    #[test]
    fn keeps_the_last_256() {
        let log = EventLog::new();
        for n in 0..=255u8 {
            log.push(event(n));
        }
        log.push(event(7));
        let list = log.list();
        assert_eq!(list.len(), 256);
        assert_eq!(list[0].name, "e1");
        assert_eq!(list[255].name, "e7");
    }

    #[tokio::test(start_paused = true)]
    async fn blocks_until_a_new_event() {
        let log = Arc::new(EventLog::new());
        log.push(event(1));
        let idx = log.list()[0].index();
        let waiter = {
            let log = log.clone();
            tokio::spawn(async move { log.wait_list(idx, Duration::from_secs(60)).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        log.push(event(2));
        let got = waiter.await.unwrap();
        assert_eq!(got.len(), 2);
        // Timeout with nothing new returns the current list.
        let idx = got[1].index();
        let got = log.wait_list(idx, Duration::from_secs(3)).await;
        assert_eq!(got.len(), 2);
    }
}
