//! Errors of the DNS interface.

use std::io;

/// Why the DNS server could not be configured or started.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// `domain` or `alt_domain` is not a valid domain name.
    #[error("invalid DNS domain {0:?}")]
    InvalidDomain(String),
    /// A recursor is not `ip`, `ip:port` or `[ipv6]:port`.
    #[error("Invalid recursor address: {0:?}")]
    InvalidRecursor(String),
    /// A socket operation failed while starting the server.
    #[error("DNS socket error: {0}")]
    Io(#[from] io::Error),
    /// The server's tasks ended with an error.
    #[error("DNS server error: {0}")]
    Server(String),
}

/// Why the backend could not answer a lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The datacenter is not known to the agent (answered with NXDOMAIN, as Consul's
    /// "No path to datacenter").
    #[error("No path to datacenter")]
    UnknownDatacenter,
    /// The catalog could not be read (answered with SERVFAIL).
    #[error("catalog unavailable: {0}")]
    Unavailable(String),
}
