//! The config file model: what one JSON or HCL file (or the command line) may set.
//!
//! Every field is optional; [`crate::load_from_sources`] merges sources with Consul's rules
//! and then builds a [`crate::RuntimeConfig`] with defaults and validation.

mod definitions;
mod sections;

pub use definitions::{CheckDefinition, ServiceDefinition};
pub use sections::{
    Acl, AclTokens, Addresses, Autopilot, DnsConfig, Gossip, HttpConfig, Limits, Performance,
    Ports, RequestLimits, Rpc, Soa, UiConfig, UnixSockets,
};

use crate::decode::{section, Cx, FromValue, Ignored, Merge};
use crate::error::{ConfigError, Warning};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The syntax of a config source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON.
    Json,
    /// HCL (version 1, as Consul reads it).
    Hcl,
}

impl Format {
    /// `json` or `hcl` (Consul's `-config-format` values).
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "json" => Some(Format::Json),
            "hcl" => Some(Format::Hcl),
            _ => None,
        }
    }

    /// The format a file name implies: `.json` or `.hcl`.
    pub fn from_path(path: &str) -> Option<Format> {
        if path.ends_with(".json") {
            Some(Format::Json)
        } else if path.ends_with(".hcl") {
            Some(Format::Hcl)
        } else {
            None
        }
    }
}

section! {
    /// One config source: a file, the command-line flags, or a `-hcl` fragment.
    pub struct ConfigFile {
        /// `acl { … }`.
        acl: Acl = "acl",
        /// `addresses { … }`.
        addresses: Addresses = "addresses",
        /// LAN advertise address (`-advertise`).
        advertise_addr: Option<String> = "advertise_addr",
        /// LAN advertise IPv4 address.
        advertise_addr_ipv4: Option<String> = "advertise_addr_ipv4",
        /// LAN advertise IPv6 address.
        advertise_addr_ipv6: Option<String> = "advertise_addr_ipv6",
        /// WAN advertise address (`-advertise-wan`).
        advertise_addr_wan: Option<String> = "advertise_addr_wan",
        /// WAN advertise IPv4 address.
        advertise_addr_wan_ipv4: Option<String> = "advertise_addr_wan_ipv4",
        /// WAN advertise IPv6 address.
        advertise_addr_wan_ipv6: Option<String> = "advertise_addr_wan_ipv6",
        /// Reconnect timeout a client advertises to others.
        advertise_reconnect_timeout: Option<Duration> = "advertise_reconnect_timeout",
        /// Alternative DNS domain (`-alt-domain`).
        alt_domain: Option<String> = "alt_domain",
        /// Reload config files when they change.
        auto_reload_config: Option<bool> = "auto_reload_config",
        /// `autopilot { … }`.
        autopilot: Autopilot = "autopilot",
        /// Address for cluster communication (`-bind`).
        bind_addr: Option<String> = "bind_addr",
        /// Let this server elect itself (`-bootstrap`).
        bootstrap: Option<bool> = "bootstrap",
        /// Servers to wait for before bootstrapping (`-bootstrap-expect`).
        bootstrap_expect: Option<i64> = "bootstrap_expect",
        /// A single check (added to `checks`).
        check: Vec<CheckDefinition> = "check",
        /// Largest check output kept, in bytes (default 4096).
        check_output_max_size: Option<i64> = "check_output_max_size",
        /// How often output-only check changes are synced (default 5m).
        check_update_interval: Option<Duration> = "check_update_interval",
        /// Checks.
        checks: Vec<CheckDefinition> = "checks",
        /// Client listener addresses (`-client`), space separated.
        client_addr: Option<String> = "client_addr",
        /// Service-mesh settings; not supported.
        connect: Ignored = "connect",
        /// Data directory (`-data-dir`).
        data_dir: Option<String> = "data_dir",
        /// Datacenter (`-datacenter`).
        datacenter: Option<String> = "datacenter",
        /// Default blocking-query wait (`-default-query-time`).
        default_query_time: Option<Duration> = "default_query_time",
        /// Don't send anonymous data with update checks.
        disable_anonymous_signature: Option<bool> = "disable_anonymous_signature",
        /// Turn off network coordinates.
        disable_coordinates: Option<bool> = "disable_coordinates",
        /// Generate a random node ID instead of one from host data (`-disable-host-node-id`).
        disable_host_node_id: Option<bool> = "disable_host_node_id",
        /// Accept unprintable characters in HTTP paths.
        disable_http_unprintable_char_filter: Option<bool> = "disable_http_unprintable_char_filter",
        /// Don't keep the keyring in the data dir (`-disable-keyring-file`).
        disable_keyring_file: Option<bool> = "disable_keyring_file",
        /// Refuse remote exec (default true).
        disable_remote_exec: Option<bool> = "disable_remote_exec",
        /// Don't check for updates.
        disable_update_check: Option<bool> = "disable_update_check",
        /// Drop check output.
        discard_check_output: Option<bool> = "discard_check_output",
        /// Staleness allowed for discovery reads.
        discovery_max_stale: Option<Duration> = "discovery_max_stale",
        /// `dns_config { … }`.
        dns_config: DnsConfig = "dns_config",
        /// DNS domain (`-domain`), default `consul.`.
        domain: Option<String> = "domain",
        /// Use the agent's TLS settings for HTTP/gRPC checks.
        enable_agent_tls_for_checks: Option<bool> = "enable_agent_tls_for_checks",
        /// Central service config (not used by Cairn).
        enable_central_service_config: Option<bool> = "enable_central_service_config",
        /// Debug endpoints.
        enable_debug: Option<bool> = "enable_debug",
        /// Allow script checks from any source (`-enable-script-checks`).
        enable_script_checks: Option<bool> = "enable_script_checks",
        /// Allow script checks from config files (`-enable-local-script-checks`).
        enable_local_script_checks: Option<bool> = "enable_local_script_checks",
        /// Log to syslog (`-syslog`).
        enable_syslog: Option<bool> = "enable_syslog",
        /// Gossip encryption key, base64 (`-encrypt`).
        encrypt: Option<String> = "encrypt",
        /// Require incoming gossip to be encrypted (default true).
        encrypt_verify_incoming: Option<bool> = "encrypt_verify_incoming",
        /// Encrypt outgoing gossip (default true).
        encrypt_verify_outgoing: Option<bool> = "encrypt_verify_outgoing",
        /// `gossip_lan { … }`.
        gossip_lan: Gossip = "gossip_lan",
        /// `gossip_wan { … }`.
        gossip_wan: Gossip = "gossip_wan",
        /// `http_config { … }`.
        http_config: HttpConfig = "http_config",
        /// Leave the cluster on SIGTERM (default: clients yes, servers no).
        leave_on_terminate: Option<bool> = "leave_on_terminate",
        /// `limits { … }`.
        limits: Limits = "limits",
        /// Log file path (`-log-file`).
        log_file: Option<String> = "log_file",
        /// Log as JSON (`-log-json`).
        log_json: Option<bool> = "log_json",
        /// Log level (`-log-level`).
        log_level: Option<String> = "log_level",
        /// Rotate the log file at this size (`-log-rotate-bytes`).
        log_rotate_bytes: Option<i64> = "log_rotate_bytes",
        /// Rotate the log file this often (`-log-rotate-duration`).
        log_rotate_duration: Option<Duration> = "log_rotate_duration",
        /// Rotated log files kept (`-log-rotate-max-files`).
        log_rotate_max_files: Option<i64> = "log_rotate_max_files",
        /// Per-subsystem log levels.
        log_sublevels: BTreeMap<String, String> = "log_sublevels",
        /// Maximum blocking-query wait (`-max-query-time`).
        max_query_time: Option<Duration> = "max_query_time",
        /// Node ID, a UUID (`-node-id`).
        node_id: Option<String> = "node_id",
        /// Node metadata (`-node-meta`).
        node_meta: BTreeMap<String, String> = "node_meta",
        /// Node name (`-node`).
        node_name: Option<String> = "node_name",
        /// `performance { … }`.
        performance: Performance = "performance",
        /// PID file (`-pid-file`).
        pid_file: Option<String> = "pid_file",
        /// `ports { … }`.
        ports: Ports = "ports",
        /// Primary datacenter for ACLs and federation.
        primary_datacenter: Option<String> = "primary_datacenter",
        /// Mesh gateways of the primary datacenter; not supported.
        primary_gateways: Ignored = "primary_gateways",
        /// Retry interval for `primary_gateways`; not supported.
        primary_gateways_interval: Ignored = "primary_gateways_interval",
        /// RPC protocol version (`-protocol`).
        protocol: Option<i64> = "protocol",
        /// Raft protocol version (`-raft-protocol`), only 3.
        raft_protocol: Option<i64> = "raft_protocol",
        /// How often to check whether to snapshot.
        raft_snapshot_interval: Option<Duration> = "raft_snapshot_interval",
        /// Log entries between snapshots.
        raft_snapshot_threshold: Option<i64> = "raft_snapshot_threshold",
        /// Log entries kept after a snapshot.
        raft_trailing_logs: Option<i64> = "raft_trailing_logs",
        /// Raft log store backend settings; not supported.
        raft_logstore: Ignored = "raft_logstore",
        /// Time before a failed LAN member is reaped.
        reconnect_timeout: Option<Duration> = "reconnect_timeout",
        /// Time before a failed WAN member is reaped.
        reconnect_timeout_wan: Option<Duration> = "reconnect_timeout_wan",
        /// Upstream DNS servers (`-recursor`).
        recursors: Vec<String> = "recursors",
        /// Rejoin after a previous leave (`-rejoin`).
        rejoin_after_leave: Option<bool> = "rejoin_after_leave",
        /// Time between LAN join attempts (`-retry-interval`).
        retry_interval: Option<Duration> = "retry_interval",
        /// Time between WAN join attempts (`-retry-interval-wan`).
        retry_interval_wan: Option<Duration> = "retry_interval_wan",
        /// LAN join addresses (`-retry-join`).
        retry_join: Vec<String> = "retry_join",
        /// WAN join addresses (`-retry-join-wan`).
        retry_join_wan: Vec<String> = "retry_join_wan",
        /// LAN join attempts, 0 = forever (`-retry-max`).
        retry_max: Option<i64> = "retry_max",
        /// WAN join attempts, 0 = forever (`-retry-max-wan`).
        retry_max_wan: Option<i64> = "retry_max_wan",
        /// `rpc { … }`.
        rpc: Rpc = "rpc",
        /// Serf LAN bind address (`-serf-lan-bind`).
        serf_lan: Option<String> = "serf_lan",
        /// Networks allowed to gossip on the LAN (`-serf-lan-allowed-cidrs`).
        serf_lan_allowed_cidrs: Vec<String> = "serf_lan_allowed_cidrs",
        /// Serf WAN bind address (`-serf-wan-bind`).
        serf_wan: Option<String> = "serf_wan",
        /// Networks allowed to gossip on the WAN (`-serf-wan-allowed-cidrs`).
        serf_wan_allowed_cidrs: Vec<String> = "serf_wan_allowed_cidrs",
        /// Server mode (`-server`).
        server: Option<bool> = "server",
        /// Server name for TLS verification.
        server_name: Option<String> = "server_name",
        /// Longest time since a server was last seen for it to rejoin (default 168h).
        server_rejoin_age_max: Option<Duration> = "server_rejoin_age_max",
        /// A single service (added to `services`).
        service: Vec<ServiceDefinition> = "service",
        /// Services.
        services: Vec<ServiceDefinition> = "services",
        /// Shortest session TTL accepted (default 10s).
        session_ttl_min: Option<Duration> = "session_ttl_min",
        /// Skip the graceful leave on SIGINT (default: servers yes, clients no).
        skip_leave_on_interrupt: Option<bool> = "skip_leave_on_interrupt",
        /// Deprecated: appended to `retry_join`.
        start_join: Vec<String> = "start_join",
        /// Deprecated: appended to `retry_join_wan`.
        start_join_wan: Vec<String> = "start_join_wan",
        /// Syslog facility (default LOCAL0).
        syslog_facility: Option<String> = "syslog_facility",
        /// Extra tagged addresses of the node.
        tagged_addresses: BTreeMap<String, String> = "tagged_addresses",
        /// Metrics sinks; not supported.
        telemetry: Ignored = "telemetry",
        /// TLS settings; not supported yet.
        tls: Ignored = "tls",
        /// Prefer WAN addresses for other datacenters.
        translate_wan_addrs: Option<bool> = "translate_wan_addrs",
        /// Deprecated: `ui_config.enabled`.
        ui: Option<bool> = "ui",
        /// `ui_config { … }`.
        ui_config: UiConfig = "ui_config",
        /// Deprecated: `ui_config.content_path`.
        ui_content_path: Option<String> = "ui_content_path",
        /// Deprecated: `ui_config.dir`.
        ui_dir: Option<String> = "ui_dir",
        /// `unix_sockets { … }`.
        unix_sockets: UnixSockets = "unix_sockets",
        /// Use the streaming backend for blocking health queries.
        use_streaming_backend: Option<bool> = "use_streaming_backend",
        /// Watch definitions, kept raw.
        watches: Vec<Value> = "watches",

        /// Deprecated: `primary_datacenter` (and turns ACLs on).
        acl_datacenter: Option<String> = "acl_datacenter",
        /// Deprecated: `acl.default_policy`.
        acl_default_policy: Option<String> = "acl_default_policy",
        /// Deprecated: `acl.down_policy`.
        acl_down_policy: Option<String> = "acl_down_policy",
        /// Deprecated: `acl.token_ttl`.
        acl_ttl: Option<Duration> = "acl_ttl",
        /// Deprecated: `acl.tokens.initial_management`.
        acl_master_token: Option<String> = "acl_master_token",
        /// Deprecated: `acl.tokens.agent`.
        acl_agent_token: Option<String> = "acl_agent_token",
        /// Deprecated: `acl.tokens.agent_recovery`.
        acl_agent_master_token: Option<String> = "acl_agent_master_token",
        /// Deprecated: `acl.tokens.default`.
        acl_token: Option<String> = "acl_token",

        /// Enterprise, cloud and mesh features Cairn does not have; accepted and ignored.
        audit: Ignored = "audit",
        /// Ignored (see `audit`).
        auto_config: Ignored = "auto_config",
        /// Ignored (see `audit`).
        auto_encrypt: Ignored = "auto_encrypt",
        /// Ignored (see `audit`).
        cache: Ignored = "cache",
        /// Ignored (see `audit`).
        cloud: Ignored = "cloud",
        /// Ignored (see `audit`).
        config_entries: Ignored = "config_entries",
        /// Ignored (see `audit`).
        experiments: Ignored = "experiments",
        /// Ignored (see `audit`).
        license_path: Ignored = "license_path",
        /// Ignored (see `audit`).
        locality: Ignored = "locality",
        /// Ignored (see `audit`).
        partition: Ignored = "partition",
        /// Ignored (see `audit`).
        peering: Ignored = "peering",
        /// Ignored (see `audit`).
        read_replica: Ignored = "read_replica",
        /// Ignored (see `audit`).
        non_voting_server: Ignored = "non_voting_server",
        /// Ignored (see `audit`).
        reporting: Ignored = "reporting",
        /// Ignored (see `audit`).
        segment: Ignored = "segment",
        /// Ignored (see `audit`).
        segments: Ignored = "segments",
        /// Ignored (see `audit`).
        snapshot_agent: Ignored = "snapshot_agent",
        /// Ignored (see `audit`).
        xds: Ignored = "xds",
        /// Deprecated TLS keys (now under `tls`); ignored.
        ca_file: Ignored = "ca_file",
        /// Ignored (see `ca_file`).
        ca_path: Ignored = "ca_path",
        /// Ignored (see `ca_file`).
        cert_file: Ignored = "cert_file",
        /// Ignored (see `ca_file`).
        key_file: Ignored = "key_file",
        /// Ignored (see `ca_file`).
        verify_incoming: Ignored = "verify_incoming",
        /// Ignored (see `ca_file`).
        verify_outgoing: Ignored = "verify_outgoing",
        /// Ignored (see `ca_file`).
        verify_server_hostname: Ignored = "verify_server_hostname",
    }
}

/// A decoded source together with where each of its values came from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layer {
    pub config: ConfigFile,
    /// Dotted key → source name, for every key the source set.
    pub origins: BTreeMap<String, String>,
}

impl Layer {
    /// Merge a later layer over this one.
    pub fn merge(&mut self, later: Layer) {
        self.config.merge(later.config);
        self.origins.extend(later.origins);
    }
}

impl ConfigFile {
    /// Decode config text. `source` names the file in messages. Unknown keys produce warnings;
    /// a syntax error or a value of the wrong type is an error naming `source` and the key.
    pub fn parse(
        text: &str,
        format: Format,
        source: &str,
    ) -> Result<(ConfigFile, Vec<Warning>), ConfigError> {
        let mut warnings = Vec::new();
        let layer = parse_layer(text, format, source, &mut warnings)?;
        Ok((layer.config, warnings))
    }
}

/// Decode a source into a layer, folding per-source shapes as Consul does: `service` and
/// `check` join `services` and `checks`, deprecated keys move to their successors.
pub(crate) fn parse_layer(
    text: &str,
    format: Format,
    source: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Layer, ConfigError> {
    let value: Value = match format {
        Format::Json => {
            serde_json::from_str(text).map_err(|e| ConfigError::parse(source, "", e.to_string()))?
        }
        Format::Hcl => crate::hcl1::parse(text).map_err(|e| ConfigError::parse(source, "", e))?,
    };
    if !value.is_object() {
        return Err(ConfigError::parse(
            source,
            "",
            "the top level must be an object",
        ));
    }
    decode_layer(&value, source, warnings)
}

/// Decode an already parsed source value into a layer.
pub(crate) fn decode_layer(
    value: &Value,
    source: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Layer, ConfigError> {
    let mut origins = BTreeMap::new();
    let mut config = {
        let mut cx = Cx {
            source,
            warnings,
            origins: &mut origins,
        };
        ConfigFile::from_value(value, "", &mut cx)?
    };
    apply_deprecated(&mut config, warnings);
    Ok(Layer { config, origins })
}

fn deprecation(warnings: &mut Vec<Warning>, old: &str, new: &str) {
    warnings.push(Warning(format!(
        "The '{old}' field is deprecated. Use the '{new}' field instead."
    )));
}

/// Move single and deprecated keys to where they belong (Consul's `applyDeprecatedConfig`
/// and the `check`/`service` folding of its builder).
fn apply_deprecated(c: &mut ConfigFile, warnings: &mut Vec<Warning>) {
    let checks = std::mem::take(&mut c.check);
    c.checks.extend(checks);
    let services = std::mem::take(&mut c.service);
    c.services.extend(services);

    if !c.start_join.is_empty() {
        let joins = std::mem::take(&mut c.start_join);
        c.retry_join.extend(joins);
        deprecation(warnings, "start_join", "retry_join");
    }
    if !c.start_join_wan.is_empty() {
        let joins = std::mem::take(&mut c.start_join_wan);
        c.retry_join_wan.extend(joins);
        deprecation(warnings, "start_join_wan", "retry_join_wan");
    }
    let tokens = &mut c.acl.tokens;
    if let Some(old) = tokens.master.take() {
        tokens.initial_management.get_or_insert(old);
        deprecation(
            warnings,
            "acl.tokens.master",
            "acl.tokens.initial_management",
        );
    }
    if let Some(old) = tokens.agent_master.take() {
        tokens.agent_recovery.get_or_insert(old);
        deprecation(
            warnings,
            "acl.tokens.agent_master",
            "acl.tokens.agent_recovery",
        );
    }
    if let Some(old) = c.acl_master_token.take() {
        c.acl.tokens.initial_management.get_or_insert(old);
        deprecation(
            warnings,
            "acl_master_token",
            "acl.tokens.initial_management",
        );
    }
    if let Some(old) = c.acl_agent_master_token.take() {
        c.acl.tokens.agent_recovery.get_or_insert(old);
        deprecation(
            warnings,
            "acl_agent_master_token",
            "acl.tokens.agent_recovery",
        );
    }
    if let Some(old) = c.acl_agent_token.take() {
        c.acl.tokens.agent.get_or_insert(old);
        deprecation(warnings, "acl_agent_token", "acl.tokens.agent");
    }
    if let Some(old) = c.acl_token.take() {
        c.acl.tokens.default.get_or_insert(old);
        deprecation(warnings, "acl_token", "acl.tokens.default");
    }
    if let Some(old) = c.acl_datacenter.take() {
        c.primary_datacenter.get_or_insert(old);
        c.acl.enabled = Some(true);
        deprecation(warnings, "acl_datacenter", "primary_datacenter");
    }
    if let Some(old) = c.acl_default_policy.take() {
        c.acl.default_policy.get_or_insert(old);
        deprecation(warnings, "acl_default_policy", "acl.default_policy");
    }
    if let Some(old) = c.acl_down_policy.take() {
        c.acl.down_policy.get_or_insert(old);
        deprecation(warnings, "acl_down_policy", "acl.down_policy");
    }
    if let Some(old) = c.acl_ttl.take() {
        c.acl.token_ttl.get_or_insert(old);
        deprecation(warnings, "acl_ttl", "acl.token_ttl");
    }
}
