//! What the manager tells the agent: status changes and services to reap.

use cairn_types::CheckStatus;
use std::time::Duration;
use tokio::sync::mpsc;

/// A check's status or output changed.
///
/// Emitted only on a change, in the order the changes happened. Consul syncs output-only
/// changes to the servers lazily (`check_update_interval`, default 5 minutes) and status
/// changes at once; `status_changed` lets the agent's anti-entropy do the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckUpdate {
    /// The check's ID.
    pub check_id: String,
    /// The new status.
    pub status: CheckStatus,
    /// The new output (truncated; empty with `discard_check_output`).
    pub output: String,
    /// Whether the status changed (false: only the output did).
    pub status_changed: bool,
}

/// A service whose check has been critical for longer than its
/// `DeregisterCriticalServiceAfter`: the agent should deregister the service (and its checks),
/// as Consul's reaper does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReapService {
    /// The service to deregister.
    pub service_id: String,
    /// The check that has been critical too long.
    pub check_id: String,
    /// How long that check has been critical.
    pub critical_for: Duration,
}

/// One event from the manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckEvent {
    /// A check's status or output changed.
    Update(CheckUpdate),
    /// A service should be deregistered.
    Reap(ReapService),
}

/// The stream of [`CheckEvent`]s of one manager. Unbounded, so runners never wait on the
/// agent; the agent should keep draining it.
#[derive(Debug)]
pub struct CheckEvents {
    rx: mpsc::UnboundedReceiver<CheckEvent>,
}

impl CheckEvents {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<CheckEvent>) -> Self {
        CheckEvents { rx }
    }

    /// Waits for the next event; `None` once the manager is gone and every event was read.
    pub async fn recv(&mut self) -> Option<CheckEvent> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<CheckEvent> {
        self.rx.try_recv().ok()
    }
}
