//! Errors of the check manager, worded as Consul's agent words them.

use crate::output::go_quote;

/// Why a check could not be added, updated or fed.
///
/// The `Display` texts are Consul's own, so the HTTP layer can pass them to clients unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The check ID is empty.
    #[error("CheckID missing")]
    MissingId,
    /// The definition fails Consul's validation (the message is the validation text).
    #[error("Check is not valid: {0}")]
    Invalid(String),
    /// The initial `Status` is not `passing`, `warning` or `critical`.
    #[error("{0}")]
    InvalidStatus(String),
    /// The definition names no check type Cairn can run.
    #[error("Check type is not valid")]
    InvalidType,
    /// The check type exists in Consul but not on this platform (Consul's Unix agents answer
    /// the same for `OSService` checks).
    #[error("not implemented")]
    NotImplemented,
    /// A script or Docker check from a configuration file while local script checks are off.
    #[error(
        "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true"
    )]
    ScriptsDisabled,
    /// A script or Docker check from the HTTP API while `enable_script_checks` is off.
    #[error(
        "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true"
    )]
    ScriptsDisabledRemote,
    /// `DOCKER_HOST` (or the configured Docker host) cannot be parsed.
    #[error("unable to parse docker host `{0}`")]
    DockerHost(String),
    /// No check with this ID is known to the manager.
    #[error("Unknown check ID {}. Ensure that the check ID is passed, not the check name.", go_quote(.0))]
    UnknownCheck(String),
    /// The check exists but is not a TTL check.
    #[error("CheckID {} does not have associated TTL", go_quote(.0))]
    NotTtl(String),
    /// The manager was created outside a tokio runtime.
    #[error("health checks need a tokio runtime")]
    NoRuntime,
}
