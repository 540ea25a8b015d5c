//! From merged config layers to a [`RuntimeConfig`]: defaults, derived values, validation.
//!
//! The steps and messages follow Consul's `agent/config/builder.go` (`build` then
//! `validate`). Errors blame the source that set the offending key where one can be named.

mod addresses;
mod parts;
mod validate;

use crate::error::{ConfigError, Warning};
use crate::file::{ConfigFile, Layer};
use crate::runtime::{ListenAddr, RuntimeConfig, RuntimePorts};
use addresses::{expand_addrs, expand_first_ip, expand_ips, listen_addrs};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Consul's default datacenter.
pub const DEFAULT_DATACENTER: &str = "dc1";
/// Consul's default DNS domain.
pub const DEFAULT_DOMAIN: &str = "consul.";

/// Turns the merged configuration into a runtime configuration.
pub(crate) struct Builder<'w> {
    pub c: ConfigFile,
    origins: BTreeMap<String, String>,
    pub dev: bool,
    hostname: Option<String>,
    warnings: &'w mut Vec<Warning>,
}

impl<'w> Builder<'w> {
    pub fn new(
        merged: Layer,
        dev: bool,
        hostname: Option<String>,
        warnings: &'w mut Vec<Warning>,
    ) -> Self {
        Builder {
            c: merged.config,
            origins: merged.origins,
            dev,
            hostname,
            warnings,
        }
    }

    /// The source that set `key` (or, failing that, something under it), if any.
    pub fn origin(&self, key: &str) -> Option<String> {
        if let Some(source) = self.origins.get(key) {
            return Some(source.clone());
        }
        let prefix = format!("{key}.");
        self.origins
            .iter()
            .find(|(k, _)| k.starts_with(&prefix) || k.starts_with(&format!("{key}[")))
            .map(|(_, s)| s.clone())
    }

    /// A rule violation about `key`, blamed on the source that set it.
    pub fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            source_name: self.origin(key),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(Warning(message.into()));
    }

    /// A port: unset means `default`; ≤ 0 means off; above 65535 is an error.
    pub fn port(
        &self,
        key: &str,
        value: Option<i64>,
        default: i64,
    ) -> Result<Option<u16>, ConfigError> {
        let v = value.unwrap_or(default);
        if v <= 0 {
            return Ok(None);
        }
        u16::try_from(v)
            .map(Some)
            .map_err(|_| self.invalid(key, format!("{key}: invalid port: {v}")))
    }

    /// A count that must not be negative.
    pub fn count(&self, key: &str, value: Option<i64>, default: u32) -> Result<u32, ConfigError> {
        match value {
            None => Ok(default),
            Some(v) => u32::try_from(v).map_err(|_| {
                self.invalid(
                    key,
                    format!("{key} cannot be {v}. Must be greater than or equal to zero"),
                )
            }),
        }
    }

    fn addr_error(&self, key: &str) -> impl Fn(String) -> ConfigError + '_ {
        let key = key.to_owned();
        move |message| self.invalid(&key, message)
    }

    pub fn build(mut self) -> Result<RuntimeConfig, ConfigError> {
        let ports = self.ports()?;

        // Cluster addresses.
        let bind_text = self.c.bind_addr.clone().unwrap_or_else(|| {
            if self.dev {
                "127.0.0.1".into()
            } else {
                "0.0.0.0".into()
            }
        });
        let bind_addrs =
            expand_addrs("bind_addr", Some(&bind_text)).map_err(self.addr_error("bind_addr"))?;
        let bind_addr = match bind_addrs.as_slice() {
            [] => return Err(self.invalid("bind_addr", "bind_addr cannot be empty")),
            [addresses::Addr::Ip(ip)] => *ip,
            [addresses::Addr::Unix(_)] => {
                return Err(self.invalid("bind_addr", "bind_addr cannot be a unix socket"))
            }
            _ => {
                return Err(self.invalid(
                    "bind_addr",
                    "bind_addr cannot contain multiple addresses. Use 'addresses.{dns,http,https}' instead.",
                ))
            }
        };
        let advertise_lan = expand_first_ip("advertise_addr", self.c.advertise_addr.as_deref())
            .map_err(self.addr_error("advertise_addr"))?;
        if advertise_lan.is_some_and(|ip| ip.is_unspecified()) {
            return Err(self.invalid(
                "advertise_addr",
                "Advertise address cannot be 0.0.0.0, :: or [::]",
            ));
        }
        let advertise_wan =
            expand_first_ip("advertise_addr_wan", self.c.advertise_addr_wan.as_deref())
                .map_err(self.addr_error("advertise_addr_wan"))?;
        if advertise_wan.is_some_and(|ip| ip.is_unspecified()) {
            return Err(self.invalid(
                "advertise_addr_wan",
                "Advertise WAN address cannot be 0.0.0.0, :: or [::]",
            ));
        }
        let advertise_lan = advertise_lan.or((!bind_addr.is_unspecified()).then_some(bind_addr));
        let serf_lan = expand_first_ip("serf_lan", self.c.serf_lan.as_deref())
            .map_err(self.addr_error("serf_lan"))?
            .unwrap_or(bind_addr);
        let serf_wan = expand_first_ip("serf_wan", self.c.serf_wan.as_deref())
            .map_err(self.addr_error("serf_wan"))?
            .unwrap_or(bind_addr);

        // Client listeners.
        let client_text = self
            .c
            .client_addr
            .clone()
            .unwrap_or_else(|| "127.0.0.1".into());
        let client_addrs = expand_ips("client_addr", Some(&client_text))
            .map_err(self.addr_error("client_addr"))?;
        if client_addrs.is_empty() {
            self.warn("client_addr is empty, client services (DNS, HTTP, HTTPS, GRPC) will not be listening for connections");
        }
        let own = |b: &Self, key: &str, v: &Option<String>| {
            expand_addrs(key, v.as_deref()).map_err(b.addr_error(key))
        };
        let dns_own = own(&self, "addresses.dns", &self.c.addresses.dns)?;
        let http_own = own(&self, "addresses.http", &self.c.addresses.http)?;
        let https_own = own(&self, "addresses.https", &self.c.addresses.https)?;
        let grpc_own = own(&self, "addresses.grpc", &self.c.addresses.grpc)?;
        let mut dns_addrs = Vec::new();
        for a in listen_addrs(&dns_own, &client_addrs, ports.dns) {
            match a {
                ListenAddr::Tcp(sa) => dns_addrs.push(sa),
                ListenAddr::Unix(_) => {
                    return Err(self.invalid("addresses.dns", "DNS address cannot be a unix socket"))
                }
            }
        }
        let mut grpc_addrs = Vec::new();
        for a in listen_addrs(&grpc_own, &client_addrs, ports.grpc) {
            match a {
                ListenAddr::Tcp(sa) => grpc_addrs.push(sa),
                ListenAddr::Unix(_) => {
                    return Err(
                        self.invalid("addresses.grpc", "addresses.grpc cannot be a unix socket")
                    )
                }
            }
        }
        let http_addrs = listen_addrs(&http_own, &client_addrs, ports.http);
        let https_addrs = listen_addrs(&https_own, &client_addrs, ports.https);

        let datacenter = self
            .c
            .datacenter
            .clone()
            .unwrap_or_else(|| DEFAULT_DATACENTER.into())
            .to_lowercase();
        let primary_datacenter = match self.c.primary_datacenter.as_deref() {
            Some(p) if !p.is_empty() => p.to_lowercase(),
            _ => datacenter.clone(),
        };
        let node_name = self.node_name()?;
        let node_id = self.node_id()?;
        let server = self.c.server.unwrap_or(self.dev);

        let mut rt = RuntimeConfig {
            dev_mode: self.dev,
            node_name,
            node_id,
            node_meta: self.c.node_meta.clone(),
            disable_host_node_id: self.c.disable_host_node_id.unwrap_or(true),
            datacenter,
            primary_datacenter,
            data_dir: self
                .c
                .data_dir
                .clone()
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
            pid_file: self
                .c
                .pid_file
                .clone()
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            server,
            bootstrap: self.c.bootstrap.unwrap_or(false),
            bootstrap_expect: 0,
            bind_addr,
            advertise_addr_lan: advertise_lan,
            advertise_addr_wan: advertise_wan,
            serf_bind_addr_lan: serf_lan,
            serf_bind_addr_wan: serf_wan,
            client_addrs,
            ports,
            dns_addrs,
            http_addrs,
            https_addrs,
            grpc_addrs,
            tagged_addresses: self.c.tagged_addresses.clone(),
            dns: self.dns()?,
            http: self.http()?,
            limits: self.limits()?,
            default_query_time: self.c.default_query_time.unwrap_or(parts::secs(300)),
            max_query_time: self.c.max_query_time.unwrap_or(parts::secs(600)),
            session_ttl_min: self.c.session_ttl_min.unwrap_or(parts::secs(10)),
            raft: self.raft()?,
            autopilot: self.autopilot()?,
            raft_protocol: self.count("raft_protocol", self.c.raft_protocol, 3)?,
            rpc_protocol: self.count("protocol", self.c.protocol, 2)?,
            leave_drain_time: self
                .c
                .performance
                .leave_drain_time
                .unwrap_or(parts::secs(5)),
            gossip_lan: self.gossip(false)?,
            gossip_wan: self.gossip(true)?,
            join: self.join(server)?,
            encrypt: self.encrypt()?,
            enable_remote_script_checks: self.c.enable_script_checks.unwrap_or(false),
            enable_local_script_checks: self
                .c
                .enable_local_script_checks
                .or(self.c.enable_script_checks)
                .unwrap_or(false),
            check_output_max_size: 4096,
            check_update_interval: self.c.check_update_interval.unwrap_or(parts::secs(300)),
            discard_check_output: self.c.discard_check_output.unwrap_or(false),
            services: Vec::new(),
            checks: Vec::new(),
            log: self.log()?,
            ui: self.ui()?,
            acl: self.acl(),
            disable_remote_exec: self.c.disable_remote_exec.unwrap_or(true),
            disable_update_check: self.c.disable_update_check.unwrap_or(false),
            disable_coordinates: self.c.disable_coordinates.unwrap_or(false),
            enable_debug: self.c.enable_debug.unwrap_or(self.dev),
            auto_reload_config: self.c.auto_reload_config.unwrap_or(false),
            watches: self.c.watches.clone(),
        };
        self.validate(&mut rt)?;
        rt.services = self.services(&rt)?;
        rt.checks = self.checks(&rt)?;
        Ok(rt)
    }

    fn ports(&self) -> Result<RuntimePorts, ConfigError> {
        let p = &self.c.ports;
        let grpc_default = if self.dev { 8502 } else { -1 };
        let server = self.port("ports.server", p.server, 8300)?;
        let serf_lan = self.port("ports.serf_lan", p.serf_lan, 8301)?;
        let ports = RuntimePorts {
            dns: self.port("ports.dns", p.dns, 8600)?,
            http: self.port("ports.http", p.http, 8500)?,
            https: self.port("ports.https", p.https, -1)?,
            grpc: self.port("ports.grpc", p.grpc, grpc_default)?,
            grpc_tls: self.port("ports.grpc_tls", p.grpc_tls, -1)?,
            serf_lan: serf_lan.ok_or_else(|| {
                self.invalid("ports.serf_lan", "serf-lan-port must be greater than zero")
            })?,
            serf_wan: self.port("ports.serf_wan", p.serf_wan, 8302)?,
            server: server.ok_or_else(|| {
                self.invalid("ports.server", "server-port must be greater than zero")
            })?,
        };
        Ok(ports)
    }

    fn node_name(&mut self) -> Result<String, ConfigError> {
        let name = match self.c.node_name.as_deref().filter(|n| !n.is_empty()) {
            Some(n) => n.to_owned(),
            None => match self.hostname.clone() {
                Some(h) => h,
                None => {
                    return Err(self.invalid(
                        "node_name",
                        "node_name: unable to determine the host name; set node_name or -node",
                    ))
                }
            },
        };
        Ok(name.trim().to_owned())
    }

    fn node_id(&self) -> Result<Option<String>, ConfigError> {
        let Some(id) = self.c.node_id.as_deref().filter(|i| !i.is_empty()) else {
            return Ok(None);
        };
        let id = id.to_lowercase();
        let groups: Vec<&str> = id.split('-').collect();
        let shape_ok = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups
                .iter()
                .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()));
        if !shape_ok {
            return Err(self.invalid(
                "node_id",
                format!(
                    "node_id: {id:?} is not a valid UUID (36 hex characters in 8-4-4-4-12 form)"
                ),
            ));
        }
        Ok(Some(id))
    }
}
