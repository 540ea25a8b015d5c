//! The agent: one process's composition of server role, local state, anti-entropy and the HTTP
//! API, started from a [`RuntimeConfig`].

mod agent_api;
mod checks;
mod consensus_api;
mod dns_backend;
mod dns_remote;
mod identity;
mod registrations;
mod remote;

use crate::error::AgentError;
use crate::local::{sync, LocalState, SyncConfig};
use crate::logging::LogHub;
use crate::membership::{self, LanPool};
use crate::node_id::{raft_id, resolve_node_id};
use crate::server::{LeaderDuties, Server, ServerNet, ServerOptions, StoreKind};
use cairn_config::{ListenAddr, RuntimeConfig};
use cairn_consensus::RaftConfig;
use cairn_http::{EventLog, HttpConfig, HttpServer};
use cairn_types::Node;
use parking_lot::RwLock;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use identity::advertise_addr;

/// Re-reads the configuration for `cairn reload`, SIGHUP and `PUT /v1/agent/reload`.
pub type ReloadFn = Arc<dyn Fn() -> Result<RuntimeConfig, String> + Send + Sync>;

/// What the agent shares between its tasks and the HTTP backends.
pub(crate) struct Shared {
    pub(crate) config: RwLock<RuntimeConfig>,
    pub(crate) node: Node,
    pub(crate) server: Option<Server>,
    /// The LAN gossip pool.
    pub(crate) lan: LanPool,
    /// The servers over RPC, on a client agent.
    pub(crate) remote: Option<Arc<remote::RemoteServers>>,
    pub(crate) local: Arc<LocalState>,
    pub(crate) checks: cairn_health::CheckManager,
    pub(crate) events: EventLog,
    pub(crate) event_ltime: AtomicU64,
    pub(crate) logs: LogHub,
    pub(crate) reload: Option<ReloadFn>,
    pub(crate) started: Instant,
    /// Cancelled when the agent must stop (leave through the API, or shutdown).
    pub(crate) stop: CancellationToken,
    /// Set when the stop was a graceful leave.
    pub(crate) left: std::sync::atomic::AtomicBool,
    /// Stops the server RPC listener (after the raft node, at shutdown).
    pub(crate) rpc_stop: Option<CancellationToken>,
}

/// A running agent.
pub struct Agent {
    shared: Arc<Shared>,
    http_addrs: Vec<SocketAddr>,
    dns_addrs: Vec<SocketAddr>,
    dns: Vec<cairn_dns::DnsServerHandle>,
    tasks: Vec<JoinHandle<()>>,
}

/// The version of Consul's API this agent speaks (clients gate features on it).
pub const CONSUL_COMPAT_VERSION: &str = "1.20.5";

fn raft_config(cfg: &RuntimeConfig, id: u64) -> RaftConfig {
    let mut raft = RaftConfig::new(id);
    // hashicorp/raft's election timeout E maps to 20 ticks; leaders heartbeat every E/10.
    let tick = (cfg.raft.election_timeout / 20).max(Duration::from_millis(5));
    raft.tick_interval = tick;
    raft.election_tick = 20;
    raft.heartbeat_tick = 2;
    raft.snapshot_threshold = cfg.raft.snapshot_threshold.max(1);
    raft.trailing_logs = cfg.raft.trailing_logs;
    raft
}

impl Agent {
    /// Start an agent. Binds its listeners first, so a port clash fails the start.
    pub async fn start(
        config: RuntimeConfig,
        logs: LogHub,
        reload: Option<ReloadFn>,
    ) -> Result<Agent, AgentError> {
        let data_dir = config.data_dir.clone();
        if let Some(dir) = &data_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| AgentError::DataDir(format!("creating {}: {e}", dir.display())))?;
        }
        let node_id = resolve_node_id(config.node_id.as_deref(), data_dir.as_deref())?;
        let advertise = advertise_addr(&config);
        let node = Node {
            id: node_id.clone(),
            node: config.node_name.clone(),
            address: advertise.to_string(),
            datacenter: config.datacenter.clone(),
            tagged_addresses: identity::tagged_addresses(&config, advertise),
            meta: config.node_meta.clone(),
            ..Node::default()
        };

        // Listeners before anything else starts, so a clash is a clean start failure.
        let mut http_listeners = Vec::new();
        for addr in &config.http_addrs {
            match addr {
                ListenAddr::Tcp(sa) => {
                    let l =
                        tokio::net::TcpListener::bind(sa)
                            .await
                            .map_err(|e| AgentError::Bind {
                                what: "HTTP",
                                addr: sa.to_string(),
                                reason: e.to_string(),
                            })?;
                    http_listeners.push(l);
                }
                other => {
                    tracing::warn!(target: "agent", addr = ?other, "unix socket listeners are not supported yet; skipped")
                }
            }
        }

        let mut dns_listeners = Vec::new();
        for addr in &config.dns_addrs {
            let l = cairn_dns::DnsListeners::bind(*addr).map_err(|e| AgentError::Bind {
                what: "DNS",
                addr: addr.to_string(),
                reason: e.to_string(),
            })?;
            dns_listeners.push(l);
        }

        let (lan, lan_events) = LanPool::start(&config, &node_id, CONSUL_COMPAT_VERSION)
            .await
            .map_err(|reason| AgentError::Bind {
                what: "serf LAN",
                addr: format!("{}:{}", config.serf_bind_addr_lan, config.ports.serf_lan),
                reason,
            })?;

        let mut tasks = Vec::new();
        let mut rpc_stop_token: Option<CancellationToken> = None;
        let server = if config.server {
            let rpc_addr = SocketAddr::new(advertise, config.ports.server).to_string();
            let rpc_bind = SocketAddr::new(config.bind_addr, config.ports.server);
            let rpc_listener =
                tokio::net::TcpListener::bind(rpc_bind)
                    .await
                    .map_err(|e| AgentError::Bind {
                        what: "server RPC",
                        addr: rpc_bind.to_string(),
                        reason: e.to_string(),
                    })?;
            let cluster_id = crate::server::cluster_id(&config.datacenter);
            let source = (!config.bind_addr.is_unspecified()).then_some(config.bind_addr);
            let net = ServerNet::new(cluster_id, &rpc_addr, source);
            let store = match (&data_dir, config.dev_mode) {
                (Some(dir), false) => StoreKind::RocksDb(dir.join("raft")),
                _ => StoreKind::Memory,
            };
            let opts = ServerOptions {
                raft: raft_config(&config, raft_id(&node_id)),
                rpc_addr,
                store,
                bootstrap: config.bootstrap || config.bootstrap_expect == 1 || config.dev_mode,
                rpc_hold_timeout: config.limits.rpc_hold_timeout,
            };
            let duties = LeaderDuties {
                node: node.clone(),
                server_port: config.ports.server,
                tombstone_ttl: Duration::from_secs(15 * 60),
                housekeeping_interval: Duration::from_secs(30),
                members: Some(crate::server::MemberFeed(Arc::new(lan.clone()))),
                reconcile_interval: Duration::from_secs(60),
                autopilot: autopilot_config(&config.autopilot),
            };
            let server = Server::start_with(opts, duties, Some(net.clone())).await?;
            let raft = server.raft().clone();
            let raft_service = cairn_rpc::RaftService::new(cluster_id, move |m| raft.step(m))
                .learn_addresses(&net.transport);
            let forward = crate::server::rpc::ServerForward {
                server: server.clone(),
                datacenter: config.datacenter.clone(),
            };
            let rpc_stop = CancellationToken::new();
            let serve = cairn_rpc::RpcServer::builder()
                .raft(raft_service)
                .forward(forward)
                .serve(rpc_listener, rpc_stop.clone().cancelled_owned());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = serve.await {
                    tracing::error!(target: "agent.rpc", error = %e, "server RPC failed");
                }
            }));
            if config.bootstrap_expect > 1 && !config.bootstrap && !config.dev_mode {
                tracing::info!(target: "agent.server", expect = config.bootstrap_expect, "waiting for the expected servers before bootstrapping");
                tasks.push(tokio::spawn(crate::server::cluster::bootstrap_expect(
                    server.clone(),
                    Arc::new(lan.clone()),
                    net.client.clone(),
                    config.datacenter.clone(),
                    config.bootstrap_expect,
                    rpc_stop.clone(),
                )));
            }
            rpc_stop_token = Some(rpc_stop);
            Some(server)
        } else {
            None
        };
        let remote = if server.is_none() {
            Some(Arc::new(remote::RemoteServers::new(
                lan.clone(),
                config.datacenter.clone(),
                (!config.bind_addr.is_unspecified()).then_some(config.bind_addr),
            )))
        } else {
            None
        };

        let local = Arc::new(LocalState::new(data_dir.clone()));
        for err in local.load_persisted() {
            tracing::warn!(target: "agent", error = %err, "skipping unreadable persisted registration");
        }
        let (check_manager, check_events) =
            cairn_health::CheckManager::new(checks::manager_config(&config))
                .map_err(|e| AgentError::Config(format!("health checks: {e}")))?;
        let shared = Arc::new(Shared {
            config: RwLock::new(config.clone()),
            node: node.clone(),
            server: server.clone(),
            lan: lan.clone(),
            remote: remote.clone(),
            local: local.clone(),
            checks: check_manager,
            events: EventLog::new(),
            event_ltime: AtomicU64::new(0),
            logs,
            reload,
            started: Instant::now(),
            stop: CancellationToken::new(),
            left: std::sync::atomic::AtomicBool::new(false),
            rpc_stop: rpc_stop_token,
        });
        checks::start_persisted(&shared);
        registrations::apply_config_definitions(&shared, &config)?;
        shared
            .checks
            .set_alias_source(Arc::new(checks::LocalAlias::new(shared.clone())));

        {
            let shared2 = shared.clone();
            let lan2 = lan.clone();
            let stop = shared.stop.child_token();
            tasks.push(tokio::spawn(async move {
                lan2.pump(lan_events, stop, move |ev| shared2.events.push(ev))
                    .await
            }));
        }
        tasks.push(tokio::spawn(membership::retry_join(
            lan.clone(),
            config.join.retry_join.clone(),
            config.join.retry_interval,
            config.join.retry_max,
            shared.stop.child_token(),
        )));
        tasks.push(tokio::spawn(checks::drain_events(
            shared.clone(),
            check_events,
        )));
        let access: Option<Arc<dyn crate::local::CatalogAccess>> = match (&server, &remote) {
            (Some(s), _) => Some(Arc::new(s.clone())),
            (None, Some(r)) => Some(r.clone()),
            (None, None) => None,
        };
        if let Some(access) = access {
            let cfg = SyncConfig {
                node: node.clone(),
                foreign_services: vec!["consul".into()],
                foreign_checks: vec![crate::server::SERF_HEALTH.into()],
                interval: Duration::from_secs(60),
            };
            tasks.push(tokio::spawn(sync::run(
                cfg,
                local.clone(),
                access,
                shared.stop.child_token(),
            )));
        }

        let http_config = HttpConfig {
            datacenter: config.datacenter.clone(),
            node_name: config.node_name.clone(),
            kv_max_value_size: config.limits.kv_max_value_size,
            txn_max_req_len: config.limits.txn_max_req_len,
            session_ttl_min: config.session_ttl_min,
            default_query_time: config.default_query_time,
            max_query_time: config.max_query_time,
            discovery_max_stale: Duration::ZERO,
            pretty_by_default: config.dev_mode,
            response_headers: config.http.response_headers.clone(),
            acl_default_policy: config.acl.default_policy.clone(),
            block_endpoints: config.http.block_endpoints.clone(),
        };
        let consensus = Arc::new(consensus_api::Consensus::new(shared.clone()));
        let agent_api = Arc::new(agent_api::LocalAgent::new(shared.clone()));
        let http = HttpServer::new(http_config, consensus, agent_api);
        let mut http_addrs = Vec::new();
        for listener in http_listeners {
            if let Ok(a) = listener.local_addr() {
                http_addrs.push(a);
            }
            let stop = shared.stop.clone();
            let serve = http
                .clone()
                .serve(listener, async move { stop.cancelled().await });
            tasks.push(tokio::spawn(async move {
                if let Err(e) = serve.await {
                    tracing::error!(target: "agent.http", error = %e, "HTTP server failed");
                }
            }));
        }
        let dns_backend = Arc::new(match &remote {
            Some(r) => dns_backend::AgentDns::Remote(dns_remote::RemoteDns::new(
                r.clone(),
                config.datacenter.clone(),
                shared.stop.child_token(),
            )),
            None => dns_backend::AgentDns::Local(dns_backend::CatalogDns::new(
                server.as_ref().map(|s| s.reader().clone()),
                config.datacenter.clone(),
            )),
        });
        let mut dns_addrs = Vec::new();
        let mut dns = Vec::new();
        for listeners in dns_listeners {
            dns_addrs.extend(listeners.udp_addr());
            let handle = cairn_dns::DnsServer::start(
                listeners,
                dns_backend.clone(),
                dns_backend::dns_config(&config),
            )
            .map_err(|e| AgentError::Config(format!("dns: {e}")))?;
            dns.push(handle);
        }
        tracing::info!(target: "agent", node = %node.node, id = %node_id, "agent started");
        Ok(Agent {
            shared,
            http_addrs,
            dns_addrs,
            dns,
            tasks,
        })
    }

    /// The bound HTTP addresses (useful with port 0).
    pub fn http_addrs(&self) -> &[SocketAddr] {
        &self.http_addrs
    }

    /// The bound DNS addresses (UDP; TCP listens on the same ones).
    pub fn dns_addrs(&self) -> &[SocketAddr] {
        &self.dns_addrs
    }

    /// The server role, when this agent is a server.
    pub fn server(&self) -> Option<&Server> {
        self.shared.server.as_ref()
    }

    /// This agent's node record.
    pub fn node(&self) -> &Node {
        &self.shared.node
    }

    /// Resolves when the agent was asked to stop through its API (`PUT /v1/agent/leave`).
    pub async fn stopped(&self) {
        self.shared.stop.cancelled().await;
    }

    /// Whether the stop was a graceful leave.
    pub fn has_left(&self) -> bool {
        self.shared.left.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Make the coming [`Agent::shutdown`] a graceful leave of the gossip pool.
    pub fn set_leaving(&self) {
        self.shared
            .left
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Re-read the configuration (SIGHUP, `cairn reload`).
    pub async fn reload(&self) -> Result<(), AgentError> {
        registrations::reload(&self.shared)?;
        let cfg = dns_backend::dns_config(&self.shared.config.read());
        for d in &self.dns {
            if let Err(e) = d.reload(&cfg) {
                tracing::warn!(target: "agent", error = %e, "DNS settings not reloaded");
            }
        }
        Ok(())
    }

    /// Stop everything: listeners, anti-entropy, leader duties and the raft node.
    pub async fn shutdown(self) {
        self.shared.stop.cancel();
        self.shared.checks.remove_all();
        for d in self.dns {
            let _ = d.shutdown().await;
        }
        if self.shared.left.load(std::sync::atomic::Ordering::SeqCst) {
            if let Err(e) = self.shared.lan.leave().await {
                tracing::warn!(target: "agent", error = %e, "leaving the LAN pool failed");
            }
        }
        self.shared.lan.shutdown().await;
        if let Some(t) = &self.shared.rpc_stop {
            t.cancel();
        }
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        if let Some(server) = &self.shared.server {
            server.shutdown().await;
        }
        tracing::info!(target: "agent", "shutdown complete");
    }
}

/// The autopilot settings the leader acts on.
fn autopilot_config(a: &cairn_config::runtime::AutopilotRuntime) -> crate::server::AutopilotConfig {
    crate::server::AutopilotConfig {
        cleanup_dead_servers: a.cleanup_dead_servers,
        last_contact_threshold: a.last_contact_threshold,
        max_trailing_logs: a.max_trailing_logs,
        min_quorum: a.min_quorum,
        server_stabilization_time: a.server_stabilization_time,
    }
}
