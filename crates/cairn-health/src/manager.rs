//! [`CheckManager`]: the agent's handle on its running health checks.

use crate::alias::AliasSource;
use crate::config::{CheckOptions, CheckSource, CheckState, ManagerConfig};
use crate::error::CheckError;
use crate::events::{CheckEvent, CheckEvents};
use crate::output::truncate_ttl_output;
use crate::registry::{Entry, Reporter, Shared, TtlState};
use crate::runners::docker::DockerHost;
use crate::spawn::{self, Kind};
use cairn_types::requests::CheckType;
use cairn_types::CheckStatus;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;

/// Runs the agent's health checks and reports their status changes.
///
/// Cloning gives another handle on the same checks; when the last handle is dropped every
/// check stops (script checks kill their process groups). All methods are synchronous and
/// cheap; runners are tokio tasks on the runtime the manager was created in.
#[derive(Clone)]
pub struct CheckManager {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    reaper: tokio::task::AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.reaper.abort();
        // Dropping the entries aborts their runner tasks.
        let entries: Vec<Entry> = self.shared.checks.lock().drain().map(|(_, e)| e).collect();
        drop(entries);
    }
}

impl std::fmt::Debug for CheckManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckManager")
            .field("checks", &self.len())
            .finish()
    }
}

/// The parts of a definition that decide how a check runs; two definitions equal here need
/// no restart.
fn run_view(def: &CheckType) -> CheckType {
    CheckType {
        check_id: String::new(),
        name: String::new(),
        notes: String::new(),
        service_id: String::new(),
        status: String::new(),
        ..def.clone()
    }
}

impl CheckManager {
    /// Creates a manager on the current tokio runtime and the stream of its events.
    pub fn new(config: ManagerConfig) -> Result<(CheckManager, CheckEvents), CheckError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| CheckError::NoRuntime)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let docker =
            DockerHost::parse(&config.docker_host).ok_or_else(|| config.docker_host.clone());
        let reap_interval = config.reap_interval.max(Duration::from_millis(1));
        let shared = Arc::new(Shared {
            config,
            runtime: runtime.clone(),
            checks: Mutex::new(HashMap::new()),
            events: tx,
            alias_source: RwLock::new(None),
            local_changes: watch::channel(0).0,
            http_clients: Default::default(),
            docker,
            next_generation: std::sync::atomic::AtomicU64::new(1),
        });
        let reaper_shared = Arc::downgrade(&shared);
        let reaper = runtime
            .spawn(async move {
                let mut ticks =
                    tokio::time::interval_at(Instant::now() + reap_interval, reap_interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    let Some(shared) = reaper_shared.upgrade() else {
                        return;
                    };
                    for reap in shared.services_to_reap(Instant::now()) {
                        let _ = shared.events.send(CheckEvent::Reap(reap));
                    }
                }
            })
            .abort_handle();
        Ok((
            CheckManager {
                inner: Arc::new(Inner { shared, reaper }),
            },
            CheckEvents::new(rx),
        ))
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// Installs the agent's lookups for alias checks (may come after checks were added).
    pub fn set_alias_source(&self, source: Arc<dyn AliasSource>) {
        *self.shared().alias_source.write() = Some(source);
        self.notify_local_checks_changed();
    }

    /// Tells local alias checks that the agent's local checks changed (a status, a
    /// registration or a removal), so they re-evaluate.
    pub fn notify_local_checks_changed(&self) {
        self.shared()
            .local_changes
            .send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Adds a check, or re-registers one.
    ///
    /// A new check starts at `opts.initial_status` (else the definition's `Status`, else
    /// critical); no event is emitted for that starting state. Re-registering an ID with the
    /// same run definition (only name, notes, token, status or IDs differ) changes nothing and
    /// keeps it running; a different definition restarts the runner but keeps the current
    /// status and output, as Consul does.
    pub fn add(&self, id: &str, def: CheckType, opts: CheckOptions) -> Result<(), CheckError> {
        if id.is_empty() {
            return Err(CheckError::MissingId);
        }
        def.validate().map_err(CheckError::Invalid)?;
        let kind = spawn::kind_of(&def)?;
        if def.is_script() {
            let cfg = &self.shared().config;
            match opts.source {
                CheckSource::Config
                    if !(cfg.enable_local_script_checks || cfg.enable_script_checks) =>
                {
                    return Err(CheckError::ScriptsDisabled)
                }
                CheckSource::Api if !cfg.enable_script_checks => {
                    return Err(CheckError::ScriptsDisabledRemote)
                }
                _ => {}
            }
        }
        let initial = match opts.initial_status {
            Some(s) => s,
            None => def.initial_status().map_err(CheckError::InvalidStatus)?,
        };
        let shared = self.shared();

        // Unchanged definition: keep the runner.
        {
            let mut checks = shared.checks.lock();
            if let Some(e) = checks.get_mut(id) {
                if run_view(&e.def) == run_view(&def) {
                    e.reap_after = self.reap_after(id, &def);
                    e.def = def;
                    e.opts = CheckOptions {
                        initial_status: None,
                        initial_output: String::new(),
                        ..opts
                    };
                    return Ok(());
                }
            }
        }

        let generation = shared.generation();
        let reporter = Reporter {
            shared: shared.clone(),
            id: Arc::from(id),
            generation,
        };
        let future = spawn::runner(shared, kind, &def, reporter)?;
        let ttl = (kind == Kind::Ttl).then(|| TtlState {
            ttl: def.ttl.as_duration(),
            deadline: Some(Instant::now() + def.ttl.as_duration()),
            last_output: String::new(),
            wake: Arc::new(Notify::new()),
        });
        let reap_after = self.reap_after(id, &def);

        let mut checks = shared.checks.lock();
        let (status, output, critical_since) = match checks.get(id) {
            Some(old) => (
                old.status,
                old.output.clone(),
                // Re-adding reports the kept status again, which restarts critical time.
                (old.status == CheckStatus::Critical).then(Instant::now),
            ),
            None => {
                let output = if shared.config.discard_check_output {
                    String::new()
                } else {
                    opts.initial_output.clone()
                };
                (initial, output, None)
            }
        };
        let task = shared.runtime.spawn(future).abort_handle();
        // Replacing the entry drops the old one, which aborts its runner.
        checks.insert(
            id.to_owned(),
            Entry {
                def,
                opts: CheckOptions {
                    initial_status: None,
                    initial_output: String::new(),
                    ..opts
                },
                generation,
                status,
                output,
                critical_since,
                reap_after,
                ttl,
                task: Some(task),
            },
        );
        Ok(())
    }

    /// Replaces the definition of an existing check (see [`CheckManager::add`]); its options
    /// stay as they were.
    pub fn update(&self, id: &str, def: CheckType) -> Result<(), CheckError> {
        let opts = {
            let checks = self.shared().checks.lock();
            match checks.get(id) {
                Some(e) => e.opts.clone(),
                None => return Err(CheckError::UnknownCheck(id.to_owned())),
            }
        };
        self.add(id, def, opts)
    }

    /// Stops and forgets a check; `false` if it was unknown.
    pub fn remove(&self, id: &str) -> bool {
        let removed = self.shared().checks.lock().remove(id);
        removed.is_some()
    }

    /// Stops every check.
    pub fn remove_all(&self) {
        let entries: Vec<Entry> = self
            .shared()
            .checks
            .lock()
            .drain()
            .map(|(_, e)| e)
            .collect();
        drop(entries);
    }

    /// Feeds a TTL check (`/v1/agent/check/pass|warn|fail|update`): sets its status and
    /// output and restarts its TTL. Returns the output as stored (truncated to
    /// `output_max_size` with Consul's marker), which is what Consul persists.
    pub fn ttl_update(
        &self,
        id: &str,
        status: CheckStatus,
        output: &str,
    ) -> Result<String, CheckError> {
        let shared = self.shared();
        let mut checks = shared.checks.lock();
        let Some(entry) = checks.get_mut(id) else {
            return Err(CheckError::UnknownCheck(id.to_owned()));
        };
        let max = spawn::output_max(shared.config.check_output_max_size, &entry.def);
        let Some(ttl) = entry.ttl.as_mut() else {
            return Err(CheckError::NotTtl(id.to_owned()));
        };
        let output = truncate_ttl_output(output, max);
        tracing::debug!(check = id, %status, "check status updated");
        let was_idle = ttl.deadline.is_none();
        ttl.deadline = Some(Instant::now() + ttl.ttl);
        ttl.last_output.clone_from(&output);
        if was_idle {
            ttl.wake.notify_one();
        }
        shared.apply(id, entry, status, output.clone());
        Ok(output)
    }

    /// A check's current status and output.
    pub fn state(&self, id: &str) -> Option<CheckState> {
        self.shared().checks.lock().get(id).map(|e| CheckState {
            status: e.status,
            output: e.output.clone(),
        })
    }

    /// The IDs of all checks, sorted.
    pub fn check_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.shared().checks.lock().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Whether `id` is a TTL check.
    pub fn is_ttl(&self, id: &str) -> bool {
        self.shared()
            .checks
            .lock()
            .get(id)
            .is_some_and(|e| e.ttl.is_some())
    }

    /// Number of checks.
    pub fn len(&self) -> usize {
        self.shared().checks.lock().len()
    }

    /// Whether there are no checks.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The reap timeout of `def`, raised to the configured minimum.
    fn reap_after(&self, id: &str, def: &CheckType) -> Option<Duration> {
        let after = def.deregister_critical_service_after.as_duration();
        if after.is_zero() {
            return None;
        }
        let min = self.shared().config.deregister_interval_min;
        if after < min {
            tracing::warn!(
                check = id,
                minimum_interval = ?min,
                "check has deregister interval below minimum"
            );
            Some(min)
        } else {
            Some(after)
        }
    }
}
