//! Connection helpers shared by the raft transport and the forwarding client.

use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// HTTP/2 keepalive pings: a peer that stops answering is noticed within
/// `KEEPALIVE_INTERVAL + KEEPALIVE_TIMEOUT`, even on an idle connection.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// The URI for a server address: `host:port` gets `http://` in front; a full URI is kept.
pub(crate) fn uri_for(addr: &str) -> String {
    if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    }
}

/// Connect (TCP and HTTP/2) to `addr`, giving up after `connect_timeout`.
pub(crate) async fn connect(
    addr: &str,
    connect_timeout: Duration,
    local_address: Option<std::net::IpAddr>,
) -> Result<Channel, String> {
    let endpoint = Endpoint::from_shared(uri_for(addr))
        .map_err(|e| format!("invalid address {addr:?}: {}", chain(&e)))?
        .connect_timeout(connect_timeout)
        .local_address(local_address)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true)
        .http2_adaptive_window(true);
    match tokio::time::timeout(connect_timeout, endpoint.connect()).await {
        Ok(Ok(channel)) => Ok(channel),
        Ok(Err(e)) => Err(format!("failed to connect to {addr}: {}", chain(&e))),
        Err(_) => Err(format!(
            "failed to connect to {addr}: timed out after {connect_timeout:?}"
        )),
    }
}

/// An error and its sources on one line (`transport error: connection refused`).
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_uris() {
        assert_eq!(uri_for("127.0.0.1:8300"), "http://127.0.0.1:8300");
        assert_eq!(uri_for("http://[::1]:8300"), "http://[::1]:8300");
    }
}
