//! Turning a check definition into a runner future, with Consul's defaults and clamps.

use crate::alias::{self, AliasTarget, BoxFuture};
use crate::config::{DEFAULT_SCRIPT_TIMEOUT, DEFAULT_TIMEOUT, MIN_INTERVAL};
use crate::error::CheckError;
use crate::output::DEFAULT_OUTPUT_MAX_SIZE;
use crate::registry::{Reporter, Shared};
use crate::runners::docker::DockerProbe;
use crate::runners::grpc::GrpcProbe;
use crate::runners::h2ping::H2PingProbe;
use crate::runners::http::HttpProbe;
use crate::runners::script::ScriptProbe;
use crate::runners::tcp::TcpProbe;
use crate::runners::udp::UdpProbe;
use crate::runners::{run_every, timeout_or, ttl, Probe};
use crate::thresholds::Thresholds;
use crate::tls::TlsSettings;
use cairn_types::requests::CheckType;
use std::time::Duration;

/// The kinds of checks the manager runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Http,
    Tcp,
    Udp,
    Grpc,
    H2Ping,
    Ttl,
    Script,
    Docker,
    Alias,
}

/// The kind of `def`, or why it cannot run.
pub(crate) fn kind_of(def: &CheckType) -> Result<Kind, CheckError> {
    Ok(match def.kind() {
        "http" => Kind::Http,
        "tcp" => Kind::Tcp,
        "udp" => Kind::Udp,
        "grpc" => Kind::Grpc,
        "h2ping" => Kind::H2Ping,
        "ttl" => Kind::Ttl,
        "script" => Kind::Script,
        "docker" => Kind::Docker,
        "alias" => Kind::Alias,
        "os_service" => return Err(CheckError::NotImplemented),
        _ => return Err(CheckError::InvalidType),
    })
}

/// The output limit of a check: the agent's, lowered (never raised) by the check's own.
pub(crate) fn output_max(agent_max: usize, def: &CheckType) -> usize {
    let agent_max = if agent_max == 0 {
        DEFAULT_OUTPUT_MAX_SIZE
    } else {
        agent_max
    };
    let own = def.output_max_size as usize;
    if own > 0 && agent_max > own {
        own
    } else {
        agent_max
    }
}

/// The interval to run at: Consul raises intervals below one second, with a warning.
pub(crate) fn interval(id: &str, def: &CheckType) -> Duration {
    let interval = def.interval.as_duration();
    if interval < MIN_INTERVAL {
        tracing::warn!(
            check = id,
            minimum_interval = ?MIN_INTERVAL,
            "check has interval below minimum"
        );
        MIN_INTERVAL
    } else {
        interval
    }
}

fn every<P: Probe>(
    probe: P,
    interval: Duration,
    def: &CheckType,
    reporter: Reporter,
) -> BoxFuture<'static, ()> {
    let thresholds = Thresholds::new(
        def.success_before_passing,
        def.failures_before_warning,
        def.failures_before_critical,
    );
    Box::pin(run_every(probe, interval, thresholds, reporter))
}

/// Builds the runner future of `def`. TTL checks need their [`crate::registry::TtlState`]
/// in the table before the future first runs.
pub(crate) fn runner(
    shared: &Shared,
    kind: Kind,
    def: &CheckType,
    reporter: Reporter,
) -> Result<BoxFuture<'static, ()>, CheckError> {
    let id = reporter.id.clone();
    let max = output_max(shared.config.check_output_max_size, def);
    let timeout = def.timeout.as_duration();
    Ok(match kind {
        Kind::Ttl => Box::pin(ttl::run(reporter)),
        Kind::Alias => {
            let target = AliasTarget {
                node: def.alias_node.clone(),
                service_id: def.alias_service.clone(),
                token: def.token.clone(),
            };
            let changes = shared.local_changes.subscribe();
            Box::pin(alias::run(reporter, target, changes))
        }
        Kind::Http => {
            let probe = HttpProbe::new(
                &shared.http_clients,
                def,
                timeout_or(timeout, DEFAULT_TIMEOUT),
                max,
            );
            every(probe, interval(&id, def), def, reporter)
        }
        Kind::Tcp => {
            let tls = def
                .tcp_use_tls
                .then(|| TlsSettings::new(def.tls_skip_verify, &def.tls_server_name, &[]));
            let probe = TcpProbe {
                addr: def.tcp.clone(),
                timeout: timeout_or(timeout, DEFAULT_TIMEOUT),
                tls,
            };
            every(probe, interval(&id, def), def, reporter)
        }
        Kind::Udp => {
            let probe = UdpProbe {
                addr: def.udp.clone(),
                timeout: timeout_or(timeout, DEFAULT_TIMEOUT),
            };
            every(probe, interval(&id, def), def, reporter)
        }
        Kind::Grpc => {
            let tls = def
                .grpc_use_tls
                .then(|| TlsSettings::new(def.tls_skip_verify, &def.tls_server_name, &[b"h2"]));
            let probe = GrpcProbe {
                target: def.grpc.clone(),
                timeout: timeout_or(timeout, DEFAULT_TIMEOUT),
                tls,
            };
            every(probe, interval(&id, def), def, reporter)
        }
        Kind::H2Ping => {
            let tls = def
                .h2ping_use_tls
                .then(|| TlsSettings::new(def.tls_skip_verify, &def.tls_server_name, &[b"h2"]));
            let probe = H2PingProbe {
                target: def.h2ping.clone(),
                timeout: timeout_or(timeout, DEFAULT_TIMEOUT),
                tls,
            };
            every(probe, interval(&id, def), def, reporter)
        }
        Kind::Script => {
            let probe = ScriptProbe {
                args: def.script_args.clone(),
                timeout: timeout_or(timeout, DEFAULT_SCRIPT_TIMEOUT),
                output_max: max,
            };
            every(probe, interval(&id, def), def, reporter)
        }
        Kind::Docker => {
            let host = shared.docker.clone().map_err(CheckError::DockerHost)?;
            let probe = DockerProbe {
                host,
                container: def.docker_container_id.clone(),
                cmd: def.script_args.clone(),
                output_max: max,
                timeout: (!timeout.is_zero()).then_some(timeout),
            };
            every(probe, interval(&id, def), def, reporter)
        }
    })
}
