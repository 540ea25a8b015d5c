//! H2PING checks: open an HTTP/2 connection (h2c, or TLS with ALPN `h2`) and send a PING.

use super::{Outcome, Probe};
use crate::tls::{dial, TlsSettings};
use std::time::Duration;

/// An HTTP/2 ping check.
pub(crate) struct H2PingProbe {
    pub(crate) target: String,
    pub(crate) timeout: Duration,
    pub(crate) tls: Option<TlsSettings>,
}

impl H2PingProbe {
    async fn ping(&self) -> Result<(), String> {
        let io = dial(&self.target, self.tls.as_ref())
            .await
            .map_err(|e| format!("Failed to dial to {}: {e}", self.target))?;
        let (_send, mut conn) = h2::client::handshake(io)
            .await
            .map_err(|e| format!("Failed to create client connection {e}"))?;
        let mut ping_pong = conn
            .ping_pong()
            .ok_or_else(|| "HTTP2 ping failed: ping already in use".to_owned())?;
        tokio::select! {
            r = ping_pong.ping(h2::Ping::opaque()) => r.map(|_| ()).map_err(|e| format!("HTTP2 ping failed: {e}")),
            r = &mut conn => match r {
                Ok(()) => Err("HTTP2 ping failed: connection closed".to_owned()),
                Err(e) => Err(format!("HTTP2 ping failed: {e}")),
            },
        }
    }
}

impl Probe for H2PingProbe {
    async fn run(&self) -> Outcome {
        match tokio::time::timeout(self.timeout, self.ping()).await {
            Ok(Ok(())) => Outcome::passing("HTTP2 ping was successful"),
            Ok(Err(e)) => Outcome::critical(e),
            Err(_) => Outcome::critical("HTTP2 ping failed: context deadline exceeded"),
        }
    }
}
