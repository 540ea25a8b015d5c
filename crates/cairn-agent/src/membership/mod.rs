//! The LAN gossip pool of an agent: Consul's tags on our member, joins (with retries), leave,
//! user events over gossip, and a feed of membership changes for the leader and for server
//! discovery.

mod tags;
mod user_event;

use cairn_config::RuntimeConfig;
use cairn_gossip::{Config as GossipConfig, Event, Events, Gossip, Keyring};
use cairn_types::{Member, MemberStatus, UserEvent};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use tags::{server_tags, ServerTags};

/// A member as the agent's reconcilers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// Node name.
    pub name: String,
    /// Gossip address.
    pub addr: IpAddr,
    /// serf status.
    pub status: MemberStatus,
    /// serf tags.
    pub tags: std::collections::BTreeMap<String, String>,
}

/// The agent's LAN pool.
#[derive(Clone)]
pub struct LanPool {
    gossip: Gossip,
    default_port: u16,
    changes: Arc<watch::Sender<u64>>,
}

fn status_of(s: cairn_gossip::MemberStatus) -> MemberStatus {
    MemberStatus::from_code(u64::from(s.code()))
}

/// The memberlist/serf configuration for the LAN pool from the agent configuration.
fn gossip_config(cfg: &RuntimeConfig, node_id: &str, compat: &str) -> Result<GossipConfig, String> {
    let mut g = GossipConfig::lan();
    if cfg.dev_mode {
        // Consul's -dev gossips on 100 ms rounds.
        g.gossip_interval = Duration::from_millis(100);
    }
    let t = &cfg.gossip_lan;
    g.gossip_nodes = t.gossip_nodes as usize;
    g.gossip_interval = t.gossip_interval;
    g.probe_interval = t.probe_interval;
    g.probe_timeout = t.probe_timeout;
    g.suspicion_mult = t.suspicion_mult as usize;
    g.retransmit_mult = t.retransmit_mult as usize;
    g.name = cfg.node_name.clone();
    g.bind_addr = cfg.serf_bind_addr_lan;
    g.bind_port = cfg.ports.serf_lan;
    g.advertise_addr = Some(crate::agent::advertise_addr(cfg));
    g.tags = tags::lan_tags(cfg, node_id, compat);
    g.reconnect_timeout = cfg.join.reconnect_timeout;
    g.rejoin_after_leave = cfg.join.rejoin_after_leave;
    if let Some(key) = &cfg.encrypt.key_bytes {
        g.keyring = Some(Keyring::new(key, &[]).map_err(|e| format!("encrypt: {e}"))?);
        g.gossip_verify_incoming = cfg.encrypt.verify_incoming;
        g.gossip_verify_outgoing = cfg.encrypt.verify_outgoing;
    }
    if let Some(dir) = &cfg.data_dir {
        if !cfg.dev_mode {
            g.snapshot_path = Some(dir.join("serf").join("local.snapshot"));
        }
    }
    Ok(g)
}

impl LanPool {
    /// Bind the LAN port and start gossiping. Returns the pool and its raw event stream, which
    /// [`LanPool::pump`] consumes.
    pub async fn start(
        cfg: &RuntimeConfig,
        node_id: &str,
        compat: &str,
    ) -> Result<(LanPool, Events), String> {
        let g = gossip_config(cfg, node_id, compat)?;
        if let Some(dir) = g.snapshot_path.as_ref().and_then(|p| p.parent()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        let (gossip, events) = Gossip::start(g).await.map_err(|e| {
            format!(
                "serf LAN on {}:{}: {e}",
                cfg.serf_bind_addr_lan, cfg.ports.serf_lan
            )
        })?;
        let (changes, _) = watch::channel(0);
        Ok((
            LanPool {
                gossip,
                default_port: cfg.ports.serf_lan,
                changes: Arc::new(changes),
            },
            events,
        ))
    }

    /// The gossip address other agents reach us at.
    pub fn local_addr(&self) -> SocketAddr {
        self.gossip.local_addr()
    }

    /// A receiver whose value changes whenever membership does.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// All known members in Consul's API shape, sorted by name.
    pub async fn members(&self) -> Vec<Member> {
        let mut out: Vec<Member> = self
            .gossip
            .members()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|m| Member {
                name: m.name,
                addr: m.addr.to_string(),
                port: m.port,
                tags: m.tags,
                status: status_of(m.status),
                protocol_min: m.protocol_min,
                protocol_max: m.protocol_max,
                protocol_cur: m.protocol_cur,
                delegate_min: m.delegate_min,
                delegate_max: m.delegate_max,
                delegate_cur: m.delegate_cur,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Members for the reconcilers.
    pub async fn member_infos(&self) -> Vec<MemberInfo> {
        self.gossip
            .members()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|m| MemberInfo {
                name: m.name,
                addr: m.addr,
                status: status_of(m.status),
                tags: m.tags,
            })
            .collect()
    }

    /// Resolve `host`, `host:port`, `[v6]:port` (default port: our serf LAN port).
    pub fn resolve(&self, addr: &str) -> Result<Vec<SocketAddr>, String> {
        resolve_join_addr(addr, self.default_port)
    }

    /// Join through these addresses; returns how many answered. Errors name each address
    /// that failed, as Consul does.
    pub async fn join(&self, addrs: &[String]) -> Result<usize, String> {
        let mut resolved = Vec::new();
        let mut errors = Vec::new();
        for a in addrs {
            match self.resolve(a) {
                Ok(mut r) => resolved.append(&mut r),
                Err(e) => errors.push(format!("Failed to resolve {a}: {e}")),
            }
        }
        let n = if resolved.is_empty() {
            0
        } else {
            self.gossip
                .join(&resolved)
                .await
                .map_err(|e| e.to_string())?
        };
        if n == 0 {
            if errors.is_empty() {
                errors.push(format!(
                    "Failed to join {}: no member answered",
                    addrs.join(", ")
                ));
            }
            let mut msg = format!(
                "{} error{} occurred:\n",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            for e in errors {
                msg.push_str(&format!("\t* {e}\n"));
            }
            msg.push('\n');
            return Err(msg);
        }
        Ok(n)
    }

    /// Force a member out (`force-leave`): Consul's error when no such member exists.
    pub async fn force_leave(&self, node: &str, prune: bool) -> Result<(), String> {
        let known = self
            .gossip
            .members()
            .await
            .unwrap_or_default()
            .iter()
            .any(|m| m.name == node);
        if !known {
            return Err(format!("agent: No node found with name '{node}'"));
        }
        self.gossip
            .force_leave(node, prune)
            .await
            .map_err(|e| e.to_string())
    }

    /// Leave the pool gracefully (broadcast, then wait for it to spread).
    pub async fn leave(&self) -> Result<(), String> {
        self.gossip.leave().await.map_err(|e| e.to_string())
    }

    /// Stop gossiping.
    pub async fn shutdown(&self) {
        let _ = self.gossip.shutdown().await;
    }

    /// Broadcast a Consul user event.
    pub async fn fire_event(&self, ev: &UserEvent) -> Result<(), String> {
        let (name, payload) = user_event::encode(ev)?;
        self.gossip
            .user_event(&name, &payload, false)
            .await
            .map_err(|e| e.to_string())
    }

    /// Consume the event stream until it ends or `stop` fires: user events go to `on_event`,
    /// membership changes bump [`LanPool::changes`].
    pub async fn pump(
        &self,
        mut events: Events,
        stop: CancellationToken,
        on_event: impl Fn(UserEvent) + Send,
    ) {
        loop {
            let ev = tokio::select! {
                ev = events.recv() => ev,
                _ = stop.cancelled() => None,
            };
            let Some(ev) = ev else { break };
            match ev {
                Event::MemberJoin(m)
                | Event::MemberLeave(m)
                | Event::MemberFailed(m)
                | Event::MemberUpdate(m)
                | Event::MemberReap(m) => {
                    tracing::debug!(target: "agent.serf.lan", member = %m.name, status = m.status.as_str(), "membership changed");
                    self.changes.send_modify(|g| *g += 1);
                }
                Event::User(u) => {
                    if let Some(ev) = user_event::decode(&u.name, &u.payload, u.ltime) {
                        tracing::debug!(target: "agent.serf.lan", event = %ev.name, "user event");
                        on_event(ev);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Parse a join address: `host`, `host:port`, `[v6]` or `[v6]:port`.
fn resolve_join_addr(addr: &str, default_port: u16) -> Result<Vec<SocketAddr>, String> {
    if let Ok(sa) = addr.parse::<SocketAddr>() {
        return Ok(vec![sa]);
    }
    if let Ok(ip) = addr
        .trim_matches(|c| c == '[' || c == ']')
        .parse::<IpAddr>()
    {
        return Ok(vec![SocketAddr::new(ip, default_port)]);
    }
    let with_port = if addr
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        addr.to_string()
    } else {
        format!("{addr}:{default_port}")
    };
    let out: Vec<SocketAddr> = with_port
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .collect();
    if out.is_empty() {
        return Err("no addresses".into());
    }
    Ok(out)
}

/// Join `addrs` at start, retrying every `interval` up to `max` attempts (0 = forever), with
/// Consul's log lines. Returns when joined, out of attempts, or stopped.
pub async fn retry_join(
    pool: LanPool,
    addrs: Vec<String>,
    interval: Duration,
    max: u32,
    stop: CancellationToken,
) {
    if addrs.is_empty() {
        return;
    }
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        tracing::info!(target: "agent", cluster = "LAN", "Joining cluster...");
        match pool.join(&addrs).await {
            Ok(n) => {
                tracing::info!(target: "agent", cluster = "LAN", num_agents = n, "Join cluster completed. Synced with initial agents");
                return;
            }
            Err(e) => {
                if max > 0 && attempt >= max {
                    tracing::error!(target: "agent", cluster = "LAN", error = %e.trim(), "max join retry exhausted, exiting");
                    return;
                }
                tracing::warn!(target: "agent", cluster = "LAN", retry_interval = ?interval, error = %e.trim(), "Join cluster failed, will retry");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_addresses() {
        let one = |a: &str| resolve_join_addr(a, 8301).map(|v| v[0]);
        assert_eq!(one("127.0.0.2"), Ok("127.0.0.2:8301".parse().unwrap()));
        assert_eq!(one("127.0.0.2:9000"), Ok("127.0.0.2:9000".parse().unwrap()));
        assert_eq!(one("[::1]"), Ok("[::1]:8301".parse().unwrap()));
        assert_eq!(one("[::1]:7"), Ok("[::1]:7".parse().unwrap()));
        assert_eq!(one("localhost:8302").map(|a| a.port()), Ok(8302));
        assert!(one("no-such-host.invalid").is_err());
    }
}
