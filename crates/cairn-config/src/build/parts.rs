//! Building the runtime sections (DNS, HTTP, limits, Raft, gossip, joins, encryption, logs,
//! UI, ACLs) with Consul's defaults (`agent/config/default.go`).

use super::addresses::{check_cidr, parse_ip, reject_template};
use super::{Builder, DEFAULT_DOMAIN};
use crate::error::ConfigError;
use crate::file::Gossip;
use crate::runtime::{
    AclRuntime, AutopilotRuntime, DnsRuntime, EncryptRuntime, GossipTiming, HttpRuntime,
    JoinRuntime, LimitsRuntime, LogLevel, LogRuntime, RaftTiming, SoaRuntime, UiRuntime,
};
use base64::Engine;
use cairn_types::GoDuration;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub(crate) fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Raft's `SuggestedMaxDataSize`, Consul's default for KV values and transaction bodies.
pub const DEFAULT_MAX_VALUE_SIZE: u64 = 512 * 1024;
/// Largest `performance.raft_multiplier`.
pub const MAX_RAFT_MULTIPLIER: i64 = 10;

/// A domain with exactly one trailing dot.
fn fqdn(domain: &str) -> String {
    format!("{}.", domain.trim_end_matches('.'))
}

impl Builder<'_> {
    pub(super) fn dns(&self) -> Result<DnsRuntime, ConfigError> {
        let d = &self.c.dns_config;
        let mut service_ttl = BTreeMap::new();
        for (name, text) in &d.service_ttl {
            let key = format!("dns_config.service_ttl[{name:?}]");
            let ttl = GoDuration::parse(text).map_err(|e| {
                self.invalid(&key, format!("{key}: invalid duration: {text:?}: {e}"))
            })?;
            service_ttl.insert(name.clone(), ttl.as_duration());
        }
        let mut recursors: Vec<String> = Vec::new();
        for r in &self.c.recursors {
            reject_template("recursors", r).map_err(|m| self.invalid("recursors", m))?;
            for addr in r.split_whitespace() {
                if addr.starts_with("unix://") {
                    return Err(self.invalid(
                        "recursors",
                        format!("DNS Recursors cannot be unix sockets: {addr}"),
                    ));
                }
                let host = recursor_host(addr);
                if parse_ip(host).is_some_and(|ip| ip.is_unspecified()) {
                    return Err(self.invalid(
                        "recursors",
                        "DNS recursor address cannot be 0.0.0.0, :: or [::]",
                    ));
                }
                if !recursors.iter().any(|r| r == addr) {
                    recursors.push(addr.to_owned());
                }
            }
        }
        let recursor_random = match d.recursor_strategy.as_deref() {
            None | Some("") | Some("sequential") => false,
            Some("random") => true,
            Some(other) => {
                return Err(self.invalid(
                    "dns_config.recursor_strategy",
                    format!("dns_config.recursor_strategy: invalid strategy: {other:?}"),
                ))
            }
        };
        let soa = &d.soa;
        let soa_value = |key: &str, v: Option<u64>, default: u32| {
            v.map_or(Ok(default), |n| {
                u32::try_from(n)
                    .map_err(|_| self.invalid(key, format!("{key}: {n} does not fit in 32 bits")))
            })
        };
        Ok(DnsRuntime {
            domain: fqdn(self.c.domain.as_deref().unwrap_or(DEFAULT_DOMAIN)),
            alt_domain: self
                .c
                .alt_domain
                .as_deref()
                .filter(|a| !a.is_empty())
                .map(fqdn),
            recursors,
            recursor_random,
            recursor_timeout: d.recursor_timeout.unwrap_or(secs(2)),
            allow_stale: d.allow_stale.unwrap_or(true),
            max_stale: d.max_stale.unwrap_or(secs(87600 * 3600)),
            node_ttl: d.node_ttl.unwrap_or_default(),
            service_ttl,
            udp_answer_limit: self.count("dns_config.udp_answer_limit", d.udp_answer_limit, 3)?,
            a_record_limit: self.count("dns_config.a_record_limit", d.a_record_limit, 0)?,
            only_passing: d.only_passing.unwrap_or(false),
            enable_truncate: d.enable_truncate.unwrap_or(false),
            disable_compression: d.disable_compression.unwrap_or(false),
            node_meta_txt: d.enable_additional_node_meta_txt.unwrap_or(true),
            soa: SoaRuntime {
                refresh: soa_value("dns_config.soa.refresh", soa.refresh, 3600)?,
                retry: soa_value("dns_config.soa.retry", soa.retry, 600)?,
                expire: soa_value("dns_config.soa.expire", soa.expire, 86400)?,
                min_ttl: soa_value("dns_config.soa.min_ttl", soa.min_ttl, 0)?,
            },
            use_cache: d.use_cache.unwrap_or(false),
            cache_max_age: d.cache_max_age.unwrap_or_default(),
        })
    }

    pub(super) fn http(&self) -> Result<HttpRuntime, ConfigError> {
        let h = &self.c.http_config;
        for cidr in &h.allow_write_http_from {
            if !check_cidr(cidr) {
                return Err(self.invalid(
                    "http_config.allow_write_http_from",
                    format!("allow_write_http_from: invalid cidr: {cidr}"),
                ));
            }
        }
        Ok(HttpRuntime {
            response_headers: h.response_headers.clone(),
            block_endpoints: h.block_endpoints.clone(),
            allow_write_http_from: h.allow_write_http_from.clone(),
            max_conns_per_client: self.count(
                "limits.http_max_conns_per_client",
                self.c.limits.http_max_conns_per_client,
                200,
            )?,
            https_handshake_timeout: self.c.limits.https_handshake_timeout.unwrap_or(secs(5)),
            use_cache: h.use_cache.unwrap_or(true),
            max_header_bytes: self.count("http_config.max_header_bytes", h.max_header_bytes, 0)?,
        })
    }

    pub(super) fn limits(&self) -> Result<LimitsRuntime, ConfigError> {
        let l = &self.c.limits;
        let mode = l.request_limits.mode.as_deref().unwrap_or("disabled");
        if !matches!(mode, "disabled" | "permissive" | "enforcing") {
            return Err(self.invalid(
                "limits.request_limits.mode",
                format!("limits.request_limits.mode: invalid mode: {mode:?}"),
            ));
        }
        Ok(LimitsRuntime {
            kv_max_value_size: l.kv_max_value_size.unwrap_or(DEFAULT_MAX_VALUE_SIZE),
            txn_max_req_len: l.txn_max_req_len.unwrap_or(DEFAULT_MAX_VALUE_SIZE),
            rpc_rate: l.rpc_rate.filter(|r| *r >= 0.0),
            rpc_max_burst: self.count("limits.rpc_max_burst", l.rpc_max_burst, 1000)?,
            rpc_max_conns_per_client: self.count(
                "limits.rpc_max_conns_per_client",
                l.rpc_max_conns_per_client,
                100,
            )?,
            rpc_handshake_timeout: l.rpc_handshake_timeout.unwrap_or(secs(5)),
            rpc_client_timeout: l.rpc_client_timeout.unwrap_or(secs(60)),
            rpc_hold_timeout: self.c.performance.rpc_hold_timeout.unwrap_or(secs(7)),
        })
    }

    pub(super) fn raft(&self) -> Result<RaftTiming, ConfigError> {
        let default_multiplier = if self.dev { 1 } else { 5 };
        let m = self
            .c
            .performance
            .raft_multiplier
            .unwrap_or(default_multiplier);
        if !(1..=MAX_RAFT_MULTIPLIER).contains(&m) {
            return Err(self.invalid(
                "performance.raft_multiplier",
                format!(
                    "performance.raft_multiplier cannot be {m}. Must be between 1 and {MAX_RAFT_MULTIPLIER}"
                ),
            ));
        }
        let m = m as u32;
        // hashicorp/raft defaults, or Consul's much shorter dev-mode timings, scaled.
        let (election, heartbeat, lease) = if self.dev {
            (millis(52), millis(35), millis(20))
        } else {
            (millis(1000), millis(1000), millis(500))
        };
        let count64 = |key: &str, v: Option<i64>, default: u64| {
            v.map_or(Ok(default), |n| {
                u64::try_from(n).map_err(|_| {
                    self.invalid(
                        key,
                        format!("{key} cannot be {n}. Must be greater than or equal to zero"),
                    )
                })
            })
        };
        Ok(RaftTiming {
            multiplier: m,
            election_timeout: election * m,
            heartbeat_timeout: heartbeat * m,
            leader_lease_timeout: lease * m,
            snapshot_threshold: count64(
                "raft_snapshot_threshold",
                self.c.raft_snapshot_threshold,
                16384,
            )?,
            snapshot_interval: self.c.raft_snapshot_interval.unwrap_or(secs(30)),
            trailing_logs: count64("raft_trailing_logs", self.c.raft_trailing_logs, 10240)?,
        })
    }

    pub(super) fn autopilot(&self) -> Result<AutopilotRuntime, ConfigError> {
        let a = &self.c.autopilot;
        let non_negative = |key: &str, v: Option<i64>, default: u64| {
            v.map_or(Ok(default), |n| {
                u64::try_from(n).map_err(|_| {
                    self.invalid(
                        key,
                        format!("{key} cannot be {n}. Must be greater than or equal to zero"),
                    )
                })
            })
        };
        Ok(AutopilotRuntime {
            cleanup_dead_servers: a.cleanup_dead_servers.unwrap_or(true),
            last_contact_threshold: a.last_contact_threshold.unwrap_or(millis(200)),
            max_trailing_logs: non_negative(
                "autopilot.max_trailing_logs",
                a.max_trailing_logs,
                250,
            )?,
            min_quorum: a.min_quorum.unwrap_or(0),
            server_stabilization_time: a.server_stabilization_time.unwrap_or(secs(10)),
        })
    }

    pub(super) fn gossip(&self, wan: bool) -> Result<GossipTiming, ConfigError> {
        let (g, key): (&Gossip, &str) = if wan {
            (&self.c.gossip_wan, "gossip_wan")
        } else {
            (&self.c.gossip_lan, "gossip_lan")
        };
        // memberlist's LAN/WAN defaults as Consul sets them; dev mode gossips every 100ms.
        let (interval, probe, timeout, suspicion) = match (self.dev, wan) {
            (true, _) => (millis(100), millis(100), millis(100), 3),
            (false, false) => (millis(200), secs(1), millis(500), 4),
            (false, true) => (millis(500), secs(5), secs(3), 6),
        };
        Ok(GossipTiming {
            gossip_nodes: self.count(&format!("{key}.gossip_nodes"), g.gossip_nodes, 3)?,
            gossip_interval: g.gossip_interval.unwrap_or(interval),
            probe_interval: g.probe_interval.unwrap_or(probe),
            probe_timeout: g.probe_timeout.unwrap_or(timeout),
            suspicion_mult: self.count(
                &format!("{key}.suspicion_mult"),
                g.suspicion_mult,
                suspicion,
            )?,
            retransmit_mult: self.count(&format!("{key}.retransmit_mult"), g.retransmit_mult, 4)?,
        })
    }

    pub(super) fn join(&self, server: bool) -> Result<JoinRuntime, ConfigError> {
        for (key, list) in [
            ("serf_lan_allowed_cidrs", &self.c.serf_lan_allowed_cidrs),
            ("serf_wan_allowed_cidrs", &self.c.serf_wan_allowed_cidrs),
        ] {
            if let Some(bad) = list.iter().find(|c| !check_cidr(c)) {
                return Err(self.invalid(key, format!("{key}: invalid CIDR address: {bad}")));
            }
        }
        for (key, list) in [
            ("retry_join", &self.c.retry_join),
            ("retry_join_wan", &self.c.retry_join_wan),
        ] {
            for entry in list {
                reject_template(key, entry).map_err(|m| self.invalid(key, m))?;
            }
        }
        Ok(JoinRuntime {
            retry_join: self.c.retry_join.clone(),
            retry_join_wan: self.c.retry_join_wan.clone(),
            retry_interval: self.c.retry_interval.unwrap_or(secs(30)),
            retry_interval_wan: self.c.retry_interval_wan.unwrap_or(secs(30)),
            retry_max: self.count("retry_max", self.c.retry_max, 0)?,
            retry_max_wan: self.count("retry_max_wan", self.c.retry_max_wan, 0)?,
            rejoin_after_leave: self.c.rejoin_after_leave.unwrap_or(false),
            leave_on_terminate: self.c.leave_on_terminate.unwrap_or(!server),
            skip_leave_on_interrupt: self.c.skip_leave_on_interrupt.unwrap_or(server),
            reconnect_timeout: self.c.reconnect_timeout.unwrap_or(secs(72 * 3600)),
            reconnect_timeout_wan: self.c.reconnect_timeout_wan.unwrap_or(secs(72 * 3600)),
            serf_lan_allowed_cidrs: self.c.serf_lan_allowed_cidrs.clone(),
            serf_wan_allowed_cidrs: self.c.serf_wan_allowed_cidrs.clone(),
        })
    }

    pub(super) fn encrypt(&self) -> Result<EncryptRuntime, ConfigError> {
        let key = self.c.encrypt.clone().filter(|k| !k.is_empty());
        let key_bytes = match &key {
            None => None,
            Some(k) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(k)
                    .map_err(|e| {
                        self.invalid("encrypt", format!("encrypt has invalid key: {e}"))
                    })?;
                if !matches!(bytes.len(), 16 | 24 | 32) {
                    return Err(self.invalid(
                        "encrypt",
                        format!(
                            "encrypt has invalid key: key size must be 16, 24 or 32 bytes, got {}",
                            bytes.len()
                        ),
                    ));
                }
                Some(bytes)
            }
        };
        Ok(EncryptRuntime {
            key,
            key_bytes,
            verify_incoming: self.c.encrypt_verify_incoming.unwrap_or(true),
            verify_outgoing: self.c.encrypt_verify_outgoing.unwrap_or(true),
            disable_keyring_file: self.c.disable_keyring_file.unwrap_or(self.dev),
        })
    }

    pub(super) fn log(&self) -> Result<LogRuntime, ConfigError> {
        let default_level = if self.dev { "DEBUG" } else { "INFO" };
        let text = self.c.log_level.as_deref().unwrap_or(default_level);
        let level = LogLevel::parse(text).ok_or_else(|| {
            self.invalid(
                "log_level",
                format!(
                    "Invalid log level: {text}. Valid log levels are: [TRACE DEBUG INFO WARN ERR]"
                ),
            )
        })?;
        let rotate_bytes = self.c.log_rotate_bytes.unwrap_or(0);
        Ok(LogRuntime {
            level,
            json: self.c.log_json.unwrap_or(false),
            file: self
                .c
                .log_file
                .clone()
                .filter(|f| !f.is_empty())
                .map(PathBuf::from),
            rotate_bytes: u64::try_from(rotate_bytes).unwrap_or(0),
            rotate_duration: self.c.log_rotate_duration.unwrap_or(secs(24 * 3600)),
            rotate_max_files: self.c.log_rotate_max_files.unwrap_or(0),
            syslog: self.c.enable_syslog.unwrap_or(false),
            syslog_facility: self
                .c
                .syslog_facility
                .clone()
                .unwrap_or_else(|| "LOCAL0".into()),
        })
    }

    pub(super) fn ui(&mut self) -> Result<UiRuntime, ConfigError> {
        // The old top-level keys still work, with Consul's deprecation warnings.
        if let Some(ui) = self.c.ui {
            self.warn("The 'ui' field is deprecated. Use the 'ui_config.enabled' field instead.");
            self.c.ui_config.enabled.get_or_insert(ui);
        }
        if let Some(dir) = self.c.ui_dir.clone() {
            self.warn("The 'ui_dir' field is deprecated. Use the 'ui_config.dir' field instead.");
            self.c.ui_config.dir.get_or_insert(dir);
        }
        if let Some(path) = self.c.ui_content_path.clone() {
            self.warn(
                "The 'ui_content_path' field is deprecated. Use the 'ui_config.content_path' field instead.",
            );
            self.c.ui_config.content_path.get_or_insert(path);
        }
        let u = &self.c.ui_config;
        let content_path = match u.content_path.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => format!("/{}/", p.trim_matches('/')),
            None => "/ui/".to_owned(),
        };
        let valid = content_path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-'));
        if !valid {
            return Err(self.invalid(
                "ui_config.content_path",
                format!("ui-content-path can only contain alphanumeric, -, _, or /. received: {content_path:?}"),
            ));
        }
        Ok(UiRuntime {
            enabled: u.enabled.unwrap_or(self.dev),
            dir: u.dir.clone().filter(|d| !d.is_empty()).map(PathBuf::from),
            content_path,
        })
    }

    pub(super) fn acl(&self) -> AclRuntime {
        let a = &self.c.acl;
        let t = &a.tokens;
        AclRuntime {
            enabled: a.enabled.unwrap_or(false),
            default_policy: a.default_policy.clone().unwrap_or_else(|| "allow".into()),
            down_policy: a
                .down_policy
                .clone()
                .unwrap_or_else(|| "extend-cache".into()),
            policy_ttl: a.policy_ttl.unwrap_or(secs(30)),
            role_ttl: a.role_ttl.unwrap_or(secs(30)),
            token_ttl: a.token_ttl.unwrap_or(secs(30)),
            enable_token_persistence: a.enable_token_persistence.unwrap_or(false),
            enable_token_replication: a.enable_token_replication.unwrap_or(false),
            enable_key_list_policy: a.enable_key_list_policy.unwrap_or(false),
            initial_management_token: t.initial_management.clone(),
            agent_recovery_token: t.agent_recovery.clone(),
            default_token: t.default.clone(),
            agent_token: t.agent.clone(),
            replication_token: t.replication.clone(),
            config_file_registration_token: t.config_file_service_registration.clone(),
        }
    }
}

/// The host part of a recursor (`1.2.3.4`, `1.2.3.4:53`, `[::1]:53`).
fn recursor_host(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((host, _)) if !host.contains(':') => host,
        _ => addr,
    }
}
