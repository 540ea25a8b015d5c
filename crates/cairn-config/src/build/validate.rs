//! Consul's semantic checks of a built configuration (`builder.validate`), its start-up
//! warnings, and validation of config-file services and checks.

use super::Builder;
use crate::error::ConfigError;
use crate::file::{CheckDefinition, ServiceDefinition};
use crate::runtime::{ListenAddr, RuntimeConfig};
use std::collections::BTreeMap;
use std::net::SocketAddr;

const META_MAX_PAIRS: usize = 64;
const META_KEY_MAX: usize = 128;
const META_VALUE_MAX: usize = 512;
const DNS_LABEL_MAX: usize = 63;

const SCRIPTS_DISABLED: &str = "Scripts are disabled on this agent; to enable, configure \
    'enable_script_checks' or 'enable_local_script_checks' to true";

const REMOTE_SCRIPT_WARNING: &str = "using enable-script-checks without ACLs and without \
    allow_write_http_from is DANGEROUS, use enable-local-script-checks instead, see \
    https://www.hashicorp.com/blog/protecting-consul-from-rce-risk-in-specific-configurations/";

/// Consul's metadata rules (node meta, service meta): at most 64 pairs, keys of
/// `[A-Za-z0-9_-]` up to 128 characters not starting with `consul-`, values up to 512.
/// `what` is `Node` or `Service`.
pub(crate) fn validate_meta(meta: &BTreeMap<String, String>, what: &str) -> Result<(), String> {
    if meta.len() > META_MAX_PAIRS {
        return Err(format!(
            "{what} metadata cannot contain more than {META_MAX_PAIRS} key/value pairs"
        ));
    }
    for (key, value) in meta {
        let problem = if key.is_empty() {
            Some("Key cannot be blank".to_owned())
        } else if !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            Some("Key contains invalid characters".to_owned())
        } else if key.len() > META_KEY_MAX {
            Some(format!(
                "Key is too long (limit: {META_KEY_MAX} characters)"
            ))
        } else if key.starts_with("consul-") {
            Some("Key prefix 'consul-' is reserved for internal use".to_owned())
        } else if value.len() > META_VALUE_MAX {
            Some(format!(
                "Value is too long (limit: {META_VALUE_MAX} characters)"
            ))
        } else {
            None
        };
        if let Some(p) = problem {
            return Err(format!(
                "Couldn't load metadata pair ('{key}', '{value}'): {p}"
            ));
        }
    }
    Ok(())
}

/// Consul's `validateBasicName`: lower-case alphanumerics, `_` and `-`.
fn basic_name(field: &str, value: &str, allow_empty: bool) -> Result<(), String> {
    if value.is_empty() {
        return if allow_empty {
            Ok(())
        } else {
            Err(format!("{field} cannot be empty"))
        };
    }
    let ok = value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{field} can only contain lowercase alphanumeric, - or _ characters. received: {value:?}"
        ))
    }
}

impl Builder<'_> {
    /// Check the built configuration; may adjust `bootstrap`/`bootstrap_expect` as Consul does.
    pub(super) fn validate(&mut self, rt: &mut RuntimeConfig) -> Result<(), ConfigError> {
        if rt.raft_protocol != 3 {
            return Err(self.invalid(
                "raft_protocol",
                format!(
                    "raft_protocol version {} is not supported by this version of Cairn",
                    rt.raft_protocol
                ),
            ));
        }
        basic_name("datacenter", &rt.datacenter, false)
            .map_err(|m| self.invalid("datacenter", m))?;
        basic_name("primary_datacenter", &rt.primary_datacenter, true)
            .map_err(|m| self.invalid("primary_datacenter", m))?;
        if !rt.dev_mode {
            match &rt.data_dir {
                None => return Err(self.invalid("data_dir", "data_dir cannot be empty")),
                Some(dir) if dir.exists() && !dir.is_dir() => {
                    return Err(self.invalid(
                        "data_dir",
                        format!(
                            "data_dir {:?} is not a directory",
                            dir.display().to_string()
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        self.validate_node_name(&rt.node_name)?;
        if let Some(alt) = &rt.dns.alt_domain {
            let first = alt.split('.').next().unwrap_or_default();
            let reserved = ["service", "connect", "node", "query", "addr"];
            if reserved.contains(&first) || first == rt.datacenter {
                return Err(self.invalid(
                    "alt_domain",
                    format!(
                        "alt_domain cannot start with {{service,connect,node,query,addr,{}}}",
                        rt.datacenter
                    ),
                ));
            }
        }

        let expect = self.c.bootstrap_expect.unwrap_or(0);
        if rt.bootstrap && !rt.server {
            return Err(self.invalid("bootstrap", "'bootstrap = true' requires 'server = true'"));
        }
        if expect < 0 {
            return Err(self.invalid(
                "bootstrap_expect",
                format!(
                    "bootstrap_expect cannot be {expect}. Must be greater than or equal to zero"
                ),
            ));
        }
        if expect > 0 && !rt.server {
            return Err(self.invalid(
                "bootstrap_expect",
                "'bootstrap_expect > 0' requires 'server = true'",
            ));
        }
        if expect > 0 && rt.dev_mode {
            return Err(self.invalid(
                "bootstrap_expect",
                "'bootstrap_expect > 0' not allowed in dev mode",
            ));
        }
        if expect > 0 && rt.bootstrap {
            return Err(self.invalid(
                "bootstrap_expect",
                "'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive",
            ));
        }
        rt.bootstrap_expect = u32::try_from(expect).unwrap_or(u32::MAX);
        if rt.bootstrap_expect == 1 {
            rt.bootstrap = true;
            rt.bootstrap_expect = 0;
            self.warn("BootstrapExpect is set to 1; this is the same as Bootstrap mode.");
        }

        let output_max = self.c.check_output_max_size.unwrap_or(4096);
        if output_max < 1 {
            return Err(self.invalid(
                "check_output_max_size",
                "check_output_max_size must be positive, to discard check output use the discard_check_output flag",
            ));
        }
        rt.check_output_max_size = u32::try_from(output_max).unwrap_or(u32::MAX);
        if !rt.dev_mode && rt.ui.enabled && rt.ui.dir.is_some() {
            return Err(self.invalid(
                "ui_config.dir",
                "Both the ui_config.enabled and ui_config.dir (or -ui and -ui-dir) were specified, please provide only one.\n\
                 If trying to use your own web UI resources, use ui_config.dir or the -ui-dir flag.\n\
                 The web UI is included in the binary so use ui_config.enabled or the -ui flag to enable it",
            ));
        }
        validate_meta(&rt.node_meta, "Node")
            .map_err(|m| self.invalid("node_meta", format!("node_meta invalid: {m}")))?;
        if rt.server && self.c.advertise_reconnect_timeout.is_some() {
            return Err(self.invalid(
                "advertise_reconnect_timeout",
                "advertise_reconnect_timeout can only be used on a client",
            ));
        }
        self.check_address_collisions(rt)?;
        self.startup_warnings(rt);
        // Dev mode's single server elects itself, as Consul's dev server does.
        if rt.dev_mode {
            rt.bootstrap = true;
        }
        Ok(())
    }

    fn validate_node_name(&mut self, name: &str) -> Result<(), ConfigError> {
        if name.is_empty() {
            return Err(self.invalid("node_name", "node_name cannot be empty"));
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            self.warn(format!(
                "Node name {name:?} will not be discoverable via DNS due to invalid characters. \
                 Valid characters include all alpha-numerics and dashes."
            ));
        } else if name.len() > DNS_LABEL_MAX {
            self.warn(format!(
                "Node name {name:?} will not be discoverable via DNS due to it being too long. \
                 Valid lengths are between 1 and 63 bytes."
            ));
        }
        Ok(())
    }

    /// No two listeners on one TCP address (Consul's `addrsUnique`).
    fn check_address_collisions(&self, rt: &RuntimeConfig) -> Result<(), ConfigError> {
        let mut in_use: Vec<(SocketAddr, &str)> = Vec::new();
        let mut claim = |addr: SocketAddr, name: &'static str, key: &str| {
            if let Some((_, other)) = in_use.iter().find(|(a, _)| *a == addr) {
                return Err(self.invalid(
                    key,
                    format!("{name} address {addr} already configured for {other}"),
                ));
            }
            in_use.push((addr, name));
            Ok(())
        };
        for a in &rt.dns_addrs {
            claim(*a, "DNS", "ports.dns")?;
        }
        for (addrs, name, key) in [
            (&rt.http_addrs, "HTTP", "ports.http"),
            (&rt.https_addrs, "HTTPS", "ports.https"),
        ] {
            for a in addrs.iter() {
                if let ListenAddr::Tcp(sa) = a {
                    claim(*sa, name, key)?;
                }
            }
        }
        if let Some(ip) = rt.advertise_addr_lan {
            claim(
                SocketAddr::new(ip, rt.ports.server),
                "RPC Advertise",
                "ports.server",
            )?;
            claim(
                SocketAddr::new(ip, rt.ports.serf_lan),
                "Serf Advertise LAN",
                "ports.serf_lan",
            )?;
            if let Some(port) = rt.ports.serf_wan {
                let wan = rt.advertise_addr_wan.unwrap_or(ip);
                claim(
                    SocketAddr::new(wan, port),
                    "Serf Advertise WAN",
                    "ports.serf_wan",
                )?;
            }
        }
        Ok(())
    }

    fn startup_warnings(&mut self, rt: &RuntimeConfig) {
        let expect = rt.bootstrap_expect;
        if rt.server && !rt.dev_mode && !rt.bootstrap && expect == 2 {
            self.warn("bootstrap_expect = 2: A cluster with 2 servers will provide no failure tolerance. See https://www.consul.io/docs/internals/consensus.html#deployment-table");
        }
        if rt.server && !rt.bootstrap && expect > 2 && expect.is_multiple_of(2) {
            self.warn("bootstrap_expect is even number: A cluster with an even number of servers does not achieve optimum fault tolerance. See https://www.consul.io/docs/internals/consensus.html#deployment-table");
        }
        if rt.server && rt.bootstrap && expect == 0 && !rt.dev_mode {
            self.warn("bootstrap = true: do not enable unless necessary");
        }
        if rt.server && !rt.dev_mode && !rt.bootstrap && expect > 1 {
            self.warn(format!("bootstrap_expect > 0: expecting {expect} servers"));
        }
        if rt.enable_remote_script_checks
            && !rt.acl.enabled
            && rt.http.allow_write_http_from.is_empty()
        {
            self.warn(REMOTE_SCRIPT_WARNING);
        }
    }

    /// Config-file services, validated with Consul's rules.
    pub(super) fn services(
        &self,
        rt: &RuntimeConfig,
    ) -> Result<Vec<ServiceDefinition>, ConfigError> {
        let mut out = Vec::new();
        for def in &self.c.services {
            let reg = &def.registration;
            let fail = |message: String| ConfigError::Invalid {
                source_name: Some(def.source.clone()),
                key: "services".into(),
                message: format!("service {:?}: {message}", reg.name),
            };
            if reg.name.is_empty() {
                return Err(fail("missing service name".into()));
            }
            validate_meta(&reg.meta, "Service")
                .map_err(|m| fail(format!("invalid meta for service {}: {m}", reg.name)))?;
            if let Some(w) = reg.weights {
                if w.passing < 1 {
                    return Err(fail(format!(
                        "Invalid weight definition for service {}: Passing must be greater than 0",
                        reg.name
                    )));
                }
                if w.passing > 65535 || w.warning > 65535 {
                    return Err(fail(format!(
                        "Invalid weight definition for service {}: DNS Weight must be between 0 and 65535",
                        reg.name
                    )));
                }
            }
            let checks = reg.check_types().map_err(fail)?;
            for check in &checks {
                check.initial_status().map_err(fail)?;
                if check.is_script() && !rt.enable_local_script_checks {
                    return Err(fail(SCRIPTS_DISABLED.into()));
                }
            }
            out.push(def.clone());
        }
        Ok(out)
    }

    /// Config-file node and service checks, validated with Consul's rules.
    pub(super) fn checks(&self, rt: &RuntimeConfig) -> Result<Vec<CheckDefinition>, ConfigError> {
        let mut out = Vec::new();
        for def in &self.c.checks {
            let check = &def.check;
            let fail = |message: String| ConfigError::Invalid {
                source_name: Some(def.source.clone()),
                key: "checks".into(),
                message: format!("check {:?}: {message}", check.name),
            };
            check.validate().map_err(fail)?;
            check.initial_status().map_err(fail)?;
            if check.is_script() && !rt.enable_local_script_checks {
                return Err(fail(SCRIPTS_DISABLED.into()));
            }
            out.push(def.clone());
        }
        Ok(out)
    }
}
