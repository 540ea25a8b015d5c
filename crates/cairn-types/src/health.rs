//! Health checks and their states.

use crate::catalog::{AgentService, Node};
use crate::duration::{nanos, GoDuration};
use crate::wire::{is_false, is_zero_u32};
use serde::de;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The state of a health check. Ordered from best to worst.
///
/// Decoding accepts an empty string as `critical`, as Consul's state store does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// The check passes.
    Passing,
    /// The check warns.
    Warning,
    /// The check fails. Also the default of a new check, as in Consul.
    #[default]
    Critical,
    /// Node or service maintenance (Consul stores this as `critical`; kept for API symmetry).
    Maintenance,
}

impl CheckStatus {
    /// Consul's text for the status.
    pub fn as_str(&self) -> &'static str {
        match self {
            CheckStatus::Passing => "passing",
            CheckStatus::Warning => "warning",
            CheckStatus::Critical => "critical",
            CheckStatus::Maintenance => "maintenance",
        }
    }
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CheckStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "passing" => Ok(CheckStatus::Passing),
            "warning" => Ok(CheckStatus::Warning),
            "critical" => Ok(CheckStatus::Critical),
            "maintenance" => Ok(CheckStatus::Maintenance),
            other => Err(format!("Invalid check status: \"{other}\"")),
        }
    }
}

impl<'de> Deserialize<'de> for CheckStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.is_empty() {
            return Ok(CheckStatus::Critical);
        }
        text.parse().map_err(de::Error::custom)
    }
}

/// How a check is run, as echoed back in `HealthCheck.Definition`.
///
/// Every field is omitted when empty, as Consul's `HealthCheckDefinition` does; `TTL` is integer
/// nanoseconds there (Consul converts only the other durations to text).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CheckDefinition {
    /// HTTP URL.
    #[serde(rename = "HTTP", skip_serializing_if = "String::is_empty")]
    pub http: String,
    /// SNI server name.
    #[serde(rename = "TLSServerName", skip_serializing_if = "String::is_empty")]
    pub tls_server_name: String,
    /// Skip TLS verification.
    #[serde(rename = "TLSSkipVerify", skip_serializing_if = "is_false")]
    pub tls_skip_verify: bool,
    /// HTTP headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub header: BTreeMap<String, Vec<String>>,
    /// HTTP method.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// HTTP body.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Don't follow redirects.
    #[serde(skip_serializing_if = "is_false")]
    pub disable_redirects: bool,
    /// TCP address.
    #[serde(rename = "TCP", skip_serializing_if = "String::is_empty")]
    pub tcp: String,
    /// TLS for TCP checks.
    #[serde(rename = "TCPUseTLS", skip_serializing_if = "is_false")]
    pub tcp_use_tls: bool,
    /// UDP address.
    #[serde(rename = "UDP", skip_serializing_if = "String::is_empty")]
    pub udp: String,
    /// HTTP/2 ping address.
    #[serde(rename = "H2PING", skip_serializing_if = "String::is_empty")]
    pub h2ping: String,
    /// OS service name.
    #[serde(rename = "OSService", skip_serializing_if = "String::is_empty")]
    pub os_service: String,
    /// TLS for HTTP/2 ping checks.
    #[serde(rename = "H2PingUseTLS", skip_serializing_if = "is_false")]
    pub h2ping_use_tls: bool,
    /// Run interval.
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub interval: GoDuration,
    /// Largest output kept.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub output_max_size: u32,
    /// Timeout per run.
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub timeout: GoDuration,
    /// Reap the service after being critical this long.
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub deregister_critical_service_after: GoDuration,
    /// Script or Docker command.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub script_args: Vec<String>,
    /// Docker container.
    #[serde(rename = "DockerContainerID", skip_serializing_if = "String::is_empty")]
    pub docker_container_id: String,
    /// Docker shell.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub shell: String,
    /// gRPC address.
    #[serde(rename = "GRPC", skip_serializing_if = "String::is_empty")]
    pub grpc: String,
    /// TLS for gRPC checks.
    #[serde(rename = "GRPCUseTLS", skip_serializing_if = "is_false")]
    pub grpc_use_tls: bool,
    /// Aliased node.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alias_node: String,
    /// Aliased service.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alias_service: String,
    /// TTL, integer nanoseconds.
    #[serde(
        rename = "TTL",
        with = "nanos",
        skip_serializing_if = "GoDuration::is_zero"
    )]
    pub ttl: GoDuration,
}

/// A health check as stored in the catalog (`GET /v1/health/checks/:service` element).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthCheck {
    /// Node name.
    pub node: String,
    /// Check ID, unique on its node.
    #[serde(rename = "CheckID")]
    pub check_id: String,
    /// Human-readable name.
    pub name: String,
    /// Current status.
    pub status: CheckStatus,
    /// Operator notes.
    pub notes: String,
    /// Output of the last run.
    pub output: String,
    /// Service instance ID this check belongs to (empty for node checks).
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    /// Service name this check belongs to.
    pub service_name: String,
    /// Tags of that service.
    pub service_tags: Vec<String>,
    /// Check type (`http`, `tcp`, `ttl`, `script`, `grpc`, `alias`, `docker`, or empty).
    #[serde(rename = "Type")]
    pub check_type: String,
    /// Interval as a Go duration string (empty when not applicable).
    pub interval: String,
    /// Timeout as a Go duration string (empty when not applicable).
    pub timeout: String,
    /// Exposed port (Connect), zero when unused.
    pub exposed_port: u16,
    /// The definition this check runs with.
    pub definition: CheckDefinition,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of last change.
    pub modify_index: u64,
}

/// A service instance with its node and all checks (`GET /v1/health/service/:name` element).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceEntry {
    /// The node.
    pub node: Node,
    /// The service instance.
    pub service: AgentService,
    /// Node checks and this instance's checks.
    pub checks: Vec<HealthCheck>,
}
