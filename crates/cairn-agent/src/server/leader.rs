//! Leadership: Consul's log lines on changes, and what only the leader does (register the
//! servers in the catalog, expire TTL sessions, reap KV tombstones).

use super::autopilot::{AutopilotConfig, DeadServers};
use super::reconcile::{self, MemberSource};
use super::{now_ms, Server};
use cairn_catalog::{Command, RegisterRequest, Table, WatchScope};
use cairn_consensus::Role;
use cairn_types::{AgentService, CheckStatus, HealthCheck, Node, Weights};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What the leader registers for this server and how it garbage-collects.
#[derive(Debug, Clone)]
pub struct LeaderDuties {
    /// This server's node record.
    pub node: Node,
    /// The server RPC port advertised on the `consul` service.
    pub server_port: u16,
    /// How long KV tombstones are kept before reaping (Consul: 15 minutes).
    pub tombstone_ttl: Duration,
    /// How often tombstone reaping and self-registration are re-checked.
    pub housekeeping_interval: Duration,
    /// The LAN members to reconcile into the catalog (`None`: no gossip pool).
    pub members: Option<MemberFeed>,
    /// How often members are fully reconciled besides on every change (Consul: 60 s).
    pub reconcile_interval: Duration,
    /// Dead-server cleanup settings.
    pub autopilot: AutopilotConfig,
}

/// A shared [`MemberSource`].
#[derive(Clone)]
pub struct MemberFeed(pub Arc<dyn MemberSource>);

impl std::fmt::Debug for MemberFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemberFeed")
    }
}

/// How often the leader looks for dead servers (raft-autopilot's update interval).
const AUTOPILOT_INTERVAL: Duration = Duration::from_secs(2);

/// The `serfHealth` check ID.
pub const SERF_HEALTH: &str = "serfHealth";

fn self_registration(d: &LeaderDuties) -> RegisterRequest {
    let service = AgentService {
        id: "consul".into(),
        service: "consul".into(),
        port: d.server_port,
        weights: Weights::default(),
        ..AgentService::default()
    };
    let check = HealthCheck {
        node: d.node.node.clone(),
        check_id: SERF_HEALTH.into(),
        name: "Serf Health Status".into(),
        status: CheckStatus::Passing,
        output: "Agent alive and reachable".into(),
        ..HealthCheck::default()
    };
    RegisterRequest {
        node: d.node.clone(),
        service: Some(service),
        checks: vec![check],
        skip_node_update: false,
        now_ms: now_ms(),
    }
}

/// Whether the catalog already holds this server's registration as we would write it.
fn registered(server: &Server, d: &LeaderDuties) -> bool {
    let view = server.reader().view();
    let (node, _) = view.node(&d.node.node);
    let node_ok = node.is_some_and(|n| {
        n.address == d.node.address
            && n.id == d.node.id
            && n.meta == d.node.meta
            && n.tagged_addresses == d.node.tagged_addresses
    });
    let (svc, _) = view.node_service(&d.node.node, "consul");
    let svc_ok = svc.is_some_and(|s| s.port == d.server_port);
    let (check, _) = view.node_check(&d.node.node, SERF_HEALTH);
    let check_ok = check.is_some_and(|c| c.status == CheckStatus::Passing);
    node_ok && svc_ok && check_ok
}

/// Follow leadership for the life of the server.
pub(super) async fn run(server: Server, duties: LeaderDuties) {
    let mut w = server.raft().watch();
    let cancel = server.cancel_token();
    let mut term_token: Option<CancellationToken> = None;
    let mut last_leader: Option<u64> = None;
    loop {
        let st = w.get();
        if st.stopped.is_some() {
            break;
        }
        if st.role == Role::Leader && term_token.is_none() {
            tracing::info!(target: "agent.server", "cluster leadership acquired");
            let token = cancel.child_token();
            tokio::spawn(lead(server.clone(), duties.clone(), token.clone()));
            term_token = Some(token);
        } else if st.role != Role::Leader {
            if let Some(t) = term_token.take() {
                tracing::info!(target: "agent.server", "cluster leadership lost");
                t.cancel();
            }
        }
        if st.leader != last_leader {
            if let (Some(_), Some(addr)) = (st.leader, st.leader_addr.as_deref()) {
                if st.role != Role::Leader {
                    tracing::info!(target: "agent.server", leader = addr, "New leader elected");
                }
            }
            last_leader = st.leader;
        }
        tokio::select! {
            changed = w.changed() => if changed.is_none() { break },
            _ = cancel.cancelled() => break,
        }
    }
    if let Some(t) = term_token {
        t.cancel();
    }
}

/// The leader's loop for one term.
async fn lead(server: Server, duties: LeaderDuties, token: CancellationToken) {
    // Barrier: apply everything committed by earlier terms before acting on the catalog.
    if server.raft().read_index().await.is_err() {
        tracing::warn!(target: "agent.server", "leader barrier failed; giving up this term's duties");
        return;
    }
    let mut sessions = SessionTimers::start(&server);
    let mut sessions_watch = server.reader().watch(WatchScope::Table(Table::Sessions));
    let mut tombstones = TombstoneHints::default();
    let mut housekeeping = tokio::time::interval(duties.housekeeping_interval);
    housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut member_changes = duties.members.as_ref().map(|m| m.0.changes());
    let mut reconcile_tick = tokio::time::interval(duties.reconcile_interval);
    reconcile_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick fires at once: reconcile as soon as leadership is established.
    let mut reconcile_due = true;
    let mut dead_servers = DeadServers::default();
    let mut autopilot_tick = tokio::time::interval(AUTOPILOT_INTERVAL);
    autopilot_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if reconcile_due {
            reconcile_due = false;
            if let Some(feed) = &duties.members {
                let members = feed.0.members().await;
                super::cluster::reconcile_raft(&server, &members, &duties.node.datacenter).await;
                let cmds = reconcile::plan(&server, &duties, &members);
                reconcile::apply(&server, cmds).await;
            }
        }
        if !registered(&server, &duties) {
            let cmd = Command::Register(Box::new(self_registration(&duties)));
            match server.apply(&cmd).await {
                Ok(r) if r.error().is_none() => {}
                Ok(r) => {
                    tracing::warn!(target: "agent.server", error = ?r.error(), "self-registration refused")
                }
                Err(e) => {
                    tracing::warn!(target: "agent.server", error = %e, "self-registration failed")
                }
            }
        }
        for cmd in sessions.expired(&server) {
            if let Command::SessionDestroy { id, .. } = &cmd {
                tracing::info!(target: "agent.server", session = %id, "session TTL expired; invalidating");
            }
            if let Err(e) = server.apply(&cmd).await {
                tracing::warn!(target: "agent.server", error = %e, "session expiry failed");
            }
        }
        let next_deadline = sessions.next_deadline(&server);
        let sleep_until = next_deadline
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + duties.housekeeping_interval);
        let members_changed = async {
            match member_changes.as_mut() {
                Some(rx) => {
                    if rx.changed().await.is_err() {
                        std::future::pending::<()>().await
                    }
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = token.cancelled() => return,
            _ = members_changed => reconcile_due = true,
            _ = reconcile_tick.tick() => reconcile_due = true,
            _ = autopilot_tick.tick() => {
                if let Some(feed) = &duties.members {
                    let members = feed.0.members().await;
                    super::cluster::prune_dead_servers(&server, &members, &duties, &mut dead_servers).await;
                }
            }
            _ = sessions_watch.changed() => sessions.sync(&server),
            _ = tokio::time::sleep_until(sleep_until) => {}
            _ = housekeeping.tick() => {
                if let Some(up_to) = tombstones.due(&server, duties.tombstone_ttl) {
                    let cmd = Command::TombstoneReap { up_to_index: up_to };
                    if let Err(e) = server.apply(&cmd).await {
                        tracing::warn!(target: "agent.server", error = %e, "tombstone reap failed");
                    }
                }
            }
        }
    }
}

/// Session TTL timers, kept in step with the sessions table.
struct SessionTimers {
    tracked: BTreeSet<String>,
}

impl SessionTimers {
    fn start(server: &Server) -> SessionTimers {
        let ttls = server.reader().view().session_ttls();
        let tracked = ttls.iter().map(|(id, _)| id.clone()).collect();
        // Consul restarts every timer at full TTL on a new leader.
        server.sessions().lock().reset_all(ttls, Instant::now());
        SessionTimers { tracked }
    }

    /// Track sessions created since the last look; forget destroyed ones.
    fn sync(&mut self, server: &Server) {
        let ttls: BTreeMap<String, Duration> =
            server.reader().view().session_ttls().into_iter().collect();
        let mut tracker = server.sessions().lock();
        let now = Instant::now();
        for (id, ttl) in &ttls {
            if !self.tracked.contains(id) {
                tracker.track(id.clone(), *ttl, now);
            }
        }
        for id in self.tracked.iter().filter(|id| !ttls.contains_key(*id)) {
            tracker.remove(id);
        }
        self.tracked = ttls.into_keys().collect();
    }

    fn expired(&mut self, server: &Server) -> Vec<Command> {
        server
            .sessions()
            .lock()
            .expire_commands(Instant::now(), now_ms())
    }

    fn next_deadline(&self, server: &Server) -> Option<Instant> {
        server.sessions().lock().next_deadline()
    }
}

/// When the tombstone index was seen, so tombstones older than the TTL can be reaped.
#[derive(Default)]
struct TombstoneHints {
    seen: VecDeque<(Instant, u64)>,
    reaped: u64,
}

impl TombstoneHints {
    /// Record the current tombstone index; return the highest index old enough to reap.
    fn due(&mut self, server: &Server, ttl: Duration) -> Option<u64> {
        let now = Instant::now();
        let view = server.reader().view();
        if view.tombstone_count() > 0 {
            let idx = view.tombstone_index();
            if self.seen.back().map(|(_, i)| *i) != Some(idx) {
                self.seen.push_back((now, idx));
            }
        }
        let mut due = None;
        while let Some(&(at, idx)) = self.seen.front() {
            if now.duration_since(at) < ttl {
                break;
            }
            self.seen.pop_front();
            due = Some(idx);
        }
        match due {
            Some(idx) if idx > self.reaped => {
                self.reaped = idx;
                Some(idx)
            }
            _ => None,
        }
    }
}
