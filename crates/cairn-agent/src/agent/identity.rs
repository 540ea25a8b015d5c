//! How this agent presents itself: advertised address and tagged addresses.

use cairn_config::RuntimeConfig;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};

/// The LAN address this agent advertises: the configured one, else the bind address, else
/// (bind `0.0.0.0`) the host's private IPv4 as the routing table picks it, else loopback.
pub fn advertise_addr(cfg: &RuntimeConfig) -> IpAddr {
    if let Some(a) = cfg.advertise_addr_lan {
        return a;
    }
    if !cfg.bind_addr.is_unspecified() {
        return cfg.bind_addr;
    }
    // Connecting a UDP socket sends nothing; it only asks the kernel for the source address.
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|s| {
            s.connect((Ipv4Addr::new(10, 255, 255, 255), 9))?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Consul's node tagged addresses: `lan`, `lan_ipv4`/`lan_ipv6`, `wan`, `wan_ipv4`/`wan_ipv6`,
/// plus any configured ones.
pub fn tagged_addresses(cfg: &RuntimeConfig, lan: IpAddr) -> BTreeMap<String, String> {
    let wan = cfg.advertise_addr_wan.unwrap_or(lan);
    let mut t = BTreeMap::new();
    let family = |ip: &IpAddr| if ip.is_ipv4() { "ipv4" } else { "ipv6" };
    t.insert("lan".to_string(), lan.to_string());
    t.insert(format!("lan_{}", family(&lan)), lan.to_string());
    t.insert("wan".to_string(), wan.to_string());
    t.insert(format!("wan_{}", family(&wan)), wan.to_string());
    for (k, v) in &cfg.tagged_addresses {
        t.insert(k.clone(), v.clone());
    }
    t
}
