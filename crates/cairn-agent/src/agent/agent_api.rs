//! The agent-local half of the HTTP API: self, members, local services and checks,
//! maintenance, events, metrics and the log monitor.

use super::registrations::{self, NODE_MAINT};
use super::{Shared, CONSUL_COMPAT_VERSION};
use crate::local::Source;
use cairn_http::{
    AgentApi, AgentSelf, AgentSelfConfig, ApiError, ApiFuture, GaugeValue, LogLevel, LogStream,
    MetricsSummary, ServiceRegisterOptions, UserEvent,
};
use cairn_types::{
    AgentCheckRegistration, AgentService, AgentServiceRegistration, CheckStatus, HealthCheck,
    Member, MemberStatus,
};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// [`AgentApi`] for an agent.
pub(crate) struct LocalAgent {
    shared: Arc<Shared>,
}

impl LocalAgent {
    pub(crate) fn new(shared: Arc<Shared>) -> LocalAgent {
        LocalAgent { shared }
    }

    /// This agent's own gossip member entry, with Consul's tags.
    fn self_member(&self) -> Member {
        let cfg = self.shared.config.read();
        let mut tags = BTreeMap::new();
        tags.insert("dc".to_string(), cfg.datacenter.clone());
        tags.insert("id".to_string(), self.shared.node.id.clone());
        tags.insert("segment".to_string(), String::new());
        tags.insert(
            "build".to_string(),
            format!("{CONSUL_COMPAT_VERSION}:cairn"),
        );
        tags.insert("vsn".to_string(), "2".to_string());
        tags.insert("vsn_min".to_string(), "2".to_string());
        tags.insert("vsn_max".to_string(), "3".to_string());
        if cfg.server {
            tags.insert("role".to_string(), "consul".to_string());
            tags.insert("port".to_string(), cfg.ports.server.to_string());
            tags.insert("raft_vsn".to_string(), "3".to_string());
            if cfg.bootstrap {
                tags.insert("bootstrap".to_string(), "1".to_string());
            } else if cfg.bootstrap_expect > 0 {
                tags.insert("expect".to_string(), cfg.bootstrap_expect.to_string());
            }
        } else {
            tags.insert("role".to_string(), "node".to_string());
        }
        Member {
            name: self.shared.node.node.clone(),
            addr: self.shared.node.address.clone(),
            port: cfg.ports.serf_lan,
            tags,
            status: MemberStatus::Alive,
            protocol_min: 1,
            protocol_max: 5,
            protocol_cur: 2,
            delegate_min: 2,
            delegate_max: 5,
            delegate_cur: 4,
        }
    }

    fn stats(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut stats = BTreeMap::new();
        let mut consul = BTreeMap::new();
        let server = self.shared.server.as_ref();
        consul.insert("server".into(), server.is_some().to_string());
        consul.insert("known_datacenters".into(), "1".into());
        if let Some(s) = server {
            consul.insert("leader".into(), s.is_leader().to_string());
            consul.insert("leader_addr".into(), s.leader_addr().unwrap_or_default());
            consul.insert(
                "bootstrap".into(),
                self.shared.config.read().bootstrap.to_string(),
            );
        }
        stats.insert("consul".to_string(), consul);
        let mut agent = BTreeMap::new();
        agent.insert(
            "services".into(),
            self.shared.local.services().len().to_string(),
        );
        agent.insert(
            "checks".into(),
            self.shared.local.checks().len().to_string(),
        );
        stats.insert("agent".to_string(), agent);
        let mut build = BTreeMap::new();
        build.insert("version".into(), CONSUL_COMPAT_VERSION.into());
        build.insert("prerelease".into(), String::new());
        build.insert(
            "revision".into(),
            format!("cairn-{}", env!("CARGO_PKG_VERSION")),
        );
        stats.insert("build".to_string(), build);
        let mut runtime = BTreeMap::new();
        runtime.insert("os".into(), std::env::consts::OS.into());
        runtime.insert("arch".into(), std::env::consts::ARCH.into());
        runtime.insert("version".into(), "rust".into());
        stats.insert("runtime".to_string(), runtime);
        stats
    }
}

fn not_found_service(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Unknown service ID {id:?}. Ensure that the service ID is passed, not the service name."
    ))
}

/// Resident set size in bytes, from /proc (0 where unavailable).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

impl AgentApi for LocalAgent {
    fn self_info(&self) -> ApiFuture<'_, AgentSelf> {
        Box::pin(async move {
            let cfg = self.shared.config.read().clone();
            Ok(AgentSelf {
                config: AgentSelfConfig {
                    datacenter: cfg.datacenter.clone(),
                    primary_datacenter: cfg.primary_datacenter.clone(),
                    node_name: cfg.node_name.clone(),
                    node_id: self.shared.node.id.clone(),
                    revision: format!("cairn-{}", env!("CARGO_PKG_VERSION")),
                    server: cfg.server,
                    version: CONSUL_COMPAT_VERSION.into(),
                    build_date: String::new(),
                    session_ttl_min: cfg.session_ttl_min,
                },
                debug_config: serde_json::json!({
                    "Datacenter": cfg.datacenter,
                    "NodeName": cfg.node_name,
                    "ServerMode": cfg.server,
                    "DevMode": cfg.dev_mode,
                    "DataDir": cfg.data_dir.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                    "BootstrapExpect": cfg.bootstrap_expect,
                }),
                coord: None,
                member: self.self_member(),
                stats: self.stats(),
                meta: cfg.node_meta.clone(),
            })
        })
    }

    fn members(&self, wan: bool, _segment: String) -> ApiFuture<'_, Vec<Member>> {
        Box::pin(async move {
            if wan {
                // No WAN pool yet: a server is its own only WAN member, as a lone DC's is.
                if !self.shared.config.read().server {
                    return Ok(Vec::new());
                }
                let mut me = self.self_member();
                me.name = format!("{}.{}", me.name, self.shared.config.read().datacenter);
                return Ok(vec![me]);
            }
            let members = self.shared.lan.members().await;
            if members.is_empty() {
                return Ok(vec![self.self_member()]);
            }
            Ok(members)
        })
    }

    fn join(&self, address: String, wan: bool) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            if wan {
                return Err(ApiError::internal(format!(
                    "1 error occurred:\n\t* Failed to join {address}: the WAN pool is not available yet\n\n"
                )));
            }
            tracing::info!(target: "agent", cluster = "LAN", address = %address, "(LAN) joining");
            match self.shared.lan.join(std::slice::from_ref(&address)).await {
                Ok(n) => {
                    tracing::info!(target: "agent", cluster = "LAN", num_agents = n, "(LAN) joined");
                    Ok(())
                }
                Err(e) => Err(ApiError::internal(e)),
            }
        })
    }

    fn leave(&self) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            tracing::info!(target: "agent", "graceful leave requested");
            self.shared.left.store(true, Ordering::SeqCst);
            // Let the HTTP answer go out before listeners close.
            let stop = self.shared.stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                stop.cancel();
            });
            Ok(())
        })
    }

    fn force_leave(&self, node: String, prune: bool, _wan: bool) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            if node == self.shared.node.node {
                return Err(ApiError::internal("cannot force leave this agent itself"));
            }
            tracing::info!(target: "agent", node = %node, prune, "Force leaving node");
            self.shared
                .lan
                .force_leave(&node, prune)
                .await
                .map_err(ApiError::internal)
        })
    }

    fn reload(&self) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            registrations::reload(&self.shared).map_err(|e| ApiError::internal(e.to_string()))
        })
    }

    fn services(&self) -> ApiFuture<'_, BTreeMap<String, AgentService>> {
        Box::pin(async move {
            Ok(self
                .shared
                .local
                .services()
                .into_iter()
                .map(|(id, s)| (id, s.service))
                .collect())
        })
    }

    fn register_service(
        &self,
        registration: AgentServiceRegistration,
        opts: ServiceRegisterOptions,
    ) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            registrations::register_service(
                &self.shared,
                &registration,
                Source::Api,
                &opts.token,
                opts.replace_existing_checks,
            )
            .map_err(ApiError::bad_request)
        })
    }

    fn deregister_service(&self, service_id: String) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            if self.shared.local.service(&service_id).is_none() {
                return Err(not_found_service(&service_id));
            }
            let maint = format!("{}{service_id}", registrations::SERVICE_MAINT_PREFIX);
            let _ = self.shared.local.remove_check(&maint);
            for (id, c) in self.shared.local.checks() {
                if c.check.service_id == service_id {
                    self.shared.checks.remove(&id);
                }
            }
            self.shared
                .local
                .remove_service(&service_id)
                .map(|_| ())
                .map_err(|e| ApiError::internal(e.to_string()))
        })
    }

    fn service_maintenance(
        &self,
        service_id: String,
        enable: bool,
        reason: String,
        token: String,
    ) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            if self.shared.local.service(&service_id).is_none() {
                return Err(ApiError::not_found(format!(
                    "Unknown service ID {service_id:?}"
                )));
            }
            registrations::service_maintenance(&self.shared, &service_id, enable, &reason, &token)
                .map_err(ApiError::internal)
        })
    }

    fn node_maintenance(&self, enable: bool, reason: String, token: String) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            registrations::node_maintenance(&self.shared, enable, &reason, &token)
                .map_err(ApiError::internal)
        })
    }

    fn checks(&self) -> ApiFuture<'_, BTreeMap<String, HealthCheck>> {
        Box::pin(async move {
            Ok(self
                .shared
                .local
                .checks()
                .into_iter()
                .map(|(id, c)| (id, c.check))
                .collect())
        })
    }

    fn register_check(&self, check: AgentCheckRegistration, token: String) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            registrations::register_check(&self.shared, &check, Source::Api, &token)
                .map_err(ApiError::bad_request)
        })
    }

    fn deregister_check(&self, check_id: String) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            self.shared.checks.remove(&check_id);
            match self.shared.local.remove_check(&check_id) {
                Ok(true) => Ok(()),
                Ok(false) => Err(ApiError::not_found(format!("Unknown check ID {check_id:?}. Ensure that the check ID is passed, not the check name."))),
                Err(e) => Err(ApiError::internal(e.to_string())),
            }
        })
    }

    fn update_ttl_check(
        &self,
        check_id: String,
        status: CheckStatus,
        output: String,
    ) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            let Some(check) = self.shared.local.check(&check_id) else {
                return Err(ApiError::not_found(format!("Unknown check ID {check_id:?}. Ensure that the check ID is passed, not the check name.")));
            };
            if check.check.check_type != "ttl" || check_id == NODE_MAINT {
                return Err(ApiError::internal(format!(
                    "Check {check_id:?} is not a TTL check"
                )));
            }
            self.shared.local.update_check(&check_id, status, &output);
            Ok(())
        })
    }

    fn local_change(&self, timeout: Duration) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            let _ = tokio::time::timeout(timeout, self.shared.local.changed()).await;
            Ok(())
        })
    }

    fn metrics(&self) -> ApiFuture<'_, MetricsSummary> {
        Box::pin(async move {
            let gauge = |name: &str, value: f64| GaugeValue {
                name: name.to_string(),
                value,
                labels: BTreeMap::new(),
            };
            let mut gauges = vec![
                gauge("consul.runtime.alloc_bytes", rss_bytes() as f64),
                gauge(
                    "consul.agent.services",
                    self.shared.local.services().len() as f64,
                ),
                gauge(
                    "consul.agent.checks",
                    self.shared.local.checks().len() as f64,
                ),
                gauge(
                    "consul.agent.uptime_seconds",
                    self.shared.started.elapsed().as_secs_f64(),
                ),
            ];
            if let Some(s) = &self.shared.server {
                let view = s.reader().view();
                gauges.push(gauge("consul.raft.applied_index", view.last_index() as f64));
                gauges.push(gauge(
                    "consul.server.isLeader",
                    if s.is_leader() { 1.0 } else { 0.0 },
                ));
                gauges.push(gauge("consul.catalog.nodes", view.nodes().0.len() as f64));
                gauges.push(gauge(
                    "consul.catalog.services",
                    view.services().0.len() as f64,
                ));
            }
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let start = secs - secs % 10;
            let ts = crate::logging::timestamp();
            let _ = start;
            Ok(MetricsSummary {
                timestamp: format!("{} {} +0000 UTC", &ts[..10], &ts[11..19]),
                gauges,
                ..MetricsSummary::default()
            })
        })
    }

    fn monitor(&self, level: LogLevel, json: bool) -> ApiFuture<'_, LogStream> {
        Box::pin(async move {
            let level = match level {
                LogLevel::Trace => tracing::Level::TRACE,
                LogLevel::Debug => tracing::Level::DEBUG,
                LogLevel::Info => tracing::Level::INFO,
                LogLevel::Warn => tracing::Level::WARN,
                LogLevel::Error => tracing::Level::ERROR,
            };
            let mut lines = self.shared.logs.subscribe(level);
            if !json {
                return Ok(lines);
            }
            let (tx, rx) = tokio::sync::mpsc::channel(512);
            tokio::spawn(async move {
                while let Some(line) = lines.recv().await {
                    let obj = serde_json::json!({ "@message": line }).to_string();
                    if tx.send(obj).await.is_err() {
                        break;
                    }
                }
            });
            Ok(rx)
        })
    }

    fn fire_event(&self, mut event: UserEvent) -> ApiFuture<'_, UserEvent> {
        Box::pin(async move {
            event.ltime = self.shared.event_ltime.fetch_add(1, Ordering::SeqCst) + 1;
            // Gossip delivers the event back to us too, with serf's Lamport time.
            self.shared
                .lan
                .fire_event(&event)
                .await
                .map_err(ApiError::internal)?;
            Ok(event)
        })
    }

    fn events(&self, min_index: u64, wait: Duration) -> ApiFuture<'_, Vec<UserEvent>> {
        Box::pin(async move { Ok(self.shared.events.wait_list(min_index, wait).await) })
    }
}
