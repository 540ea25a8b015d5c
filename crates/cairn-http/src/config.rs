//! What the HTTP layer needs to know about its agent.

use std::collections::BTreeMap;
use std::time::Duration;

/// Settings of the HTTP API, taken from the agent's runtime configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// The agent's datacenter (`?dc` default).
    pub datacenter: String,
    /// The agent's node name (session default node, `?near=_agent`).
    pub node_name: String,
    /// Largest KV value accepted (`limits.kv_max_value_size`).
    pub kv_max_value_size: u64,
    /// Largest transaction body accepted (`limits.txn_max_req_len`; the larger of the two
    /// limits applies, as in Consul).
    pub txn_max_req_len: u64,
    /// Shortest session TTL accepted (`session_ttl_min`).
    pub session_ttl_min: Duration,
    /// Blocking wait when `?wait` is absent (`default_query_time`).
    pub default_query_time: Duration,
    /// Longest blocking wait (`max_query_time`).
    pub max_query_time: Duration,
    /// Default staleness bound of `/v1/catalog*` and `/v1/health*` reads
    /// (`discovery_max_stale`); zero means off.
    pub discovery_max_stale: Duration,
    /// Indent every JSON answer, as `-dev` agents do.
    pub pretty_by_default: bool,
    /// Extra headers on every answer (`http_config.response_headers`).
    pub response_headers: BTreeMap<String, String>,
    /// `X-Consul-Default-ACL-Policy` (`allow` or `deny`).
    pub acl_default_policy: String,
    /// Path prefixes answered with 403 `Endpoint is blocked by agent configuration`
    /// (`http_config.block_endpoints`).
    pub block_endpoints: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            datacenter: "dc1".into(),
            node_name: String::new(),
            kv_max_value_size: 512 * 1024,
            txn_max_req_len: 512 * 1024,
            session_ttl_min: Duration::from_secs(10),
            default_query_time: Duration::from_secs(300),
            max_query_time: Duration::from_secs(600),
            discovery_max_stale: Duration::ZERO,
            pretty_by_default: false,
            response_headers: BTreeMap::new(),
            acl_default_policy: "allow".into(),
            block_endpoints: Vec::new(),
        }
    }
}

impl HttpConfig {
    /// The transaction body limit actually enforced: the larger of `txn_max_req_len` and
    /// `kv_max_value_size` (Consul's backward-compatible rule).
    pub fn txn_limit(&self) -> u64 {
        self.txn_max_req_len.max(self.kv_max_value_size)
    }

    /// The largest request body read at all; anything longer gets 413 before any handler.
    pub(crate) fn body_limit(&self) -> usize {
        let largest = self.txn_limit().max(self.kv_max_value_size);
        // Headroom for JSON framing of registrations and the like.
        usize::try_from(largest)
            .unwrap_or(usize::MAX)
            .saturating_add(1 << 20)
    }
}
