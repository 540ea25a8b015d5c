//! Check runners: one tokio task per check.
//!
//! Interval checks (HTTP, TCP, UDP, gRPC, H2PING, script, Docker) share one loop: wait a
//! random stagger within the interval (so a thousand checks registered together do not fire
//! together), run the probe, pass the result through the thresholds, report, wait the interval
//! after the run finished, repeat. This is Consul's loop.

pub(crate) mod docker;
pub(crate) mod grpc;
pub(crate) mod h2ping;
pub(crate) mod http;
pub(crate) mod script;
pub(crate) mod tcp;
pub(crate) mod ttl;
pub(crate) mod udp;

use crate::registry::Reporter;
use crate::thresholds::Thresholds;
use cairn_types::CheckStatus;
use std::future::Future;
use std::time::Duration;

/// The result of one run of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) status: CheckStatus,
    pub(crate) output: String,
    /// Reported as is, bypassing the thresholds (Consul does so for script timeouts).
    pub(crate) skip_thresholds: bool,
}

impl Outcome {
    pub(crate) fn new(status: CheckStatus, output: impl Into<String>) -> Self {
        Outcome {
            status,
            output: output.into(),
            skip_thresholds: false,
        }
    }

    pub(crate) fn passing(output: impl Into<String>) -> Self {
        Outcome::new(CheckStatus::Passing, output)
    }

    pub(crate) fn critical(output: impl Into<String>) -> Self {
        Outcome::new(CheckStatus::Critical, output)
    }

    /// Critical, bypassing the thresholds.
    pub(crate) fn critical_now(output: impl Into<String>) -> Self {
        Outcome {
            skip_thresholds: true,
            ..Outcome::critical(output)
        }
    }
}

/// One kind of interval check.
pub(crate) trait Probe: Send + Sync + 'static {
    /// Runs the check once.
    fn run(&self) -> impl Future<Output = Outcome> + Send;
}

/// A random duration in `[0, interval)` (Consul's `lib.RandomStagger`).
pub(crate) fn stagger(interval: Duration) -> Duration {
    let nanos = interval.as_nanos().min(u64::MAX as u128) as u64;
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(fastrand::u64(0..nanos))
}

/// Consul's interval loop for `probe`.
pub(crate) async fn run_every<P: Probe>(
    probe: P,
    interval: Duration,
    mut thresholds: Thresholds,
    reporter: Reporter,
) {
    tokio::time::sleep(stagger(interval)).await;
    loop {
        let outcome = probe.run().await;
        if outcome.skip_thresholds {
            reporter.report(outcome.status, outcome.output);
        } else if let Some(status) = thresholds.observe(outcome.status) {
            reporter.report(status, outcome.output);
        } else {
            tracing::warn!(
                check = %reporter.id,
                status = %outcome.status,
                "check result held back by its success/failure thresholds"
            );
        }
        tokio::time::sleep(interval).await;
    }
}

/// `timeout` or `default` when zero.
pub(crate) fn timeout_or(timeout: Duration, default: Duration) -> Duration {
    if timeout.is_zero() {
        default
    } else {
        timeout
    }
}
