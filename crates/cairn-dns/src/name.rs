//! Parsing query names into lookups, as Consul's `dispatch` does: labels are read right to
//! left and the first of `service|connect|virtual|ingress|node|query|addr` decides the kind.

use crate::backend::ServiceKind;
use crate::config::Settings;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which zone a query name falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    /// Under the primary (`alt == false`) or alternative domain; `prefix` labels precede it.
    Domain { alt: bool, prefix: usize },
    /// Under `arpa.` (reverse lookups).
    Arpa,
    /// Anywhere else: recursion or REFUSED.
    Other,
}

/// Finds the longest zone suffix of `labels` (lower case), as miekg's ServeMux does.
pub(crate) fn classify(labels: &[String], s: &Settings) -> Zone {
    for start in 0..labels.len() {
        let suffix = &labels[start..];
        if suffix == s.domain_labels.as_slice() {
            return Zone::Domain {
                alt: false,
                prefix: start,
            };
        }
        if !s.alt_labels.is_empty() && suffix == s.alt_labels.as_slice() {
            return Zone::Domain {
                alt: true,
                prefix: start,
            };
        }
        if suffix.len() == 1 && suffix[0] == "arpa" {
            return Zone::Arpa;
        }
    }
    Zone::Other
}

/// A lookup inside the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Instances of a service, optionally filtered by tag, in a datacenter.
    Service {
        kind: ServiceKind,
        name: String,
        tag: Option<String>,
        dc: Option<String>,
    },
    /// A node by name.
    Node { name: String, dc: Option<String> },
    /// A prepared query by name or ID.
    PreparedQuery { name: String, dc: Option<String> },
    /// A hex-encoded address (`c0a80001.addr.consul`).
    Addr(IpAddr),
    /// A service's virtual IP.
    Virtual { name: String },
    /// Nothing Consul would answer: NXDOMAIN.
    Invalid,
}

/// Datacenter parsed from the labels after the kind label, as Consul CE's `parseLocality`:
/// none, `<dc>`, `<dc>.dc` or `<peer>.peer` (cluster peers are not supported: invalid).
fn locality(suffix: &[String]) -> Option<Option<String>> {
    match suffix.len() {
        0 => Some(None),
        1 => Some(Some(suffix[0].clone())),
        2 | 4 => {
            let mut dc = None;
            for pair in suffix.chunks(2) {
                match pair[1].as_str() {
                    "dc" if dc.is_none() => dc = Some(pair[0].clone()),
                    _ => return None,
                }
            }
            Some(dc)
        }
        _ => None,
    }
}

/// Parses the labels in front of the domain (lower case) for a query of type `is_srv`.
pub(crate) fn parse(labels: &[String], is_srv: bool) -> Lookup {
    let mut found = None;
    for i in (0..labels.len()).rev() {
        let label = labels[i].as_str();
        match label {
            "service" | "connect" | "virtual" | "ingress" | "node" | "query" | "addr" => {
                found = Some((label, &labels[..i], &labels[i + 1..]));
                break;
            }
            // For SRV the `service` label is optional: `_name._tag[.dc].consul`.
            _ if is_srv && label.starts_with('_') => {
                found = Some(("service", &labels[..=i], &labels[i + 1..]));
                break;
            }
            _ => {}
        }
    }
    let Some((kind, parts, suffix)) = found else {
        return Lookup::Invalid;
    };
    if parts.is_empty() {
        return Lookup::Invalid;
    }
    match kind {
        "service" => {
            let Some(dc) = locality(suffix) else {
                return Lookup::Invalid;
            };
            let n = parts.len();
            let (name, tag) = if n == 2 && parts[0].starts_with('_') && parts[1].starts_with('_') {
                // RFC 2782: `_name._tag`; `_tcp` means no tag filter.
                let tag = &parts[1][1..];
                let tag = (tag != "tcp").then(|| tag.to_string());
                (parts[0][1..].to_string(), tag)
            } else {
                // `tag[.more].name`: a tag may contain dots.
                let tag = (n >= 2).then(|| parts[..n - 1].join("."));
                (parts[n - 1].clone(), tag)
            };
            if name.is_empty() {
                return Lookup::Invalid;
            }
            Lookup::Service {
                kind: ServiceKind::Service,
                name,
                tag: tag.filter(|t| !t.is_empty()),
                dc,
            }
        }
        "connect" | "ingress" => {
            let Some(dc) = locality(suffix) else {
                return Lookup::Invalid;
            };
            Lookup::Service {
                kind: if kind == "connect" {
                    ServiceKind::Connect
                } else {
                    ServiceKind::Ingress
                },
                name: parts[parts.len() - 1].clone(),
                tag: None,
                dc,
            }
        }
        "virtual" => {
            if !suffix.is_empty() {
                // `<name>.virtual.<peer>.consul`: peers are not supported.
                return Lookup::Invalid;
            }
            Lookup::Virtual {
                name: parts[parts.len() - 1].clone(),
            }
        }
        "node" => match locality(suffix) {
            // A node name may contain dots.
            Some(dc) => Lookup::Node {
                name: parts.join("."),
                dc,
            },
            None => Lookup::Invalid,
        },
        "query" => {
            let dc = match suffix.len() {
                0 => None,
                1 => Some(suffix[0].clone()),
                _ => return Lookup::Invalid,
            };
            let n = parts.len();
            let name = if n >= 2 && parts[0].starts_with('_') && parts[n - 1].starts_with('_') {
                // `_query._proto`: the last label is the (ignored) protocol.
                parts[..n - 1].join(".")[1..].to_string()
            } else {
                parts.join(".")
            };
            Lookup::PreparedQuery { name, dc }
        }
        "addr" => {
            if parts.len() != 1 {
                return Lookup::Invalid;
            }
            decode_hex_ip(&parts[0]).map_or(Lookup::Invalid, Lookup::Addr)
        }
        _ => Lookup::Invalid,
    }
}

fn hex_bytes<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// Decodes 8 hex digits to IPv4 or 32 to IPv6.
pub(crate) fn decode_hex_ip(text: &str) -> Option<IpAddr> {
    match text.len() / 2 {
        4 => hex_bytes::<4>(text).map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        16 => hex_bytes::<16>(text).map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        _ => None,
    }
}

/// Encodes an address as Consul's `.addr` label: 8 hex digits for IPv4, 32 for IPv6.
pub(crate) fn encode_hex_ip(ip: IpAddr) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(32);
    let bytes: Vec<u8> = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets().to_vec(),
            None => v6.octets().to_vec(),
        },
    };
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Decodes a reverse name (labels in lower case, ending in `in-addr.arpa` or `ip6.arpa`).
pub(crate) fn ip_from_arpa(labels: &[String]) -> Option<IpAddr> {
    let n = labels.len();
    if n == 6 && labels[4] == "in-addr" && labels[5] == "arpa" {
        let mut octets = [0u8; 4];
        for (i, label) in labels[..4].iter().enumerate() {
            if label.is_empty() || label.len() > 3 || !label.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            octets[3 - i] = label.parse().ok()?;
        }
        return Some(IpAddr::V4(Ipv4Addr::from(octets)));
    }
    if n == 34 && labels[32] == "ip6" && labels[33] == "arpa" {
        let mut bytes = [0u8; 16];
        for (i, label) in labels[..32].iter().enumerate() {
            if label.len() != 1 {
                return None;
            }
            let nibble = (label.as_bytes()[0] as char).to_digit(16)? as u8;
            let pos = 31 - i;
            if pos % 2 == 0 {
                bytes[pos / 2] |= nibble << 4;
            } else {
                bytes[pos / 2] |= nibble;
            }
        }
        return Some(IpAddr::V6(Ipv6Addr::from(bytes)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DnsConfig;

    fn labels(name: &str) -> Vec<String> {
        name.trim_end_matches('.')
            .split('.')
            .map(str::to_string)
            .collect()
    }

    fn lookup(name: &str, srv: bool) -> Lookup {
        let l = labels(name);
        parse(&l[..l.len() - 1], srv)
    }

    fn svc(name: &str, tag: Option<&str>, dc: Option<&str>) -> Lookup {
        Lookup::Service {
            kind: ServiceKind::Service,
            name: name.into(),
            tag: tag.map(Into::into),
            dc: dc.map(Into::into),
        }
    }

    #[test]
    fn service_forms() {
        assert_eq!(lookup("web.service.consul", false), svc("web", None, None));
        assert_eq!(
            lookup("web.service.dc2.consul", false),
            svc("web", None, Some("dc2"))
        );
        assert_eq!(
            lookup("web.service.dc2.dc.consul", false),
            svc("web", None, Some("dc2"))
        );
        assert_eq!(
            lookup("v1.web.service.consul", false),
            svc("web", Some("v1"), None)
        );
        assert_eq!(
            lookup("a.b.web.service.consul", false),
            svc("web", Some("a.b"), None)
        );
        assert_eq!(
            lookup("_web._tcp.service.consul", true),
            svc("web", None, None)
        );
        assert_eq!(
            lookup("_web._v1.service.dc2.consul", true),
            svc("web", Some("v1"), Some("dc2"))
        );
        // Without `service`, only for SRV.
        assert_eq!(lookup("_web._tcp.consul", true), svc("web", None, None));
        assert_eq!(
            lookup("_web._v1.dc2.consul", true),
            svc("web", Some("v1"), Some("dc2"))
        );
        assert_eq!(lookup("_web._tcp.consul", false), Lookup::Invalid);
        assert_eq!(lookup("service.consul", false), Lookup::Invalid);
        assert_eq!(lookup("web.service.a.b.c.consul", false), Lookup::Invalid);
        assert_eq!(lookup("web.service.p.peer.consul", false), Lookup::Invalid);
        assert_eq!(lookup("web.consul", false), Lookup::Invalid);
    }

    #[test]
    fn node_query_addr_forms() {
        assert_eq!(
            lookup("foo.bar.node.dc1.consul", false),
            Lookup::Node {
                name: "foo.bar".into(),
                dc: Some("dc1".into())
            }
        );
        assert_eq!(
            lookup("_pq._tcp.query.consul", true),
            Lookup::PreparedQuery {
                name: "pq".into(),
                dc: None
            }
        );
        assert_eq!(
            lookup("c0a80001.addr.dc1.consul", false),
            Lookup::Addr("192.168.0.1".parse().unwrap())
        );
        assert_eq!(
            lookup("20010db8000000000000000000000001.addr.consul", false),
            Lookup::Addr("2001:db8::1".parse().unwrap())
        );
        assert_eq!(lookup("c0a8000.addr.consul", false), Lookup::Invalid);
        assert_eq!(lookup("zzzzzzzz.addr.consul", false), Lookup::Invalid);
        assert_eq!(
            lookup("web.connect.consul", false),
            Lookup::Service {
                kind: ServiceKind::Connect,
                name: "web".into(),
                tag: None,
                dc: None
            }
        );
    }

    #[test]
    fn zones_pick_the_longest_suffix() {
        let cfg = DnsConfig {
            alt_domain: Some("alt.test.".into()),
            ..DnsConfig::default()
        };
        let s = Settings::from_config(&cfg).unwrap();
        assert_eq!(
            classify(&labels("web.service.consul."), &s),
            Zone::Domain {
                alt: false,
                prefix: 2
            }
        );
        assert_eq!(
            classify(&labels("web.service.alt.test."), &s),
            Zone::Domain {
                alt: true,
                prefix: 2
            }
        );
        assert_eq!(classify(&labels("1.0.0.127.in-addr.arpa."), &s), Zone::Arpa);
        assert_eq!(classify(&labels("example.com."), &s), Zone::Other);
        assert_eq!(classify(&[], &s), Zone::Other);
    }

    #[test]
    fn hex_and_arpa_round_trip() {
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(encode_hex_ip(v4), "0a010203");
        assert_eq!(decode_hex_ip("0a010203"), Some(v4));
        let v6: IpAddr = "2001:db8::ff".parse().unwrap();
        assert_eq!(decode_hex_ip(&encode_hex_ip(v6)), Some(v6));
        assert_eq!(ip_from_arpa(&labels("3.2.1.10.in-addr.arpa")), Some(v4));
        let rev: Vec<String> = encode_hex_ip(v6)
            .chars()
            .rev()
            .map(|c| c.to_string())
            .chain(["ip6".to_string(), "arpa".to_string()])
            .collect();
        assert_eq!(ip_from_arpa(&rev), Some(v6));
        assert_eq!(ip_from_arpa(&labels("300.2.1.10.in-addr.arpa")), None);
        assert_eq!(ip_from_arpa(&labels("2.1.10.in-addr.arpa")), None);
    }
}
