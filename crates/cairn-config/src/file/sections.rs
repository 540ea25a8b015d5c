//! Nested blocks of a config file (`ports`, `addresses`, `dns_config`, `limits`, `acl`, …).
//!
//! Field keys and meanings follow Consul's `agent/config/config.go`; every field is optional so
//! that sources can be merged, and defaults are applied when the runtime config is built.

use crate::decode::{section, Ignored};
use std::collections::BTreeMap;
use std::time::Duration;

section! {
    /// `ports { … }`: listener ports; `-1` (or any value ≤ 0) turns a listener off.
    pub struct Ports {
        /// DNS (UDP and TCP), default 8600.
        dns: Option<i64> = "dns",
        /// HTTP API, default 8500.
        http: Option<i64> = "http",
        /// HTTPS API, default off.
        https: Option<i64> = "https",
        /// Serf LAN gossip, default 8301.
        serf_lan: Option<i64> = "serf_lan",
        /// Serf WAN gossip, default 8302.
        serf_wan: Option<i64> = "serf_wan",
        /// Server RPC, default 8300.
        server: Option<i64> = "server",
        /// gRPC (plaintext), default off (8502 in dev mode).
        grpc: Option<i64> = "grpc",
        /// gRPC with TLS, default off.
        grpc_tls: Option<i64> = "grpc_tls",
        /// Connect proxy port range start (not used by Cairn).
        proxy_min_port: Option<i64> = "proxy_min_port",
        /// Connect proxy port range end (not used by Cairn).
        proxy_max_port: Option<i64> = "proxy_max_port",
        /// Sidecar port range start (not used by Cairn).
        sidecar_min_port: Option<i64> = "sidecar_min_port",
        /// Sidecar port range end (not used by Cairn).
        sidecar_max_port: Option<i64> = "sidecar_max_port",
        /// Expose port range start (not used by Cairn).
        expose_min_port: Option<i64> = "expose_min_port",
        /// Expose port range end (not used by Cairn).
        expose_max_port: Option<i64> = "expose_max_port",
    }
}

section! {
    /// `addresses { … }`: per-protocol listen addresses overriding `client_addr`
    /// (space-separated lists; `unix:///path` for HTTP/HTTPS).
    pub struct Addresses {
        /// DNS listen addresses.
        dns: Option<String> = "dns",
        /// HTTP listen addresses.
        http: Option<String> = "http",
        /// HTTPS listen addresses.
        https: Option<String> = "https",
        /// gRPC listen addresses.
        grpc: Option<String> = "grpc",
        /// gRPC TLS listen addresses.
        grpc_tls: Option<String> = "grpc_tls",
    }
}

section! {
    /// `dns_config { soa { … } }`.
    pub struct Soa {
        /// SOA refresh, default 3600.
        refresh: Option<u64> = "refresh",
        /// SOA retry, default 600.
        retry: Option<u64> = "retry",
        /// SOA expire, default 86400.
        expire: Option<u64> = "expire",
        /// SOA minimum TTL, default 0.
        min_ttl: Option<u64> = "min_ttl",
    }
}

section! {
    /// `dns_config { … }`.
    pub struct DnsConfig {
        /// Answer from any server without contacting the leader (default true).
        allow_stale: Option<bool> = "allow_stale",
        /// Limit of A/AAAA records per answer (0 = unlimited).
        a_record_limit: Option<i64> = "a_record_limit",
        /// Turn off DNS name compression.
        disable_compression: Option<bool> = "disable_compression",
        /// Set the TC bit when an answer is cut.
        enable_truncate: Option<bool> = "enable_truncate",
        /// Longest staleness of a stale answer (default 87600h).
        max_stale: Option<Duration> = "max_stale",
        /// TTL of node records (default 0s).
        node_ttl: Option<Duration> = "node_ttl",
        /// Leave out services with warning checks too, not only critical ones.
        only_passing: Option<bool> = "only_passing",
        /// `sequential` (default) or `random`.
        recursor_strategy: Option<String> = "recursor_strategy",
        /// Timeout of recursive queries (default 2s).
        recursor_timeout: Option<Duration> = "recursor_timeout",
        /// TTLs of service records by name, `prefix*` or `*`, as Go durations.
        service_ttl: BTreeMap<String, String> = "service_ttl",
        /// Records per UDP answer without EDNS (default 3).
        udp_answer_limit: Option<i64> = "udp_answer_limit",
        /// Add node meta TXT records to the additional section (default true).
        enable_additional_node_meta_txt: Option<bool> = "enable_additional_node_meta_txt",
        /// SOA record values.
        soa: Soa = "soa",
        /// Use the agent cache for DNS.
        use_cache: Option<bool> = "use_cache",
        /// Longest age of a cached answer.
        cache_max_age: Option<Duration> = "cache_max_age",
        /// Enterprise only; ignored.
        prefer_namespace: Ignored = "prefer_namespace",
    }
}

section! {
    /// `http_config { … }`.
    pub struct HttpConfig {
        /// Endpoint prefixes answered with 403.
        block_endpoints: Vec<String> = "block_endpoints",
        /// CIDRs allowed to call write endpoints.
        allow_write_http_from: Vec<String> = "allow_write_http_from",
        /// Headers added to every HTTP response.
        response_headers: BTreeMap<String, String> = "response_headers",
        /// Allow `?cached` on endpoints that support it (default true).
        use_cache: Option<bool> = "use_cache",
        /// Largest request header size.
        max_header_bytes: Option<i64> = "max_header_bytes",
    }
}

section! {
    /// `limits { request_limits { … } }`.
    pub struct RequestLimits {
        /// `disabled`, `permissive` or `enforcing`.
        mode: Option<String> = "mode",
        /// Read requests per second (negative = unlimited).
        read_rate: Option<f64> = "read_rate",
        /// Write requests per second (negative = unlimited).
        write_rate: Option<f64> = "write_rate",
    }
}

section! {
    /// `limits { … }`.
    pub struct Limits {
        /// Concurrent HTTP connections per client IP (default 200).
        http_max_conns_per_client: Option<i64> = "http_max_conns_per_client",
        /// HTTPS handshake timeout (default 5s).
        https_handshake_timeout: Option<Duration> = "https_handshake_timeout",
        /// Global request rate limits.
        request_limits: RequestLimits = "request_limits",
        /// RPC client timeout (default 60s).
        rpc_client_timeout: Option<Duration> = "rpc_client_timeout",
        /// RPC handshake timeout (default 5s).
        rpc_handshake_timeout: Option<Duration> = "rpc_handshake_timeout",
        /// RPC burst size (default 1000).
        rpc_max_burst: Option<i64> = "rpc_max_burst",
        /// Concurrent RPC connections per client IP (default 100).
        rpc_max_conns_per_client: Option<i64> = "rpc_max_conns_per_client",
        /// RPC requests per second (negative = unlimited).
        rpc_rate: Option<f64> = "rpc_rate",
        /// Largest KV value in bytes (default 512 KiB).
        kv_max_value_size: Option<u64> = "kv_max_value_size",
        /// Largest transaction request body in bytes (default 512 KiB).
        txn_max_req_len: Option<u64> = "txn_max_req_len",
    }
}

section! {
    /// `performance { … }`.
    pub struct Performance {
        /// Time spent draining connections on leave (default 5s).
        leave_drain_time: Option<Duration> = "leave_drain_time",
        /// Scale of Raft timing, 1 (fastest) to 10 (default 5).
        raft_multiplier: Option<i64> = "raft_multiplier",
        /// How long RPCs are retried while there is no leader (default 7s).
        rpc_hold_timeout: Option<Duration> = "rpc_hold_timeout",
    }
}

section! {
    /// `acl { tokens { … } }`.
    pub struct AclTokens {
        /// Bootstrap management token (`initial_management`, formerly `master`).
        initial_management: Option<String> = "initial_management",
        /// Deprecated name of `initial_management`.
        master: Option<String> = "master",
        /// Token used for ACL replication.
        replication: Option<String> = "replication",
        /// Token for agent-local recovery (`agent_recovery`, formerly `agent_master`).
        agent_recovery: Option<String> = "agent_recovery",
        /// Deprecated name of `agent_recovery`.
        agent_master: Option<String> = "agent_master",
        /// Token used for requests without a token.
        default: Option<String> = "default",
        /// Token the agent uses for its own requests.
        agent: Option<String> = "agent",
        /// Token for registering services and checks from config files.
        config_file_service_registration: Option<String> = "config_file_service_registration",
        /// Enterprise only; ignored.
        managed_service_provider: Ignored = "managed_service_provider",
    }
}

section! {
    /// `acl { … }`: kept as given; enforcement is the ACL subsystem's job.
    pub struct Acl {
        /// Turn ACLs on.
        enabled: Option<bool> = "enabled",
        /// `allow` (default) or `deny`.
        default_policy: Option<String> = "default_policy",
        /// `extend-cache` (default), `async-cache`, `allow`, `deny`.
        down_policy: Option<String> = "down_policy",
        /// Policy cache TTL (default 30s).
        policy_ttl: Option<Duration> = "policy_ttl",
        /// Role cache TTL.
        role_ttl: Option<Duration> = "role_ttl",
        /// Token cache TTL (default 30s).
        token_ttl: Option<Duration> = "token_ttl",
        /// Persist tokens set through the API.
        enable_token_persistence: Option<bool> = "enable_token_persistence",
        /// Replicate tokens from the primary datacenter.
        enable_token_replication: Option<bool> = "enable_token_replication",
        /// Require `list` permission for recursive KV reads.
        enable_key_list_policy: Option<bool> = "enable_key_list_policy",
        /// Tokens.
        tokens: AclTokens = "tokens",
        /// Enterprise only; ignored.
        msp_disable_bootstrap: Ignored = "msp_disable_bootstrap",
    }
}

section! {
    /// `ui_config { … }`.
    pub struct UiConfig {
        /// Serve the web UI.
        enabled: Option<bool> = "enabled",
        /// Serve the UI from this directory instead.
        dir: Option<String> = "dir",
        /// URL path of the UI (default `/ui/`).
        content_path: Option<String> = "content_path",
        /// Metrics provider name for the UI.
        metrics_provider: Option<String> = "metrics_provider",
        /// Files of the metrics provider.
        metrics_provider_files: Vec<String> = "metrics_provider_files",
        /// Options of the metrics provider, as JSON text.
        metrics_provider_options_json: Option<String> = "metrics_provider_options_json",
        /// Metrics proxy; ignored.
        metrics_proxy: Ignored = "metrics_proxy",
        /// Dashboard links by name.
        dashboard_url_templates: BTreeMap<String, String> = "dashboard_url_templates",
    }
}

section! {
    /// `autopilot { … }`.
    pub struct Autopilot {
        /// Remove dead servers when a replacement joins (default true).
        cleanup_dead_servers: Option<bool> = "cleanup_dead_servers",
        /// Longest time since leader contact for a healthy server (default 200ms).
        last_contact_threshold: Option<Duration> = "last_contact_threshold",
        /// Most log entries a healthy server may trail by (default 250).
        max_trailing_logs: Option<i64> = "max_trailing_logs",
        /// Fewest servers autopilot keeps when pruning.
        min_quorum: Option<u64> = "min_quorum",
        /// Time a new server must be healthy before it votes (default 10s).
        server_stabilization_time: Option<Duration> = "server_stabilization_time",
        /// Enterprise only; ignored.
        disable_upgrade_migration: Ignored = "disable_upgrade_migration",
        /// Enterprise only; ignored.
        redundancy_zone_tag: Ignored = "redundancy_zone_tag",
        /// Enterprise only; ignored.
        upgrade_version_tag: Ignored = "upgrade_version_tag",
    }
}

section! {
    /// `gossip_lan { … }` / `gossip_wan { … }`: memberlist tuning.
    pub struct Gossip {
        /// Peers gossiped to per round.
        gossip_nodes: Option<i64> = "gossip_nodes",
        /// Time between gossip rounds.
        gossip_interval: Option<Duration> = "gossip_interval",
        /// Time between failure probes.
        probe_interval: Option<Duration> = "probe_interval",
        /// Time to wait for a probe ack.
        probe_timeout: Option<Duration> = "probe_timeout",
        /// Suspicion timeout multiplier.
        suspicion_mult: Option<i64> = "suspicion_mult",
        /// Retransmit multiplier.
        retransmit_mult: Option<i64> = "retransmit_mult",
    }
}

section! {
    /// `unix_sockets { … }`: ownership of Unix-socket listeners.
    pub struct UnixSockets {
        /// Group name or id.
        group: Option<String> = "group",
        /// Octal permission bits.
        mode: Option<String> = "mode",
        /// User name or id.
        user: Option<String> = "user",
    }
}

section! {
    /// `rpc { … }`.
    pub struct Rpc {
        /// Serve streaming RPCs (default: on for servers).
        enable_streaming: Option<bool> = "enable_streaming",
    }
}
