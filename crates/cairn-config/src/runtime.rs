//! The resolved configuration the agent runs with: every default applied, every value checked.

use crate::file::{CheckDefinition, ServiceDefinition};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Where a client-facing listener (HTTP, HTTPS) listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListenAddr {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix socket path (`unix:///path` in the config).
    Unix(PathBuf),
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(a) => write!(f, "{a}"),
            ListenAddr::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

/// Agent log level (Consul accepts `trace debug info warn err error`, any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `trace`.
    Trace,
    /// `debug`.
    Debug,
    /// `info` (the default).
    Info,
    /// `warn`.
    Warn,
    /// `err` or `error`.
    Error,
}

impl LogLevel {
    /// Parse Consul's level names, case-insensitively.
    pub fn parse(text: &str) -> Option<LogLevel> {
        match text.to_ascii_lowercase().as_str() {
            "trace" => Some(LogLevel::Trace),
            "debug" => Some(LogLevel::Debug),
            "info" => Some(LogLevel::Info),
            "warn" | "warning" => Some(LogLevel::Warn),
            "err" | "error" => Some(LogLevel::Error),
            _ => None,
        }
    }

    /// The level as a `tracing` filter directive (`trace`, `debug`, `info`, `warn`, `error`).
    pub fn as_filter(&self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// Listener ports; `None` means the listener is off (`-1` or any value ≤ 0 in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimePorts {
    /// DNS (UDP+TCP), default 8600.
    pub dns: Option<u16>,
    /// HTTP API, default 8500.
    pub http: Option<u16>,
    /// HTTPS API, default off.
    pub https: Option<u16>,
    /// gRPC, default off (8502 in dev mode).
    pub grpc: Option<u16>,
    /// gRPC with TLS, default off.
    pub grpc_tls: Option<u16>,
    /// Serf LAN gossip (always on), default 8301.
    pub serf_lan: u16,
    /// Serf WAN gossip, default 8302; off on clients is fine.
    pub serf_wan: Option<u16>,
    /// Server RPC (always on), default 8300.
    pub server: u16,
}

/// The DNS interface's settings (`domain`, `recursors`, `dns_config`).
#[derive(Debug, Clone, PartialEq)]
pub struct DnsRuntime {
    /// Primary domain, with its trailing dot (`consul.`).
    pub domain: String,
    /// Alternative domain, with its trailing dot, if any.
    pub alt_domain: Option<String>,
    /// Upstream resolvers as given (`ip` or `ip:port`), de-duplicated.
    pub recursors: Vec<String>,
    /// Try recursors in a random order instead of in order.
    pub recursor_random: bool,
    /// Timeout of a recursive query.
    pub recursor_timeout: Duration,
    /// Serve stale reads from any server.
    pub allow_stale: bool,
    /// Longest staleness accepted before asking the leader.
    pub max_stale: Duration,
    /// TTL of node records.
    pub node_ttl: Duration,
    /// TTL of service records by exact name, `prefix*` or `*`.
    pub service_ttl: BTreeMap<String, Duration>,
    /// Records per non-EDNS UDP answer.
    pub udp_answer_limit: u32,
    /// A/AAAA records per answer (0 = unlimited).
    pub a_record_limit: u32,
    /// Leave out instances with warning checks too.
    pub only_passing: bool,
    /// Set TC when an answer was cut.
    pub enable_truncate: bool,
    /// Turn off name compression.
    pub disable_compression: bool,
    /// Add node-meta TXT records in the additional section.
    pub node_meta_txt: bool,
    /// SOA refresh, retry, expire and minimum TTL, in seconds.
    pub soa: SoaRuntime,
    /// Use the agent cache.
    pub use_cache: bool,
    /// Longest age of a cached answer.
    pub cache_max_age: Duration,
}

/// SOA record values, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoaRuntime {
    /// Refresh (3600).
    pub refresh: u32,
    /// Retry (600).
    pub retry: u32,
    /// Expire (86400).
    pub expire: u32,
    /// Minimum TTL (0).
    pub min_ttl: u32,
}

/// Raft timing after the `performance.raft_multiplier` scaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaftTiming {
    /// The multiplier (1–10).
    pub multiplier: u32,
    /// Election timeout.
    pub election_timeout: Duration,
    /// Heartbeat timeout.
    pub heartbeat_timeout: Duration,
    /// Leader lease timeout.
    pub leader_lease_timeout: Duration,
    /// Log entries between snapshots.
    pub snapshot_threshold: u64,
    /// How often to check whether to snapshot.
    pub snapshot_interval: Duration,
    /// Log entries kept after a snapshot.
    pub trailing_logs: u64,
}

/// Memberlist tuning of one gossip pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GossipTiming {
    /// Peers per gossip round.
    pub gossip_nodes: u32,
    /// Time between gossip rounds.
    pub gossip_interval: Duration,
    /// Time between probes.
    pub probe_interval: Duration,
    /// Time to wait for an ack.
    pub probe_timeout: Duration,
    /// Suspicion multiplier.
    pub suspicion_mult: u32,
    /// Retransmit multiplier.
    pub retransmit_mult: u32,
}

/// Joining and leaving the gossip pools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRuntime {
    /// LAN join addresses (`retry_join`, `start_join`, `-join`, `-retry-join`), in order.
    pub retry_join: Vec<String>,
    /// WAN join addresses.
    pub retry_join_wan: Vec<String>,
    /// Time between LAN join attempts.
    pub retry_interval: Duration,
    /// Time between WAN join attempts.
    pub retry_interval_wan: Duration,
    /// LAN join attempts (0 = forever).
    pub retry_max: u32,
    /// WAN join attempts (0 = forever).
    pub retry_max_wan: u32,
    /// Ignore a previous leave and rejoin.
    pub rejoin_after_leave: bool,
    /// Leave on SIGTERM.
    pub leave_on_terminate: bool,
    /// Skip leaving on SIGINT.
    pub skip_leave_on_interrupt: bool,
    /// Time before a failed LAN member is reaped.
    pub reconnect_timeout: Duration,
    /// Time before a failed WAN member is reaped.
    pub reconnect_timeout_wan: Duration,
    /// Networks allowed to gossip on the LAN (CIDRs, empty = any).
    pub serf_lan_allowed_cidrs: Vec<String>,
    /// Networks allowed to gossip on the WAN.
    pub serf_wan_allowed_cidrs: Vec<String>,
}

/// Gossip encryption settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptRuntime {
    /// The key as configured (base64), if any.
    pub key: Option<String>,
    /// The decoded key (16, 24 or 32 bytes), if any.
    pub key_bytes: Option<Vec<u8>>,
    /// Require incoming gossip to be encrypted.
    pub verify_incoming: bool,
    /// Encrypt outgoing gossip.
    pub verify_outgoing: bool,
    /// Don't keep the keyring in the data dir.
    pub disable_keyring_file: bool,
}

/// HTTP API settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRuntime {
    /// Headers added to every response.
    pub response_headers: BTreeMap<String, String>,
    /// Endpoint prefixes refused with 403.
    pub block_endpoints: Vec<String>,
    /// Networks allowed to call write endpoints (empty = any).
    pub allow_write_http_from: Vec<String>,
    /// Concurrent connections per client IP (0 = unlimited).
    pub max_conns_per_client: u32,
    /// HTTPS handshake timeout.
    pub https_handshake_timeout: Duration,
    /// Allow `?cached`.
    pub use_cache: bool,
    /// Largest request header block (0 = library default).
    pub max_header_bytes: u32,
}

/// Request-size and rate limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitsRuntime {
    /// Largest KV value in bytes.
    pub kv_max_value_size: u64,
    /// Largest transaction request body in bytes.
    pub txn_max_req_len: u64,
    /// RPC requests per second (`None` = unlimited).
    pub rpc_rate: Option<f64>,
    /// RPC burst size.
    pub rpc_max_burst: u32,
    /// Concurrent RPC connections per client IP.
    pub rpc_max_conns_per_client: u32,
    /// RPC handshake timeout.
    pub rpc_handshake_timeout: Duration,
    /// RPC client timeout.
    pub rpc_client_timeout: Duration,
    /// How long RPCs wait for a leader before failing.
    pub rpc_hold_timeout: Duration,
}

/// Autopilot settings (`autopilot { … }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutopilotRuntime {
    /// Remove dead servers automatically.
    pub cleanup_dead_servers: bool,
    /// Longest time since leader contact for a healthy server.
    pub last_contact_threshold: Duration,
    /// Most log entries a healthy server may trail by.
    pub max_trailing_logs: u64,
    /// Fewest voters dead-server cleanup leaves.
    pub min_quorum: u64,
    /// How long a server must be dead (or healthy, when new) before autopilot acts on it.
    pub server_stabilization_time: Duration,
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRuntime {
    /// Level.
    pub level: LogLevel,
    /// JSON output.
    pub json: bool,
    /// Log file path, if any.
    pub file: Option<PathBuf>,
    /// Rotate the file at this size (0 = never).
    pub rotate_bytes: u64,
    /// Rotate the file this often.
    pub rotate_duration: Duration,
    /// Rotated files kept (0 = all, -1 = none).
    pub rotate_max_files: i64,
    /// Also log to syslog.
    pub syslog: bool,
    /// Syslog facility.
    pub syslog_facility: String,
}

/// Web UI settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiRuntime {
    /// Serve the built-in UI.
    pub enabled: bool,
    /// Serve the UI from this directory instead.
    pub dir: Option<PathBuf>,
    /// URL path, with leading and trailing slash (`/ui/`).
    pub content_path: String,
}

/// ACL settings, kept for the ACL subsystem (not enforced by this crate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclRuntime {
    /// ACLs on.
    pub enabled: bool,
    /// `allow` or `deny`.
    pub default_policy: String,
    /// `extend-cache`, `async-cache`, `allow` or `deny`.
    pub down_policy: String,
    /// Policy cache TTL.
    pub policy_ttl: Duration,
    /// Role cache TTL.
    pub role_ttl: Duration,
    /// Token cache TTL.
    pub token_ttl: Duration,
    /// Persist API-set tokens.
    pub enable_token_persistence: bool,
    /// Replicate tokens from the primary datacenter.
    pub enable_token_replication: bool,
    /// Require `list` for recursive KV reads.
    pub enable_key_list_policy: bool,
    /// Bootstrap management token.
    pub initial_management_token: Option<String>,
    /// Agent recovery token.
    pub agent_recovery_token: Option<String>,
    /// Default token.
    pub default_token: Option<String>,
    /// Agent token.
    pub agent_token: Option<String>,
    /// Replication token.
    pub replication_token: Option<String>,
    /// Token for config-file registrations.
    pub config_file_registration_token: Option<String>,
}

/// The fully resolved agent configuration.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RuntimeConfig {
    /// `-dev`: in-memory server, no data dir needed.
    pub dev_mode: bool,
    /// Node name (default: the host name).
    pub node_name: String,
    /// Node ID if configured; otherwise the agent generates one and persists it.
    pub node_id: Option<String>,
    /// Node metadata.
    pub node_meta: BTreeMap<String, String>,
    /// Use a random node ID rather than one derived from the host.
    pub disable_host_node_id: bool,
    /// Datacenter, lower-case (default `dc1`).
    pub datacenter: String,
    /// Primary datacenter (default: `datacenter`).
    pub primary_datacenter: String,
    /// Data directory (`None` only in dev mode).
    pub data_dir: Option<PathBuf>,
    /// PID file to write.
    pub pid_file: Option<PathBuf>,

    /// Server mode.
    pub server: bool,
    /// This server may elect itself (`-bootstrap`, `bootstrap_expect = 1`, or dev mode).
    pub bootstrap: bool,
    /// Servers to wait for before bootstrapping (0 = not expecting).
    pub bootstrap_expect: u32,

    /// Address cluster traffic binds to (default `0.0.0.0`).
    pub bind_addr: IpAddr,
    /// LAN advertise address; `None` when `bind_addr` is unspecified and none was given, in
    /// which case the agent picks the host's private IPv4 (as Consul does).
    pub advertise_addr_lan: Option<IpAddr>,
    /// WAN advertise address; `None` means the LAN advertise address.
    pub advertise_addr_wan: Option<IpAddr>,
    /// Serf LAN bind address (default `bind_addr`).
    pub serf_bind_addr_lan: IpAddr,
    /// Serf WAN bind address (default `bind_addr`).
    pub serf_bind_addr_wan: IpAddr,
    /// Client listener addresses (default `127.0.0.1`).
    pub client_addrs: Vec<IpAddr>,
    /// Ports.
    pub ports: RuntimePorts,
    /// DNS listeners (UDP and TCP on each).
    pub dns_addrs: Vec<SocketAddr>,
    /// HTTP listeners.
    pub http_addrs: Vec<ListenAddr>,
    /// HTTPS listeners.
    pub https_addrs: Vec<ListenAddr>,
    /// gRPC listeners.
    pub grpc_addrs: Vec<SocketAddr>,
    /// Extra tagged addresses of the node, as configured.
    pub tagged_addresses: BTreeMap<String, String>,

    /// DNS interface.
    pub dns: DnsRuntime,
    /// HTTP API.
    pub http: HttpRuntime,
    /// Limits.
    pub limits: LimitsRuntime,
    /// Default blocking-query wait.
    pub default_query_time: Duration,
    /// Longest blocking-query wait.
    pub max_query_time: Duration,
    /// Shortest session TTL accepted.
    pub session_ttl_min: Duration,
    /// Raft timing.
    pub raft: RaftTiming,
    /// Autopilot.
    pub autopilot: AutopilotRuntime,
    /// Raft protocol version (3).
    pub raft_protocol: u32,
    /// RPC protocol version (2).
    pub rpc_protocol: u32,
    /// Time spent draining on leave.
    pub leave_drain_time: Duration,
    /// LAN gossip tuning.
    pub gossip_lan: GossipTiming,
    /// WAN gossip tuning.
    pub gossip_wan: GossipTiming,
    /// Joining and leaving.
    pub join: JoinRuntime,
    /// Gossip encryption.
    pub encrypt: EncryptRuntime,

    /// Script checks allowed from any source (API included).
    pub enable_remote_script_checks: bool,
    /// Script checks allowed from config files.
    pub enable_local_script_checks: bool,
    /// Largest check output kept.
    pub check_output_max_size: u32,
    /// How often output-only check changes are synced.
    pub check_update_interval: Duration,
    /// Drop check output.
    pub discard_check_output: bool,
    /// Services from config files, validated, in load order.
    pub services: Vec<ServiceDefinition>,
    /// Node and service checks from config files, validated, in load order.
    pub checks: Vec<CheckDefinition>,

    /// Logging.
    pub log: LogRuntime,
    /// Web UI.
    pub ui: UiRuntime,
    /// ACLs.
    pub acl: AclRuntime,

    /// Refuse remote exec.
    pub disable_remote_exec: bool,
    /// Don't check for updates.
    pub disable_update_check: bool,
    /// Turn off network coordinates.
    pub disable_coordinates: bool,
    /// Debug endpoints.
    pub enable_debug: bool,
    /// Reload config files when they change.
    pub auto_reload_config: bool,
    /// Watch definitions, raw.
    pub watches: Vec<Value>,
}
