//! DNS interface settings, mirroring `cairn_config::DnsRuntime` field for field.

use crate::error::DnsError;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// SOA record values, in seconds (Consul's `dns_config.soa`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoaConfig {
    /// Refresh (3600).
    pub refresh: u32,
    /// Retry (600).
    pub retry: u32,
    /// Expire (86400).
    pub expire: u32,
    /// Minimum TTL, also the TTL of the SOA record itself (0).
    pub min_ttl: u32,
}

impl Default for SoaConfig {
    fn default() -> Self {
        SoaConfig {
            refresh: 3600,
            retry: 600,
            expire: 86400,
            min_ttl: 0,
        }
    }
}

/// Everything the DNS server needs to know besides the catalog.
///
/// The fields from `domain` to `cache_max_age` have the names and meanings of
/// `cairn_config::DnsRuntime`; `datacenter` and `translate_wan_addrs` come from the agent's
/// top-level settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsConfig {
    /// The agent's datacenter, used when a query names none.
    pub datacenter: String,
    /// Answer with a remote node's WAN address (`translate_wan_addrs`).
    pub translate_wan_addrs: bool,
    /// Primary domain, with or without its trailing dot (`consul.`).
    pub domain: String,
    /// Alternative domain, if any.
    pub alt_domain: Option<String>,
    /// Upstream resolvers as given (`ip` or `ip:port`; port 53 when omitted).
    pub recursors: Vec<String>,
    /// Try recursors in a random order instead of in order.
    pub recursor_random: bool,
    /// Timeout of one exchange with a recursor (2 s).
    pub recursor_timeout: Duration,
    /// Serve stale reads (agent-side; kept for a one-to-one mapping).
    pub allow_stale: bool,
    /// Longest staleness accepted (agent-side; kept for a one-to-one mapping).
    pub max_stale: Duration,
    /// TTL of node records.
    pub node_ttl: Duration,
    /// TTL of service records by exact name, `prefix*` or `*`.
    pub service_ttl: BTreeMap<String, Duration>,
    /// Answers per non-EDNS UDP response (3; capped at 8).
    pub udp_answer_limit: u32,
    /// A/AAAA records per service answer (0 = unlimited).
    pub a_record_limit: u32,
    /// Leave out instances with warning checks too.
    pub only_passing: bool,
    /// Set TC when an answer was cut.
    pub enable_truncate: bool,
    /// Turn off name compression. Accepted but not honoured: hickory always compresses.
    pub disable_compression: bool,
    /// Add node-meta TXT records in the additional section.
    pub node_meta_txt: bool,
    /// SOA values.
    pub soa: SoaConfig,
    /// Use the agent cache (agent-side; ignored here).
    pub use_cache: bool,
    /// Longest age of a cached answer (agent-side; ignored here).
    pub cache_max_age: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            datacenter: "dc1".to_string(),
            translate_wan_addrs: false,
            domain: "consul.".to_string(),
            alt_domain: None,
            recursors: Vec::new(),
            recursor_random: false,
            recursor_timeout: Duration::from_secs(2),
            allow_stale: true,
            max_stale: Duration::from_secs(87600 * 3600),
            node_ttl: Duration::ZERO,
            service_ttl: BTreeMap::new(),
            udp_answer_limit: 3,
            a_record_limit: 0,
            only_passing: false,
            enable_truncate: false,
            disable_compression: false,
            node_meta_txt: true,
            soa: SoaConfig::default(),
            use_cache: false,
            cache_max_age: Duration::ZERO,
        }
    }
}

/// Consul's hard cap on answers in a non-EDNS UDP response.
pub(crate) const MAX_UDP_ANSWER_LIMIT: usize = 8;

/// The configuration in the shape the request path uses: domains split into lower-case
/// labels, TTLs in seconds, recursors parsed.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub datacenter: String,
    pub translate_wan_addrs: bool,
    /// Primary domain, lower case, with trailing dot (`consul.`).
    pub domain: String,
    pub domain_labels: Vec<String>,
    /// Alternative domain, lower case, with trailing dot.
    pub alt_domain: Option<String>,
    pub alt_labels: Vec<String>,
    pub recursors: Vec<SocketAddr>,
    pub recursor_random: bool,
    pub recursor_timeout: Duration,
    pub node_ttl: u32,
    ttl_exact: BTreeMap<String, u32>,
    /// `prefix*` entries, longest prefix first.
    ttl_prefix: Vec<(String, u32)>,
    pub udp_answer_limit: usize,
    pub a_record_limit: usize,
    pub only_passing: bool,
    pub enable_truncate: bool,
    pub node_meta_txt: bool,
    pub soa: SoaConfig,
}

fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

fn fqdn_lower(domain: &str) -> Result<(String, Vec<String>), DnsError> {
    let trimmed = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    if trimmed.is_empty() {
        return Err(DnsError::InvalidDomain(domain.to_string()));
    }
    let labels: Vec<String> = trimmed.split('.').map(str::to_string).collect();
    if labels.iter().any(|l| l.is_empty() || l.len() > 63) {
        return Err(DnsError::InvalidDomain(domain.to_string()));
    }
    Ok((format!("{trimmed}."), labels))
}

/// Parses a recursor as Consul does: `ip`, `ip:port`, `[v6]:port` or a bare IPv6 address.
pub(crate) fn parse_recursor(text: &str) -> Result<SocketAddr, DnsError> {
    let text = text.trim();
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Ok(sa);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        if let Ok(ip) = inner.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, 53));
        }
    }
    Err(DnsError::InvalidRecursor(text.to_string()))
}

impl Settings {
    pub fn from_config(cfg: &DnsConfig) -> Result<Settings, DnsError> {
        let (domain, domain_labels) = fqdn_lower(&cfg.domain)?;
        let (alt_domain, alt_labels) = match cfg.alt_domain.as_deref().map(str::trim) {
            None | Some("") | Some(".") => (None, Vec::new()),
            Some(alt) => {
                let (d, l) = fqdn_lower(alt)?;
                (Some(d), l)
            }
        };
        let recursors = cfg
            .recursors
            .iter()
            .map(|r| parse_recursor(r))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ttl_exact = BTreeMap::new();
        let mut ttl_prefix = Vec::new();
        for (key, ttl) in &cfg.service_ttl {
            match key.strip_suffix('*') {
                Some(prefix) => ttl_prefix.push((prefix.to_string(), secs(*ttl))),
                None => {
                    ttl_exact.insert(key.clone(), secs(*ttl));
                }
            }
        }
        ttl_prefix.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        Ok(Settings {
            datacenter: cfg.datacenter.clone(),
            translate_wan_addrs: cfg.translate_wan_addrs,
            domain,
            domain_labels,
            alt_domain,
            alt_labels,
            recursors,
            recursor_random: cfg.recursor_random,
            recursor_timeout: cfg.recursor_timeout,
            node_ttl: secs(cfg.node_ttl),
            ttl_exact,
            ttl_prefix,
            udp_answer_limit: (cfg.udp_answer_limit as usize).min(MAX_UDP_ANSWER_LIMIT),
            a_record_limit: cfg.a_record_limit as usize,
            only_passing: cfg.only_passing,
            enable_truncate: cfg.enable_truncate,
            node_meta_txt: cfg.node_meta_txt,
            soa: cfg.soa,
        })
    }

    /// TTL of a service's records: exact name first, then the longest matching `prefix*`.
    pub fn service_ttl(&self, service: &str) -> u32 {
        if let Some(ttl) = self.ttl_exact.get(service) {
            return *ttl;
        }
        self.ttl_prefix
            .iter()
            .find(|(prefix, _)| service.starts_with(prefix.as_str()))
            .map(|(_, ttl)| *ttl)
            .unwrap_or(0)
    }

    /// Whether recursion is available.
    pub fn can_recurse(&self) -> bool {
        !self.recursors.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_ttl_prefers_exact_then_longest_prefix() {
        let mut cfg = DnsConfig::default();
        cfg.service_ttl.insert("*".into(), Duration::from_secs(5));
        cfg.service_ttl
            .insert("db*".into(), Duration::from_secs(10));
        cfg.service_ttl
            .insert("db-main*".into(), Duration::from_secs(20));
        cfg.service_ttl.insert("db".into(), Duration::from_secs(30));
        let s = Settings::from_config(&cfg).unwrap();
        assert_eq!(s.service_ttl("db"), 30);
        assert_eq!(s.service_ttl("db-main-1"), 20);
        assert_eq!(s.service_ttl("dbx"), 10);
        assert_eq!(s.service_ttl("web"), 5);
        cfg.service_ttl.clear();
        let s = Settings::from_config(&cfg).unwrap();
        assert_eq!(s.service_ttl("web"), 0);
    }

    #[test]
    fn recursors_get_port_53() {
        assert_eq!(
            parse_recursor("8.8.8.8").unwrap(),
            "8.8.8.8:53".parse().unwrap()
        );
        assert_eq!(
            parse_recursor("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(parse_recursor("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(
            parse_recursor("[::1]:54").unwrap(),
            "[::1]:54".parse().unwrap()
        );
        assert!(parse_recursor("not-an-ip").is_err());
    }

    #[test]
    fn domains_are_lowercased_fqdns() {
        let cfg = DnsConfig {
            domain: "Consul".into(),
            alt_domain: Some("Alt.Example.".into()),
            udp_answer_limit: 50,
            ..DnsConfig::default()
        };
        let s = Settings::from_config(&cfg).unwrap();
        assert_eq!(s.domain, "consul.");
        assert_eq!(s.alt_domain.as_deref(), Some("alt.example."));
        assert_eq!(s.alt_labels, vec!["alt", "example"]);
        assert_eq!(s.udp_answer_limit, 8);
        let bad = DnsConfig {
            domain: "a..b".into(),
            ..DnsConfig::default()
        };
        assert!(Settings::from_config(&bad).is_err());
    }
}
