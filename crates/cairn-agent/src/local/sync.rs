//! Anti-entropy: make the catalog's record of this node match the agent's local state.
//!
//! Consul's model (`agent/ae`, `agent/local/state.go`): local state is authoritative for this
//! node's services and checks. Each round reads the catalog's view of the node and writes only
//! the differences: missing or changed services and checks are registered, ones the agent does
//! not know are deregistered, and a service with `EnableTagOverride` keeps tags changed in the
//! catalog. Rounds run on every local change and periodically.

use super::state::LocalState;
use crate::error::ServerError;
use crate::server::now_ms;
use cairn_catalog::{ApplyResult, Command, RegisterRequest};
use cairn_types::{AgentService, HealthCheck, Node};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A boxed future of the catalog access trait.
pub type AccessFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ServerError>> + Send + 'a>>;

/// The catalog's record of one node.
#[derive(Debug, Clone, Default)]
pub struct NodeRecord {
    /// The node, if registered.
    pub node: Option<Node>,
    /// Its services by ID.
    pub services: BTreeMap<String, AgentService>,
    /// Its checks (node and service checks).
    pub checks: Vec<HealthCheck>,
}

/// How anti-entropy reads and writes the catalog: locally on a server, over RPC on a client.
pub trait CatalogAccess: Send + Sync + 'static {
    /// The catalog's record of `node`.
    fn node_record(&self, node: &str) -> AccessFuture<'_, NodeRecord>;
    /// Apply a write.
    fn apply(&self, cmd: Command) -> AccessFuture<'_, ApplyResult>;
}

/// What anti-entropy needs to know about this agent.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// This node's record (name, ID, address, datacenter, meta, tagged addresses).
    pub node: Node,
    /// Services managed by someone else (the leader's `consul` service on servers).
    pub foreign_services: Vec<String>,
    /// Checks managed by someone else (`serfHealth`).
    pub foreign_checks: Vec<String>,
    /// Time between full syncs.
    pub interval: Duration,
}

fn same_service(local: &AgentService, catalog: &AgentService) -> bool {
    let strip = |s: &AgentService| AgentService {
        create_index: 0,
        modify_index: 0,
        datacenter: String::new(),
        ..s.clone()
    };
    strip(local) == strip(catalog)
}

fn same_check(local: &HealthCheck, catalog: &HealthCheck) -> bool {
    local.status == catalog.status
        && local.output == catalog.output
        && local.name == catalog.name
        && local.notes == catalog.notes
        && local.service_id == catalog.service_id
        && local.check_type == catalog.check_type
}

fn same_node(local: &Node, catalog: &Node) -> bool {
    local.id == catalog.id
        && local.address == catalog.address
        && local.meta == catalog.meta
        && local.tagged_addresses == catalog.tagged_addresses
}

/// The writes that bring `record` in line with `state`.
pub fn plan(cfg: &SyncConfig, state: &LocalState, record: &NodeRecord) -> Vec<Command> {
    let now = now_ms();
    let mut cmds = Vec::new();
    let node_name = cfg.node.node.as_str();
    let register = |service: Option<AgentService>, checks: Vec<HealthCheck>, skip_node_update| {
        Command::Register(Box::new(RegisterRequest {
            node: cfg.node.clone(),
            service,
            checks,
            skip_node_update,
            now_ms: now,
        }))
    };
    if !record
        .node
        .as_ref()
        .is_some_and(|n| same_node(&cfg.node, n))
    {
        cmds.push(register(None, Vec::new(), false));
    }
    let services = state.services();
    let checks = state.checks();
    let catalog_checks: BTreeMap<&str, &HealthCheck> = record
        .checks
        .iter()
        .map(|c| (c.check_id.as_str(), c))
        .collect();
    for (id, local) in &services {
        let mut want = local.service.clone();
        want.datacenter.clear();
        if let Some(cat) = record.services.get(id) {
            if want.enable_tag_override {
                want.tags = cat.tags.clone();
            }
            if same_service(&want, cat) {
                continue;
            }
        }
        let svc_checks: Vec<HealthCheck> = checks
            .values()
            .filter(|c| c.check.service_id == *id)
            .map(|c| with_node(&c.check, node_name))
            .collect();
        cmds.push(register(Some(want), svc_checks, true));
    }
    for id in record.services.keys() {
        if !services.contains_key(id) && !cfg.foreign_services.contains(id) {
            cmds.push(Command::DeregisterService {
                node: node_name.to_string(),
                service_id: id.clone(),
                now_ms: now,
            });
        }
    }
    for (id, local) in &checks {
        let in_sync = catalog_checks
            .get(id.as_str())
            .is_some_and(|cat| same_check(&with_node(&local.check, node_name), cat));
        // A service check whose service is being re-registered above goes with it.
        let service_pending = !local.check.service_id.is_empty()
            && cmds.iter().any(|c| matches!(c, Command::Register(r) if r.service.as_ref().is_some_and(|s| s.id == local.check.service_id)));
        if !in_sync && !service_pending {
            cmds.push(register(
                None,
                vec![with_node(&local.check, node_name)],
                true,
            ));
        }
    }
    for c in &record.checks {
        let foreign = cfg.foreign_checks.contains(&c.check_id)
            || cfg.foreign_services.contains(&c.service_id);
        if !checks.contains_key(&c.check_id) && !foreign {
            cmds.push(Command::DeregisterCheck {
                node: node_name.to_string(),
                check_id: c.check_id.clone(),
                now_ms: now,
            });
        }
    }
    cmds
}

fn with_node(check: &HealthCheck, node: &str) -> HealthCheck {
    HealthCheck {
        node: node.to_string(),
        ..check.clone()
    }
}

/// One anti-entropy round. Returns how many writes it made.
pub async fn sync_once(
    cfg: &SyncConfig,
    state: &LocalState,
    access: &dyn CatalogAccess,
) -> Result<usize, ServerError> {
    let record = access.node_record(&cfg.node.node).await?;
    let cmds = plan(cfg, state, &record);
    let n = cmds.len();
    for cmd in cmds {
        let kind = cmd.kind();
        match access.apply(cmd).await? {
            ApplyResult::Error(e) => {
                tracing::warn!(target: "agent.anti_entropy", op = kind, error = %e, "sync write refused")
            }
            _ => tracing::debug!(target: "agent.anti_entropy", op = kind, "synced"),
        }
    }
    Ok(n)
}

/// Run anti-entropy until cancelled: a round on every local change and every `interval`.
pub async fn run(
    cfg: SyncConfig,
    state: Arc<LocalState>,
    access: Arc<dyn CatalogAccess>,
    cancel: CancellationToken,
) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match sync_once(&cfg, &state, access.as_ref()).await {
            Ok(_) => backoff = Duration::from_millis(250),
            Err(e) => {
                tracing::warn!(target: "agent.anti_entropy", error = %e, "sync failed; will retry");
                // A local change retries at once: the servers may be reachable by now.
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = state.changed() => {}
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = state.changed() => {}
            _ = tokio::time::sleep(cfg.interval) => {}
        }
    }
}
