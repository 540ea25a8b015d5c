//! Running the agent's health checks with `cairn-health`, and feeding results to local state.

use super::Shared;
use crate::local::Source;
use cairn_config::RuntimeConfig;
use cairn_health::alias::{AliasChecks, AliasQuery, AliasSource, BoxFuture, ServiceQuery};
use cairn_health::{CheckEvent, CheckEvents, CheckOptions, ManagerConfig};
use cairn_types::requests::CheckType;
use cairn_types::{CheckStatus, HealthCheck};
use std::sync::Arc;

/// The check manager's settings from the agent's configuration.
pub(crate) fn manager_config(cfg: &RuntimeConfig) -> ManagerConfig {
    ManagerConfig {
        enable_script_checks: cfg.enable_remote_script_checks,
        enable_local_script_checks: cfg.enable_local_script_checks,
        check_output_max_size: cfg.check_output_max_size as usize,
        discard_check_output: cfg.discard_check_output,
        ..ManagerConfig::default()
    }
}

/// Start (or keep running) the runner of a check. Errors are Consul's texts (HTTP 400).
pub(crate) fn start(
    shared: &Shared,
    hc: &HealthCheck,
    def: &CheckType,
    source: Source,
    restored: Option<(CheckStatus, String)>,
) -> Result<(), String> {
    let mut opts = match source {
        Source::Config => CheckOptions::config(),
        Source::Api => CheckOptions::api(),
    };
    if !hc.service_id.is_empty() {
        opts = opts.for_service(&hc.service_id);
    }
    if let Some((status, output)) = restored {
        opts.initial_status = Some(status);
        opts.initial_output = output;
    }
    shared
        .checks
        .add(&hc.check_id, def.clone(), opts)
        .map_err(|e| e.to_string())
}

/// Start runners for API checks restored from the data dir, from their last known state.
pub(crate) fn start_persisted(shared: &Shared) {
    for (id, c) in shared.local.checks() {
        let Some(def) = &c.definition else { continue };
        let restored = Some((c.check.status, c.check.output.clone()));
        if let Err(e) = start(shared, &c.check, def, c.source, restored) {
            tracing::warn!(target: "agent", check = %id, error = %e, "persisted check not started");
        }
    }
}

/// Apply check results to local state (which wakes anti-entropy) and reap services critical
/// for longer than their `DeregisterCriticalServiceAfter`.
pub(crate) async fn drain_events(shared: Arc<Shared>, mut events: CheckEvents) {
    loop {
        let ev = tokio::select! {
            _ = shared.stop.cancelled() => return,
            ev = events.recv() => ev,
        };
        let Some(ev) = ev else { return };
        match ev {
            CheckEvent::Update(u) => {
                if u.status_changed {
                    tracing::debug!(target: "agent", check = %u.check_id, status = %u.status, "check status changed");
                }
                shared.local.update_check(&u.check_id, u.status, &u.output);
                shared.checks.notify_local_checks_changed();
            }
            CheckEvent::Reap(r) => {
                tracing::info!(target: "agent", service = %r.service_id, check = %r.check_id, "deregistering service: critical for longer than DeregisterCriticalServiceAfter");
                for (id, c) in shared.local.checks() {
                    if c.check.service_id == r.service_id {
                        shared.checks.remove(&id);
                    }
                }
                if let Err(e) = shared.local.remove_service(&r.service_id) {
                    tracing::warn!(target: "agent", error = %e, "reaping failed");
                }
            }
        }
    }
}

/// Alias checks' view of the local agent and, on servers, of the catalog.
pub(crate) struct LocalAlias {
    shared: Arc<Shared>,
}

impl LocalAlias {
    pub(crate) fn new(shared: Arc<Shared>) -> LocalAlias {
        LocalAlias { shared }
    }
}

impl AliasSource for LocalAlias {
    fn node_checks(&self, query: AliasQuery) -> BoxFuture<'_, Result<AliasChecks, String>> {
        Box::pin(async move {
            if query.node.is_empty() || query.node == self.shared.node.node {
                let checks = self
                    .shared
                    .local
                    .checks()
                    .into_values()
                    .map(|c| c.check)
                    .collect();
                return Ok(AliasChecks { index: 0, checks });
            }
            let server = self
                .shared
                .server
                .as_ref()
                .ok_or_else(|| "No known Consul servers".to_string())?;
            let node = query.node.clone();
            let (checks, index) = server
                .reader()
                .blocking_query(
                    cairn_catalog::WatchScope::Node(node.clone()),
                    query.min_index,
                    query.max_wait,
                    move |v| v.node_checks(&node),
                )
                .await;
            Ok(AliasChecks { index, checks })
        })
    }

    fn service_exists(&self, query: ServiceQuery) -> BoxFuture<'_, Result<bool, String>> {
        Box::pin(async move {
            if query.node.is_empty() || query.node == self.shared.node.node {
                return Ok(self.shared.local.service(&query.service_id).is_some());
            }
            let server = self
                .shared
                .server
                .as_ref()
                .ok_or_else(|| "No known Consul servers".to_string())?;
            Ok(server
                .reader()
                .view()
                .node_service(&query.node, &query.service_id)
                .0
                .is_some())
        })
    }
}
