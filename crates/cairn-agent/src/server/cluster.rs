//! Forming and growing the raft cluster from gossip: `-bootstrap-expect` (wait until N
//! servers are seen, make sure none already has a cluster, then bootstrap the identical
//! configuration on each), and the leader adding new servers and removing departed ones.

use super::autopilot::{Dead, DeadServers, RaftMembers};
use super::reconcile::MemberSource;
use super::{LeaderDuties, Server};
use crate::membership::{server_tags, MemberInfo, ServerTags};
use crate::node_id::raft_id;
use cairn_consensus::Peers;
use cairn_types::MemberStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The alive servers of `dc` among `members`.
fn alive_servers(members: &[MemberInfo], dc: &str) -> Vec<(String, ServerTags)> {
    members
        .iter()
        .filter(|m| m.status == MemberStatus::Alive)
        .filter_map(|m| server_tags(m.addr, &m.tags).map(|t| (m.name.clone(), t)))
        .filter(|(_, t)| t.datacenter == dc)
        .collect()
}

/// Wait until `expect` servers are known, then bootstrap them all as voters, unless one of them
/// already belongs to a cluster (then its leader adds us).
pub(crate) async fn bootstrap_expect(
    server: Server,
    members: Arc<dyn MemberSource>,
    rpc: cairn_rpc::RpcClient,
    dc: String,
    expect: u32,
    stop: CancellationToken,
) {
    let mut changes = members.changes();
    loop {
        match server.status().await {
            Ok(st) if !st.voters.is_empty() || !st.learners.is_empty() => return,
            Err(_) => return,
            _ => {}
        }
        let found = alive_servers(&members.members().await, &dc);
        if let Some((name, t)) = found
            .iter()
            .find(|(_, t)| t.expect != 0 && t.expect != expect)
        {
            tracing::error!(target: "agent.server", server = %name, expect = t.expect, ours = expect, "Member has a conflicting expect value. All nodes should expect the same number.");
        } else if found.len() >= expect as usize {
            match existing_cluster(&server, &rpc, &found).await {
                Some(peer) => {
                    tracing::info!(target: "agent.server", peer = %peer, "Existing Raft peers reported by server, disabling bootstrap mode");
                    return;
                }
                None => {
                    let voters: Peers = found
                        .iter()
                        .map(|(_, t)| (raft_id(&t.node_id), t.rpc_addr.to_string()))
                        .collect();
                    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
                    tracing::info!(target: "agent.server", servers = ?names, "Found expected number of peers, attempting bootstrap");
                    match server.raft().bootstrap(voters).await {
                        Ok(_) => return,
                        Err(e) => {
                            tracing::error!(target: "agent.server", error = %e, "bootstrap failed")
                        }
                    }
                }
            }
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// A server among `found` (other than us) that already has raft state, if any.
async fn existing_cluster(
    server: &Server,
    rpc: &cairn_rpc::RpcClient,
    found: &[(String, ServerTags)],
) -> Option<String> {
    for (name, t) in found {
        let addr = t.rpc_addr.to_string();
        if addr == server.rpc_addr() {
            continue;
        }
        match rpc.status(&addr).await {
            Ok(st) if st.applied_index > 0 || st.leader_id.is_some() => return Some(name.clone()),
            Ok(_) => {}
            // Not answering yet: do not bootstrap without having heard from everyone.
            Err(_) => return Some(format!("{name} (unreachable)")),
        }
    }
    None
}

/// On the leader: add alive servers of our datacenter that are not in the raft configuration
/// (as learners, promoted once caught up) and remove servers that left.
pub(crate) async fn reconcile_raft(server: &Server, members: &[MemberInfo], dc: &str) {
    let Ok(st) = server.status().await else {
        return;
    };
    let in_config = |id: u64| st.voters.contains(&id) || st.learners.contains(&id);
    for m in members {
        let Some(t) = server_tags(m.addr, &m.tags) else {
            continue;
        };
        if t.datacenter != dc {
            continue;
        }
        let id = raft_id(&t.node_id);
        match m.status {
            MemberStatus::Alive if !in_config(id) => {
                tracing::info!(target: "agent.leader", server = %m.name, addr = %t.rpc_addr, "adding server to the raft configuration");
                let add = server.raft().add_server(id, t.rpc_addr.to_string());
                match tokio::time::timeout(Duration::from_secs(30), add).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(target: "agent.leader", server = %m.name, error = %e, "adding server failed")
                    }
                    Err(_) => {
                        tracing::warn!(target: "agent.leader", server = %m.name, "adding server timed out")
                    }
                }
            }
            MemberStatus::Left if in_config(id) && id != server.raft_id() => {
                tracing::info!(target: "agent.leader", server = %m.name, "removing server that left from the raft configuration");
                if let Err(e) = server.remove_peer(id).await {
                    tracing::warn!(target: "agent.leader", server = %m.name, error = %e, "removing server failed");
                }
            }
            _ => {}
        }
    }
}

/// On the leader: remove servers that have been dead for the stabilisation time (autopilot's
/// dead-server cleanup), never so many voters that a majority of the configuration is lost.
pub(crate) async fn prune_dead_servers(
    server: &Server,
    members: &[MemberInfo],
    duties: &LeaderDuties,
    dead: &mut DeadServers,
) {
    let Ok(st) = server.status().await else {
        return;
    };
    let plan = dead.plan(
        &duties.autopilot,
        RaftMembers {
            me: server.raft_id(),
            voters: &st.voters,
            learners: &st.learners,
        },
        members,
        &duties.node.datacenter,
        Instant::now(),
    );
    if !plan.kept.is_empty() {
        tracing::warn!(target: "agent.server.autopilot", dead = plan.kept.len(), voters = st.voters.len(), "Failed to remove dead servers: too many dead servers");
    }
    for (id, why) in plan.remove {
        let address = st.peers.get(&id).map(String::as_str).unwrap_or("");
        let name = member_name(members, id).unwrap_or("");
        match why {
            Dead::Failed => {
                tracing::info!(target: "agent.server.autopilot", id, name, address, "Attempting removal of failed server node")
            }
            Dead::Stale => {
                tracing::info!(target: "agent.server.autopilot", id, address, "Attempting removal of stale server")
            }
        }
        if let Err(e) = server.remove_peer(id).await {
            tracing::warn!(target: "agent.server.autopilot", id, error = %e, "removing dead server failed");
        }
    }
}

/// The name of the server member whose node ID maps to raft `id`.
fn member_name(members: &[MemberInfo], id: u64) -> Option<&str> {
    members.iter().find_map(|m| {
        let t = server_tags(m.addr, &m.tags)?;
        (raft_id(&t.node_id) == id).then_some(m.name.as_str())
    })
}
