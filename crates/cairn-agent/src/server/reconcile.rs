//! The leader's reconciliation of LAN members into the catalog, as Consul's leader does:
//! alive → node registered with a passing `serfHealth` (and the `consul` service for
//! servers), failed → `serfHealth` critical, left → node deregistered, and catalog nodes with
//! a `serfHealth` check that gossip no longer knows (reaped) → deregistered.

use super::leader::{LeaderDuties, SERF_HEALTH};
use super::{now_ms, Server};
use crate::membership::{server_tags, MemberInfo};
use cairn_catalog::{Command, RegisterRequest};
use cairn_types::{AgentService, CheckStatus, HealthCheck, MemberStatus, Node, Weights};
use std::collections::BTreeSet;

const ALIVE_OUTPUT: &str = "Agent alive and reachable";
const FAILED_OUTPUT: &str = "Agent not live or unreachable";

/// Where the leader learns the LAN members.
pub trait MemberSource: Send + Sync + 'static {
    /// The current members.
    fn members(&self) -> futures::future::BoxFuture<'_, Vec<MemberInfo>>;
    /// A receiver that changes whenever membership does.
    fn changes(&self) -> tokio::sync::watch::Receiver<u64>;
}

impl MemberSource for crate::membership::LanPool {
    fn members(&self) -> futures::future::BoxFuture<'_, Vec<MemberInfo>> {
        Box::pin(self.member_infos())
    }
    fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        crate::membership::LanPool::changes(self)
    }
}

fn serf_check(node: &str, status: CheckStatus) -> HealthCheck {
    HealthCheck {
        node: node.to_string(),
        check_id: SERF_HEALTH.into(),
        name: "Serf Health Status".into(),
        status,
        output: if status == CheckStatus::Passing {
            ALIVE_OUTPUT.into()
        } else {
            FAILED_OUTPUT.into()
        },
        ..HealthCheck::default()
    }
}

/// The commands that bring the catalog in line with `members`.
pub(super) fn plan(server: &Server, duties: &LeaderDuties, members: &[MemberInfo]) -> Vec<Command> {
    let view = server.reader().view();
    let dc = &duties.node.datacenter;
    let mut cmds = Vec::new();
    let mut known = BTreeSet::new();
    for m in members {
        known.insert(m.name.clone());
        let role = m.tags.get("role").map(String::as_str);
        if m.tags.get("dc") != Some(dc) || !matches!(role, Some("consul") | Some("node")) {
            continue;
        }
        if m.name == duties.node.node {
            continue; // the leader registers itself (leader.rs)
        }
        let (node, _) = view.node(&m.name);
        let (check, _) = view.node_check(&m.name, SERF_HEALTH);
        let address = m.addr.to_string();
        match m.status {
            MemberStatus::Alive => {
                let server_port = server_tags(m.addr, &m.tags).map(|s| s.rpc_addr.port());
                let node_ok = node.as_ref().is_some_and(|n| n.address == address);
                let check_ok = check.is_some_and(|c| c.status == CheckStatus::Passing);
                let service_ok = match server_port {
                    Some(port) => view
                        .node_service(&m.name, "consul")
                        .0
                        .is_some_and(|s| s.port == port),
                    None => true,
                };
                if node_ok && check_ok && service_ok {
                    continue;
                }
                tracing::info!(target: "agent.leader", member = %m.name, "member joined, marking health alive");
                cmds.push(register(m, dc, node_ok, CheckStatus::Passing, server_port));
            }
            MemberStatus::Failed => {
                if check.is_some_and(|c| c.status == CheckStatus::Critical) {
                    continue;
                }
                tracing::info!(target: "agent.leader", member = %m.name, "member failed, marking health critical");
                let node_ok = node.as_ref().is_some_and(|n| n.address == address);
                cmds.push(register(m, dc, node_ok, CheckStatus::Critical, None));
            }
            MemberStatus::Left => {
                if node.is_some() {
                    tracing::info!(target: "agent.leader", member = %m.name, "deregistering member (left)");
                    cmds.push(Command::DeregisterNode {
                        node: m.name.clone(),
                        now_ms: now_ms(),
                    });
                }
            }
            MemberStatus::Leaving | MemberStatus::None => {}
        }
    }
    // Reaped: in the catalog with a serfHealth check, unknown to gossip.
    let (nodes, _) = view.nodes();
    for n in nodes {
        if n.node == duties.node.node || known.contains(&n.node) {
            continue;
        }
        if view.node_check(&n.node, SERF_HEALTH).0.is_some() {
            tracing::info!(target: "agent.leader", member = %n.node, "deregistering member (reaped)");
            cmds.push(Command::DeregisterNode {
                node: n.node.clone(),
                now_ms: now_ms(),
            });
        }
    }
    cmds
}

fn register(
    m: &MemberInfo,
    dc: &str,
    node_ok: bool,
    status: CheckStatus,
    server_port: Option<u16>,
) -> Command {
    let node = Node {
        id: m.tags.get("id").cloned().unwrap_or_default(),
        node: m.name.clone(),
        address: m.addr.to_string(),
        datacenter: dc.to_string(),
        ..Node::default()
    };
    let service = server_port.map(|port| AgentService {
        id: "consul".into(),
        service: "consul".into(),
        port,
        weights: Weights::default(),
        ..AgentService::default()
    });
    Command::Register(Box::new(RegisterRequest {
        node,
        service,
        checks: vec![serf_check(&m.name, status)],
        // Keep what the agent's own anti-entropy wrote (meta, tagged addresses) when the
        // address is unchanged.
        skip_node_update: node_ok,
        now_ms: now_ms(),
    }))
}

/// Apply a reconciliation plan, logging failures (the next round retries).
pub(super) async fn apply(server: &Server, cmds: Vec<Command>) {
    for cmd in cmds {
        match server.apply(&cmd).await {
            Ok(r) if r.error().is_none() => {}
            Ok(r) => {
                tracing::warn!(target: "agent.leader", error = ?r.error(), "member reconcile refused")
            }
            Err(e) => {
                tracing::warn!(target: "agent.leader", error = %e, "member reconcile failed");
                return;
            }
        }
    }
}
