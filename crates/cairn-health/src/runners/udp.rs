//! UDP checks: send a datagram, passing on a reply or on silence until the timeout, critical
//! when the send fails or the port is refused (ICMP port unreachable).

use super::{Outcome, Probe};
use crate::goerr;
use std::time::Duration;
use tokio::net::UdpSocket;

/// A UDP check.
pub(crate) struct UdpProbe {
    pub(crate) addr: String,
    pub(crate) timeout: Duration,
}

impl UdpProbe {
    fn success(&self) -> Outcome {
        Outcome::passing(format!("UDP connect {}: Success", self.addr))
    }
}

impl Probe for UdpProbe {
    async fn run(&self) -> Outcome {
        let target = match goerr::resolve("udp", &self.addr).await {
            Ok(addrs) => addrs[0],
            Err(e) => return Outcome::critical(e),
        };
        let local = if target.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = match UdpSocket::bind(local).await {
            Ok(s) => s,
            Err(e) => return Outcome::critical(goerr::dial_error("udp", &self.addr, &e)),
        };
        if let Err(e) = socket.connect(target).await {
            return Outcome::critical(goerr::dial_error("udp", &self.addr, &e));
        }
        let local = socket
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        // Consul writes its (empty) message; an empty datagram is still a datagram.
        if let Err(e) = socket.send(&[]).await {
            return Outcome::critical(format!(
                "write udp {local}->{target}: {}",
                goerr::syscall_text("write", &e)
            ));
        }
        let mut buf = [0u8; 1];
        match tokio::time::timeout(self.timeout, socket.recv(&mut buf)).await {
            Ok(Ok(_)) => self.success(),
            // Silence until the deadline is Consul's "i/o timeout" case: passing.
            Err(_) => self.success(),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => self.success(),
            Ok(Err(e)) => {
                tracing::warn!(addr = %self.addr, error = %e, "UDP check read failed");
                Outcome::critical(format!(
                    "read udp {local}->{target}: {}",
                    goerr::syscall_text("read", &e)
                ))
            }
        }
    }
}
