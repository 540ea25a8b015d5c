//! TCP checks: passing when a connection (optionally a TLS handshake) succeeds.

use super::{Outcome, Probe};
use crate::goerr;
use crate::tls::TlsSettings;
use std::time::Duration;

/// A TCP (or TCP+TLS) connect check.
pub(crate) struct TcpProbe {
    pub(crate) addr: String,
    pub(crate) timeout: Duration,
    /// TLS settings when `TCPUseTLS` is set.
    pub(crate) tls: Option<TlsSettings>,
}

impl Probe for TcpProbe {
    async fn run(&self) -> Outcome {
        let kind = if self.tls.is_some() { "TCP+TLS" } else { "TCP" };
        let attempt = async {
            let stream = goerr::dial_tcp(&self.addr).await?;
            if let Some(tls) = &self.tls {
                let host = goerr::split_host_port(&self.addr)
                    .map(|(h, _)| h)
                    .unwrap_or_default();
                tls.connect(host, stream).await?;
            }
            Ok::<(), String>(())
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(())) => Outcome::passing(format!("{kind} connect {}: Success", self.addr)),
            Ok(Err(e)) => {
                tracing::warn!(addr = %self.addr, error = %e, "{kind} check connection failed");
                Outcome::critical(e)
            }
            Err(_) => Outcome::critical(goerr::dial_timeout("tcp", &self.addr)),
        }
    }
}
