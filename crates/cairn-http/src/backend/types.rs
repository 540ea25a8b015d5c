//! Shapes the backends hand to the HTTP layer that have no home in `cairn-types`: agent self
//! information, raft configuration, metrics, user events, log levels.

use cairn_catalog::{Coord, NodeCoordinate};
use cairn_types::Member;
pub use cairn_types::{RaftConfiguration, RaftServer, UserEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// `Config` of `GET /v1/agent/self`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentSelfConfig {
    /// Datacenter.
    pub datacenter: String,
    /// Primary datacenter.
    pub primary_datacenter: String,
    /// Node name.
    pub node_name: String,
    /// Node ID (UUID).
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// Source revision.
    pub revision: String,
    /// Whether the agent is a server.
    pub server: bool,
    /// A Consul-compatible version (`1.x.y`); clients gate features on it.
    pub version: String,
    /// Build date (RFC 3339).
    pub build_date: String,
    /// Shortest session TTL, integer nanoseconds (patroni reads it after `Invalid Session TTL`).
    #[serde(rename = "SessionTTLMin", with = "nanos")]
    pub session_ttl_min: Duration,
}

/// `GET /v1/agent/self`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentSelf {
    /// Identity and version.
    pub config: AgentSelfConfig,
    /// The agent's runtime configuration as the agent chooses to show it.
    pub debug_config: serde_json::Value,
    /// The agent's LAN coordinate, if coordinates are on.
    pub coord: Option<Coord>,
    /// The agent's own gossip member entry.
    pub member: Member,
    /// `consul`, `raft`, `serf_lan`, `agent`, `runtime`, `build` … sections of key/value text;
    /// `Stats.consul.leader_addr` must equal `/v1/status/leader`.
    pub stats: BTreeMap<String, BTreeMap<String, String>>,
    /// Node metadata.
    pub meta: BTreeMap<String, String>,
}

/// Which raft peer `DELETE /v1/operator/raft/peer` removes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RaftPeer {
    /// By server ID (`?id=`).
    Id(String),
    /// By address (`?address=ip:port`).
    Address(String),
}

/// WAN coordinates of one datacenter's servers (`GET /v1/coordinate/datacenters`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DatacenterCoordinates {
    /// Datacenter.
    pub datacenter: String,
    /// Network area (`WAN` for the default).
    #[serde(rename = "AreaID")]
    pub area_id: String,
    /// The servers' coordinates.
    pub coordinates: Vec<NodeCoordinate>,
}

/// A gauge of `GET /v1/agent/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GaugeValue {
    /// Dotted name (`consul.runtime.alloc_bytes`).
    pub name: String,
    /// Value.
    pub value: f64,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// A point series of `GET /v1/agent/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PointValue {
    /// Dotted name.
    pub name: String,
    /// Values.
    pub points: Vec<f64>,
}

/// A counter or sample aggregate of `GET /v1/agent/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SampledValue {
    /// Dotted name.
    pub name: String,
    /// Number of observations in the interval.
    pub count: u64,
    /// Rate per second.
    pub rate: f64,
    /// Sum.
    pub sum: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub stddev: f64,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// `GET /v1/agent/metrics` (JSON form; the Prometheus text is derived from it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MetricsSummary {
    /// Start of the interval (`2024-01-02 03:04:05 +0000 UTC`).
    pub timestamp: String,
    /// Gauges.
    pub gauges: Vec<GaugeValue>,
    /// Point series.
    pub points: Vec<PointValue>,
    /// Counters.
    pub counters: Vec<SampledValue>,
    /// Timings and other samples.
    pub samples: Vec<SampledValue>,
}

/// Minimum level of `GET /v1/agent/monitor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Everything.
    Trace,
    /// Debug and above.
    Debug,
    /// Info and above (the default).
    Info,
    /// Warnings and errors.
    Warn,
    /// Errors only.
    Error,
}

impl FromStr for LogLevel {
    type Err = String;

    /// hclog's level words, case-insensitively (`ERR` is accepted for `error`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "trace" => Ok(LogLevel::Trace),
            "debug" => Ok(LogLevel::Debug),
            "info" => Ok(LogLevel::Info),
            "warn" | "warning" => Ok(LogLevel::Warn),
            "err" | "error" => Ok(LogLevel::Error),
            _ => Err(format!("Unknown log level: {s}")),
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        })
    }
}

mod nanos {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_nanos(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ttl_min_is_nanoseconds() {
        let c = AgentSelfConfig {
            session_ttl_min: Duration::from_secs(10),
            ..AgentSelfConfig::default()
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["SessionTTLMin"], 10_000_000_000u64);
        assert_eq!(v["NodeID"], "");
    }

    #[test]
    fn log_levels_parse_like_hclog() {
        assert_eq!("INFO".parse::<LogLevel>(), Ok(LogLevel::Info));
        assert_eq!("err".parse::<LogLevel>(), Ok(LogLevel::Error));
        assert_eq!(
            "loud".parse::<LogLevel>(),
            Err("Unknown log level: loud".to_string())
        );
    }
}
