//! Building resource records: address choice (Consul's `TranslateAddress`), A/AAAA by query
//! type, SOA, node-meta TXT, and helper names.

use crate::config::Settings;
use cairn_types::ServiceAddress;
use hickory_proto::rr::rdata::{self, A, AAAA, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// Which address families a lookup accepts (Consul's `TranslateAddressAccept`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Accept(u8);

impl Accept {
    const DOMAIN: u8 = 1;
    const V4: u8 = 2;
    const V6: u8 = 4;

    /// A → IPv4 or hostname, AAAA → IPv6 or hostname, anything else → any.
    pub fn for_qtype(qtype: RecordType) -> Accept {
        match qtype {
            RecordType::A => Accept(Self::DOMAIN | Self::V4),
            RecordType::AAAA => Accept(Self::DOMAIN | Self::V6),
            _ => Accept(u8::MAX),
        }
    }

    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// Picks among the IPv6-tagged, IPv4-tagged and default addresses as Consul's
/// `translateAddressAccept` does (its "any" test passes for every non-empty accept set, so the
/// default address wins whenever the tagged ones do not apply).
fn accept_address<'a>(accept: Accept, def: &'a str, v4: &'a str, v6: &'a str) -> &'a str {
    if accept.has(Accept::V6) && !v6.is_empty() {
        return v6;
    }
    if accept.has(Accept::V4) && !v4.is_empty() {
        return v4;
    }
    def
}

/// Whether answers for `dc` should carry WAN addresses.
fn use_wan(s: &Settings, dc: &str) -> bool {
    s.translate_wan_addrs && dc != s.datacenter
}

/// A node's address for a lookup in `dc`.
pub(crate) fn node_address<'a>(
    s: &Settings,
    dc: &str,
    addr: &'a str,
    tagged: &'a BTreeMap<String, String>,
    accept: Accept,
) -> &'a str {
    let get = |k: &str| tagged.get(k).map(String::as_str);
    let (mut def, mut v4, mut v6) = (addr, get("lan_ipv4"), get("lan_ipv6"));
    if use_wan(s, dc) {
        def = get("wan").unwrap_or(def);
        v4 = get("wan_ipv4").or(v4);
        v6 = get("wan_ipv6").or(v6);
    }
    accept_address(accept, def, v4.unwrap_or(""), v6.unwrap_or(""))
}

/// A service's address for a lookup in `dc` (empty: use the node's).
pub(crate) fn service_address<'a>(
    s: &Settings,
    dc: &str,
    addr: &'a str,
    tagged: &'a BTreeMap<String, ServiceAddress>,
    accept: Accept,
) -> &'a str {
    let get = |k: &str| tagged.get(k).map(|a| a.address.as_str());
    let (mut def, mut v4, mut v6) = (addr, get("lan_ipv4"), get("lan_ipv6"));
    if use_wan(s, dc) {
        def = get("wan").unwrap_or(def);
        v4 = get("wan_ipv4").or(v4);
        v6 = get("wan_ipv6").or(v6);
    }
    accept_address(accept, def, v4.unwrap_or(""), v6.unwrap_or(""))
}

/// A service's port for a lookup in `dc`.
pub(crate) fn service_port(
    s: &Settings,
    dc: &str,
    port: u16,
    tagged: &BTreeMap<String, ServiceAddress>,
) -> u16 {
    if use_wan(s, dc) {
        if let Some(wan) = tagged.get("wan") {
            if wan.port != 0 {
                return wan.port;
            }
        }
    }
    port
}

/// Parses an address, treating IPv4-mapped IPv6 as IPv4 (as Go's `To4` does).
pub(crate) fn parse_ip(text: &str) -> Option<IpAddr> {
    match text.parse::<IpAddr>().ok()? {
        IpAddr::V6(v6) => Some(
            v6.to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
        ),
        v4 => Some(v4),
    }
}

/// The A or AAAA data for `ip` if the query type admits it (Consul's `makeARecord`).
pub(crate) fn address_rdata(qtype: RecordType, ip: IpAddr) -> Option<RData> {
    use RecordType as T;
    let ok = matches!(qtype, T::SRV | T::ANY | T::NS | T::TXT);
    match ip {
        IpAddr::V4(v4) if ok || qtype == T::A => Some(RData::A(A(v4))),
        IpAddr::V6(v6) if ok || qtype == T::AAAA => Some(RData::AAAA(AAAA(v6))),
        _ => None,
    }
}

/// A record of class IN.
pub(crate) fn record(name: Name, ttl: u32, data: RData) -> Record {
    Record::from_rdata(name, ttl, data)
}

/// Parses a name built from catalog data; `None` for names DNS cannot carry.
pub(crate) fn name(text: &str) -> Option<Name> {
    let mut n = Name::from_ascii(text).ok()?;
    n.set_fqdn(true);
    Some(n)
}

/// `<node>.node.<dc>.<domain>`.
pub(crate) fn node_fqdn(node: &str, dc: &str, domain: &str) -> Option<Name> {
    name(&format!("{node}.node.{dc}.{domain}"))
}

/// The zone's SOA record (Consul: `ns.<domain>`, `hostmaster.<domain>`, serial = now).
pub(crate) fn soa(s: &Settings, domain: &str) -> Option<Record> {
    let serial = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    let to_i32 = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    let data = SOA::new(
        name(&format!("ns.{domain}"))?,
        name(&format!("hostmaster.{domain}"))?,
        serial,
        to_i32(s.soa.refresh),
        to_i32(s.soa.retry),
        to_i32(s.soa.expire),
        s.soa.min_ttl,
    );
    Some(record(name(domain)?, s.soa.min_ttl, RData::SOA(data)))
}

/// RFC 1464 `key=value`, with backquote escaping of the key, as Consul encodes node meta.
pub(crate) fn rfc1464(key: &str, value: &str) -> String {
    let mut escaped = key.replace('`', "``").replace('=', "`=");
    let lead = escaped.len() - escaped.trim_start_matches(' ').len();
    if lead > 0 {
        escaped = format!("{}{}", "` ".repeat(lead), &escaped[lead..]);
    }
    let trail = escaped.len() - escaped.trim_end_matches(' ').len();
    if trail > 0 && trail < escaped.len() {
        let cut = escaped.len() - trail;
        escaped = format!("{}{}", &escaped[..cut], "` ".repeat(trail));
    }
    format!("{escaped}={}", value.replace('`', "``"))
}

/// One TXT record per node meta pair; `rfc1035-` keys carry the bare value.
pub(crate) fn meta_txt(owner: &Name, meta: &BTreeMap<String, String>, ttl: u32) -> Vec<Record> {
    meta.iter()
        .map(|(key, value)| {
            let text = if key.to_ascii_lowercase().starts_with("rfc1035-") {
                value.clone()
            } else {
                rfc1464(key, value)
            };
            record(owner.clone(), ttl, RData::TXT(txt(text.as_bytes())))
        })
        .collect()
}

/// TXT data, split into 255-byte character strings.
fn txt(bytes: &[u8]) -> TXT {
    if bytes.is_empty() {
        return TXT::from_bytes(vec![&[][..]]);
    }
    TXT::from_bytes(bytes.chunks(255).collect())
}

/// A CNAME record.
pub(crate) fn cname(owner: Name, ttl: u32, target: Name) -> Record {
    record(owner, ttl, RData::CNAME(rdata::CNAME(target)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DnsConfig;

    fn settings(wan: bool) -> Settings {
        Settings::from_config(&DnsConfig {
            translate_wan_addrs: wan,
            ..DnsConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn rfc1464_escapes_like_consul() {
        assert_eq!(rfc1464("key", "value"), "key=value");
        assert_eq!(rfc1464("k=y", "v`x"), "k`=y=v``x");
        assert_eq!(rfc1464("  key ", "v"), "` ` key` =v");
    }

    #[test]
    fn tagged_addresses_by_family_and_wan() {
        let tagged: BTreeMap<String, String> = [
            ("lan_ipv4", "10.0.0.1"),
            ("lan_ipv6", "fd00::1"),
            ("wan", "1.2.3.4"),
            ("wan_ipv4", "1.2.3.4"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let s = settings(false);
        let a = Accept::for_qtype(RecordType::A);
        let aaaa = Accept::for_qtype(RecordType::AAAA);
        let any = Accept::for_qtype(RecordType::SRV);
        assert_eq!(node_address(&s, "dc1", "10.0.0.1", &tagged, a), "10.0.0.1");
        assert_eq!(
            node_address(&s, "dc1", "10.0.0.1", &tagged, aaaa),
            "fd00::1"
        );
        assert_eq!(node_address(&s, "dc1", "10.0.0.1", &tagged, any), "fd00::1");
        let s = settings(true);
        assert_eq!(node_address(&s, "dc2", "10.0.0.1", &tagged, a), "1.2.3.4");
        assert_eq!(node_address(&s, "dc1", "10.0.0.1", &tagged, a), "10.0.0.1");
        let none = BTreeMap::new();
        // The default address is returned whatever its family; the record maker drops it.
        assert_eq!(node_address(&s, "dc1", "10.0.0.1", &none, aaaa), "10.0.0.1");
        assert_eq!(
            node_address(&s, "dc1", "db.example", &none, aaaa),
            "db.example"
        );
    }

    #[test]
    fn address_records_follow_query_type() {
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let v6: IpAddr = "fd00::1".parse().unwrap();
        assert!(address_rdata(RecordType::A, v4).is_some());
        assert!(address_rdata(RecordType::AAAA, v4).is_none());
        assert!(address_rdata(RecordType::A, v6).is_none());
        assert!(address_rdata(RecordType::TXT, v6).is_some());
        assert!(address_rdata(RecordType::MX, v4).is_none());
        assert_eq!(parse_ip("::ffff:1.2.3.4"), Some("1.2.3.4".parse().unwrap()));
    }

    #[test]
    fn long_txt_values_are_split() {
        let t = txt(&[b'a'; 600]);
        assert_eq!(t.txt_data.len(), 3);
        assert_eq!(t.txt_data[2].len(), 90);
    }
}
