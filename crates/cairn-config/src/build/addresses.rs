//! Address values: space-separated lists, IPv4/IPv6 literals, `unix://` sockets, CIDRs.
//!
//! Consul expands go-sockaddr templates (`{{ GetPrivateIP }}`) here; Cairn does not evaluate
//! them and says so, rather than binding somewhere unexpected.

use crate::runtime::ListenAddr;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// One parsed address: an IP or a Unix socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Addr {
    Ip(IpAddr),
    Unix(PathBuf),
}

/// Refuse go-sockaddr templates with a clear message.
pub(crate) fn reject_template(key: &str, text: &str) -> Result<(), String> {
    if text.contains("{{") {
        return Err(format!(
            "{key}: go-sockaddr templates are not supported by Cairn: {text:?}; give literal addresses"
        ));
    }
    Ok(())
}

/// An IP literal; `[::]`-style brackets are accepted, as Consul accepts `[::]`.
pub(crate) fn parse_ip(text: &str) -> Option<IpAddr> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse().ok()
}

/// A space-separated list of IPs and `unix://` paths (Consul's `expandAddrs`).
pub(crate) fn expand_addrs(key: &str, text: Option<&str>) -> Result<Vec<Addr>, String> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    reject_template(key, text)?;
    text.split_whitespace()
        .map(|a| {
            if let Some(path) = a.strip_prefix("unix://") {
                Ok(Addr::Unix(PathBuf::from(path)))
            } else {
                parse_ip(a)
                    .map(Addr::Ip)
                    .ok_or_else(|| format!("{key}: invalid ip address: {a}"))
            }
        })
        .collect()
}

/// A space-separated list of IPs only (Consul's `expandIPs`).
pub(crate) fn expand_ips(key: &str, text: Option<&str>) -> Result<Vec<IpAddr>, String> {
    expand_addrs(key, text)?
        .into_iter()
        .map(|a| match a {
            Addr::Ip(ip) => Ok(ip),
            Addr::Unix(_) => Err(format!("{key} cannot be a unix socket")),
        })
        .collect()
}

/// At most one IP (Consul's `expandFirstIP`).
pub(crate) fn expand_first_ip(key: &str, text: Option<&str>) -> Result<Option<IpAddr>, String> {
    let ips = expand_addrs(key, text)?;
    match ips.as_slice() {
        [] => Ok(None),
        [Addr::Ip(ip)] => Ok(Some(*ip)),
        [Addr::Unix(_)] => Err(format!("{key} cannot be a unix socket")),
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|a| match a {
                    Addr::Ip(ip) => ip.to_string(),
                    Addr::Unix(p) => format!("unix://{}", p.display()),
                })
                .collect();
            Err(format!(
                "{key}: multiple addresses found: {}",
                list.join(" ")
            ))
        }
    }
}

/// Listener addresses for one protocol: its own `addresses.*` entry, else the client
/// addresses, each with `port`; none when the port is off.
pub(crate) fn listen_addrs(own: &[Addr], client: &[IpAddr], port: Option<u16>) -> Vec<ListenAddr> {
    let Some(port) = port else {
        return Vec::new();
    };
    if own.is_empty() {
        return client
            .iter()
            .map(|ip| ListenAddr::Tcp(SocketAddr::new(*ip, port)))
            .collect();
    }
    own.iter()
        .map(|a| match a {
            Addr::Ip(ip) => ListenAddr::Tcp(SocketAddr::new(*ip, port)),
            Addr::Unix(path) => ListenAddr::Unix(path.clone()),
        })
        .collect()
}

/// Check a CIDR (`10.0.0.0/8`, `fd00::/8`); the text is kept as given.
pub(crate) fn check_cidr(text: &str) -> bool {
    let Some((ip, bits)) = text.trim().split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => bits <= 32,
        Ok(IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_lists_sockets_and_brackets() {
        assert_eq!(
            expand_addrs("client_addr", Some("127.0.0.1 [::] unix:///tmp/s")).unwrap(),
            vec![
                Addr::Ip("127.0.0.1".parse().unwrap()),
                Addr::Ip("::".parse().unwrap()),
                Addr::Unix("/tmp/s".into())
            ]
        );
        assert_eq!(
            expand_ips("client_addr", Some("unix:///x")).unwrap_err(),
            "client_addr cannot be a unix socket"
        );
        assert_eq!(
            expand_first_ip("bind_addr", Some("1.1.1.1 2.2.2.2")).unwrap_err(),
            "bind_addr: multiple addresses found: 1.1.1.1 2.2.2.2"
        );
        assert_eq!(
            expand_addrs("addresses.http", Some("nope")).unwrap_err(),
            "addresses.http: invalid ip address: nope"
        );
        assert!(expand_addrs("bind_addr", Some("{{ GetPrivateIP }}"))
            .unwrap_err()
            .contains("go-sockaddr templates are not supported"));
    }

    #[test]
    fn cidrs() {
        assert!(check_cidr("10.0.0.0/8"));
        assert!(check_cidr("fd00::/8"));
        assert!(!check_cidr("10.0.0.0/33"));
        assert!(!check_cidr("10.0.0.0"));
        assert!(!check_cidr("x/8"));
    }
}
