//! What the agent tells the manager: agent-wide settings and per-check options.

use crate::output::DEFAULT_OUTPUT_MAX_SIZE;
use cairn_types::CheckStatus;
use std::time::Duration;

/// Consul's smallest interval between two runs of a check (`checks.MinInterval`); shorter
/// intervals are raised to it with a warning.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Default timeout of HTTP, TCP, UDP, gRPC and H2PING checks.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default timeout of script checks (Consul's `CheckMonitor` uses 30 s, not 10 s).
pub const DEFAULT_SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Consul's default Docker endpoint when `DOCKER_HOST` is unset.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// Agent-wide settings of the check manager (the agent fills these from its runtime config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerConfig {
    /// `enable_script_checks`: script and Docker checks are allowed from every source.
    pub enable_script_checks: bool,
    /// `enable_local_script_checks`: script and Docker checks are allowed from config files.
    pub enable_local_script_checks: bool,
    /// `check_output_max_size`: the largest output kept (a check's own `OutputMaxSize` can
    /// only lower it). Zero means the default, 4096.
    pub check_output_max_size: usize,
    /// `discard_check_output`: report every output as empty.
    pub discard_check_output: bool,
    /// `check_deregister_interval_min`: the smallest `DeregisterCriticalServiceAfter`
    /// honoured (Consul: 1 minute).
    pub deregister_interval_min: Duration,
    /// `check_reap_interval`: how often critical checks are examined for
    /// `DeregisterCriticalServiceAfter` (Consul: 30 s).
    pub reap_interval: Duration,
    /// The Docker Engine endpoint (`DOCKER_HOST`): `unix:///path` or `tcp://host:port`.
    pub docker_host: String,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            enable_script_checks: false,
            enable_local_script_checks: false,
            check_output_max_size: DEFAULT_OUTPUT_MAX_SIZE,
            discard_check_output: false,
            deregister_interval_min: Duration::from_secs(60),
            reap_interval: Duration::from_secs(30),
            docker_host: DEFAULT_DOCKER_HOST.to_owned(),
        }
    }
}

/// Where a check definition came from; script checks are gated per source, as in Consul.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CheckSource {
    /// A configuration file (Consul's `ConfigSourceLocal`).
    Config,
    /// The HTTP API (Consul's `ConfigSourceRemote`).
    #[default]
    Api,
}

/// Per-check options besides the definition itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Where the definition came from.
    pub source: CheckSource,
    /// The service the check belongs to (empty: a node check, or use the definition's
    /// `ServiceID`). Needed for `DeregisterCriticalServiceAfter`.
    pub service_id: String,
    /// Status to start from instead of the definition's `Status` (e.g. restored from the data
    /// dir or kept across a reload).
    pub initial_status: Option<CheckStatus>,
    /// Output to start from (goes with `initial_status`).
    pub initial_output: String,
}

impl CheckOptions {
    /// Options for a check from a configuration file.
    pub fn config() -> Self {
        CheckOptions {
            source: CheckSource::Config,
            ..CheckOptions::default()
        }
    }

    /// Options for a check registered through the HTTP API.
    pub fn api() -> Self {
        CheckOptions::default()
    }

    /// The same options, tied to a service.
    pub fn for_service(mut self, service_id: impl Into<String>) -> Self {
        self.service_id = service_id.into();
        self
    }
}

/// A check's current status and output as the manager holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckState {
    /// Current status.
    pub status: CheckStatus,
    /// Current output (already truncated).
    pub output: String,
}
