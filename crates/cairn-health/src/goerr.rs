//! Go-style texts for network errors, so check output reads like a Consul agent's.
//!
//! Consul puts `err.Error()` of Go's `net` and `net/http` errors into check output, e.g.
//! `dial tcp 127.0.0.1:1: connect: connection refused`. Tools and people grep for these.

use std::io;

/// The `syscall: reason` part of a Go `net.OpError` for an I/O error during `op`
/// (`connect`, `read`, `write`).
pub(crate) fn syscall_text(op: &str, err: &io::Error) -> String {
    use io::ErrorKind::*;
    match err.kind() {
        TimedOut | WouldBlock => "i/o timeout".to_owned(),
        ConnectionRefused => format!("{op}: connection refused"),
        ConnectionReset => format!("{op}: connection reset by peer"),
        NotFound => format!("{op}: no such file or directory"),
        PermissionDenied => format!("{op}: permission denied"),
        AddrNotAvailable => format!("{op}: cannot assign requested address"),
        NetworkUnreachable => format!("{op}: network is unreachable"),
        HostUnreachable => format!("{op}: no route to host"),
        _ => format!("{op}: {}", plain_io_text(err)),
    }
}

/// An `io::Error`'s text without Rust's ` (os error N)` suffix and with a lower-case start,
/// which is how Go's `syscall.Errno` texts read.
pub(crate) fn plain_io_text(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error") {
        Some(i) => text[..i].to_owned(),
        None => text,
    };
    lower_first(&text)
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Go's text for a failed dial of `network` (`tcp`, `udp`, `unix`) to `addr`.
pub(crate) fn dial_error(network: &str, addr: &str, err: &io::Error) -> String {
    format!("dial {network} {addr}: {}", syscall_text("connect", err))
}

/// Go's text for a name that did not resolve.
pub(crate) fn lookup_error(network: &str, host: &str) -> String {
    format!("dial {network}: lookup {host}: no such host")
}

/// Go's text for an address without a port.
pub(crate) fn missing_port(network: &str, addr: &str) -> String {
    format!("dial {network}: address {addr}: missing port in address")
}

/// Splits `host:port` (with `[v6]:port` support) the way Go's `net.SplitHostPort` accepts it.
pub(crate) fn split_host_port(addr: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let end = rest.find(']')?;
        let port = rest[end + 1..].strip_prefix(':')?;
        (&rest[..end], port)
    } else {
        let colon = addr.rfind(':')?;
        let host = &addr[..colon];
        if host.contains(':') {
            return None;
        }
        (host, &addr[colon + 1..])
    };
    let port = port.parse().ok()?;
    Some((host, port))
}

/// Resolves `addr` (`host:port`) for `network`, with Go-style error texts.
pub(crate) async fn resolve(
    network: &str,
    addr: &str,
) -> Result<Vec<std::net::SocketAddr>, String> {
    let Some((host, port)) = split_host_port(addr) else {
        return Err(missing_port(network, addr));
    };
    let host = if host.is_empty() { "localhost" } else { host };
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            if addrs.is_empty() {
                Err(lookup_error(network, host))
            } else {
                Ok(addrs)
            }
        }
        Err(_) => Err(lookup_error(network, host)),
    }
}

/// Connects over TCP like Go's dialer: resolve, then try each address in turn; the error text
/// is Go's for the last failure. No timeout here; callers bound the whole attempt.
pub(crate) async fn dial_tcp(addr: &str) -> Result<tokio::net::TcpStream, String> {
    let addrs = resolve("tcp", addr).await?;
    let mut last = None;
    for a in addrs {
        match tokio::net::TcpStream::connect(a).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(dial_error("tcp", &a.to_string(), &e)),
        }
    }
    Err(last.unwrap_or_else(|| lookup_error("tcp", addr)))
}

/// Go's text for a dial that ran out of time.
pub(crate) fn dial_timeout(network: &str, addr: &str) -> String {
    format!("dial {network} {addr}: i/o timeout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_read_like_go() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            dial_error("tcp", "127.0.0.1:1", &refused),
            "dial tcp 127.0.0.1:1: connect: connection refused"
        );
        let enoent = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(
            dial_error("unix", "/var/run/docker.sock", &enoent),
            "dial unix /var/run/docker.sock: connect: no such file or directory"
        );
        let other = io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(plain_io_text(&other), "too many open files");
    }

    #[test]
    fn host_port_split() {
        assert_eq!(split_host_port("127.0.0.1:80"), Some(("127.0.0.1", 80)));
        assert_eq!(split_host_port("[::1]:8500"), Some(("::1", 8500)));
        assert_eq!(split_host_port(":53"), Some(("", 53)));
        assert_eq!(split_host_port("localhost"), None);
        assert_eq!(split_host_port("::1:80"), None);
        assert_eq!(split_host_port("host:http"), None);
    }
}
