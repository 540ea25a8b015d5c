//! The patroni leader-election flow from client-compat.md, verbatim.

mod support;

use std::sync::Arc;
use std::time::Duration;
use support::{index, json, TestApi};

#[tokio::test(start_paused = true)]
async fn patroni_leader_election() {
    let api = Arc::new(TestApi::new());

    let r = api
        .put(
            "/v1/session/create",
            r#"{"name": "batman-pg1", "checks": [], "lockdelay": "0.001s", "behavior": "delete", "ttl": "15.0s"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let session = json(&r)["ID"].as_str().unwrap().to_string();

    let r = api
        .put(
            "/v1/agent/service/register",
            r#"{"name": "batman", "enabletagoverride": true, "id": "batman/pg1",
                "address": "127.0.0.1", "port": 5432, "tags": ["master","primary"],
                "check": {"http": "http://127.0.0.1:8008/master", "interval": "5s", "DeregisterCriticalServiceAfter": "150.0s"}}"#,
        )
        .await;
    assert_eq!((r.status, r.body.len()), (200, 0), "{}", r.text());
    let svc = api.agent.services.lock().unwrap()["batman/pg1"].clone();
    assert!(svc.enable_tag_override);
    assert_eq!(svc.tags, vec!["master", "primary"]);
    let checks = api.agent.checks.lock().unwrap().clone();
    let check = &checks["service:batman/pg1"];
    assert_eq!(check.definition.http, "http://127.0.0.1:8008/master");
    assert_eq!(check.interval, "5s");
    assert_eq!(
        check.definition.deregister_critical_service_after.0,
        Duration::from_secs(150)
    );

    let r = api
        .put(
            &format!("/v1/kv/service/batman/leader?acquire={session}"),
            "pg1",
        )
        .await;
    assert_eq!((r.status, r.text()), (200, "true".into()));

    let r = api
        .put("/v1/kv/service/batman/initialize?cas=0", "6969")
        .await;
    assert_eq!((r.status, r.text()), (200, "true".into()));
    let r = api
        .put("/v1/kv/service/batman/initialize?cas=0", "7070")
        .await;
    assert_eq!(r.text(), "false", "initialize happens once");

    let r = api.get("/v1/kv/service/batman/leader").await;
    let leader = &json(&r)[0];
    assert_eq!(leader["Session"], session.as_str());
    let leader_index = leader["ModifyIndex"].as_u64().unwrap();
    let current = index(&r);

    // Patroni's watch: nothing changes, so it returns after the 2 s wait (+ jitter).
    let start = tokio::time::Instant::now();
    let r = api
        .get(&format!(
            "/v1/kv/service/batman/leader?index={current}&wait=2s"
        ))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(index(&r), current);
    let took = start.elapsed();
    assert!(took >= Duration::from_secs(2) && took <= Duration::from_millis(2125));

    let r = api.put(&format!("/v1/session/renew/{session}"), "").await;
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)[0]["ID"], session.as_str());

    // Stepping down: delete the key with its index.
    let r = api
        .delete(&format!("/v1/kv/service/batman/leader?cas={leader_index}"))
        .await;
    assert_eq!((r.status, r.text()), (200, "true".into()));
    assert_eq!(api.get("/v1/kv/service/batman/leader").await.status, 404);
}
