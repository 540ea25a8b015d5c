//! Registering local services and checks (from config files, reloads and the HTTP API), and
//! node/service maintenance.

use super::Shared;
use crate::error::AgentError;
use crate::local::{LocalCheck, LocalService, Source};
use cairn_config::RuntimeConfig;
use cairn_types::requests::CheckType;
use cairn_types::{AgentServiceRegistration, CheckStatus, HealthCheck};
use std::collections::BTreeSet;

/// The node maintenance check ID.
pub const NODE_MAINT: &str = "_node_maintenance";
/// The prefix of service maintenance check IDs.
pub const SERVICE_MAINT_PREFIX: &str = "_service_maintenance:";
/// Consul's reason when none is given.
const DEFAULT_MAINT_REASON: &str = "Maintenance mode is enabled for this node, but no reason was provided. This is a default message.";
const DEFAULT_SERVICE_MAINT_REASON: &str = "Maintenance mode is enabled for this service, but no reason was provided. This is a default message.";

/// Register (or update) a local service and its checks. An unchanged check keeps its status.
pub(crate) fn register_service(
    shared: &Shared,
    reg: &AgentServiceRegistration,
    source: Source,
    token: &str,
    replace_existing_checks: bool,
) -> Result<(), String> {
    let mut service = reg.to_agent_service();
    service.datacenter = shared.node.datacenter.clone();
    let check_types = reg.check_types()?;
    let mut checks = Vec::with_capacity(check_types.len());
    for ct in check_types {
        let hc = ct.to_health_check(&shared.node.node, Some(&service))?;
        checks.push((hc, ct));
    }
    let new_ids: BTreeSet<String> = checks.iter().map(|(h, _)| h.check_id.clone()).collect();
    if replace_existing_checks {
        let stale: Vec<String> = shared
            .local
            .checks()
            .values()
            .filter(|c| c.check.service_id == service.id && !new_ids.contains(&c.check.check_id))
            .map(|c| c.check.check_id.clone())
            .collect();
        for id in stale {
            shared.local.remove_check(&id).map_err(|e| e.to_string())?;
        }
    }
    shared
        .local
        .add_service(LocalService {
            service,
            token: token.to_string(),
            source,
        })
        .map_err(|e| e.to_string())?;
    for (hc, ct) in checks {
        add_check(shared, hc, Some(ct), source, token)?;
    }
    Ok(())
}

/// Add a check, keeping the live status of an existing check whose definition is unchanged,
/// and start (or keep) its runner.
fn add_check(
    shared: &Shared,
    mut hc: HealthCheck,
    definition: Option<CheckType>,
    source: Source,
    token: &str,
) -> Result<(), String> {
    let mut restored = None;
    if let Some(existing) = shared.local.check(&hc.check_id) {
        if existing.definition == definition && existing.check.service_id == hc.service_id {
            hc.status = existing.check.status;
            hc.output = existing.check.output.clone();
            restored = Some((existing.check.status, existing.check.output));
        }
    }
    let id = hc.check_id.clone();
    shared
        .local
        .add_check(LocalCheck {
            check: hc.clone(),
            definition: definition.clone(),
            token: token.to_string(),
            source,
        })
        .map_err(|e| e.to_string())?;
    match &definition {
        Some(def) => {
            if let Err(e) = super::checks::start(shared, &hc, def, source, restored) {
                let _ = shared.local.remove_check(&id);
                return Err(e);
            }
        }
        None => {
            shared.checks.remove(&id);
        }
    }
    shared.checks.notify_local_checks_changed();
    Ok(())
}

/// Register a standalone check (node check, or tied to an existing local service).
pub(crate) fn register_check(
    shared: &Shared,
    ct: &CheckType,
    source: Source,
    token: &str,
) -> Result<(), String> {
    ct.validate()?;
    let service = if ct.service_id.is_empty() {
        None
    } else {
        match shared.local.service(&ct.service_id) {
            Some(s) => Some(s.service),
            None => return Err(format!("ServiceID {:?} does not exist", ct.service_id)),
        }
    };
    let hc = ct.to_health_check(&shared.node.node, service.as_ref())?;
    add_check(shared, hc, Some(ct.clone()), source, token)
}

/// Register the services and checks of config files.
pub(crate) fn apply_config_definitions(
    shared: &Shared,
    cfg: &RuntimeConfig,
) -> Result<(), AgentError> {
    for def in &cfg.services {
        register_service(shared, &def.registration, Source::Config, "", false).map_err(|e| {
            AgentError::Config(format!(
                "{}: service {:?}: {e}",
                def.source, def.registration.name
            ))
        })?;
    }
    for def in &cfg.checks {
        register_check(shared, &def.check, Source::Config, "").map_err(|e| {
            AgentError::Config(format!("{}: check {:?}: {e}", def.source, def.check.name))
        })?;
    }
    Ok(())
}

/// Re-read the configuration and swap in its services and checks: new ones appear, removed
/// ones go, changed ones update, unchanged ones keep their state.
pub(crate) fn reload(shared: &Shared) -> Result<(), AgentError> {
    let Some(reload) = &shared.reload else {
        return Err(AgentError::Config(
            "this agent has no configuration to reload".into(),
        ));
    };
    let cfg = reload().map_err(AgentError::Config)?;
    // Remember live check states before dropping config-sourced entries.
    let before = shared.local.checks();
    let (_, dropped_checks) = shared.local.remove_config_sourced();
    let result = apply_config_definitions(shared, &cfg);
    for id in dropped_checks {
        if shared.local.check(&id).is_none() {
            shared.checks.remove(&id);
        }
    }
    for (id, old) in before {
        if let Some(now) = shared.local.check(&id) {
            if now.definition == old.definition && now.check.status != old.check.status {
                shared
                    .local
                    .update_check(&id, old.check.status, &old.check.output);
            }
        }
    }
    result?;
    *shared.config.write() = cfg;
    tracing::info!(target: "agent", "configuration reloaded");
    Ok(())
}

/// Turn node maintenance on or off.
pub(crate) fn node_maintenance(
    shared: &Shared,
    enable: bool,
    reason: &str,
    token: &str,
) -> Result<(), String> {
    if !enable {
        shared
            .local
            .remove_check(NODE_MAINT)
            .map_err(|e| e.to_string())?;
        return Ok(());
    }
    let hc = HealthCheck {
        node: shared.node.node.clone(),
        check_id: NODE_MAINT.into(),
        name: "Node Maintenance Mode".into(),
        status: CheckStatus::Critical,
        notes: if reason.is_empty() {
            DEFAULT_MAINT_REASON.into()
        } else {
            reason.into()
        },
        check_type: "maintenance".into(),
        ..HealthCheck::default()
    };
    add_check(shared, hc, None, Source::Api, token)
}

/// Turn a service's maintenance on or off. Unknown service: Consul's 404 text.
pub(crate) fn service_maintenance(
    shared: &Shared,
    service_id: &str,
    enable: bool,
    reason: &str,
    token: &str,
) -> Result<(), String> {
    let Some(svc) = shared.local.service(service_id) else {
        return Err(format!("No service registered with ID {service_id:?}"));
    };
    let id = format!("{SERVICE_MAINT_PREFIX}{service_id}");
    if !enable {
        shared.local.remove_check(&id).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let hc = HealthCheck {
        node: shared.node.node.clone(),
        check_id: id,
        name: "Service Maintenance Mode".into(),
        status: CheckStatus::Critical,
        notes: if reason.is_empty() {
            DEFAULT_SERVICE_MAINT_REASON.into()
        } else {
            reason.into()
        },
        service_id: svc.service.id.clone(),
        service_name: svc.service.service.clone(),
        service_tags: svc.service.tags.clone(),
        check_type: "maintenance".into(),
        ..HealthCheck::default()
    };
    add_check(shared, hc, None, Source::Api, token)
}
