//! Alias checks: mirror the health of another service instance (or node).
//!
//! The manager knows no catalog, so the agent implements [`AliasSource`]: it answers with the
//! checks of a node (its local state when the alias names no node, a blocking catalog query
//! otherwise) and says whether a service exists. For local aliases the agent must also call
//! [`crate::CheckManager::notify_local_checks_changed`] whenever a local check changes; the
//! alias re-evaluates then, and at least once a minute regardless (as Consul does).

use crate::output::go_quote;
use crate::registry::Reporter;
use cairn_types::{CheckStatus, HealthCheck};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::watch;

/// A boxed, sendable future (what [`AliasSource`] methods return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Consul re-reads local checks at least this often even without notifications.
const LOCAL_REFRESH: Duration = Duration::from_secs(60);
/// Longest wait of a remote blocking query.
const REMOTE_MAX_WAIT: Duration = Duration::from_secs(60);
/// Failed remote queries retried this many times before backing off.
const BACKOFF_MIN_ATTEMPTS: u32 = 3;
/// Longest backoff between failed remote queries.
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// A request for the checks an alias looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasQuery {
    /// The node (`AliasNode`); empty means this agent's local state.
    pub node: String,
    /// For a node: block until the catalog index exceeds this (0: answer at once).
    pub min_index: u64,
    /// For a node: the longest time to block.
    pub max_wait: Duration,
    /// ACL token (the check's `Token`; the agent falls back to its user token when empty).
    pub token: String,
}

/// The checks of a node, with the catalog index they were read at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AliasChecks {
    /// Index for the next blocking query (ignored for local state).
    pub index: u64,
    /// Every check of the node: node checks and service checks alike.
    pub checks: Vec<HealthCheck>,
}

/// A request to tell whether a service instance exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceQuery {
    /// The node; empty means this agent's local state.
    pub node: String,
    /// The service ID.
    pub service_id: String,
    /// ACL token, as in [`AliasQuery`].
    pub token: String,
}

/// What alias checks need from the agent.
pub trait AliasSource: Send + Sync + 'static {
    /// The checks of `query.node` (or of the local agent), blocking for a node as a
    /// blocking query would. Errors are reported as the alias check's output.
    fn node_checks(&self, query: AliasQuery) -> BoxFuture<'_, Result<AliasChecks, String>>;

    /// Whether the service instance exists. On error the alias assumes it does.
    fn service_exists(&self, query: ServiceQuery) -> BoxFuture<'_, Result<bool, String>>;
}

/// What an alias check mirrors.
#[derive(Debug, Clone)]
pub(crate) struct AliasTarget {
    pub(crate) node: String,
    pub(crate) service_id: String,
    pub(crate) token: String,
}

/// Consul's `processChecks`: the worst status among the matching checks (critical wins at
/// once), or critical when the service has no checks and does not exist.
pub(crate) fn evaluate(
    target: &AliasTarget,
    checks: &[HealthCheck],
    service_exists: impl FnOnce() -> bool,
) -> (CheckStatus, String) {
    let mut health = CheckStatus::Passing;
    let mut msg = "No checks found.".to_owned();
    let mut service_found = false;
    for chk in checks {
        if !target.node.is_empty() && !target.node.eq_ignore_ascii_case(&chk.node) {
            continue;
        }
        let service_match = chk.service_id == target.service_id;
        if !chk.service_id.is_empty() && !service_match {
            continue;
        }
        if service_match {
            service_found = true;
        }
        let status = match chk.status {
            CheckStatus::Maintenance => CheckStatus::Critical,
            s => s,
        };
        if status == CheckStatus::Critical || status == CheckStatus::Warning {
            health = status;
            msg = format!(
                "Aliased check {} failing: {}",
                go_quote(&chk.name),
                chk.output
            );
            if status == CheckStatus::Critical {
                break;
            }
        } else if health == CheckStatus::Passing {
            msg = "All checks passing.".to_owned();
        }
    }
    if !service_found && !service_exists() {
        msg = format!(
            "Service {} could not be found on node {}",
            target.service_id, target.node
        );
        health = CheckStatus::Critical;
    }
    (health, msg)
}

async fn exists(reporter: &Reporter, target: &AliasTarget) -> bool {
    let Some(source) = reporter.shared.alias_source.read().clone() else {
        return true;
    };
    let query = ServiceQuery {
        node: target.node.clone(),
        service_id: target.service_id.clone(),
        token: target.token.clone(),
    };
    // Consul retries a remote lookup three times, one more second each time, then assumes
    // the service exists.
    let attempts: u32 = if target.node.is_empty() { 1 } else { 4 };
    for attempt in 1..=attempts {
        match source.service_exists(query.clone()).await {
            Ok(found) => return found,
            Err(e) => {
                tracing::debug!(error = %e, "alias check could not tell whether the service exists");
                if attempt < attempts {
                    tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
                }
            }
        }
    }
    true
}

async fn process(reporter: &Reporter, target: &AliasTarget, checks: &[HealthCheck]) {
    // Decide whether the existence lookup is needed before awaiting it.
    let mut needs_lookup = false;
    let (status, output) = evaluate(target, checks, || {
        needs_lookup = true;
        true
    });
    if needs_lookup && !exists(reporter, target).await {
        let (status, output) = evaluate(target, checks, || false);
        reporter.report(status, output);
        return;
    }
    reporter.report(status, output);
}

/// Runs one alias check until it is removed or replaced.
pub(crate) async fn run(
    reporter: Reporter,
    target: AliasTarget,
    mut changes: watch::Receiver<u64>,
) {
    if target.node.is_empty() {
        run_local(reporter, target, &mut changes).await
    } else {
        run_remote(reporter, target).await
    }
}

async fn run_local(reporter: Reporter, target: AliasTarget, changes: &mut watch::Receiver<u64>) {
    let mut notifications = true;
    loop {
        changes.borrow_and_update();
        let source = reporter.shared.alias_source.read().clone();
        match source {
            Some(source) => {
                let query = AliasQuery {
                    node: String::new(),
                    min_index: 0,
                    max_wait: Duration::ZERO,
                    token: target.token.clone(),
                };
                match source.node_checks(query).await {
                    Ok(found) => process(&reporter, &target, &found.checks).await,
                    Err(e) => reporter.report(
                        CheckStatus::Critical,
                        format!("Failure checking aliased node or service: {e}"),
                    ),
                }
            }
            None => reporter.report(
                CheckStatus::Critical,
                "Failure checking aliased node or service: no alias source on this agent"
                    .to_owned(),
            ),
        }
        if notifications {
            tokio::select! {
                r = changes.changed() => notifications = r.is_ok(),
                _ = tokio::time::sleep(LOCAL_REFRESH) => {}
            }
        } else {
            tokio::time::sleep(LOCAL_REFRESH).await;
        }
    }
}

async fn run_remote(reporter: Reporter, target: AliasTarget) {
    let mut index = 0u64;
    let mut attempt = 0u32;
    loop {
        if attempt > BACKOFF_MIN_ATTEMPTS {
            let shift = (attempt - BACKOFF_MIN_ATTEMPTS).min(31);
            let wait = Duration::from_secs(1u64 << shift).min(BACKOFF_MAX);
            tokio::time::sleep(wait).await;
        }
        let source = reporter.shared.alias_source.read().clone();
        let result = match source {
            Some(source) => {
                source
                    .node_checks(AliasQuery {
                        node: target.node.clone(),
                        min_index: index,
                        max_wait: REMOTE_MAX_WAIT,
                        token: target.token.clone(),
                    })
                    .await
            }
            None => Err("no alias source on this agent".to_owned()),
        };
        match result {
            Ok(found) => {
                attempt = 0;
                // Always block on later queries, even if the source answers index 0.
                index = found.index.max(1);
                process(&reporter, &target, &found.checks).await;
            }
            Err(e) => {
                attempt += 1;
                if attempt > 1 {
                    reporter.report(
                        CheckStatus::Critical,
                        format!("Failure checking aliased node or service: {e}"),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        node: &str,
        service: &str,
        name: &str,
        status: CheckStatus,
        output: &str,
    ) -> HealthCheck {
        HealthCheck {
            node: node.into(),
            check_id: name.into(),
            name: name.into(),
            service_id: service.into(),
            status,
            output: output.into(),
            ..HealthCheck::default()
        }
    }

    fn target(node: &str, service: &str) -> AliasTarget {
        AliasTarget {
            node: node.into(),
            service_id: service.into(),
            token: String::new(),
        }
    }

    #[test]
    fn worst_status_wins_and_critical_stops() {
        use CheckStatus::*;
        let t = target("", "web");
        let checks = vec![
            check("n1", "web", "a", Passing, ""),
            check("n1", "web", "b", Warning, "slow"),
            check("n1", "db", "c", Critical, "down"),
            check("n1", "web", "d", Passing, ""),
        ];
        assert_eq!(
            evaluate(&t, &checks, || true),
            (Warning, "Aliased check \"b\" failing: slow".into())
        );
        let checks = vec![
            check("n1", "web", "b", Warning, "slow"),
            check("n1", "", "serfHealth", Critical, "Agent not live"),
            check("n1", "web", "e", Critical, "late"),
        ];
        // Node checks count too; the first critical decides.
        assert_eq!(
            evaluate(&t, &checks, || true),
            (
                Critical,
                "Aliased check \"serfHealth\" failing: Agent not live".into()
            )
        );
    }

    #[test]
    fn passing_missing_and_node_filter() {
        use CheckStatus::*;
        let t = target("", "web");
        assert_eq!(
            evaluate(&t, &[check("n1", "web", "a", Passing, "")], || true),
            (Passing, "All checks passing.".into())
        );
        // No checks but the service exists.
        assert_eq!(
            evaluate(&t, &[], || true),
            (Passing, "No checks found.".into())
        );
        // No checks and no service.
        assert_eq!(
            evaluate(&t, &[], || false),
            (Critical, "Service web could not be found on node ".into())
        );
        // Other nodes' checks are ignored when a node is named (case-insensitively).
        let t = target("N2", "web");
        let checks = vec![
            check("n1", "web", "a", Critical, "x"),
            check("n2", "web", "b", Passing, ""),
        ];
        assert_eq!(
            evaluate(&t, &checks, || true),
            (Passing, "All checks passing.".into())
        );
    }

    #[test]
    fn node_alias_uses_node_checks_only() {
        use CheckStatus::*;
        let t = target("n1", "");
        let checks = vec![
            check("n1", "web", "a", Critical, "x"),
            check("n1", "", "serfHealth", Passing, "Agent alive and reachable"),
        ];
        assert_eq!(
            evaluate(&t, &checks, || false),
            (Passing, "All checks passing.".into())
        );
    }
}
