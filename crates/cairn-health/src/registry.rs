//! The shared table of running checks: current status, change detection, TTL deadlines and
//! the reaper's critical-time tracking. One mutex guards it all, so every status change and
//! the event announcing it happen in one order.

use crate::alias::AliasSource;
use crate::config::ManagerConfig;
use crate::events::{CheckEvent, CheckUpdate, ReapService};
use crate::runners::docker::DockerHost;
use crate::runners::http::HttpClients;
use cairn_types::requests::CheckType;
use cairn_types::CheckStatus;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// State shared by the manager handle and every runner task.
pub(crate) struct Shared {
    pub(crate) config: ManagerConfig,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) checks: Mutex<HashMap<String, Entry>>,
    pub(crate) events: mpsc::UnboundedSender<CheckEvent>,
    pub(crate) alias_source: RwLock<Option<Arc<dyn AliasSource>>>,
    /// Bumped whenever the agent says its local checks changed; local alias checks watch it.
    pub(crate) local_changes: watch::Sender<u64>,
    pub(crate) http_clients: HttpClients,
    /// The Docker endpoint, or the unparsable `DOCKER_HOST` text.
    pub(crate) docker: Result<DockerHost, String>,
    pub(crate) next_generation: std::sync::atomic::AtomicU64,
}

/// One registered check.
pub(crate) struct Entry {
    /// The definition as given (compared on re-registration).
    pub(crate) def: CheckType,
    pub(crate) opts: crate::config::CheckOptions,
    /// Identifies the runner currently allowed to report for this check.
    pub(crate) generation: u64,
    pub(crate) status: CheckStatus,
    pub(crate) output: String,
    /// When the check last went critical (Consul's `CriticalTime`); `None` when not critical.
    pub(crate) critical_since: Option<Instant>,
    /// `DeregisterCriticalServiceAfter` after the minimum was applied.
    pub(crate) reap_after: Option<Duration>,
    /// TTL bookkeeping of TTL checks.
    pub(crate) ttl: Option<TtlState>,
    /// The runner task, aborted when the check goes away or is replaced.
    pub(crate) task: Option<AbortHandle>,
}

impl Entry {
    /// The service a reap would deregister.
    pub(crate) fn service_id(&self) -> &str {
        if self.opts.service_id.is_empty() {
            &self.def.service_id
        } else {
            &self.opts.service_id
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A TTL check's timer.
pub(crate) struct TtlState {
    pub(crate) ttl: Duration,
    /// When the TTL runs out; `None` once it has (until the next update).
    pub(crate) deadline: Option<Instant>,
    /// The last output set through an update, quoted when the TTL expires.
    pub(crate) last_output: String,
    /// Wakes the TTL task when a deadline appears after it had run out.
    pub(crate) wake: Arc<Notify>,
}

impl TtlState {
    /// Consul's output for an expired TTL.
    pub(crate) fn expired_output(&self) -> String {
        if self.last_output.is_empty() {
            "TTL expired".to_owned()
        } else {
            format!(
                "TTL expired (last output before timeout follows): {}",
                self.last_output
            )
        }
    }
}

impl Shared {
    /// Records a result for `entry` and emits an update if status or output changed.
    pub(crate) fn apply(&self, id: &str, entry: &mut Entry, status: CheckStatus, output: String) {
        let output = if self.config.discard_check_output {
            String::new()
        } else {
            output
        };
        // Critical time is tracked on every report, changed or not, as Consul's local state
        // does; the reaper measures from the first of a run of critical reports.
        if status == CheckStatus::Critical {
            if entry.critical_since.is_none() {
                entry.critical_since = Some(Instant::now());
            }
        } else {
            entry.critical_since = None;
        }
        if entry.status == status && entry.output == output {
            return;
        }
        let status_changed = entry.status != status;
        if status_changed {
            tracing::debug!(check = id, %status, "check status changed");
        }
        entry.status = status;
        entry.output.clone_from(&output);
        // The receiver may be gone during shutdown; nothing to do then.
        let _ = self.events.send(CheckEvent::Update(CheckUpdate {
            check_id: id.to_owned(),
            status,
            output,
            status_changed,
        }));
    }

    /// A fresh runner generation.
    pub(crate) fn generation(&self) -> u64 {
        self.next_generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Services with a check critical for longer than its reap timeout, once per service.
    pub(crate) fn services_to_reap(&self, now: Instant) -> Vec<ReapService> {
        let checks = self.checks.lock();
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let mut ids: Vec<&String> = checks.keys().collect();
        ids.sort();
        for id in ids {
            let Some(e) = checks.get(id) else { continue };
            let (Some(after), Some(since)) = (e.reap_after, e.critical_since) else {
                continue;
            };
            let service = e.service_id();
            if service.is_empty() || seen.contains(service) {
                continue;
            }
            let critical_for = now.saturating_duration_since(since);
            if critical_for > after {
                seen.insert(service.to_owned());
                tracing::info!(
                    check = %id,
                    service = service,
                    "check for service has been critical for too long; deregistering service"
                );
                out.push(ReapService {
                    service_id: service.to_owned(),
                    check_id: id.clone(),
                    critical_for,
                });
            }
        }
        out
    }
}

/// What a TTL task should do next.
pub(crate) enum TtlNext {
    /// The check is gone or replaced: stop.
    Stop,
    /// The TTL ran out already: wait to be woken.
    Idle(Arc<Notify>),
    /// Sleep until this deadline.
    At(Instant),
}

/// A runner's handle for reporting results of its own check (and nothing after it was
/// replaced or removed).
#[derive(Clone)]
pub(crate) struct Reporter {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: Arc<str>,
    pub(crate) generation: u64,
}

impl Reporter {
    /// Reports a result that already passed the thresholds.
    pub(crate) fn report(&self, status: CheckStatus, output: String) {
        let mut checks = self.shared.checks.lock();
        if let Some(entry) = checks.get_mut(&*self.id) {
            if entry.generation == self.generation {
                self.shared.apply(&self.id, entry, status, output);
            }
        }
    }

    /// The TTL task's next step.
    pub(crate) fn ttl_next(&self) -> TtlNext {
        let checks = self.shared.checks.lock();
        match checks.get(&*self.id) {
            Some(e) if e.generation == self.generation => match &e.ttl {
                Some(t) => match t.deadline {
                    Some(d) => TtlNext::At(d),
                    None => TtlNext::Idle(t.wake.clone()),
                },
                None => TtlNext::Stop,
            },
            _ => TtlNext::Stop,
        }
    }

    /// Marks the TTL expired if its deadline has passed (it may have moved meanwhile).
    pub(crate) fn ttl_expire_if_due(&self) {
        let mut checks = self.shared.checks.lock();
        let Some(entry) = checks.get_mut(&*self.id) else {
            return;
        };
        if entry.generation != self.generation {
            return;
        }
        let Some(ttl) = entry.ttl.as_mut() else {
            return;
        };
        match ttl.deadline {
            Some(d) if d <= Instant::now() => {
                ttl.deadline = None;
                let output = ttl.expired_output();
                tracing::warn!(check = %self.id, "check missed TTL, is now critical");
                self.shared
                    .apply(&self.id, entry, CheckStatus::Critical, output);
            }
            _ => {}
        }
    }
}
