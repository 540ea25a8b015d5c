//! Alias checks against an in-test `AliasSource`, on tokio's paused clock.

mod common;

use cairn_health::{
    AliasChecks, AliasQuery, AliasSource, BoxFuture, CheckManager, CheckOptions, ManagerConfig,
    ServiceQuery,
};
use cairn_types::requests::CheckType;
use cairn_types::CheckStatus::{self, Critical, Passing, Warning};
use cairn_types::HealthCheck;
use common::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Local checks and services, plus a "remote" node whose checks change with an index.
struct FakeAgent {
    local: Mutex<Vec<HealthCheck>>,
    services: Mutex<Vec<String>>,
    remote: watch::Sender<(u64, Vec<HealthCheck>)>,
    fail_remote: Mutex<Option<String>>,
    queries: Mutex<Vec<AliasQuery>>,
}

impl FakeAgent {
    fn new() -> Arc<FakeAgent> {
        Arc::new(FakeAgent {
            local: Mutex::new(Vec::new()),
            services: Mutex::new(Vec::new()),
            remote: watch::channel((1, Vec::new())).0,
            fail_remote: Mutex::new(None),
            queries: Mutex::new(Vec::new()),
        })
    }
}

impl AliasSource for FakeAgent {
    fn node_checks(&self, query: AliasQuery) -> BoxFuture<'_, Result<AliasChecks, String>> {
        Box::pin(async move {
            self.queries.lock().unwrap().push(query.clone());
            if query.node.is_empty() {
                return Ok(AliasChecks {
                    index: 0,
                    checks: self.local.lock().unwrap().clone(),
                });
            }
            if let Some(e) = self.fail_remote.lock().unwrap().clone() {
                return Err(e);
            }
            let mut rx = self.remote.subscribe();
            let wait = tokio::time::sleep(query.max_wait);
            tokio::pin!(wait);
            loop {
                let (index, checks) = rx.borrow_and_update().clone();
                if index > query.min_index {
                    return Ok(AliasChecks { index, checks });
                }
                tokio::select! {
                    _ = rx.changed() => {}
                    _ = &mut wait => return Ok(AliasChecks { index, checks }),
                }
            }
        })
    }

    fn service_exists(&self, query: ServiceQuery) -> BoxFuture<'_, Result<bool, String>> {
        Box::pin(async move { Ok(self.services.lock().unwrap().contains(&query.service_id)) })
    }
}

fn hc(node: &str, service: &str, name: &str, status: CheckStatus, output: &str) -> HealthCheck {
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

fn alias(node: &str, service: &str) -> CheckType {
    CheckType {
        alias_node: node.into(),
        alias_service: service.into(),
        ..CheckType::default()
    }
}

#[tokio::test(start_paused = true)]
async fn local_alias_follows_notifications_and_refreshes() {
    let agent = FakeAgent::new();
    agent.services.lock().unwrap().push("web".into());
    agent
        .local
        .lock()
        .unwrap()
        .push(hc("me", "web", "web-http", Passing, "ok"));
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    m.set_alias_source(agent.clone());
    m.add("web-alias", alias("", "web"), CheckOptions::api())
        .unwrap();

    let u = next_update(&mut ev, Duration::from_secs(1)).await;
    assert_eq!(
        (u.status, u.output.as_str()),
        (Passing, "All checks passing.")
    );

    // The agent changes a local check and says so.
    agent.local.lock().unwrap()[0] = hc("me", "web", "web-http", Critical, "HTTP 500");
    m.notify_local_checks_changed();
    let u = next_update(&mut ev, Duration::from_secs(1)).await;
    assert_eq!(u.status, Critical);
    assert_eq!(u.output, "Aliased check \"web-http\" failing: HTTP 500");

    // Without a notification the alias still catches up within a minute.
    agent.local.lock().unwrap()[0] = hc("me", "web", "web-http", Warning, "slow");
    assert_quiet(&mut ev, Duration::from_secs(50)).await;
    let u = next_update(&mut ev, Duration::from_secs(15)).await;
    assert_eq!(
        (u.status, u.output.as_str()),
        (Warning, "Aliased check \"web-http\" failing: slow")
    );

    // The aliased service goes away entirely.
    agent.local.lock().unwrap().clear();
    agent.services.lock().unwrap().clear();
    m.notify_local_checks_changed();
    let u = next_update(&mut ev, Duration::from_secs(1)).await;
    assert_eq!(u.status, Critical);
    assert_eq!(u.output, "Service web could not be found on node ");
}

#[tokio::test(start_paused = true)]
async fn remote_alias_uses_blocking_queries_and_reports_failures() {
    let agent = FakeAgent::new();
    agent.services.lock().unwrap().push("db".into());
    agent
        .remote
        .send_replace((5, vec![hc("other", "db", "db-tcp", Passing, "")]));
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    m.set_alias_source(agent.clone());
    let mut def = alias("other", "db");
    def.token = "secret".into();
    m.add("db-alias", def, CheckOptions::api()).unwrap();
    let u = next_update(&mut ev, Duration::from_secs(1)).await;
    assert_eq!(u.status, Passing);

    agent
        .remote
        .send_replace((9, vec![hc("other", "db", "db-tcp", Critical, "refused")]));
    let u = next_update(&mut ev, Duration::from_secs(1)).await;
    assert_eq!(
        (u.status, u.output.as_str()),
        (Critical, "Aliased check \"db-tcp\" failing: refused")
    );
    {
        let queries = agent.queries.lock().unwrap();
        // Blocking: the follow-up query carries the last index and a wait.
        assert!(queries
            .iter()
            .any(|q| q.min_index == 5 && q.max_wait > Duration::ZERO));
        assert!(queries
            .iter()
            .all(|q| q.node == "other" && q.token == "secret"));
    }

    // Back to healthy, then the source starts failing: critical from the second failure.
    agent
        .remote
        .send_replace((10, vec![hc("other", "db", "db-tcp", Passing, "")]));
    assert_eq!(
        next_update(&mut ev, Duration::from_secs(1)).await.status,
        Passing
    );
    *agent.fail_remote.lock().unwrap() = Some("rpc error: no leader".into());
    // The query in flight runs out its wait; the next two fail, and the second is reported.
    let u = next_update(&mut ev, Duration::from_secs(90)).await;
    assert_eq!(u.status, Critical);
    assert_eq!(
        u.output,
        "Failure checking aliased node or service: rpc error: no leader"
    );
}

#[tokio::test(start_paused = true)]
async fn alias_without_a_source_is_critical_until_one_is_set() {
    let (m, mut ev) = CheckManager::new(ManagerConfig::default()).unwrap();
    let mut def = alias("", "web");
    def.status = "passing".into();
    m.add("a", def, CheckOptions::api()).unwrap();
    let u = next_update(&mut ev, Duration::from_secs(1)).await;
    assert_eq!(u.status, Critical);
    assert!(
        u.output
            .starts_with("Failure checking aliased node or service"),
        "{}",
        u.output
    );

    let agent = FakeAgent::new();
    agent.services.lock().unwrap().push("web".into());
    m.set_alias_source(agent);
    let u = next_update(&mut ev, Duration::from_secs(1)).await;
    assert_eq!((u.status, u.output.as_str()), (Passing, "No checks found."));
}
