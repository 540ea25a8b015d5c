//! The serf tags Consul agents put on their LAN member, and reading them back.

use cairn_config::RuntimeConfig;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// The build tag value: Consul's API version, then the implementation.
pub(crate) fn build_tag(compat_version: &str) -> String {
    format!("{compat_version}:cairn")
}

/// Consul's LAN tags: clients `role=node, dc, segment, id, vsn, vsn_min, vsn_max, build`;
/// servers add `role=consul, port, raft_vsn` and `bootstrap=1` or `expect=N`.
pub(crate) fn lan_tags(
    cfg: &RuntimeConfig,
    node_id: &str,
    compat_version: &str,
) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        tags.insert(k.to_string(), v);
    };
    put("dc", cfg.datacenter.clone());
    put("id", node_id.to_string());
    put("segment", String::new());
    put("build", build_tag(compat_version));
    put("vsn", "2".into());
    put("vsn_min", "2".into());
    put("vsn_max", "3".into());
    if cfg.server {
        put("role", "consul".into());
        put("port", cfg.ports.server.to_string());
        put("raft_vsn", "3".into());
        if cfg.bootstrap || cfg.dev_mode {
            put("bootstrap", "1".into());
        } else if cfg.bootstrap_expect > 0 {
            put("expect", cfg.bootstrap_expect.to_string());
        }
    } else {
        put("role", "node".into());
    }
    tags
}

/// What a member's tags say about a Consul server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTags {
    /// Datacenter (`dc`).
    pub datacenter: String,
    /// Node ID (`id`).
    pub node_id: String,
    /// Server RPC address: member address with the `port` tag.
    pub rpc_addr: SocketAddr,
    /// `expect` tag (0 when absent).
    pub expect: u32,
    /// `bootstrap=1`.
    pub bootstrap: bool,
}

/// The server facts of a member, or `None` when it is not a Consul server (`role=consul`) or
/// its tags are unusable.
pub fn server_tags(addr: IpAddr, tags: &BTreeMap<String, String>) -> Option<ServerTags> {
    if tags.get("role").map(String::as_str) != Some("consul") {
        return None;
    }
    let port: u16 = tags.get("port")?.parse().ok()?;
    Some(ServerTags {
        datacenter: tags.get("dc").cloned().unwrap_or_default(),
        node_id: tags.get("id").cloned().unwrap_or_default(),
        rpc_addr: SocketAddr::new(addr, port),
        expect: tags.get("expect").and_then(|e| e.parse().ok()).unwrap_or(0),
        bootstrap: tags.get("bootstrap").map(String::as_str) == Some("1"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_tags_need_role_and_port() {
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        let mut t = BTreeMap::new();
        t.insert("role".to_string(), "node".to_string());
        t.insert("port".to_string(), "8300".to_string());
        assert_eq!(server_tags(ip, &t), None);
        t.insert("role".to_string(), "consul".to_string());
        t.insert("expect".to_string(), "3".to_string());
        t.insert("dc".to_string(), "dc1".to_string());
        let s = server_tags(ip, &t).unwrap();
        assert_eq!(s.rpc_addr, "127.0.0.2:8300".parse().unwrap());
        assert_eq!(
            (s.expect, s.bootstrap, s.datacenter.as_str()),
            (3, false, "dc1")
        );
        t.insert("port".to_string(), "nope".to_string());
        assert_eq!(server_tags(ip, &t), None);
    }
}
